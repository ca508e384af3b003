// format_compare: the flagship comparison. How much of a tensor survives
// when it is stored in each low-precision format, raw or scaled?
//
// Five data sets of n float64 values each, drawn deterministically from the
// seed (no downloads), all laid out as a [n / 256, 256] matrix (channels
// along the last axis, where MX and NVFP4 blocks run):
//
//   normal       N(0, 1)
//   weights      Student-t with 4 degrees of freedom, times 0.02 (heavy
//                tails, as trained weights have)
//   activations  ReLU(N(0, 1)), channels 37, 101 and 165 times 100 (the
//                outlier channels of transformer activations); half the
//                inputs are exact zeros
//   log-uniform  +-2^U(-30, 30): every binade alike, far beyond the range of
//                the narrow formats (overflow and underflow)
//   gradients    N(0, 1) * 1e-6 (small gradients, no loss scaling)
//
// Each data set goes through every variant (--formats picks some):
//
//   raw casts (no scale; each format's default overflow policy, as a plain
//     cast in ml_dtypes/PyTorch does): f32 tf32 f16 bf16 e4m3fn e5m2 e2m3fn
//     e3m2fn e2m1fn. Through emulate/array_ops.h: the float64 values are
//     first rounded to float32 with round-to-odd (the core, EncodeF64Array),
//     then fake-quantized by the SIMD kernels (FakeQuantF32Array, nearest
//     even). Round-to-odd into float32 keeps 24 bits, at least 2 more than
//     any of these formats (tf32/f16: 11), so the second rounding gives
//     exactly the correctly rounded float64 -> format cast (Boldo and
//     Melquiond, "When double rounding is odd", 2005); f32 itself is cast
//     from float64 directly. The program checks that claim on the first
//     65536 elements of every (data set, format) against direct float64
//     casts by the core and stops if a single bit differs.
//   per-tensor scaled (emulate/quant, FP8 current scaling: scale =
//     fmt_max / amax, saturating casts): e4m3fn/tensor e5m2/tensor
//     e2m1fn/tensor
//   int8/tensor: symmetric INT8, max calibration (scale = amax / 127)
//   OCP MX (emulate/quant, E8M0 scale per block of 32): mxfp8-e4m3
//     mxfp8-e5m2 mxfp6-e2m3 mxfp6-e3m2 mxfp4 mxint8
//   nvfp4: E2M1 blocks of 16, E4M3 block scales and an fp32 tensor scale
//
// Measured per (data set, variant) against the float64 inputs by analysis/
// (ErrorStats, RelErrorHistogram), over the nonzero inputs (a zero input
// stays zero in every variant; how many there are is reported): the median and max relative error |y - x| / |x| and the
// max absolute error over the finite outputs, the RMSE and SQNR (10 log10
// sum x^2 / sum (y - x)^2) over the finite outputs, and the fractions
// overflowed (the cast raised overflow: saturated, or became inf/NaN),
// flushed to zero (x != 0, y = 0), stored as a subnormal of the element
// format, NaN, inf, and exact. The histogram of log2 |relative error|
// counts each nonzero input in one bucket: "exact" (y = x), bin b for
// -29 <= b <= -1 holding relative errors in [2^b, 2^(b+1)), bin -30 every
// smaller nonzero error, bin 0 every error >= 1 with a finite nonzero y,
// and "lost" (y is zero, inf or NaN).
//
// Deterministic whatever --threads: every element is drawn from a hash of
// (seed, data set, index); casts are elementwise; sums are formed per fixed
// chunk of 65536 elements and added in chunk order. Writes
// format_compare.csv (one row per data set and variant),
// format_compare_hist.csv (one row per histogram bucket) and
// format_compare.json (everything) into --out, each through a temporary
// file and a rename; experiments/plot_format_compare.py draws them.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "analysis/error_stats.h"
#include "analysis/histogram.h"
#include "emulate/array_ops.h"
#include "emulate/quant/mx.h"
#include "emulate/quant/quantize.h"
#include "formats/catalog.h"
#include "formats/convert.h"
#include "experiments/keyed_random.h"
#include "experiments/output_util.h"

