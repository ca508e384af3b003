// emulate/dot.h: each accumulation model against an independent oracle.
//   - f32 and f64 sequential / fused / pairwise dot products against the
//     host's IEEE arithmetic (loops of float ops, std::fma chains, the same
//     pairwise tree), results and the OR of the flags, in rne, rdn and rup;
//   - mixed formats (e4m3fn, bf16, f16 inputs; f32 accumulator) against host
//     float loops (their products are exact in float);
//   - kExact and kBlock against exact rational sums (GMP) rounded by the
//     table reference (tests/arith/exact_reference.h), f16/bf16/e4m3fn
//     inputs into f16 and bf16 accumulators;
//   - kHardware (aligned, truncated group sums) against a separate
//     reference: products in double, the cut by ilogb/ldexp/trunc, group
//     sums as GMP rationals rounded by the table reference, promotion into
//     fp32 by host float adds;
//   - specials, zero signs, GEMM indexing, and the textbook behaviour
//     (a long f16 sum stagnates sequentially, not pairwise or in blocks).
// This file is built with -frounding-math (the host oracle changes modes).
#include <doctest/doctest.h>

#include <cfenv>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "emulate/dot.h"
#include "emulate/h100_tensor_core.h"
#include "formats/catalog.h"
#include "formats/convert.h"
#include "tests/arith/arith_compare.h"
#include "tests/arith/host_fenv.h"

using namespace floatscope;
using arith_test::Draw;
using arith_test::FromBits;

namespace {

uint8_t HostFlags() { return arith_test::FlagsFromHost(std::fetestexcept(FE_ALL_EXCEPT)); }

// The host's dot product of T values under the current rounding mode.
template <typename T>
T HostPairwise(const std::vector<T>& q, size_t l, size_t r) {
  if (r - l == 1) return q[l];
  const size_t m = l + (r - l) / 2;
  volatile T x = HostPairwise(q, l, m);
  volatile T y = HostPairwise(q, m, r);
  volatile T s = x + y;
  return s;
}

template <typename T>
Result HostDot(Accumulation model, const std::vector<T>& a, const std::vector<T>& b) {
  std::feclearexcept(FE_ALL_EXCEPT);
  volatile T s = 0;
  const size_t n = a.size();
  if (model == Accumulation::kSequential) {
    for (size_t i = 0; i < n; ++i) {
      volatile T p = a[i] * b[i];
      s = s + p;
    }
  } else if (model == Accumulation::kFused) {
    for (size_t i = 0; i < n; ++i) s = std::fma(a[i], b[i], T(s));
  } else {
    std::vector<T> q(n);
    for (size_t i = 0; i < n; ++i) {
      volatile T p = a[i] * b[i];
      q[i] = p;
    }
    s = HostPairwise(q, 0, n);
  }
  const uint8_t flags = HostFlags();
  const T out = s;
  return Result{BitsOf(out), flags};
}

// Random values of a format T with exponents spread over +-spread binades
// around 1 (products and sums then overflow/underflow rarely but do cancel).
template <typename T>
std::vector<T> RandomValues(uint64_t seed, uint64_t trial, size_t n, int spread) {
  std::vector<T> v(n);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t r = Draw(seed, trial, i);
    const double mant = 1.0 + static_cast<double>(r >> 11) * 0x1p-53;
    const int e = static_cast<int>((r >> 3) % (2 * spread + 1)) - spread;
    v[i] = static_cast<T>(((r & 1) ? -mant : mant) * std::ldexp(1.0, e));
  }
  return v;
}

template <typename T>
void CompareWithHost(const Format& f, int spread) {
  const struct {
    Rounding mode;
    int host;
  } modes[] = {{Rounding::kNearestEven, FE_TONEAREST}, {Rounding::kDown, FE_DOWNWARD}, {Rounding::kUp, FE_UPWARD}};
  for (const auto& m : modes) {
    for (Accumulation model : {Accumulation::kSequential, Accumulation::kFused, Accumulation::kPairwise}) {
      int failed = 0;
      for (uint64_t trial = 0; trial < 1500; ++trial) {
        const size_t n = 1 + Draw(7, trial, 99) % 200;
        const std::vector<T> a = RandomValues<T>(11, trial, n, spread), b = RandomValues<T>(13, trial, n, spread);
        std::vector<uint64_t> ca(n), cb(n);
        for (size_t i = 0; i < n; ++i) {
          ca[i] = BitsOf(a[i]);
          cb[i] = BitsOf(b[i]);
        }
        std::fesetround(m.host);
        const Result host = HostDot<T>(model, a, b);
        std::fesetround(FE_TONEAREST);
        Options opt;
        opt.rounding = m.mode;
        DotModel dm;
        dm.accumulation = model;
        const Result got = Dot(f, ca.data(), 1, cb.data(), 1, n, f, dm, opt);
        const bool both_nan = IsNanCode(f, got.code) && IsNanCode(f, host.code);  // x86's NaN is negative
        if ((got.code != host.code && !both_nan) || got.flags != host.flags) {
          if (++failed <= 3)
            FAIL_CHECK(std::string(f.name) << " model " << int(model) << " mode "
                                           << std::string(RoundingNameOf(m.mode)) << " trial " << trial << ": host "
                                           << host.code << "/" << int(host.flags) << ", floatscope " << got.code
                                           << "/" << int(got.flags));
        }
      }
      CHECK_MESSAGE(failed == 0, std::string(f.name) << " model " << int(model) << " "
                                            << std::string(RoundingNameOf(m.mode)));
    }
  }
}

}  // namespace

TEST_CASE("f32 and f64 dot products equal the host's loops, fma chains and pairwise trees") {
  CompareWithHost<float>(formats::kF32, 70);    // some products overflow or underflow
  CompareWithHost<double>(formats::kF64, 540);  // ... and here too
  CompareWithHost<float>(formats::kF32, 4);     // mostly cancellation and rounding
}

TEST_CASE("mixed formats: e4m3fn, bf16 and f16 inputs accumulated in f32") {
  for (const Format* in : {&formats::kE4m3fn, &formats::kBf16, &formats::kF16}) {
    int failed = 0;
    for (uint64_t trial = 0; trial < 2000; ++trial) {
      const size_t n = 1 + Draw(3, trial, 99) % 300;
      std::vector<uint64_t> ca(n), cb(n);
      std::vector<float> a(n), b(n);
      for (size_t i = 0; i < n; ++i) {
        // Finite codes only: NaN/inf handling is checked elsewhere.
        auto finite = [&](uint64_t seed) {
          for (uint64_t tries = 0;; ++tries) {
            const uint64_t code = Draw(seed, trial, i * 1000 + tries) & CodeMask(*in);
            if (!IsNanCode(*in, code) && !IsInfCode(*in, code)) return code;
          }
        };
        ca[i] = finite(5);
        cb[i] = finite(6);
        a[i] = DecodeToF32(*in, ca[i]);  // exact
        b[i] = DecodeToF32(*in, cb[i]);
      }
      for (Accumulation model : {Accumulation::kSequential, Accumulation::kFused, Accumulation::kPairwise}) {
        const Result host = HostDot<float>(model, a, b);
        DotModel dm;
        dm.accumulation = model;
        const Result got = Dot(*in, ca.data(), 1, cb.data(), 1, n, formats::kF32, dm);
        const bool both_nan = IsNanCode(formats::kF32, got.code) && IsNanCode(formats::kF32, host.code);
        if ((got.code != host.code && !both_nan) || got.flags != host.flags) {
          if (++failed <= 3)
            FAIL_CHECK(std::string(in->name) << " -> f32, model " << int(model) << " trial " << trial
                                             << ": host " << host.code << "/" << int(host.flags) << ", floatscope "
                                             << got.code << "/" << int(got.flags));
        }
      }
    }
    CHECK_MESSAGE(failed == 0, std::string(in->name));
  }
}

