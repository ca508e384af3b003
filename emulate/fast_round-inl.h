// The fast path's rounding, written once for the Highway kernels (vectors:
// HwyTags, emulate/simd/convert-inl.h) and the CUDA kernels (one element
// per thread: lanes::ScalarTags, cuda/named_convert.h), in Highway's op
// names (emulate/scalar_lanes.h). They read the plan (EncodePlan,
// emulate/encode_plan.h: its fast, rounding, random, layout and special
// parts) as the Highway code always did, so that its machine code stayed
// the same, byte for byte; CUDA's specialised kernels pass a view whose
// layout, rounding and fast parts are compile-time constants, which the
// compiler folds (cuda/named_convert.h).
//
// The rounding is done on the float32 bit pattern. Within a binade a
// positive float32's pattern is linear in its value, binade boundaries fall
// on multiples of 2^23 patterns, and a float32 subnormal's pattern is its
// value in units of 2^-149. So rounding |x| to a multiple of a quantum 2^d
// times its ulp (d <= 23) is rounding its pattern A to a multiple of 2^d:
// add a bias, clear the d low bits; a carry walks into the exponent field
// exactly as the value moves up a binade. Per mode, with half = 2^(d-1),
// mask = 2^d - 1 and `odd` the last kept bit of the significand (RoundAt's
// rules in formats/round_pack.h):
//   rne half - 1 + odd    rna half    rtz 0    rup/rdn mask or 0 by sign
//   rto mask if even      sr  the top min(R, d) random bits, moved down so
//   that bias + discarded bits carry exactly when r + u >= 2^R
//   sr-eq mask or 0 by the top random bit.
// Below the smallest nonzero result 2^q ("deep" lanes) the result is 0 or
// 2^q: rne rounds up above 2^(q-1), rna from 2^(q-1) on, rup/rdn/rto
// whatever is nonzero, sr where r + u carries with r the top bits of
// |x| / 2^q. Overflow is a compare with the largest finite magnitude; NaNs
// and infinities are selected afterwards (FastFakeQuantLanes, FastCodeLanes).
//
// Highway's -inl.h pattern: included after <hwy/highway.h> (kernels.cc's
// foreach_target), once per target, into that target's namespace
// (floatscope::simd::HWY_NAMESPACE, where the Highway ops' target
// attributes apply); without Highway (CUDA, host tests of the one-lane
// path) it is an ordinary header of namespace floatscope::lanes.
#if defined(HWY_NAMESPACE)  // after <hwy/highway.h>
#if defined(FLOATSCOPE_FAST_ROUND_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef FLOATSCOPE_FAST_ROUND_INL_H_
#undef FLOATSCOPE_FAST_ROUND_INL_H_
#else
#define FLOATSCOPE_FAST_ROUND_INL_H_
#endif
#define FLOATSCOPE_FAST_ROUND_BODY
#endif
#elif !defined(FLOATSCOPE_FAST_ROUND_ONE_LANE_H_)
#define FLOATSCOPE_FAST_ROUND_ONE_LANE_H_
#define FLOATSCOPE_FAST_ROUND_BODY
#endif

#ifdef FLOATSCOPE_FAST_ROUND_BODY
#undef FLOATSCOPE_FAST_ROUND_BODY

#include <cstdint>

#include "emulate/encode_plan.h"
#include "emulate/scalar_lanes.h"