namespace {

using namespace floatscope;

constexpr size_t kChannels = 256;
constexpr size_t kChunk = size_t{1} << 16;
constexpr size_t kCheckElements = size_t{1} << 16;
constexpr int kBinLo = -30, kBinHi = 0;
constexpr size_t kOutlierChannels[] = {37, 101, 165};
constexpr double kOutlierGain = 100.0;

using experiments::Mix;
using experiments::Normal;
using experiments::Uniform;

struct DataSet {
  const char* name;
  const char* description;
};

constexpr DataSet kDataSets[] = {
    {"normal", "N(0, 1)"},
    {"weights", "Student-t (4 degrees of freedom) x 0.02"},
    {"activations", "ReLU(N(0, 1)), channels 37, 101, 165 (of 256) x 100"},
    {"log-uniform", "+-2^U(-30, 30)"},
    {"gradients", "N(0, 1) x 1e-6"},
};

// Element i of data set d.
double Draw(uint64_t seed, size_t d, size_t i) {
  const uint64_t key = Mix(Mix(seed ^ Mix(d + 1)) ^ Mix(i));
  auto stream = [key](uint64_t s) { return Mix(key ^ Mix(s * 0xD1B54A32D192ED03ull)); };
  switch (d) {
    case 0: return Normal(stream(0));
    case 1: {
      double chi2 = 0;
      for (uint64_t s = 1; s <= 4; ++s) {
        const double z = Normal(stream(s));
        chi2 += z * z;
      }
      return 0.02 * Normal(stream(0)) / std::sqrt(chi2 / 4.0);
    }
    case 2: {
      const double z = std::max(0.0, Normal(stream(0)));
      const size_t c = i % kChannels;
      const bool outlier = std::find(std::begin(kOutlierChannels), std::end(kOutlierChannels), c) !=
                           std::end(kOutlierChannels);
      return outlier ? z * kOutlierGain : z;
    }
    case 3: {
      const double e = -30.0 + 60.0 * Uniform(stream(0));
      const double m = std::exp2(e);
      return (Mix(stream(1)) & 1) ? -m : m;
    }
    default: return 1e-6 * Normal(stream(0));
  }
}

enum class VariantKind { kRaw, kTensor, kMx, kNvfp4 };
const char* KindName(VariantKind k) {
  switch (k) {
    case VariantKind::kRaw: return "raw";
    case VariantKind::kTensor: return "tensor";
    case VariantKind::kMx: return "mx";
    case VariantKind::kNvfp4: return "nvfp4";
  }
  return "?";
}

quant::Scheme QuantScheme(VariantKind k) {
  return k == VariantKind::kTensor ? quant::Scheme::kTensor
         : k == VariantKind::kMx   ? quant::Scheme::kMx
                                   : quant::Scheme::kNvfp4;
}

struct Variant {
  std::string name;
  VariantKind kind;
  const Format* format;  // element format
  double bits;           // storage bits per element, block scales included
};

std::vector<Variant> AllVariants() {
  std::vector<Variant> v;
  for (const Format* f : {&formats::kF32, &formats::kTf32, &formats::kF16, &formats::kBf16, &formats::kE4m3fn,
                          &formats::kE5m2, &formats::kE2m3fn, &formats::kE3m2fn, &formats::kE2m1fn})
    v.push_back({f->name, VariantKind::kRaw, f, static_cast<double>(f->bits)});
  for (const Format* f : {&formats::kE4m3fn, &formats::kE5m2, &formats::kE2m1fn, &formats::kInt8})
    v.push_back({std::string(f->name) + "/tensor", VariantKind::kTensor, f, static_cast<double>(f->bits)});
  const double mx_scale = 8.0 / static_cast<double>(quant::kMxBlock);
  v.push_back({"mxfp8-e4m3", VariantKind::kMx, &formats::kE4m3fn, 8 + mx_scale});
  v.push_back({"mxfp8-e5m2", VariantKind::kMx, &formats::kE5m2, 8 + mx_scale});
  v.push_back({"mxfp6-e2m3", VariantKind::kMx, &formats::kE2m3fn, 6 + mx_scale});
  v.push_back({"mxfp6-e3m2", VariantKind::kMx, &formats::kE3m2fn, 6 + mx_scale});
  v.push_back({"mxfp4", VariantKind::kMx, &formats::kE2m1fn, 4 + mx_scale});
  v.push_back({"mxint8", VariantKind::kMx, &formats::kInt8, 8 + mx_scale});
  v.push_back({"nvfp4", VariantKind::kNvfp4, &formats::kE2m1fn, 4 + 8.0 / 16.0});
  return v;
}

// Runs fn(i) for i in [0, count) on `threads` threads; fn writes only what
// belongs to i.
template <class Fn>
void ParallelFor(size_t count, unsigned threads, Fn&& fn) {
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < count;) fn(i);
  };
  std::vector<std::thread> pool;
  const unsigned t = static_cast<unsigned>(std::min<size_t>(threads, count));
  for (unsigned k = 1; k < t; ++k) pool.emplace_back(worker);
  worker();
  for (std::thread& th : pool) th.join();
}