namespace {

using arith_ref::Rational;

// The reference of kBlock with blocks of k (k >= n: kExact): each block's
// exact sum added exactly to the accumulator value, rounded once.
arith_ref::RefResult ReferenceBlocks(const arith_test::FormatPair& in, const arith_test::FormatPair& acc,
                                     const std::vector<uint64_t>& a, const std::vector<uint64_t>& b, size_t k,
                                     Rounding mode) {
  arith_ref::RefResult s{0, 0};  // +0
  uint8_t flags = 0;
  for (size_t start = 0; start < a.size(); start += k) {
    // Once the accumulator has overflowed to infinity it stays there
    // (infinity plus finite products: exact, no flags).
    if (sweep::DecodeByDefinition(acc.ref.definition(), s.code).cls != sweep::CodeClass::kFinite) break;
    Rational sum = acc.ref.ValueOf(s.code);
    for (size_t i = start; i < a.size() && i < start + k; ++i)
      sum += in.ref.ValueOf(static_cast<uint32_t>(a[i])) * in.ref.ValueOf(static_cast<uint32_t>(b[i]));
    if (sum == 0) {
      s = {mode == Rounding::kDown ? static_cast<uint32_t>(SignBit(*acc.core)) : 0u, 0};
      continue;
    }
    s = acc.ref.RoundRational(sum, mode);
    flags |= s.flags;
  }
  return {s.code, flags};
}

}  // namespace

TEST_CASE("kExact and kBlock equal exact rational sums rounded by the table reference") {
  const char* pairs[][2] = {{"f16", "f16"}, {"f16", "bf16"}, {"e4m3fn", "f16"}, {"e4m3fn", "bf16"}, {"bf16", "bf16"}};
  for (const auto& p : pairs) {
    const arith_test::FormatPair in(p[0]), acc(p[1]);
    for (Rounding mode : arith_test::kDeterministicModes) {
      int failed = 0;
      for (uint64_t trial = 0; trial < 400; ++trial) {
        const size_t n = 1 + Draw(21, trial, 99) % 64;
        std::vector<uint64_t> a(n), b(n);
        // Half the trials: values near 1 (cancellation, ties). The other
        // half: exponents spread wide, so exact sums span far more than 64
        // bits and the accumulator's sticky bit decides directed roundings.
        const bool wide = trial % 2 == 1;
        const int spread = std::string(p[0]) == "bf16" ? 50 : std::string(p[0]) == "f16" ? 10 : 6;
        for (size_t i = 0; i < n; ++i) {
          double x = (static_cast<double>(Draw(22, trial, i) % 2001) - 1000) / 250.0;
          double y = (static_cast<double>(Draw(23, trial, i) % 2001) - 1000) / 300.0;
          if (wide) {
            x = std::ldexp(x, static_cast<int>(Draw(24, trial, i) % (2 * spread + 1)) - spread);
            y = std::ldexp(y, static_cast<int>(Draw(25, trial, i) % (2 * spread + 1)) - spread);
          }
          a[i] = EncodeFromF64(*in.core, x).code;
          b[i] = EncodeFromF64(*in.core, y).code;
        }
        for (size_t k : {size_t{1000}, size_t{4}, size_t{1}}) {
          DotModel dm;
          dm.accumulation = k == 1000 ? Accumulation::kExact : Accumulation::kBlock;
          dm.block = static_cast<uint32_t>(k);
          Options opt;
          opt.rounding = mode;
          const Result got = Dot(*in.core, a.data(), 1, b.data(), 1, n, *acc.core, dm, opt);
          const arith_ref::RefResult want = ReferenceBlocks(in, acc, a, b, k, mode);
          if (got.code != want.code || got.flags != want.flags) {
            if (++failed <= 3)
              FAIL_CHECK(std::string(p[0]) << " -> " << std::string(p[1]) << " block " << k << " "
                                            << std::string(RoundingNameOf(mode)) << " trial "
                              << trial << ": reference " << want.code << "/" << int(want.flags) << ", floatscope "
                              << got.code << "/" << int(got.flags));
          }
        }
      }
      CHECK_MESSAGE(failed == 0, std::string(p[0]) << " -> " << std::string(p[1]) << " "
                                                   << std::string(RoundingNameOf(mode)));
    }
  }
}

TEST_CASE("kBlock with block 1 is kFused; with block >= n it is kExact") {
  for (uint64_t trial = 0; trial < 500; ++trial) {
    const size_t n = 1 + Draw(31, trial, 99) % 100;
    std::vector<uint64_t> a(n), b(n);
    for (size_t i = 0; i < n; ++i) {
      a[i] = Draw(32, trial, i) & 0xFFFF;
      b[i] = Draw(33, trial, i) & 0xFFFF;
    }
    for (Rounding mode : {Rounding::kNearestEven, Rounding::kOdd, Rounding::kStochastic}) {
      Options opt;
      opt.rounding = mode;
      opt.seed = trial;
      DotModel fused{Accumulation::kFused}, block1{Accumulation::kBlock, 1}, exact{Accumulation::kExact},
          block_n{Accumulation::kBlock, static_cast<uint32_t>(n)};
      const Result f = Dot(formats::kF16, a.data(), 1, b.data(), 1, n, formats::kF16, fused, opt);
      const Result b1 = Dot(formats::kF16, a.data(), 1, b.data(), 1, n, formats::kF16, block1, opt);
      CHECK((f.code == b1.code || (IsNanCode(formats::kF16, f.code) && IsNanCode(formats::kF16, b1.code))));
      CHECK(f.flags == b1.flags);
      const Result e = Dot(formats::kF16, a.data(), 1, b.data(), 1, n, formats::kF32, exact, opt);
      const Result bn = Dot(formats::kF16, a.data(), 1, b.data(), 1, n, formats::kF32, block_n, opt);
      CHECK(e.code == bn.code);
      CHECK(e.flags == bn.flags);
    }
  }
}

