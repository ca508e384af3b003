// THE rounding core. Every conversion and (later) every arithmetic result in
// floatscope ends here: a value arrives as an exact sign / exponent /
// significand (plus a sticky bit for arithmetic), and RoundPack turns it into
// a code of the destination format, with the IEEE flags it raised.
//
// Integer-only and libm-free, so it is constexpr, runs in CUDA kernels
// through FS_HD, and the SIMD paths can be proven equal to it.
//
// The shape follows Berkeley SoftFloat's roundPack: find the quantum (the
// weight of the last kept bit), split the significand into kept bits and a
// discarded fraction, let the rounding mode decide one increment, then deal
// with overflow, tininess and the encoding.
#pragma once

#include <cstdint>

#include "formats/format.h"
#include "formats/philox.h"
#include "formats/policy.h"

namespace floatscope {

// An exact value: (-1)^sign * sig * 2^exp for finite ones.
enum class Class : uint8_t { kZero, kFinite, kInf, kNan };

struct Unpacked {
  Class cls = Class::kZero;
  bool sign = false;
  int32_t exp = 0;   // finite: value = sig * 2^exp
  uint64_t sig = 0;  // finite: nonzero
  bool sticky = false;  // finite: the true value is a little larger in
                        // magnitude than sig * 2^exp (below its last bit)
  uint64_t nan_payload = 0;  // NaN: fraction field left-aligned at bit 63
  bool signaling = false;    // NaN: an IEEE signaling NaN
};

namespace detail {

FS_HD constexpr int CountLeadingZeros64(uint64_t x) {
  if (x == 0) return 64;
#if defined(__CUDA_ARCH__)
  return __clzll(static_cast<long long>(x));
#else
  return __builtin_clzll(x);  // constexpr in GCC and Clang
#endif
}

FS_HD constexpr int BitLength(uint64_t x) { return 64 - CountLeadingZeros64(x); }

struct Rounded {
  uint64_t kept;  // the rounded value in units of 2^q
  bool inexact;
};

// The rounding mode's one decision: whether the truncated candidate (last
// bit `odd`, sign `sign`) goes up by one unit, given the discarded fraction
// left-aligned in 64 bits (`frac`) and whether anything nonzero lies further
// down (`below`). Every rounding of the core makes it here (RoundAt), and so
// do the fast paths that round without it (emulate/dot_hardware.h's
// RoundNormalFast). sr_bits: 1..32 (ClampSrBits).
FS_HD constexpr bool RoundsUp(Rounding mode, bool sign, bool odd, uint64_t frac, bool below, uint32_t random,
                              uint8_t sr_bits) {
  const bool inexact = frac != 0 || below;
  const bool half = (frac >> 63) != 0;
  const bool rest = (frac << 1) != 0 || below;
  switch (mode) {
    case Rounding::kNearestEven: return half && (rest || odd);
    case Rounding::kNearestAway: return half;
    case Rounding::kTowardZero: return false;
    case Rounding::kDown: return inexact && sign;
    case Rounding::kUp: return inexact && !sign;
    case Rounding::kOdd: return inexact && !odd;  // jam: make the last bit 1
    case Rounding::kStochastic: {
      // Round up when the top sr_bits of the discarded fraction plus as many
      // random bits carry out: probability floor(f * 2^R) / 2^R.
      const uint64_t r = frac >> (64 - sr_bits);
      const uint64_t u = random >> (32 - sr_bits);
      return ((r + u) >> sr_bits) != 0;
    }
    case Rounding::kStochasticEq: return inexact && (random >> 31) != 0;
  }
  return false;
}

// Options::sr_bits as the rounding uses it: 1..32.
FS_HD constexpr uint8_t ClampSrBits(uint8_t sr_bits) { return sr_bits < 1 ? 1 : (sr_bits > 32 ? 32 : sr_bits); }

// Rounds sig * 2^exp (+ sticky) to a multiple of 2^q. `odd_override` is the
// parity of the truncated candidate when it is not kept's last bit (-1: use
// kept's last bit). The discarded fraction is kept left-aligned in 64 bits
// (`frac`) with everything further down folded into `below`.
FS_HD constexpr Rounded RoundAt(uint64_t sig, int32_t exp, bool sticky, int32_t q,
                                Rounding mode, bool sign, int odd_override, uint32_t random,
                                uint8_t sr_bits) {
  const int64_t shift = int64_t{q} - exp;  // > 0: the core only rounds to coarser grids
  uint64_t kept = 0, frac = 0;
  bool below = sticky;
  if (shift <= 0) {
    // Cannot happen for normalized input (see RoundPack), kept for safety:
    // the value is already a multiple of 2^q.
    kept = shift <= -64 ? 0 : sig << -shift;
  } else if (shift < 64) {
    kept = sig >> shift;
    frac = sig << (64 - shift);
  } else if (shift == 64) {
    frac = sig;
  } else if (shift < 128) {
    frac = sig >> (shift - 64);
    below = below || (sig << (128 - shift)) != 0;
  } else {
    below = true;  // sig != 0
  }
  const bool odd = odd_override >= 0 ? odd_override != 0 : (kept & 1) != 0;
  return Rounded{kept + (RoundsUp(mode, sign, odd, frac, below, random, sr_bits) ? 1u : 0u), frac != 0 || below};
}

}  // namespace detail

// Rounds a finite nonzero value into format `f` (the heart of the core).
FS_HD constexpr Result RoundPackFinite(const Format& f, bool sign, int32_t exp, uint64_t sig,
                                       bool sticky, const Options& opt, uint64_t index) {
  // 1. Normalize: sig's leading 1 at bit 63; E = exponent of that bit.
  const int lz = detail::CountLeadingZeros64(sig);
  sig <<= lz;
  exp -= lz;
  const int32_t E = exp + 63;
  const uint32_t random =
      IsStochastic(opt.rounding) ? StochasticBits(opt.seed, index) : 0u;
  const uint8_t sr_bits = detail::ClampSrBits(opt.sr_bits);
  const Overflow overflow = EffectiveOverflow(f, opt.overflow);
  const uint64_t sign_bit = sign ? SignBit(f) : 0;

  if (!IsFloat(f)) {
    // 2'. Integers: quantum 1, then a range check.
    const uint64_t max_pos = MaxFiniteMagnitude(f);
    const uint64_t max_neg = f.is_signed ? max_pos + 1 : 0;
    bool out_of_range = E >= 63;
    uint64_t kept = 0;
    bool inexact = true;
    if (!out_of_range) {
      const detail::Rounded r =
          detail::RoundAt(sig, exp, sticky, 0, opt.rounding, sign, -1, random, sr_bits);
      kept = r.kept;
      inexact = r.inexact;
      out_of_range = sign ? kept > max_neg : kept > max_pos;
    }
    if (!out_of_range) {
      const uint64_t code = (sign ? uint64_t{0} - kept : kept) & CodeMask(f);
      return Result{code, static_cast<uint8_t>(inexact ? kInexact : 0)};
    }
    // Out of range: IEEE 754 convertToInteger signals invalid.
    if (overflow == Overflow::kWrap) {
      // The low bits of the rounded integer (all zero once exp >= bits).
      uint64_t low = 0;
      if (E < 63) low = kept;
      else if (exp < 64) low = sig << exp;
      return Result{(sign ? uint64_t{0} - low : low) & CodeMask(f), kInvalid};
    }
    const uint64_t code = sign ? (uint64_t{0} - max_neg) & CodeMask(f) : max_pos;
    return Result{code, kInvalid};
  }

  // 2. The quantum q: the weight of the last bit the result can keep.
  const int m = f.mantissa_bits;
  const int32_t emin = MinNormalExponent(f);
  int32_t q;
  if (E >= emin) q = E - m;                                  // normal binade
  else if (f.has_subnormals && f.has_zero) q = emin - m;     // subnormal grid
  else q = emin;  // no subnormals: the only values below 2^emin are 0 and 2^emin

  // With no mantissa bits every significand is 1; rne/rto then need the
  // code's parity (the exponent field's), unless the away rule is asked for.
  // `normal`: the candidate qq is a normal binade (always so when rounding
  // with an unbounded exponent range for the tininess test).
  auto odd_for = [&](int32_t qq, bool normal) -> int {
    if (m == 0 && normal && opt.tie_rule_p1 == TieRuleP1::kEvenCode)
      return static_cast<int>((qq + f.bias) & 1);
    return -1;
  };

  // 3. Round.
  detail::Rounded r =
      detail::RoundAt(sig, exp, sticky, q, opt.rounding, sign, odd_for(q, E >= emin), random, sr_bits);
  uint8_t flags = r.inexact ? kInexact : 0;

  // 4. Tininess: before rounding, the exact value is below 2^emin; after
  // rounding, it would still be below 2^emin if rounded to full precision
  // with an unbounded exponent range.
  bool tiny = false;
  if (E < emin) {
    tiny = true;
    if (opt.tininess == Tininess::kAfterRounding && E == emin - 1) {
      const detail::Rounded wide = detail::RoundAt(sig, exp, sticky, E - m, opt.rounding, sign,
                                                   odd_for(E - m, true), random, sr_bits);
      tiny = wide.kept < (uint64_t{1} << (m + 1));
    }
  }

  if (r.kept == 0) {
    if (!f.has_zero) {  // e8m0fnu-like: nothing below the smallest value
      r.kept = 1;
    } else {
      // Rounded to zero: that is tiny and inexact by construction.
      return Result{HasNegativeZero(f) ? sign_bit : 0, static_cast<uint8_t>(flags | kUnderflow)};
    }
  }

  // 5. Encode kept * 2^q.
  const int bl = detail::BitLength(r.kept);
  const int32_t e_new = q + bl - 1;
  uint64_t field = 0, mant = 0;
  if (e_new >= emin) {
    field = static_cast<uint64_t>(e_new + f.bias);
    const int up_shift = m - (bl - 1);  // -1 when rounding carried into a new binade
    mant = (up_shift >= 0 ? r.kept << up_shift : r.kept >> -up_shift) & MantissaMask(f);
  } else {
    mant = r.kept;  // subnormal: q == emin - m
  }

  // 6. Overflow.
  const bool overflowed =
      field > MaxExponentField(f) || ((field << m) | mant) > MaxFiniteMagnitude(f);
  if (overflowed) {
    flags |= kOverflow | kInexact;
    const uint64_t max_code = MaxFiniteMagnitude(f) | sign_bit;
    const uint64_t nan_code = CanonicalNanCode(f) | (f.nan == NanCodes::kNegativeZero ? 0 : sign_bit);
    const uint64_t inf_code = PositiveInfCode(f) | sign_bit;
    switch (overflow) {
      case Overflow::kSaturate: return Result{max_code, flags};
      case Overflow::kNan: return Result{HasNan(f) ? nan_code : max_code, flags};
      default: {
        // IEEE 754 7.4: rounding that goes away from zero overflows to
        // infinity, rounding toward zero stops at the largest finite value.
        const Rounding rm = opt.rounding;
        const bool to_inf = rm == Rounding::kNearestEven || rm == Rounding::kNearestAway ||
                            IsStochastic(rm) || (rm == Rounding::kUp && !sign) ||
                            (rm == Rounding::kDown && sign);
        if (!to_inf) return Result{max_code, flags};
        if (HasInf(f)) return Result{inf_code, flags};
        return Result{HasNan(f) ? nan_code : max_code, flags};
      }
    }
  }

  // 7. Underflow and flush-to-zero.
  if (tiny && f.has_zero && opt.flush_output) {
    return Result{HasNegativeZero(f) ? sign_bit : 0,
                  static_cast<uint8_t>(flags | kUnderflow | kInexact)};
  }
  if (tiny && (flags & kInexact)) flags |= kUnderflow;
  return Result{(field << m) | mant | sign_bit, flags};
}

// Rounds any unpacked value (specials included) into `f`.
FS_HD constexpr Result RoundPack(const Format& f, const Unpacked& u, const Options& opt,
                                 uint64_t index) {
  const Overflow overflow = EffectiveOverflow(f, opt.overflow);
  const bool is_int = !IsFloat(f);
  // A NaN code of `f` carrying `sign` where the format's NaNs have signs.
  auto nan_code = [&](bool sign) -> uint64_t {
    if (f.nan == NanCodes::kNegativeZero) return CanonicalNanCode(f);
    return CanonicalNanCode(f) | (sign ? SignBit(f) : 0);
  };
  auto zero_code = [&](bool sign) -> uint64_t {
    return HasNegativeZero(f) && sign ? SignBit(f) : 0;
  };

  switch (u.cls) {
    case Class::kNan: {
      const uint8_t flags = u.signaling ? kInvalid : 0;
      if (!HasNan(f)) {
        // No NaN to give: integers give 0; floats follow opt.nan_to_no_nan.
        uint64_t code = 0;
        if (!is_int) {
          if (opt.nan_to_no_nan == NanToNoNan::kZeroOppositeSign) code = zero_code(!u.sign);
          else if (opt.nan_to_no_nan == NanToNoNan::kMaxFinite) code = MaxFiniteMagnitude(f);
        }
        return Result{code, kInvalid};
      }
      if (f.nan == NanCodes::kIeee && opt.nan_payload == NanPayload::kPreserve) {
        const int m = f.mantissa_bits;
        const uint64_t payload = (u.nan_payload >> (64 - m)) | (uint64_t{1} << (m - 1));
        return Result{(uint64_t{MaxExponentField(f)} << m) | payload | (u.sign ? SignBit(f) : 0),
                      flags};
      }
      if (opt.nan_payload == NanPayload::kAllOnes && f.nan != NanCodes::kNegativeZero)
        return Result{MagnitudeMask(f), flags};
      return Result{nan_code(u.sign), flags};
    }
    case Class::kInf: {
      if (is_int) {
        if (overflow == Overflow::kWrap) return Result{0, kInvalid};
        const uint64_t max_pos = MaxFiniteMagnitude(f);
        const uint64_t code =
            u.sign ? (f.is_signed ? (uint64_t{0} - (max_pos + 1)) & CodeMask(f) : 0) : max_pos;
        return Result{code, kInvalid};
      }
      // -inf into an unsigned format: NaN, or +0 where there is a zero
      // (see Format::is_signed).
      if (u.sign && !f.is_signed) return Result{f.has_zero ? 0 : nan_code(false), kInvalid};
      // saturate ("satfinite") gives finite results only, infinities too;
      // otherwise infinity stays infinity where the format has one.
      if (HasInf(f) && overflow != Overflow::kSaturate)
        return Result{PositiveInfCode(f) | (u.sign ? SignBit(f) : 0), 0};
      if (overflow == Overflow::kSaturate || !HasNan(f))
        return Result{MaxFiniteMagnitude(f) | (u.sign ? SignBit(f) : 0),
                      static_cast<uint8_t>(kOverflow | kInexact)};
      return Result{nan_code(u.sign), kInvalid};
    }
    case Class::kZero: {
      if (!f.has_zero) return Result{nan_code(false), kInvalid};  // e8m0fnu has no zero
      return Result{is_int ? 0 : zero_code(u.sign), 0};
    }
    case Class::kFinite: {
      if (!(u.sign && !f.is_signed && IsFloat(f)))
        return RoundPackFinite(f, u.sign, u.exp, u.sig, u.sticky, opt, index);
      if (!f.has_zero) return Result{nan_code(false), kInvalid};
      // Unsigned with a zero (P3109): round as the negative value it is
      // (the mode's direction matters); a result of zero stands, with its
      // flags; anything else is below the format's lowest value, 0, and
      // clamps to it. Unsigned codes carry no sign, so zero is code 0.
      const Result r = RoundPackFinite(f, true, u.exp, u.sig, u.sticky, opt, index);
      if (r.code == 0) return r;
      return Result{0, kInvalid};
    }
  }
  return Result{0, kInvalid};
}

// Reads a code of `f` into an exact value. With `flush_subnormals`, a
// subnormal code reads as zero (DAZ). In a format without subnormals, codes
// with exponent field 0 and a nonzero mantissa are never produced and read
// as zero, as flush-to-zero hardware reads them.
FS_HD constexpr Unpacked Unpack(const Format& f, uint64_t code, bool flush_subnormals = false) {
  code &= CodeMask(f);
  Unpacked u;
  if (!IsFloat(f)) {
    if (code == 0) return u;
    u.cls = Class::kFinite;
    if (f.is_signed && (code & SignBit(f))) {
      u.sign = true;
      u.sig = (CodeMask(f) + 1 - code) & CodeMask(f);
      if (u.sig == 0) u.sig = SignBit(f);  // cannot happen below 64 bits; keeps it total
    } else {
      u.sig = code;
    }
    return u;
  }
  u.sign = (code & SignBit(f)) != 0;
  const int m = f.mantissa_bits;
  const uint64_t mag = code & MagnitudeMask(f);
  const uint64_t field = mag >> m;
  const uint64_t mant = mag & MantissaMask(f);
  if (IsNanCode(f, code)) {
    u.cls = Class::kNan;
    if (f.nan == NanCodes::kIeee) {
      u.nan_payload = mant << (64 - m);
      u.signaling = ((mant >> (m - 1)) & 1) == 0;
    }
    return u;
  }
  if (IsInfCode(f, code)) {
    u.cls = Class::kInf;
    return u;
  }
  if (field == 0 && f.has_zero) {
    if (mant == 0 || !f.has_subnormals || flush_subnormals) {
      u.cls = Class::kZero;
      return u;
    }
    u.cls = Class::kFinite;
    u.sig = mant;
    u.exp = MinNormalExponent(f) - m;
    return u;
  }
  u.cls = Class::kFinite;
  u.sig = (uint64_t{1} << m) | mant;
  u.exp = static_cast<int32_t>(field) - f.bias - m;
  return u;
}

}  // namespace floatscope
