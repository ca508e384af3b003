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
#include <cstdio>
#include <cstring>
#include <random>
#include <span>
#include <string>
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
  refuses(Config(formats::kE4m3fn, Scheme::kNvfp4), {64}, "scheme nvfp4 has no element format e4m3fn (NVFP4: e2m1fn)");
  refuses(Config(formats::kInt8, Scheme::kDelayed), {64}, "needs a float format");
  refuses(Config(formats::kInt8, Scheme::kChannel, 2), {8, 8}, "axis 2 is out of range");
  refuses(Config(formats::kInt8, Scheme::kChannel, -3), {8, 8}, "axis -3 is out of range");
  refuses(Config(formats::kF32, Scheme::kTensor), {64}, "too wide");
  refuses(Config(formats::kInt8, Scheme::kGroup), {64}, "group size");
  QuantConfig asym = Config(formats::kE4m3fn, Scheme::kTensor);
  asym.int_mode = IntMode::kAsymmetric;
  refuses(asym, {64}, "--asymmetric applies to --scheme tensor, channel, group with an integer format, not to --scheme "
                      "tensor with e4m3fn");
  QuantConfig pct = Config(formats::kE2m1fn, Scheme::kMx);
  pct.calib.method = CalibMethod::kMse;
  refuses(pct, {64}, "--calib applies to --scheme tensor, channel, group, not to --scheme mx");
  QuantConfig pow2 = Config(formats::kInt8, Scheme::kTensor);
  pow2.fp8.pow2 = true;
  refuses(pow2, {64}, "--pow2-scale applies to --scheme tensor, channel, group, delayed with a float format");
  QuantConfig recipe = Config(kE4m3fn, Scheme::kMx);
  recipe.nvfp4_recipe = Nvfp4Recipe::kTorchao;
  refuses(recipe, {64}, "--recipe applies to --scheme nvfp4, not to --scheme mx");
  QuantConfig block = Config(kE4m3fn, Scheme::kMx);
  block.block = 0;
  refuses(block, {64}, "scheme mx needs a block size > 0");
}

// ---- the array pipeline against the core, element by element ---------------