TEST_CASE("dot specials and exact zeros") {
  const Format& h = formats::kF16;
  auto dot = [&](std::vector<uint64_t> a, std::vector<uint64_t> b, Accumulation m,
                 Rounding r = Rounding::kNearestEven) {
    Options opt;
    opt.rounding = r;
    return Dot(h, a.data(), 1, b.data(), 1, a.size(), h, DotModel{m, 2}, opt);
  };
  for (Accumulation m : {Accumulation::kSequential, Accumulation::kFused, Accumulation::kPairwise,
                         Accumulation::kBlock, Accumulation::kExact, Accumulation::kHardware}) {
    INFO("model " << int(m));
    // 1*1 + (-1)*1 = +0 exactly; -0 toward -inf.
    CHECK(dot({0x3C00, 0xBC00}, {0x3C00, 0x3C00}, m).code == 0x0000);
    CHECK(dot({0x3C00, 0xBC00}, {0x3C00, 0x3C00}, m, Rounding::kDown).code == 0x8000);
    // A NaN operand gives NaN; 0 * inf gives the default NaN with invalid.
    CHECK(IsNanCode(h, dot({0x3C00, 0x7E00}, {0x3C00, 0x3C00}, m).code));
    const Result zi = dot({0x0000, 0x3C00}, {0x7C00, 0x3C00}, m);
    CHECK(IsNanCode(h, zi.code));
    CHECK((zi.flags & kInvalid) != 0);
    // inf + (-inf) inside the sum: invalid; inf + finite: inf.
    const Result ii = dot({0x7C00, 0xFC00}, {0x3C00, 0x3C00}, m);
    CHECK(IsNanCode(h, ii.code));
    CHECK((ii.flags & kInvalid) != 0);
    CHECK(dot({0x7C00, 0x3C00}, {0xBC00, 0x3C00}, m).code == 0xFC00);
    // Overflow: 2 * 60000 = 120000 -> inf with overflow and inexact.
    const Result ov = dot({0x4000}, {0x7B53}, m);
    CHECK(ov.code == 0x7C00);
    CHECK(ov.flags == (kOverflow | kInexact));
  }
  // Exact cancellation differs between models: 2^11 + 1 - 2^11.
  // Sequential: (2048 + 1) rounds to 2048 (tie to even), then - 2048 = 0;
  // exact: 1.
  const std::vector<uint64_t> a = {0x6800, 0x3C00, 0xE800}, one = {0x3C00, 0x3C00, 0x3C00};
  CHECK(dot(a, one, Accumulation::kSequential).code == 0x0000);
  CHECK(dot(a, one, Accumulation::kExact).code == 0x3C00);
}

TEST_CASE("a long f16 sum: sequential stagnates, pairwise, blocks and stochastic rounding do not") {
  const size_t n = 4096;
  std::vector<uint64_t> ones(n, 0x3C00);
  auto sum = [&](DotModel m, Rounding r = Rounding::kNearestEven, uint64_t first = 0) {
    Options opt;
    opt.rounding = r;
    opt.seed = 5;
    return DecodeToF64(formats::kF16, Dot(formats::kF16, ones.data(), 1, ones.data(), 1, n, formats::kF16, m, opt,
                                          first).code);
  };
  CHECK(sum(DotModel{Accumulation::kSequential}) == 2048.0);  // 2048 + 1 ties back to 2048
  CHECK(sum(DotModel{Accumulation::kPairwise}) == 4096.0);
  CHECK(sum(DotModel{Accumulation::kBlock, 16}) == 4096.0);
  CHECK(sum(DotModel{Accumulation::kExact}) == 4096.0);
  const double sr = sum(DotModel{Accumulation::kSequential}, Rounding::kStochastic);
  CHECK(std::fabs(sr - 4096.0) < 200.0);  // unbiased on average: no stagnation
  CHECK(sum(DotModel{Accumulation::kSequential}, Rounding::kStochastic) == sr);  // reproducible
  CHECK(sum(DotModel{Accumulation::kSequential}, Rounding::kStochastic, 1 << 20) != sr);  // index-keyed
}

TEST_CASE("GEMM: each element is its dot product, with its own stochastic indices") {
  const size_t m = 5, n = 7, k = 33;
  std::vector<uint64_t> a(m * k), b(k * n), c(m * n);
  for (size_t i = 0; i < a.size(); ++i) a[i] = EncodeFromF64(formats::kBf16, std::sin(double(i))).code;
  for (size_t i = 0; i < b.size(); ++i) b[i] = EncodeFromF64(formats::kBf16, std::cos(double(i))).code;
  // kBlock with block 0 rounds after every product, as block 1 does (Dot):
  // its roundings count as such, so elements do not share indices.
  for (const DotModel& dm : {DotModel{Accumulation::kSequential, 8}, DotModel{Accumulation::kPairwise, 8},
                             DotModel{Accumulation::kBlock, 8}, DotModel{Accumulation::kBlock, 0}}) {
    Options opt;
    opt.rounding = Rounding::kStochastic;
    opt.seed = 77;
    Gemm(formats::kBf16, a.data(), b.data(), m, n, k, formats::kBf16, dm, c.data(), opt, 1000);
    const uint64_t per = RoundingsPerDot(dm, k);
    for (size_t i = 0; i < m; ++i)
      for (size_t j = 0; j < n; ++j) {
        const Result r = Dot(formats::kBf16, a.data() + i * k, 1, b.data() + j, n, k, formats::kBf16, dm, opt,
                             1000 + (i * n + j) * per);
        CHECK(c[i * n + j] == r.code);
      }
  }
  CHECK(RoundingsPerDot(DotModel{Accumulation::kSequential}, 10) == 20);
  CHECK(RoundingsPerDot(DotModel{Accumulation::kFused}, 10) == 10);
  CHECK(RoundingsPerDot(DotModel{Accumulation::kPairwise}, 10) == 19);
  CHECK(RoundingsPerDot(DotModel{Accumulation::kBlock, 4}, 10) == 3);
  CHECK(RoundingsPerDot(DotModel{Accumulation::kBlock, 0}, 10) == 10);
  CHECK(RoundingsPerDot(DotModel{Accumulation::kBlock, 1}, 10) == 10);
  CHECK(RoundingsPerDot(DotModel{Accumulation::kExact}, 10) == 1);
}

