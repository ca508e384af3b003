// The quantization schemes against independent references written here:
// element casts by nearest-value search over the format's value table (built
// from the descriptor's MagnitudeValue, not the rounding core), integer
// rounding by libm, scales and blocks by plain loops over the formulas of
// docs/QUANTIZATION.md. MX is also checked rule by rule against OCP MX v1.0
// section 6.3.
#include <doctest/doctest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "emulate/quant/mx.h"
#include "emulate/quant/nvfp4.h"
#include "emulate/quant/quantize.h"
#include "formats/catalog.h"

using namespace floatscope;
using namespace floatscope::quant;
using floatscope::formats::kE2m1fn;
using floatscope::formats::kE4m3fn;

namespace {

// ---- reference element cast: nearest value, ties to the even code,
// saturating to +-max ------------------------------------------------------
struct Entry {
  double value;
  uint64_t code;
};

std::vector<Entry> ValueTable(const Format& f) {
  std::vector<Entry> t;
  for (uint64_t mag = 0; mag <= MagnitudeMask(f); ++mag) {
    if (IsNanCode(f, mag) || IsInfCode(f, mag)) continue;
    const double v = MagnitudeValue(f, mag);
    t.push_back({v, mag});
    if (f.is_signed && mag != 0) t.push_back({-v, SignBit(f) | mag});
  }
  std::sort(t.begin(), t.end(), [](const Entry& a, const Entry& b) { return a.value < b.value; });
  return t;
}

uint64_t RefCastRne(const std::vector<Entry>& table, const Format& f, double v) {
  if (std::isnan(v)) return ~uint64_t{0};
  if (v <= table.front().value) return table.front().code;
  if (v >= table.back().value) return table.back().code;
  size_t hi = 0;
  while (table[hi].value < v) ++hi;
  if (table[hi].value == v) return v == 0 && std::signbit(v) && HasNegativeZero(f) ? SignBit(f) : table[hi].code;
  const Entry& a = table[hi - 1];
  const Entry& b = table[hi];
  const double da = v - a.value, db = b.value - v;
  const Entry& pick = da < db ? a : db < da ? b : ((a.code & 1) == 0 ? a : b);
  if (pick.value == 0 && v < 0 && HasNegativeZero(f)) return SignBit(f);
  return pick.code;
}

double RefValue(const Format& f, uint64_t code) {
  const double m = MagnitudeValue(f, code & MagnitudeMask(f));
  return (code & SignBit(f)) ? -m : m;
}

// floor(log2(a)) for a > 0 by doubling/halving.
int RefFloorLog2(double a) {
  int e = 0;
  double p = 1.0;
  while (p * 2 <= a) {
    p *= 2;
    ++e;
  }
  while (p > a) {
    p /= 2;
    --e;
  }
  return e;
}

std::vector<double> RandomValues(size_t n, uint32_t seed, double spread = 1.0) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> expo(-spread, spread);
  std::vector<double> v(n);
  for (auto& x : v) x = static_cast<double>(static_cast<float>(normal(gen) * std::exp2(expo(gen) * 8)));
  return v;
}

QuantConfig Config(const Format& f, Scheme s, long axis = -1) {
  QuantConfig c;
  c.format = &f;
  c.scheme = s;
  c.axis = axis;
  return c;
}

}  // namespace

// ---- MX ---------------------------------------------------------------------

