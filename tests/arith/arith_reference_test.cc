// emulate/arith.h against the exact reference (exact_reference.h: GMP
// rationals rounded by searching the format's sorted value table), results
// and flags bit for bit. Suite 'arith' (CI):
//   - every operand pair of e4m3fn and e5m2 for add, sub, mul, div, every
//     code for sqrt, 2^17 mulAdd triples, in rne and rdn; saturate too;
//   - every other float format of at most 8 bits: FP4/FP6 every pair in
//     every deterministic mode, 8-bit formats sampled pairs in every mode;
//   - f16 and bf16: FLOATSCOPE_ARITH_SAMPLES random operand tuples per op in
//     rne (default 10^6, and a tenth of that in each other deterministic
//     mode; the 'exhaustive' suite sets 10^7, and then every mode runs all);
//   - every combination of special operands, every format, every mode;
//   - stochastic rounding: exact against the reference's rule, unbiased
//     (binomial test at a fixed seed), reproducible and keyed by index.
// Threads: FLOATSCOPE_TEST_THREADS (default 2); results do not depend on it.
//
// What this cannot see: the sticky bit of div and sqrt. For formats of at
// most 16 bits the 63-bit quotient or root never ends in a run of zeros
// long enough for the remainder to matter (a/b with b < 2^12 has runs of at
// most 12 zero bits). arith_host_test (f32/f64) does see it: dropping either
// sticky bit there fails thousands of cases, as does dropping the -1 of an
// inexact subtraction or the sticky of Finish (checked by mutation).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "formats/convert.h"
#include "tests/arith/arith_compare.h"

using namespace floatscope;
using namespace floatscope::arith_test;

namespace {

uint64_t Samples() {
  const char* s = std::getenv("FLOATSCOPE_ARITH_SAMPLES");
  return s ? std::strtoull(s, nullptr, 10) : 1000000;
}

void Expect(uint64_t failed, const std::string& what, const std::string& report) {
  INFO(report);
  CHECK_MESSAGE(failed == 0, what << ": " << failed << " mismatches");
}

std::string Name(const FormatPair& f, Op op, const Setting& s) {
  return std::string(f.core->name) + "_" + ArithOpName(CoreOp(op)) + " [" + RoundingNameOf(s.mode) +
         (s.saturate ? ", saturate" : "") + "]";
}

// Operands for a format of `bits` <= 16: uniform codes, or (one time in two)
// exponents close together so sums cancel and tie, and for mulAdd an addend
// near the product.
struct Operands {
  const Format& f;
  uint64_t seed;
  void operator()(uint64_t i, uint32_t x[3]) const {
    const uint32_t mask = static_cast<uint32_t>(CodeMask(f));
    const uint64_t kind = Draw(seed, i, 0) % 4;
    for (int k = 0; k < 3; ++k) x[k] = static_cast<uint32_t>(Draw(seed, i, k + 1)) & mask;
    if (kind < 2 || f.bits < 8) return;
    const int m = f.mantissa_bits;
    const uint32_t field_max = static_cast<uint32_t>(MaxExponentField(f));
    auto field = [&](uint32_t code) { return static_cast<int>((code >> m) & field_max); };
    auto with_field = [&](uint32_t code, int fl) {
      fl = fl < 0 ? 0 : (fl > static_cast<int>(field_max) ? static_cast<int>(field_max) : fl);
      return (code & ~(field_max << m)) | (static_cast<uint32_t>(fl) << m);
    };
    const int spread = m + 3;
    const int delta = static_cast<int>(Draw(seed, i, 5) % (2 * spread + 1)) - spread;
    x[1] = with_field(x[1], field(x[0]) + delta);
    const int delta_c = static_cast<int>(Draw(seed, i, 6) % (2 * spread + 1)) - spread;
    x[2] = with_field(x[2], field(x[0]) + field(x[1]) - f.bias + delta_c);
    if (kind == 3) {  // trailing zeros: exact results and exact ties
      const uint32_t keep = ~((uint32_t{1} << (Draw(seed, i, 7) % (m + 1))) - 1);
      x[0] &= keep | ~static_cast<uint32_t>(MantissaMask(f));
      x[1] &= keep | ~static_cast<uint32_t>(MantissaMask(f));
    }
  }
};

}  // namespace

