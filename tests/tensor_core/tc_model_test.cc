// emulate/dot.h's kHardware options added for the measured H100 models
// (alignment by exponent-field sum, sum_format, promote_nearest_even, the
// two-format Dot) against a reference written differently:
//   - inputs decoded to double by value tables (ml_dtypes-style: the
//     format's value of each code computed with ldexp), products in double
//     (exact: at most 2 * 11 significant bits);
//   - each product's alignment exponent from std::ilogb of its inputs
//     (clamped to the format's minimum normal exponent), the cut by
//     std::trunc(std::ldexp(...)) in double;
//   - a group's cut terms summed in double (exact: at most 32 significant
//     bits here), rounded to P significant bits by std::trunc (toward zero)
//     or std::nearbyint (to nearest even), promotions by host float adds.
// Plus hand-worked cases taken from the H100 probe (where the options make
// the difference the hardware showed).
#include <doctest/doctest.h>

#include <cfenv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "emulate/dot.h"
#include "emulate/h100_tensor_core.h"
#include "formats/catalog.h"

using namespace floatscope;

namespace {

// A float format's value of `code`, from its fields (finite codes only).
double ValueOf(const Format& f, uint64_t code) {
  const int m = f.mantissa_bits;
  const uint64_t mant = code & ((uint64_t{1} << m) - 1);
  const uint64_t field = (code >> m) & ((uint64_t{1} << f.exponent_bits) - 1);
  const bool neg = (code >> (m + f.exponent_bits)) & 1;
  const double v = field == 0 ? std::ldexp(static_cast<double>(mant), 1 - f.bias - m)
                              : std::ldexp(static_cast<double>(mant | (uint64_t{1} << m)),
                                           static_cast<int>(field) - f.bias - m);
  return neg ? -v : v;
}

int MinNormalExp(const Format& f) { return 1 - f.bias; }

// E(v): ilogb for a normal value, the minimum normal exponent for a
// subnormal one.
int FieldExp(const Format& f, double v) { return std::max(std::ilogb(v), MinNormalExp(f)); }

// x rounded to p significant bits (toward zero or to nearest even).
double RoundBits(double x, int p, bool toward_zero) {
  if (x == 0) return 0;
  const int shift = p - 1 - std::ilogb(x);
  const double scaled = std::ldexp(x, shift);
  return std::ldexp(toward_zero ? std::trunc(scaled) : std::nearbyint(scaled), -shift);
}

struct RefModel {
  int group, fraction_bits, promote_every;
  bool by_fields;     // alignment by exponent-field sum (else leading bit)
  int sum_bits;       // significant bits of a group sum (24: float32)
  bool toward_zero;   // group sums' rounding
  bool promote_rne;   // promotions round to nearest even (else as the groups)
};

// The reference dot product, as a float (include_accumulator = true).
float Reference(const Format& fa, const std::vector<uint64_t>& a, const Format& fb, const std::vector<uint64_t>& b,
                const RefModel& m) {
  const size_t n = a.size();
  double s = 0;   // the tensor-core accumulator
  float o = 0;    // the promoted float32 accumulator
  int since = 0;
  for (size_t start = 0; start < n; start += m.group) {
    const size_t end = std::min(n, start + m.group);
    struct T {
      double v;
      int e;
    };
    std::vector<T> terms;
    if (s != 0) terms.push_back({s, std::ilogb(s)});
    for (size_t i = start; i < end; ++i) {
      const double x = ValueOf(fa, a[i]), y = ValueOf(fb, b[i]);
      if (x == 0 || y == 0) continue;
      const int e = m.by_fields ? FieldExp(fa, x) + FieldExp(fb, y) : std::ilogb(x * y);
      terms.push_back({x * y, e});
    }
    double sum = 0;
    if (!terms.empty()) {
      int e = terms[0].e;
      for (const T& t : terms) e = std::max(e, t.e);
      for (const T& t : terms) sum += std::ldexp(std::trunc(std::ldexp(t.v, m.fraction_bits - e)), e - m.fraction_bits);
    }
    s = RoundBits(sum, m.sum_bits, m.toward_zero);
    if (m.promote_every && ++since == m.promote_every) {
      if (m.promote_rne || !m.toward_zero) {
        o = o + static_cast<float>(s);  // host float add: round to nearest even
      } else {
        o = static_cast<float>(RoundBits(static_cast<double>(o) + s, 24, true));
      }
      s = 0;
      since = 0;
    }
  }
  if (m.promote_every == 0) return static_cast<float>(s);
  if (since) o = m.promote_rne || !m.toward_zero ? o + static_cast<float>(s)
                                                 : static_cast<float>(RoundBits(static_cast<double>(o) + s, 24, true));
  return o;
}

DotModel ModelOf(const RefModel& r, const Format* sum_format) {
  DotModel m;
  m.accumulation = Accumulation::kHardware;
  m.group = static_cast<uint32_t>(r.group);
  m.fraction_bits = static_cast<uint32_t>(r.fraction_bits);
  m.include_accumulator = true;
  m.promote_every = static_cast<uint32_t>(r.promote_every);
  m.alignment = r.by_fields ? Alignment::kExponentSum : Alignment::kLeadingBit;
  m.sum_format = sum_format;
  m.promote_nearest_even = r.promote_rne;
  return m;
}

float AsFloat(uint64_t code) {
  const uint32_t bits = static_cast<uint32_t>(code);
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Random finite codes with exponents limited so that no sum leaves
// float32's normal range (the reference has no subnormal float32 sums).
uint64_t RandomCode(const Format& f, std::mt19937_64& rng, int max_field) {
  for (;;) {
    const uint64_t c = rng() & ((uint64_t{1} << f.bits) - 1);
    const uint64_t field = (c >> f.mantissa_bits) & ((uint64_t{1} << f.exponent_bits) - 1);
    const uint64_t top = (uint64_t{1} << f.exponent_bits) - 1;
    if (field == top) continue;  // inf/NaN (e5m2, f16, bf16) or e4m3fn's NaN and near-max binade
    if (static_cast<int>(field) > max_field) continue;
    if ((rng() & 7) == 0) return c & ~((uint64_t{1} << (f.bits - 1)) - 1);  // some zeros
    return c;
  }
}

}  // namespace

TEST_CASE("kHardware with the H100 options equals the double-precision reference") {
  REQUIRE(std::fegetround() == FE_TONEAREST);
  std::mt19937_64 rng(20261123);
  struct Pair {
    const Format* a;
    const Format* b;
    int max_field_a, max_field_b;
  };
  const Pair pairs[] = {
      {&formats::kE4m3fn, &formats::kE4m3fn, 14, 14},
      {&formats::kE5m2, &formats::kE4m3fn, 30, 14},
      {&formats::kF16, &formats::kF16, 30, 30},
      {&formats::kBf16, &formats::kBf16, 150, 150},
  };
  const RefModel models[] = {
      {32, 13, 4, true, 14, true, true},   {32, 13, 0, true, 14, true, false}, {16, 25, 0, true, 24, true, false},
      {16, 25, 0, false, 24, true, false}, {8, 20, 2, true, 24, false, false}, {32, 13, 4, false, 14, true, true},
      {32, 13, 3, true, 14, true, false},  {16, 11, 0, true, 12, false, false},
  };
  size_t checked = 0;
  for (const Pair& p : pairs)
    for (const RefModel& rm : models) {
      // bf16 with F = 25 keeps everything only if the bf16 exponents stay
      // close; every case here has at most 32 significant bits per sum.
      const Format* sf = nullptr;
      Format sum_format = formats::kF32;
      if (rm.sum_bits != 24) {
        sum_format = kH100Fp8SumFormat;
        sum_format.mantissa_bits = static_cast<uint8_t>(rm.sum_bits - 1);
        sum_format.bits = static_cast<uint8_t>(8 + rm.sum_bits);
        sf = &sum_format;
      }
      const DotModel model = ModelOf(rm, sf);
      Options opt;
      opt.rounding = rm.toward_zero ? Rounding::kTowardZero : Rounding::kNearestEven;
      for (int trial = 0; trial < 150; ++trial) {
        const size_t n = 1 + rng() % 300;
        std::vector<uint64_t> a(n), b(n);
        // Keep exponent fields in a window so bf16 sums stay within 32 bits
        // of the largest term and every sum inside float32's normal range.
        const int wa = std::min(p.max_field_a, static_cast<int>(p.a->bias) + 6);
        const int wb = std::min(p.max_field_b, static_cast<int>(p.b->bias) + 6);
        for (size_t i = 0; i < n; ++i) {
          a[i] = RandomCode(*p.a, rng, wa);
          b[i] = RandomCode(*p.b, rng, wb);
          if (p.a == &formats::kBf16) {
            // bf16: exponent fields within 12 of the bias (products within
            // 2^+-24, sums exact in double).
            auto clamp = [](uint64_t c) {
              const uint64_t field = (c >> 7) & 0xff;
              if (field + 12 < 127 || field > 127 + 12) c = (c & 0x807f) | (uint64_t{127} << 7);
              return c;
            };
            a[i] = clamp(a[i]);
            b[i] = clamp(b[i]);
          }
        }
        const float want = Reference(*p.a, a, *p.b, b, rm);
        const float got = AsFloat(Dot(*p.a, a.data(), 1, *p.b, b.data(), 1, n, formats::kF32, model, opt).code);
        CAPTURE(p.a->name);
        CAPTURE(p.b->name);
        CAPTURE(rm.group);
        CAPTURE(rm.fraction_bits);
        CAPTURE(rm.promote_every);
        CAPTURE(rm.by_fields);
        CAPTURE(rm.sum_bits);
        CAPTURE(n);
        REQUIRE(want == got);  // bit-identical for nonzero floats; the sign of a zero is not compared
        ++checked;
      }
    }
  CHECK(checked == 4 * 8 * 150);
}

TEST_CASE("alignment by exponent-field sum keeps one bit more below a product in [2, 4)") {
  // e4m3fn: 1.5 * 1.5 = 2.25 (leading bit 2^1, exponent sum 2^0). Terms
  // 2.25 - 2.25 + 2^-13: with F = 13 the field-sum alignment cuts at 2^-13
  // (kept), the leading-bit alignment at 2^-12 (dropped). As measured on the
  // H100 (probe family cut_sig).
  // 2^-13 = 2^-6 (0x08, the smallest normal) * 2^-7 (0x04, a subnormal).
  const uint64_t a[] = {0x3c, 0xbc, 0x08};  // 1.5, -1.5, 2^-6
  const uint64_t b[] = {0x3c, 0x3c, 0x04};  // 1.5, 1.5, 2^-7
  DotModel m;
  m.accumulation = Accumulation::kHardware;
  m.group = 32;
  m.fraction_bits = 13;
  m.alignment = Alignment::kExponentSum;
  CHECK(AsFloat(Dot(formats::kE4m3fn, a, 1, b, 1, 3, formats::kF32, m).code) == std::ldexp(1.0f, -13));
  m.alignment = Alignment::kLeadingBit;
  CHECK(AsFloat(Dot(formats::kE4m3fn, a, 1, b, 1, 3, formats::kF32, m).code) == 0.0f);
}

TEST_CASE("the FP8 group sum keeps 14 significant bits, truncated (an H100 probe)") {
  // Designed probe 308 at K = 16 of the H100 run: a = (-14, 0.5625),
  // b = (7.5, 0.8125): exact -105 + 0.45703125 = -104.54296875 needs 15
  // bits; the H100 returned -104.5390625 (14 bits, toward zero).
  const uint64_t a[] = {0xd6, 0x31};  // -14 = -1.75 * 2^3, 0.5625 = 1.125 * 2^-1
  const uint64_t b[] = {0x4f, 0x35};  // 7.5 = 1.875 * 2^2, 0.8125 = 1.625 * 2^-1
  const H100TensorCoreModel* fast = FindH100TensorCoreModel("h100-e4m3-fast");
  REQUIRE(fast);
  CHECK(AsFloat(Dot(formats::kE4m3fn, a, 1, b, 1, 2, formats::kF32, fast->model, fast->options).code) ==
        -104.5390625f);
  DotModel wide = fast->model;
  wide.sum_format = nullptr;  // float32 group sums: exact here
  CHECK(AsFloat(Dot(formats::kE4m3fn, a, 1, b, 1, 2, formats::kF32, wide, fast->options).code) == -104.54296875f);
}

TEST_CASE("promotion rounds to nearest even when asked, whatever the group rounding") {
  // Two groups of one product each, promotion after every group: o = 1, then
  // o + (1 + 2^-23 + 2^-24)... built from f16: 1 and 2^-24 * 3 -> o + 3 *
  // 2^-24 = 1 + 1.5 ulp: nearest even gives 1 + 2 ulp, toward zero 1 + 1 ulp.
  const uint64_t a[] = {0x3c00, 0x0003};  // 1, 3 * 2^-24 (subnormal f16)
  const uint64_t b[] = {0x3c00, 0x3c00};
  DotModel m;
  m.accumulation = Accumulation::kHardware;
  m.group = 1;
  m.fraction_bits = 40;
  m.promote_every = 1;
  Options rtz;
  rtz.rounding = Rounding::kTowardZero;
  const float up = 1.0f + std::ldexp(1.0f, -22), down = 1.0f + std::ldexp(1.0f, -23);
  CHECK(AsFloat(Dot(formats::kF16, a, 1, b, 1, 2, formats::kF32, m, rtz).code) == down);
  m.promote_nearest_even = true;
  CHECK(AsFloat(Dot(formats::kF16, a, 1, b, 1, 2, formats::kF32, m, rtz).code) == up);
}

TEST_CASE("two-format Dot: each operand's subnormals align by its own format") {
  // e5m2 x e4m3fn. b = 2^-9 is e4m3fn's smallest subnormal: its exponent
  // field reads 2^-6 (not 2^-9, and not f16's 2^-14, which converting both
  // to f16 would give). a = 2^10: the product 2^1 aligns by 10 + (-6) = 4.
  // A second product, 2^-7 * 2^-1 = 2^-8, is kept iff 2^-8 >= 2^(4 - F).
  const uint64_t a[] = {0x64, 0x20};  // e5m2: 2^10, 2^-7
  const uint64_t b[] = {0x01, 0x30};  // e4m3fn: 2^-9 (subnormal), 2^-1
  // Products: 2^1 and 2^-8. Cut at 2^(4 - 12) = 2^-8: kept -> 2 + 2^-8.
  DotModel m;
  m.accumulation = Accumulation::kHardware;
  m.group = 32;
  m.fraction_bits = 12;
  m.alignment = Alignment::kExponentSum;
  CHECK(AsFloat(Dot(formats::kE5m2, a, 1, formats::kE4m3fn, b, 1, 2, formats::kF32, m).code) ==
        2.0f + std::ldexp(1.0f, -8));
  m.fraction_bits = 11;  // cut at 2^-7: dropped
  CHECK(AsFloat(Dot(formats::kE5m2, a, 1, formats::kE4m3fn, b, 1, 2, formats::kF32, m).code) == 2.0f);
  // The one-format Dot is the two-format one with the same format twice.
  const uint64_t c[] = {0x3c, 0x01, 0xb8};
  const uint64_t d[] = {0x01, 0x7e, 0x3c};
  for (uint32_t f : {3u, 8u, 13u}) {
    m.fraction_bits = f;
    CHECK(Dot(formats::kE4m3fn, c, 1, d, 1, 3, formats::kF32, m).code ==
          Dot(formats::kE4m3fn, c, 1, formats::kE4m3fn, d, 1, 3, formats::kF32, m).code);
  }
}

TEST_CASE("RoundingsPerDot counts the final rounding out of sum_format") {
  DotModel m;
  m.accumulation = Accumulation::kHardware;
  m.group = 32;
  CHECK(RoundingsPerDot(m, 100) == 4);
  m.sum_format = &kH100Fp8SumFormat;
  CHECK(RoundingsPerDot(m, 100) == 5);
  m.promote_every = 2;  // 4 groups, 2 promotions, the final rounding
  CHECK(RoundingsPerDot(m, 100) == 7);
  // An instruction K order counts the padding: K = 33 runs as 64 (4 steps of
  // 16, a promotion per instruction, the final rounding).
  const DotModel& mma = FindH100TensorCoreModel("hopper-mma-fp8")->model;
  CHECK(RoundingsPerDot(mma, 32) == 4);
  CHECK(RoundingsPerDot(mma, 33) == 7);
  CHECK(RoundingsPerDot(mma, 64) == 7);
  CHECK(RoundingsPerDot(mma, 0) == 0);
}

TEST_CASE("the H100 presets are found by name and say what was measured") {
  for (const char* name : {"h100-f16", "h100-bf16", "h100-e4m3", "h100-e4m3-fast", "h100-e5m2xe4m3",
                           "h100-e5m2xe4m3-fast", "hopper-mma-fp8"}) {
    CAPTURE(name);
    const H100TensorCoreModel* m = FindH100TensorCoreModel(name);
    REQUIRE(m);
    CHECK(m->model.accumulation == Accumulation::kHardware);
    CHECK(m->model.alignment == Alignment::kExponentSum);
    CHECK(m->model.include_accumulator);
    CHECK(m->options.rounding == Rounding::kTowardZero);
  }
  CHECK(FindH100TensorCoreModel("h100-e5m2") == nullptr);
  CHECK(FindH100TensorCoreModel("h100-f16")->model.group == 16);
  CHECK(FindH100TensorCoreModel("h100-f16")->model.fraction_bits == 25);
  CHECK(FindH100TensorCoreModel("h100-e4m3")->model.group == 32);
  CHECK(FindH100TensorCoreModel("h100-e4m3")->model.fraction_bits == 13);
  CHECK(FindH100TensorCoreModel("h100-e4m3")->model.promote_every == 4);
  CHECK(FindH100TensorCoreModel("h100-e4m3-fast")->model.promote_every == 0);
  CHECK(kH100Fp8SumFormat.mantissa_bits == 13);
  // Hopper's FP8 mma.sync: h100-f16's steps on f16 operands, 32 K per
  // instruction in two sub-steps of K 0, 1 (mod 4) and 2, 3, the
  // instruction's sum added to C with round to nearest even.
  const H100TensorCoreModel* mma = FindH100TensorCoreModel("hopper-mma-fp8");
  REQUIRE(mma);
  const DotModel& f16 = FindH100TensorCoreModel("h100-f16")->model;
  CHECK(mma->model.operand_format == &formats::kF16);
  CHECK(mma->model.instruction_k == 32);
  CHECK(mma->model.substeps == 2);
  CHECK(mma->model.substep_run == 2);
  CHECK(mma->model.promote_every == 2);
  CHECK(mma->model.promote_nearest_even);
  CHECK(mma->model.group == f16.group);
  CHECK(mma->model.fraction_bits == f16.fraction_bits);
  CHECK(mma->model.alignment == f16.alignment);
  CHECK(mma->model.sum_format == f16.sum_format);
  CHECK(mma->model.overflow_to_infinity == f16.overflow_to_infinity);
  // The other presets take their operands as they are, in K order.
  for (const H100TensorCoreModel& p : kH100TensorCoreModels)
    if (&p != mma) CHECK((p.model.operand_format == nullptr && p.model.instruction_k == 0));
}