namespace {

// Float32 values over many binades, with the edges the pipeline has to
// leave to the core: NaN, infinities, float32 subnormals, values whose
// scaled float32 would underflow, float64 values that are not float32s.
std::vector<double> HostileValues(size_t n, uint32_t seed, bool f64) {
  std::vector<double> x = RandomValues(n, seed, 3.0);
  if (f64) {
    std::mt19937 gen(seed + 1);
    for (auto& v : x) v *= 1.0 + std::ldexp(static_cast<double>(gen() % 1000), -40);
  }
  const double edges[] = {NAN,  INFINITY, -INFINITY, 0.0,  -0.0, 1e-45, -1.4e-45, 1e-40, 3.0e38, -3.0e38,
                          1e-30, 448.0,   480.0,     1e-3, -6.0, 6.5,   464.0,    -2.5,  0.75,  1.0 + 0x1p-20};
  for (size_t i = 0; i < std::size(edges); ++i) x[i * 97 % x.size()] = edges[i];
  if (f64) {
    x[5] = 1e300;
    x[17] = -3e-310;  // a float64 subnormal
    x[29] = 0x1p-140;
  }
  // A block of zeros and one of ones (ties for the integer formats).
  for (size_t i = 64; i < 96; ++i) x[i] = 0.0;
  for (size_t i = 128; i < 160; ++i) x[i] = 0.5 + static_cast<double>(i % 4);
  return x;
}

std::string Hex(float v) {
  uint32_t b;
  std::memcpy(&b, &v, 4);
  char s[16];
  std::snprintf(s, sizeof s, "0x%08x", b);
  return s;
}

// Everything two results hold, bit for bit; a difference names its first element.
void CheckSame(const QuantResult& got, const QuantResult& want, const std::vector<double>& x) {
  REQUIRE(got.codes.size() == want.codes.size());
  REQUIRE(got.dequantized.size() == want.dequantized.size());
  size_t differ = 0;
  for (size_t i = 0; i < got.codes.size(); ++i)
    if (got.codes[i] != want.codes[i] && differ++ == 0)
      FAIL_CHECK("element " << i << " x=" << x[i] << ": code 0x" << std::hex << got.codes[i] << ", core 0x"
                            << want.codes[i] << std::dec);
  for (size_t i = 0; i < got.dequantized.size(); ++i)
    if (std::memcmp(&got.dequantized[i], &want.dequantized[i], 4) != 0 && differ++ == 0)
      FAIL_CHECK("element " << i << " x=" << x[i] << ": x' " << Hex(got.dequantized[i]) << ", core "
                            << Hex(want.dequantized[i]));
  CHECK(differ == 0);
  CHECK(got.scale_shape == want.scale_shape);
  CHECK(std::memcmp(got.scales.data(), want.scales.data(), 4 * std::min(got.scales.size(), want.scales.size())) == 0);
  CHECK(got.scales.size() == want.scales.size());
  CHECK(got.zero_points == want.zero_points);
  CHECK(got.scale_codes == want.scale_codes);
  CHECK(got.global_decode_scale.has_value() == want.global_decode_scale.has_value());
  const analysis::ErrorStats &a = got.stats, &b = want.stats;
  CHECK(a.elements == b.elements);
  CHECK(a.compared == b.compared);
  CHECK(a.nan_inputs == b.nan_inputs);
  CHECK(a.inf_inputs == b.inf_inputs);
  CHECK(a.nan_outputs == b.nan_outputs);
  CHECK(a.inf_outputs == b.inf_outputs);
  CHECK(a.overflowed == b.overflowed);
  CHECK(a.saturated == b.saturated);
  CHECK(a.nonzero == b.nonzero);
  CHECK(a.flushed == b.flushed);
  CHECK(a.max_abs_err == b.max_abs_err);
  CHECK(a.max_rel_err == b.max_rel_err);
  CHECK(a.sum_sq_err == b.sum_sq_err);
  CHECK(a.sum_sq_ref == b.sum_sq_ref);
  CHECK(a.sum_sq_out == b.sum_sq_out);
  CHECK(a.sum_ref_out == b.sum_ref_out);
  CHECK(a.sum_sq_flushed == b.sum_sq_flushed);
}

struct PipelineCase {
  const Format* f;
  Scheme s;
  long axis;
  void (*tweak)(QuantConfig&);
};

}  // namespace