TEST_CASE("e4m3fn and e5m2: every operand pair, rne and rdn, results and flags") {
  for (const char* name : {"e4m3fn", "e5m2"}) {
    const FormatPair f(name);
    for (Rounding mode : {Rounding::kNearestEven, Rounding::kDown}) {
      for (bool saturate : {false, true}) {
        const Setting s{mode, saturate};
        for (Op op : {Op::kAdd, Op::kSub, Op::kMul, Op::kDiv}) {
          if (saturate && op == Op::kSub) continue;  // sub is add with b negated
          std::string report;
          const uint64_t failed = CompareMany(
              f, op, s, 1 << 16, [](uint64_t i, uint32_t x[3]) {
                x[0] = static_cast<uint32_t>(i >> 8);
                x[1] = static_cast<uint32_t>(i & 0xFF);
              },
              &report, TestThreads());
          Expect(failed, Name(f, op, s), report);
        }
        std::string report;
        uint64_t failed = CompareMany(
            f, Op::kSqrt, s, 256, [](uint64_t i, uint32_t x[3]) { x[0] = static_cast<uint32_t>(i); }, &report, 1);
        Expect(failed, Name(f, Op::kSqrt, s), report);
        const uint64_t triples = saturate ? 1 << 14 : 1 << 17;
        failed = CompareMany(f, Op::kMulAdd, s, triples, Operands{*f.core, 0xFA}, &report, TestThreads());
        Expect(failed, Name(f, Op::kMulAdd, s), report);
      }
    }
  }
}

TEST_CASE("every float format of at most 8 bits: every deterministic mode") {
  for (const char* name : kSmallFormats) {
    const FormatPair f(name);
    const uint32_t codes = uint32_t{1} << f.core->bits;
    const bool every_pair = f.core->bits <= 6;  // FP4, FP6: all pairs and triples
    for (Rounding mode : kDeterministicModes) {
      const Setting s{mode};
      for (Op op : kOps) {
        uint64_t count = 0;
        std::string report;
        uint64_t failed = 0;
        if (op == Op::kSqrt) {
          count = codes;
          failed = CompareMany(f, op, s, count, [](uint64_t i, uint32_t x[3]) { x[0] = static_cast<uint32_t>(i); },
                               &report, 1);
        } else if (every_pair) {
          const int bits = f.core->bits;
          count = uint64_t{1} << (bits * Arity(op));
          failed = CompareMany(
              f, op, s, count, [bits](uint64_t i, uint32_t x[3]) {
                const uint32_t mask = (uint32_t{1} << bits) - 1;
                x[0] = static_cast<uint32_t>(i) & mask;
                x[1] = static_cast<uint32_t>(i >> bits) & mask;
                x[2] = static_cast<uint32_t>(i >> (2 * bits)) & mask;
              },
              &report, TestThreads());
        } else {
          count = op == Op::kMulAdd ? 4096 : 3000;
          failed = CompareMany(f, op, s, count, Operands{*f.core, 0x8B17 + static_cast<uint64_t>(mode)}, &report,
                               TestThreads());
        }
        Expect(failed, Name(f, op, s) + " (" + std::to_string(count) + " cases)", report);
      }
    }
  }
}

TEST_CASE("f16 and bf16: random operands, every deterministic mode") {
  const uint64_t n = Samples();
  for (const char* name : {"f16", "bf16"}) {
    const FormatPair f(name);
    for (Rounding mode : kDeterministicModes) {
      const Setting s{mode};
      const bool full = std::getenv("FLOATSCOPE_ARITH_SAMPLES") != nullptr;
      const uint64_t count = full || mode == Rounding::kNearestEven ? n : n / 10;
      for (Op op : kOps) {
        std::string report;
        const uint64_t failed = CompareMany(f, op, s, op == Op::kSqrt ? count / 4 : count,
                                            Operands{*f.core, 0x16 + static_cast<uint64_t>(op)}, &report,
                                            TestThreads());
        Expect(failed, Name(f, op, s), report);
      }
    }
  }
}

TEST_CASE("special operands: every combination, every format of at most 16 bits, every mode") {
  const char* names[] = {"f16", "bf16", "e5m2", "e4m3fn", "e4m3", "e4m3fnuz", "e5m2fnuz", "e4m3b11fnuz",
                         "e3m4", "binary8p1", "binary8p3", "binary8p5", "binary8p7", "e2m3fn", "e3m2fn",
                         "e2m1fn", "e8m0fnu"};
  for (const char* name : names) {
    const FormatPair f(name);
    const std::vector<uint32_t> sp = SpecialCodes(f);
    const uint64_t k = sp.size();
    for (Rounding mode : kDeterministicModes) {
      for (bool saturate : {false, true}) {
        const Setting s{mode, saturate};
        for (Op op : kOps) {
          const uint64_t count = op == Op::kSqrt ? k : op == Op::kMulAdd ? k * k * k : k * k;
          std::string report;
          const uint64_t failed = CompareMany(
              f, op, s, count, [&sp, k](uint64_t i, uint32_t x[3]) {
                x[0] = sp[i % k];
                x[1] = sp[(i / k) % k];
                x[2] = sp[(i / k / k) % k];
              },
              &report, 1);
          Expect(failed, Name(f, op, s) + " specials", report);
        }
      }
    }
  }
}