TEST_CASE("mx: every element type against the reference, blocks along a non-contiguous axis with a short tail") {
  const std::vector<size_t> shape = {70, 3};  // axis 0: blocks of 32, 32, 6 in each of 3 columns
  std::vector<double> x = RandomValues(70 * 3, 7, 1.5);
  x[3 * 5 + 1] = 0.0;
  for (const MxType& t : kMxTypes) {
    CAPTURE(t.name);
    const Format& f = *t.elem;
    const auto table = ValueTable(f);
    QuantConfig c = Config(f, Scheme::kMx, 0);
    const QuantResult r = Quantize(c, shape, x);
    REQUIRE(r.scale_shape == std::vector<size_t>{3, 3});
    for (size_t g = 0; g < 3; ++g) {
      for (size_t col = 0; col < 3; ++col) {
        const size_t k0 = g * 32, k1 = std::min<size_t>(70, k0 + 32);
        double amax = 0;
        for (size_t k = k0; k < k1; ++k) amax = std::max(amax, std::fabs(x[k * 3 + col]));
        const int shared = std::max(RefFloorLog2(amax) - t.emax_elem, -127);
        CHECK(r.scale_codes[g * 3 + col] == shared + 127);
        for (size_t k = k0; k < k1; ++k) {
          const size_t e = k * 3 + col;
          const double v = std::ldexp(x[e], -shared);
          uint64_t want = 0;
          double want_value = 0;
          if (t.implied_shift) {  // MXINT8: integer steps of 2^-6, +-127
            const double q = std::clamp(std::nearbyint(v * 64), -127.0, 127.0);
            want = static_cast<uint64_t>(static_cast<int64_t>(q)) & 0xFF;
            want_value = std::ldexp(q, shared - 6);
          } else {
            want = RefCastRne(table, f, v);
            want_value = std::ldexp(RefValue(f, want), shared);
          }
          CAPTURE(x[e]);
          CHECK(r.codes[e] == want);
          CHECK(r.dequantized[e] == static_cast<float>(want_value));
        }
      }
    }
  }
}

TEST_CASE("mx: the spec's edge rules (OCP MX v1.0 section 6.3)") {
  const MxType& fp4 = *FindMxType("e2m1fn");
  const MxType& fp8 = *FindMxType("e4m3fn");
  QuantConfig c = Config(kE4m3fn, Scheme::kMx);

  SUBCASE("an all-zero block: smallest scale, zero elements") {
    std::vector<double> x(64, 0.0);
    x[40] = 3.0;
    const QuantResult r = Quantize(c, {64}, x);
    CHECK(r.scale_codes[0] == 0x00);
    for (size_t i = 0; i < 32; ++i) CHECK((r.codes[i] == 0 && r.dequantized[i] == 0.0f));
    CHECK(r.scale_codes[1] == 1 + 127 - 8);
  }
  SUBCASE("a NaN or an infinity makes the block's scale NaN; other blocks are untouched") {
    for (const double special : {NAN, INFINITY, -INFINITY}) {
      std::vector<double> x(64, 1.0);
      x[5] = special;
      const QuantResult r = Quantize(c, {64}, x);
      CHECK(r.scale_codes[0] == 0xFF);
      for (size_t i = 0; i < 32; ++i) CHECK(std::isnan(r.dequantized[i]));
      CHECK(r.scale_codes[1] == 127 - 8);
      for (size_t i = 32; i < 64; ++i) CHECK(r.dequantized[i] == 1.0f);
      CHECK(r.stats.nan_outputs == 32);
    }
  }
  SUBCASE("amax exactly a power of two maps to 2^emax_elem exactly") {
    for (int k : {-20, -1, 0, 3, 30}) {
      std::vector<double> x(32, 0.0);
      x[0] = std::ldexp(1.0, k);
      x[1] = -std::ldexp(1.0, k - 1);
      const QuantResult r = Quantize(c, {32}, x);
      CHECK(static_cast<int>(r.scale_codes[0]) == k - 8 + 127);
      CHECK(r.codes[0] == 0x78);  // 0 1111 000 = 2^8 = 256
      CHECK(r.codes[1] == 0xF0);  // 1 1110 000 = -2^7
      CHECK(r.dequantized[0] == static_cast<float>(x[0]));
      CHECK(r.dequantized[1] == static_cast<float>(x[1]));
    }
    // Just below a power of two the exponent is one lower and the element
    // saturates at max normal rather than overflowing.
    const MxScale s = MxSharedScale(fp4, std::nextafter(8.0, 0.0), false);
    CHECK(s.shared_exp == 0);
    Options sat;
    sat.overflow = Overflow::kSaturate;
    CHECK(MxEncodeElement(fp4, sat, std::nextafter(8.0, 0.0), s, 0).code == 0x7);  // 6
  }
  SUBCASE("scales at the E8M0 limits") {
    // Lower limit: shared_exp -130-8 is clamped to -127; elements keep their
    // value relative to 2^-127 and round as the element type dictates.
    std::vector<double> x(32, 0.0);
    x[0] = std::ldexp(1.0, -130);
    x[1] = std::ldexp(1.0, -137);  // 2^-10 relative: below e4m3fn's 2^-9 min, ties to 0
    x[2] = std::ldexp(3.0, -137);  // 1.5 * 2^-9 relative: ties to 2^-8 (even code 2)
    const QuantResult r = Quantize(c, {32}, x);
    CHECK(r.scale_codes[0] == 0x00);
    CHECK(r.codes[0] == 0x20);  // 0 0100 000 = 2^-3
    CHECK(r.dequantized[0] == std::ldexp(1.0f, -130));
    CHECK(r.codes[1] == 0x00);
    CHECK(r.codes[2] == 0x02);
    CHECK(r.stats.flushed == 1);
    // Upper limit: shared_exp 127 is the largest scale (code 0xFE); 128 is NaN.
    CHECK(MxSharedScale(fp4, std::ldexp(1.0, 129), false).code == 0xFE);
    CHECK(MxSharedScale(fp4, std::ldexp(1.9, 129), false).code == 0xFE);
    CHECK(MxSharedScale(fp4, std::ldexp(1.0, 130), false).code == 0xFF);
    CHECK(MxSharedScale(fp8, std::ldexp(1.0, 135), false).code == 0xFE);
    CHECK(MxSharedScale(fp8, std::ldexp(1.0, 136), false).code == 0xFF);
    // float32 inputs never reach the upper limit.
    CHECK(MxSharedScale(fp4, FLT_MAX, false).code == 127 + 127 - 2);
  }
  SUBCASE("MXINT8 never produces -128") {
    std::vector<double> x(32, 0.25);
    x[0] = 1.999;  // X = 1, -1.999 * 64 = -127.94 would round to -128
    x[1] = -1.999;
    QuantConfig ci = Config(formats::kInt8, Scheme::kMx);
    const QuantResult r = Quantize(ci, {32}, x);
    CHECK(r.codes[0] == 127);
    CHECK(r.codes[1] == 0x81);
    CHECK(r.dequantized[1] == -127.0f / 64);
    CHECK(r.stats.saturated == 2);
  }
}

