// Hand-checked behaviour of the rounding core, case by case: each case is
// written as bit patterns with the worked value beside it, so a failure
// reads as an explanation. The exhaustive proofs live in the sweep suites.
#include <doctest/doctest.h>

#include "formats/convert.h"

using namespace floatscope;
using namespace floatscope::formats;

namespace {

Result F32To(const Format& f, uint32_t bits, Rounding r = Rounding::kNearestEven, Overflow o = Overflow::kDefault) {
  Options opt;
  opt.rounding = r;
  opt.overflow = o;
  return Convert(kF32, bits, f, opt);
}

}  // namespace

TEST_CASE("Philox4x32-10 known-answer vectors (Random123 kat_vectors)") {
  auto a = Philox4x32_10(0, 0, 0, 0, 0, 0);
  CHECK(a.v[0] == 0x6627e8d5u);
  CHECK(a.v[3] == 0x9b00dbd8u);
  auto b = Philox4x32_10(~0u, ~0u, ~0u, ~0u, ~0u, ~0u);
  CHECK(b.v[0] == 0x408f276du);
  CHECK(b.v[3] == 0x6d5451fdu);
  auto c = Philox4x32_10(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0);
  CHECK(c.v[0] == 0xd16cfe09u);
  CHECK(c.v[1] == 0x94fdccebu);
  CHECK(c.v[2] == 0x5001e420u);
  CHECK(c.v[3] == 0x24126ea1u);
}

