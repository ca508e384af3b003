#include "cli/gpu_verify.h"

#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

#include "cli/cli_error.h"
#include "cli/int_option.h"
#include "cli/npy_verify.h"
#include "cli/quoted.h"
#include "cli/rounding_options.h"
#include "emulate/array_ops.h"
#include "emulate/npy.h"
#include "formats/catalog.h"
#include "formats/names.h"
#include "formats/spec_parser.h"

#if defined(FLOATSCOPE_HAVE_CUDA)
#include <chrono>
#include <ctime>

#include "cuda/gpu.h"
#include "cuda/verify.h"
#endif

namespace floatscope::cli {

namespace {

struct Session {
  std::string formats = "all", rounds = "rne", variants = "all", reference = "simd", json_path, in_path, out_path;
  std::string scales;  // --scale: the per-tensor scaled cast with these scales instead of the conversion
  RoundingFlags flags;
  bool exhaustive = false, unaligned = false;
  unsigned threads = 0;
  int max_report = 10;
  CLI::Option *seed_opt = nullptr, *sr_bits_opt = nullptr;
};

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

const Format& FormatOf(const std::string& spec) {
  std::string why;
  const Format* f = ResolveFormat(spec, &why);
  if (!f) throw UsageError("unknown format " + Quoted(spec) + (why.empty() ? "" : ": " + why));
  return *f;
}

std::vector<const Format*> ParseFormats(const std::string& arg) {
  std::vector<const Format*> out;
  if (arg == "all") {
    for (const Format& f : formats::kAll)
      if (f.bits <= 16) out.push_back(&f);
    return out;
  }
  for (const std::string& s : SplitCommas(arg)) out.push_back(&FormatOf(s));
  if (out.empty()) throw UsageError("--format needs at least one format");
  return out;
}

std::vector<std::string> ParseModes(const std::string& arg) {
  if (arg == "all") return {"rne", "rna", "rtz", "rdn", "rup", "rto", "sr", "sr-eq"};
  if (arg == "deterministic") return {"rne", "rna", "rtz", "rdn", "rup", "rto"};
  std::vector<std::string> out = SplitCommas(arg);
  for (const std::string& m : out)
    if (!ParseRounding(m)) throw UsageError("unknown rounding mode " + Quoted(m) + " (rne rna rtz rdn rup rto sr sr-eq)");
  if (out.empty()) throw UsageError("--round needs at least one mode");
  return out;
}

// The names of --kernels, checked without the CUDA headers.
std::vector<std::string> VariantNames(const std::string& arg) {
  if (arg == "all") return {"all"};
  std::vector<std::string> out = SplitCommas(arg);
  for (const std::string& v : out)
    if (v != "fast" && v != "core" && v != "auto")
      throw UsageError("unknown kernel variant " + Quoted(v) + " (fast, core, auto, all)");
  if (out.empty()) throw UsageError("--kernels needs at least one variant");
  return out;
}

void CheckReadable(const std::string& path) {
  if (::access(path.c_str(), R_OK) != 0) throw UsageError(path + ": cannot open: " + std::strerror(errno));
}

// --scale's values: finite and > 0 (decimal or hex floats, as float32).
std::vector<float> ParseScales(const std::string& arg) {
  std::vector<float> out;
  if (arg.empty()) return out;
  for (const std::string& item : SplitCommas(arg)) {
    float v = 0;
    size_t used = 0;
    try {
      v = std::stof(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || !(v > 0) || !std::isfinite(v))
      throw UsageError("--scale: " + Quoted(item) + " is not a finite float32 scale > 0");
    out.push_back(v);
  }
  return out;
}

// Everything that needs no device, checked before looking for one: a bad
// argument is found on any machine, with or without CUDA.
void Validate(const Session& s) {
  if (s.exhaustive == (!s.in_path.empty() || !s.out_path.empty()))
    throw UsageError("gpu-verify: give either --exhaustive or both --in and --out");
  if (!s.exhaustive && (s.in_path.empty() || s.out_path.empty()))
    throw UsageError("gpu-verify: --in and --out go together");
  std::vector<const Format*> fmts;
  std::vector<std::string> modes;
  if (s.exhaustive) {
    fmts = ParseFormats(s.formats);
    modes = ParseModes(s.rounds);
    for (const Format* f : fmts)
      if (f->bits > 24 || CodeBytes(*f) > 4)
        throw UsageError(std::string("gpu-verify: exhaustive verification covers formats of at most 24 bits, not ") +
                         f->name);
  } else {
    if (s.formats == "all" || s.formats.find(',') != std::string::npos)
      throw UsageError("gpu-verify: --in/--out checks one format at a time (--format F)");
    if (s.rounds.find(',') != std::string::npos || s.rounds == "all" || s.rounds == "deterministic")
      throw UsageError("gpu-verify: --in/--out checks one rounding mode at a time (--round R)");
    fmts = {&FormatOf(s.formats)};
    modes = {s.rounds};
    if (CodeBytes(*fmts[0]) > 4)
      throw UsageError(std::string("gpu-verify: format ") + fmts[0]->name +
                       " is too wide for the GPU kernels (codes of at most 32 bits)");
  }
  bool any_sr = false, any_sr_eq = false;
  for (const Format* f : fmts) {
    for (const std::string& mode : modes) {
      RoundingFlags flags = s.flags;
      flags.round = mode;
      const Options opt = ResolveOptions(flags, *f);
      any_sr |= opt.rounding == Rounding::kStochastic;
      any_sr_eq |= opt.rounding == Rounding::kStochasticEq;
    }
  }
  if (s.seed_opt->count() > 0 && !any_sr && !any_sr_eq)
    throw UsageError("--seed applies to --round sr and sr-eq only (it would change nothing)");
  if (s.sr_bits_opt->count() > 0 && !any_sr) throw UsageError("--sr-bits applies to --round sr only (it would change nothing)");
  const std::vector<std::string> variants = VariantNames(s.variants);
  if (!s.exhaustive && variants.size() != 1) throw UsageError("--in/--out checks one kernel variant at a time");
  if (s.reference != "simd" && s.reference != "core")
    throw UsageError("unknown CPU reference " + Quoted(s.reference) + " (simd, core)");
  if (!s.exhaustive && (s.reference != "simd" || s.unaligned))
    throw UsageError("--reference and --unaligned apply to --exhaustive only");
  if (!ParseScales(s.scales).empty()) {
    if (!s.exhaustive) throw UsageError("--scale applies to --exhaustive only");
    for (const Format* f : fmts)
      if (!IsFloat(*f) || f->storage_bits > 16)
        throw UsageError(std::string("--scale: the per-tensor scaled cast takes float formats of at most 16 bits, not ") +
                         f->name);
  }
  if (!s.exhaustive) {
    CheckReadable(s.in_path);
    CheckReadable(s.out_path);
  }
  if (!s.json_path.empty()) {
    try {
      npy::CheckOutputPath(s.json_path);
    } catch (const npy::NpyError& e) {
      throw UsageError(std::string("--json: ") + e.what());
    }
  }
}

#if defined(FLOATSCOPE_HAVE_CUDA)

std::vector<gpu::Variant> ParseVariants(const std::string& arg, const Format& f) {
  std::vector<gpu::Variant> out;
  if (arg == "all") {
    if (gpu::VariantSupports(gpu::Variant::kFast, f)) out.push_back(gpu::Variant::kFast);
    out.push_back(gpu::Variant::kCore);
    return out;
  }
  for (const std::string& s : SplitCommas(arg)) {
    if (s == "fast") out.push_back(gpu::Variant::kFast);
    else if (s == "core") out.push_back(gpu::Variant::kCore);
    else if (s == "auto") out.push_back(gpu::Variant::kAuto);
    else throw UsageError("unknown kernel variant " + Quoted(s) + " (fast, core, auto, all)");
  }
  return out;
}

std::string UtcNow() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

int RunExhaustive(const Session& s) {
  const std::vector<const Format*> fmts = ParseFormats(s.formats);
  const std::vector<std::string> modes = ParseModes(s.rounds);
  const std::string device = gpu::DeviceDescription();
  std::cout << "device: " << device << "\n";
  nlohmann::json report = {{"tool", "floatscope gpu-verify --exhaustive"}, {"device", device},
                           {"started", UtcNow()}, {"results", nlohmann::json::array()}};
  int passed = 0, failed = 0;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<float> scales = ParseScales(s.scales);
  if (scales.empty()) scales.push_back(0.0f);  // the conversion itself
  const size_t total = fmts.size() * modes.size() * scales.size();
  size_t done = 0;
  for (const Format* f : fmts) {
    for (const std::string& mode : modes)
    for (const float scale : scales) {
      RoundingFlags flags = s.flags;
      flags.round = mode;
      const Options opt = ResolveOptions(flags, *f);
      const std::vector<gpu::Variant> variants = ParseVariants(s.variants, *f);
      const gpu::CpuReference reference = s.reference == "core" ? gpu::CpuReference::kCore : gpu::CpuReference::kArrays;
      const gpu::ExhaustiveOutcome out =
          gpu::VerifyExhaustive(*f, opt, variants, s.threads, s.max_report, reference, s.unaligned, {}, scale);
      ++done;
      const std::string what = scale > 0 ? fmt::format(" scaled cast, scale {} ({:a})", scale, scale) : "";
      std::string line = fmt::format("{} {}{}: 2^32 inputs, CPU digests ({}) {:.1f} s", f->name, mode, what,
                                     scale > 0 ? "core" : gpu::CpuReferenceName(reference), out.cpu_seconds);
      nlohmann::json vj = nlohmann::json::array();
      // "fast@3": the unaligned layout (chunks split at element 3); "fast+1":
      // the shifted one (pointers one element off, indices not).
      auto name = [](const gpu::VariantOutcome& v) {
        if (v.split == gpu::kShiftedLayout) return fmt::format("{}+1", gpu::VariantName(v.variant));
        return v.split ? fmt::format("{}@{}", gpu::VariantName(v.variant), v.split) : std::string(gpu::VariantName(v.variant));
      };
      for (const gpu::VariantOutcome& v : out.variants) {
        line += fmt::format("; {} kernels {:.2f} s GPU: {}", name(v), v.gpu_seconds,
                            v.ok() ? "equal" : fmt::format("blocks differing {} (codes) {} (fake-quant), "
                                                           "mismatches {} / {}, decode mismatches {}",
                                                           v.code_blocks_differing, v.fake_quant_blocks_differing,
                                                           v.code_mismatches, v.fake_quant_mismatches,
                                                           v.decode_mismatches));
        vj.push_back({{"variant", gpu::VariantName(v.variant)}, {"split", v.split}, {"gpu_seconds", v.gpu_seconds}, {"ok", v.ok()},
                      {"code_blocks_differing", v.code_blocks_differing},
                      {"fake_quant_blocks_differing", v.fake_quant_blocks_differing},
                      {"code_mismatches", v.code_mismatches}, {"fake_quant_mismatches", v.fake_quant_mismatches},
                      {"decode_mismatches", v.decode_mismatches}, {"first", v.first}});
      }
      std::cout << line << "\n";
      for (const gpu::VariantOutcome& v : out.variants)
        for (const std::string& m : v.first) std::cout << "  [" << name(v) << "] " << m << "\n";
      std::cout.flush();
      (out.ok() ? passed : failed)++;
      const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::cerr << fmt::format("[{}/{}] elapsed {:.0f} s, ETA {:.0f} s\n", done, total, el,
                               el / static_cast<double>(done) * static_cast<double>(total - done));
      report["results"].push_back({{"format", f->name}, {"round", mode}, {"overflow", OverflowNameOf(opt.overflow)},
                                   {"flush_input", opt.flush_input}, {"flush_output", opt.flush_output},
                                   {"seed", opt.seed}, {"sr_bits", opt.sr_bits},
                                   {"reference", scale > 0 ? std::string("core") : s.reference},
                                   {"scaled_cast_scale", scale > 0 ? nlohmann::json(scale) : nlohmann::json(nullptr)},
                                   {"cpu_seconds", out.cpu_seconds}, {"ok", out.ok()}, {"variants", vj}});
      report["passed"] = passed;
      report["failed"] = failed;
      if (!s.json_path.empty()) {
        npy::OutputFiles json;  // the same rules as every output file (emulate/npy.h)
        json.AddBytes(s.json_path, report.dump(2) + "\n");
        json.Commit();
      }
    }
  }
  std::cout << passed << " passed, " << failed << " failed\n";
  return failed ? 1 : 0;
}

int RunNpy(const Session& s) {
  const Format& f = FormatOf(s.formats);
  RoundingFlags flags = s.flags;
  flags.round = s.rounds;
  const Options opt = ResolveOptions(flags, f);
  const std::vector<gpu::Variant> variants = ParseVariants(s.variants == "all" ? "auto" : s.variants, f);
  if (variants.size() != 1) throw UsageError("--in/--out checks one kernel variant at a time");
  const gpu::Variant v = variants[0];
  const NpyExpected on_gpu = [&](const std::vector<float>& x, bool fake_quant, std::vector<uint32_t>* out) {
    const size_t n = x.size(), bytes = fake_quant ? 4 : CodeBytes(f);
    gpu::DeviceArray<float> d_in(n);
    gpu::DeviceArray<uint8_t> d_out(n * bytes);
    d_in.Upload(x.data(), n);
    if (fake_quant) gpu::FakeQuant(f, opt, d_in.get(), reinterpret_cast<float*>(d_out.get()), n, 0, v);
    else gpu::Encode(f, opt, d_in.get(), d_out.get(), n, 0, v);
    std::vector<uint8_t> raw(n * bytes);
    d_out.Download(raw.data(), raw.size());
    out->assign(n, 0);
    for (size_t i = 0; i < n; ++i) std::memcpy(&(*out)[i], raw.data() + i * bytes, bytes);
  };
  std::cout << "device: " << gpu::DeviceDescription() << ", " << gpu::VariantName(v) << " kernels\n";
  return RunNpyVerify(f, s.in_path, s.out_path, s.max_report, on_gpu, std::cout) ? 1 : 0;
}

#endif

int Run(const Session& s) {
  Validate(s);
#if defined(FLOATSCOPE_HAVE_CUDA)
  std::string why;
  if (!gpu::DeviceAvailable(&why)) throw UsageError("gpu-verify: no CUDA device (" + why + ")");
  try {
    return s.exhaustive ? RunExhaustive(s) : RunNpy(s);
  } catch (const gpu::GpuError& e) {
    throw UsageError(std::string("gpu-verify: ") + e.what());
  } catch (const npy::NpyError& e) {
    throw UsageError(std::string("gpu-verify: ") + e.what());
  }
#else
  throw UsageError("gpu-verify: this floatscope was built without CUDA (configure with nvcc on PATH; meson option -Dcuda=enabled)");
#endif
}

}  // namespace

void RegisterGpuVerifyCommand(CLI::App& app) {
  auto s = std::make_shared<Session>();
  CLI::App* cmd = app.add_subcommand(
      "gpu-verify",
      "Check the CUDA kernels against the CPU emulator: --exhaustive (all 2^32 float32 inputs per format and mode) "
      "or --in X.npy --out Y.npy (a kernel's float32 inputs and its codes or fake-quantized outputs)");
  cmd->add_flag("--exhaustive", s->exhaustive, "all 2^32 float32 inputs, compared through per-block digests");
  cmd->add_option("--format,-f", s->formats,
                  "format(s): names or specs, comma-separated, or 'all' (the named formats of at most 16 bits)")
      ->default_str("all");
  cmd->add_option("--round,-r", s->rounds,
                  "rounding mode(s), comma-separated, or 'deterministic' or 'all' [default: rne]");
  cmd->add_option("--overflow", s->flags.overflow, "overflow policy: ieee saturate nan wrap [default: the format's]");
  cmd->add_option("--subnormals", s->flags.subnormals, "keep | flush | flush-input | flush-output");
  s->seed_opt = cmd->add_option("--seed", s->flags.seed, "stochastic rounding seed (sr, sr-eq)")->check(SeedCheck());
  s->sr_bits_opt = cmd->add_option("--sr-bits", s->flags.sr_bits, "random bits compared by sr, 1..32")->check(SrBitsCheck());
  cmd->add_option("--compat", s->flags.compat, "peer preset: none | ml_dtypes | cuda | cuda-satfinite");
  cmd->add_option("--kernels", s->variants, "kernel variants: fast, core, auto, or all [default: all]");
  cmd->add_option("--reference", s->reference,
                  "CPU digests from: simd (emulate/array_ops, fast) or core (the scalar core element by element) "
                  "[default: simd]");
  cmd->add_flag("--unaligned", s->unaligned,
                "also run every kernel in two more layouts: each chunk split at element 3 (its second part 12 bytes off "
                "the 16-byte alignment at an index 3 mod 4: the kernels peel one element, then their float4 loops) and "
                "each chunk one element off the alignment at an index 0 mod 4 (stochastic rounding: the scalar group "
                "loops on every input)");
  cmd->add_option("--scale", s->scales,
                  "verify the per-tensor scaled cast (emulate/quant/fp8_scaling.h: cast(x * scale) with one rounding, "
                  "value * (1 / scale)) with each of these scales (comma-separated, float32 > 0) instead of the "
                  "conversion; float formats of at most 16 bits");
  cmd->add_option("--threads", s->threads, "CPU threads for the digests (0: all), at most 1024")
      ->check(UnsignedIn(0, 1024));
  cmd->add_option("--max-report", s->max_report, "mismatches printed per check, 0..2^30")->check(IntegerIn(0, 1 << 30));
  cmd->add_option("--json", s->json_path, "write the exhaustive results here (rewritten after each check)");
  cmd->add_option("--in", s->in_path, "float32 .npy: the inputs the kernel under test was given");
  cmd->add_option("--out", s->out_path, "its outputs: codes (uint8/uint16 .npy) or fake-quantized float32 .npy");
  cmd->callback([s] {
    const int rc = Run(*s);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace floatscope::cli
