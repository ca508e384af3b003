// The general conversion float32 -> code of a format and back, in lanes:
// one definition for the Highway kernels (emulate/simd/convert-inl.h, a
// vector of lanes, tags HwyTags) and the CUDA kernels (cuda/kernels.cu,
// one float32 per thread, lanes::ScalarTags; the host build of the same
// code is tests/cuda/device_ops_host_test.cc).
//
// This is formats/round_pack.h, lane by lane, in 32-bit integer operations
// only (no float arithmetic except exact int->float conversions and exact
// power-of-two scalings in the decoder), so every target gives the same
// bits. The steps and their names follow RoundPackFinite; read that first.
// The results for special inputs come from the scalar core (EncodePlan). It
// covers the formats SimdSupports() accepts, every rounding mode and option;
// exhaustive_simd proves the Highway build equal to the core on all 2^32
// float32 inputs, device_ops_host_test the one-lane build.
//
// The algorithms are templates on a tags type T (T::DU, T::DI, T::DF) and
// call Highway's operation names unqualified: Highway's own are found by
// argument-dependent lookup on its vectors and tags, the one-lane ones of
// emulate/scalar_lanes.h by ordinary lookup. A template takes its
// instruction set from where it is defined (GCC's target attributes), so
// inside a Highway per-target compilation this header is included once per
// target (Highway's toggle guard) and defines its templates in
// floatscope::lanes::HWY_NAMESPACE under the target's attributes; elsewhere
// (nvcc, plain host code) once, in floatscope::lanes.
//
// The rounding mode is an argument of its own: the CUDA kernels pass a
// compile-time constant, which folds the mode's switch away once the call
// is inlined; the Highway kernels pass the plan's p.rounding.mode, by
// reference, so that it is read where it is used, as before the algorithm
// was shared (a copy taken at the call changes their instruction schedule).

#if defined(FLOATSCOPE_EMULATE_ENCODE_LANES_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef FLOATSCOPE_EMULATE_ENCODE_LANES_H_
#undef FLOATSCOPE_EMULATE_ENCODE_LANES_H_
#else
#define FLOATSCOPE_EMULATE_ENCODE_LANES_H_
#endif

#include <cstdint>

#include "emulate/encode_plan.h"
#include "emulate/scalar_lanes.h"

