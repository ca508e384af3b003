#include "cli/diagnose.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "cli/cli_error.h"
#include "cli/describe.h"
#include "cli/hex_codes.h"
#include "emulate/array_ops.h"
#include "emulate/npy.h"
#include "formats/catalog.h"
#include "formats/convert.h"
#include "formats/names.h"

namespace floatscope::cli {

namespace {

// All hardware threads: the array kernels give the same bits for any count.
constexpr unsigned kThreads = 0;

// The deterministic rounding modes, in the order the search tries them:
// nearest first, then the directed ones.
constexpr Rounding kDeterministic[] = {Rounding::kNearestEven, Rounding::kNearestAway, Rounding::kTowardZero,
                                       Rounding::kDown,        Rounding::kUp,          Rounding::kOdd};

// ---------------------------------------------------------------------------
// A candidate's outputs
// ---------------------------------------------------------------------------

// Runs semantics over the dumps' inputs with the array kernels. The
// double-rounded inputs of the last `via` asked for over the whole array are
// kept, so the candidates that share a first step compute it once.
class Evaluator {
 public:
  Evaluator(const Format& f, const KernelDumps& d) : f_(f), d_(d) {}

  // Output words of elements [begin, begin + count) into `out` (count *
  // d.item bytes, 4-byte aligned), each with its own stochastic index.
  void Run(const Semantics& sem, size_t begin, size_t count, void* out) {
    const float* x32 = nullptr;
    if (sem.via) x32 = Staged(sem, begin, count);
    else if (!d_.f64_inputs) x32 = d_.x32.data() + begin;
    if (x32) {
      if (d_.fake_quant) FakeQuantF32Array(f_, sem.opt, x32, static_cast<float*>(out), count, begin, nullptr, kThreads);
      else EncodeF32Array(f_, sem.opt, x32, out, count, begin, nullptr, kThreads);
      return;
    }
    const double* x64 = d_.x64.data() + begin;
    if (!d_.fake_quant) {
      EncodeF64Array(f_, sem.opt, x64, out, count, begin, nullptr, kThreads);
      return;
    }
    codes_.resize(count * CodeBytes(f_));
    EncodeF64Array(f_, sem.opt, x64, codes_.data(), count, begin, nullptr, kThreads);
    // Decoded as FakeQuantF32Array decodes: the code's exact value.
    Options exact = sem.opt;
    exact.flush_input = exact.flush_output = false;
    DecodeToF32Array(f_, exact, codes_.data(), static_cast<float*>(out), count, kThreads);
  }

 private:
  // The inputs rounded to sem.via (a float32 value: f32, f16 and bf16
  // values all are).
  const float* Staged(const Semantics& sem, size_t begin, size_t count) {
    const bool whole = begin == 0 && count == d_.n;
    if (whole && staged_whole_ && staged_via_ == sem.via && staged_rounding_ == sem.via_rounding)
      return staged_.data();
    Options first;  // a plain cast: IEEE overflow, subnormals kept, NaN payload kept
    first.rounding = sem.via_rounding;
    first.overflow = Overflow::kIeee;
    via_codes_.resize(count * CodeBytes(*sem.via));
    if (d_.f64_inputs)
      EncodeF64Array(*sem.via, first, d_.x64.data() + begin, via_codes_.data(), count, begin, nullptr, kThreads);
    else
      EncodeF32Array(*sem.via, first, d_.x32.data() + begin, via_codes_.data(), count, begin, nullptr, kThreads);
    staged_.resize(count);
    DecodeToF32Array(*sem.via, first, via_codes_.data(), staged_.data(), count, kThreads);
    staged_whole_ = whole;
    staged_via_ = sem.via;
    staged_rounding_ = sem.via_rounding;
    return staged_.data();
  }

