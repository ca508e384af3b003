// Hand-worked cases of emulate/arith.h: the special operands, the IEEE 754
// zero-sign rules, flags, ties and overflow, one per rule of the header
// comment. Every expected code is worked out in the comment beside it from
// the format's definition, not taken from the implementation.
#include <doctest/doctest.h>

#include <cstdint>
#include <ios>
#include <string>

#include "emulate/arith.h"
#include "formats/catalog.h"
#include "formats/names.h"

using namespace floatscope;

namespace {

struct Case {
  ArithOp op;
  uint64_t a, b, c;
  Rounding mode;
  uint64_t want;
  uint8_t flags;
  const char* why;
};

void Check(const Format& f, const Case& t, Options opt = {}) {
  opt.rounding = t.mode;
  const uint64_t x[3] = {t.a, t.b, t.c};
  const Result r = ApplyArith(t.op, f, x, opt, 0);
  INFO(std::string(f.name) << "_" << std::string(ArithOpName(t.op)) << " " << std::hex << t.a
                           << " " << t.b << " " << t.c << " [" << std::string(RoundingNameOf(t.mode))
                           << "]: " << std::string(t.why));
  CHECK(r.code == t.want);
  CHECK(int{r.flags} == int{t.flags});
}

constexpr Rounding kRne = Rounding::kNearestEven, kRna = Rounding::kNearestAway,
                   kRtz = Rounding::kTowardZero, kRdn = Rounding::kDown, kRup = Rounding::kUp,
                   kRto = Rounding::kOdd;
constexpr ArithOp kAdd = ArithOp::kAdd, kSub = ArithOp::kSub, kMul = ArithOp::kMul,
                  kDiv = ArithOp::kDiv, kSqrt = ArithOp::kSqrt, kFma = ArithOp::kMulAdd;

}  // namespace

