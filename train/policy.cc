#include "train/policy.h"

#include <fstream>
#include <limits>
#include <type_traits>
#include <sstream>

#include "formats/catalog.h"
#include "formats/names.h"
#include "formats/spec_parser.h"

namespace floatscope::train {

const char* ScalingName(Scaling s) {
  switch (s) {
    case Scaling::kNone: return "none";
    case Scaling::kTensor: return "tensor";
    case Scaling::kDelayed: return "delayed";
    case Scaling::kMx: return "mx";
    case Scaling::kNvfp4: return "nvfp4";
  }
  return "?";
}

namespace {

using formats::kBf16;
using formats::kE2m1fn;
using formats::kE4m3fn;
using formats::kE5m2;
using formats::kF16;
using formats::kInt8;

RoleSpec Fmt(const Format& f, Scaling s = Scaling::kNone) {
  RoleSpec r;
  r.format = &f;
  r.scaling = s;
  // Scaled casts saturate, as TransformerEngine's and the MX/NVFP4 recipes do.
  if (s != Scaling::kNone) r.opt.overflow = Overflow::kSaturate;
  return r;
}

// Every role of a compute-and-store-in-one-format policy.
LayerPolicy All(const Format& f) {
  LayerPolicy l;
  for (RoleSpec& r : l.roles) r = Fmt(f);
  return l;
}

// Autocast-style: GEMM inputs, activations and gradients in f; weights,
// optimizer state and the float32 ops stay float32.
LayerPolicy Autocast(const Format& f) {
  LayerPolicy l;
  for (Role r : {Role::kGemmIn, Role::kGemmW, Role::kGemmGrad, Role::kAct, Role::kActGrad, Role::kWeightGrad})
    l[r] = Fmt(f);
  return l;
}

LayerPolicy Gemm8(const Format& fwd, const Format& bwd, Scaling s) {
  LayerPolicy l = Autocast(kBf16);
  l[Role::kGemmIn] = Fmt(fwd, s);
  l[Role::kGemmW] = Fmt(fwd, s);
  l[Role::kGemmGrad] = Fmt(bwd, s);
  return l;
}

LossScaling Dynamic() {
  LossScaling l;
  l.kind = LossScaling::Kind::kDynamic;
  return l;
}

Policy Preset(const std::string& name, const PolicyParams& pp) {
  Policy p;
  p.name = name;
  p.source = name;
  if (name == "fp64") {
    p.compute_f64 = true;
  } else if (name == "fp32") {
  } else if (name == "fp16-naive") {
    p.base = All(kF16);
  } else if (name == "fp16-master") {
    p.base = All(kF16);
    p.master = Master::kF32;
  } else if (name == "fp16-static") {
    p.base = All(kF16);
    p.master = Master::kF32;
    p.loss_scaling.kind = LossScaling::Kind::kStatic;
    p.loss_scaling.init = pp.loss_scale;
  } else if (name == "fp16-amp") {
    p.base = Autocast(kF16);
    p.loss_scaling = Dynamic();
  } else if (name == "apex-o2") {
    // Apex O2: the model in f16 (weights stored f16), f32 master weights,
    // f32 batchnorm/optimizer, dynamic loss scaling.
    p.base = Autocast(kF16);
    p.base[Role::kWeights] = Fmt(kF16);
    p.master = Master::kF32;
    p.loss_scaling = Dynamic();
  } else if (name == "bf16-amp") {
    p.base = Autocast(kBf16);
  } else if (name == "bf16-pure") {
    p.base = All(kBf16);
  } else if (name == "bf16-pure-sr") {
    p.base = All(kBf16);
    p.base[Role::kWeights].opt.rounding = Rounding::kStochastic;
    p.base[Role::kWeights].opt.seed = pp.seed;
  } else if (name == "fp8-hybrid") {
    p.base = Gemm8(kE4m3fn, kE5m2, Scaling::kDelayed);
  } else if (name == "fp8-current") {
    p.base = Gemm8(kE4m3fn, kE5m2, Scaling::kTensor);
  } else if (name == "fp8-unscaled") {
    p.base = Gemm8(kE4m3fn, kE5m2, Scaling::kNone);
    for (Role r : {Role::kGemmIn, Role::kGemmW, Role::kGemmGrad}) p.base[r].opt.overflow = Overflow::kSaturate;
  } else if (name == "mxfp8") {
    p.base = Gemm8(kE4m3fn, kE4m3fn, Scaling::kMx);
  } else if (name == "mxfp4") {
    p.base = Gemm8(kE2m1fn, kE2m1fn, Scaling::kMx);
    p.base[Role::kGemmGrad] = Fmt(kBf16);  // weights and activations in FP4, gradients bf16
  } else if (name == "nvfp4") {
    p.base = Gemm8(kE2m1fn, kE2m1fn, Scaling::kNvfp4);
    p.base[Role::kGemmGrad] = Fmt(kBf16);
  } else if (name == "int8-qat") {
    // Fake quantization with the straight-through estimator: the backward
    // GEMMs read the same quantized operands, the gradient of the rounding
    // itself is taken as 1.
    p.base[Role::kGemmIn] = Fmt(kInt8, Scaling::kTensor);
    p.base[Role::kGemmW] = Fmt(kInt8, Scaling::kTensor);
  } else {
    throw PolicyError("unknown policy '" + name + "' (presets: " + [] {
      std::string s;
      for (const auto& n : PresetNames()) s += (s.empty() ? "" : " ") + n;
      return s;
    }() + "; or a .json file)");
  }
  return p;
}

const Format* ParseFormatOrThrow(const std::string& s) {
  std::string err;
  const Format* f = ResolveFormat(s, &err);
  if (!f) throw PolicyError(err);
  return f;
}

Role ParseRole(const std::string& s) {
  for (size_t i = 0; i < kRoleCount; ++i)
    if (s == kRoleNames[i]) return static_cast<Role>(i);
  std::string all;
  for (const char* n : kRoleNames) all += std::string(all.empty() ? "" : ", ") + n;
  throw PolicyError("unknown role '" + s + "' (roles: " + all + ")");
}

Scaling ParseScaling(const std::string& s) {
  for (Scaling x : {Scaling::kNone, Scaling::kTensor, Scaling::kDelayed, Scaling::kMx, Scaling::kNvfp4})
    if (s == ScalingName(x)) return x;
  throw PolicyError("unknown scaling '" + s + "' (none, tensor, delayed, mx, nvfp4)");
}

template <class T>
T Get(const nlohmann::json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) throw PolicyError(where + ": '" + key + "' is missing");
  const nlohmann::json& v = j[key];
  // Integers must be JSON integers in T's range: nlohmann's get<int> of
  // 1e300 would be an undefined float-to-int cast (found by tests/fuzz).
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    const bool ok = std::is_signed_v<T>
                        ? (v.is_number_integer() &&
                           (v.is_number_unsigned() ? v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max())
                                                   : v.get<int64_t>() >= std::numeric_limits<T>::min() &&
                                                         v.get<int64_t>() <= std::numeric_limits<T>::max()))
                        : v.is_number_unsigned() && v.get<uint64_t>() <= std::numeric_limits<T>::max();
    if (!ok) throw PolicyError(where + ": '" + key + "' must be an integer in range");
    return v.get<T>();
  }
  try {
    return v.get<T>();
  } catch (const nlohmann::json::exception&) {
    throw PolicyError(where + ": '" + key + "' has the wrong type");
  }
}