  const Format& f_;
  const KernelDumps& d_;
  std::vector<uint8_t> codes_, via_codes_;
  std::vector<float> staged_;
  bool staged_whole_ = false;
  const Format* staged_via_ = nullptr;
  Rounding staged_rounding_ = Rounding::kNearestEven;
};

// A buffer of n output words of `item` bytes, aligned for float32.
std::vector<uint32_t> OutputBuffer(size_t n, size_t item) { return std::vector<uint32_t>((n * item + 3) / 4 + 1); }

struct Tally {
  uint64_t mismatches = 0;
  uint64_t first = 0;  // index of the first mismatch (when there is one)
};

template <class Word>
Tally CountMismatches(const void* want, const std::string& got, size_t n) {
  Tally t;
  const char* w = static_cast<const char*>(want);
  const char* g = got.data();
  for (size_t i = 0; i < n; ++i) {
    Word a, b;
    std::memcpy(&a, w + i * sizeof(Word), sizeof(Word));
    std::memcpy(&b, g + i * sizeof(Word), sizeof(Word));
    if (a != b && t.mismatches++ == 0) t.first = i;
  }
  return t;
}

Tally Compare(const void* want, const KernelDumps& d) {
  switch (d.item) {
    case 1: return CountMismatches<uint8_t>(want, d.got, d.n);
    case 2: return CountMismatches<uint16_t>(want, d.got, d.n);
    default: return CountMismatches<uint32_t>(want, d.got, d.n);
  }
}

uint32_t WordAt(const void* words, size_t item, size_t i) {
  uint32_t w = 0;
  std::memcpy(&w, static_cast<const char*>(words) + i * item, item);
  return w;
}

// ---------------------------------------------------------------------------
// Naming semantics
// ---------------------------------------------------------------------------

const char* NanPayloadName(NanPayload p) {
  switch (p) {
    case NanPayload::kPreserve: return "NaN payload kept";
    case NanPayload::kCanonical: return "NaN payload dropped";
    case NanPayload::kAllOnes: return "NaN all-ones";
  }
  return "?";
}

const char* NanToNoNanName(NanToNoNan n) {
  switch (n) {
    case NanToNoNan::kZero: return "NaN -> +0";
    case NanToNoNan::kZeroOppositeSign: return "NaN -> zero of the opposite sign";
    case NanToNoNan::kMaxFinite: return "NaN -> +max finite";
  }
  return "?";
}

const char* CompatName(Compat c) {
  switch (c) {
    case Compat::kNone: return "none";
    case Compat::kMlDtypes: return "ml_dtypes";
    case Compat::kCuda: return "cuda";
    case Compat::kCudaSatfinite: return "cuda-satfinite";
  }
  return "?";
}

const char* SubnormalsName(const Options& o) {
  if (o.flush_input && o.flush_output) return "flush";
  if (o.flush_input) return "flush-input";
  if (o.flush_output) return "flush-output";
  return "keep";
}

// Which of the fields a conversion into `f` can show in its outputs. The
// dedup key below uses them: two candidates that differ only in fields the
// outputs cannot show are the same candidate.
bool NanShows(const Format& f) { return IsFloat(f); }  // integers: a NaN gives 0, always
bool FtzShows(const Format& f) { return IsFloat(f) && f.has_zero; }
bool TieRuleShows(const Format& f, Rounding r) {
  return IsFloat(f) && f.mantissa_bits == 0 && (r == Rounding::kNearestEven || r == Rounding::kOdd);
}

Overflow ShownOverflow(const Format& f, Overflow o) {
  o = EffectiveOverflow(f, o);
  // Integers clamp out-of-range values under every policy but wrap.
  if (!IsFloat(f) && o != Overflow::kWrap) return Overflow::kSaturate;
  return o;
}

std::string NanKey(const Format& f, const Options& o, bool fake_quant) {
  if (!NanShows(f)) return "-";
  if (!HasNan(f)) return NanToNoNanName(o.nan_to_no_nan);
  // Fake-quantized outputs show the payload through the float32 NaN.
  if (fake_quant) return NanPayloadName(o.nan_payload);
  // Codes: a single NaN code (fnuz, P3109) has no choices; the all-ones
  // encoding (e4m3fn) has no payload, so only all-ones stands apart.
  if (f.nan == NanCodes::kNegativeZero) return "-";
  if (o.nan_payload == NanPayload::kAllOnes || f.nan == NanCodes::kIeee) return NanPayloadName(o.nan_payload);
  return "signed NaN";
}

std::string Key(const Format& f, const Semantics& s, bool fake_quant) {
  const Options& o = s.opt;
  std::string k = s.via ? fmt::format("via {} {}", s.via->name, RoundingNameOf(s.via_rounding)) : "direct";
  k += fmt::format("|{}", RoundingNameOf(o.rounding));
  if (o.rounding == Rounding::kStochastic) k += fmt::format(" seed {} bits {}", o.seed, o.sr_bits);
  if (o.rounding == Rounding::kStochasticEq) k += fmt::format(" seed {}", o.seed);
  k += fmt::format("|{}", OverflowNameOf(ShownOverflow(f, o.overflow)));
  k += o.flush_input ? "|daz" : "|-";
  if (FtzShows(f) && o.flush_output) k += o.tininess == Tininess::kBeforeRounding ? "|ftz before" : "|ftz after";
  else k += "|-";
  k += "|" + NanKey(f, o, fake_quant);
  if (TieRuleShows(f, o.rounding)) k += o.tie_rule_p1 == TieRuleP1::kAway ? "|p1 away" : "|p1 even";
  return k;
}

// "rounding rne, overflow nan, subnormals keep, NaN payload kept".
std::string SemanticsText(const Format& f, const Semantics& s) {
  const Options& o = s.opt;
  std::string t;
  if (s.via) t += fmt::format("rounded to {} by {} first, then ", s.via->name, RoundingNameOf(s.via_rounding));
  t += fmt::format("rounding {}", RoundingNameOf(o.rounding));
  if (o.rounding == Rounding::kStochastic) t += fmt::format(" (seed {}, {} bits)", o.seed, o.sr_bits);
  if (o.rounding == Rounding::kStochasticEq) t += fmt::format(" (seed {})", o.seed);
  t += fmt::format(", overflow {}", OverflowNameOf(EffectiveOverflow(f, o.overflow)));
  t += fmt::format(", subnormals {}", SubnormalsName(o));
  if (o.flush_output && o.tininess == Tininess::kBeforeRounding) t += " (tininess before rounding)";
  if (NanShows(f)) t += fmt::format(", {}", HasNan(f) ? NanPayloadName(o.nan_payload) : NanToNoNanName(o.nan_to_no_nan));
  if (TieRuleShows(f, o.rounding))
    t += o.tie_rule_p1 == TieRuleP1::kAway ? ", ties away from zero" : ", ties to the even code";
  return t;
}

nlohmann::json SemanticsJson(const Format& f, const Semantics& s) {
  const Options& o = s.opt;
  nlohmann::json j = {{"rounding", RoundingNameOf(o.rounding)},
                      {"overflow", OverflowNameOf(EffectiveOverflow(f, o.overflow))},
                      {"subnormals", SubnormalsName(o)},
                      {"tininess", o.tininess == Tininess::kBeforeRounding ? "before" : "after"},
                      {"nan_payload", o.nan_payload == NanPayload::kPreserve    ? "keep"
                                      : o.nan_payload == NanPayload::kCanonical ? "drop"
                                                                                : "all-ones"},
                      {"nan_to_no_nan", o.nan_to_no_nan == NanToNoNan::kZero              ? "zero"
                                        : o.nan_to_no_nan == NanToNoNan::kZeroOppositeSign ? "zero-opposite-sign"
                                                                                           : "max-finite"},
                      {"p1_ties", o.tie_rule_p1 == TieRuleP1::kAway ? "away" : "even-code"},
                      {"via", nullptr}};
  if (IsStochastic(o.rounding)) {
    j["seed"] = o.seed;
    j["sr_bits"] = o.sr_bits;
  }
  if (s.via) j["via"] = {{"format", s.via->name}, {"rounding", RoundingNameOf(s.via_rounding)}};
  return j;
}

// The verify options that give `s`, or nothing when no option does (double
// rounding, a NaN rule no preset has).
std::optional<std::string> CliOptions(const Format& f, const Semantics& s, Compat own, bool fake_quant) {
  if (s.via) return std::nullopt;
  for (const Compat p : {own, Compat::kNone, Compat::kMlDtypes, Compat::kCuda, Compat::kCudaSatfinite}) {
    if (*CheckCompat(p, f)) continue;
    const Options base = ApplyCompat(p, f, Options{});
    // The NaN rules and the p1 tie rule come from the preset only.
    Semantics probe = s;
    probe.opt.nan_payload = base.nan_payload;
    probe.opt.nan_to_no_nan = base.nan_to_no_nan;
    probe.opt.tie_rule_p1 = base.tie_rule_p1;
    if (Key(f, probe, fake_quant) != Key(f, s, fake_quant)) continue;
    const Options& o = s.opt;
    std::string t;
    auto add = [&t](const std::string& a) { t += (t.empty() ? "" : " ") + a; };
    if (p != Compat::kNone) add(fmt::format("--compat {}", CompatName(p)));
    if (o.rounding != base.rounding) add(fmt::format("--round {}", RoundingNameOf(o.rounding)));
    if (ShownOverflow(f, o.overflow) != ShownOverflow(f, base.overflow))
      add(fmt::format("--overflow {}", OverflowNameOf(EffectiveOverflow(f, o.overflow))));
    if (o.flush_input || o.flush_output) add(fmt::format("--subnormals {}", SubnormalsName(o)));
    if (o.flush_output && o.tininess == Tininess::kBeforeRounding) add("--tininess before");
    if (IsStochastic(o.rounding)) add(fmt::format("--seed {}", o.seed));
    if (o.rounding == Rounding::kStochastic && o.sr_bits != 32) add(fmt::format("--sr-bits {}", o.sr_bits));
    return t.empty() ? "(none: the defaults)" : t;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// The search plan
// ---------------------------------------------------------------------------

struct Change {
  std::string label;
  // Presets apply first, so that a change paired with one overrides it,
  // as an explicit option overrides --compat.
  bool preset = false;
  Compat compat = Compat::kNone;
  std::function<void(Semantics&)> apply;
};

struct Dimension {
  std::vector<Change> values;
};

struct Candidate {
  std::vector<std::string> changes;  // empty: the given semantics
  Semantics sem;
  Compat compat = Compat::kNone;  // the preset it starts from
  int level = 0;
  std::string key;
  int same_as = -1;  // an earlier candidate with the same outputs by construction
  bool evaluated = false;
  Tally tally;

  std::string Name() const {
    if (changes.empty()) return "given";
    std::string s;
    for (const std::string& c : changes) s += (s.empty() ? "" : " + ") + c;
    return s;
  }
};

// Whether rounding to `via` first can change a conversion from `src`
// into `f`: `via` must be narrower than the input (else the first step is
// exact) and wider than `f` in precision and range (else it is not double
// rounding but a different target).
bool MeaningfulVia(const Format& via, const Format& f, bool f64_inputs) {
  const int src_mantissa = f64_inputs ? 52 : 23;
  if (via.mantissa_bits >= src_mantissa) return false;
  const int target_precision = IsFloat(f) ? f.mantissa_bits + 1 : f.bits - (f.is_signed ? 1 : 0);
  if (via.mantissa_bits + 1 <= target_precision) return false;
  return MaxFinite(via) >= MaxFinite(f) && MinPositive(via) <= MinPositive(f);
}

std::vector<Dimension> Dimensions(const DiagnoseRequest& r, const KernelDumps& d) {
  const Format& f = *r.format;
  const Options& g = r.given.opt;
  std::vector<Dimension> dims;

  Dimension rounding;
  std::vector<Rounding> modes(std::begin(kDeterministic), std::end(kDeterministic));
  if (r.stochastic) {
    modes.push_back(Rounding::kStochastic);
    modes.push_back(Rounding::kStochasticEq);
  }
  for (const Rounding m : modes)
    if (m != g.rounding)
      rounding.values.push_back({fmt::format("rounding {}", RoundingNameOf(m)), false, Compat::kNone,
                                 [m](Semantics& s) { s.opt.rounding = m; }});
  dims.push_back(rounding);

  Dimension overflow;
  const std::vector<Overflow> policies =
      IsFloat(f) ? std::vector<Overflow>{Overflow::kIeee, Overflow::kSaturate, Overflow::kNan}
                 : std::vector<Overflow>{Overflow::kSaturate, Overflow::kWrap};
  for (const Overflow o : policies) {
    Options probe = g;
    probe.overflow = o;
    if (!CheckOptionsFor(f, probe).empty() || ShownOverflow(f, o) == ShownOverflow(f, g.overflow)) continue;
    overflow.values.push_back({fmt::format("overflow {}", OverflowNameOf(o)), false, Compat::kNone,
                               [o](Semantics& s) { s.opt.overflow = o; }});
  }
  dims.push_back(overflow);

  // Subnormals: flush-output before flush (a kernel that flushes results
  // seldom sees subnormal float32 inputs, so both would fit).
  Dimension subnormals;
  struct Sub {
    const char* label;
    bool in, out, before;
  };
  for (const Sub s : {Sub{"subnormals flush-output", false, true, false}, Sub{"subnormals flush-input", true, false, false},
                      Sub{"subnormals flush", true, true, false},
                      Sub{"subnormals flush-output, tininess before", false, true, true},
                      Sub{"subnormals flush, tininess before", true, true, true}}) {
    if (s.out && !FtzShows(f)) continue;
    const bool same_tininess = !s.out || (g.tininess == Tininess::kBeforeRounding) == s.before;
    if (s.in == g.flush_input && s.out == g.flush_output && same_tininess) continue;
    subnormals.values.push_back({s.label, false, Compat::kNone, [s](Semantics& x) {
                                   x.opt.flush_input = s.in;
                                   x.opt.flush_output = s.out;
                                   x.opt.tininess = s.before ? Tininess::kBeforeRounding : Tininess::kAfterRounding;
                                 }});
  }
  // Back to "keep" when the given semantics flush.
  if (g.flush_input || g.flush_output)
    subnormals.values.insert(subnormals.values.begin(),
                             Change{"subnormals keep", false, Compat::kNone,
                                    [](Semantics& x) { x.opt.flush_input = x.opt.flush_output = false; }});
  dims.push_back(subnormals);

  Dimension nan;
  if (NanShows(f)) {
    if (HasNan(f)) {
      for (const NanPayload p : {NanPayload::kPreserve, NanPayload::kCanonical, NanPayload::kAllOnes})
        if (p != g.nan_payload)
          nan.values.push_back({NanPayloadName(p), false, Compat::kNone, [p](Semantics& s) { s.opt.nan_payload = p; }});
    } else {
      for (const NanToNoNan n : {NanToNoNan::kZero, NanToNoNan::kZeroOppositeSign, NanToNoNan::kMaxFinite})
        if (n != g.nan_to_no_nan)
          nan.values.push_back(
              {NanToNoNanName(n), false, Compat::kNone, [n](Semantics& s) { s.opt.nan_to_no_nan = n; }});
    }
  }
  dims.push_back(nan);

  Dimension p1;
  if (IsFloat(f) && f.mantissa_bits == 0) {
    const TieRuleP1 other = g.tie_rule_p1 == TieRuleP1::kAway ? TieRuleP1::kEvenCode : TieRuleP1::kAway;
    p1.values.push_back({other == TieRuleP1::kAway ? "ties away from zero" : "ties to the even code", false,
                         Compat::kNone, [other](Semantics& s) { s.opt.tie_rule_p1 = other; }});
  }
  dims.push_back(p1);

  Dimension via;
  for (const Format* v : {&formats::kF32, &formats::kF16, &formats::kBf16}) {
    if (!MeaningfulVia(*v, f, d.f64_inputs)) continue;
    for (const Rounding m : kDeterministic)
      via.values.push_back({fmt::format("via {} ({})", v->name, RoundingNameOf(m)), false, Compat::kNone,
                            [v, m](Semantics& s) {
                              s.via = v;
                              s.via_rounding = m;
                            }});
  }
  dims.push_back(via);

  Dimension compat;
  for (const Compat c : {Compat::kMlDtypes, Compat::kCuda, Compat::kCudaSatfinite, Compat::kNone}) {
    if (c == r.given_compat || *CheckCompat(c, f)) continue;
    compat.values.push_back({fmt::format("compat {}", CompatName(c)), true, c, [&f, c](Semantics& s) {
                               // The peer's fields from scratch, the rest (subnormals, seed) kept.
                               const Options fresh;
                               s.opt.rounding = fresh.rounding;
                               s.opt.overflow = fresh.overflow;
                               s.opt.nan_payload = fresh.nan_payload;
                               s.opt.nan_to_no_nan = fresh.nan_to_no_nan;
                               s.opt.tie_rule_p1 = fresh.tie_rule_p1;
                               s.opt = ApplyCompat(c, f, s.opt);
                             }});
  }
  dims.push_back(compat);
  return dims;
}

Candidate Make(const DiagnoseRequest& r, const std::vector<const Change*>& changes, int level, bool fake_quant) {
  Candidate c;
  c.sem = r.given;
  c.compat = r.given_compat;
  c.level = level;
  for (const bool presets : {true, false})
    for (const Change* ch : changes)
      if (ch->preset == presets) {
        ch->apply(c.sem);
        if (ch->preset) c.compat = ch->compat;
      }
  for (const Change* ch : changes) c.changes.push_back(ch->label);
  c.key = Key(*r.format, c.sem, fake_quant);
  return c;
}

std::vector<Candidate> Plan(const DiagnoseRequest& r, const KernelDumps& d) {
  const std::vector<Dimension> dims = Dimensions(r, d);
  std::vector<Candidate> plan;
  std::map<std::string, int> seen;
  auto add = [&](Candidate c) {
    const auto [it, fresh] = seen.emplace(c.key, static_cast<int>(plan.size()));
    if (!fresh) c.same_as = it->second;
    plan.push_back(std::move(c));
  };
  add(Make(r, {}, 0, d.fake_quant));
  // A value that changes nothing this format can show (a NaN rule the
  // codes cannot tell apart) is listed once, as the same as the given
  // semantics, and left out of the pairs.
  std::vector<std::vector<const Change*>> useful(dims.size());
  for (size_t i = 0; i < dims.size(); ++i)
    for (const Change& ch : dims[i].values) {
      Candidate c = Make(r, {&ch}, 1, d.fake_quant);
      if (c.key != plan[0].key) useful[i].push_back(&ch);
      add(std::move(c));
    }
  for (size_t i = 0; i < dims.size(); ++i)
    for (size_t j = i + 1; j < dims.size(); ++j)
      for (const Change* a : useful[i])
        for (const Change* b : useful[j]) add(Make(r, {a, b}, 2, d.fake_quant));
  return plan;
}

// ---------------------------------------------------------------------------
// Explaining one element
// ---------------------------------------------------------------------------

// The code of `f` whose fake-quantized float32 is `bits`, if there is one.
std::optional<uint64_t> CodeOfF32(const Format& f, uint32_t bits) {
  const float v = F32FromBits(bits);
  Options o;
  o.overflow = Overflow::kSaturate;
  const Result r = EncodeFromF32(f, v, o);
  const uint32_t back = BitsOf(DecodeToF32(f, r.code));
  if (back == bits || (std::isnan(v) && IsNanCode(f, r.code))) return r.code;
  return std::nullopt;
}

// One output word seen as a value of the format.
struct Seen {
  uint32_t word = 0;
  std::optional<uint64_t> code;  // its code of f (codes: the word, if in range)
  double value = 0;              // NaN for a NaN
  std::string text;              // for the report
};

Seen SeeWord(const Format& f, const KernelDumps& d, uint32_t word) {
  Seen s;
  s.word = word;
  if (d.fake_quant) {
    s.value = F32FromBits(word);
    s.code = CodeOfF32(f, word);
    s.text = fmt::format("0x{:08x} = {}", word, NumberText(s.value));
    s.text += s.code ? fmt::format(" (code {})", DescribeCode(f, *s.code)) : fmt::format(" (not a value of {})", f.name);
    return s;
  }
  const uint64_t code = word >> f.storage_shift;
  if (code > CodeMask(f)) {
    s.value = std::nan("");
    s.text = fmt::format("0x{:x} (not a code of {})", word, f.name);
    return s;
  }
  s.code = code;
  s.value = DecodeToF64(f, code);
  s.text = DescribeCode(f, code);
  return s;
}

bool IsMaxFinite(const Format& f, double v) { return std::isfinite(v) && std::fabs(v) == MaxFinite(f); }

// What a conversion of a finite input did, as a verb phrase.
std::string OverflowVerb(const Format& f, double v) {
  if (std::isnan(v)) return "overflowed to NaN";
  if (std::isinf(v)) return "overflowed to infinity";
  if (IsMaxFinite(f, v)) return fmt::format("saturated to {}", NumberText(v));
  return fmt::format("gave {}", NumberText(v));
}

std::string OverflowGerund(const Format& f, double v, bool overflowed) {
  if (std::isnan(v)) return "overflowing to NaN";
  if (std::isinf(v)) return "overflowing to infinity";
  if (IsMaxFinite(f, v)) return overflowed ? "saturating" : fmt::format("rounding to max finite {}", NumberText(v));
  return fmt::format("giving {}", NumberText(v));
}

const char* Parity(uint64_t code) { return (code & 1) ? "odd" : "even"; }

std::string NanBits(const Format& f, const KernelDumps& d, const Seen& s) {
  if (d.fake_quant) return fmt::format("0x{:08x}", s.word);
  return FormatHexCode(*s.code, f);
}

std::string WhyNan(const Format& f, const KernelDumps& d, double x, const Seen& e, const Seen& g) {
  const bool x_neg = std::signbit(x);
  if (std::isnan(e.value) && std::isnan(g.value)) {
    // Both NaN, encoded differently: the sign, the payload, or all-ones.
    const uint32_t sign_bit = d.fake_quant ? 0x80000000u : static_cast<uint32_t>(SignBit(f));
    const uint32_t all_ones = d.fake_quant ? 0x7fffffffu : static_cast<uint32_t>(MagnitudeMask(f));
    const bool g_neg = (g.word & sign_bit) != 0, e_neg = (e.word & sign_bit) != 0;
    if (g.word == all_ones && e.word != all_ones)
      return fmt::format("both are NaN: the kernel gives the positive all-ones NaN {} whatever the input's sign and payload "
                         "(NaN all-ones, CUDA's rule); these semantics give {}",
                         NanBits(f, d, g), NanBits(f, d, e));
    if (g_neg != e_neg)
      return fmt::format("both are NaN, with different signs: the input's sign is {}, the kernel's NaN {} is {}",
                         x_neg ? "-" : "+", NanBits(f, d, g), g_neg ? "negative" : "positive");
    return fmt::format("both are NaN, with different payloads: the kernel gives {}, these semantics {} (NaN payload "
                       "kept or dropped)",
                       NanBits(f, d, g), NanBits(f, d, e));
  }
  if (std::isnan(e.value))
    return fmt::format("a NaN input: the kernel gives {}, not a NaN", NumberText(g.value));
  std::string rule;
  if (g.value == 0 && std::signbit(g.value) != x_neg) rule = " (zero with the sign flipped: ml_dtypes' rule)";
  else if (g.value == 0) rule = " (zero)";
  else if (IsMaxFinite(f, g.value)) rule = " (max finite: CUDA's rule)";
  if (!HasNan(f))
    return fmt::format("{} has no NaN: the kernel turns the NaN input into {}{}, these semantics into {}", f.name,
                       NumberText(g.value), rule, NumberText(e.value));
  return fmt::format("a NaN input: the kernel gives {}{}, these semantics {}", NumberText(g.value), rule,
                     NumberText(e.value));
}

std::string WhyInf(const Format& f, double x, const Seen& e, const Seen& g) {
  const std::string inf = x < 0 ? "-infinity" : "infinity";
  auto what = [&](double v) {
    if (std::isnan(v)) return std::string("NaN");
    if (std::isinf(v)) return std::string("infinity");
    if (IsMaxFinite(f, v)) return fmt::format("max finite {}", NumberText(v));
    return NumberText(v);
  };
  if (IsMaxFinite(f, g.value))
    return fmt::format("{} saturated to {} by the kernel (as overflow saturate); these semantics give {}", inf,
                       NumberText(g.value), what(e.value));
  return fmt::format("{}: the kernel gives {}, these semantics {}", inf, what(g.value), what(e.value));
}

// The candidate's own result for x, direct, for whether it overflowed.
bool CandidateOverflows(const Format& f, const Semantics& sem, double x) {
  return (EncodeFromF64(f, x, sem.opt).flags & kOverflow) != 0;
}

// Double rounding shows where rounding x to a wider format first lands on
// the midpoint of its two neighbours in f (a tie the second rounding
// breaks its own way) or on the kernel's value itself (which any second
// rounding keeps). Says which wider format, rounded to nearest even, gives
// the kernel's value that way, or "".
std::string DoubleRoundingNote(const Format& f, const KernelDumps& d, double x, double mid, double gv) {
  for (const Format* v : {&formats::kF32, &formats::kF16, &formats::kBf16}) {
    if (!MeaningfulVia(*v, f, d.f64_inputs)) continue;
    const double xv = DecodeToF64(*v, EncodeFromF64(*v, x).code);
    if (xv == x) continue;
    if (xv == gv)
      return fmt::format("; rounded to {} first (rne) it becomes {}, a value of {}: double rounding", v->name,
                         NumberText(xv), f.name);
    if (xv != mid) continue;
    for (const Rounding m : {Rounding::kNearestEven, Rounding::kNearestAway}) {
      Options o;
      o.rounding = m;
      if (DecodeToF64(f, EncodeFromF64(f, xv, o).code) == gv)
        return fmt::format("; rounded to {} first (rne) it becomes {}, exactly halfway, and {} takes that tie to {}: "
                           "double rounding",
                           v->name, NumberText(xv), RoundingNameOf(m), NumberText(gv));
    }
  }
  return "";
}

std::string WhyFinite(const Format& f, const KernelDumps& d, const Semantics& sem, double x, const Seen& e,
                      const Seen& g) {
  const double ev = e.value, gv = g.value;
  const std::string xs = NumberText(x);
  if (!std::isfinite(ev) || !std::isfinite(gv)) {
    const double maxf = MaxFinite(f);
    const std::string where = std::fabs(x) > maxf ? fmt::format("{} is beyond max finite {}", xs, NumberText(maxf))
                                                  : fmt::format("{} is within range (max finite {})", xs, NumberText(maxf));
    return fmt::format("{}: the kernel {} instead of {}", where, OverflowVerb(f, gv),
                       OverflowGerund(f, ev, CandidateOverflows(f, sem, x)));
  }
  if (ev == 0 && gv == 0)
    return fmt::format("zero with the other sign: the input {} rounds to zero; the kernel gives {}, these semantics {}",
                       xs, NumberText(gv), NumberText(ev));
  const double src_min_normal = d.f64_inputs ? 0x1p-1022 : 0x1p-126;
  const bool x_subnormal = x != 0 && std::fabs(x) < src_min_normal;
  const char* src = d.f64_inputs ? "float64" : "float32";
  if (x_subnormal && gv == 0 && ev != 0)
    return fmt::format("the input is a {} subnormal: the kernel treated it as zero (subnormal inputs flushed, DAZ); "
                       "these semantics give {}",
                       src, NumberText(ev));
  if (x_subnormal && ev == 0 && gv != 0 && sem.opt.flush_input)
    return fmt::format("the input is a {} subnormal: these semantics treat it as zero (flush-input), the kernel "
                       "does not ({})",
                       src, NumberText(gv));
  const double min_normal = MinNormal(f);
  if (IsFloat(f) && std::fabs(x) < min_normal) {
    if (gv == 0 && ev != 0) {
      if (std::fabs(ev) < min_normal)
        return fmt::format("subnormal result flushed to zero: {} rounds to the subnormal {}, the kernel gives {} "
                           "(flush-output, FTZ)",
                           xs, NumberText(ev), NumberText(gv));
      return fmt::format("{} is below the smallest normal {} and rounds up to it; the kernel flushed it to zero "
                         "(FTZ with tininess detected before rounding)",
                         xs, NumberText(min_normal));
    }
    if (ev == 0 && gv != 0 && sem.opt.flush_output) {
      if (std::fabs(gv) < min_normal)
        return fmt::format("{} is tiny: these semantics flush the result to zero, the kernel keeps the subnormal {}",
                           xs, NumberText(gv));
      if (sem.opt.tininess == Tininess::kBeforeRounding)
        return fmt::format("{} is below the smallest normal {} and rounds up to it: these semantics flush it (tininess "
                           "before rounding), the kernel keeps it",
                           xs, NumberText(min_normal));
      // IEEE's after-rounding test rounds to the format's precision with an
      // unbounded exponent; the grid below 2^emin is coarser, so a value can
      // reach 2^emin on the grid and still be tiny.
      return fmt::format("{} rounds up to the smallest normal {} on {}'s grid, but is tiny by IEEE's after-rounding "
                         "test (rounded to {} bits with an unbounded exponent it stays below {}), so these semantics "
                         "flush it; the kernel keeps it: it flushes only results that come out subnormal, a rule "
                         "floatscope's flush-output does not have",
                         xs, NumberText(min_normal), f.name, f.mantissa_bits + 1, NumberText(min_normal));
    }
  }
  // The two neighbours of x in f (equal when x is a value of f or is beyond
  // the largest finite value).
  Options down, up;
  down.rounding = Rounding::kDown;
  up.rounding = Rounding::kUp;
  down.overflow = up.overflow = Overflow::kSaturate;
  const Result rl = EncodeFromF64(f, x, down), rh = EncodeFromF64(f, x, up);
  const double lo = DecodeToF64(f, rl.code), hi = DecodeToF64(f, rh.code);
  const bool e_near = ev == lo || ev == hi, g_near = gv == lo || gv == hi;
  if (lo != hi && e_near && g_near && e.code && g.code) {
    // Exact in double: lo and hi are neighbouring values of a format of at
    // most 53 bits, so their sum needs one bit more than either at most.
    const double mid = (lo + hi) / 2;
    const bool g_away = std::fabs(gv) > std::fabs(ev);
    const char* g_dir = g_away ? "away from zero" : "toward zero";
    const char* e_dir = g_away ? "toward zero" : "away from zero";
    if (x == mid) {
      const bool g_odd = (*g.code & 1) != 0;
      const std::string label = g_odd ? "tie rounded away from even" : "tie rounded to even";
      return fmt::format("{}: {} is exactly halfway between {} and {}; the kernel took {} ({} code, {}), these "
                         "semantics {} ({} code, {})",
                         label, xs, NumberText(lo), NumberText(hi), NumberText(gv), Parity(*g.code), g_dir,
                         NumberText(ev), Parity(*e.code), e_dir);
    }
    const double nearest = x < mid ? lo : hi;
    const std::string note = DoubleRoundingNote(f, d, x, mid, gv);
    if (gv == nearest)
      return fmt::format("the kernel rounded to nearest: {} lies between {} and {}, nearer {}; these semantics round "
                         "{} to {}{}",
                         xs, NumberText(lo), NumberText(hi), NumberText(gv), e_dir, NumberText(ev), note);
    return fmt::format("rounded {} instead of to nearest: {} lies between {} and {}, nearer {}; the kernel gives {}{}",
                       g_dir, xs, NumberText(lo), NumberText(hi), NumberText(nearest), NumberText(gv), note);
  }
  std::string t;
  if (lo == hi) t = fmt::format("{} is a value of {}{}: the kernel gives {} instead", xs, f.name,
                                 ev == lo ? "" : fmt::format(" (these semantics give {})", NumberText(ev)), NumberText(gv));
  else if (!g_near)
    t = fmt::format("the kernel's {} is not a neighbour of {} (which lies between {} and {})", NumberText(gv), xs,
                    NumberText(lo), NumberText(hi));
  else
    t = fmt::format("the kernel's {} is a neighbour of {}, these semantics' {} is not", NumberText(gv), xs,
                    NumberText(ev));
  const uint32_t diff = e.word ^ g.word;
  if (std::popcount(diff) == 1) t += fmt::format("; the output differs from the expected one in a single bit (bit {})",
                                                 std::countr_zero(diff));
  return t;
}

std::string WhyDiffer(const Format& f, const KernelDumps& d, const Semantics& sem, double x, const Seen& e,
                      const Seen& g) {
  if (!g.code && !d.fake_quant)
    return fmt::format("0x{:x} is not a code of {}: it has bits above the format's {} (codes sit in the low bits of "
                       "each {}-byte word)",
                       g.word, f.name, f.bits, d.item);
  if (std::isnan(x)) return WhyNan(f, d, x, e, g);
  if (std::isinf(x)) return WhyInf(f, x, e, g);
  if (!g.code) {
    std::string t = fmt::format("the kernel's {} is not a value of {}", NumberText(g.value), f.name);
    const uint32_t diff = e.word ^ g.word;
    if (std::popcount(diff) == 1) t += fmt::format("; it differs from the expected float32 in a single bit (bit {})",
                                                   std::countr_zero(diff));
    return t;
  }
  return WhyFinite(f, d, sem, x, e, g);
}

std::string ValueText(const KernelDumps& d, size_t i) {
  return d.f64_inputs ? fmt::format("0x{:016x} = {}", BitsOf(d.x64[i]), NumberText(d.x64[i]))
                      : fmt::format("0x{:08x} = {}", BitsOf(d.x32[i]), d.x32[i]);
}

std::string Mismatches(uint64_t n) { return fmt::format("{} mismatch{}", n, n == 1 ? "" : "es"); }

nlohmann::json NumberJson(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  return v;
}

}  // namespace

// ---------------------------------------------------------------------------

void ExpectedWords(const Format& f, const Semantics& sem, const KernelDumps& d, std::vector<uint32_t>* out) {
  Evaluator ev(f, d);
  std::vector<uint32_t> buf = OutputBuffer(d.n, d.item);
  ev.Run(sem, 0, d.n, buf.data());
  out->resize(d.n);
  for (size_t i = 0; i < d.n; ++i) (*out)[i] = WordAt(buf.data(), d.item, i);
}

DiagnoseRequest MakeDiagnoseRequest(const NpyVerifyRequest& r, const Format& f) {
  DiagnoseRequest dr;
  dr.format = &f;
  dr.op_name = r.op_name;
  dr.json_path = r.json_path;
  dr.max_report = r.max_report;
  if (!r.json_path.empty()) {
    try {
      npy::CheckOutputPath(r.json_path);
    } catch (const npy::NpyError& e) {
      throw UsageError(std::string("--json: ") + e.what());
    }
  }
  // --seed names the seed that sr and sr-eq are searched with, whatever
  // the given rounding; without it they are not searched (a kernel's
  // stochastic choices cannot be reproduced without its seed).
  RoundingFlags flags = r.flags;
  const bool seed_given = flags.Given(flags.seed_opt);
  if (seed_given) {
    flags.seed_opt = nullptr;
    flags.sr_bits_opt = nullptr;
  }
  dr.given.opt = ResolveOptions(flags, f);
  dr.given_compat = *ParseCompat(flags.compat);  // valid: ResolveOptions checked it
  dr.stochastic = seed_given || IsStochastic(dr.given.opt.rounding);
  return dr;
}

uint64_t RunDiagnose(const DiagnoseRequest& r, const KernelDumps& d, std::ostream& os) {
  const Format& f = *r.format;
  std::vector<Candidate> plan = Plan(r, d);
  Evaluator ev(f, d);
  std::vector<uint32_t> buf = OutputBuffer(d.n, d.item);
  std::vector<uint32_t> given_words = OutputBuffer(d.n, d.item);

  // Level by level; within a level the candidates that share a first
  // rounding step run one after the other (the staged inputs are reused).
  int stopped_after = 0;
  for (int level = 0; level <= 2; ++level) {
    std::vector<size_t> order;
    for (size_t i = 0; i < plan.size(); ++i)
      if (plan[i].level == level && plan[i].same_as < 0) order.push_back(i);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      auto via_key = [&](size_t i) {
        const Semantics& s = plan[i].sem;
        return s.via ? std::make_pair(std::string(s.via->name), static_cast<int>(s.via_rounding))
                     : std::make_pair(std::string(), -1);
      };
      return via_key(a) < via_key(b);
    });
    bool exact = false;
    for (const size_t i : order) {
      Candidate& c = plan[i];
      void* out = level == 0 ? given_words.data() : buf.data();
      ev.Run(c.sem, 0, d.n, out);
      c.tally = Compare(out, d);
      c.evaluated = true;
      exact = exact || c.tally.mismatches == 0;
    }
    stopped_after = level;
    if (exact) break;
  }
  for (Candidate& c : plan)
    if (c.same_as >= 0 && c.level <= stopped_after && plan[c.same_as].evaluated) {
      c.tally = plan[c.same_as].tally;
      c.evaluated = true;
    }

