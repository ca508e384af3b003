// emulate/scaled_gemm.h: GEMM over scaled inputs (per-tensor / per-row FP8
// scales, OCP MX E8M0 blocks of 32, NVFP4 E4M3 blocks of 16 + fp32 tensor
// scale), each model against a separate, straightforward reference written
// here:
//   - the element values, scale values and every sum as exact GMP
//     rationals; each rounding of the model's formula done by the table
//     reference (tests/arith/exact_reference.h) for bf16 accumulators
//     in every deterministic mode, and for float32 by a nextafter search
//     with an explicit tie rule (nearest even);
//   - the block model with a sequential inner sum against host float
//     loops;
//   - without scales, the result is dot.h's Gemm, bit for bit;
//   - MX codes times scales are the dequantized values of emulate/quant:
//     when nothing rounds, C is exactly the sum of the dequantized products.
// The operands come from emulate/quant's Quantize, as a user's would.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "emulate/quant/quantize.h"
#include "emulate/scaled_gemm.h"
#include "formats/catalog.h"
#include "formats/convert.h"
#include "tests/arith/arith_compare.h"

using namespace floatscope;
using arith_ref::Rational;
using arith_test::Draw;

namespace {

// A normal(0, 1)-like value (sum of uniforms), with a magnitude that
// changes from row to row and from block to block, so that block scales
// differ.
double Sample(uint64_t seed, size_t i, size_t j) {
  double x = 0;
  for (uint64_t r = 0; r < 4; ++r) x += static_cast<double>(Draw(seed, i * 7919 + j, r) % 100001) / 100000.0 - 0.5;
  return std::ldexp(x, static_cast<int>((i + 3 * (j / 16)) % 7) - 3);
}

std::vector<double> Matrix(uint64_t seed, size_t rows, size_t cols, bool b_side) {
  std::vector<double> x(rows * cols);
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) x[r * cols + c] = b_side ? Sample(seed, c, r) : Sample(seed, r, c);
  return x;
}

quant::QuantResult QuantizeAs(const char* format, quant::Scheme scheme, long axis, size_t rows, size_t cols,
                              const std::vector<double>& x) {
  quant::QuantConfig c;
  c.format = FindNamedFormat(format);
  c.scheme = scheme;
  c.axis = axis;
  c.threads = 1;
  return quant::Quantize(c, {rows, cols}, x);
}

// float32 nearest-even of an exact rational (finite, in float32's range):
// find lo <= r < hi among neighbouring floats, then compare with the
// midpoint; a tie goes to the even significand.
float NearestF32(const Rational& r) {
  if (r == 0) return 0.0f;
  float f = static_cast<float>(r.convert_to<double>());
  auto R = [](float v) { return Rational(static_cast<double>(v)); };
  while (R(f) > r) f = std::nextafter(f, -INFINITY);
  while (R(std::nextafter(f, INFINITY)) <= r) f = std::nextafter(f, INFINITY);
  if (R(f) == r) return f;
  const float hi = std::nextafter(f, INFINITY);
  const Rational mid = (R(f) + R(hi)) / 2;
  if (r < mid) return f;
  if (r > mid) return hi;
  return (BitsOf(f) & 1) ? hi : f;
}

// One rounding of the model's formula, on exact values: into a format of
// the table reference in any deterministic mode, or into float32 (nearest
// even; inexact is its only flag here).
struct Rounder {
  const arith_test::FormatPair* table = nullptr;  // nullptr: float32
  Rounding mode = Rounding::kNearestEven;

  Rational operator()(const Rational& x, uint8_t& flags) const {
    if (x == 0) return 0;
    if (!table) {
      const Rational y(static_cast<double>(NearestF32(x)));
      if (y != x) flags |= kInexact;
      return y;
    }
    const arith_ref::RefResult r = table->ref.RoundRational(x, mode);
    flags |= r.flags;
    return table->ref.ValueOf(r.code);
  }
};

struct Expected {
  Rational value;
  uint8_t flags = 0;
};