// ---- NVFP4 ------------------------------------------------------------------

TEST_CASE("nvfp4: TransformerEngine's recipe against a direct float32 rewrite") {
  const auto e2m1 = ValueTable(kE2m1fn);
  const auto e4m3 = ValueTable(kE4m3fn);
  for (const long axis : {-1L, 0L}) {
    CAPTURE(axis);
    const std::vector<size_t> shape = {5, 40};
    std::vector<double> x = RandomValues(200, 11, 1.0);
    for (size_t i = 0; i < 16; ++i) x[i] = 0.0;  // an all-zero block on axis -1
    const QuantResult r = Quantize(Config(kE2m1fn, Scheme::kNvfp4, axis), shape, x);
    float amax = 0;
    for (const double v : x) amax = std::max(amax, std::fabs(static_cast<float>(v)));
    const float s_enc = std::min(2688.0f / amax, FLT_MAX);
    const float s_dec = 1.0f / s_enc;
    REQUIRE(r.global_decode_scale.has_value());
    CHECK(*r.global_decode_scale == s_dec);
    // Blocks: along axis 1: 16, 16, 8 per row; along axis 0: 5 per column.
    std::vector<std::vector<size_t>> blocks;
    if (axis == -1) {
      for (size_t row = 0; row < 5; ++row)
        for (size_t b = 0; b < 40; b += 16) {
          blocks.emplace_back();
          for (size_t k = b; k < std::min<size_t>(40, b + 16); ++k) blocks.back().push_back(row * 40 + k);
        }
    } else {
      for (size_t col = 0; col < 40; ++col) {
        blocks.emplace_back();
        for (size_t row = 0; row < 5; ++row) blocks.back().push_back(row * 40 + col);
      }
    }
    REQUIRE(r.scale_codes.size() == blocks.size());
    for (size_t b = 0; b < blocks.size(); ++b) {
      float bmax = 0;
      for (const size_t e : blocks[b]) bmax = std::max(bmax, std::fabs(static_cast<float>(x[e])));
      const float s_b = bmax / 6.0f * s_enc;
      const uint64_t s_code = RefCastRne(e4m3, kE4m3fn, s_b);
      CHECK(r.scale_codes[b] == s_code);
      const float s_val = static_cast<float>(RefValue(kE4m3fn, s_code));
      const float k = std::min(1.0f / (s_val * s_dec), FLT_MAX);
      for (const size_t e : blocks[b]) {
        const uint64_t q = RefCastRne(e2m1, kE2m1fn, static_cast<float>(x[e]) * k);
        CHECK(r.codes[e] == q);
        CHECK(r.dequantized[e] == static_cast<float>(RefValue(kE2m1fn, q)) * (s_val * s_dec));
      }
    }
  }
  // An all-zero tensor: global scale 1, zero codes.
  const QuantResult z = Quantize(Config(kE2m1fn, Scheme::kNvfp4), {16}, std::vector<double>(16, 0.0));
  CHECK(*z.global_decode_scale == 1.0f);
  CHECK(z.scale_codes[0] == 0);
}