  const Candidate& given = plan[0];
  const uint64_t failed = given.tally.mismatches;
  // The diagnosis: the first exact candidate in plan order, else the
  // closest (fewest mismatches; the earlier in plan order among equals).
  int best = -1;
  std::vector<int> also_exact;
  for (size_t i = 0; i < plan.size(); ++i) {
    const Candidate& c = plan[i];
    if (!c.evaluated) continue;
    if (best < 0 || c.tally.mismatches < plan[best].tally.mismatches) best = static_cast<int>(i);
    else if (c.tally.mismatches == 0) also_exact.push_back(static_cast<int>(i));
  }
  const Candidate& diag = plan[best];
  const bool found = diag.tally.mismatches == 0;

  // The elements explained: where the given semantics differ (when a
  // candidate reproduces the kernel, that is what it changes), else where
  // the closest candidate differs.
  const Candidate& shown = (found || best == 0) ? given : diag;
  std::vector<uint32_t> shown_words_storage;
  const void* shown_words = given_words.data();
  if (&shown != &given) {
    shown_words_storage = OutputBuffer(d.n, d.item);
    ev.Run(shown.sem, 0, d.n, shown_words_storage.data());
    shown_words = shown_words_storage.data();
  }
  std::vector<size_t> explained;
  for (size_t i = 0; i < d.n && explained.size() < static_cast<size_t>(std::max(r.max_report, 0)); ++i)
    if (WordAt(shown_words, d.item, i) != d.Got(i)) explained.push_back(i);

