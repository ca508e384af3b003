// The steps of emulate/dot.h's kHardware model (an MMA unit's aligned,
// truncating adder tree), written once as FS_HD functions that the CPU's Dot
// and the GPU's fast GEMM kernel (cuda/gemm_kernel.cu) both call:
//
//   - the run across groups: the running sum s (a code of the sum format),
//     the outer float32 accumulator o and its promotions, the stochastic
//     index of every rounding, the final rounding into `acc`
//     (HardwareStart, HardwareGroupIndex, HardwareAfterGroup,
//     HardwareFinish);
//   - one group in fixed point (FixedDotPlan and the Fixed* functions): for
//     the models whose cut terms fit 32-bit integers (the H100 presets, and
//     most kHardware models of narrow inputs), each product is an integer
//     significand product and an exponent, cut to F fraction bits below the
//     group's largest exponent by one shift, summed in an int32; the
//     accumulator is cut the same way and the sum rounded once through the
//     core (RoundGroupWith -> RoundPack). This is the same arithmetic as the
//     long accumulator of the general group step (dot.h), exact because
//     every cut term is an integer multiple of 2^(e - F) below 2^31: Dot
//     takes it for every group it applies to and the general step for the
//     others (NaN or infinite operands, wide formats, F or G too large).
//
// Fixed-point operands (FixedOperand): a finite nonzero value is
// sig * 2^(align - M) with M its format's mantissa bits, sig an integer
// below 2^(M + 1) (a normal value's significand; a subnormal's as stored for
// kExponentSum, normalised to a leading bit at M for kLeadingBit) and align
// the exponent the model aligns it by: floor(log2) of a normal value, the
// minimum normal exponent for a subnormal one under kExponentSum. A's
// significands are stored shifted left by plan.a_shift (L), both carry
// their sign (negative integers). A product of two operands is then
// sa * sb * 2^(aa + ab - Ma - Mb - L), its alignment exponent aa + ab (plus
// the carry bit of the significand product under kLeadingBit), and its cut
// term in units of 2^(e - F), e the group's largest alignment exponent,
//   T = sign * (|sa * sb| >> (e + R - aa - ab)),   L - R = F - Ma - Mb,
// a shift of 32 or more giving 0 (FixedProductTerm). Zeros are sig 0 with
// an alignment far below every finite one (kFixedZero, kFixedNegativeZero
// keeps a -0's sign for the sign of an exact zero sum).
#pragma once

#include <cstddef>
#include <cstdint>

#include "emulate/arith.h"
#include "emulate/dot_exact_sum.h"
#include "emulate/dot_model.h"
#include "formats/catalog.h"

