// analysis/: ErrorStats, Log2Histogram and RelErrorHistogram on cases whose
// answers are worked out here by hand (dyadic values, so every sum is exact
// and compared with ==), and binades checked against an independent
// reference that reads them from a double's bit fields (not frexp).
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "analysis/error_stats.h"
#include "analysis/histogram.h"
#include "formats/policy.h"

using namespace floatscope;
using floatscope::analysis::ErrorStats;
using floatscope::analysis::Log2Histogram;
using floatscope::analysis::RelErrorHistogram;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

// floor(log2 |x|) of a finite nonzero double from its bit fields: the
// exponent field for a normal number; for a subnormal, the position of the
// leading mantissa bit (value = mantissa * 2^-1074).
int BinadeFromBits(double x) {
  const uint64_t bits = std::bit_cast<uint64_t>(x) & ~(uint64_t{1} << 63);
  const int field = static_cast<int>(bits >> 52);
  const uint64_t mantissa = bits & ((uint64_t{1} << 52) - 1);
  if (field != 0) return field - 1023;
  return (63 - std::countl_zero(mantissa)) - 1074;
}

// Every field of two stats, exactly (NaN-free sums in these tests).
void CheckSame(const ErrorStats& a, const ErrorStats& b) {
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

void CheckSame(const Log2Histogram& a, const Log2Histogram& b) {
  CHECK(a.Zeros() == b.Zeros());
  CHECK(a.NonFinite() == b.NonFinite());
  CHECK(a.Total() == b.Total());
  for (int e = Log2Histogram::kMinExp; e <= Log2Histogram::kMaxExp; ++e) {
    INFO("binade " << e);
    CHECK(a.Binade(e) == b.Binade(e));
  }
}

// A deterministic mix of dyadic values (k / 8 for small integers k: every
// square, product and sum below is exact), zeros and specials, as pairs.
struct Pairs {
  std::vector<double> ref, out;
};

Pairs MixedPairs(size_t n) {
  Pairs p;
  uint64_t s = 12345;
  auto next = [&s] {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return s >> 33;
  };
  for (size_t i = 0; i < n; ++i) {
    const double r = (static_cast<double>(next() % 257) - 128.0) / 8.0;
    double o = r + (static_cast<double>(next() % 9) - 4.0) / 8.0;
    switch (next() % 16) {
      case 0: o = 0; break;      // flushed (or a zero pair)
      case 1: o = kInf; break;   // overflowed
      case 2: o = kNan; break;
      case 3: o = r; break;      // exact
      default: break;
    }
    double rr = r;
    if (next() % 29 == 0) rr = kNan;
    if (next() % 31 == 0) rr = -kInf;
    p.ref.push_back(rr);
    p.out.push_back(o);
  }
  return p;
}

}  // namespace

TEST_CASE("ErrorStats: exact small sums") {
  // ref 1, 2, -3, 1/2 stored as 3/2, 2, -2, 1/2: errors 1/2, 0, 1, 0.
  ErrorStats s;
  s.Add(1, 1.5);
  s.Add(2, 2);
  s.Add(-3, -2);
  s.Add(0.5, 0.5);
  CHECK(s.elements == 4);
  CHECK(s.compared == 4);
  CHECK(s.nonzero == 4);
  CHECK(s.flushed == 0);
  CHECK(s.overflowed == 0);
  CHECK(s.max_abs_err == 1.0);
  CHECK(s.max_rel_err == 0.5);  // 1/2 at ref 1 beats 1/3 at ref -3
  CHECK(s.sum_sq_err == 1.25);
  CHECK(s.sum_sq_ref == 14.25);
  CHECK(s.sum_sq_out == 10.5);
  CHECK(s.sum_ref_out == 11.75);  // 1.5 + 4 + 6 + 0.25
  CHECK(s.Rmse() == std::sqrt(0.3125));
  CHECK(s.RelL2() == std::sqrt(1.25 / 14.25));
  CHECK(s.SqnrDb() == doctest::Approx(10.5690).epsilon(1e-4));  // 10 log10(11.4)
  CHECK(s.FlushedFrac() == 0.0);
  CHECK(s.EnergyLost() == 0.0);
}