// ---- FP8 per-tensor scaling -----------------------------------------------

TEST_CASE("fp8 current scaling: scale = max/amax (margin, power of two), saturating cast") {
  const std::vector<double> x = RandomValues(500, 3, 0.5);
  double amax = 0;
  for (const double v : x) amax = std::max(amax, std::fabs(v));
  for (const Format* f : {&kE4m3fn, &formats::kE5m2}) {
    const auto table = ValueTable(*f);
    for (const int margin : {0, 2}) {
      for (const bool pow2 : {false, true}) {
        CAPTURE(f->name);
        CAPTURE(margin);
        CAPTURE(pow2);
        QuantConfig c = Config(*f, Scheme::kTensor);
        c.fp8.margin = margin;
        c.fp8.pow2 = pow2;
        const QuantResult r = Quantize(c, {500}, x);
        float s = static_cast<float>(MaxFinite(*f)) / static_cast<float>(amax);
        s = s / static_cast<float>(1 << margin);
        if (pow2) s = std::exp2(std::floor(std::log2(s)));
        const float inv = 1.0f / s;
        REQUIRE(r.scales.size() == 1);
        CHECK(r.scales[0] == inv);
        for (size_t i = 0; i < x.size(); ++i) {
          const uint64_t q = RefCastRne(table, *f, x[i] * static_cast<double>(s));
          CHECK(r.codes[i] == q);
          CHECK(r.dequantized[i] == static_cast<float>(RefValue(*f, q)) * inv);
        }
      }
    }
  }
  // All zeros: the scale stays 1.
  const QuantResult z = Quantize(Config(kE4m3fn, Scheme::kTensor), {4}, std::vector<double>(4, 0.0));
  CHECK(z.scales[0] == 1.0f);
}