namespace floatscope::detail {

// The common case of a group sum's rounding, without the general core: a
// finite nonzero sum (-1)^negative * mag * 2^exp of at least 2^emin (a
// normal value before rounding) whose result is a normal value of `f` (a
// signed float format with mantissa bits, codes laid out sign | exponent
// field | mantissa), in any rounding mode: the increment is the core's own
// decision (detail::RoundsUp; stochastic rounding draws
// StochasticBits(opt.seed, index), as RoundPackFinite does). Such a
// rounding raises at most inexact. False (out untouched) for every other
// case, which RoundPack then does: tiny, overflowing or special results.
// Equal to RoundPack where it applies (tests/arith/dot_test.cc checks the
// fixed-point steps against the long accumulator, which rounds through
// RoundPack only, in every mode).
// Mag: uint64_t, or uint32_t where the caller knows mag < 2^32 (the
// fixed-point group step): then every shift and compare is one 32-bit
// instruction on the GPU instead of a pair, for formats of at most 32 bits
// (codes and the rounded significand fit 32 bits; wider formats decline).
template <class Mag>
FS_HD constexpr bool RoundNormalFast(const Format& f, bool negative, Mag mag, int32_t exp, const Options& opt,
                                     uint64_t index, Result& out) {
  static_assert(sizeof(Mag) == 4 || sizeof(Mag) == 8, "Mag: uint32_t or uint64_t");
  constexpr int32_t kBits = 8 * sizeof(Mag);
  if (!f.is_signed || f.mantissa_bits < 1 || f.mantissa_bits > (kBits == 64 ? 52 : kBits - 2) || f.bits > kBits)
    return false;
  const int32_t m = f.mantissa_bits;
  const int32_t bl = BitLength(mag);
  const int32_t E = exp + bl - 1;  // the leading bit's exponent
  // Tiny before rounding: RoundPack's grid may be the subnormal one, and
  // tininess may be asked before rounding.
  if (E < MinNormalExponent(f)) return false;
  const int64_t field = int64_t{E} + f.bias;
  if (field > int64_t{MaxExponentField(f)}) return false;
  // The significand to m bits below the leading one: `drop` bits below the
  // result's last one (<= kBits - 1 - m) go, or -drop zeros come in.
  const int32_t drop = bl - 1 - m;
  const int32_t right = drop > 0 ? drop : 0, left = drop > 0 ? 0 : -drop;
  Mag kept = (mag >> right) << left;
  const Mag frac = right > 0 ? mag << (kBits - right) : Mag{0};  // the discarded bits, left-aligned
  const bool inexact = frac != 0;
  const uint32_t random = IsStochastic(opt.rounding) ? StochasticBits(opt.seed, index) : 0u;
  // (No discarded bits: no mode rounds up.)
  if (RoundsUp(opt.rounding, negative, (kept & 1) != 0, uint64_t{frac} << (64 - kBits), false, random,
               ClampSrBits(opt.sr_bits)))
    ++kept;
  // kept is 2^m to 2^(m + 1): added to the exponent field less one (its
  // leading bit is the field's implicit one), a carry into the next binade
  // (kept = 2^(m + 1)) moves up the field; a result past the largest
  // finite value, carried or not, declines below. Modulo 2^kBits when the
  // field is 0 (a format without a zero): the sum is below 2^bits.
  const Mag magnitude = (static_cast<Mag>(field - 1) << m) + kept;
  if (magnitude > MaxFiniteMagnitude(f)) return false;
  out = Result{magnitude | (negative ? SignBit(f) : 0), static_cast<uint8_t>(inexact ? kInexact : 0)};
  return true;
}

// ---- the run across groups ---------------------------------------------------------------

// What a kHardware dot product carries from one group to the next.
struct HardwareState {
  uint64_t s = 0;      // the running sum: a code of the sum format
  uint64_t outer = 0;  // o: a float32 code (promote_every > 0)
  uint8_t flags = 0;   // every rounding's flags so far
};

FS_HD constexpr HardwareState HardwareStart(const Format& sum_format, const Options& opt) {
  constexpr Format kOuter = formats::kF32;  // a local copy: device code cannot take a host variable's address
  const Unpacked zero{};                     // +0
  HardwareState st;
  st.s = RoundPack(sum_format, zero, opt, 0).code;
  st.outer = RoundPack(kOuter, zero, opt, 0).code;
  return st;
}

// The stochastic index of group q's rounding (q = 0, 1, ...): q group
// roundings and q / N promotions come before it. HardwareGroupOffset, the
// part after first_index, is the same for every dot product of a GEMM (its
// kernel computes it once per group).
FS_HD constexpr uint64_t HardwareGroupOffset(const DotModel& m, uint64_t q) {
  return q + (m.promote_every ? q / m.promote_every : 0);
}
FS_HD constexpr uint64_t HardwareGroupIndex(const DotModel& m, uint64_t first_index, uint64_t q) {
  return first_index + HardwareGroupOffset(m, q);
}

// o = round_f32(o + s), s = +0 again. The common case (o and s finite or
// zero, within 2^38 of each other, a normal float32 result) is an int64 sum
// and RoundNormalFast; the rest is the core's AddExactOperands.
FS_HD constexpr void HardwarePromote(const DotModel& m, const Format& sum_format, const Options& opt, uint64_t index,
                                     HardwareState& st) {
  constexpr Format kOuter = formats::kF32;
  Options po = opt;
  if (m.promote_nearest_even) po.rounding = Rounding::kNearestEven;
  const Unpacked o = Unpack(kOuter, st.outer), s = Unpack(sum_format, st.s);
  Result r;
  bool done = false;
  const bool o_finite = o.cls == Class::kFinite, s_finite = s.cls == Class::kFinite;
  if ((o_finite || o.cls == Class::kZero) && (s_finite || s.cls == Class::kZero) && (o_finite || s_finite) &&
      IsFloat(sum_format) && sum_format.mantissa_bits <= 23) {
    const int32_t lo = !o_finite || (s_finite && s.exp < o.exp) ? s.exp : o.exp;
    const int32_t hi = !o_finite || (s_finite && s.exp > o.exp) ? s.exp : o.exp;
    if (hi - lo <= 38) {  // both significands below 2^24: the sum below 2^63
      const int64_t x = o_finite ? static_cast<int64_t>(o.sig << (o.exp - lo)) : 0;
      const int64_t y = s_finite ? static_cast<int64_t>(s.sig << (s.exp - lo)) : 0;
      const int64_t v = (o.sign ? -x : x) + (s.sign ? -y : y);
      if (v != 0)
        done = RoundNormalFast(kOuter, v < 0, v < 0 ? 0u - static_cast<uint64_t>(v) : static_cast<uint64_t>(v), lo,
                               po, index, r);
    }
  }
  if (!done) r = AddExactOperands(kOuter, o, s, po, index);
  st.flags |= r.flags;
  st.outer = r.code;
  st.s = RoundPack(sum_format, Unpacked{}, opt, 0).code;
}

// Group q's rounding r into the state: its flags, the adder's overflow to
// infinity, the new running sum.
FS_HD constexpr void HardwareGroupDone(const DotModel& m, const Format& sum_format, const Result& r,
                                       HardwareState& st) {
  st.flags |= r.flags;
  uint64_t code = r.code;
  if (m.overflow_to_infinity && (r.flags & kOverflow) && HasInf(sum_format))
    code = PositiveInfCode(sum_format) | (code & SignBit(sum_format));
  st.s = code;
}

// Whether a promotion follows group q.
FS_HD constexpr bool HardwarePromotionDue(const DotModel& m, uint64_t q) {
  return m.promote_every != 0 && (q + 1) % m.promote_every == 0;
}

// After group q's rounding r: HardwareGroupDone, then the promotion when one
// is due.
FS_HD constexpr void HardwareAfterGroup(const DotModel& m, const Format& sum_format, const Options& opt,
                                        uint64_t first_index, uint64_t q, const Result& r, HardwareState& st) {
  HardwareGroupDone(m, sum_format, r, st);
  if (HardwarePromotionDue(m, q)) HardwarePromote(m, sum_format, opt, HardwareGroupIndex(m, first_index, q) + 1, st);
}

// The dot product after `groups` groups (>= 1): the last promotion and the
// final rounding into acc.
FS_HD constexpr Result HardwareFinish(const DotModel& m, const Format& sum_format, const Format& acc,
                                      const Options& opt, uint64_t first_index, uint64_t groups, HardwareState st) {
  constexpr Format kOuter = formats::kF32;
  uint64_t t = first_index + groups + (m.promote_every ? groups / m.promote_every : 0);
  if (m.promote_every == 0) {
    if (!m.sum_format) return Result{st.s, st.flags};
    const Result r = RoundPack(acc, Unpack(sum_format, st.s), opt, t);
    return Result{r.code, static_cast<uint8_t>(st.flags | r.flags)};
  }
  if (groups % m.promote_every != 0) HardwarePromote(m, sum_format, opt, t++, st);
  const Result r = RoundPack(acc, Unpack(kOuter, st.outer), opt, t);
  return Result{r.code, static_cast<uint8_t>(st.flags | r.flags)};
}

// ---- one group in fixed point --------------------------------------------------------------

inline constexpr int32_t kFixedZero = -(1 << 24);             // the alignment of +0
inline constexpr int32_t kFixedNegativeZero = kFixedZero - 1;  // of -0
inline constexpr int32_t kFixedNoTerm = -(1 << 27);           // below every alignment sum
// Alignment sums above this come from two finite nonzero operands.
inline constexpr int32_t kFixedTermFloor = -(1 << 22);

struct FixedDotPlan {
  bool ok = false;        // the fixed-point group step applies to the model
  bool leading = false;   // Alignment::kLeadingBit
  int32_t mant_a = 0, mant_b = 0, mant_s = 0;  // mantissa bits of in_a, in_b, the sum format
  int32_t a_shift = 0;    // L: A's significands are kept << L
  int32_t right = 0;      // R: extra right shift of every product term
  int32_t carry_bit = 0;  // kLeadingBit: the bit of |sa * sb| that moves the leading bit up by one
  int32_t s_left = 0, s_right = 0;  // the same for the accumulator: sig << s_left >> (s_right + e - align)
  int32_t fraction_bits = 0;
};

// Whether (and how) the fixed-point group step runs a model: kHardware
// with the accumulator aligned with the products (A), float inputs and sum
// format of at most 32 bits, and every group's cut product terms summing
// below 2^31.
FS_HD constexpr FixedDotPlan MakeFixedDotPlan(const Format& in_a, const Format& in_b, const Format& sum_format,
                                              const DotModel& m) {
  FixedDotPlan p;
  if (m.accumulation != Accumulation::kHardware || !m.include_accumulator) return p;
  if (!IsFloat(in_a) || !IsFloat(in_b) || !IsFloat(sum_format)) return p;
  if (in_a.bits > 32 || in_b.bits > 32 || sum_format.bits > 32 || !sum_format.has_zero) return p;
  if (in_a.mantissa_bits > 23 || in_b.mantissa_bits > 23 || m.fraction_bits > 60) return p;
  const int32_t f = static_cast<int32_t>(m.fraction_bits);
  const int32_t mab = in_a.mantissa_bits + in_b.mantissa_bits;
  p.mant_a = in_a.mantissa_bits;
  p.mant_b = in_b.mantissa_bits;
  p.mant_s = sum_format.mantissa_bits;
  p.a_shift = f > mab ? f - mab : 0;
  p.right = mab > f ? mab - f : 0;
  p.carry_bit = mab + 1 + p.a_shift;
  p.s_left = f > p.mant_s ? f - p.mant_s : 0;
  p.s_right = p.mant_s > f ? p.mant_s - f : 0;
  p.fraction_bits = f;
  p.leading = m.alignment == Alignment::kLeadingBit;
  // |sa * sb| < 2^(Ma + Mb + 2 + L); G of them below 2^31.
  const uint64_t group = m.group ? m.group : 1;
  const int32_t term_bits = mab + 2 + p.a_shift;
  if (term_bits > 31 || group > (uint64_t{1} << (31 - term_bits))) return p;
  // The running sum as a FixedOperand: its significand << s_left below
  // 2^31. With the products' sum below 2^31, a group's sum is then below
  // 2^32 in magnitude (FixedGroupRoundFast rounds it as a uint32_t).
  if (p.mant_s + 1 + p.s_left > 31) return p;
  p.ok = true;
  return p;
}

// Whether a model takes the operands' codes as they are, in K order: no
// operand conversion (DotModel::operand_format) and no instruction K order
// (instruction_k). The float32 and block GEMM kernels (cuda/) tile only
// such models and leave the others to GemmElement, which runs
// emulate/dot.h's Dot.
FS_HD constexpr bool TakesCodesInOrder(const DotModel& m) { return !m.operand_format && KOrder(m).InOrder(); }

// Whether the fast GPU GEMM (cuda/gemm_kernel.cu, its GemmFixedPointApplies),
// whose K tiles are tile_k long, can tile a model, before
// MakeFixedDotPlan's own conditions (on the operand formats, when the model
// converts): K in order, or instructions that tile a K tile (tile_k a
// multiple of instruction_k), whose K order the kernel then applies inside
// each tile, padding included. An operand conversion it does per element
// as Dot does (detail::OperandUnpack).
FS_HD constexpr bool FixedGemmTiles(const DotModel& m, uint32_t tile_k) {
  const KOrder order(m);
  return order.InOrder() || tile_k % order.block == 0;
}

// A decoded input (see the top comment): sig signed, shifted by `shift`.
struct FixedOperand {
  int32_t sig = 0;
  int32_t align = kFixedZero;
  bool special = false;  // NaN or infinity: not for the fixed-point step
};

FS_HD constexpr FixedOperand FixedDecode(const Unpacked& x, int32_t mant_bits, int32_t shift, bool leading) {
  FixedOperand o;
  if (x.cls == Class::kZero) {
    o.align = x.sign ? kFixedNegativeZero : kFixedZero;
    return o;
  }
  if (x.cls != Class::kFinite) {
    o.special = true;
    return o;
  }
  uint64_t sig = x.sig;
  int32_t align = x.exp + mant_bits;
  if (leading) {
    const int bl = BitLength(sig);
    sig <<= (mant_bits + 1 - bl);
    align = x.exp + bl - 1;
  }
  const int32_t v = static_cast<int32_t>(sig << shift);
  o.sig = x.sign ? -v : v;
  o.align = align;
  return o;
}

// x >> d for d >= 0, 0 when d >= 32 (the GPU's shr.u32 clamps so).
FS_HD constexpr uint32_t ShiftRightOrZero(uint32_t x, uint32_t d) {
#if defined(__CUDA_ARCH__)
  uint32_t r;
  asm("shr.u32 %0, %1, %2;" : "=r"(r) : "r"(x), "r"(d));
  return r;
#else
  return d >= 32 ? 0u : x >> d;
#endif
}

// The alignment exponent of the product of two operands.
FS_HD constexpr int32_t FixedProductAlign(const FixedDotPlan& p, int32_t sa, int32_t aa, int32_t sb, int32_t ab) {
  if (!p.leading) return aa + ab;
  const int32_t prod = sa * sb;
  const uint32_t mag = prod < 0 ? 0u - static_cast<uint32_t>(prod) : static_cast<uint32_t>(prod);
  return aa + ab + static_cast<int32_t>(mag >> p.carry_bit);
}

// The product's cut term in units of 2^(e - F), given e_right = e + R.
FS_HD constexpr int32_t FixedProductTerm(int32_t sa, int32_t aa, int32_t sb, int32_t ab, int32_t e_right) {
  const int32_t prod = sa * sb;
  const uint32_t mag = prod < 0 ? 0u - static_cast<uint32_t>(prod) : static_cast<uint32_t>(prod);
  const uint32_t t = ShiftRightOrZero(mag, static_cast<uint32_t>(e_right - aa - ab));
  const uint32_t neg = static_cast<uint32_t>(prod >> 31);  // 0 or all ones
  return static_cast<int32_t>((t ^ neg) - neg);
}

// Whether the product of two operands is -0 (a zero of negative sign).
FS_HD constexpr bool FixedProductIsNegativeZero(int32_t sa, int32_t aa, int32_t sb, int32_t ab) {
  if (sa != 0 && sb != 0) return false;
  const bool na = sa < 0 || aa == kFixedNegativeZero, nb = sb < 0 || ab == kFixedNegativeZero;
  return na != nb;
}

// FixedDecode(Unpack(f, code), f.mantissa_bits, shift, leading) read
// straight from the code, for the running sum of the GPU's group step:
// Unpack's class tests and 64-bit significand cost more than the group's
// rounding itself there. For signed float formats of at most 32 bits with a
// zero (every sum format MakeFixedDotPlan takes, |sig| << shift below 2^31
// as it checks); other formats go through Unpack. Equal to FixedDecode of
// Unpack for every code (tests/arith/dot_test.cc, exhaustively for narrow
// formats).
FS_HD constexpr FixedOperand FixedDecodeCode(const Format& f, uint64_t code, int32_t shift, bool leading) {
  if (!IsFloat(f) || !f.is_signed || !f.has_zero || f.bits > 32 || f.mantissa_bits < 1 || f.mantissa_bits > 30)
    return FixedDecode(Unpack(f, code), f.mantissa_bits, shift, leading);
  const uint32_t c = static_cast<uint32_t>(code & CodeMask(f));
  const int32_t m = f.mantissa_bits;
  const bool negative = (c & SignBit(f)) != 0;
  const uint32_t field = static_cast<uint32_t>((c & MagnitudeMask(f)) >> m);
  const uint32_t mant = static_cast<uint32_t>(c & MantissaMask(f));
  uint32_t sig = mant | (uint32_t{1} << m);
  int32_t align = static_cast<int32_t>(field) - f.bias;  // a normal value's floor(log2), either alignment
  FixedOperand o;
  // Exponent fields 1 to max - 1 hold normal values whatever the format's
  // NaN and infinity codes (with a mantissa bit, every such code has field
  // 0 or max): the common case, one compare. The rest here.
  if (field - 1u >= MaxExponentField(f) - 1u) {
    if (IsNanCode(f, c) || IsInfCode(f, c)) {
      o.special = true;
      return o;
    }
    if (field == 0) {
      if (mant == 0 || !f.has_subnormals) {  // a zero (Unpack reads a subnormal code of such a format as zero)
        o.align = negative ? kFixedNegativeZero : kFixedZero;
        return o;
      }
      // A subnormal: aligned by the minimum normal exponent (kExponentSum)
      // or by its leading bit, normalised to bit m (kLeadingBit).
      sig = mant;
      align = MinNormalExponent(f);
      if (leading) {
        const int32_t bl = BitLength(mant);
        sig <<= m + 1 - bl;
        align -= m + 1 - bl;
      }
    }
    // else the top binade's finite values (formats whose NaN is the all-ones code only)
  }
  const int32_t v = static_cast<int32_t>(sig << shift);
  o.sig = negative ? -v : v;
  o.align = align;
  return o;
}

// The alignment exponent of the running sum s (decoded as a FixedOperand
// with shift p.s_left) as a term: kFixedNoTerm when s is zero, infinite or
// NaN. Those are the operands aligned at kFixedZero or below (a finite
// nonzero one of a format of at most 32 bits aligns far above
// kFixedTermFloor); asked of the alignment alone, the significand is not
// needed (the GPU kernel skips computing it here).
FS_HD constexpr int32_t FixedAccumulatorAlign(const FixedOperand& s) {
  return s.align > kFixedTermFloor ? s.align : kFixedNoTerm;
}

// The group's e: the largest alignment exponent of its terms (kFixedNoTerm
// or below when it has none).
FS_HD constexpr int32_t FixedGroupExponent(int32_t products_max, int32_t s_align) {
  return products_max > s_align ? products_max : s_align;
}

// s cut at e (>= s's alignment when s is a term), in units of 2^(e - F),
// signed (0 unless s is finite and nonzero): |sig| << s_left, shifted right
// by s_right + e - align (32 or more: 0).
FS_HD constexpr int32_t FixedAccumulatorCut(const FixedDotPlan& p, const FixedOperand& s, int32_t e) {
  const uint32_t mag = s.sig < 0 ? 0u - static_cast<uint32_t>(s.sig) : static_cast<uint32_t>(s.sig);
  const uint32_t t = ShiftRightOrZero(mag, static_cast<uint32_t>(p.s_right + e - s.align));
  return s.sig < 0 ? -static_cast<int32_t>(t) : static_cast<int32_t>(t);
}

// The common case of FixedGroupRound: the running sum s finite or zero,
// given by its cut at e (s_cut, FixedAccumulatorCut), and a nonzero sum
// whose rounding RoundNormalFast does (then no flag but inexact, no
// overflow). False when FixedGroupRound must do it (s_special: s is NaN or
// infinite). index: the rounding's stochastic index (read under stochastic
// rounding only). The sum is below 2^32 in magnitude (MakeFixedDotPlan), so
// it is rounded as a uint32_t. (The GPU kernel cuts s as soon as e is
// known, before the products' pass, and keeps only the cut.)
FS_HD constexpr bool FixedGroupRoundFast(const FixedDotPlan& p, const Format& sum_format, bool s_special, int32_t s_cut,
                                         int32_t e, int64_t products_sum, const Options& opt, uint64_t index,
                                         Result& out) {
  if (s_special) return false;
  const int64_t v = products_sum + s_cut;
  if (v == 0) return false;
  const uint32_t mag = static_cast<uint32_t>(v < 0 ? -v : v);
  return RoundNormalFast(sum_format, v < 0, mag, e - p.fraction_bits, opt, index, out);
}

// Rounds one group's sum into the sum format: the running sum (s_code, a
// code of the sum format; cut at e) plus the sum of the products' cut terms
// (products_sum, in units of 2^(e - F)). The products are finite or zero;
// all_products_negative_zero() is asked only when the sign of an exact zero
// sum depends on it.
template <class AllProductsNegativeZero>
FS_HD constexpr Result FixedGroupRound(const FixedDotPlan& p, const Format& sum_format, uint64_t s_code, int32_t e,
                                       int64_t products_sum, const Options& opt, uint64_t index,
                                       AllProductsNegativeZero&& all_products_negative_zero) {
  const FixedOperand so = FixedDecodeCode(sum_format, s_code, p.s_left, p.leading);
  const int32_t s_cut = FixedAccumulatorCut(p, so, e);
  Result fast;
  if (FixedGroupRoundFast(p, sum_format, so.special, s_cut, e, products_sum, opt, index, fast)) return fast;
  SpecialSum sp;
  sp.Accumulator(Unpack(sum_format, s_code));
  const int64_t v = products_sum + s_cut;
  return RoundGroupWith(sum_format, sp, opt, index, [&](const SpecialSum& ss) {
    Unpacked u;
    if (v == 0) {
      u.cls = Class::kZero;
      u.sign = ZeroSumSign(ss.all_negative_zero && all_products_negative_zero(), opt);
      return u;
    }
    u.cls = Class::kFinite;
    u.sign = v < 0;
    u.sig = v < 0 ? 0u - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
    u.exp = e - p.fraction_bits;
    return u;
  });
}

}  // namespace floatscope::detail