TEST_CASE("f16: exact results, ties in every mode, overflow") {
  // f16: 1 = 3C00, 2 = 4000, 2^-11 = 1000 (field 15-11 = 4), 65504 = 7BFF
  // (odd significand), 16 = 4C00, 2^-14 = 0400 (min normal), 2^-24 = 0001.
  const Case cases[] = {
      {kAdd, 0x3C00, 0x3C00, 0, kRne, 0x4000, 0, "1 + 1 = 2"},
      {kAdd, 0x3C00, 0x1000, 0, kRne, 0x3C00, 1, "1 + 2^-11: tie, even is 1"},
      {kAdd, 0x3C00, 0x1000, 0, kRna, 0x3C01, 1, "tie away"},
      {kAdd, 0x3C00, 0x1000, 0, kRtz, 0x3C00, 1, ""},
      {kAdd, 0x3C00, 0x1000, 0, kRdn, 0x3C00, 1, ""},
      {kAdd, 0x3C00, 0x1000, 0, kRup, 0x3C01, 1, ""},
      {kAdd, 0x3C00, 0x1000, 0, kRto, 0x3C01, 1, "odd: last bit 1"},
      {kAdd, 0xBC00, 0x9000, 0, kRdn, 0xBC01, 1, "-1 - 2^-11 toward -inf"},
      {kAdd, 0xBC00, 0x9000, 0, kRup, 0xBC00, 1, ""},
      // 65504 + 16 = 65520: halfway to 65536, 65504 odd -> infinity.
      {kAdd, 0x7BFF, 0x4C00, 0, kRne, 0x7C00, 5, "65520 ties to 2^16: overflow"},
      // Toward zero 65520 is 65504 even with an unbounded exponent: no
      // overflow. 65504 + 64 = 65568 rounds to 65536 > max there: overflow.
      {kAdd, 0x7BFF, 0x4C00, 0, kRtz, 0x7BFF, 1, "65520 toward zero: max, not overflow"},
      {kAdd, 0x7BFF, 0x5400, 0, kRtz, 0x7BFF, 5, "toward zero stops at max"},
      {kAdd, 0xFBFF, 0xD400, 0, kRup, 0xFBFF, 5, "-65568 toward +inf: -max"},
      {kAdd, 0xFBFF, 0xD400, 0, kRdn, 0xFC00, 5, "-65568 toward -inf: -inf"},
      // 1 - 2^-11 (just below 1) is exact in f16: 0.99951171875 = 3BFF.
      {kSub, 0x3C00, 0x1000, 0, kRne, 0x3BFF, 0, "exact"},
      // (1 + 2^-10)^2 = 1 + 2^-9 + 2^-20: rounds to 1 + 2^-9 = 3C02.
      {kMul, 0x3C01, 0x3C01, 0, kRne, 0x3C02, 1, ""},
      {kMul, 0x3C01, 0x3C01, 0, kRup, 0x3C03, 1, ""},
      // 2^-24 * 0.5 = 2^-25: halfway between 0 and 2^-24.
      {kMul, 0x0001, 0x3800, 0, kRne, 0x0000, 3, "tie to zero: underflow"},
      {kMul, 0x0001, 0x3800, 0, kRup, 0x0001, 3, ""},
      {kMul, 0x8001, 0x3800, 0, kRne, 0x8000, 3, "-0 keeps the sign"},
      // (2^-14 - 2^-24)(1 + 2^-10) = 2^-14 - 2^-34: tiny before rounding;
      // rounded to 11 bits with an unbounded exponent it is 2^-14, so not
      // tiny after rounding: inexact only. Toward zero it stays tiny.
      {kMul, 0x03FF, 0x3C01, 0, kRne, 0x0400, 1, "tininess after rounding"},
      {kMul, 0x03FF, 0x3C01, 0, kRtz, 0x03FF, 3, "tiny, inexact"},
      // 2^-14 (1 - 2^-11) = 2^-14 - 2^-25 is exact on the unbounded grid
      // (tiny) and halfway on the subnormal grid: ties to 2^-14 (even).
      {kMul, 0x0400, 0x3BFF, 0, kRne, 0x0400, 3, "tie at the normal boundary"},
      // 1/3 = 0.0101..b: 1.0101010101|0101.. * 2^-2 -> 3555 (rne), below half.
      {kDiv, 0x3C00, 0x4200, 0, kRne, 0x3555, 1, "1/3"},
      {kDiv, 0x3C00, 0x4200, 0, kRup, 0x3556, 1, ""},
      {kDiv, 0x4200, 0x4000, 0, kRne, 0x3E00, 0, "3/2 exact"},
      // sqrt(2) = 1.0110101000|0010.. -> 1.0110101000 = 3DA8.
      {kSqrt, 0x4000, 0, 0, kRne, 0x3DA8, 1, "sqrt(2)"},
      {kSqrt, 0x4000, 0, 0, kRup, 0x3DA9, 1, ""},
      {kSqrt, 0x4400, 0, 0, kRne, 0x4000, 0, "sqrt(4) = 2 exact"},
      {kSqrt, 0x0001, 0, 0, kRne, 0x0C00, 0, "sqrt(2^-24) = 2^-12 exact"},
      {kSqrt, 0x0002, 0, 0, kRne, 0x0DA8, 1, "sqrt(2^-23) = 2^-12 sqrt(2)"},
      // fma: (1 + 2^-10)^2 - (1 + 2^-9) = 2^-20 = 16 * 2^-24 = 0010, exact
      // (tiny but exact: no underflow). Unfused it would be 0.
      {kFma, 0x3C01, 0x3C01, 0xBC02, kRne, 0x0010, 0, "one rounding"},
      {kFma, 0x3C00, 0x3C00, 0x3C00, kRne, 0x4000, 0, "1*1+1"},
      // 2 * 2 + 2^-11: 4 + 2^-11 rounds to 4 (exact part 4, ulp 2^-8).
      {kFma, 0x4000, 0x4000, 0x1000, kRup, 0x4401, 1, "tiny addend is sticky"},
      {kFma, 0x4000, 0x4000, 0x9000, kRdn, 0x43FF, 1, "tiny negative addend"},
      {kFma, 0x4000, 0x4000, 0x9000, kRtz, 0x43FF, 1, ""},
      {kFma, 0x4000, 0x4000, 0x9000, kRne, 0x4400, 1, ""},
  };
  for (const Case& t : cases) Check(formats::kF16, t);
}