// The round-to-odd float32 intermediate is exact for `f` (see the top):
// the SIMD kernels take f, and float32 keeps 2 more bits than f at every
// magnitude f can hold (normal: 23 >= m + 2; subnormal: f's smallest step
// is at least 2^-147).
bool OddIntermediateExact(const Format& f) {
  return IsFloat(f) && SimdSupports(f) && f.mantissa_bits <= 21 &&
         MinNormalExponent(f) - static_cast<int>(f.mantissa_bits) >= -147;
}

struct Cast {
  std::vector<float> y;            // dequantized values
  std::vector<uint16_t> codes;     // element codes (schemes only)
  uint64_t overflow = 0;           // casts that raised overflow
};

// Raw cast of x (float64) into f through the array kernels; x32_odd is x
// rounded to float32 with round-to-odd.
Cast RawCast(const Format& f, const std::vector<double>& x, const std::vector<float>& x32_odd, unsigned threads) {
  Cast c;
  const size_t n = x.size();
  c.y.resize(n);
  ArrayStats st;
  if (OddIntermediateExact(f)) {
    FakeQuantF32Array(f, Options{}, x32_odd.data(), c.y.data(), n, 0, &st, threads);
  } else {
    if (CodeBytes(f) != 4) throw std::logic_error(std::string("no raw path for ") + f.name);
    std::vector<uint32_t> codes(n);
    EncodeF64Array(f, Options{}, x.data(), codes.data(), n, 0, &st, threads);
    DecodeToF32Array(f, Options{}, codes.data(), c.y.data(), n, threads);
  }
  c.overflow = st.overflow;
  return c;
}

// Mismatches between RawCast's values and direct float64 casts by the core,
// on the first kCheckElements elements.
size_t CheckRawCast(const Format& f, const std::vector<double>& x, const std::vector<float>& y) {
  const size_t m = std::min(x.size(), kCheckElements);
  size_t bad = 0;
  for (size_t i = 0; i < m; ++i) {
    const float want = DecodeToF32(f, EncodeFromF64(f, x[i]).code);
    bad += std::bit_cast<uint32_t>(want) != std::bit_cast<uint32_t>(y[i]);
  }
  return bad;
}

Cast SchemeCast(const Variant& v, const std::vector<double>& x, unsigned threads) {
  quant::QuantConfig cfg;
  cfg.format = v.format;
  cfg.scheme = QuantScheme(v.kind);
  cfg.threads = threads;
  quant::QuantResult r = quant::Quantize(cfg, {x.size() / kChannels, kChannels}, x);
  Cast c;
  c.y = std::move(r.dequantized);
  c.codes.assign(r.codes.begin(), r.codes.end());
  c.overflow = r.stats.saturated;
  return c;
}

// One (data set, variant)'s measures: analysis::ErrorStats and
// RelErrorHistogram over the nonzero inputs (the only pairs fed to them),
// and what only this program counts.
struct Stats {
  uint64_t elements = 0;           // zero inputs included
  analysis::ErrorStats err;        // err.saturated: casts that raised overflow (Cast::overflow)
  analysis::RelErrorHistogram hist;
  uint64_t subnormal = 0;          // stored as a subnormal of the element format
  double median_rel = 0;

  Stats& operator+=(const Stats& o) {
    elements += o.elements;
    err += o.err;
    hist += o.hist;
    subnormal += o.subnormal;
    return *this;
  }
  uint64_t Nonzero() const { return err.elements; }
  // No signal and no error (every nonzero input became inf or NaN):
  // undefined.
  double SqnrDb() const { return err.sum_sq_err == 0 && err.sum_sq_ref == 0 ? NAN : err.SqnrDb(); }
  double Frac(uint64_t k) const { return Nonzero() ? static_cast<double>(k) / static_cast<double>(Nonzero()) : 0.0; }
};