TEST_CASE("ErrorStats: SQNR of a known ratio, and of exact results") {
  ErrorStats s;  // signal 3^2 + 4^2 = 25, noise 1/2^2 = 1/4: ratio 100, 20 dB
  s.Add(3, 3);
  s.Add(4, 4.5);
  CHECK(s.SqnrDb() == 20.0);
  ErrorStats exact;
  exact.Add(3, 3);
  CHECK(exact.SqnrDb() == kInf);
  CHECK(exact.Rmse() == 0.0);
  CHECK(exact.Cosine() == 1.0);
}

TEST_CASE("ErrorStats: empty") {
  const ErrorStats s;
  CHECK(s.Rmse() == 0.0);
  CHECK(s.SqnrDb() == kInf);
  CHECK(s.RelL2() == 0.0);
  CHECK(s.Cosine() == 1.0);
  CHECK(s.FlushedFrac() == 0.0);
  CHECK(s.EnergyLost() == 0.0);
  CHECK(s.OverflowFrac() == 0.0);
}

TEST_CASE("ErrorStats: energy lost when values flush to zero") {
  ErrorStats s;
  s.Add(1, 0);     // flushed
  s.Add(-1, -0.0); // flushed (a negative zero is a zero)
  s.Add(1, 1);
  s.Add(1, 1);
  s.Add(0, 0);     // a zero input: not nonzero, not flushed
  CHECK(s.elements == 5);
  CHECK(s.compared == 5);
  CHECK(s.nonzero == 4);
  CHECK(s.flushed == 2);
  CHECK(s.sum_sq_flushed == 2.0);
  CHECK(s.sum_sq_ref == 4.0);
  CHECK(s.FlushedFrac() == 0.5);
  CHECK(s.EnergyLost() == 0.5);
  CHECK(s.max_rel_err == 1.0);
  CHECK(s.max_abs_err == 1.0);
  CHECK(s.sum_sq_err == 2.0);
  // <ref, out> = 2, ||ref|| = 2, ||out|| = sqrt(2).
  CHECK(s.Cosine() == doctest::Approx(1.0 / std::sqrt(2.0)));

  ErrorStats tiny;  // float64 subnormal and tiny normal inputs flushed
  tiny.Add(0x1p-1074, 0);
  tiny.Add(-0x1p-537, 0);
  tiny.Add(0x1p-537, 0x1p-537);
  CHECK(tiny.flushed == 2);
  CHECK(tiny.nonzero == 3);
  CHECK(tiny.sum_sq_flushed == 0x1p-1074);  // (2^-1074)^2 underflows to 0; (2^-537)^2 = 2^-1074
  CHECK(tiny.EnergyLost() == 0.5);
}

TEST_CASE("ErrorStats: cosine of orthogonal, parallel and opposite vectors") {
  ErrorStats orth;  // ref (1, 0), out (0, 1)
  orth.Add(1, 0);
  orth.Add(0, 1);
  CHECK(orth.Cosine() == 0.0);
  CHECK(orth.flushed == 1);
  ErrorStats par;  // out = 2 ref: <r, o> = 50, ||r|| = 5, ||o|| = 10
  par.Add(3, 6);
  par.Add(4, 8);
  CHECK(par.Cosine() == 1.0);
  CHECK(par.RelL2() == 1.0);
  ErrorStats opp;  // out = -ref
  opp.Add(3, -3);
  opp.Add(4, -4);
  CHECK(opp.Cosine() == -1.0);
  CHECK(opp.RelL2() == 2.0);
  CHECK(opp.max_rel_err == 2.0);
  ErrorStats half_zero;  // out all zero, ref not: no direction to compare
  half_zero.Add(3, 0);
  CHECK(half_zero.Cosine() == 0.0);
}