  // Which single changes (and the given semantics) give the kernel's
  // output at an element: a per-element hint of what the kernel does.
  std::vector<const Candidate*> singles;
  for (const Candidate& c : plan)
    if (c.level <= 1 && c.same_as < 0) singles.push_back(&c);

  std::ostringstream text;
  const std::string in_kind = d.f64_inputs ? "float64" : "float32";
  const std::string out_kind = d.fake_quant ? "fake-quantized float32" : fmt::format("codes, {}-byte", d.item);
  text << fmt::format("diagnose {}: {} elements; inputs {} ({}), outputs {} ({})\n", r.op_name, d.n, d.in_path, in_kind,
                      d.out_path, out_kind);
  text << fmt::format("given:     {}\n", SemanticsText(f, given.sem));
  size_t n_eval = 0, n_same = 0;
  for (const Candidate& c : plan)
    if (c.level <= stopped_after) (c.same_as < 0 ? n_eval : n_same)++;
  if (failed == 0) {
    text << fmt::format("result:    the kernel matches the given semantics on all {} elements\n", d.n);
  } else {
    text << fmt::format("           {} of {} elements differ\n", failed, d.n);
    const char* levels[] = {"the given semantics", "the given semantics and single changes",
                            "the given semantics, single changes and pairs of changes"};
    text << fmt::format("searched:  {} candidates ({}; {} more are the same as one of them for {}){}\n", n_eval,
                        levels[stopped_after], n_same, f.name,
                        found ? ", stopping after the first level with an exact match" : "");
    if (!r.stochastic)
      text << "           not searched: sr, sr-eq (give --seed: the kernel's stochastic choices need its seed)\n";
    if (found) {
      text << fmt::format("diagnosis: the kernel follows \"{}\" exactly\n", diag.Name());
      text << fmt::format("           {}\n", SemanticsText(f, diag.sem));
      if (const auto cli = CliOptions(f, diag.sem, diag.compat, d.fake_quant))
        text << fmt::format("           verify options: {}\n", *cli);
      else
        text << "           (no verify option expresses this: double rounding or a NaN rule no preset has)\n";
      if (!also_exact.empty()) {
        std::string names;
        for (const int i : also_exact) {
          names += (names.empty() ? "" : "; ") + plan[i].Name();
          if (plan[i].same_as == best) names += fmt::format(" (the same semantics for {})", f.name);
        }
        text << fmt::format("           also exact on these inputs (they cannot tell these apart): {}\n", names);
      }
    } else {
      text << fmt::format("diagnosis: no candidate reproduces the kernel; closest: \"{}\" with {}\n", diag.Name(),
                          Mismatches(diag.tally.mismatches));
      std::vector<const Candidate*> ranked;
      for (const Candidate& c : plan)
        if (c.evaluated && c.same_as < 0 && &c != &diag) ranked.push_back(&c);
      std::stable_sort(ranked.begin(), ranked.end(), [](const Candidate* a, const Candidate* b) {
        return a->tally.mismatches < b->tally.mismatches;
      });
      std::string next;
      for (size_t k = 0; k < std::min<size_t>(4, ranked.size()); ++k)
        next += fmt::format("{}{} ({})", k ? "; " : "", ranked[k]->Name(), ranked[k]->tally.mismatches);
      if (!next.empty()) text << fmt::format("           next: {}\n", next);
    }
  }