bool IsSubnormalCode(const Format& f, uint64_t code) {
  return IsFloat(f) && ExponentFieldOf(f, code) == 0 && (code & MantissaMask(f)) != 0;
}

Stats Measure(const Variant& v, const std::vector<double>& x, const Cast& c, unsigned threads) {
  const size_t n = x.size(), chunks = (n + kChunk - 1) / kChunk;
  const Format& f = *v.format;
  const double min_normal = IsFloat(f) ? MinNormal(f) : 0.0;
  std::vector<Stats> part(chunks);
  std::vector<double> rel(n, -1.0);  // -1: not counted
  ParallelFor(chunks, threads, [&](size_t ch) {
    Stats& s = part[ch];
    for (size_t i = ch * kChunk, e = std::min(n, i + kChunk); i < e; ++i) {
      ++s.elements;
      const double xi = x[i], yi = c.y[i];
      if (xi == 0) continue;
      s.err.Add(xi, yi);
      s.hist.Add(xi, yi);
      s.subnormal += c.codes.empty() ? (IsFloat(f) && yi != 0 && std::fabs(yi) < min_normal)
                                     : IsSubnormalCode(f, c.codes[i]);
      if (std::isfinite(yi)) rel[i] = analysis::RelError(xi, yi);  // a flushed input: 1
    }
  });
  Stats total;
  for (const Stats& s : part) total += s;
  total.err.saturated = c.overflow;
  std::erase_if(rel, [](double r) { return r < 0; });
  total.median_rel = analysis::Median(rel);
  return total;
}

struct Row {
  size_t data;
  const Variant* variant;
  Stats stats;
};

using floatscope::experiments::Duration;
using floatscope::experiments::WriteAtomically;

std::string Num(double v) {  // CSV number; inf/nan spelled out
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:.6g}", v);
}

nlohmann::json JsonNum(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

std::string BucketName(int b) { return std::to_string(b); }

}  // namespace