// The reference of ScaledGemm's C(i, j) with an exact inner sum (kExact):
// the formulas at the top of emulate/scaled_gemm.h, every value exact.
Expected Reference(const arith_test::FormatPair& in, const ScaledMatrix& a, const ScaledMatrix& b, size_t m,
                   size_t n, size_t k, size_t i, size_t j, size_t block, const arith_test::FormatPair* scale_format,
                   const Rounder& acc, const Rounder& out) {
  (void)m;
  Expected e;
  auto V = [&](uint64_t code) { return in.ref.ValueOf(static_cast<uint32_t>(code)); };
  Rational s = 0;
  if (block == 0) {
    Rational sum = 0;
    for (size_t l = 0; l < k; ++l) sum += V(a.codes[i * k + l]) * V(b.codes[l * n + j]);
    s = acc(sum, e.flags);
  } else {
    const size_t nb = (k + block - 1) / block;
    for (size_t q = 0; q < nb; ++q) {
      Rational sum = 0;
      for (size_t l = q * block; l < k && l < (q + 1) * block; ++l) sum += V(a.codes[i * k + l]) * V(b.codes[l * n + j]);
      const Rational d = acc(sum, e.flags);
      const Rational x = scale_format->ref.ValueOf(static_cast<uint32_t>(a.block_scales[i * nb + q])) *
                         scale_format->ref.ValueOf(static_cast<uint32_t>(b.block_scales[q * n + j]));
      s = acc(s + acc(x * d, e.flags), e.flags);
    }
  }
  const Rational ta(static_cast<double>(a.scales[a.scales.size() == 1 ? 0 : i]));
  const Rational tb(static_cast<double>(b.scales[b.scales.size() == 1 ? 0 : j]));
  e.value = out(ta * tb * s, e.flags);
  return e;
}

struct Case {
  const char* in;
  quant::Scheme scheme;
  long a_axis, b_axis;
  size_t k;
};

// Runs ScaledGemm with an exact inner sum and checks every element against
// Reference, for f32 (nearest even) and bf16 accumulators (every
// deterministic mode; the output format is the accumulator's). f16 is left
// out on purpose: FP8 codes' products reach 448^2 and 57344^2, so f16 sums
// of unscaled codes overflow, which is why the recipes accumulate in fp32.
void CheckAgainstReference(const Case& cs, uint64_t seed) {
  const size_t m = 5, n = 4, k = cs.k;
  const quant::QuantResult qa = QuantizeAs(cs.in, cs.scheme, cs.a_axis, m, k, Matrix(seed, m, k, false));
  const quant::QuantResult qb = QuantizeAs(cs.in, cs.scheme, cs.b_axis, k, n, Matrix(seed + 1, k, n, true));
  const ScaledMatrix a = FromQuantized(qa), b = FromQuantized(qb);
  ScaleBlocks blocks = cs.scheme == quant::Scheme::kMx      ? ScaleBlocks::Mx()
                       : cs.scheme == quant::Scheme::kNvfp4 ? ScaleBlocks::Nvfp4()
                                                            : ScaleBlocks::None();
  const arith_test::FormatPair in(cs.in);
  const arith_test::FormatPair scale_format(blocks.block_format ? blocks.block_format->name : "e4m3fn");
  DotModel exact;
  exact.accumulation = Accumulation::kExact;
  struct Acc {
    const char* name;
    std::vector<Rounding> modes;
  };
  const std::vector<Rounding> all(std::begin(arith_test::kDeterministicModes), std::end(arith_test::kDeterministicModes));
  for (const Acc& acc : {Acc{"f32", {Rounding::kNearestEven}}, Acc{"bf16", all}}) {
    const Format& f = *FindNamedFormat(acc.name);
    const bool is_f32 = std::string(acc.name) == "f32";
    const arith_test::FormatPair* table = is_f32 ? nullptr : new arith_test::FormatPair(acc.name);
    for (Rounding mode : acc.modes) {
      Options opt;
      opt.rounding = mode;
      std::vector<uint64_t> c(m * n);
      const uint8_t flags = ScaledGemm(*in.core, a, b, m, n, k, f, exact, blocks, f, c.data(), opt);
      uint8_t want_flags = 0;
      int failed = 0;
      for (size_t i = 0; i < m; ++i)
        for (size_t j = 0; j < n; ++j) {
          const Rounder r{table, mode};
          const Expected e = Reference(in, a, b, m, n, k, i, j, blocks.block, &scale_format, r, r);
          want_flags |= e.flags;
          const double got = DecodeToF64(f, c[i * n + j]);
          if (std::isnan(got) || Rational(got) != e.value) {
            if (++failed <= 3)
              FAIL_CHECK(cs.in << " " << quant::SchemeName(cs.scheme) << " acc " << acc.name << " "
                               << RoundingNameOf(mode) << " C(" << i << "," << j << "): reference "
                               << e.value.convert_to<double>() << ", floatscope " << got);
          }
        }
      CHECK_MESSAGE(failed == 0, cs.in << " " << quant::SchemeName(cs.scheme) << " acc " << acc.name << " "
                                       << RoundingNameOf(mode));
      CHECK_MESSAGE(flags == want_flags, cs.in << " " << quant::SchemeName(cs.scheme) << " acc " << acc.name
                                               << " " << RoundingNameOf(mode) << ": flags " << int(flags)
                                               << " vs reference " << int(want_flags));
    }
    delete table;
  }
}

}  // namespace