TEST_CASE("fp8 delayed scaling: each step uses the scale from the history of the steps before it") {
  // 6 steps of 8 elements; step amaxes 2, 8, 0, 1, 0.5, 4.
  const std::vector<double> amaxes = {2, 8, 0, 1, 0.5, 4};
  std::vector<double> x(48, 0.0);
  for (size_t t = 0; t < 6; ++t) {
    x[t * 8] = amaxes[t];
    x[t * 8 + 3] = -amaxes[t] / 3;
  }
  for (const AmaxReduce reduce : {AmaxReduce::kMax, AmaxReduce::kMostRecent}) {
    QuantConfig c = Config(kE4m3fn, Scheme::kDelayed);
    c.history = 3;
    c.reduce = reduce;
    const QuantResult r = Quantize(c, {6, 8}, x);
    // Reference: explicit history array, newest at [0].
    std::vector<double> hist(3, 0.0);
    float scale = 1.0f;
    for (size_t t = 0; t < 6; ++t) {
      CAPTURE(t);
      CHECK(r.scales[t] == 1.0f / scale);
      CHECK(r.dequantized[t * 8] ==
            static_cast<float>(RefValue(kE4m3fn, RefCastRne(ValueTable(kE4m3fn), kE4m3fn, amaxes[t] * scale))) *
                (1.0f / scale));
      hist = {amaxes[t], hist[0], hist[1]};
      const double a = reduce == AmaxReduce::kMax ? std::max({hist[0], hist[1], hist[2]}) : hist[0];
      if (a > 0) scale = 448.0f / static_cast<float>(a);
    }
  }
}

// ---- integers ---------------------------------------------------------------

namespace {

struct RefInt {
  double scale;
  double zp;
};

RefInt RefIntParams(const Format& f, bool symmetric, double lo, double hi) {
  const double qmin = f.is_signed ? -std::ldexp(1.0, f.bits - 1) : 0;
  const double qmax = f.is_signed ? std::ldexp(1.0, f.bits - 1) - 1 : std::ldexp(1.0, f.bits) - 1;
  if (symmetric) {
    const double h = std::ldexp(1.0, f.bits - 1) - 1;
    float s = static_cast<float>(std::max(std::fabs(lo), std::fabs(hi)) / h);
    if (s == 0) s = 1;
    return {s, f.is_signed ? 0.0 : std::ldexp(1.0, f.bits - 1)};
  }
  lo = std::min(lo, 0.0);
  hi = std::max(hi, 0.0);
  float s = static_cast<float>((hi - lo) / (qmax - qmin));
  if (s == 0) s = 1;
  const double zp = std::clamp(qmin - std::nearbyint(lo / s), qmin, qmax);
  return {s, zp};
}

// q as the format's code (two's complement in `bits`).
uint64_t RefIntCode(const Format& f, double q) {
  return static_cast<uint64_t>(static_cast<int64_t>(q)) & ((uint64_t{1} << f.bits) - 1);
}

double RefIntQ(const Format& f, double v, double (*round)(double)) {
  const double qmin = f.is_signed ? -std::ldexp(1.0, f.bits - 1) : 0;
  const double qmax = f.is_signed ? std::ldexp(1.0, f.bits - 1) - 1 : std::ldexp(1.0, f.bits) - 1;
  return std::clamp(round(v), qmin, qmax);
}

double RoundNearestEven(double v) { return std::nearbyint(v); }

}  // namespace

TEST_CASE("integer: symmetric per-channel on a middle axis, every integer format and directed modes") {
  const std::vector<size_t> shape = {4, 6, 5};  // axis 1: channel c holds (o, c, i) for all o, i
  const std::vector<double> x = RandomValues(120, 5, 0.4);
  struct Mode {
    Rounding r;
    double (*fn)(double);
  };
  const Mode modes[] = {{Rounding::kNearestEven, RoundNearestEven},
                        {Rounding::kTowardZero, static_cast<double (*)(double)>(std::trunc)},
                        {Rounding::kDown, static_cast<double (*)(double)>(std::floor)},
                        {Rounding::kUp, static_cast<double (*)(double)>(std::ceil)}};
  for (const Format* f : {&formats::kInt8, &formats::kUint8, &formats::kInt4, &formats::kUint4}) {
    for (const Mode& m : modes) {
      CAPTURE(f->name);
      CAPTURE(static_cast<int>(m.r));
      QuantConfig c = Config(*f, Scheme::kChannel, 1);
      c.opt.rounding = m.r;
      const QuantResult r = Quantize(c, shape, x);
      REQUIRE(r.scales.size() == 6);
      for (size_t ch = 0; ch < 6; ++ch) {
        double amax = 0;
        for (size_t o = 0; o < 4; ++o)
          for (size_t i = 0; i < 5; ++i) amax = std::max(amax, std::fabs(x[(o * 6 + ch) * 5 + i]));
        const RefInt p = RefIntParams(*f, true, -amax, amax);
        CHECK(r.scales[ch] == static_cast<float>(p.scale));
        for (size_t o = 0; o < 4; ++o) {
          for (size_t i = 0; i < 5; ++i) {
            const size_t e = (o * 6 + ch) * 5 + i;
            const double q = RefIntQ(*f, x[e] / p.scale + p.zp, m.fn);
            CHECK(r.codes[e] == RefIntCode(*f, q));
            CHECK(r.dequantized[e] == static_cast<float>((q - p.zp) * p.scale));
          }
        }
      }
    }
  }
}