void CheckKeys(const nlohmann::json& j, std::initializer_list<const char*> keys, const std::string& where) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = false;
    for (const char* k : keys) ok |= it.key() == k;
    if (!ok) throw PolicyError(where + ": unknown key '" + it.key() + "'");
  }
}

RoleSpec ParseRoleSpec(const nlohmann::json& j, const std::string& where, const PolicyParams& pp) {
  RoleSpec r;
  if (j.is_null()) return r;
  if (j.is_string()) {
    const std::string s = j.get<std::string>();
    if (s == "none" || s == "keep") return r;
    r.format = ParseFormatOrThrow(s);
    return r;
  }
  if (!j.is_object()) throw PolicyError(where + ": a role is a format name or an object");
  CheckKeys(j, {"format", "round", "overflow", "scaling", "margin", "pow2", "history", "block", "seed", "sr_bits"},
            where);
  if (!j.contains("format")) throw PolicyError(where + ": 'format' is missing");
  const std::string fs = Get<std::string>(j, "format", where);
  if (fs == "none" || fs == "keep") {
    if (j.size() > 1) throw PolicyError(where + ": a role with format 'none' takes no other keys");
    return r;
  }
  r.format = ParseFormatOrThrow(fs);
  if (j.contains("scaling")) r.scaling = ParseScaling(Get<std::string>(j, "scaling", where));
  if (r.scaling != Scaling::kNone) r.opt.overflow = Overflow::kSaturate;
  if (j.contains("round")) {
    const auto m = ParseRounding(Get<std::string>(j, "round", where));
    if (!m) throw PolicyError(where + ": unknown rounding mode '" + j["round"].get<std::string>() + "'");
    r.opt.rounding = *m;
  }
  if (j.contains("overflow")) {
    const auto o = ParseOverflow(Get<std::string>(j, "overflow", where));
    if (!o) throw PolicyError(where + ": unknown overflow policy '" + j["overflow"].get<std::string>() + "'");
    r.opt.overflow = *o;
  }
  r.opt.seed = pp.seed;
  if (j.contains("seed")) r.opt.seed = Get<uint64_t>(j, "seed", where);
  if (j.contains("sr_bits")) {
    const int b = Get<int>(j, "sr_bits", where);
    if (b < 1 || b > 32) throw PolicyError(where + ": sr_bits must be 1..32");
    r.opt.sr_bits = static_cast<uint8_t>(b);
  }
  if (j.contains("margin")) r.margin = Get<int>(j, "margin", where);
  if (r.margin < -64 || r.margin > 64) throw PolicyError(where + ": margin must be -64..64");
  if (j.contains("pow2")) r.pow2 = Get<bool>(j, "pow2", where);
  if (j.contains("history")) {
    const int64_t h = Get<int64_t>(j, "history", where);
    if (h < 1 || h > 100000) throw PolicyError(where + ": history must be 1..100000");
    r.history = static_cast<size_t>(h);
  }
  if (j.contains("block")) {
    const int64_t b = Get<int64_t>(j, "block", where);
    if (b < 1 || b > 4096) throw PolicyError(where + ": block must be 1..4096");
    r.block = static_cast<size_t>(b);
  }
  const std::string bad = CheckOptionsFor(*r.format, r.opt);
  if (!bad.empty()) throw PolicyError(where + ": " + bad);
  if (r.scaling == Scaling::kMx && (!IsFloat(*r.format) || r.format->bits > 8))
    throw PolicyError(where + ": mx scaling takes an OCP MX element format (e4m3fn, e5m2, e2m3fn, e3m2fn, e2m1fn)");
  if (r.scaling == Scaling::kNvfp4 && r.format != &formats::kE2m1fn &&
      std::string(r.format->name) != "e2m1fn")
    throw PolicyError(where + ": nvfp4 scaling takes format e2m1fn");
  return r;
}