TEST_CASE("per-tensor and per-row/column FP8 scales: the scaled code sum, rounded once") {
  for (const char* in : {"e4m3fn", "e5m2"}) {
    CheckAgainstReference({in, quant::Scheme::kTensor, 0, 0, 96}, 11);
    CheckAgainstReference({in, quant::Scheme::kChannel, 0, 1, 70}, 12);  // A per row, B per column
  }
}

TEST_CASE("OCP MX: E8M0 scales per 32 along K, each block's sum scaled, then accumulated") {
  for (const char* in : {"e4m3fn", "e5m2", "e2m1fn", "e2m3fn"}) {
    CheckAgainstReference({in, quant::Scheme::kMx, -1, 0, 100}, 21);  // 3 full blocks and one of 4
    CheckAgainstReference({in, quant::Scheme::kMx, -1, 0, 64}, 22);
  }
}

TEST_CASE("NVFP4: E4M3 scales per 16 along K and an fp32 tensor scale") {
  CheckAgainstReference({"e2m1fn", quant::Scheme::kNvfp4, -1, 0, 80}, 31);
  CheckAgainstReference({"e2m1fn", quant::Scheme::kNvfp4, -1, 0, 37}, 32);
}

TEST_CASE("MX with a sequential inner sum into f32 equals host float loops") {
  const size_t m = 4, n = 3, k = 128;
  const quant::QuantResult qa = QuantizeAs("e4m3fn", quant::Scheme::kMx, -1, m, k, Matrix(41, m, k, false));
  const quant::QuantResult qb = QuantizeAs("e4m3fn", quant::Scheme::kMx, 0, k, n, Matrix(42, k, n, true));
  const ScaledMatrix a = FromQuantized(qa), b = FromQuantized(qb);
  DotModel seq;  // kSequential
  std::vector<uint64_t> c(m * n);
  ScaledGemm(formats::kE4m3fn, a, b, m, n, k, formats::kF32, seq, ScaleBlocks::Mx(), formats::kF32, c.data());
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) {
      volatile float s = 0;
      for (size_t q = 0; q < k / 32; ++q) {
        volatile float d = 0;
        for (size_t l = 32 * q; l < 32 * q + 32; ++l) {
          volatile float p = DecodeToF32(formats::kE4m3fn, a.codes[i * k + l]) *
                             DecodeToF32(formats::kE4m3fn, b.codes[l * n + j]);  // exact in float
          d = d + p;
        }
        // MX scales: powers of two, 2^(code - 127); the scaled sum is a float here.
        const int ea = static_cast<int>(a.block_scales[i * (k / 32) + q]) - 127;
        const int eb = static_cast<int>(b.block_scales[q * n + j]) - 127;
        volatile float scaled = std::ldexp(static_cast<float>(d), ea + eb);
        s = s + scaled;
      }
      const float want = s;  // tensor scales are 1
      CHECK_MESSAGE(BitsOf(want) == c[i * n + j], "C(" << i << "," << j << "): host " << want << ", floatscope "
                                                       << DecodeToF32(formats::kF32, c[i * n + j]));
    }
}

