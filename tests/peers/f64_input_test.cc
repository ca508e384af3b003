// float64 inputs against an independent oracle: MPFR (through
// Boost.Multiprecision) rounding the same double into each IEEE-like format.
//
// The oracle uses MPFR's own rounding with the format's precision p = m + 1,
// its subnormal range (mpfr_set_emin + mpfr_subnormalize, the documented way
// to emulate IEEE subnormals) and an unbounded exponent range at the top;
// overflow is then decided explicitly, as IEEE 754 7.4 defines it: the
// result rounded with unbounded exponent range exceeds the largest finite
// value. rna (ties away) is not an MPFR mode -- MPFR_RNDA is "away from
// zero" -- so it is computed from the two neighbours RNDZ and RNDA and their
// exact midpoint. Boost 1.74's mpfr_float has no per-operation rounding or
// exponent range, so those steps call MPFR on the backend's mpfr_t.
//
// Inputs: random doubles across every binade and across the format's range,
// and double-rounding traps: doubles within a few float64 ulps (and 2^-30
// relative) of every midpoint between neighbouring values of the format --
// exactly where rounding through float32 first would go wrong.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <boost/multiprecision/mpfr.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "formats/convert.h"
#include "formats/names.h"
#include "formats/spec_parser.h"

using namespace floatscope;