  nlohmann::json jexplained = nlohmann::json::array();
  if (!explained.empty()) {
    const uint64_t differing = shown.tally.mismatches;
    text << fmt::format("\nfirst {} of {} elements where the kernel differs from \"{}\":\n", explained.size(), differing,
                        shown.Name());
    std::vector<uint32_t> one(2);
    for (const size_t i : explained) {
      const double x = d.InputValue(i);
      const Seen e = SeeWord(f, d, WordAt(shown_words, d.item, i));
      const Seen g = SeeWord(f, d, d.Got(i));
      const std::string why = WhyDiffer(f, d, shown.sem, x, e, g);
      std::vector<std::string> matching;
      for (const Candidate* c : singles) {
        ev.Run(c->sem, i, 1, one.data());
        if (WordAt(one.data(), d.item, 0) == g.word) matching.push_back(c->Name());
      }
      std::string reproduced;
      for (size_t k = 0; k < std::min<size_t>(6, matching.size()); ++k) reproduced += (k ? "; " : "") + matching[k];
      if (matching.size() > 6) reproduced += fmt::format("; and {} more", matching.size() - 6);
      if (matching.empty()) reproduced = "none of the given semantics and its single changes";
      const std::string label = shown.Name();
      text << fmt::format("element {}: input {}\n", i, ValueText(d, i));
      text << fmt::format("  {:<10} {}\n", label.size() <= 10 ? label : "expected", e.text);
      if (label.size() > 10) text << fmt::format("  {:<10} (under {})\n", "", label);
      text << fmt::format("  {:<10} {}\n", "kernel", g.text);
      text << fmt::format("  {:<10} {}\n", "why", why);
      text << fmt::format("  {:<10} {}\n", "matched by", reproduced);
      jexplained.push_back({{"element", i},
                            {"input_bits", d.f64_inputs ? fmt::format("{:016x}", d.InputBits(i))
                                                        : fmt::format("{:08x}", d.InputBits(i))},
                            {"input", NumberJson(x)},
                            {"expected", fmt::format("{:x}", e.word)},
                            {"expected_value", NumberJson(e.value)},
                            {"kernel", fmt::format("{:x}", g.word)},
                            {"kernel_value", NumberJson(g.value)},
                            {"why", why},
                            {"matched_by", matching}});
    }
  }
  text << (d.n - failed) << " passed, " << failed << " failed\n";