std::map<Role, RoleSpec> ParseRoles(const nlohmann::json& j, const std::string& where, const PolicyParams& pp) {
  if (!j.is_object()) throw PolicyError(where + ": 'roles' must be an object");
  std::map<Role, RoleSpec> out;
  for (auto it = j.begin(); it != j.end(); ++it)
    out[ParseRole(it.key())] = ParseRoleSpec(it.value(), where + "." + it.key(), pp);
  return out;
}

}  // namespace

const std::vector<std::string>& PresetNames() {
  static const std::vector<std::string> names = {
      "fp64",   "fp32",     "fp16-naive",  "fp16-master", "fp16-static",  "fp16-amp", "apex-o2",
      "bf16-amp", "bf16-pure", "bf16-pure-sr", "fp8-hybrid", "fp8-current", "fp8-unscaled", "mxfp8",
      "mxfp4",  "nvfp4",    "int8-qat"};
  return names;
}

Policy PolicyFromJson(const nlohmann::json& j, const PolicyParams& pp, int depth) {
  if (depth > 4) throw PolicyError("policy: presets nest too deeply");
  if (!j.is_object()) throw PolicyError("policy: the JSON must be an object");
  CheckKeys(j, {"name", "base", "compute", "master", "loss_scale", "accum", "roles", "layers", "schedule", "seed"},
            "policy");
  PolicyParams p2 = pp;
  if (j.contains("seed")) p2.seed = Get<uint64_t>(j, "seed", "policy");
  Policy p;
  if (j.contains("base")) {
    const std::string base = Get<std::string>(j, "base", "policy");
    p = Preset(base, p2);
  }
  p.name = j.contains("name") ? Get<std::string>(j, "name", "policy") : (j.contains("base") ? p.name + "+" : "custom");
  p.source = j;
  if (j.contains("compute")) {
    const std::string c = Get<std::string>(j, "compute", "policy");
    if (c != "f32" && c != "f64") throw PolicyError("policy: 'compute' is f32 or f64");
    p.compute_f64 = c == "f64";
  }
  if (j.contains("master")) {
    const std::string m = Get<std::string>(j, "master", "policy");
    if (m == "none") p.master = Master::kNone;
    else if (m == "f32") p.master = Master::kF32;
    else if (m == "f64") p.master = Master::kF64;
    else throw PolicyError("policy: 'master' is none, f32 or f64");
  }
  if (j.contains("loss_scale")) {
    const nlohmann::json& l = j["loss_scale"];
    if (l.is_string() && l.get<std::string>() == "none") {
      p.loss_scaling = LossScaling{};
    } else if (l.is_string() && l.get<std::string>() == "dynamic") {
      p.loss_scaling = LossScaling{};
      p.loss_scaling.kind = LossScaling::Kind::kDynamic;
    } else if (l.is_number()) {
      p.loss_scaling = LossScaling{};
      p.loss_scaling.kind = LossScaling::Kind::kStatic;
      p.loss_scaling.init = l.get<double>();
    } else if (l.is_object()) {
      CheckKeys(l, {"kind", "init", "growth", "backoff", "interval"}, "policy.loss_scale");
      const std::string k = Get<std::string>(l, "kind", "policy.loss_scale");
      p.loss_scaling = LossScaling{};
      if (k == "none") p.loss_scaling.kind = LossScaling::Kind::kNone;
      else if (k == "static") p.loss_scaling.kind = LossScaling::Kind::kStatic;
      else if (k == "dynamic") p.loss_scaling.kind = LossScaling::Kind::kDynamic;
      else throw PolicyError("policy.loss_scale: 'kind' is none, static or dynamic");
      if (l.contains("init")) p.loss_scaling.init = Get<double>(l, "init", "policy.loss_scale");
      if (l.contains("growth")) p.loss_scaling.growth = Get<double>(l, "growth", "policy.loss_scale");
      if (l.contains("backoff")) p.loss_scaling.backoff = Get<double>(l, "backoff", "policy.loss_scale");
      if (l.contains("interval")) p.loss_scaling.interval = Get<int64_t>(l, "interval", "policy.loss_scale");
    } else {
      throw PolicyError("policy: 'loss_scale' is \"none\", \"dynamic\", a number or an object");
    }
    const LossScaling& s = p.loss_scaling;
    if (!(s.init > 0) || !(s.init < 1e38) || !(s.growth >= 1 && s.growth <= 1e6) ||
        !(s.backoff >= 1e-6 && s.backoff <= 1) || s.interval < 1)
      throw PolicyError(
          "policy.loss_scale: needs init in (0, 1e38), growth in [1, 1e6], backoff in [1e-6, 1], interval >= 1");
  }
  if (j.contains("accum")) p.accum = Get<std::string>(j, "accum", "policy");
  if (j.contains("roles")) {
    for (const auto& [role, spec] : ParseRoles(j["roles"], "policy.roles", p2)) p.base[role] = spec;
  }
  if (j.contains("layers")) {
    const nlohmann::json& l = j["layers"];
    if (!l.is_object()) throw PolicyError("policy: 'layers' must be an object of layer name -> {\"roles\": ...}");
    for (auto it = l.begin(); it != l.end(); ++it) {
      const std::string where = "policy.layers." + it.key();
      if (!it.value().is_object()) throw PolicyError(where + ": must be an object");
      CheckKeys(it.value(), {"roles", "policy"}, where);
      std::map<Role, RoleSpec> roles;
      if (it.value().contains("policy")) {
        const Policy q = Preset(Get<std::string>(it.value(), "policy", where), p2);
        if (q.compute_f64) throw PolicyError(where + ": a layer cannot switch to f64 compute");
        for (size_t r = 0; r < kRoleCount; ++r) roles[static_cast<Role>(r)] = q.base.roles[r];
      }
      if (it.value().contains("roles"))
        for (const auto& [role, spec] : ParseRoles(it.value()["roles"], where + ".roles", p2)) roles[role] = spec;
      p.layers[it.key()] = roles;
    }
  }
  if (j.contains("schedule")) {
    const nlohmann::json& s = j["schedule"];
    if (!s.is_object()) throw PolicyError("policy: 'schedule' must be an object");
    CheckKeys(s, {"progressive", "dynamic"}, "policy.schedule");
    if (s.contains("progressive")) {
      const nlohmann::json& ph = s["progressive"];
      if (!ph.is_array() || ph.empty()) throw PolicyError("policy.schedule.progressive: a non-empty array");
      int64_t last = -1;
      for (size_t i = 0; i < ph.size(); ++i) {
        const std::string where = "policy.schedule.progressive[" + std::to_string(i) + "]";
        if (!ph[i].is_object()) throw PolicyError(where + ": {\"step\": N, \"policy\": P}");
        CheckKeys(ph[i], {"step", "policy"}, where);
        Phase f;
        f.step = Get<int64_t>(ph[i], "step", where);
        if (f.step <= last) throw PolicyError(where + ": steps must increase, the first from 0");
        if (i == 0 && f.step != 0) throw PolicyError(where + ": the first phase starts at step 0");
        last = f.step;
        if (!ph[i].contains("policy")) throw PolicyError(where + ": 'policy' is missing");
        const nlohmann::json& pj = ph[i]["policy"];
        if (pj.is_string()) {
          f.policy = pj.get<std::string>();
          const Policy q = Preset(f.policy, p2);  // checks the name
          if (q.compute_f64) throw PolicyError(where + ": a phase cannot be fp64 (that is the shadow)");
        } else if (pj.is_object()) {
          f.policy = pj.contains("name") && pj["name"].is_string() ? pj["name"].get<std::string>()
                                                                   : "phase" + std::to_string(i);
          if (p.inline_policies.count(f.policy)) throw PolicyError(where + ": two phases named '" + f.policy + "'");
          const Policy q = PolicyFromJson(pj, p2, depth + 1);
          if (q.compute_f64) throw PolicyError(where + ": a phase cannot be fp64 (that is the shadow)");
          if (!q.progressive.empty()) throw PolicyError(where + ": phases cannot nest schedules");
          p.inline_policies[f.policy] = pj;
        } else {
          throw PolicyError(where + ": 'policy' is a preset name or an object");
        }
        p.progressive.push_back(f);
      }
    }
    if (s.contains("dynamic")) {
      const nlohmann::json& d = s["dynamic"];
      const std::string where = "policy.schedule.dynamic";
      if (!d.is_object()) throw PolicyError(where + ": must be an object");
      CheckKeys(d, {"fallback", "max_overflow_frac", "max_flushed_frac", "loss_spike", "quiet_steps", "check_every"},
                where);
      DynamicRule& r = p.dynamic;
      r.enabled = true;
      if (d.contains("fallback")) r.fallback = Get<std::string>(d, "fallback", where);
      if (Preset(r.fallback, p2).compute_f64) throw PolicyError(where + ": the fallback cannot be fp64");
      if (d.contains("max_overflow_frac")) r.max_overflow_frac = Get<double>(d, "max_overflow_frac", where);
      if (d.contains("max_flushed_frac")) r.max_flushed_frac = Get<double>(d, "max_flushed_frac", where);
      if (d.contains("loss_spike")) r.loss_spike = Get<double>(d, "loss_spike", where);
      if (d.contains("quiet_steps")) r.quiet_steps = Get<int64_t>(d, "quiet_steps", where);
      if (d.contains("check_every")) r.check_every = Get<int64_t>(d, "check_every", where);
      if (r.quiet_steps < 1 || r.check_every < 1) throw PolicyError(where + ": quiet_steps and check_every >= 1");
    }
  }
  if (p.compute_f64) {
    for (const RoleSpec& r : p.base.roles)
      if (r.Active()) throw PolicyError("policy: f64 compute rounds nothing (it is the FP64 reference)");
    if (!p.layers.empty() || !p.progressive.empty() || p.dynamic.enabled)
      throw PolicyError("policy: f64 compute takes no layer overrides or schedules");
  }
  return p;
}