TEST_CASE("integer: asymmetric per-group on a middle axis with a short last group") {
  const std::vector<size_t> shape = {3, 10, 2};  // axis 1, group 4: k in [0,4) [4,8) [8,10)
  std::vector<double> x = RandomValues(60, 9, 0.3);
  for (double& v : x) v = v + 0.5;  // skewed, so the zero point matters
  for (const Format* f : {&formats::kUint8, &formats::kInt4}) {
    CAPTURE(f->name);
    QuantConfig c = Config(*f, Scheme::kGroup, 1);
    c.group = 4;
    c.int_mode = IntMode::kAsymmetric;
    const QuantResult r = Quantize(c, shape, x);
    REQUIRE(r.scale_shape == std::vector<size_t>{3, 3, 2});
    for (size_t o = 0; o < 3; ++o)
      for (size_t g = 0; g < 3; ++g)
        for (size_t i = 0; i < 2; ++i) {
          double lo = INFINITY, hi = -INFINITY;
          const size_t k1 = std::min<size_t>(10, g * 4 + 4);
          for (size_t k = g * 4; k < k1; ++k) {
            lo = std::min(lo, x[(o * 10 + k) * 2 + i]);
            hi = std::max(hi, x[(o * 10 + k) * 2 + i]);
          }
          const RefInt p = RefIntParams(*f, false, lo, hi);
          const size_t u = (o * 3 + g) * 2 + i;
          CHECK(r.scales[u] == static_cast<float>(p.scale));
          CHECK(r.zero_points[u] == static_cast<float>(p.zp));
          for (size_t k = g * 4; k < k1; ++k) {
            const size_t e = (o * 10 + k) * 2 + i;
            const double q = RefIntQ(*f, x[e] / p.scale + p.zp, RoundNearestEven);
            CHECK(r.codes[e] == RefIntCode(*f, q));
          }
        }
  }
}

TEST_CASE("calibration: percentile is the nearest rank; mse is the best of the 100 candidates") {
  std::vector<double> x = RandomValues(1000, 21, 0.2);
  x[17] = 40.0;  // an outlier the calibrations should clip
  std::vector<double> a(x.size());
  std::transform(x.begin(), x.end(), a.begin(), [](double v) { return std::fabs(v); });
  std::sort(a.begin(), a.end());
  for (const double p : {50.0, 99.0, 99.95, 100.0}) {
    CAPTURE(p);
    QuantConfig c = Config(formats::kInt8, Scheme::kTensor);
    c.calib = {CalibMethod::kPercentile, p};
    const QuantResult r = Quantize(c, {1000}, x);
    const size_t rank = std::max<size_t>(1, static_cast<size_t>(std::ceil(p / 100 * 1000)));
    CHECK(r.scales[0] == static_cast<float>(RefIntParams(formats::kInt8, true, 0, a[rank - 1]).scale));
  }
  for (const Format* f : {&formats::kInt8, &formats::kInt4}) {
    CAPTURE(f->name);
    QuantConfig c = Config(*f, Scheme::kTensor);
    c.calib.method = CalibMethod::kMse;
    const QuantResult r = Quantize(c, {1000}, x);
    double best = INFINITY, best_scale = 0;
    for (int k = 100; k >= 1; --k) {
      const RefInt p = RefIntParams(*f, true, 0, 40.0 * k / 100);
      double err = 0;
      for (const double v : x) {
        const double q = RefIntQ(*f, v / p.scale + p.zp, RoundNearestEven);
        const double d = static_cast<double>(static_cast<float>((q - p.zp) * p.scale)) - v;
        err += d * d;
      }
      if (err < best) {
        best = err;
        best_scale = p.scale;
      }
    }
    CHECK(r.scales[0] == static_cast<float>(best_scale));
  }
}