TEST_CASE("stochastic rounding equals the reference's rule exactly") {
  for (const char* name : {"f16", "bf16", "e4m3fn", "e5m2", "e2m1fn", "binary8p3"}) {
    const FormatPair f(name);
    for (Rounding mode : {Rounding::kStochastic, Rounding::kStochasticEq}) {
      for (uint8_t bits : {uint8_t{32}, uint8_t{3}}) {
        if (mode == Rounding::kStochasticEq && bits != 32) continue;
        const Setting s{mode, false, 0x5EED0000u + bits, bits};
        for (Op op : kOps) {
          std::string report;
          const uint64_t failed =
              CompareMany(f, op, s, 20000, Operands{*f.core, 0x57 + static_cast<uint64_t>(op)}, &report,
                          TestThreads());
          Expect(failed, Name(f, op, s) + " sr_bits " + std::to_string(bits), report);
        }
      }
    }
  }
}

namespace {

// Counts how often `op` on x rounds away from `low` (to `high`) over
// indices [0, n) under `opt`; every result must be one of the two.
uint64_t CountUp(ArithOp op, const Format& f, const uint64_t* x, const Options& opt, uint64_t n, uint64_t low,
                 uint64_t high) {
  uint64_t up = 0;
  for (uint64_t i = 0; i < n; ++i) {
    const Result r = ApplyArith(op, f, x, opt, i);
    REQUIRE((r.code == low || r.code == high));
    up += r.code == high;
  }
  return up;
}

// |k - n p| within 5 standard deviations of Binomial(n, p): at a fixed seed
// this is deterministic; a biased rounding (p off by 1%) fails it.
void CheckBinomial(uint64_t k, uint64_t n, double p, const char* what) {
  const double sd = std::sqrt(static_cast<double>(n) * p * (1 - p));
  const double dev = std::fabs(static_cast<double>(k) - static_cast<double>(n) * p);
  INFO(what << ": " << k << " of " << n << " up, expected " << static_cast<double>(n) * p << " +- " << sd);
  CHECK(dev <= 5 * sd);
}

}  // namespace

TEST_CASE("stochastic rounding is unbiased: binomial tests at a fixed seed") {
  const uint64_t n = 400000;
  Options sr;
  sr.rounding = Rounding::kStochastic;
  sr.seed = 2024;
  // f16 1/3 = 0x3555 + f ulp with f = 1/3 (the bits after the kept ones are
  // 0101...): up with probability floor(2^32 / 3) / 2^32.
  const uint64_t third[] = {0x3C00, 0x4200};
  CheckBinomial(CountUp(ArithOp::kDiv, formats::kF16, third, sr, n, 0x3555, 0x3556), n,
                std::floor(std::ldexp(1.0, 32) / 3) / std::ldexp(1.0, 32), "f16 1/3, sr");
  // The mean of the rounded results is the exact 1/3 (unbiased).
  {
    double sum = 0;
    for (uint64_t i = 0; i < n; ++i) sum += DecodeToF64(formats::kF16, Div(formats::kF16, 0x3C00, 0x4200, sr, i).code);
    const double ulp = std::ldexp(1.0, -12);
    const double sd_mean = ulp * std::sqrt(2.0 / 9.0 / static_cast<double>(n));
    CHECK(std::fabs(sum / static_cast<double>(n) - 1.0 / 3.0) <= 5 * sd_mean);
  }
  // sr_bits = 2: only floor(f * 4) / 4 = 1/4 survives.
  Options sr2 = sr;
  sr2.sr_bits = 2;
  CheckBinomial(CountUp(ArithOp::kDiv, formats::kF16, third, sr2, n, 0x3555, 0x3556), n, 0.25,
                "f16 1/3, sr, 2 bits");
  // e4m3fn sqrt(2) = 1.0110101|0000010011..: 1.375 (0x3B) + f, f = 0.0203..
  // Exactly: f = (sqrt(2) - 1.375) * 8.
  const uint64_t two[] = {0x40};
  CheckBinomial(CountUp(ArithOp::kSqrt, formats::kE4m3fn, two, sr, n, 0x3B, 0x3C), n, (std::sqrt(2.0) - 1.375) * 8,
                "e4m3fn sqrt(2), sr");
  // bf16 mulAdd: 1 * 1 + 2^-9 = 1 + 2^-9: a quarter of bf16's ulp at 1.
  const uint64_t fma[] = {0x3F80, 0x3F80, 0x3B00};
  CheckBinomial(CountUp(ArithOp::kMulAdd, formats::kBf16, fma, sr, n, 0x3F80, 0x3F81), n, 0.25,
                "bf16 1 + 2^-9, sr");
  // Negative results round away from zero with the same probability.
  const uint64_t neg_third[] = {0xBC00, 0x4200};
  CheckBinomial(CountUp(ArithOp::kDiv, formats::kF16, neg_third, sr, n, 0xB555, 0xB556), n,
                std::floor(std::ldexp(1.0, 32) / 3) / std::ldexp(1.0, 32), "f16 -1/3, sr");
  // sr-eq: one half whatever the distance.
  Options eq = sr;
  eq.rounding = Rounding::kStochasticEq;
  CheckBinomial(CountUp(ArithOp::kDiv, formats::kF16, third, eq, n, 0x3555, 0x3556), n, 0.5, "f16 1/3, sr-eq");
  CheckBinomial(CountUp(ArithOp::kMulAdd, formats::kBf16, fma, eq, n, 0x3F80, 0x3F81), n, 0.5, "bf16, sr-eq");
}