TEST_CASE("ErrorStats: non-finite inputs and outputs") {
  ErrorStats s;
  s.Add(kNan, kNan);   // NaN input: counted, not compared
  s.Add(kInf, kInf);   // infinite input
  s.Add(-kInf, 0);     // infinite input, zero output: not flushed
  s.Add(5, kInf);      // overflowed to inf
  s.Add(-5, kNan);     // overflowed to NaN
  s.Add(0, kNan);      // a zero input that became NaN
  s.Add(2, 2.5);
  CHECK(s.elements == 7);
  CHECK(s.nan_inputs == 1);
  CHECK(s.inf_inputs == 2);
  CHECK(s.nan_outputs == 3);
  CHECK(s.inf_outputs == 2);
  CHECK(s.overflowed == 3);
  CHECK(s.nonzero == 3);  // 5, -5, 2: every finite nonzero ref, whatever its output
  CHECK(s.compared == 1);
  CHECK(s.flushed == 0);
  CHECK(s.max_abs_err == 0.5);
  CHECK(s.max_rel_err == 0.25);
  CHECK(s.sum_sq_err == 0.25);
  CHECK(s.sum_sq_ref == 4.0);
  CHECK(s.OverflowFrac() == doctest::Approx(3.0 / 7.0));
  CHECK(s.saturated == 0);  // only the flags count it
}

TEST_CASE("ErrorStats: saturated from the cast's flags") {
  ErrorStats s;
  s.Add(1000, 448, kOverflow | kInexact);  // clamped to e4m3fn's max
  s.Add(1000, kNan, kInvalid);
  s.Add(kInf, 448, kOverflow);             // an infinite input clamped: counts
  s.Add(kNan, 0, kInvalid);                // a NaN input never counts
  s.Add(1, 1.125, kInexact | kUnderflow);  // rounding alone does not count
  s.Add(1, 1);                             // no flags given
  CHECK(s.saturated == 3);
  CHECK(s.elements == 6);
  ErrorStats t;
  t.Add(1000, 448);
  t.saturated = 7;  // a caller that counts its casts' flags itself
  s += t;
  CHECK(s.saturated == 10);
}

TEST_CASE("ErrorStats: operator+= equals counting all at once") {
  const Pairs p = MixedPairs(3000);
  ErrorStats all;
  for (size_t i = 0; i < p.ref.size(); ++i) all.Add(p.ref[i], p.out[i], i % 7 == 0 ? kOverflow : 0);
  CHECK(all.flushed > 0);
  CHECK(all.overflowed > 0);
  CHECK(all.nan_inputs > 0);
  CHECK(all.inf_inputs > 0);
  for (const size_t parts : {1, 2, 3, 7, 64}) {
    INFO(parts << " parts");
    ErrorStats sum;
    const size_t n = p.ref.size();
    for (size_t k = 0; k < parts; ++k) {
      ErrorStats part;
      for (size_t i = k * n / parts; i < (k + 1) * n / parts; ++i)
        part.Add(p.ref[i], p.out[i], i % 7 == 0 ? kOverflow : 0);
      sum += part;
    }
    CheckSame(sum, all);
  }
}

TEST_CASE("ErrorStats: Compare over arrays is Add in order") {
  const Pairs p = MixedPairs(500);
  ErrorStats want;
  for (size_t i = 0; i < p.ref.size(); ++i) want.Add(p.ref[i], p.out[i]);
  CheckSame(analysis::Compare(p.ref.data(), p.out.data(), p.ref.size()), want);
  std::vector<float> r32(p.ref.begin(), p.ref.end()), o32(p.out.begin(), p.out.end());  // k/8: exact in float
  CheckSame(analysis::Compare(r32.data(), o32.data(), r32.size()), want);
  CheckSame(analysis::Compare(p.ref.data(), o32.data(), r32.size()), want);
}

TEST_CASE("RelError and Median") {
  CHECK(analysis::RelError(4, 3) == 0.25);
  CHECK(analysis::RelError(-4, -5) == 0.25);
  CHECK(analysis::RelError(1, 0) == 1.0);
  CHECK(analysis::RelError(1, -1) == 2.0);
  std::vector<double> none;
  CHECK(analysis::Median(none) == 0.0);
  std::vector<double> one{5};
  CHECK(analysis::Median(one) == 5.0);
  std::vector<double> odd{3, 1, 2};
  CHECK(analysis::Median(odd) == 2.0);
  std::vector<double> even{4, 1, 3, 2};
  CHECK(analysis::Median(even) == 2.5);
  std::vector<double> ties{7, 1, 7, 7, 1, 1};
  CHECK(analysis::Median(ties) == 4.0);
}

