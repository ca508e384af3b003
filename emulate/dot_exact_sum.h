// The exact group sums of emulate/dot.h (kBlock, kExact, kHardware): a long
// fixed-point accumulator (Kulisch) wide enough for any sum of products of
// two format values and a value of a third, the IEEE classes of a sum known
// by class only, and the one rounding of a group's sum through the core.
// FS_HD and free of heap memory, so a GPU thread runs the same code as the
// CPU.
#pragma once

#include <cstdint>

#include "emulate/arith.h"
#include "formats/catalog.h"

namespace floatscope::detail {

// Exponent of the lowest and one past the highest bit of a float format's
// finite values.
FS_HD constexpr int32_t LowestBit(const Format& f) { return MinNormalExponent(f) - f.mantissa_bits; }
FS_HD constexpr int32_t TopBit(const Format& f) {
  return static_cast<int32_t>(MaxFiniteMagnitude(f) >> f.mantissa_bits) - f.bias + 1;
}

// Words of a LongAccumulator for bits lsb .. top_bits: the span and room
// for carries and a sign.
FS_HD constexpr int32_t LongAccumulatorWords(int32_t lsb, int32_t top_bits) { return (top_bits - lsb) / 64 + 3; }

// The widest case: products of two float64 values and a float64 value,
// 64 bits of carries above (the span Dot asks for). Every format has its
// values within float64's range (formats/spec_parser.h refuses the others,
// and the catalog's formats are within it), so every Dot fits.
inline constexpr int kLongAccumulatorMaxWords =
    LongAccumulatorWords(2 * LowestBit(formats::kF64), 2 * TopBit(formats::kF64) + 64);
static_assert(kLongAccumulatorMaxWords == 69, "2 * 1074 + 2 * 1024 + 64 bits, in 64-bit words, plus 3");
constexpr bool CatalogWithinF64() {
  for (const Format& f : formats::kAll)
    if (LowestBit(f) < LowestBit(formats::kF64) || TopBit(f) > TopBit(formats::kF64)) return false;
  return true;
}
static_assert(CatalogWithinF64(), "a named format outside float64's range needs a wider LongAccumulator");

// A two's-complement integer in 64-bit words, in units of 2^lsb; a fixed
// capacity (no heap), of which the first `words` are used.
class LongAccumulator {
 public:
  // Clears the accumulator for bits lsb .. top_bits (a span Dot sizes from
  // formats within float64's range: never above the capacity).
  FS_HD constexpr void Reset(int32_t lsb, int32_t top_bits) {
    lsb_ = lsb;
    words_ = LongAccumulatorWords(lsb, top_bits);
    if (words_ > kLongAccumulatorMaxWords) words_ = kLongAccumulatorMaxWords;
    for (int i = 0; i < words_; ++i) w_[i] = 0;
  }

  // += or -= sig * 2^exp (sig < 2^128, exp >= lsb).
  FS_HD constexpr void Add(bool negative, ArithU128 sig, int32_t exp) {
    const int32_t shift = exp - lsb_;
    const int wi = shift / 64;
    const int b = shift % 64;
    // sig << b spans up to three words.
    const uint64_t lo = static_cast<uint64_t>(sig), hi = static_cast<uint64_t>(sig >> 64);
    const uint64_t parts[3] = {lo << b, b ? (hi << b) | (lo >> (64 - b)) : hi, b ? hi >> (64 - b) : 0};
    if (!negative) {
      uint64_t carry = 0;
      for (int i = wi; i < words_; ++i) {
        const uint64_t add = i - wi < 3 ? parts[i - wi] : 0;
        if (add == 0 && carry == 0 && i - wi >= 3) break;
        const uint64_t s1 = w_[i] + add;
        const uint64_t c1 = s1 < add;
        const uint64_t s2 = s1 + carry;
        carry = c1 | (s2 < s1);
        w_[i] = s2;
      }
    } else {
      uint64_t borrow = 0;
      for (int i = wi; i < words_; ++i) {
        const uint64_t sub = i - wi < 3 ? parts[i - wi] : 0;
        if (sub == 0 && borrow == 0 && i - wi >= 3) break;
        const uint64_t d1 = w_[i] - sub;
        const uint64_t b1 = w_[i] < sub;
        const uint64_t d2 = d1 - borrow;
        borrow = b1 | (d1 < borrow);
        w_[i] = d2;
      }
    }
  }

  FS_HD constexpr bool IsZero() const {
    for (int i = 0; i < words_; ++i)
      if (w_[i]) return false;
    return true;
  }