namespace {

struct HwParams {
  size_t group;
  int fraction_bits;
  bool include_accumulator;
  uint32_t promote_every;
};

// 2^k as an exact rational.
Rational Pow2(int k) {
  boost::multiprecision::mpz_int z = 1;
  z <<= (k < 0 ? -k : k);
  return k < 0 ? Rational(1) / Rational(z) : Rational(z);
}

int HostMode(Rounding mode) {
  switch (mode) {
    case Rounding::kDown: return FE_DOWNWARD;
    case Rounding::kUp: return FE_UPWARD;
    case Rounding::kTowardZero: return FE_TOWARDZERO;
    default: return FE_TONEAREST;
  }
}

// The reference of kHardware, written from the formula: every product is a
// double (exact for f16, bf16 and e4m3fn inputs), e is the largest ilogb of
// the group's nonzero terms, each term is trunc(x * 2^(F - e)) * 2^(e - F),
// the terms are added as rationals and rounded once by the table reference.
// Promotion (every > 0, modes rne/rtz/rdn/rup only): o = float(o + s) on
// the host, then the final o is rounded into `acc` by the table reference.
arith_ref::RefResult ReferenceHardware(const arith_test::FormatPair& in, const arith_test::FormatPair& acc,
                                       const std::vector<uint64_t>& a, const std::vector<uint64_t>& b,
                                       const HwParams& p, Rounding mode) {
  const uint32_t neg_zero = static_cast<uint32_t>(SignBit(*acc.core));
  uint32_t s = 0;  // +0
  uint8_t flags = 0;
  volatile float outer = 0.0f;
  uint32_t since = 0;
  auto promote = [&] {
    std::fesetround(HostMode(mode));
    std::feclearexcept(FE_ALL_EXCEPT);
    volatile float sv = static_cast<float>(DecodeToF64(*acc.core, s));  // exact
    outer = outer + sv;
    flags |= HostFlags();
    std::fesetround(FE_TONEAREST);
    s = 0;
    since = 0;
  };
  for (size_t start = 0; start < a.size(); start += p.group) {
    // Once s has overflowed to infinity it stays there (no flags).
    if (sweep::DecodeByDefinition(acc.ref.definition(), s).cls != sweep::CodeClass::kFinite) break;
    const double sv = DecodeToF64(*acc.core, s);
    bool all_negative_zero = sv == 0 && std::signbit(sv);
    std::vector<double> terms;
    if (p.include_accumulator) terms.push_back(sv);
    for (size_t i = start; i < a.size() && i < start + p.group; ++i) {
      const double x = DecodeToF64(*in.core, a[i]) * DecodeToF64(*in.core, b[i]);  // exact
      if (!(x == 0 && std::signbit(x))) all_negative_zero = false;
      terms.push_back(x);
    }
    int e = INT32_MIN;
    for (double x : terms)
      if (x != 0) e = std::max(e, std::ilogb(x));
    Rational sum = p.include_accumulator ? Rational(0) : Rational(sv);
    for (double x : terms) {
      if (x == 0) continue;
      const double cut = std::trunc(std::ldexp(x, p.fraction_bits - e));  // |x| * 2^(F-e) < 2^(F+1)
      sum += Rational(cut) * Pow2(e - p.fraction_bits);
    }
    if (sum == 0) {
      s = all_negative_zero || mode == Rounding::kDown ? neg_zero : 0u;
    } else {
      const arith_ref::RefResult r = acc.ref.RoundRational(sum, mode);
      s = r.code;
      flags |= r.flags;
    }
    if (p.promote_every != 0 && ++since == p.promote_every) promote();
  }
  if (p.promote_every == 0) return {s, flags};
  if (since != 0) promote();
  const float o = outer;
  if (o == 0) return {std::signbit(o) ? neg_zero : 0u, flags};
  const arith_ref::RefResult r = acc.ref.RoundRational(Rational(double(o)), mode);
  return {r.code, static_cast<uint8_t>(flags | r.flags)};
}

// Operands of the reference tests: near 1 (cancellation, ties), or with
// exponents spread over +-spread binades.
void HwOperands(const Format& in, uint64_t trial, size_t n, bool wide, int spread, std::vector<uint64_t>& a,
                std::vector<uint64_t>& b) {
  a.resize(n);
  b.resize(n);
  for (size_t i = 0; i < n; ++i) {
    double x = (static_cast<double>(Draw(42, trial, i) % 2001) - 1000) / 250.0;
    double y = (static_cast<double>(Draw(43, trial, i) % 2001) - 1000) / 300.0;
    if (wide) {
      x = std::ldexp(x, static_cast<int>(Draw(44, trial, i) % (2 * spread + 1)) - spread);
      y = std::ldexp(y, static_cast<int>(Draw(45, trial, i) % (2 * spread + 1)) - spread);
    }
    a[i] = EncodeFromF64(in, x).code;
    b[i] = EncodeFromF64(in, y).code;
  }
}

DotModel HardwareModel(const HwParams& p) {
  DotModel dm;
  dm.accumulation = Accumulation::kHardware;
  dm.group = static_cast<uint32_t>(p.group);
  dm.fraction_bits = static_cast<uint32_t>(p.fraction_bits);
  dm.include_accumulator = p.include_accumulator;
  dm.promote_every = p.promote_every;
  return dm;
}

}  // namespace

TEST_CASE("kHardware equals the aligned, truncated group sums of a separate reference") {
  const char* pairs[][2] = {{"f16", "f16"}, {"f16", "bf16"}, {"e4m3fn", "f16"}, {"e4m3fn", "bf16"}, {"bf16", "bf16"}};
  for (const auto& pr : pairs) {
    const arith_test::FormatPair in(pr[0]), acc(pr[1]);
    const int spread = std::string(pr[0]) == "bf16" ? 50 : std::string(pr[0]) == "f16" ? 10 : 6;
    for (Rounding mode : arith_test::kDeterministicModes) {
      int failed = 0, truncation_mattered = 0, trials_small_f = 0;
      for (uint64_t trial = 0; trial < 120; ++trial) {
        const size_t n = 1 + Draw(41, trial, 99) % 64;
        std::vector<uint64_t> a, b;
        HwOperands(*in.core, trial, n, trial % 2 == 1, spread, a, b);
        Options opt;
        opt.rounding = mode;
        for (size_t g : {size_t{1}, size_t{4}, size_t{16}})
          for (int f : {3, 11, 1000})
            for (bool include : {true, false}) {
              const HwParams p{g, f, include, 0};
              const Result got = Dot(*in.core, a.data(), 1, b.data(), 1, n, *acc.core, HardwareModel(p), opt);
              const arith_ref::RefResult want = ReferenceHardware(in, acc, a, b, p, mode);
              if (got.code != want.code || got.flags != want.flags) {
                if (++failed <= 3)
                  FAIL_CHECK(std::string(pr[0]) << " -> " << std::string(pr[1]) << " G " << g << " F " << f
                                                << " A " << include << " " << std::string(RoundingNameOf(mode))
                                                << " trial " << trial << ": reference " << want.code << "/"
                                                << int(want.flags) << ", floatscope " << got.code << "/"
                                                << int(got.flags));
              }
              // F = 1000 keeps every bit: kBlock with k = G. F = 3 cuts.
              DotModel block{Accumulation::kBlock, static_cast<uint32_t>(g)};
              const Result exact_groups = Dot(*in.core, a.data(), 1, b.data(), 1, n, *acc.core, block, opt);
              if (f == 1000) {
                CHECK(got.code == exact_groups.code);
                CHECK(got.flags == exact_groups.flags);
              } else if (f == 3 && g == 16 && !include) {
                ++trials_small_f;
                if (got.code != exact_groups.code) ++truncation_mattered;
              }
            }
      }
      CHECK_MESSAGE(failed == 0, std::string(pr[0]) << " -> " << std::string(pr[1]) << " "
                                                    << std::string(RoundingNameOf(mode)));
      // With 3 fraction bits most 16-term groups lose bits that change s.
      CHECK_MESSAGE(truncation_mattered * 2 > trials_small_f,
                    std::string(pr[0]) << " -> " << std::string(pr[1]) << ": F = 3 changed only "
                                       << truncation_mattered << " of " << trials_small_f);
    }
  }
}