TEST_CASE("the array pipeline gives the core path's bits: every scheme, float32 and float64, every mode") {
  // Shape (3, 4096 + 77, 2): axis 1 is strided (runs of 2 units), axis -1
  // contiguous and short, axis 0 spans the chunks.
  const std::vector<size_t> shape = {3, 4173, 2};
  const size_t n = 3 * 4173 * 2;
  const std::vector<PipelineCase> cases = {
      {&kE4m3fn, Scheme::kTensor, -1, nullptr},
      {&kE4m3fn, Scheme::kTensor, -1, [](QuantConfig& c) { c.fp8.pow2 = true; }},
      {&formats::kE5m2, Scheme::kChannel, 1, [](QuantConfig& c) { c.fp8.margin = 3; }},
      {&formats::kBf16, Scheme::kGroup, 1, [](QuantConfig& c) { c.group = 7; }},
      {&formats::kF16, Scheme::kGroup, -1, [](QuantConfig& c) { c.group = 2; }},
      {&formats::kE2m3fn, Scheme::kTensor, -1, [](QuantConfig& c) { c.calib.method = CalibMethod::kMse; }},
      {&kE4m3fn, Scheme::kDelayed, 0, [](QuantConfig& c) { c.history = 2; }},
      {&formats::kInt8, Scheme::kTensor, -1, nullptr},
      {&formats::kUint8, Scheme::kChannel, 0, [](QuantConfig& c) { c.int_mode = IntMode::kAsymmetric; }},
      {&formats::kInt4, Scheme::kGroup, 1, [](QuantConfig& c) { c.group = 16; }},
      {&formats::kUint4, Scheme::kChannel, -1,
       [](QuantConfig& c) {
         c.int_mode = IntMode::kAsymmetric;
         c.calib.method = CalibMethod::kMse;
       }},
      {&formats::kInt8, Scheme::kTensor, -1,
       [](QuantConfig& c) {
         c.calib.method = CalibMethod::kPercentile;
         c.calib.percentile = 99;
       }},
      {&kE4m3fn, Scheme::kMx, 1, nullptr},
      {&formats::kE5m2, Scheme::kMx, -1, nullptr},
      {&kE2m1fn, Scheme::kMx, 1, nullptr},
      {&formats::kE3m2fn, Scheme::kMx, 0, [](QuantConfig& c) { c.block = 2; }},
      {&formats::kInt8, Scheme::kMx, 1, nullptr},
      {&kE2m1fn, Scheme::kNvfp4, 1, nullptr},
      {&kE2m1fn, Scheme::kNvfp4, -1, nullptr},
      {&kE2m1fn, Scheme::kNvfp4, 1, [](QuantConfig& c) { c.nvfp4_recipe = Nvfp4Recipe::kTorchao; }},
  };
  const Rounding modes[] = {Rounding::kNearestEven, Rounding::kNearestAway, Rounding::kTowardZero, Rounding::kDown,
                            Rounding::kUp,          Rounding::kOdd,         Rounding::kStochastic,
                            Rounding::kStochasticEq};
  for (const bool f64 : {false, true}) {
    std::vector<double> x = HostileValues(n, f64 ? 52 : 51, f64);
    std::vector<float> x32(n);
    for (size_t i = 0; i < n; ++i) x32[i] = static_cast<float>(x[i]);
    if (!f64)
      for (size_t i = 0; i < n; ++i) x[i] = x32[i];  // the float64 widening of the float32 input
    for (const PipelineCase& k : cases) {
      for (const Rounding mode : modes) {
        // MSE runs 100 round trips per unit: rne and sr only.
        if (k.tweak && k.s != Scheme::kMx && mode != Rounding::kNearestEven && mode != Rounding::kStochastic) {
          QuantConfig probe;
          k.tweak(probe);
          if (probe.calib.method == CalibMethod::kMse) continue;
        }
        for (const int policy : {0, 1, 2}) {
          QuantConfig c = Config(*k.f, k.s, k.axis);
          if (k.tweak) k.tweak(c);
          c.opt.rounding = mode;
          if (IsStochastic(mode)) c.opt.seed = 99;
          if (policy == 1) c.opt.flush_input = c.opt.flush_output = true;  // DAZ and FTZ
          if (policy == 2) {
            if (!IsFloat(*k.f) || k.f->inf == InfCodes::kNone) continue;
            c.opt.overflow = Overflow::kIeee;
          }
          CAPTURE(f64);
          const std::string scheme = SchemeName(k.s), format = k.f->name;
          CAPTURE(scheme);
          CAPTURE(format);
          CAPTURE(k.axis);
          CAPTURE(static_cast<int>(mode));
          CAPTURE(policy);
          c.threads = 2;
          c.simd = false;
          const QuantResult core = Quantize(c, shape, x);
          c.simd = true;
          if (f64) {
            CheckSame(Quantize(c, shape, x), core, x);
          } else {
            // float32 in: the same bits as its float64 widening.
            CheckSame(Quantize(c, shape, std::span<const float>(x32)), core, x);
            // Codes only, values only, and one thread: the same again.
            c.outputs = Outputs::kCodes;
            c.threads = 1;
            const QuantResult codes = Quantize(c, shape, std::span<const float>(x32));
            CHECK(codes.codes == core.codes);
            CHECK(codes.dequantized.empty());
            CHECK(codes.stats.sum_sq_err == core.stats.sum_sq_err);
            CHECK(codes.stats.saturated == core.stats.saturated);
            c.outputs = Outputs::kDequantized;
            const QuantResult values = Quantize(c, shape, std::span<const float>(x32));
            CHECK(values.codes.empty());
            CHECK(std::memcmp(values.dequantized.data(), core.dequantized.data(), 4 * n) == 0);
            CHECK(values.stats.saturated == core.stats.saturated);
          }
        }
      }
    }
  }
}