namespace {

namespace mp = boost::multiprecision;
using Real = mp::number<mp::mpfr_float_backend<0>, mp::et_off>;

constexpr Rounding kModes[] = {Rounding::kNearestEven, Rounding::kNearestAway,
                               Rounding::kTowardZero, Rounding::kUp, Rounding::kDown};

// Rounds x to the format's precision and subnormal grid with MPFR's `rnd`
// (exponent range unbounded above). Sets *inexact. Returns a double (exact:
// every value of these formats is one).
double MpfrRound(const Format& f, double x, mpfr_rnd_t rnd, bool* inexact) {
  Real r;
  mpfr_ptr m = r.backend().data();
  mpfr_set_prec(m, f.mantissa_bits + 1);
  // MPFR writes values as 0.1xxx * 2^e, so the smallest subnormal
  // 2^(emin - m) has MPFR exponent emin - m + 1.
  const mpfr_exp_t saved_emin = mpfr_get_emin();
  mpfr_set_emin(MinNormalExponent(f) - f.mantissa_bits + 1);
  int t = mpfr_set_d(m, x, rnd);
  t = mpfr_subnormalize(m, t, rnd);
  mpfr_set_emin(saved_emin);
  *inexact = t != 0;
  return mpfr_get_d(m, MPFR_RNDN);
}

struct Expected {
  double value;  // NaN for "some NaN"
  bool inexact;
  bool overflow;
};

// The oracle: x (finite) rounded into f under `mode`, IEEE overflow policy.
Expected Oracle(const Format& f, double x, Rounding mode) {
  bool inexact = false;
  double y = 0;
  switch (mode) {
    case Rounding::kNearestEven: y = MpfrRound(f, x, MPFR_RNDN, &inexact); break;
    case Rounding::kTowardZero: y = MpfrRound(f, x, MPFR_RNDZ, &inexact); break;
    case Rounding::kUp: y = MpfrRound(f, x, MPFR_RNDU, &inexact); break;
    case Rounding::kDown: y = MpfrRound(f, x, MPFR_RNDD, &inexact); break;
    case Rounding::kNearestAway: {
      bool away_inexact = false;
      const double toward = MpfrRound(f, x, MPFR_RNDZ, &inexact);
      const double away = MpfrRound(f, x, MPFR_RNDA, &away_inexact);
      y = toward;
      if (inexact) {
        // toward and away are neighbours with at most 54 significant bits
        // between them, so their mean is exact at 128 bits.
        Real mid = (Real(toward, 128) + Real(away, 128)) / 2;
        if (mp::abs(Real(x, 128)) >= mp::abs(mid)) y = away;
      }
      break;
    }
    default: FAIL("mode not covered by the oracle"); break;
  }
  if (y == 0 && !HasNegativeZero(f)) y = 0.0;
  if (std::fabs(y) > MaxFinite(f)) {
    const bool sign = std::signbit(x);
    const bool to_inf = mode == Rounding::kNearestEven || mode == Rounding::kNearestAway ||
                        (mode == Rounding::kUp && !sign) || (mode == Rounding::kDown && sign);
    double r = sign ? -MaxFinite(f) : MaxFinite(f);
    if (to_inf) {
      if (HasInf(f)) r = sign ? -INFINITY : INFINITY;
      else if (HasNan(f)) r = NAN;
    }
    return Expected{r, true, true};
  }
  return Expected{y, inexact, false};
}

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A positive value of the format's grid: significand k (with the implicit
// bit, or below 2^m in the subnormal binade) times 2^(e - m).
double GridValue(const Format& f, uint64_t k, int e) {
  return std::ldexp(static_cast<double>(k), e - f.mantissa_bits);
}

// Every midpoint between neighbouring positive values of f, including the
// one between 0 and the smallest subnormal and the one above the largest
// finite value (where overflow starts), when there are at most `limit`;
// otherwise `limit` of them at random.
std::vector<double> Midpoints(const Format& f, size_t limit, uint64_t seed) {
  const int m = f.mantissa_bits;
  const int emin = MinNormalExponent(f);
  const int emax = static_cast<int>(MaxFiniteMagnitude(f) >> m) - f.bias;
  const uint64_t per_binade = uint64_t{1} << m;
  const uint64_t binades = static_cast<uint64_t>(emax - emin + 2);  // + the subnormal one
  std::vector<double> mids;
  auto mid_at = [&](uint64_t binade, uint64_t k) {
    // binade 0: subnormal grid, k/2^m * 2^emin; else significands 2^m + k.
    if (binade == 0) return GridValue(f, 2 * k + 1, emin - 1);
    return GridValue(f, 2 * (per_binade + k) + 1, emin + static_cast<int>(binade) - 2);
  };
  if (per_binade * binades <= limit) {
    for (uint64_t b = 0; b < binades; ++b)
      for (uint64_t k = 0; k < per_binade; ++k) {
        const double mid = mid_at(b, k);
        mids.push_back(mid);
        if (mid > MaxFinite(f)) return mids;  // the overflow threshold is the last
      }
    return mids;
  }
  for (size_t i = 0; i < limit; ++i) {
    const uint64_t b = SplitMix64(seed) % binades;
    const uint64_t k = SplitMix64(seed) % per_binade;
    const double mid = mid_at(b, k);
    if (mid <= MaxFinite(f) + std::ldexp(1.0, emax - m)) mids.push_back(mid);
  }
  return mids;
}

// The inputs for one format, both signs.
std::vector<double> Inputs(const Format& f, uint64_t seed) {
  std::vector<double> in;
  for (double mid : Midpoints(f, 1u << 15, seed)) {
    double below = mid, above = mid;
    for (int step = 0; step < 3; ++step) {
      below = std::nextafter(below, 0.0);
      above = std::nextafter(above, INFINITY);
      in.push_back(below);
      in.push_back(above);
    }
    in.push_back(mid);
    in.push_back(mid * (1 + 0x1p-30));  // beyond float32's precision: a float32 detour ties
    in.push_back(mid * (1 - 0x1p-30));
  }
  const int emin_sub = MinNormalExponent(f) - (f.has_subnormals ? f.mantissa_bits : 0);
  const int emax = static_cast<int>(MaxFiniteMagnitude(f) >> f.mantissa_bits) - f.bias;
  for (int i = 0; i < 4096; ++i) {
    // Any finite double: every exponent field but the all-ones one.
    const uint64_t bits = SplitMix64(seed) & ~(uint64_t{1} << 63);
    if ((bits >> 52) == 0x7FF) continue;
    in.push_back(F64FromBits(bits));
  }
  for (int i = 0; i < 16384; ++i) {
    // Within the format's range, 3 binades either side.
    const int span = emax - emin_sub + 7;
    const int e = emin_sub - 3 + static_cast<int>(SplitMix64(seed) % span);
    const double frac = 1.0 + static_cast<double>(SplitMix64(seed) >> 12) * 0x1p-52;
    in.push_back(std::ldexp(frac, e));
  }
  const size_t n = in.size();
  for (size_t i = 0; i < n; ++i) in.push_back(-in[i]);
  in.push_back(0.0);
  in.push_back(-0.0);
  return in;
}

std::string Describe(double x) { return fmt::format("{:a} (0x{:016x})", x, BitsOf(x)); }

// Runs every input through floatscope and the oracle; returns the failures.
int CheckFormat(const Format& f) {
  int failures = 0;
  const std::vector<double> inputs = Inputs(f, 0x5EED0000u + f.bits + 31u * f.mantissa_bits);
  for (Rounding mode : kModes) {
    Options opt;
    opt.rounding = mode;
    opt.overflow = Overflow::kIeee;
    for (double x : inputs) {
      const Expected want = Oracle(f, x, mode);
      const Result r = EncodeFromF64(f, x, opt);
      const double got = DecodeToF64(f, r.code);
      const bool value_ok = std::isnan(want.value) ? std::isnan(got) : BitsOf(got) == BitsOf(want.value);
      const bool inexact_ok = ((r.flags & kInexact) != 0) == want.inexact;
      const bool overflow_ok = ((r.flags & kOverflow) != 0) == want.overflow;
      if (value_ok && inexact_ok && overflow_ok) continue;
      if (++failures <= 10)
        MESSAGE(fmt::format("{} {} x={}: floatscope code 0x{:x} = {:a} flags {}, MPFR {:a}{}{}",
                            f.name, RoundingNameOf(mode), Describe(x), r.code, got,
                            FlagsNames(r.flags), want.value, want.inexact ? " inexact" : "",
                            want.overflow ? " overflow" : ""));
    }
  }
  MESSAGE(fmt::format("{}: {} inputs x {} modes, {} failures", f.name, inputs.size(),
                      std::size(kModes), failures));
  return failures;
}

const Format& Named(const char* spec) {
  std::string why;
  const Format* f = ResolveFormat(spec, &why);
  REQUIRE_MESSAGE(f != nullptr, why);
  return *f;
}

}  // namespace