TEST_CASE("kHardware: promotion into an fp32 accumulator every N groups") {
  const char* pairs[][2] = {{"f16", "f16"}, {"e4m3fn", "bf16"}, {"bf16", "bf16"}};
  for (const auto& pr : pairs) {
    const arith_test::FormatPair in(pr[0]), acc(pr[1]);
    for (Rounding mode : {Rounding::kNearestEven, Rounding::kTowardZero, Rounding::kDown, Rounding::kUp}) {
      int failed = 0;
      for (uint64_t trial = 0; trial < 150; ++trial) {
        const size_t n = 1 + Draw(51, trial, 99) % 64;
        std::vector<uint64_t> a, b;
        HwOperands(*in.core, trial, n, false, 0, a, b);
        Options opt;
        opt.rounding = mode;
        for (uint32_t every : {1u, 3u})
          for (int f : {4, 1000}) {
            const HwParams p{4, f, true, every};
            const DotModel dm = HardwareModel(p);
            const Result got = Dot(*in.core, a.data(), 1, b.data(), 1, n, *acc.core, dm, opt);
            const arith_ref::RefResult want = ReferenceHardware(in, acc, a, b, p, mode);
            if (got.code != want.code || got.flags != want.flags) {
              if (++failed <= 3)
                FAIL_CHECK(std::string(pr[0]) << " -> " << std::string(pr[1]) << " N " << every << " F " << f
                                              << " " << std::string(RoundingNameOf(mode)) << " trial " << trial
                                              << ": reference " << want.code << "/" << int(want.flags)
                                              << ", floatscope " << got.code << "/" << int(got.flags));
            }
          }
      }
      CHECK_MESSAGE(failed == 0, std::string(pr[0]) << " -> " << std::string(pr[1]) << " "
                                                    << std::string(RoundingNameOf(mode)));
    }
  }
  // Roundings: 10 terms in groups of 4 = 3 groups; N = 2: 2 promotions and
  // the final conversion.
  DotModel dm;
  dm.accumulation = Accumulation::kHardware;
  dm.group = 4;
  CHECK(RoundingsPerDot(dm, 10) == 3);
  dm.promote_every = 2;
  CHECK(RoundingsPerDot(dm, 10) == 6);
  CHECK(RoundingsPerDot(dm, 0) == 0);
}

TEST_CASE("kHardware: a hand-worked cut") {
  // f16 1 * 1 + 2^-4 * 1 + 2^-4 * 1 in one group, F = 2: e = 0, the cut is
  // below 2^-2, so both 2^-4 vanish and the sum is 1. F = 4 keeps them: 1.125.
  const Format& h = formats::kF16;
  const std::vector<uint64_t> a = {0x3C00, 0x2C00, 0x2C00}, one = {0x3C00, 0x3C00, 0x3C00};
  DotModel dm;
  dm.accumulation = Accumulation::kHardware;
  dm.group = 4;
  dm.fraction_bits = 2;
  const Result cut = Dot(h, a.data(), 1, one.data(), 1, 3, h, dm);
  CHECK(cut.code == 0x3C00);
  CHECK(cut.flags == 0);  // the cut itself raises nothing
  dm.fraction_bits = 4;
  CHECK(Dot(h, a.data(), 1, one.data(), 1, 3, h, dm).code == 0x3C80);
  // Group of 1 with the accumulator aligned: s = 1, then 2^-4 with F = 2 is
  // cut against s's exponent (1 stays); without A it enters exactly.
  dm.group = 1;
  dm.fraction_bits = 2;
  CHECK(Dot(h, a.data(), 1, one.data(), 1, 3, h, dm).code == 0x3C00);
  dm.include_accumulator = false;
  CHECK(Dot(h, a.data(), 1, one.data(), 1, 3, h, dm).code == 0x3C80);
}

// emulate/dot_hardware.h's fixed-point group step (taken for narrow inputs)
// against the general long-accumulator step (taken for float32 inputs): the
// same values as f16/bf16/e4m3fn/e5m2 codes and as float32 codes give the
// same dot product, code and flags, for every kind of kHardware model the
// fixed point runs (both alignments, F below and above the products' width,
// a narrow sum format, promotions, the adder's overflow, every rounding,
// both tininess rules, sr with few random bits),
// with zeros of both signs, subnormals (leading-bit alignment only: under
// exponent-sum alignment a subnormal aligns by its format's minimum
// exponent), the largest finite values, NaN and infinities.
TEST_CASE("kHardware: the fixed-point group step equals the long accumulator") {
  const Format* ins[][2] = {{&formats::kF16, &formats::kF16},
                            {&formats::kBf16, &formats::kBf16},
                            {&formats::kE4m3fn, &formats::kE4m3fn},
                            {&formats::kE5m2, &formats::kE4m3fn}};
  const Rounding modes[] = {Rounding::kNearestEven, Rounding::kTowardZero, Rounding::kDown,
                            Rounding::kUp,          Rounding::kNearestAway, Rounding::kStochastic,
                            Rounding::kOdd,         Rounding::kStochasticEq};
  int compared = 0, failed = 0;
  for (uint64_t trial = 0; trial < 6000; ++trial) {
    const Format& fa = *ins[trial % 4][0];
    const Format& fb = *ins[trial % 4][1];
    DotModel m;
    m.accumulation = Accumulation::kHardware;
    const uint32_t groups[] = {1, 3, 4, 16, 32};
    const uint32_t fbits[] = {0, 5, 13, 20, 25};
    m.group = groups[Draw(51, trial, 0) % 5];
    m.fraction_bits = fbits[Draw(51, trial, 1) % 5];
    m.alignment = Draw(51, trial, 2) % 2 ? Alignment::kExponentSum : Alignment::kLeadingBit;
    m.promote_every = Draw(51, trial, 3) % 3 == 0 ? 3 : 0;
    // float32 (nullptr), f32p14, and the bf16 and f16 sums the GPU's
    // kernel takes with a compile-time format too.
    const Format* sums[] = {nullptr, nullptr, &kH100Fp8SumFormat, nullptr, &formats::kBf16, &formats::kF16};
    m.sum_format = sums[Draw(51, trial, 4) % 6];
    m.promote_nearest_even = Draw(51, trial, 5) % 2 == 0;
    m.overflow_to_infinity = Draw(51, trial, 6) % 2 == 0;
    const Format& sf = m.sum_format ? *m.sum_format : formats::kF32;
    if (!detail::MakeFixedDotPlan(fa, fb, sf, m).ok) continue;
    Options opt;
    opt.rounding = modes[Draw(51, trial, 7) % 8];
    opt.flush_output = Draw(51, trial, 8) % 8 == 0;
    opt.tininess = Draw(51, trial, 10) % 4 == 0 ? Tininess::kBeforeRounding : Tininess::kAfterRounding;
    opt.sr_bits = Draw(51, trial, 11) % 3 == 0 ? 3 : 32;
    const bool by_fields = m.alignment == Alignment::kExponentSum;
    const size_t n = 1 + Draw(51, trial, 9) % 150;
    std::vector<uint64_t> a(n), b(n), a32(n), b32(n);
    auto code = [&](const Format& f, uint64_t t, size_t i, int salt) {
      const uint64_t r = Draw(60 + salt, t, i);
      uint64_t c = r & CodeMask(f);
      switch (r >> 60) {
        case 0: c = SignBit(f) & r; break;                                    // +-0
        case 1: c = MaxFiniteMagnitude(f) | (SignBit(f) & r); break;          // the largest
        case 2: if (trial % 5 == 0) c = CanonicalNanCode(f); break;           // NaN
        case 3: if (trial % 5 == 1 && HasInf(f)) c = PositiveInfCode(f) | (SignBit(f) & r); break;
        default: break;
      }
      if (trial % 5 >= 2 && (IsNanCode(f, c) || IsInfCode(f, c))) c = 0;
      if (IsNanCode(f, c)) c = CanonicalNanCode(f);  // quiet: float32 keeps no signaling NaN of f
      const Unpacked u = Unpack(f, c);
      if (by_fields && u.cls == Class::kFinite && u.sig < (uint64_t{1} << f.mantissa_bits)) c &= SignBit(f);
      return c;
    };
    for (size_t i = 0; i < n; ++i) {
      a[i] = code(fa, trial, i, 0);
      b[i] = code(fb, trial, i, 1);
      a32[i] = Convert(fa, a[i], formats::kF32).code;  // exact: every value and NaN payload fits
      b32[i] = Convert(fb, b[i], formats::kF32).code;
    }
    const Result fixed = Dot(fa, a.data(), 1, fb, b.data(), 1, n, formats::kF32, m, opt, trial);
    const Result general = Dot(formats::kF32, a32.data(), 1, formats::kF32, b32.data(), 1, n, formats::kF32, m, opt,
                               trial);
    ++compared;
    if ((fixed.code != general.code || fixed.flags != general.flags) && ++failed <= 5)
      FAIL_CHECK(fa.name << " x " << fb.name << " G " << m.group << " F " << m.fraction_bits << " align "
                         << int(m.alignment) << " N " << m.promote_every << " sum " << sf.name << " trial " << trial
                         << ": fixed " << fixed.code << "/" << int(fixed.flags) << ", general " << general.code << "/"
                         << int(general.flags));
  }
  CHECK(failed == 0);
  CHECK(compared > 3000);
}