TEST_CASE("MX: with nothing to round, C is exactly the sum of the dequantized products") {
  const size_t m = 3, n = 3, k = 96;
  const quant::QuantResult qa = QuantizeAs("e4m3fn", quant::Scheme::kMx, -1, m, k, Matrix(51, m, k, false));
  const quant::QuantResult qb = QuantizeAs("e4m3fn", quant::Scheme::kMx, 0, k, n, Matrix(52, k, n, true));
  DotModel exact;
  exact.accumulation = Accumulation::kExact;
  std::vector<uint64_t> c(m * n);
  const uint8_t flags = ScaledGemm(formats::kE4m3fn, FromQuantized(qa), FromQuantized(qb), m, n, k, formats::kF64,
                                   exact, ScaleBlocks::Mx(), formats::kF64, c.data());
  CHECK(flags == 0);  // every step exact
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) {
      Rational sum = 0;
      for (size_t l = 0; l < k; ++l)
        sum += Rational(static_cast<double>(qa.dequantized[i * k + l])) *
               Rational(static_cast<double>(qb.dequantized[l * n + j]));
      CHECK(Rational(DecodeToF64(formats::kF64, c[i * n + j])) == sum);
    }
  // ... and a scale on the wrong block would show: swap two of A's.
  ScaledMatrix a = FromQuantized(qa);
  REQUIRE(a.block_scales[0] != a.block_scales[1]);
  std::swap(a.block_scales[0], a.block_scales[1]);
  ScaledGemm(formats::kE4m3fn, a, FromQuantized(qb), m, n, k, formats::kF64, exact, ScaleBlocks::Mx(),
             formats::kF64, c.data());
  Rational sum = 0;
  for (size_t l = 0; l < k; ++l)
    sum += Rational(static_cast<double>(qa.dequantized[l])) * Rational(static_cast<double>(qb.dequantized[l * n]));
  CHECK(Rational(DecodeToF64(formats::kF64, c[0])) != sum);
}

TEST_CASE("without scales, ScaledGemm is dot.h's Gemm bit for bit (every model)") {
  const size_t m = 3, n = 5, k = 77;
  ScaledMatrix a, b;
  for (size_t l = 0; l < m * k; ++l) a.codes.push_back(EncodeFromF64(formats::kBf16, Sample(61, l / k, l % k)).code);
  for (size_t l = 0; l < k * n; ++l) b.codes.push_back(EncodeFromF64(formats::kBf16, Sample(62, l % n, l / n)).code);
  for (Accumulation acc : {Accumulation::kSequential, Accumulation::kFused, Accumulation::kPairwise,
                           Accumulation::kBlock, Accumulation::kExact, Accumulation::kHardware}) {
    DotModel model;
    model.accumulation = acc;
    model.group = 32;
    model.fraction_bits = 13;
    for (const Format* f : {&formats::kF32, &formats::kBf16}) {
      std::vector<uint64_t> want(m * n), got(m * n);
      const uint8_t fw = Gemm(formats::kBf16, a.codes.data(), b.codes.data(), m, n, k, *f, model, want.data());
      const uint8_t fg = ScaledGemm(formats::kBf16, a, b, m, n, k, *f, model, ScaleBlocks::None(), *f, got.data());
      CHECK(want == got);
      CHECK(fw == fg);
    }
  }
}