TEST_CASE("codes are stored at their width: one byte up to 8 bits, two up to 16") {
  const std::vector<double> x = RandomValues(64, 5, 1.0);
  CHECK(Quantize(Config(kE4m3fn, Scheme::kTensor), {64}, x).codes.bytes() == 1);
  CHECK(Quantize(Config(formats::kInt4, Scheme::kTensor), {64}, x).codes.bytes() == 1);
  CHECK(Quantize(Config(formats::kBf16, Scheme::kTensor), {64}, x).codes.bytes() == 2);
  const QuantResult r = Quantize(Config(formats::kF16, Scheme::kTensor), {64}, x);
  REQUIRE(r.codes.bytes() == 2);
  for (size_t i = 0; i < 64; ++i) CHECK(r.codes[i] == static_cast<const uint16_t*>(r.codes.data())[i]);
}

TEST_CASE("ErrorStats::AddArray counts as Add does, its sums in four interleaved lanes") {
  // finite: every pair finite (AddArray's loop without the NaN and
  // infinity counts), else NaN and infinities among them.
  for (const bool finite : {false, true}) {
    std::vector<double> x = HostileValues(5000, 7, true);
    std::vector<float> out(x.size()), x32(x.size());
    std::mt19937 gen(3);
    for (size_t i = 0; i < x.size(); ++i) {
      if (finite && !(std::fabs(static_cast<float>(x[i])) <= FLT_MAX)) x[i] = 0x1p-130 * static_cast<double>(i);
      x32[i] = static_cast<float>(x[i]);
      out[i] = gen() % 7 == 0    ? 0.0f
               : gen() % 11 == 0 ? (finite ? -static_cast<float>(x[i]) : NAN)
               : gen() % 13 == 0 ? static_cast<float>(x[i] * 2)
                                 : static_cast<float>(x[i] * 1.01);
      if (finite && !std::isfinite(out[i])) out[i] = 1.0f;
    }
    if (!finite) {
      out[3] = INFINITY;
      x[5] = -INFINITY;
      x32[5] = -INFINITY;
    }
    CAPTURE(finite);
    for (const size_t n : {x.size(), size_t{4999}, size_t{4998}, size_t{4997}, size_t{13}, size_t{3}, size_t{0}}) {
      for (const bool f32 : {false, true}) {
        analysis::ErrorStats a, want, lane[4];
        a.sum_sq_err = 0.5;  // a running sum: the call's lanes are added to it
        want.sum_sq_err = 0.5;
        if (f32) a.AddArray(x32.data(), out.data(), n);
        else a.AddArray(x.data(), out.data(), n);
        // The reference: Add, one lane's pairs in element order, then the
        // lanes' sums as a tree, added to the running sums.
        for (size_t i = 0; i < n; ++i) lane[i % 4].Add(f32 ? static_cast<double>(x32[i]) : x[i], out[i]);
        auto tree = [&](double analysis::ErrorStats::*m) {
          return (lane[0].*m + lane[1].*m) + (lane[2].*m + lane[3].*m);
        };
        for (const analysis::ErrorStats& l : lane) want.AddCounts(l);
        want.sum_sq_err += tree(&analysis::ErrorStats::sum_sq_err);
        want.sum_sq_ref += tree(&analysis::ErrorStats::sum_sq_ref);
        want.sum_sq_out += tree(&analysis::ErrorStats::sum_sq_out);
        want.sum_ref_out += tree(&analysis::ErrorStats::sum_ref_out);
        want.sum_sq_flushed += tree(&analysis::ErrorStats::sum_sq_flushed);
        CAPTURE(n);
        CAPTURE(f32);
        CHECK(std::memcmp(&a, &want, sizeof a) == 0);
        CHECK(a.sum_sq_err == want.sum_sq_err);
        CHECK(a.max_rel_err == want.max_rel_err);
        CHECK(a.nan_outputs == want.nan_outputs);
        if (finite) CHECK(a.compared == n);
      }
    }
  }
}