  // The exact value as an Unpacked (finite or zero; a zero gets
  // `zero_sign`), keeping the top 64 bits and a sticky bit: exact for
  // RoundPack since 64 bits are more than any format's precision plus one.
  // Consumes the sum: a negative one is negated in place, where a copy
  // would double a GPU thread's local memory; Reset before the next use.
  FS_HD constexpr Unpacked TakeUnpacked(bool zero_sign) {
    Unpacked u;
    if (IsZero()) {
      u.cls = Class::kZero;
      u.sign = zero_sign;
      return u;
    }
    const bool negative = (w_[words_ - 1] >> 63) != 0;
    if (negative) {  // two's complement negate
      uint64_t carry = 1;
      for (int i = 0; i < words_; ++i) {
        w_[i] = ~w_[i] + carry;
        carry = carry && w_[i] == 0;
      }
    }
    int top = words_ - 1;
    while (w_[top] == 0) --top;
    const int bit = 63 - CountLeadingZeros64(w_[top]);
    const int64_t msb = int64_t{top} * 64 + bit;  // position of the leading 1
    // The 64-bit window [msb - 63, msb].
    const int64_t low = msb - 63;
    uint64_t sig = 0;
    bool sticky = false;
    for (int i = 0; i < words_; ++i) {
      const int64_t pos = int64_t{i} * 64;
      const uint64_t x = w_[i];
      if (x == 0) continue;
      if (pos + 63 < low) {
        sticky = true;
        continue;
      }
      // Bits of x at positions pos..pos+63 that fall in the window.
      const int64_t off = pos - low;  // window bit of x's bit 0
      if (off >= 0) {
        sig |= off < 64 ? x << off : 0;
      } else {
        sig |= x >> -off;
        if ((x << (64 + off)) != 0) sticky = true;
      }
    }
    u.cls = Class::kFinite;
    u.sign = negative;
    u.sig = sig;
    u.exp = static_cast<int32_t>(low) + lsb_;  // low < 0: fewer than 64 bits, sig shifted up
    u.sticky = sticky;
    return u;
  }

 private:
  int32_t lsb_ = 0;
  int words_ = 0;
  uint64_t w_[kLongAccumulatorMaxWords];  // Reset clears the words in use
};

// IEEE classes of a sum whose terms are known by class only.
struct SpecialSum {
  Unpacked nan;                   // the first NaN operand met (when has_nan)
  bool has_nan = false;
  bool invalid = false;           // 0 * inf, inf - inf, signaling NaN
  bool default_nan = false;       // 0 * inf or inf - inf
  bool pos_inf = false, neg_inf = false;
  bool all_negative_zero = true;  // every term so far a -0

  FS_HD constexpr void Operand(const Unpacked& u) {
    if (u.cls == Class::kNan) {
      if (!has_nan) {
        nan = u;
        has_nan = true;
      }
      if (u.signaling) invalid = true;
    }
  }
  FS_HD constexpr void Infinity(bool negative) { (negative ? neg_inf : pos_inf) = true; }
  FS_HD constexpr void Term(bool is_zero, bool negative) {
    if (!(is_zero && negative)) all_negative_zero = false;
  }
  // The running sum s as a term: its class, and true when it is finite
  // and nonzero (the caller adds it).
  FS_HD constexpr bool Accumulator(const Unpacked& s) {
    Operand(s);
    if (s.cls == Class::kInf) Infinity(s.sign);
    Term(s.cls == Class::kZero, s.sign);
    return s.cls == Class::kFinite;
  }
  // The product term x*y: its NaN operands, 0*inf (invalid), an infinite
  // product and its zero sign. True when x*y is finite and nonzero, i.e.
  // the caller adds sig_x*sig_y * 2^(exp_x+exp_y) to the sum.
  FS_HD constexpr bool Product(const Unpacked& x, const Unpacked& y) {
    Operand(x);
    Operand(y);
    const bool neg = x.sign != y.sign;
    const bool x_inf = x.cls == Class::kInf, y_inf = y.cls == Class::kInf;
    const bool x_zero = x.cls == Class::kZero, y_zero = y.cls == Class::kZero;
    if ((x_inf && y_zero) || (x_zero && y_inf)) {
      invalid = default_nan = true;
    } else if (x_inf || y_inf) {
      Infinity(neg);
    }
    Term(x_zero || y_zero, neg);
    return x.cls == Class::kFinite && y.cls == Class::kFinite;
  }
};

// Rounds one group's sum into `f`: its IEEE special result if it has one
// (NaN, infinity, invalid), else the exact finite sum that take(sp) gives
// as an Unpacked (an exact zero with the sign IEEE 754 6.3 gives it:
// ZeroSumSign). The long accumulator's RoundGroup below and the fixed-point
// group sums of emulate/dot_hardware.h both round through this.
template <class TakeSum>
FS_HD constexpr Result RoundGroupWith(const Format& f, const SpecialSum& sp, const Options& opt, uint64_t index,
                                      TakeSum&& take) {
  Unpacked u;
  uint8_t op_flags = 0;
  if (sp.has_nan) {
    u = sp.nan;
    if (sp.invalid) op_flags = kInvalid;
  } else if (sp.default_nan || (sp.pos_inf && sp.neg_inf)) {
    u.cls = Class::kNan;  // the default NaN
    op_flags = kInvalid;
  } else if (sp.pos_inf || sp.neg_inf) {
    u.cls = Class::kInf;
    u.sign = sp.neg_inf;
  } else {
    u = take(sp);
  }
  Result r = RoundPack(f, u, opt, index);
  r.flags |= op_flags;
  return r;
}

// The sign of an exact zero sum (IEEE 754 6.3): -0 when every term is -0,
// or under round toward negative.
FS_HD constexpr bool ZeroSumSign(bool all_terms_negative_zero, const Options& opt) {
  return all_terms_negative_zero || opt.rounding == Rounding::kDown;
}

// Rounds one group's sum, kept in `sum`, into `f`. Consumes `sum`.
FS_HD constexpr Result RoundGroup(const Format& f, const SpecialSum& sp, LongAccumulator& sum, const Options& opt,
                                  uint64_t index) {
  return RoundGroupWith(f, sp, opt, index, [&](const SpecialSum& s) {
    return sum.TakeUnpacked(ZeroSumSign(s.all_negative_zero, opt));
  });
}

}  // namespace floatscope::detail