TEST_CASE("scaled GEMM edges: NaN block scale, zero and rounding scales, bad sizes") {
  const size_t m = 2, n = 2, k = 64;
  const quant::QuantResult qa = QuantizeAs("e4m3fn", quant::Scheme::kMx, -1, m, k, Matrix(71, m, k, false));
  const quant::QuantResult qb = QuantizeAs("e4m3fn", quant::Scheme::kMx, 0, k, n, Matrix(72, k, n, true));
  ScaledMatrix a = FromQuantized(qa), b = FromQuantized(qb);
  std::vector<uint64_t> c(m * n);
  DotModel exact;
  exact.accumulation = Accumulation::kExact;
  a.block_scales[1] = 0xFF;  // NaN: row 0's second block
  ScaledGemm(formats::kE4m3fn, a, b, m, n, k, formats::kF32, exact, ScaleBlocks::Mx(), formats::kF32, c.data());
  CHECK(std::isnan(DecodeToF64(formats::kF32, c[0])));
  CHECK(std::isnan(DecodeToF64(formats::kF32, c[1])));
  CHECK(!std::isnan(DecodeToF64(formats::kF32, c[2])));
  // A tensor scale of 0 gives zeros.
  a = FromQuantized(qa);
  a.scales = {0.0f};
  ScaledGemm(formats::kE4m3fn, a, b, m, n, k, formats::kF32, exact, ScaleBlocks::Mx(), formats::kF32, c.data());
  for (uint64_t x : c) CHECK(DecodeToF64(formats::kF32, x) == 0.0);
  // Bad sizes are refused with a message.
  a.block_scales.pop_back();
  CHECK_THROWS_AS(
      ScaledGemm(formats::kE4m3fn, a, b, m, n, k, formats::kF32, exact, ScaleBlocks::Mx(), formats::kF32, c.data()),
      std::invalid_argument);
  a = FromQuantized(qa);
  a.scales = {1.0f, 2.0f, 3.0f};
  CHECK_THROWS_AS(
      ScaledGemm(formats::kE4m3fn, a, b, m, n, k, formats::kF32, exact, ScaleBlocks::Mx(), formats::kF32, c.data()),
      std::invalid_argument);
}

TEST_CASE("stochastic rounding in a scaled GEMM: reproducible, keyed by the seed") {
  const size_t m = 3, n = 3, k = 64;
  const quant::QuantResult qa = QuantizeAs("e4m3fn", quant::Scheme::kMx, -1, m, k, Matrix(81, m, k, false));
  const quant::QuantResult qb = QuantizeAs("e4m3fn", quant::Scheme::kMx, 0, k, n, Matrix(82, k, n, true));
  DotModel seq;
  Options opt;
  opt.rounding = Rounding::kStochastic;
  opt.seed = 5;
  std::vector<uint64_t> c1(m * n), c2(m * n), c3(m * n);
  ScaledGemm(formats::kE4m3fn, FromQuantized(qa), FromQuantized(qb), m, n, k, formats::kBf16, seq, ScaleBlocks::Mx(),
             formats::kBf16, c1.data(), opt);
  ScaledGemm(formats::kE4m3fn, FromQuantized(qa), FromQuantized(qb), m, n, k, formats::kBf16, seq, ScaleBlocks::Mx(),
             formats::kBf16, c2.data(), opt);
  opt.seed = 6;
  ScaledGemm(formats::kE4m3fn, FromQuantized(qa), FromQuantized(qb), m, n, k, formats::kBf16, seq, ScaleBlocks::Mx(),
             formats::kBf16, c3.data(), opt);
  CHECK(c1 == c2);
  CHECK(c1 != c3);
  CHECK(ScaledRoundingsPerDot(seq, ScaleBlocks::Mx(), 64) == 2 * (64 + 2) + 1);
  CHECK(ScaledRoundingsPerDot(seq, ScaleBlocks::None(), 64) == 128 + 1);
}