TEST_CASE("Log2Histogram: every power of two and its neighbours, subnormals included") {
  for (int e = -1074; e <= 1023; ++e) {
    INFO("2^" << e);
    const double p = std::ldexp(1.0, e);
    const double up = std::nextafter(p, kInf), down = std::nextafter(p, 0.0);
    REQUIRE(BinadeFromBits(p) == e);
    Log2Histogram h;
    h.Add(p);
    h.Add(-p);
    CHECK(h.Binade(e) == 2);
    if (e < 1023 || up != kInf) {
      h.Add(up);
      CHECK(h.Binade(BinadeFromBits(up)) >= 1);
      // Above 2^-1074 the next double up is in the same binade; above the
      // smallest subnormal it is 2^-1073.
      CHECK(BinadeFromBits(up) == (e == -1074 ? -1073 : e));
    }
    h.Add(down);
    if (e == -1074) {
      CHECK(down == 0.0);
      CHECK(h.Zeros() == 1);
    } else {
      CHECK(BinadeFromBits(down) == e - 1);
      CHECK(h.Binade(e - 1) == 1);
    }
    CHECK(h.Binade(e) == (e == -1074 ? 2u : 3u));
    CHECK(h.Total() == 4);
    CHECK(h.Below(e) == (e == -1074 ? 0u : 1u));
    CHECK(h.AtLeast(e) == 3);
  }
  Log2Histogram top;
  top.Add(std::numeric_limits<double>::max());
  top.Add(-std::numeric_limits<double>::denorm_min());
  CHECK(top.Binade(1023) == 1);
  CHECK(top.Binade(-1074) == 1);
  CHECK(top.Binade(1024) == 0);
  CHECK(top.Binade(-1075) == 0);
  CHECK(top.Binade(5000) == 0);   // out of range: nothing there
  CHECK(top.Binade(-5000) == 0);
}

TEST_CASE("Log2Histogram: binades of spread values against the bit fields") {
  Log2Histogram h;
  std::vector<int> want(2200, 0);
  uint64_t s = 99;
  for (int i = 0; i < 20000; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    // Random mantissa and exponent field; one in eight a subnormal.
    uint64_t bits = (s >> 11) & ((uint64_t{1} << 52) - 1);
    if (i % 8 != 0) bits |= ((s >> 3) % 2047) << 52;
    const double x = std::bit_cast<double>(bits);
    if (x == 0) continue;
    h.Add(s & 1 ? -x : x);
    ++want[static_cast<size_t>(BinadeFromBits(x) + 1075)];
  }
  for (int e = -1075; e <= 1024; ++e) {
    INFO("binade " << e);
    CHECK(h.Binade(e) == static_cast<uint64_t>(want[static_cast<size_t>(e + 1075)]));
  }
}

TEST_CASE("Log2Histogram: zeros, non-finite values, Below, AtLeast, Clamped") {
  Log2Histogram h;
  for (const double x : {0.0, -0.0, kInf, -kInf, kNan}) h.Add(x);
  CHECK(h.Zeros() == 2);
  CHECK(h.NonFinite() == 3);
  CHECK(h.Total() == 5);
  CHECK(h.Below(Log2Histogram::kMaxExp + 1) == 0);
  for (int k = -3; k <= 3; ++k) h.Add(std::ldexp(k % 2 ? -1.0 : 1.0, k));  // 2^-3 ... 2^3
  h.Add(1.5);                                                              // binade 0
  CHECK(h.Total() == 13);
  CHECK(h.Below(0) == 3);    // 2^-3, 2^-2, 2^-1
  CHECK(h.Below(1) == 5);    // and 1, 1.5
  CHECK(h.Below(-3) == 0);
  CHECK(h.Below(-2) == 1);
  CHECK(h.Below(4) == 8);
  CHECK(h.Below(Log2Histogram::kMinExp) == 0);
  CHECK(h.Below(100000) == 8);
  CHECK(h.AtLeast(0) == 5);
  CHECK(h.AtLeast(3) == 1);
  CHECK(h.AtLeast(4) == 0);
  CHECK(h.AtLeast(-100000) == 8);
  for (int e = -6; e <= 6; ++e) CHECK(h.Below(e) + h.AtLeast(e) == 8);
  CHECK(h.Clamped(-1, 1) == std::vector<uint64_t>{3, 2, 3});  // <= 2^-1 | [1, 2) | >= 2
  CHECK(h.Clamped(-2, 2) == std::vector<uint64_t>{2, 1, 2, 1, 2});
  CHECK(h.Clamped(0, 0) == std::vector<uint64_t>{8});
  CHECK(h.Clamped(-10, -9) == std::vector<uint64_t>{0, 8});
  CHECK(h.Clamped(1, 0).empty());
}