TEST_CASE("IEEE 754 6.3: signs of exact zeros") {
  const Case cases[] = {
      {kSub, 0x3C00, 0x3C00, 0, kRne, 0x0000, 0, "x - x = +0"},
      {kSub, 0x3C00, 0x3C00, 0, kRtz, 0x0000, 0, ""},
      {kSub, 0x3C00, 0x3C00, 0, kRup, 0x0000, 0, ""},
      {kSub, 0x3C00, 0x3C00, 0, kRto, 0x0000, 0, ""},
      {kSub, 0x3C00, 0x3C00, 0, kRdn, 0x8000, 0, "x - x = -0 toward -inf"},
      {kAdd, 0xBC00, 0x3C00, 0, kRne, 0x0000, 0, "-x + x = +0"},
      {kAdd, 0xBC00, 0x3C00, 0, kRdn, 0x8000, 0, ""},
      {kAdd, 0x8000, 0x8000, 0, kRne, 0x8000, 0, "-0 + -0 = -0"},
      {kAdd, 0x0000, 0x0000, 0, kRdn, 0x0000, 0, "+0 + +0 = +0"},
      {kAdd, 0x0000, 0x8000, 0, kRne, 0x0000, 0, "+0 + -0 = +0"},
      {kAdd, 0x0000, 0x8000, 0, kRdn, 0x8000, 0, "... -0 toward -inf"},
      {kSub, 0x8000, 0x0000, 0, kRne, 0x8000, 0, "-0 - +0 = -0"},
      {kSub, 0x0000, 0x0000, 0, kRne, 0x0000, 0, "+0 - +0 = +0"},
      {kSub, 0x0000, 0x0000, 0, kRdn, 0x8000, 0, ""},
      {kAdd, 0x8000, 0x3C00, 0, kRne, 0x3C00, 0, "-0 + x = x"},
      {kMul, 0x8000, 0x3C00, 0, kRne, 0x8000, 0, "-0 * 1 = -0"},
      {kMul, 0x8000, 0xBC00, 0, kRne, 0x0000, 0, "-0 * -1 = +0"},
      {kDiv, 0x8000, 0x3C00, 0, kRne, 0x8000, 0, "-0 / 1 = -0"},
      {kDiv, 0x3C00, 0xFC00, 0, kRne, 0x8000, 0, "1 / -inf = -0"},
      {kSqrt, 0x8000, 0, 0, kRne, 0x8000, 0, "sqrt(-0) = -0"},
      {kSqrt, 0x0000, 0, 0, kRne, 0x0000, 0, "sqrt(+0) = +0"},
      {kFma, 0x3C00, 0x3C00, 0xBC00, kRne, 0x0000, 0, "1*1 - 1 = +0"},
      {kFma, 0x3C00, 0x3C00, 0xBC00, kRdn, 0x8000, 0, "... -0 toward -inf"},
      {kFma, 0x8000, 0x3C00, 0x8000, kRne, 0x8000, 0, "(-0)*1 + -0 = -0"},
      {kFma, 0x0000, 0x3C00, 0x8000, kRne, 0x0000, 0, "(+0)*1 + -0 = +0"},
      {kFma, 0x0000, 0x3C00, 0x8000, kRdn, 0x8000, 0, ""},
      {kFma, 0x0000, 0xBC00, 0x8000, kRne, 0x8000, 0, "(+0)*(-1) + -0 = -0"},
      {kFma, 0x0001, 0x0001, 0x8000, kRne, 0x0000, 3, "2^-48 + -0: rounds to +0"},
      {kFma, 0x8001, 0x0001, 0x0000, kRne, 0x8000, 3, "-2^-48 + 0: rounds to -0"},
  };
  for (const Case& t : cases) Check(formats::kF16, t);
}