// FixedDecodeCode (the running sum read straight from its code) equals
// FixedDecode of the core's Unpack: every code of every catalog format of
// at most 20 bits and f32p14, 2^20 float32 codes (every exponent field,
// zeros, subnormals, infinities and NaN among them), both alignments, a
// few shifts.
TEST_CASE("FixedDecodeCode equals FixedDecode of Unpack") {
  std::vector<const Format*> fs;
  for (const Format& f : formats::kAll)
    if (IsFloat(f) && f.bits <= 32) fs.push_back(&f);
  fs.push_back(&kH100Fp8SumFormat);
  int failed = 0;
  for (const Format* f : fs)
    for (const bool leading : {false, true})
      for (const int32_t shift : {0, 1, 6}) {
        if (f->mantissa_bits + 1 + shift > 31) continue;  // MakeFixedDotPlan's bound
        const uint64_t codes = uint64_t{1} << (f->bits <= 20 ? f->bits : 20);
        for (uint64_t i = 0; i < codes; ++i) {
          // float32: the top 12 bits (sign, exponent field, 3 mantissa bits)
          // and the low 8 bits run through every value; the bits between
          // are one random draw per code.
          const uint64_t c =
              f->bits <= 20 ? i : ((i >> 8) << 20) | (Draw(77, i, 0) & 0xFFF00) | (i & 0xFF);
          const detail::FixedOperand want =
              detail::FixedDecode(Unpack(*f, c), f->mantissa_bits, shift, leading);
          const detail::FixedOperand got = detail::FixedDecodeCode(*f, c, shift, leading);
          if ((got.sig != want.sig || got.align != want.align || got.special != want.special) && ++failed <= 5)
            FAIL_CHECK(f->name << " code " << c << " leading " << leading << " shift " << shift << ": sig "
                               << got.sig << "/" << want.sig << " align " << got.align << "/" << want.align
                               << " special " << got.special << "/" << want.special);
          // The alignment as a term of the group: FixedAccumulatorAlign's
          // test agrees with the class.
          const Unpacked u = Unpack(*f, c);
          const bool term = u.cls == Class::kFinite;
          if ((detail::FixedAccumulatorAlign(got) != detail::kFixedNoTerm) != term && ++failed <= 5)
            FAIL_CHECK(f->name << " code " << c << ": FixedAccumulatorAlign disagrees with the class");
        }
      }
  CHECK(failed == 0);
}

// ---- operand conversion and the instruction's K order (DotModel::operand_format,
// instruction_k, substeps, substep_run) ------------------------------------------------------

namespace {

// The K order written from its statement, not from KOrder: each block of B
// positions stably partitioned by sub-step (p / r) mod S, the blocks one
// after another, K padded to whole blocks; -1 marks a padding term.
std::vector<int64_t> OrderByPartition(size_t n, size_t block, size_t substeps, size_t run) {
  std::vector<int64_t> seq;
  for (size_t k0 = 0; k0 < n; k0 += block)
    for (size_t sub = 0; sub < substeps; ++sub)
      for (size_t p = 0; p < block; ++p)
        if ((p / run) % substeps == sub) seq.push_back(k0 + p < n ? static_cast<int64_t>(k0 + p) : -1);
  return seq;
}

// Random codes of f: any finite code (subnormals and zeros of both signs
// included), NaN and infinities only when `specials`.
uint64_t AnyCode(const Format& f, uint64_t seed, uint64_t trial, size_t i, bool specials) {
  uint64_t c = Draw(seed, trial, i) & CodeMask(f);
  if (!specials && (IsNanCode(f, c) || IsInfCode(f, c))) c &= SignBit(f) | 0x3;  // a small subnormal instead
  return c;
}

}  // namespace

TEST_CASE("KOrder is the stable partition of each instruction's K by sub-step") {
  for (size_t block : {size_t{2}, size_t{8}, size_t{10}, size_t{32}, size_t{48}})
    for (size_t substeps : {size_t{1}, size_t{2}, size_t{3}, size_t{4}})
      for (size_t run : {size_t{1}, size_t{2}, size_t{3}, size_t{8}})
        for (size_t n : {size_t{1}, block - 1, block, 2 * block + 3}) {
          CAPTURE(block);
          CAPTURE(substeps);
          CAPTURE(run);
          CAPTURE(n);
          DotModel m;
          m.instruction_k = static_cast<uint32_t>(block);
          m.substeps = static_cast<uint32_t>(substeps);
          m.substep_run = static_cast<uint32_t>(run);
          const KOrder order(m);
          const std::vector<int64_t> want = OrderByPartition(n, block, substeps, run);
          REQUIRE(order.Length(n) == want.size());
          bool same = true;
          for (size_t j = 0; j < want.size(); ++j) {
            const uint64_t p = order.Position(j);
            same &= want[j] < 0 ? p >= n : p == static_cast<uint64_t>(want[j]);
          }
          CHECK(same);
        }
  // Hopper's FP8 mma.sync: 32 K, positions 0, 1 (mod 4) first, then 2, 3.
  const KOrder hopper(FindH100TensorCoreModel("hopper-mma-fp8")->model);
  const uint64_t first[] = {0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29, 2, 3, 6, 7};
  for (size_t j = 0; j < std::size(first); ++j) CHECK(hopper.Position(j) == first[j]);
  CHECK(hopper.Position(32 + 16) == 34);
  CHECK(hopper.Length(33) == 64);
  // No instruction_k: K itself; zeros read as 1.
  DotModel plain;
  plain.substeps = 0;
  plain.substep_run = 0;
  CHECK(KOrder(plain).InOrder());
  CHECK(KOrder(plain).Length(7) == 7);
  CHECK(KOrder(plain).Position(5) == 5);
}