TEST_CASE("the oracle itself: hand-checked roundings into e4m3 and f16") {
  const Format& e4m3 = formats::kE4m3;
  // 1.0625 is the midpoint of 1 and 1.125.
  CHECK(Oracle(e4m3, 1.0625, Rounding::kNearestEven).value == 1.0);
  CHECK(Oracle(e4m3, 1.0625, Rounding::kNearestAway).value == 1.125);
  CHECK(Oracle(e4m3, -1.0625, Rounding::kNearestAway).value == -1.125);
  CHECK(Oracle(e4m3, std::nextafter(1.0625, 0.0), Rounding::kNearestAway).value == 1.0);
  CHECK(Oracle(e4m3, 1.01, Rounding::kUp).value == 1.125);
  CHECK(Oracle(e4m3, -1.01, Rounding::kUp).value == -1.0);
  // Subnormals: grid 2^-9; 1.5 * 2^-10 is nearer 2^-9 than 0; 2^-10 is the tie.
  CHECK(Oracle(e4m3, 0x1.8p-10, Rounding::kNearestEven).value == 0x1p-9);
  CHECK(Oracle(e4m3, 0x1p-10, Rounding::kNearestEven).value == 0.0);  // tie to even 0
  CHECK(Oracle(e4m3, 0x1p-10, Rounding::kNearestAway).value == 0x1p-9);
  // Overflow: e4m3 max 240, 248 is the tie with 256 -> infinity; rtz clamps.
  CHECK(std::isinf(Oracle(e4m3, 248.0, Rounding::kNearestEven).value));
  CHECK(Oracle(e4m3, 247.0, Rounding::kNearestEven).value == 240.0);
  CHECK(Oracle(e4m3, 1e300, Rounding::kTowardZero).value == 240.0);
  CHECK(Oracle(formats::kF16, 65519.99, Rounding::kNearestEven).value == 65504.0);
  CHECK(std::isinf(Oracle(formats::kF16, 65520.0, Rounding::kNearestEven).value));
  CHECK(std::isnan(Oracle(formats::kE4m3fn, 470.0, Rounding::kNearestEven).value));
  CHECK(Oracle(formats::kE4m3fn, 460.0, Rounding::kNearestEven).value == 448.0);
}

TEST_CASE("the inputs include the double-rounding traps around every e4m3 midpoint") {
  const std::vector<double> in = Inputs(formats::kE4m3, 1);
  auto has = [&](double v) { return std::find(in.begin(), in.end(), v) != in.end(); };
  CHECK(has(std::nextafter(1.0625, INFINITY)));
  CHECK(has(1.0625 * (1 + 0x1p-30)));
  CHECK(has(-std::nextafter(0x1p-10, 0.0)));  // below the first subnormal midpoint
  CHECK(has(248.0));                          // the overflow threshold
}

TEST_CASE("float64 -> IEEE-like formats equals MPFR for rne rna rtz rup rdn") {
  // e4m3fn (no infinity: overflow gives NaN) rides along; the custom eEmM
  // specs are IEEE-like by default (formats/spec_parser.h).
  for (const char* spec : {"f32", "f16", "bf16", "tf32", "e5m2", "e4m3", "e3m4", "e4m3fn",
                           "e5m6", "e6m3", "e3m2", "e8m14"}) {
    const int failures = CheckFormat(Named(spec));
    CHECK_MESSAGE(failures == 0, std::string(spec));
  }
}