TEST_CASE("invalid, divide by zero and NaN operands") {
  // f16 NaNs: 7E00 canonical quiet; 7C01 signaling (quiet bit 0200 clear).
  const Case cases[] = {
      {kAdd, 0x7C00, 0xFC00, 0, kRne, 0x7E00, 16, "inf - inf"},
      {kSub, 0x7C00, 0x7C00, 0, kRne, 0x7E00, 16, "inf - inf"},
      {kAdd, 0x7C00, 0x7C00, 0, kRne, 0x7C00, 0, "inf + inf"},
      {kSub, 0x7C00, 0xFC00, 0, kRne, 0x7C00, 0, "inf - -inf"},
      {kAdd, 0xFC00, 0x7BFF, 0, kRne, 0xFC00, 0, "-inf + max"},
      {kMul, 0x0000, 0x7C00, 0, kRne, 0x7E00, 16, "0 * inf"},
      {kMul, 0xFC00, 0x8000, 0, kRne, 0x7E00, 16, "-inf * -0"},
      {kMul, 0xFC00, 0xBC00, 0, kRne, 0x7C00, 0, "-inf * -1"},
      {kDiv, 0x0000, 0x8000, 0, kRne, 0x7E00, 16, "0 / 0"},
      {kDiv, 0x7C00, 0xFC00, 0, kRne, 0x7E00, 16, "inf / inf"},
      {kDiv, 0x3C00, 0x0000, 0, kRne, 0x7C00, 8, "1 / 0: divide by zero"},
      {kDiv, 0x3C00, 0x8000, 0, kRne, 0xFC00, 8, "1 / -0"},
      {kDiv, 0x0001, 0x0000, 0, kRtz, 0x7C00, 8, "exact infinity in every mode"},
      {kDiv, 0x7C00, 0x0000, 0, kRne, 0x7C00, 0, "inf / 0 = inf, no flag"},
      {kDiv, 0x0000, 0x7C00, 0, kRne, 0x0000, 0, "0 / inf"},
      {kSqrt, 0xBC00, 0, 0, kRne, 0x7E00, 16, "sqrt(-1)"},
      {kSqrt, 0xFC00, 0, 0, kRne, 0x7E00, 16, "sqrt(-inf)"},
      {kSqrt, 0x8001, 0, 0, kRne, 0x7E00, 16, "sqrt(-min subnormal)"},
      {kSqrt, 0x7C00, 0, 0, kRne, 0x7C00, 0, "sqrt(inf)"},
      {kAdd, 0x7E05, 0x3C00, 0, kRne, 0x7E05, 0, "quiet NaN passes with payload"},
      {kAdd, 0x3C00, 0xFE07, 0, kRne, 0xFE07, 0, "... and sign"},
      {kAdd, 0x7C01, 0x3C00, 0, kRne, 0x7E01, 16, "signaling NaN: quieted, invalid"},
      {kMul, 0x7E05, 0xFC01, 0, kRne, 0x7E05, 16, "first NaN wins; sNaN anywhere: invalid"},
      {kSqrt, 0x7D00, 0, 0, kRne, 0x7F00, 16, "sqrt(sNaN)"},
      {kFma, 0x0000, 0x7C00, 0x3C00, kRne, 0x7E00, 16, "0 * inf + 1"},
      {kFma, 0x0000, 0x7C00, 0x7E03, kRne, 0x7E03, 16, "0 * inf + qNaN: invalid (SoftFloat, x86)"},
      {kFma, 0x7C00, 0x3C00, 0xFC00, kRne, 0x7E00, 16, "inf - inf inside fma"},
      {kFma, 0x7C00, 0x3C00, 0x7C00, kRne, 0x7C00, 0, "inf + inf"},
      {kFma, 0x3C00, 0x3C00, 0xFC00, kRne, 0xFC00, 0, "1 - inf"},
      {kFma, 0x3C00, 0x7E01, 0x7E02, kRne, 0x7E01, 0, "NaN from b before c"},
      {kFma, 0x3C00, 0x3C00, 0x7C02, kRne, 0x7E02, 16, "sNaN c"},
  };
  for (const Case& t : cases) Check(formats::kF16, t);
}