// ---- properties of the driver -------------------------------------------------

TEST_CASE("results do not depend on the thread count (stochastic rounding included)") {
  const std::vector<size_t> shape = {300, 1000};
  const std::vector<double> x = RandomValues(300000, 31, 1.0);
  struct Case {
    const Format* f;
    Scheme s;
    long axis;
  };
  for (const Case& k : {Case{&formats::kInt8, Scheme::kChannel, 0}, Case{&kE2m1fn, Scheme::kMx, 0},
                        Case{&kE2m1fn, Scheme::kNvfp4, -1}, Case{&kE4m3fn, Scheme::kTensor, -1}}) {
    CAPTURE(SchemeName(k.s));
    QuantConfig c = Config(*k.f, k.s, k.axis);
    c.opt.rounding = Rounding::kStochastic;
    c.opt.seed = 1234;
    c.threads = 1;
    const QuantResult one = Quantize(c, shape, x);
    c.threads = 3;
    const QuantResult three = Quantize(c, shape, x);
    CHECK(one.codes == three.codes);
    CHECK(one.dequantized == three.dequantized);
    CHECK(one.stats.sum_sq_err == three.stats.sum_sq_err);
    CHECK(one.stats.max_abs_err == three.stats.max_abs_err);
    c.opt.seed = 1235;
    CHECK(Quantize(c, shape, x).codes != one.codes);  // the seed matters
  }
}

TEST_CASE("statistics: errors, saturation, flush to zero and NaN are counted as defined") {
  // int8 symmetric per-tensor with the scale fixed by amax = 127: x' = round(x).
  const std::vector<double> x = {127, 0.4, -0.6, 2.5, NAN, -127};
  const QuantResult r = Quantize(Config(formats::kInt8, Scheme::kTensor), {6}, x);
  CHECK(r.scales[0] == 1.0f);
  CHECK(r.stats.elements == 6);
  CHECK(r.stats.compared == 5);
  CHECK(r.stats.nan_inputs == 1);
  CHECK(r.stats.flushed == 1);     // 0.4 -> 0
  CHECK(r.stats.nan_outputs == 0);  // NaN -> 0 in an integer format
  CHECK(r.stats.max_abs_err == 0.5);
  CHECK(r.stats.max_rel_err == 1.0);
  CHECK(r.stats.sum_sq_err == doctest::Approx(0.16 + 0.16 + 0.25));
  CHECK(r.stats.SqnrDb() == doctest::Approx(10 * std::log10((2 * 127.0 * 127 + 0.16 + 0.36 + 6.25) / 0.57)));
}