Policy ResolvePolicy(const std::string& spec, const PolicyParams& pp) {
  if (spec.empty()) throw PolicyError("empty policy name");
  if (spec.front() == '{') {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(spec);
    } catch (const nlohmann::json::exception& e) {  // parse_error; out_of_range.406 for 1e999
      throw PolicyError(std::string("policy JSON: ") + e.what());
    }
    return PolicyFromJson(j, pp);
  }
  const bool is_file = spec.find('/') != std::string::npos ||
                       (spec.size() > 5 && spec.compare(spec.size() - 5, 5, ".json") == 0);
  if (!is_file) return Preset(spec, pp);
  std::ifstream in(spec);
  if (!in) throw PolicyError("cannot read policy file '" + spec + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::exception& e) {  // parse_error; out_of_range.406 for 1e999
    throw PolicyError("policy file '" + spec + "': " + e.what());
  }
  return PolicyFromJson(j, pp);
}

LayerPolicy LayerPolicyFor(const Policy& p, size_t index, size_t count, const std::string& name) {
  LayerPolicy l = p.base;
  auto apply = [&](const std::string& key) {
    const auto it = p.layers.find(key);
    if (it == p.layers.end()) return;
    for (const auto& [role, spec] : it->second) l[role] = spec;
  };
  if (index == 0) apply("first");
  if (index + 1 == count) apply("last");
  apply(std::to_string(index));
  apply(name);
  return l;
}