TEST_CASE("NaN results follow the core's NaN options") {
  Options canonical;
  canonical.nan_payload = NanPayload::kCanonical;
  Check(formats::kF16, {kAdd, 0xFE05, 0x3C00, 0, kRne, 0xFE00, 0, "kCanonical drops the payload"},
        canonical);
  Options cuda;
  cuda.nan_payload = NanPayload::kAllOnes;
  Check(formats::kF16, {kAdd, 0x7C00, 0xFC00, 0, kRne, 0x7FFF, 16, "kAllOnes default NaN"}, cuda);
  Check(formats::kBf16, {kDiv, 0x0000, 0x0000, 0, kRne, 0x7FC0, 16, "bf16 default NaN"});
  Check(formats::kF32, {kSqrt, 0xBF800000, 0, 0, kRne, 0x7FC00000, 16, "f32 default NaN"});
  Check(formats::kF64, {kMul, 0, 0xFFF0000000000000, 0, kRne, 0x7FF8000000000000, 16, "f64"});
}

TEST_CASE("8-bit, FP6, FP4 and scale formats: overflow, NaN and zero rules") {
  // e4m3fn: 448 = 7E (S.1111.110), NaN 7F/FF, no infinity; 16 = 58 (field
  // 11), 32 = 60, 1 = 38, 0.5 = 30.
  const Case e4m3fn[] = {
      {kAdd, 0x7E, 0x58, 0, kRne, 0x7E, 1, "448 + 16 = 464 ties to 448 (even)"},
      {kAdd, 0x7E, 0x60, 0, kRne, 0x7F, 5, "480 overflows to NaN (ieee)"},
      {kAdd, 0x7E, 0x60, 0, kRtz, 0x7E, 5, "toward zero: max"},
      {kAdd, 0xFE, 0xE0, 0, kRne, 0xFF, 5, "-NaN keeps the sign"},
      {kDiv, 0x38, 0x00, 0, kRne, 0x7F, 8 | 16, "1 / 0: infinity has no code: NaN, invalid"},
      {kSub, 0x38, 0x38, 0, kRdn, 0x80, 0, "x - x = -0 toward -inf"},
      {kAdd, 0x7F, 0x38, 0, kRne, 0x7F, 0, "NaN operand"},
      {kSqrt, 0xB8, 0, 0, kRne, 0x7F, 16, "sqrt(-1)"},
  };
  for (const Case& t : e4m3fn) Check(formats::kE4m3fn, t);
  Options sat;
  sat.overflow = Overflow::kSaturate;
  Check(formats::kE4m3fn, {kAdd, 0x7E, 0x60, 0, kRne, 0x7E, 5, "saturate"}, sat);
  Check(formats::kE4m3fn, {kDiv, 0xB8, 0x00, 0, kRne, 0xFE, 8 | 5, "saturate: -1/0 = -max"}, sat);
  Check(formats::kE5m2, {kDiv, 0x3C, 0x00, 0, kRne, 0x7C, 8, "e5m2 1/0 = inf"});
  Check(formats::kE5m2, {kAdd, 0x7C, 0x3C, 0, kRne, 0x7B, 5, "saturate: inf + 1 = max"}, sat);

  // e4m3fnuz: 1 = 40 (bias 8), NaN 80, no -0.
  Check(formats::kE4m3fnuz, {kSub, 0x40, 0x40, 0, kRdn, 0x00, 0, "no -0: +0 even toward -inf"});
  Check(formats::kE4m3fnuz, {kMul, 0xC0, 0x00, 0, kRne, 0x00, 0, "-1 * 0 = +0"});
  Check(formats::kE4m3fnuz, {kDiv, 0x00, 0x00, 0, kRne, 0x80, 16, "0/0 = the NaN 80"});
  Check(formats::kE4m3fnuz, {kAdd, 0x80, 0x40, 0, kRne, 0x80, 0, "NaN operand"});
  // binary8p3 (P3109): inf 7F, -inf FF, NaN 80; 1 = 40 (bias 16: field 16).
  Check(formats::kBinary8p3, {kDiv, 0xC0, 0x00, 0, kRne, 0xFF, 8, "-1/0 = -inf"});
  Check(formats::kBinary8p3, {kSub, 0x7F, 0x7F, 0, kRne, 0x80, 16, "inf - inf"});

  // e2m1fn: 6 = 07, 1 = 02, no NaN/inf, saturates by default.
  const Case e2m1[] = {
      {kAdd, 0x07, 0x07, 0, kRne, 0x07, 5, "6 + 6 saturates"},
      {kDiv, 0x00, 0x00, 0, kRne, 0x00, 16, "0/0: no NaN, +0 and invalid"},
      {kDiv, 0x0A, 0x00, 0, kRne, 0x0F, 8 | 5, "-1/0: -6"},
      {kSqrt, 0x0A, 0, 0, kRne, 0x00, 16, "sqrt(-1)"},
      // 1.5 * 1.5 = 2.25 -> 2 (ties? no: 2.25 between 2 and 3, nearer 2)
      {kMul, 0x03, 0x03, 0, kRne, 0x04, 1, "2.25 -> 2"},
      {kMul, 0x03, 0x03, 0, kRup, 0x05, 1, "2.25 -> 3 toward +inf"},
  };
  for (const Case& t : e2m1) Check(formats::kE2m1fn, t);
  Options no_nan_max;
  no_nan_max.nan_to_no_nan = NanToNoNan::kMaxFinite;
  Check(formats::kE2m1fn, {kDiv, 0x00, 0x00, 0, kRne, 0x07, 16, "NanToNoNan::kMaxFinite"}, no_nan_max);

  // e8m0fnu: code c = 2^(c-127), FF NaN, no zero, no sign.
  Check(formats::kE8m0fnu, {kMul, 0x7F, 0x80, 0, kRne, 0x80, 0, "1 * 2 = 2"});
  Check(formats::kE8m0fnu, {kSub, 0x80, 0x80, 0, kRne, 0xFF, 16, "2 - 2 = 0: no zero"});
  Check(formats::kE8m0fnu, {kSub, 0x7F, 0x80, 0, kRne, 0xFF, 16, "1 - 2 < 0: no sign"});
  Check(formats::kE8m0fnu, {kAdd, 0x7F, 0x7F, 0, kRne, 0x80, 0, "1 + 1 = 2"});
  Check(formats::kE8m0fnu, {kSqrt, 0x81, 0, 0, kRne, 0x80, 0, "sqrt(4) = 2"});
  // 1 + 2 = 3: between 2 and 4, a tie in the log-free sense? No: nearest
  // by value, 3 is the midpoint of 2 and 4, the even code 80 (2) wins.
  Check(formats::kE8m0fnu, {kAdd, 0x7F, 0x80, 0, kRne, 0x80, 1, "3 ties to the even code"});
}