TEST_CASE("configurations that do not apply are refused with one line") {
  const std::vector<double> x(64, 1.0);
  auto refuses = [&](QuantConfig c, std::vector<size_t> shape, const char* what) {
    CAPTURE(what);
    CHECK_THROWS_WITH_AS(Quantize(c, shape, x), doctest::Contains(what), QuantError);
  };
  refuses(Config(formats::kInt4, Scheme::kMx), {64}, "scheme mx has no element format int4");
  refuses(Config(formats::kE4m3fn, Scheme::kNvfp4), {64}, "scheme nvfp4 stores e2m1fn elements");
  refuses(Config(formats::kInt8, Scheme::kDelayed), {64}, "needs a float format");
  refuses(Config(formats::kInt8, Scheme::kChannel, 2), {8, 8}, "axis 2 is out of range");
  refuses(Config(formats::kInt8, Scheme::kChannel, -3), {8, 8}, "axis -3 is out of range");
  refuses(Config(formats::kF32, Scheme::kTensor), {64}, "too wide");
  refuses(Config(formats::kInt8, Scheme::kGroup), {64}, "group size");
  QuantConfig asym = Config(formats::kE4m3fn, Scheme::kTensor);
  asym.int_mode = IntMode::kAsymmetric;
  refuses(asym, {64}, "asymmetric quantization is for integer formats");
  QuantConfig pct = Config(formats::kE2m1fn, Scheme::kMx);
  pct.calib.method = CalibMethod::kMse;
  refuses(pct, {64}, "calibrates by max only");
}

TEST_CASE("the SIMD array casts give the core's codes, values and statistics") {
  // Float32 values over many binades, with the edges the bulk path has to
  // leave to the core: NaN, infinities, float32 subnormals, values whose
  // scaled float32 would underflow, a float64 value that is not a float32.
  std::vector<double> x = RandomValues(3 * 4096 + 77, 41, 3.0);
  const double edges[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, 1e-45, -1.4e-45, 1e-40, 3.0e38, -3.0e38,
                          0.1 /* not a float32 */, 1e-30, 448.0, 480.0, 1e-3, -6.0, 6.5};
  for (size_t i = 0; i < std::size(edges); ++i) x[i * 97 % x.size()] = edges[i];
  const std::vector<size_t> shape = {x.size()};
  struct Case {
    const Format* f;
    Scheme s;
    bool pow2;
  };
  for (const Case& k : {Case{&kE2m1fn, Scheme::kNvfp4, false}, Case{&kE4m3fn, Scheme::kMx, false},
                        Case{&kE2m1fn, Scheme::kMx, false}, Case{&formats::kE5m2, Scheme::kMx, false},
                        Case{&formats::kInt8, Scheme::kMx, false}, Case{&kE4m3fn, Scheme::kTensor, true},
                        Case{&formats::kE5m2, Scheme::kTensor, true}, Case{&kE4m3fn, Scheme::kTensor, false},
                        Case{&kE4m3fn, Scheme::kDelayed, true}}) {
    for (const Rounding mode : {Rounding::kNearestEven, Rounding::kTowardZero, Rounding::kStochastic}) {
      for (const bool daz : {false, true}) {
        CAPTURE(SchemeName(k.s));
        CAPTURE(k.f->name);
        CAPTURE(static_cast<int>(mode));
        CAPTURE(daz);
        QuantConfig c = Config(*k.f, k.s, -1);
        c.fp8.pow2 = k.pow2;
        c.opt.rounding = mode;
        c.opt.seed = 99;
        c.opt.flush_input = daz;
        c.threads = 2;
        const std::vector<size_t> sh = k.s == Scheme::kDelayed ? std::vector<size_t>{3, x.size() / 3} : shape;
        const std::vector<double> xx(x.begin(), x.begin() + static_cast<long>(sh.size() == 2 ? sh[0] * sh[1] : x.size()));
        c.simd = true;
        const QuantResult fast = Quantize(c, sh, xx);
        c.simd = false;
        const QuantResult core = Quantize(c, sh, xx);
        CHECK(fast.codes == core.codes);
        size_t differ = 0;
        for (size_t i = 0; i < xx.size(); ++i)
          differ += std::memcmp(&fast.dequantized[i], &core.dequantized[i], 4) != 0;
        CHECK(differ == 0);
        CHECK(fast.stats.saturated == core.stats.saturated);
        CHECK(fast.stats.flushed == core.stats.flushed);
        CHECK(fast.stats.nan_outputs == core.stats.nan_outputs);
        CHECK(fast.stats.sum_sq_err == core.stats.sum_sq_err);
        CHECK(fast.stats.max_abs_err == core.stats.max_abs_err);
      }
    }
  }
}