nlohmann::json RoleToJson(const RoleSpec& r) {
  if (!r.Active()) return "none";
  nlohmann::json j = {{"format", r.format->name},
                      {"round", RoundingNameOf(r.opt.rounding)},
                      {"overflow", OverflowNameOf(EffectiveOverflow(*r.format, r.opt.overflow))},
                      {"scaling", ScalingName(r.scaling)}};
  if (IsStochastic(r.opt.rounding)) {
    j["seed"] = r.opt.seed;
    j["sr_bits"] = r.opt.sr_bits;
  }
  if (r.scaling == Scaling::kTensor || r.scaling == Scaling::kDelayed) {
    j["margin"] = r.margin;
    j["pow2"] = r.pow2;
  }
  if (r.scaling == Scaling::kDelayed) j["history"] = r.history;
  if (r.scaling == Scaling::kMx) j["block"] = r.block;
  return j;
}

nlohmann::json PolicyToJson(const Policy& p) {
  nlohmann::json roles = nlohmann::json::object();
  for (size_t i = 0; i < kRoleCount; ++i) roles[kRoleNames[i]] = RoleToJson(p.base.roles[i]);
  nlohmann::json layers = nlohmann::json::object();
  for (const auto& [name, over] : p.layers) {
    nlohmann::json o = nlohmann::json::object();
    for (const auto& [role, spec] : over) o[RoleName(role)] = RoleToJson(spec);
    layers[name] = {{"roles", o}};
  }
  const char* master = p.master == Master::kNone ? "none" : p.master == Master::kF32 ? "f32" : "f64";
  nlohmann::json ls;
  switch (p.loss_scaling.kind) {
    case LossScaling::Kind::kNone: ls = {{"kind", "none"}}; break;
    case LossScaling::Kind::kStatic: ls = {{"kind", "static"}, {"init", p.loss_scaling.init}}; break;
    case LossScaling::Kind::kDynamic:
      ls = {{"kind", "dynamic"},
            {"init", p.loss_scaling.init},
            {"growth", p.loss_scaling.growth},
            {"backoff", p.loss_scaling.backoff},
            {"interval", p.loss_scaling.interval}};
      break;
  }
  nlohmann::json j = {{"name", p.name},   {"compute", p.compute_f64 ? "f64" : "f32"},
                      {"master", master}, {"loss_scale", ls},
                      {"accum", p.accum}, {"roles", roles},
                      {"layers", layers}};
  if (!p.progressive.empty() || p.dynamic.enabled) {
    nlohmann::json s = nlohmann::json::object();
    if (!p.progressive.empty()) {
      s["progressive"] = nlohmann::json::array();
      for (const Phase& f : p.progressive) {
        const auto it = p.inline_policies.find(f.policy);
        s["progressive"].push_back({{"step", f.step}, {"policy", it == p.inline_policies.end() ? nlohmann::json(f.policy) : it->second}});
      }
    }
    if (p.dynamic.enabled)
      s["dynamic"] = {{"fallback", p.dynamic.fallback},
                      {"max_overflow_frac", p.dynamic.max_overflow_frac},
                      {"max_flushed_frac", p.dynamic.max_flushed_frac},
                      {"loss_spike", p.dynamic.loss_spike},
                      {"quiet_steps", p.dynamic.quiet_steps},
                      {"check_every", p.dynamic.check_every}};
    j["schedule"] = s;
  }
  return j;
}

}  // namespace floatscope::train