#ifdef HWY_NAMESPACE
HWY_BEFORE_NAMESPACE();
namespace floatscope::lanes::HWY_NAMESPACE {
#else
namespace floatscope::lanes {
#endif

// The vector and mask types of a tag (Highway's Vec<D>, Mask<D>).
template <class D>
using VecOf = decltype(Zero(D()));
template <class D>
using MaskOf = decltype(Eq(Zero(D()), Zero(D())));

// 1 where m, else 0.
template <class DU>
FS_LANES VecOf<DU> Bit(DU du, MaskOf<DU> m) {
  return IfThenElseZero(m, Set(du, 1u));
}

// Lanes holding NaN codes of the plan's format (formats/format.h IsNanCode).
template <class T>
FS_LANES MaskOf<typename T::DU> NanCodeMask(const EncodePlan& p, VecOf<typename T::DU> code) {
  using VU = VecOf<typename T::DU>;
  const typename T::DU du;
  const VU zero = Zero(du);
  const VU mag = AndNot(Set(du, p.layout.sign_bit), code);
  switch (p.layout.nan_codes) {
    case NanCodes::kNone: break;
    case NanCodes::kIeee:
      return And(Eq(Shr(mag, Set(du, p.layout.mantissa_bits)), Set(du, p.layout.max_exponent_field)),
                 Ne(And(mag, Set(du, (1u << p.layout.mantissa_bits) - 1)), zero));
    case NanCodes::kAllOnes: return Eq(mag, Set(du, p.layout.magnitude_mask));
    case NanCodes::kNegativeZero: return Eq(code, Set(du, p.layout.sign_bit));
  }
  return Lt(zero, zero);
}

template <class T>
struct Rounded {
  VecOf<typename T::DU> kept;
  MaskOf<typename T::DU> inexact;
};

// Rounds sig * 2^exp to a multiple of 2^q where shift = q - exp >= 1 and
// sig < 2^24 (or shift = 0, exact: the formats whose quantum reaches
// 2^-149, at float32 subnormals; the half bit 1 << -1 is then 0, as Shl
// gives it for a count past 31). `odd` is the parity of the truncated
// candidate.
template <class T>
FS_LANES Rounded<T> RoundLanes(const EncodePlan& p, const Rounding& mode, VecOf<typename T::DU> sig,
                               VecOf<typename T::DI> shift, VecOf<typename T::DU> sign, VecOf<typename T::DU> random,
                               MaskOf<typename T::DU>* odd_override, VecOf<typename T::DU> odd_value) {
  using VU = VecOf<typename T::DU>;
  using VI = VecOf<typename T::DI>;
  using MU = MaskOf<typename T::DU>;
  const typename T::DU du;
  const typename T::DI di;
  // s = min(shift, 25): a shift past 24 already discards all of sig.
  const VU s = BitCast(du, Min(shift, Set(di, 25)));
  const VU one = Set(du, 1u);
  const VU kept = Shr(sig, s);
  const VU below_mask = Sub(Shl(one, s), one);  // bits shifted out
  const VU rem = And(sig, below_mask);
  const VU half_bit = Shl(one, Sub(s, one));
  const MU half = Ne(And(rem, half_bit), Zero(du));
  const MU rest = Ne(And(rem, Sub(half_bit, one)), Zero(du));
  const MU inexact = Ne(rem, Zero(du));
  VU odd = And(kept, one);
  if (odd_override) odd = IfThenElse(*odd_override, odd_value, odd);
  const MU is_odd = Ne(odd, Zero(du));
  const MU negative = Ne(sign, Zero(du));
  MU up;
  switch (mode) {
    case Rounding::kNearestEven: up = And(half, Or(rest, is_odd)); break;
    case Rounding::kNearestAway: up = half; break;
    case Rounding::kTowardZero: up = Lt(one, one); break;
    case Rounding::kDown: up = And(inexact, negative); break;
    case Rounding::kUp: up = AndNot(negative, inexact); break;
    case Rounding::kOdd: up = AndNot(is_odd, inexact); break;
    case Rounding::kStochastic: {
      // r = the top R bits of the discarded fraction rem / 2^shift.
      const VI R = Set(di, static_cast<int32_t>(p.random.sr_bits));
      const VI right = Sub(shift, R);  // > 0: shift rem right, else left
      const VU rs = BitCast(du, Min(Max(right, Zero(di)), Set(di, 31)));
      const VU ls = BitCast(du, Max(Neg(right), Zero(di)));
      const VU r = IfThenElse(RebindMask(du, Gt(right, Zero(di))), Shr(rem, rs), Shl(rem, ls));
      const VU u = p.random.sr_bits == 32 ? random : Shr(random, Set(du, 32 - p.random.sr_bits));
      const VU sum = Add(r, u);
      up = p.random.sr_bits == 32 ? Lt(sum, u) : Ne(Shr(sum, Set(du, p.random.sr_bits)), Zero(du));
      break;
    }
    case Rounding::kStochasticEq: up = And(inexact, Ne(ShiftRight<31>(random), Zero(du))); break;
  }
  return Rounded<T>{Add(kept, Bit(du, up)), inexact};
}

template <class T>
struct Lanes {
  VecOf<typename T::DU> code;
  VecOf<typename T::DU> flags;  // TestFloat bits per lane
  MaskOf<typename T::DU> saturated, flushed, is_nan;
};

// Rounds float32 lanes (as bits) into the plan's format with rounding
// `mode` (the plan's). `random`: each lane's word for stochastic rounding
// (StochasticBits(seed, index); unused otherwise). Besides the codes, the
// flags and properties ArrayStats counts (a caller that wants only the
// codes loses nothing: the rest is dead code once inlined).
template <class T>
FS_LANES Lanes<T> EncodeLanes(const EncodePlan& p, VecOf<typename T::DU> bits, VecOf<typename T::DU> random,
                              const Rounding& mode) {
  using VU = VecOf<typename T::DU>;
  using VI = VecOf<typename T::DI>;
  using MU = MaskOf<typename T::DU>;
  const typename T::DU du;
  const typename T::DI di;
  const typename T::DF df;
  const VU zero = Zero(du), one = Set(du, 1u);
  const VU sign = ShiftRight<31>(bits);
  const MU neg = Ne(sign, zero);
  const VU abs = And(bits, Set(du, 0x7fffffffu));
  const VU ef = ShiftRight<23>(abs);
  const VU mant = And(abs, Set(du, 0x7fffffu));
  const MU is_nan = Gt(abs, Set(du, 0x7f800000u));
  const MU is_inf = Eq(abs, Set(du, 0x7f800000u));
  const MU ef_zero = Eq(ef, zero);
  MU is_zero = Eq(abs, zero);
  if (p.rounding.flush_input) is_zero = Or(is_zero, ef_zero);

  // 1. The exact value: sig * 2^exp, sig < 2^24; E = exponent of its top bit.
  const VU sig = IfThenElse(ef_zero, mant, Or(mant, Set(du, 0x800000u)));
  const VI exp = IfThenElse(RebindMask(di, ef_zero), Set(di, -149), Sub(BitCast(di, ef), Set(di, 150)));
  // Top bit of a subnormal's mantissa through an exact int->float conversion.
  const VI mant_log2 =
      Sub(BitCast(di, ShiftRight<23>(BitCast(du, ConvertTo(df, BitCast(di, mant))))), Set(di, 127));
  const VI E = IfThenElse(RebindMask(di, ef_zero), Add(Set(di, -149), mant_log2), Sub(BitCast(di, ef), Set(di, 127)));

  Lanes<T> out;
  VU flags = zero;

  if (p.layout.is_int) {
    // Integers: quantum 1. |x| >= 2^23 is out of range for every supported width.
    const MU big = RebindMask(du, Gt(exp, Set(di, -1)));
    const VI shift = Max(Neg(exp), Set(di, 1));
    const Rounded<T> r = RoundLanes<T>(p, mode, sig, shift, sign, random, nullptr, zero);
    const VU limit = IfThenElse(neg, Set(du, p.layout.int_most_negative), Set(du, p.layout.max_magnitude));
    const MU out_of_range = Or(big, Gt(r.kept, limit));
    // Wrap: the low bits of the rounded integer (of sig << exp when big).
    const VU big_low = Shl(sig, BitCast(du, Min(Max(exp, Zero(di)), Set(di, 31))));
    const VU magnitude = IfThenElse(big, big_low, r.kept);
    const VU twos = And(IfThenElse(neg, Sub(zero, magnitude), magnitude), Set(du, p.layout.code_mask));
    const VU clamp = IfThenElse(neg, Set(du, (0u - p.layout.int_most_negative) & p.layout.code_mask),
                                Set(du, p.layout.max_magnitude));
    VU code = IfThenElse(out_of_range, p.rounding.int_wraps ? twos : clamp, twos);
    flags = IfThenElse(out_of_range, Set(du, kInvalid), IfThenElseZero(r.inexact, Set(du, kInexact)));
    // Specials: zeros, infinities, NaNs.
    code = IfThenElse(is_zero, IfThenElse(neg, Set(du, p.special.zero.code[1]), Set(du, p.special.zero.code[0])),
                      code);
    flags = IfThenElse(is_zero, zero, flags);
    code = IfThenElse(is_inf, IfThenElse(neg, Set(du, p.special.inf.code[1]), Set(du, p.special.inf.code[0])), code);
    flags = IfThenElse(is_inf, Set(du, p.special.inf.flags[0]), flags);
    code = IfThenElse(is_nan, Set(du, p.special.nan_quiet.code[0]), code);
    flags = IfThenElse(is_nan, Set(du, kInvalid), flags);
    out.code = code;
    out.flags = flags;
    out.saturated = Lt(one, one);
    out.flushed = out.saturated;
    out.is_nan = out.saturated;
    return out;
  }

  // 2. The quantum q.
  const VI emin = Set(di, p.layout.emin), m = Set(di, p.layout.mantissa_bits);
  const auto normal_i = Gt(E, Sub(emin, Set(di, 1)));
  const MU normal = RebindMask(du, normal_i);
  const VI q_low = p.layout.has_subnormals ? Sub(emin, m) : emin;
  const VI q = IfThenElse(normal_i, Sub(E, m), q_low);

  // 3. Round. With no mantissa bits the parity is the exponent field's.
  const bool p1 = p.layout.mantissa_bits == 0 && p.rounding.p1_even_code;
  MU odd_mask = normal;
  const VU odd_value = And(BitCast(du, Add(q, Set(di, p.layout.bias))), one);
  const Rounded<T> r = RoundLanes<T>(p, mode, sig, Sub(q, exp), sign, random, p1 ? &odd_mask : nullptr, odd_value);
  VU kept = r.kept;
  flags = IfThenElseZero(r.inexact, Set(du, kInexact));

  // 4. Tininess (only where it can matter: flags, FTZ).
  MU tiny = RebindMask(du, Lt(E, emin));
  if (p.rounding.tiny_after_rounding) {
    const VI e_below = Sub(emin, Set(di, 1));
    const MU at_edge = RebindMask(du, Eq(E, e_below));
    const VI q2 = Sub(E, m);
    MU all = Eq(one, one);
    const VU odd2 = And(BitCast(du, Add(q2, Set(di, p.layout.bias))), one);
    // At the edge shift2 >= 1 for every supported format (m <= 22).
    const Rounded<T> wide =
        RoundLanes<T>(p, mode, sig, Max(Sub(q2, exp), Set(di, 1)), sign, random, p1 ? &all : nullptr, odd2);
    const MU carried = Eq(wide.kept, Set(du, 2u << p.layout.mantissa_bits));
    tiny = AndNot(And(at_edge, carried), tiny);
  }

  // 5. Encode kept * 2^q: ((q + m + bias) << m) + kept - 2^m covers the
  // normal binades (the carry into the next binade included) and the
  // subnormal grid; a format without subnormals has 0 or 2^emin below.
  VU mag;
  if (p.layout.has_subnormals) {
    const VU field_base = BitCast(du, Add(Add(q, m), Set(di, p.layout.bias)));
    mag = Sub(Add(Shl(field_base, Set(du, p.layout.mantissa_bits)), kept), Set(du, 1u << p.layout.mantissa_bits));
  } else {
    if (!p.layout.has_zero) kept = IfThenElse(And(Not(normal), Eq(kept, zero)), one, kept);
    const VU field_base = BitCast(du, Add(Add(q, m), Set(di, p.layout.bias)));
    const VU normal_mag =
        Sub(Add(Shl(field_base, Set(du, p.layout.mantissa_bits)), kept), Set(du, 1u << p.layout.mantissa_bits));
    const VU gap_mag = IfThenElseZero(
        Ne(kept, zero), Set(du, static_cast<uint32_t>(p.layout.emin + p.layout.bias) << p.layout.mantissa_bits));
    mag = IfThenElse(normal, normal_mag, gap_mag);
  }
  const MU is_zero_result = Eq(mag, zero);
  if (p.layout.has_zero) {
    // Rounded to zero: tiny and inexact by construction.
    flags = Or(flags, IfThenElseZero(And(is_zero_result, r.inexact), Set(du, kUnderflow)));
  } else {
    flags = Or(flags, IfThenElseZero(And(tiny, r.inexact), Set(du, kUnderflow)));
  }

  // 6. Overflow.
  const MU ovf = Gt(mag, Set(du, p.layout.max_magnitude));

  // 7. Underflow and flush-to-zero.
  VU code = Or(mag, IfThenElseZero(neg, Set(du, p.layout.sign_bit)));
  MU flushed = Lt(one, one);
  if (p.layout.has_zero) {
    const MU tiny_nonzero = AndNot(is_zero_result, tiny);
    if (p.rounding.flush_output) {
      flushed = tiny_nonzero;
      const VU zc = p.layout.has_negative_zero ? IfThenElseZero(neg, Set(du, p.layout.sign_bit)) : zero;
      code = IfThenElse(flushed, zc, code);
      flags = IfThenElse(flushed, Or(flags, Set(du, kUnderflow | kInexact)), flags);
    } else {
      flags = Or(flags, IfThenElseZero(And(tiny_nonzero, r.inexact), Set(du, kUnderflow)));
    }
    if (!p.layout.has_negative_zero)
      code = IfThenElse(Eq(AndNot(Set(du, p.layout.sign_bit), code), zero), zero, code);
  }
  code = IfThenElse(ovf, IfThenElse(neg, Set(du, p.special.overflow.code[1]), Set(du, p.special.overflow.code[0])),
                    code);
  flags = IfThenElse(ovf, Set(du, kOverflow | kInexact), flags);
  MU saturated;
  flushed = AndNot(ovf, flushed);

  // Specials, as the core gives them.
  auto by_sign = [&](const SpecialResult& s, VU* c, VU* f, MU where) {
    *c = IfThenElse(where, IfThenElse(neg, Set(du, s.code[1]), Set(du, s.code[0])), *c);
    *f = IfThenElse(where, IfThenElse(neg, Set(du, s.flags[1]), Set(du, s.flags[0])), *f);
  };
  if (!p.layout.is_signed) {
    // Negative values into an unsigned format (formats/round_pack.h,
    // Convert): one that rounds to zero (or is flushed to it) keeps the
    // rounding's code 0 and flags; any other is below the lowest value 0
    // and gives the core's answer for -1 (0 and invalid, or NaN where the
    // format has no zero). ovf lanes overflowed, so did not round to zero.
    const MU to_zero = p.layout.has_zero ? AndNot(ovf, Or(is_zero_result, flushed)) : Lt(one, one);
    by_sign(p.special.negative, &code, &flags, AndNot(to_zero, AndNot(is_nan, neg)));
  }
  by_sign(p.special.zero, &code, &flags, is_zero);
  by_sign(p.special.inf, &code, &flags, is_inf);
  const MU quiet = Ne(And(mant, Set(du, 0x400000u)), zero);
  if (p.special.nan_from_payload) {
    const VU payload = Shr(mant, Set(du, 23 - p.layout.mantissa_bits));
    const VU nan_code =
        Or(Or(Set(du, p.special.nan_base), payload), IfThenElseZero(neg, Set(du, p.layout.sign_bit)));
    code = IfThenElse(is_nan, nan_code, code);
    flags = IfThenElse(is_nan, IfThenElseZero(Not(quiet), Set(du, kInvalid)), flags);
  } else {
    by_sign(p.special.nan_quiet, &code, &flags, And(is_nan, quiet));
    by_sign(p.special.nan_signaling, &code, &flags, AndNot(quiet, is_nan));
  }
  const MU special = Or(Or(is_nan, is_inf), is_zero);
  flushed = AndNot(special, flushed);
  if (!p.layout.is_signed) flushed = AndNot(neg, flushed);
  // Saturated as ArrayStats defines it: overflow raised and +-max finite
  // given (an infinite input clamped by a format without infinities counts).
  saturated = And(Ne(And(flags, Set(du, kOverflow)), zero),
                  Eq(AndNot(Set(du, p.layout.sign_bit), code), Set(du, p.layout.max_magnitude)));
  out.code = code;
  out.flags = flags;
  out.saturated = saturated;
  out.flushed = flushed;
  out.is_nan = NanCodeMask<T>(p, code);
  return out;
}

// codes -> float32 bits (exact: every supported format's values are floats).
template <class T>
FS_LANES VecOf<typename T::DU> DecodeLanes(const EncodePlan& p, VecOf<typename T::DU> code) {
  using VU = VecOf<typename T::DU>;
  using VI = VecOf<typename T::DI>;
  using MU = MaskOf<typename T::DU>;
  const typename T::DU du;
  const typename T::DI di;
  const typename T::DF df;
  const VU zero = Zero(du);
  if (p.layout.is_int) {
    VU v = code;
    if (p.layout.is_signed) {  // sign-extend from the format's width
      const VU top = Set(du, p.layout.sign_bit);
      v = Sub(Xor(code, top), top);
    }
    return BitCast(du, ConvertTo(df, BitCast(di, v)));
  }
  const MU neg = Ne(And(code, Set(du, p.layout.sign_bit)), zero);
  const VU sign = IfThenElseZero(neg, Set(du, 0x80000000u));
  const VU mag = AndNot(Set(du, p.layout.sign_bit), code);
  const VU field = Shr(mag, Set(du, p.layout.mantissa_bits));
  const VU mant = And(mag, Set(du, (1u << p.layout.mantissa_bits) - 1));
  const MU sub = p.layout.has_zero ? Eq(field, zero) : Lt(zero, zero);
  // value = sig * 2^k with sig < 2^24: an exact int->float conversion times
  // an exact power of two (built from bits; 2^k may be a float32 subnormal;
  // sub_bits' shift count passes 31 in the lanes that take normal_bits).
  VU sig = IfThenElse(sub, p.layout.has_subnormals ? mant : zero, Or(mant, Set(du, 1u << p.layout.mantissa_bits)));
  if (p.decode.flush_subnormals) sig = IfThenElseZero(Not(sub), sig);
  const VI k = IfThenElse(RebindMask(di, sub), Set(di, p.layout.emin - p.layout.mantissa_bits),
                          Sub(BitCast(di, field), Set(di, p.layout.bias + p.layout.mantissa_bits)));
  const VI normal_bits = ShiftLeft<23>(Add(k, Set(di, 127)));
  const VU sub_bits = Shl(Set(du, 1u), BitCast(du, Max(Add(k, Set(di, 149)), Zero(di))));
  const VU scale = IfThenElse(RebindMask(du, Gt(k, Set(di, -127))), BitCast(du, normal_bits), sub_bits);
  const auto value = Mul(ConvertTo(df, BitCast(di, sig)), BitCast(df, scale));
  VU bits = Or(BitCast(du, value), sign);

  // Specials: classify the codes as formats/format.h does, decode as the core.
  const MU is_nan = NanCodeMask<T>(p, code);
  MU is_inf = Lt(zero, zero);
  switch (p.layout.inf_codes) {
    case InfCodes::kNone: break;
    case InfCodes::kIeee: is_inf = And(Eq(field, Set(du, p.layout.max_exponent_field)), Eq(mant, zero)); break;
    case InfCodes::kMaxCode: is_inf = Eq(mag, Set(du, p.layout.inf_magnitude)); break;
  }
  bits = IfThenElse(is_inf, IfThenElse(neg, Set(du, p.decode.inf_bits[1]), Set(du, p.decode.inf_bits[0])), bits);
  VU nan_bits = IfThenElse(neg, Set(du, p.decode.nan_bits[1]), Set(du, p.decode.nan_bits[0]));
  if (p.decode.keep_nan_payload)  // sign | quiet exponent | payload moved to the top
    nan_bits = Or(Or(sign, Set(du, 0x7fc00000u)), Shl(mant, Set(du, 23 - p.layout.mantissa_bits)));
  return IfThenElse(is_nan, nan_bits, bits);
}

#ifdef HWY_NAMESPACE
}  // namespace floatscope::lanes::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
#else
}  // namespace floatscope::lanes
#endif

#endif  // FLOATSCOPE_EMULATE_ENCODE_LANES_H_ toggle