TEST_CASE("Log2Histogram: JSON trimmed to the first and last nonempty binade") {
  Log2Histogram h;
  CHECK(h.ToJson() == nlohmann::json::parse(R"({"zeros":0,"nonfinite":0,"min_exp":0,"counts":[]})"));
  h.Add(0.125);
  h.Add(1.0);
  h.Add(-1.75);
  h.Add(4.0);
  h.Add(0.0);
  h.Add(kNan);
  CHECK(h.ToJson() ==
        nlohmann::json::parse(R"({"zeros":1,"nonfinite":1,"min_exp":-3,"counts":[1,0,0,2,0,1]})"));
  Log2Histogram sub;
  sub.Add(std::numeric_limits<double>::denorm_min());
  sub.Add(0x1p-1072);
  CHECK(sub.ToJson() == nlohmann::json::parse(R"({"zeros":0,"nonfinite":0,"min_exp":-1074,"counts":[1,0,1]})"));
}

TEST_CASE("Log2Histogram: operator+= and AddArray equal counting all at once") {
  const Pairs p = MixedPairs(2000);
  Log2Histogram all;
  for (const double x : p.out) all.Add(x);
  Log2Histogram sum, arr;
  const size_t half = p.out.size() / 3;
  for (size_t i = 0; i < half; ++i) sum.Add(p.out[i]);
  Log2Histogram rest;
  rest.AddArray(p.out.data() + half, p.out.size() - half);
  sum += rest;
  CheckSame(sum, all);
  const std::vector<float> f(p.out.begin(), p.out.end());
  arr.AddArray(f.data(), f.size());
  CheckSame(arr, all);
}

TEST_CASE("RelErrorHistogram: one bucket per finite nonzero ref") {
  RelErrorHistogram h;
  h.Add(0, 1);          // zero ref: not counted
  h.Add(kNan, 1);       // non-finite refs: not counted
  h.Add(kInf, kInf);
  h.Add(3, 3);          // exact
  h.Add(-0x1p-1074, -0x1p-1074);
  h.Add(1, 0);          // lost: flushed, overflowed, NaN
  h.Add(1, kInf);
  h.Add(1, kNan);
  h.Add(1, 1.25);       // 1/4: binade -2
  h.Add(4, 3);          // 1/4: binade -2
  h.Add(1, 1 + 0x1p-52);  // binade -52
  h.Add(1, 3);          // 2: binade 1
  h.Add(0x1p-1074, 0x1p-1073);  // 1: binade 0
  CHECK(h.exact == 2);
  CHECK(h.lost == 3);
  CHECK(h.errors.Total() == 5);
  CHECK(h.errors.Binade(-2) == 2);
  CHECK(h.errors.Binade(-52) == 1);
  CHECK(h.errors.Binade(1) == 1);
  CHECK(h.errors.Binade(0) == 1);
  CHECK(h.Total() == 10);
  // format_compare's buckets: -30 and below, -29 ... -1, 0 and above.
  const std::vector<uint64_t> bins = h.errors.Clamped(-30, 0);
  REQUIRE(bins.size() == 31);
  CHECK(bins[0] == 1);       // 2^-52
  CHECK(bins[28] == 2);      // 2^-2
  CHECK(bins[30] == 2);      // 1 and 2
  RelErrorHistogram a, b;
  a.Add(3, 3);
  a.Add(1, 1.25);
  b.Add(1, 0);
  b.Add(1, 3);
  a += b;
  CHECK(a.exact == 1);
  CHECK(a.lost == 1);
  CHECK(a.errors.Binade(-2) == 1);
  CHECK(a.errors.Binade(1) == 1);
  CHECK(a.Total() == 4);
}