TEST_CASE("subnormal policies: DAZ reads operands as zero, FTZ flushes results") {
  Options daz;
  daz.flush_input = true;
  Check(formats::kF16, {kAdd, 0x0001, 0x0000, 0, kRne, 0x0000, 0, "DAZ: 2^-24 reads as 0"}, daz);
  Check(formats::kF16, {kMul, 0x8001, 0x3C00, 0, kRne, 0x8000, 0, "DAZ keeps the sign"}, daz);
  Check(formats::kF16, {kDiv, 0x3C00, 0x0001, 0, kRne, 0x7C00, 8, "DAZ divisor: 1/0"}, daz);
  Options ftz;
  ftz.flush_output = true;
  Check(formats::kF16, {kAdd, 0x0001, 0x0000, 0, kRne, 0x0000, 3, "FTZ: tiny result flushed"}, ftz);
  Check(formats::kF16, {kAdd, 0x0200, 0x0200, 0, kRne, 0x0400, 0, "sum is normal: kept"}, ftz);
  Check(formats::kF16, {kSub, 0x0401, 0x0400, 0, kRne, 0x0000, 3, "difference tiny: flushed"}, ftz);
}

TEST_CASE("custom specs and wide formats") {
  // e5m6 as the spec parser builds it: f16's range with 6 fraction bits.
  static constexpr Format kE5m6{"e5m6", Kind::kFloat, 12, 16, true, 5, 6, 15, InfCodes::kIeee,
                                NanCodes::kIeee, true, true, Overflow::kIeee, "test"};
  const Format* e5m6 = &kE5m6;
  // 1 = 0x3C0 (field 15 << 6); 1 + 2^-7 (ulp/2) = tie -> 1 (rne).
  // 2^-7 = field 8 -> 0x200.
  Check(*e5m6, {kAdd, 0x3C0, 0x200, 0, kRne, 0x3C0, 1, "tie to even"});
  Check(*e5m6, {kAdd, 0x3C0, 0x200, 0, kRna, 0x3C1, 1, "tie away"});
  // f64: 1 + 2^-53 ties to 1; (1 + 2^-52) + 2^-53 ties up to 1 + 2^-51.
  Check(formats::kF64, {kAdd, 0x3FF0000000000000, 0x3CA0000000000000, 0, kRne, 0x3FF0000000000000, 1, ""});
  Check(formats::kF64, {kAdd, 0x3FF0000000000001, 0x3CA0000000000000, 0, kRne, 0x3FF0000000000002, 1, ""});
  // f64 fma: (1 + 2^-52)(1 - 2^-52) - 1 = -2^-104 exactly.
  Check(formats::kF64, {kFma, 0x3FF0000000000001, 0x3FEFFFFFFFFFFFFE, 0xBFF0000000000000, kRne,
                        0xB970000000000000, 0, "fma keeps the -2^-104"});
  // f64 min subnormal * max: 2^-1074 * (2 - 2^-52) 2^1023 = (2 - 2^-52) 2^-51, exact.
  Check(formats::kF64, {kMul, 0x0000000000000001, 0x7FEFFFFFFFFFFFFF, 0, kRne, 0x3CCFFFFFFFFFFFFF, 0, ""});
  // f64 sqrt of max subnormal-ish values and 2^-1074: sqrt(2^-1074) = 2^-537.
  Check(formats::kF64, {kSqrt, 0x0000000000000001, 0, 0, kRne, 0x1E60000000000000, 0, "2^-537"});
  // tf32: codes are 19 bits (storage shifts them 13 up); 1 = 0x1FC00 (field
  // 127 << 10); 1 + 1 = 2 = 0x20000.
  Check(formats::kTf32, {kAdd, 0x1FC00, 0x1FC00, 0, kRne, 0x20000, 0, "tf32 codes"});
}

TEST_CASE("stochastic rounding is keyed by seed and index") {
  // 1 + 2^-11 in f16 is halfway: sr goes up with probability 1/2.
  Options sr;
  sr.rounding = Rounding::kStochastic;
  sr.seed = 12345;
  int up = 0;
  for (uint64_t i = 0; i < 4096; ++i) {
    const Result r = Add(formats::kF16, 0x3C00, 0x1000, sr, i);
    REQUIRE((r.code == 0x3C00 || r.code == 0x3C01));
    CHECK(r.flags == kInexact);
    up += r.code == 0x3C01;
    CHECK(Add(formats::kF16, 0x3C00, 0x1000, sr, i).code == r.code);  // reproducible
  }
  CHECK(up > 2048 - 200);
  CHECK(up < 2048 + 200);
  // Exact results never move.
  for (uint64_t i = 0; i < 64; ++i) CHECK(Add(formats::kF16, 0x3C00, 0x3C00, sr, i).code == 0x4000);
}