TEST_CASE("stochastic bits: element i uses word i mod 4 of the call with counter floor(i/4) (DESIGN.md)") {
  // Written out against Philox4x32_10 itself, not StochasticCall: key =
  // seed's low, high halves; counter = (low, high halves of floor(i/4), 0, 0).
  const uint64_t seeds[] = {0, 1, 0x0123456789abcdefull, ~0ull};
  const uint64_t bases[] = {0, 4, 1ull << 32, (1ull << 34) - 4, ~0ull - 3};
  for (const uint64_t seed : seeds) {
    for (const uint64_t base : bases) {
      const uint64_t c = base / 4;
      const Philox4x32 call = Philox4x32_10(static_cast<uint32_t>(c), static_cast<uint32_t>(c >> 32), 0, 0,
                                            static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
      for (unsigned k = 0; k < 4; ++k) CHECK(StochasticBits(seed, base + k) == call.v[k]);
    }
  }
  // The old rule (one call per element, counter = i) is gone: elements
  // 0..3 share counter 0, so element 1 is word 1 of that call, not word 0
  // of counter 1.
  CHECK(StochasticBits(0, 1) == Philox4x32_10(0, 0, 0, 0, 0, 0).v[1]);
  CHECK(StochasticBits(0, 1) != Philox4x32_10(1, 0, 0, 0, 0, 0).v[0]);
}

TEST_CASE("DESIGN.md's example: 3f800001 -> bf16 rounding up is 3f81, inexact") {
  const Result r = F32To(kBf16, 0x3f800001, Rounding::kUp);
  CHECK(r.code == 0x3f81);
  CHECK(r.flags == kInexact);
}

TEST_CASE("e4m3fn around its top: 448 = 0b0'1111'110, the tie at 464 goes to even 448") {
  CHECK(F32To(kE4m3fn, BitsOf(448.0f)).code == 0x7e);
  CHECK(F32To(kE4m3fn, BitsOf(464.0f)).code == 0x7e);  // tie between 448 (even) and 480 (odd)
  const Result over = F32To(kE4m3fn, BitsOf(465.0f));   // nearer 480, which does not exist
  CHECK(over.code == 0x7f);                            // NaN: no infinity
  CHECK(over.flags == (kOverflow | kInexact));
  CHECK(F32To(kE4m3fn, BitsOf(465.0f), Rounding::kNearestEven, Overflow::kSaturate).code == 0x7e);
  CHECK(F32To(kE4m3fn, BitsOf(1e9f), Rounding::kTowardZero).code == 0x7e);  // rtz never overflows to NaN
  CHECK(F32To(kE4m3fn, BitsOf(-1e9f), Rounding::kUp).code == 0xfe);
  CHECK(F32To(kE4m3fn, BitsOf(-1e9f), Rounding::kDown).code == 0xff);
}

TEST_CASE("IEEE overflow thresholds of f16: 65520 is the tie that overflows") {
  CHECK(F32To(kF16, BitsOf(65504.0f)).code == 0x7bff);
  CHECK(F32To(kF16, BitsOf(65519.0f)).code == 0x7bff);
  CHECK(F32To(kF16, BitsOf(65520.0f)).code == 0x7c00);  // tie with odd max: to "even" infinity
  CHECK(F32To(kF16, BitsOf(65520.0f), Rounding::kTowardZero).code == 0x7bff);
  CHECK(F32To(kF16, BitsOf(1e10f), Rounding::kOdd).code == 0x7bff);
}

TEST_CASE("saturate clamps infinities too (CUDA satfinite: e5m2 +inf -> 0x7b)") {
  CHECK(F32To(kE5m2, 0x7f800000u, Rounding::kNearestEven, Overflow::kSaturate).code == 0x7b);
  CHECK(F32To(kE5m2, 0xff800000u, Rounding::kNearestEven, Overflow::kSaturate).code == 0xfb);
  CHECK(F32To(kE5m2, 0x7f800000u).code == 0x7c);
}

TEST_CASE("subnormals and tininess: f16 just below 2^-14") {
  // 2^-14 - 2^-26: tiny before rounding; rounds to 2^-14 on the subnormal grid.
  const uint32_t x = BitsOf(0x1p-14f - 0x1p-26f);
  Options after, before;
  before.tininess = Tininess::kBeforeRounding;
  const Result ra = Convert(kF32, x, kF16, after), rb = Convert(kF32, x, kF16, before);
  CHECK(ra.code == 0x0400);
  CHECK(rb.code == 0x0400);
  CHECK(ra.flags == kInexact);                 // with unbounded exponent it rounds to 2^-14: not tiny
  CHECK(rb.flags == (kInexact | kUnderflow));  // tiny before rounding
  // 2^-14 - 2^-24 + small: tiny either way.
  const Result s = F32To(kF16, BitsOf(0x1p-14f - 0x1p-24f - 0x1p-30f));
  CHECK(s.code == 0x03ff);
  CHECK(s.flags == (kInexact | kUnderflow));
  // An exact subnormal raises nothing.
  CHECK(F32To(kF16, BitsOf(0x1p-24f)).flags == 0);
  // Half the smallest subnormal is a tie between 0 and 2^-24: to even 0.
  CHECK(F32To(kF16, BitsOf(0x1p-25f)).code == 0x0000);
  CHECK(F32To(kF16, BitsOf(-0x1p-25f)).code == 0x8000);
  CHECK(F32To(kF16, BitsOf(0x1p-25f), Rounding::kNearestAway).code == 0x0001);
}

TEST_CASE("flush-to-zero on output and on input") {
  Options ftz;
  ftz.flush_output = true;
  const Result r = Convert(kF32, BitsOf(0x1p-20f), kF16, ftz);
  CHECK(r.code == 0);
  CHECK(r.flags == (kUnderflow | kInexact));
  CHECK(Convert(kF32, BitsOf(-0x1p-20f), kF16, ftz).code == 0x8000);
  Options daz;
  daz.flush_input = true;
  CHECK(Convert(kF16, 0x0001, kF32, daz).code == 0);
  CHECK(Convert(kF16, 0x8001, kF32, daz).code == 0x80000000u);
  CHECK(Convert(kF16, 0x0001, kF32).code == BitsOf(0x1p-24f));
}

TEST_CASE("NaN conversions keep sign and leading payload, quieted; sNaN raises invalid") {
  const Result q = Convert(kF32, 0xffc00123u, kF16);
  CHECK(q.code == 0xfe00);
  CHECK(q.flags == 0);
  const Result s = Convert(kF32, 0x7fa00000u, kF16);  // signaling, payload bit 21
  CHECK(s.code == 0x7f00);
  CHECK(s.flags == kInvalid);
  Options canon;
  canon.nan_payload = NanPayload::kCanonical;
  CHECK(Convert(kF32, 0x7fa00000u, kE5m2, canon).code == 0x7e);
  CHECK(Convert(kF32, 0xffc00000u, kE4m3fn).code == 0xff);
  CHECK(Convert(kF32, 0x7fc00000u, kE4m3fnuz).code == 0x80);
}

TEST_CASE("formats without NaN or infinity") {
  const Result inf = F32To(kE2m1fn, 0x7f800000u);
  CHECK(inf.code == 0x7);  // 6 = max finite
  const Result nan = F32To(kE2m1fn, 0x7fc00000u);
  CHECK(nan.code == 0x0);
  CHECK(nan.flags == kInvalid);
  Options ml;
  ml.nan_to_no_nan = NanToNoNan::kZeroOppositeSign;
  CHECK(Convert(kF32, 0x7fc00000u, kE2m1fn, ml).code == 0x8);
  CHECK(F32To(kE2m1fn, BitsOf(5.0f)).code == 0x6);   // tie 4|6 -> 4 (0b0'11'0, even)
  CHECK(F32To(kE2m1fn, BitsOf(100.0f)).code == 0x7);  // saturates by default
}

TEST_CASE("e8m0fnu: powers of two only, no zero, no sign") {
  CHECK(F32To(kE8m0fnu, BitsOf(1.0f)).code == 0x7f);
  CHECK(F32To(kE8m0fnu, BitsOf(3.0f)).code == 0x80);  // tie 2|4: even code 0x80
  CHECK(F32To(kE8m0fnu, BitsOf(6.0f)).code == 0x82);  // tie 4|8: even code 0x82
  Options away;
  away.tie_rule_p1 = TieRuleP1::kAway;
  CHECK(Convert(kF32, BitsOf(3.0f), kE8m0fnu, away).code == 0x81);
  CHECK(F32To(kE8m0fnu, 0).code == 0xff);  // zero has no code: NaN
  CHECK(F32To(kE8m0fnu, BitsOf(-1.0f)).code == 0xff);
  const Result tiny = F32To(kE8m0fnu, BitsOf(1e-40f), Rounding::kTowardZero);
  CHECK(tiny.code == 0x00);  // nothing below 2^-127
  CHECK(tiny.flags == (kUnderflow | kInexact));
  CHECK(DecodeToF64(kE8m0fnu, 0x00) == 0x1p-127);
}

TEST_CASE("integers: rounding, saturation, wrap") {
  CHECK(F32To(kInt8, BitsOf(2.5f)).code == 2);
  CHECK(F32To(kInt8, BitsOf(-2.5f)).code == 0xfe);
  CHECK(F32To(kInt8, BitsOf(2.5f), Rounding::kNearestAway).code == 3);
  const Result sat = F32To(kInt8, BitsOf(300.0f));
  CHECK(sat.code == 0x7f);
  CHECK(sat.flags == kInvalid);
  CHECK(F32To(kInt8, BitsOf(-300.0f)).code == 0x80);
  CHECK(F32To(kInt8, BitsOf(-128.4f)).code == 0x80);
  CHECK(F32To(kUint8, BitsOf(-0.4f)).code == 0);
  CHECK(F32To(kUint8, BitsOf(-3.0f)).flags == kInvalid);
  CHECK(F32To(kInt4, BitsOf(17.0f), Rounding::kTowardZero, Overflow::kWrap).code == 0x1);
  CHECK(F32To(kInt4, BitsOf(8.0f), Rounding::kTowardZero, Overflow::kWrap).code == 0x8);
  CHECK(F32To(kUint4, BitsOf(-2.5f), Rounding::kTowardZero, Overflow::kWrap).code == 0xe);
  CHECK(DecodeToF64(kInt4, 0x8) == -8.0);
  CHECK(DecodeToF64(kInt8, 0xff) == -1.0);
}

TEST_CASE("round to odd: sticky information survives a second rounding") {
  // f64 value just above the f16 midpoint 1 + 2^-11: rto to f32 then rne to
  // f16 equals direct rne to f16; rne to f32 first would lose it.
  const double x = 1.0 + 0x1p-11 + 0x1p-40;
  Options odd;
  odd.rounding = Rounding::kOdd;
  const Result via_odd = Convert(kF32, Convert(kF64, BitsOf(x), kF32, odd).code, kF16);
  const Result via_rne = Convert(kF32, Convert(kF64, BitsOf(x), kF32).code, kF16);
  const Result direct = EncodeFromF64(kF16, x);
  CHECK(direct.code == 0x3c01);
  CHECK(via_odd.code == 0x3c01);
  CHECK(via_rne.code == 0x3c00);  // the double-rounding trap
}

TEST_CASE("stochastic rounding: bits depend only on seed and element index") {
  Options sr;
  sr.rounding = Rounding::kStochastic;
  sr.seed = 42;
  const float x = 1.0f + 0x1p-5f;  // 1/4 of the way from 1 to the next e4m3fn value
  int ups = 0;
  for (uint64_t i = 0; i < 4096; ++i) {
    const Result a = EncodeFromF32(kE4m3fn, x, sr, i);
    const Result b = EncodeFromF32(kE4m3fn, x, sr, i);
    CHECK(a.code == b.code);
    ups += a.code == 0x39;
  }
  CHECK(ups > 4096 / 4 - 150);
  CHECK(ups < 4096 / 4 + 150);
  // Exact values never move.
  for (uint64_t i = 0; i < 64; ++i) CHECK(EncodeFromF32(kE4m3fn, 1.0f, sr, i).code == 0x38);
}

TEST_CASE("P3109 binary8p4: no negative zero, one NaN at 0x80, inf at 0x7f") {
  CHECK(F32To(kBinary8p4, BitsOf(-0.0f)).code == 0x00);
  CHECK(F32To(kBinary8p4, 0xffc00000u).code == 0x80);
  CHECK(F32To(kBinary8p4, 0xff800000u).code == 0xff);
  CHECK(F32To(kBinary8p4, BitsOf(224.0f)).code == 0x7e);
  CHECK(F32To(kBinary8p4, BitsOf(1e6f)).code == 0x7f);
  CHECK(F32To(kBinary8p4, BitsOf(-1e-9f)).code == 0x00);
}

TEST_CASE("tf32 and f64 paths") {
  CHECK(F32To(kTf32, 0x3f801000u).code == (0x3f800000u >> 13));       // tie, to even
  CHECK(F32To(kTf32, 0x3f803000u).code == ((0x3f800000u >> 13) + 2));  // tie, to even (up)
  CHECK(Convert(kF32, 0x00000001u, kF64).code == BitsOf(0x1p-149));
  CHECK(EncodeFromF64(kF32, 0x1p-150).code == 0);        // tie with 0: even
  CHECK(EncodeFromF64(kF32, 0x1.8p-150).code == 1);
  CHECK(EncodeFromF64(kF32, 1e300).code == 0x7f800000u);
}