TEST_CASE("a K order is Dot on the products reordered and padded with +0, for every accumulation") {
  const Rounding modes[] = {Rounding::kNearestEven, Rounding::kTowardZero, Rounding::kDown, Rounding::kStochastic};
  int failed = 0, compared = 0;
  for (uint64_t trial = 0; trial < 1500; ++trial) {
    const Format& in = trial % 3 == 0 ? formats::kF16 : trial % 3 == 1 ? formats::kE4m3fn : formats::kBf16;
    const Format& acc = trial % 2 ? formats::kF32 : formats::kBf16;
    DotModel m;
    m.accumulation = static_cast<Accumulation>(Draw(71, trial, 0) % 6);
    m.block = 1 + static_cast<uint32_t>(Draw(71, trial, 1) % 8);
    m.group = 1 + static_cast<uint32_t>(Draw(71, trial, 2) % 16);
    m.fraction_bits = 5 + static_cast<uint32_t>(Draw(71, trial, 3) % 25);
    m.alignment = Draw(71, trial, 4) % 2 ? Alignment::kExponentSum : Alignment::kLeadingBit;
    m.promote_every = static_cast<uint32_t>(Draw(71, trial, 5) % 3);
    m.include_accumulator = Draw(71, trial, 6) % 4 != 0;
    DotModel ordered = m;
    ordered.instruction_k = 1 + static_cast<uint32_t>(Draw(71, trial, 7) % 40);
    ordered.substeps = static_cast<uint32_t>(Draw(71, trial, 8) % 5);  // 0 reads as 1
    ordered.substep_run = static_cast<uint32_t>(Draw(71, trial, 9) % 5);
    const size_t n = Draw(71, trial, 10) % 90;
    Options opt;
    opt.rounding = modes[Draw(71, trial, 11) % 4];
    opt.seed = trial;
    const bool specials = trial % 7 == 0;
    std::vector<uint64_t> a(n), b(n);
    for (size_t i = 0; i < n; ++i) a[i] = AnyCode(in, 72, trial, i, specials), b[i] = AnyCode(in, 73, trial, i, specials);
    const size_t block = ordered.instruction_k;
    const std::vector<int64_t> seq = OrderByPartition(n, block, ordered.substeps ? ordered.substeps : 1,
                                                      ordered.substep_run ? ordered.substep_run : 1);
    std::vector<uint64_t> pa, pb;  // the sequence, padding as +0 codes
    for (const int64_t k : seq) pa.push_back(k < 0 ? 0 : a[k]), pb.push_back(k < 0 ? 0 : b[k]);
    const Result want = Dot(in, pa.data(), 1, pb.data(), 1, pa.size(), acc, m, opt, 5);
    const Result got = Dot(in, a.data(), 1, b.data(), 1, n, acc, ordered, opt, 5);
    ++compared;
    CHECK(RoundingsPerDot(ordered, n) == RoundingsPerDot(m, pa.size()));
    const bool both_nan = IsNanCode(acc, got.code) && IsNanCode(acc, want.code);
    if ((got.code != want.code && !both_nan) || got.flags != want.flags) {
      if (++failed <= 5)
        FAIL_CHECK(in.name << " model " << int(m.accumulation) << " n " << n << " B " << block << " S "
                           << ordered.substeps << " r " << ordered.substep_run << " trial " << trial << ": reordered "
                           << want.code << "/" << int(want.flags) << ", ordered " << got.code << "/"
                           << int(got.flags));
    }
  }
  CHECK(failed == 0);
  CHECK(compared == 1500);
}

TEST_CASE("operand_format is Dot on the operands converted first (round to nearest even, DAZ before)") {
  struct Case {
    const Format *in_a, *in_b, *to;
    bool exact;  // every value of in_a and in_b is one of `to`
  };
  const Case cases[] = {{&formats::kE4m3fn, &formats::kE4m3fn, &formats::kF16, true},
                        {&formats::kE5m2, &formats::kE4m3fn, &formats::kF16, true},
                        {&formats::kE5m2, &formats::kE5m2, &formats::kF16, true},
                        {&formats::kF32, &formats::kF32, &formats::kBf16, false},
                        {&formats::kF16, &formats::kBf16, &formats::kE5m2, false}};
  int failed = 0, inexact_seen = 0;
  for (const Case& c : cases)
    for (uint64_t trial = 0; trial < 600; ++trial) {
      DotModel m;
      m.accumulation = static_cast<Accumulation>(Draw(81, trial, 0) % 6);
      m.group = 1 + static_cast<uint32_t>(Draw(81, trial, 1) % 32);
      m.fraction_bits = 3 + static_cast<uint32_t>(Draw(81, trial, 2) % 30);
      m.alignment = Draw(81, trial, 3) % 2 ? Alignment::kExponentSum : Alignment::kLeadingBit;
      m.promote_every = static_cast<uint32_t>(Draw(81, trial, 4) % 3);
      DotModel converting = m;
      converting.operand_format = c.to;
      Options opt;
      opt.rounding = Draw(81, trial, 5) % 2 ? Rounding::kTowardZero : Rounding::kNearestEven;
      opt.flush_input = Draw(81, trial, 6) % 4 == 0;
      const size_t n = 1 + Draw(81, trial, 7) % 70;
      const bool specials = trial % 5 == 0;
      std::vector<uint64_t> a(n), b(n), ca(n), cb(n);
      Options convert;  // round to nearest even, DAZ as the dot product's
      convert.flush_input = opt.flush_input;
      uint8_t convert_flags = 0;
      for (size_t i = 0; i < n; ++i) {
        a[i] = AnyCode(*c.in_a, 82, trial, i, specials);
        b[i] = AnyCode(*c.in_b, 83, trial, i, specials);
        const Result x = Convert(*c.in_a, a[i], *c.to, convert), y = Convert(*c.in_b, b[i], *c.to, convert);
        ca[i] = x.code;
        cb[i] = y.code;
        convert_flags |= x.flags | y.flags;
      }
      if (c.exact) CHECK((convert_flags & ~kInvalid) == 0);  // invalid: a signaling NaN
      inexact_seen += (convert_flags & kInexact) != 0;
      const Result want = Dot(*c.to, ca.data(), 1, cb.data(), 1, n, formats::kF32, m, opt, 3);
      const Result got = Dot(*c.in_a, a.data(), 1, *c.in_b, b.data(), 1, n, formats::kF32, converting, opt, 3);
      const bool both_nan = IsNanCode(formats::kF32, got.code) && IsNanCode(formats::kF32, want.code);
      if (((got.code != want.code && !both_nan) || got.flags != (want.flags | convert_flags)) && ++failed <= 5)
        FAIL_CHECK(c.in_a->name << " x " << c.in_b->name << " -> " << c.to->name << " model "
                                << int(m.accumulation) << " trial " << trial << ": converted first " << want.code
                                << "/" << int(want.flags | convert_flags) << ", operand_format " << got.code << "/"
                                << int(got.flags));
    }
  CHECK(failed == 0);
  CHECK(inexact_seen > 100);  // the inexact conversions did round
}