int main(int argc, char** argv) {
  const std::vector<Variant> all = AllVariants();
  std::string known;
  for (const Variant& v : all) known += (known.empty() ? "" : " ") + v.name;
  const std::string names_help = "variants to run, comma separated (default: all): " + known;

  CLI::App app{"format_compare: how much of five built-in data sets survives each low-precision format, raw "
               "casts and scaled schemes side by side"};
  std::string out_dir = "format_compare_out";
  uint64_t seed = 1;
  size_t n = size_t{1} << 20;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::string> names;
  app.add_option("--out", out_dir, "output folder (created if missing)");
  app.add_option("--seed", seed, "seed of the data sets");
  app.add_option("--n", n, "elements per data set (a multiple of 256, at most 2^26)")
      ->check(CLI::Range(kChannels, size_t{1} << 26));
  app.add_option("--threads", threads, "worker threads (results do not depend on it)")->check(CLI::Range(1, 256));
  app.add_option("--formats", names, names_help)->delimiter(',');
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::fprintf(stderr, "format_compare: %s\n", e.what());
    return 2;
  }
  if (n % kChannels != 0) {
    std::fprintf(stderr, "format_compare: --n %zu is not a multiple of %zu\n", n, kChannels);
    return 2;
  }
  std::vector<const Variant*> variants;
  if (names.empty()) {
    for (const Variant& v : all) variants.push_back(&v);
  } else {
    for (const std::string& name : names) {
      const auto it = std::find_if(all.begin(), all.end(), [&](const Variant& v) { return v.name == name; });
      if (it == all.end()) {
        std::fprintf(stderr, "format_compare: --formats: unknown variant '%s' (known: %s)\n", name.c_str(),
                     known.c_str());
        return 2;
      }
      if (std::find(variants.begin(), variants.end(), &*it) == variants.end()) variants.push_back(&*it);
    }
  }
  for (const Variant* v : variants) {
    if (v->kind == VariantKind::kRaw) continue;
    quant::QuantConfig cfg;
    cfg.format = v->format;
    cfg.scheme = QuantScheme(v->kind);
    quant::CheckConfig(cfg);  // a programming error if it throws
  }

  const size_t sets = std::size(kDataSets);
  const double total = static_cast<double>(sets * variants.size());
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  double last_print = -1;
  size_t done = 0, checked = 0, mismatches = 0;

  std::vector<Row> rows;
  std::vector<double> amax(sets);
  std::vector<uint64_t> zeros(sets);
  try {
    for (size_t d = 0; d < sets; ++d) {
      std::vector<double> x(n);
      ParallelFor((n + kChunk - 1) / kChunk, threads, [&](size_t ch) {
        for (size_t i = ch * kChunk, e = std::min(n, i + kChunk); i < e; ++i) x[i] = Draw(seed, d, i);
      });
      for (const double v : x) {
        amax[d] = std::max(amax[d], std::fabs(v));
        zeros[d] += v == 0;
      }
      // float32 by round-to-odd: the exact intermediate of the raw casts.
      std::vector<float> x32_odd(n);
      {
        std::vector<uint32_t> bits(n);
        Options odd;
        odd.rounding = Rounding::kOdd;
        EncodeF64Array(formats::kF32, odd, x.data(), bits.data(), n, 0, nullptr, threads);
        for (size_t i = 0; i < n; ++i) x32_odd[i] = std::bit_cast<float>(bits[i]);
      }
      for (const Variant* v : variants) {
        Cast c;
        if (v->kind == VariantKind::kRaw) {
          c = RawCast(*v->format, x, x32_odd, threads);
          const size_t bad = CheckRawCast(*v->format, x, c.y);
          checked += std::min(n, kCheckElements);
          mismatches += bad;
          if (bad)
            throw std::runtime_error(fmt::format("the raw {} cast of {} differs from the core's float64 cast in {} "
                                                 "of the first {} elements",
                                                 v->name, kDataSets[d].name, bad, std::min(n, kCheckElements)));
        } else {
          c = SchemeCast(*v, x, threads);
        }
        rows.push_back({d, v, Measure(*v, x, c, threads)});
        ++done;
        const double t = elapsed();
        if (t - last_print >= 0.5 || done == total) {
          last_print = t;
          const double eta = t * (total - static_cast<double>(done)) / static_cast<double>(done);
          std::fprintf(stderr, "\r[format_compare] %5.1f%%  %-11s %-13s elapsed %s, ETA %s   ",
                       100.0 * static_cast<double>(done) / total, kDataSets[d].name, v->name.c_str(),
                       Duration(t).c_str(), Duration(eta).c_str());
          std::fflush(stderr);
        }
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\nformat_compare: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "\n");

  // Outputs.
  std::string csv =
      "data,variant,format,scheme,bits,elements,nonzero,median_rel_err,max_rel_err,max_abs_err,rmse,sqnr_db,"
      "overflow,flushed,subnormal,nan,inf,exact\n";
  std::string hist_csv = "data,variant,bucket,count,fraction\n";
  nlohmann::json rows_json = nlohmann::json::array();
  for (const Row& r : rows) {
    const Stats& s = r.stats;
    const Variant& v = *r.variant;
    const char* data = kDataSets[r.data].name;
    csv += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", data, v.name, v.format->name,
                       KindName(v.kind), Num(v.bits), s.elements, s.Nonzero(), Num(s.median_rel),
                       Num(s.err.max_rel_err), Num(s.err.max_abs_err), Num(s.err.Rmse()), Num(s.SqnrDb()),
                       Num(s.Frac(s.err.saturated)), Num(s.Frac(s.err.flushed)), Num(s.Frac(s.subnormal)),
                       Num(s.Frac(s.err.nan_outputs)), Num(s.Frac(s.err.inf_outputs)), Num(s.Frac(s.hist.exact)));
    auto bucket = [&](const std::string& name, uint64_t count) {
      hist_csv += fmt::format("{},{},{},{},{}\n", data, v.name, name, count, Num(s.Frac(count)));
    };
    const std::vector<uint64_t> bins = s.hist.errors.Clamped(kBinLo, kBinHi);
    bucket("exact", s.hist.exact);
    for (int b = kBinLo; b <= kBinHi; ++b) bucket(BucketName(b), bins[static_cast<size_t>(b - kBinLo)]);
    bucket("lost", s.hist.lost);
    rows_json.push_back({{"data", data},
                         {"variant", v.name},
                         {"format", v.format->name},
                         {"scheme", KindName(v.kind)},
                         {"bits", v.bits},
                         {"elements", s.elements},
                         {"nonzero", s.Nonzero()},
                         {"median_rel_err", JsonNum(s.median_rel)},
                         {"max_rel_err", JsonNum(s.err.max_rel_err)},
                         {"max_abs_err", JsonNum(s.err.max_abs_err)},
                         {"rmse", JsonNum(s.err.Rmse())},
                         {"sqnr_db", JsonNum(s.SqnrDb())},
                         {"overflow", s.Frac(s.err.saturated)},
                         {"flushed", s.Frac(s.err.flushed)},
                         {"subnormal", s.Frac(s.subnormal)},
                         {"nan", s.Frac(s.err.nan_outputs)},
                         {"inf", s.Frac(s.err.inf_outputs)},
                         {"exact", s.Frac(s.hist.exact)},
                         {"hist", {{"exact", s.hist.exact}, {"bins", bins}, {"lost", s.hist.lost}}}});
  }
  nlohmann::json sets_json = nlohmann::json::array();
  for (size_t d = 0; d < sets; ++d)
    sets_json.push_back({{"name", kDataSets[d].name},
                         {"description", kDataSets[d].description},
                         {"amax", amax[d]},
                         {"zero_inputs", zeros[d]}});
  const nlohmann::json doc = {
      {"experiment", "format_compare"},
      {"seed", seed},
      {"n", n},
      {"shape", {n / kChannels, kChannels}},
      {"threads", threads},
      {"datasets", sets_json},
      {"hist_bins", {{"lo", kBinLo}, {"hi", kBinHi},
                     {"meaning", "bin b: relative error in [2^b, 2^(b+1)); lo: everything smaller (nonzero); hi: "
                                 "everything >= 1 with a finite nonzero output; exact: y = x; lost: y is 0, inf or "
                                 "NaN. Counts of nonzero inputs."}}},
      {"fractions_of", "nonzero inputs"},
      {"raw_cast_check", {{"elements", checked}, {"mismatches", mismatches}}},
      {"seconds", elapsed()},
      {"rows", rows_json}};
  try {
    const std::filesystem::path dir(out_dir);
    std::filesystem::create_directories(dir);
    WriteAtomically(dir / "format_compare.csv", csv);
    WriteAtomically(dir / "format_compare_hist.csv", hist_csv);
    WriteAtomically(dir / "format_compare.json", doc.dump(1) + "\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "format_compare: %s\n", e.what());
    return 1;
  }

  // The summary: SQNR, then what was lost, per variant and data set.
  auto find = [&](size_t d, const Variant* v) -> const Stats& {
    for (const Row& r : rows)
      if (r.data == d && r.variant == v) return r.stats;
    throw std::logic_error("missing row");
  };
  fmt::print("format_compare: n = {} per data set, seed {}; errors against the float64 inputs\n\n", n, seed);
  auto header = [&](const char* title) {
    fmt::print("{:<14} {:>5}", title, "bits");
    for (const DataSet& ds : kDataSets) fmt::print(" {:>12}", ds.name);
    fmt::print("\n");
  };
  header("SQNR dB");
  for (const Variant* v : variants) {
    fmt::print("{:<14} {:>5.4g}", v->name, v->bits);
    for (size_t d = 0; d < sets; ++d) {
      const double q = find(d, v).SqnrDb();
      fmt::print(" {:>12}", std::isfinite(q) ? fmt::format("{:.1f}", q) : Num(q));
    }
    fmt::print("\n");
  }
  fmt::print("\n");
  header("median rel err");
  for (const Variant* v : variants) {
    fmt::print("{:<14} {:>5.4g}", v->name, v->bits);
    for (size_t d = 0; d < sets; ++d) fmt::print(" {:>12.2e}", find(d, v).median_rel);
    fmt::print("\n");
  }
  fmt::print("\n");
  header("flush%/ovfl%");
  for (const Variant* v : variants) {
    fmt::print("{:<14} {:>5.4g}", v->name, v->bits);
    for (size_t d = 0; d < sets; ++d) {
      const Stats& s = find(d, v);
      fmt::print(" {:>12}", fmt::format("{:.3g}/{:.3g}", 100 * s.Frac(s.err.flushed), 100 * s.Frac(s.err.saturated)));
    }
    fmt::print("\n");
  }
  fmt::print("\nflush%: nonzero inputs stored as 0; ovfl%: casts that overflowed (saturated, inf or NaN); "
             "activations are half zeros, not counted.\n");
  fmt::print("wrote {}/format_compare.csv, format_compare_hist.csv, format_compare.json ({})\n", out_dir,
             Duration(elapsed()));
  return 0;
}