#if defined(HWY_NAMESPACE)
HWY_BEFORE_NAMESPACE();
namespace floatscope::simd::HWY_NAMESPACE {
#else
namespace floatscope::lanes {
#endif

template <class V>
struct FastLanes {
  V mag;     // rounded |x| as a float32 pattern (meaningless where overflow or special)
  V a;       // |x| as rounded (after DAZ): mag != a is inexact
  V bits;    // the input
  bool any;  // some lane may have overflowed or be special: see FastOverflow
};

// What a fast-path kernel is specialised for, besides the rounding mode.
// kFloatFixed: a float format with -0 whose d is the same for every input
// (FastRounding::fixed_drop: bf16, tf32), so no lane is deep.
enum class FastKind { kFloat, kFloatFixed, kFloatNoNegZero, kInt };

FS_HD constexpr FastKind FastKindOf(const FormatLayout& l, const FastRounding& f) {
  if (l.is_int) return FastKind::kInt;
  if (f.fixed_drop) return FastKind::kFloatFixed;
  return f.zero_keeps_sign ? FastKind::kFloat : FastKind::kFloatNoNegZero;
}

// Whether a zero result keeps the input's sign.
FS_HD constexpr bool KeepsZeroSign(FastKind k) { return k == FastKind::kFloat || k == FastKind::kFloatFixed; }

// A rounded magnitude with the input's sign bit `sign` (0 or 0x80000000),
// which a zero result of a format without -0 (and of an integer) drops.
template <class T, FastKind kKind, class V>
FS_LANES V WithSign(V mag, V sign) {
  const typename T::DU du;
  if constexpr (KeepsZeroSign(kKind)) return Or(mag, sign);
  return Or(mag, IfThenZeroElse(Eq(mag, Zero(du)), sign));
}

// Stochastic rounding (kStochastic) of one element, from one 32-bit word
// F of the discarded fraction for shallow and deep inputs alike: the
// branch-free form for one lane (CUDA), where FastRoundLanes' vector form
// (a bias for the shallow lanes, F only in vectors with deep lanes) would
// compute both. Three steps, so that the GPU's per-tensor scaled cast
// (cuda/named_convert.h ScaledElement) can give F of a value a float32
// does not hold:
//   FastSrDropBits     dd, the bits of a positive pattern a below the
//                      quantum (deep lanes: of the smallest quantum, then
//                      dd >= 24);
//   FastSrMagOfFraction  |v| rounded, given a = |v| truncated to float32
//                      and F = floor(frac(|v| / quantum) * 2^32), the 32
//                      bits of v just below the quantum: the core rounds up
//                      when the top sr_bits of the discarded fraction plus
//                      as many random bits carry out of 32 bits;
//   FastSrMagOneLane   both for a float32 x itself (F = the low 32 bits of
//                      sig(x) << 32 >> dd).
// Equal to FastRoundLanes' vector kStochastic (the same rule: gpu-verify
// --exhaustive proves both on all 2^32 inputs).
template <FastKind kKind>
FS_HD int32_t FastSrDropBits(const FastRounding& f, uint32_t a) {
  // A constant for kFloatFixed (quantum_field - 1 <= min_dropped_bits there).
  if constexpr (kKind == FastKind::kFloatFixed) return f.min_dropped_bits;
  constexpr uint32_t kImplicit = 0x800000u;
  const int32_t ef1 = static_cast<int32_t>((a > kImplicit ? a : kImplicit) >> 23);
  return f.min_dropped_bits > f.quantum_field - ef1 ? f.min_dropped_bits : f.quantum_field - ef1;
}

template <FastKind kKind>
FS_HD uint32_t FastSrMagOfFraction(const FastRounding& f, uint32_t a, int32_t dd, uint32_t frac,
                                   uint32_t random, uint32_t top_mask) {
  const uint32_t u = random & top_mask;
  const bool up = (frac & top_mask) + u < u;  // carry out of 32 bits
  const uint32_t keep = 0xffffffffu << (dd < 31 ? dd : 31);  // shallow: dd <= 23
  const uint32_t shallow = (a & keep) + (up ? 0u - keep : 0u);
  if constexpr (kKind == FastKind::kFloatFixed) return shallow;  // float32 subnormals are shallow there
  const bool deep = static_cast<int32_t>(a) < static_cast<int32_t>(f.min_positive);
  return deep ? (up ? f.min_positive : 0u) : shallow;
}

template <FastKind kKind>
FS_HD uint32_t FastSrMagOneLane(const FastRounding& f, uint32_t bits, uint32_t random, uint32_t top_mask) {
  constexpr uint32_t kImplicit = 0x800000u;
  const uint32_t a = bits & 0x7fffffffu;
  const int32_t dd = FastSrDropBits<kKind>(f, a);
  const uint32_t sig = (a & 0x7fffffu) | ((a < kImplicit ? a : kImplicit) & kImplicit);
  // The low 32 bits of sig << 32 >> dd (sig < 2^24: 0 from dd = 56 on).
  const uint32_t frac = static_cast<uint32_t>((uint64_t{sig} << 32) >> (dd < 63 ? dd : 63));
  return FastSrMagOfFraction<kKind>(f, a, dd, frac, random, top_mask);
}

// |x| rounded (FastLanes::mag), for every mode. `p`: an EncodePlan, or
// anything with its members fast, rounding and random (cuda/named_convert.h
// passes compile-time ones): the fast-path constants, DAZ
// (rounding.flush_input) and the random bits (random.TopMask()).
template <class T, Rounding kMode, FastKind kKind, class P, class V>
FS_LANES FastLanes<V> FastRoundLanes(const P& p, V bits, V random) {
  const typename T::DU du;
  const typename T::DI di;
  using VI = decltype(Zero(di));
  const V zero = Zero(du), one = Set(du, 1u);
  const V abs = And(bits, Set(du, 0x7fffffffu));
  // Compares of magnitudes (< 2^31) as signed lanes: what x86 has.
  auto gt = [&](V x, uint32_t c) { return RebindMask(du, Gt(BitCast(di, x), Set(di, static_cast<int32_t>(c)))); };
  auto neg = [&] { return RebindMask(du, Lt(BitCast(di, bits), Zero(di))); };
  V a = abs;
  const V implicit = Set(du, 0x800000u);
  if (p.rounding.flush_input) a = IfThenElseZero(gt(a, 0x7fffffu), a);  // DAZ
  constexpr bool kFixed = kKind == FastKind::kFloatFixed;
  FastLanes<V> out;
  if constexpr (kMode == Rounding::kStochastic && lanes::kOneLane<typename T::DU>) {
    out.mag = FastSrMagOneLane<kKind>(p.fast, a, random, p.random.TopMask());
    out.a = a;
    out.bits = bits;
    out.any = !AllFalse(
        du, gt(BitCast(du, Max(BitCast(di, out.mag), BitCast(di, abs))), p.fast.max_finite_both_signs));
    return out;
  }
  // d, at most 23: exponent fields below field_floor's only occur in deep
  // lanes (which take another route) and in float32 subnormals (field 1).
  // With a fixed d (< 23 there) the lanes below 2^(emin - m) are float32
  // subnormals, whose pattern is linear in the value too: no deep lanes.
  V d, mask;
  if constexpr (kFixed) {
    d = Set(du, static_cast<uint32_t>(p.fast.min_dropped_bits));
    mask = Set(du, (1u << p.fast.min_dropped_bits) - 1);
  } else {
    const VI ef = BitCast(di, ShiftRight<23>(Max(a, Set(du, p.fast.field_floor))));
    d = BitCast(du, Max(Set(di, p.fast.min_dropped_bits), Sub(Set(di, p.fast.quantum_field), ef)));
    mask = Sub(Shl(one, d), one);
  }
  // The kept significand's last bit: bit d of the pattern with bit 23 set
  // for normal inputs (the implicit bit; at d = 23 it is the last kept one).
  auto odd = [&] {
    if constexpr (kFixed) return And(Shr(a, d), one);
    return And(Shr(Or(a, Min(a, implicit)), d), one);
  };
  const V min_pos = Set(du, p.fast.min_positive);
  const auto deep = kFixed ? Lt(one, one) : RebindMask(du, Lt(BitCast(di, a), BitCast(di, min_pos)));
  const auto nonzero = Ne(a, zero);
  V bias;
  decltype(Lt(one, one)) up_deep;  // deep lanes: round up to 2^q
  if constexpr (kMode == Rounding::kNearestEven) {
    bias = Add(ShiftRight<1>(mask), odd());
    up_deep = gt(a, p.fast.half_min_positive);
  } else if constexpr (kMode == Rounding::kNearestAway) {
    bias = Add(ShiftRight<1>(mask), one);
    up_deep = gt(a, p.fast.half_min_positive - 1);
  } else if constexpr (kMode == Rounding::kTowardZero) {
    bias = zero;
    up_deep = Lt(one, one);
  } else if constexpr (kMode == Rounding::kDown) {
    bias = IfThenElseZero(neg(), mask);
    up_deep = And(nonzero, neg());
  } else if constexpr (kMode == Rounding::kUp) {
    bias = IfThenZeroElse(neg(), mask);
    up_deep = AndNot(neg(), nonzero);
  } else if constexpr (kMode == Rounding::kOdd) {
    bias = IfThenZeroElse(Ne(odd(), zero), mask);
    up_deep = nonzero;
  } else if constexpr (kMode == Rounding::kStochastic) {
    const V top_r = Set(du, p.random.TopMask());
    const V u = And(random, top_r);
    bias = Shr(u, Sub(Set(du, 32), d));
    up_deep = Lt(one, one);
    // Deep lanes need more work than the rest of the vector, and most data
    // rounded into a float format has none: skip it where no lane is deep.
    // (Into integers, |x| < 1 is deep: common, not worth a branch.)
    if (kKind == FastKind::kInt || (!kFixed && !AllFalse(du, deep))) {
      // t = floor(|x| / 2^q * 2^32) = sig << (32 - D) or sig >> (D - 32),
      // with sig the 24-bit significand and D the unclamped d.
      const VI ef1 = BitCast(di, ShiftRight<23>(Max(a, implicit)));
      const VI left = Sub(Add(ef1, Set(di, 32)), Set(di, p.fast.quantum_field));
      const V sig = Or(And(a, Set(du, 0x7fffffu)), And(Min(a, implicit), implicit));
      const V t = IfThenElse(RebindMask(du, Gt(left, Zero(di))), Shl(sig, BitCast(du, Max(left, Zero(di)))),
                             Shr(sig, BitCast(du, Min(Neg(left), Set(di, 31)))));
      up_deep = Lt(Add(And(t, top_r), u), u);  // carry out of 32 bits
    }
  } else {  // kStochasticEq
    const auto coin = RebindMask(du, Lt(BitCast(di, random), Zero(di)));
    bias = IfThenElseZero(coin, mask);
    up_deep = And(nonzero, coin);
  }
  const V shallow = AndNot(mask, Add(a, bias));
  if constexpr (kFixed) {
    (void)up_deep;
    out.mag = shallow;
  } else {
    out.mag = IfThenElse(deep, IfThenElseZero(up_deep, min_pos), shallow);
  }
  out.a = a;
  out.bits = bits;
  // Overflowed lanes have mag > limit; NaN and infinity have abs > limit.
  out.any = !AllFalse(du, gt(BitCast(du, Max(BitCast(di, out.mag), BitCast(di, abs))), p.fast.max_finite_both_signs));
  return out;
}

// The overflowed lanes of a rare vector (FastLanes::any).
template <class T, FastKind kKind, class P, class V, class M>
FS_LANES M FastOverflow(const P& p, const FastLanes<V>& l, M neg) {
  const typename T::DU du;
  const typename T::DI di;
  const auto mag = BitCast(di, l.mag);
  if constexpr (kKind == FastKind::kInt) {
    const auto limit = BitCast(di, IfThenElse(neg, Set(du, p.fast.max_finite[1]), Set(du, p.fast.max_finite[0])));
    return RebindMask(du, Gt(mag, limit));
  } else {
    (void)neg;
    return RebindMask(du, Gt(mag, Set(di, static_cast<int32_t>(p.fast.max_finite[0]))));
  }
}

// Fake quantization: the rounded value is the answer (float32 bits).
template <class T, FastKind kKind, class P, class V>
FS_LANES V FastFakeQuantLanes(const P& p, const FastLanes<V>& l) {
  const typename T::DU du;
  const typename T::DI di;
  const V zero = Zero(du);
  const V abs = And(l.bits, Set(du, 0x7fffffffu));
  const V sign = Xor(l.bits, abs);
  // Formats without -0 (and integers, whose zero decodes to +0): no sign on 0.
  V r = WithSign<T, kKind>(l.mag, sign);
  if (!l.any) return r;
  const auto neg = RebindMask(du, Lt(BitCast(di, l.bits), Zero(di)));
  auto by_sign = [&](const uint32_t v[2]) { return IfThenElse(neg, Set(du, v[1]), Set(du, v[0])); };
  r = IfThenElse(FastOverflow<T, kKind>(p, l, neg), by_sign(p.special.fq_overflow), r);
  // One lane (a GPU thread): a finite input can only have overflowed, the
  // common special case (int8 or FP4 saturating), so it skips the
  // infinity and NaN selects and their constants.
  if constexpr (lanes::kOneLane<typename T::DU>)
    if (AllTrue(du, RebindMask(du, Lt(BitCast(di, abs), Set(di, 0x7f800000))))) return r;
  r = IfThenElse(Eq(abs, Set(du, 0x7f800000u)), by_sign(p.special.fq_inf), r);
  const auto nan = RebindMask(du, Gt(BitCast(di, abs), Set(di, 0x7f800000)));
  V nan_r;
  if (p.special.nan_from_payload) {  // sign | quiet | the payload bits the format keeps
    nan_r = AndNot(Set(du, (1u << (23 - p.layout.mantissa_bits)) - 1), Or(l.bits, Set(du, 0x7fc00000u)));
  } else {
    const auto quiet = Ne(And(l.bits, Set(du, 0x400000u)), zero);
    nan_r = IfThenElse(quiet, by_sign(p.special.fq_nan_quiet), by_sign(p.special.fq_nan_signaling));
  }
  return IfThenElse(nan, nan_r, r);
}

// Encoding: the rounded value's code.
template <class T, FastKind kKind, class P, class V>
FS_LANES V FastCodeLanes(const P& p, const FastLanes<V>& l) {
  const typename T::DU du;
  const typename T::DI di;
  const typename T::DF df;
  const V zero = Zero(du);
  const auto neg = RebindMask(du, Lt(BitCast(di, l.bits), Zero(di)));
  V code;
  if constexpr (kKind == FastKind::kInt) {
    const V kept = BitCast(du, ConvertTo(di, BitCast(df, l.mag)));  // exact: an integer < 2^24
    code = And(IfThenElse(neg, Sub(zero, kept), kept), Set(du, p.layout.code_mask));
  } else {
    // Normal: the pattern's fields moved to the format's. Below 2^emin: the
    // significand in units of 2^(emin - m) (exact: mag is a multiple of it).
    const V normal_code = Sub(Shr(l.mag, Set(du, 23 - p.layout.mantissa_bits)), Set(du, p.fast.code_rebias));
    const auto fe = BitCast(di, ShiftRight<23>(l.mag));
    const V sig = Or(And(l.mag, Set(du, 0x7fffffu)),
                     IfThenElseZero(RebindMask(du, Gt(fe, Zero(di))), Set(du, 0x800000u)));
    const auto shift = Min(Sub(Set(di, p.fast.quantum_field), Max(fe, Set(di, 1))), Set(di, 31));
    const V sub_code = Shr(sig, BitCast(du, Max(shift, Zero(di))));
    const auto below = RebindMask(du, Lt(BitCast(di, l.mag), Set(di, static_cast<int32_t>(p.fast.min_normal))));
    const V mag_code = IfThenElse(below, sub_code, normal_code);
    const auto signed_lane = KeepsZeroSign(kKind) ? neg : AndNot(Eq(mag_code, zero), neg);
    code = Or(mag_code, IfThenElseZero(signed_lane, Set(du, p.layout.sign_bit)));
  }
  if (!l.any) return code;
  auto by_sign = [&](const SpecialResult& r) { return IfThenElse(neg, Set(du, r.code[1]), Set(du, r.code[0])); };
  code = IfThenElse(FastOverflow<T, kKind>(p, l, neg), by_sign(p.special.overflow), code);
  const V abs = And(l.bits, Set(du, 0x7fffffffu));
  if constexpr (lanes::kOneLane<typename T::DU>)  // as FastFakeQuantLanes
    if (AllTrue(du, RebindMask(du, Lt(BitCast(di, abs), Set(di, 0x7f800000))))) return code;
  code = IfThenElse(Eq(abs, Set(du, 0x7f800000u)), by_sign(p.special.inf), code);
  const auto nan = RebindMask(du, Gt(BitCast(di, abs), Set(di, 0x7f800000)));
  V nan_code;
  if (p.special.nan_from_payload) {
    const V mant = And(l.bits, Set(du, 0x7fffffu));
    nan_code = Or(Or(Set(du, p.special.nan_base), Shr(mant, Set(du, 23 - p.layout.mantissa_bits))),
                  IfThenElseZero(neg, Set(du, p.layout.sign_bit)));
  } else {
    const auto quiet = Ne(And(l.bits, Set(du, 0x400000u)), zero);
    nan_code = IfThenElse(quiet, by_sign(p.special.nan_quiet), by_sign(p.special.nan_signaling));
  }
  return IfThenElse(nan, nan_code, code);
}

}  // namespace floatscope::simd::HWY_NAMESPACE or floatscope::lanes
#if defined(HWY_NAMESPACE)
HWY_AFTER_NAMESPACE();
#endif

#endif  // FLOATSCOPE_FAST_ROUND_BODY