namespace {

// hopper-mma-fp8 written from its statement (cuda/RESULTS.md, "FP8 mma.sync
// on Hopper"), in host arithmetic: the FP8 values are f16 values (exact
// doubles); per instruction of 32 K (zero-padded), a step of the K
// positions 0, 1 (mod 4), then one of 2, 3, each: the terms (the running
// step sum s, then the 16 products) aligned by exponent fields (f16's for
// an operand, float32's for s: max(ilogb, minimum normal exponent); a
// product by the sum of its operands'), e the largest, each cut toward zero
// below 2^(e - 25), the cut terms summed (exactly, in double) and rounded
// toward zero to float32; the instruction's s, starting from +0, then added
// to C (+0 at first) by a float32 add rounding to nearest even.
float HopperMmaFp8Reference(const Format& in_a, const std::vector<uint64_t>& a, const Format& in_b,
                            const std::vector<uint64_t>& b) {
  auto f16_exp = [](double v) { return std::max(std::ilogb(v), -14); };
  volatile float c = 0.0f;
  for (size_t k0 = 0; k0 < a.size(); k0 += 32) {
    float s = 0.0f;
    for (int half = 0; half < 2; ++half) {
      std::vector<double> products;
      std::vector<int> aligns;
      for (size_t p = 0; p < 32; ++p) {
        if (static_cast<int>(p % 4 / 2) != half) continue;
        const size_t k = k0 + p;
        const double x = k < a.size() ? DecodeToF64(in_a, a[k]) : 0.0;
        const double y = k < b.size() ? DecodeToF64(in_b, b[k]) : 0.0;
        products.push_back(x * y);  // exact: 4 + 4 significant bits
        aligns.push_back(x == 0 || y == 0 ? INT32_MIN : f16_exp(x) + f16_exp(y));
      }
      int e = s == 0 ? INT32_MIN : std::max(std::ilogb(s), -126);
      for (const int al : aligns) e = std::max(e, al);
      if (e == INT32_MIN) continue;  // every term zero: s stays +0
      auto cut = [&](double x) { return std::trunc(std::ldexp(x, 25 - e)); };  // units of 2^(e - 25)
      double sum = cut(s);
      for (const double x : products) sum += cut(x);  // below 2^32 units: exact
      std::fesetround(FE_TOWARDZERO);
      volatile float rounded = static_cast<float>(std::ldexp(sum, e - 25));
      std::fesetround(FE_TONEAREST);
      s = rounded == 0 ? 0.0f : float(rounded);
    }
    c = c + s;
  }
  return c;
}

}  // namespace

TEST_CASE("hopper-mma-fp8 equals its statement written in host arithmetic") {
  const H100TensorCoreModel* preset = FindH100TensorCoreModel("hopper-mma-fp8");
  REQUIRE(preset != nullptr);
  const Format* pairs[][2] = {{&formats::kE4m3fn, &formats::kE4m3fn},
                              {&formats::kE5m2, &formats::kE4m3fn},
                              {&formats::kE5m2, &formats::kE5m2}};
  int failed = 0, compared = 0, differs_from_in_order = 0;
  for (uint64_t trial = 0; trial < 3000; ++trial) {
    const Format& fa = *pairs[trial % 3][0];
    const Format& fb = *pairs[trial % 3][1];
    const size_t n = 1 + Draw(91, trial, 0) % 130;
    std::vector<uint64_t> a(n), b(n);
    for (size_t i = 0; i < n; ++i) {
      a[i] = AnyCode(fa, 92, trial, i, false);
      b[i] = AnyCode(fb, 93, trial, i, false);
      if (trial % 2) {  // half the trials near one: long carries, cancellation
        a[i] = (a[i] & SignBit(fa)) | (EncodeFromF64(fa, 1.0).code + Draw(94, trial, i) % 8);
      }
    }
    const Result got = Dot(fa, a.data(), 1, fb, b.data(), 1, n, formats::kF32, preset->model, preset->options);
    const float want = HopperMmaFp8Reference(fa, a, fb, b);
    ++compared;
    if (got.code != BitsOf(want) && ++failed <= 5)
      FAIL_CHECK(fa.name << " x " << fb.name << " n " << n << " trial " << trial << ": reference 0x" << std::hex
                         << BitsOf(want) << ", Dot 0x" << got.code << std::dec);
    DotModel in_order = preset->model;
    in_order.instruction_k = 0;
    differs_from_in_order +=
        Dot(fa, a.data(), 1, fb, b.data(), 1, n, formats::kF32, in_order, preset->options).code != got.code;
  }
  CHECK(failed == 0);
  CHECK(compared == 3000);
  CHECK(differs_from_in_order > 100);  // the order is not a no-op on this data
}

TEST_CASE("the GPU GEMM kernels' tiling predicates: codes in K order, and K orders whose instructions tile K") {
  for (const H100TensorCoreModel& p : kH100TensorCoreModels) {
    const std::string name = p.name;
    CAPTURE(name);
    CHECK(detail::TakesCodesInOrder(p.model) == (name != "hopper-mma-fp8"));
    CHECK(detail::FixedGemmTiles(p.model, 32));  // hopper-mma-fp8: one 32-K instruction per K tile
  }
  DotModel m;
  m.accumulation = Accumulation::kHardware;
  CHECK(detail::TakesCodesInOrder(m));
  CHECK(detail::FixedGemmTiles(m, 32));
  m.substeps = 2;  // no instruction_k: K in order still
  CHECK(detail::TakesCodesInOrder(m));
  m.instruction_k = 32;
  CHECK_FALSE(detail::TakesCodesInOrder(m));
  CHECK(detail::FixedGemmTiles(m, 32));
  CHECK(detail::FixedGemmTiles(m, 64));
  CHECK_FALSE(detail::FixedGemmTiles(m, 16));  // an instruction across two tiles
  m.instruction_k = 24;
  CHECK_FALSE(detail::FixedGemmTiles(m, 32));
  m.instruction_k = 0;
  m.operand_format = &formats::kF16;
  CHECK_FALSE(detail::TakesCodesInOrder(m));
  CHECK(detail::FixedGemmTiles(m, 32));  // a conversion: per element, in the tile's decode
}