TEST_CASE("stochastic rounding is reproducible and keyed by (seed, index) only") {
  Options sr;
  sr.rounding = Rounding::kStochastic;
  sr.seed = 99;
  std::vector<uint64_t> forward, other_seed;
  for (uint64_t i = 0; i < 4096; ++i) forward.push_back(Div(formats::kF16, 0x3C00, 0x4200, sr, i).code);
  // The same results in reverse order and interleaved with other work.
  for (uint64_t i = 4096; i-- > 0;) {
    (void)Add(formats::kF16, 0x3C00, 0x1000, sr, i + 7);
    CHECK(Div(formats::kF16, 0x3C00, 0x4200, sr, i).code == forward[i]);
  }
  Options other = sr;
  other.seed = 100;
  for (uint64_t i = 0; i < 4096; ++i) other_seed.push_back(Div(formats::kF16, 0x3C00, 0x4200, other, i).code);
  CHECK(forward != other_seed);
  // The decision for element i depends on StochasticBits(seed, i) only (word i mod 4 of the call with counter floor(i/4)).
  for (uint64_t i = 0; i < 4096; ++i) {
    const uint32_t u = StochasticBits(99, i);
    // f = 1/3: up iff floor(2^32/3) + u >= 2^32.
    const bool up = uint64_t{0x55555555} + u >= (uint64_t{1} << 32);
    CHECK(forward[i] == (up ? 0x3556u : 0x3555u));
  }
}

TEST_CASE("the reference agrees with hand-worked cases, and a mix-up is caught") {
  const FormatPair f("f16");
  const uint32_t third[3] = {0x3C00, 0x4200, 0};
  // 1/3 = 1.0101010101|0101.. * 2^-2: 3555 to nearest and down, 3556 up.
  CHECK(f.ref.Apply(Op::kDiv, third, Rounding::kNearestEven) == RefResult{0x3555, kInexact});
  CHECK(f.ref.Apply(Op::kDiv, third, Rounding::kUp) == RefResult{0x3556, kInexact});
  // sqrt(3) = 1.1011101101|1001..: 749.6 ulps above 1 -> 750 = 0x2EE.
  const uint32_t three[3] = {0x4200, 0, 0};
  CHECK(f.ref.Apply(Op::kSqrt, three, Rounding::kNearestEven) == RefResult{0x3EEE, kInexact});
  CHECK(f.ref.Apply(Op::kSqrt, three, Rounding::kTowardZero) == RefResult{0x3EED, kInexact});
  // 65504 + 16 ties to 2^16: overflow; e4m3fn 448 + 16 ties to 448.
  const uint32_t big[3] = {0x7BFF, 0x4C00, 0};
  CHECK(f.ref.Apply(Op::kAdd, big, Rounding::kNearestEven) == RefResult{0x7C00, kOverflow | kInexact});
  const FormatPair e4("e4m3fn");
  const uint32_t e4_big[3] = {0x7E, 0x58, 0};
  CHECK(e4.ref.Apply(Op::kAdd, e4_big, Rounding::kNearestEven) == RefResult{0x7E, kInexact});
  // The core in rne against the reference in rup differs: a rounding-mode
  // mix-up in CompareOne's plumbing would not go unnoticed.
  Options ne;
  const Result core = Div(*f.core, 0x3C00, 0x4200, ne);
  CHECK(core.code != f.ref.Apply(Op::kDiv, third, Rounding::kUp).code);
  std::string report;
  CHECK(CompareOne(f, Op::kDiv, third, Setting{Rounding::kUp}, 0, &report));
  CHECK(report.empty());
}