  if (!r.json_path.empty()) {
    nlohmann::json cands = nlohmann::json::array();
    for (const Candidate& c : plan) {
      nlohmann::json j = {{"name", c.Name()},
                          {"level", c.level},
                          {"changes", c.changes},
                          {"semantics", SemanticsJson(f, c.sem)},
                          {"evaluated", c.evaluated},
                          {"mismatches", c.evaluated ? nlohmann::json(c.tally.mismatches) : nlohmann::json(nullptr)},
                          {"first_mismatch", c.evaluated && c.tally.mismatches ? nlohmann::json(c.tally.first)
                                                                              : nlohmann::json(nullptr)},
                          {"same_as", c.same_as >= 0 ? nlohmann::json(plan[c.same_as].Name()) : nlohmann::json(nullptr)}};
      const auto cli = CliOptions(f, c.sem, c.compat, d.fake_quant);
      j["verify_options"] = cli ? nlohmann::json(*cli) : nlohmann::json(nullptr);
      cands.push_back(std::move(j));
    }
    nlohmann::json also = nlohmann::json::array();
    for (const int i : also_exact) also.push_back(plan[i].Name());
    const nlohmann::json report = {
        {"tool", "floatscope verify --diagnose"},
        {"op", r.op_name},
        {"format", f.name},
        {"in", d.in_path},
        {"out", d.out_path},
        {"inputs", in_kind},
        {"outputs", d.fake_quant ? "fake-quant float32" : "codes"},
        {"elements", d.n},
        {"given", SemanticsJson(f, given.sem)},
        {"given_mismatches", failed},
        {"result", failed == 0 ? "given" : found ? "exact" : "closest"},
        {"diagnosis", failed == 0 ? nlohmann::json(nullptr)
                                  : nlohmann::json{{"name", diag.Name()},
                                                   {"mismatches", diag.tally.mismatches},
                                                   {"semantics", SemanticsJson(f, diag.sem)}}},
        {"also_exact", also},
        {"searched_levels", stopped_after},
        {"stochastic_searched", r.stochastic},
        {"explained_against", failed == 0 ? nlohmann::json(nullptr) : nlohmann::json(shown.Name())},
        {"explained", jexplained},
        {"candidates", cands}};
    npy::OutputFiles json;  // the rules of every output file (emulate/npy.h)
    json.AddBytes(r.json_path, report.dump(2) + "\n");
    json.Commit();
  }
  os << text.str();
  return failed;
}

}  // namespace floatscope::cli
