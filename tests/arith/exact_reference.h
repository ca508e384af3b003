// The independent reference for emulate/arith.h, formats of at most 16 bits.
//
// It is written the other way round from the implementation on purpose:
//
//   emulate/arith.h + round_pack.h          this reference
//   -----------------------------------     ----------------------------------
//   128-bit integer significands, sticky    exact rationals (GMP mpq through
//                                           Boost.Multiprecision); sqrt kept
//                                           as "sqrt of a rational" and
//                                           compared by squaring
//   align, shift, normalize, one quantum    no binades: the sorted table of
//                                           every value of the format, found
//                                           by binary search
//   increments on magnitudes                signed neighbours lo < v < hi on
//                                           the real line, exact midpoints
//   descriptors of formats/catalog.h        tests/sweep/format_definitions.h
//                                           (retyped from the documents),
//                                           decoded by the textbook formula
//
// The rounding rules are those of tests/sweep/table_reference.h (which does
// the same for float32 inputs, with doubles): rdn picks lo, rup hi, rtz the
// one nearer zero, rne/rna the nearer one with ties to the even code / the
// larger magnitude, rto the odd code; the table continues one virtual step
// past +-max, and picking that step (or being beyond it) is overflow. The
// stochastic modes are checked exactly too: sr goes away from zero when
// floor(f * 2^R) + u >= 2^R, f being the distance fraction from the
// neighbour nearer zero and u the top R bits of the element's Philox word;
// sr-eq when inexact and the word's top bit is 1 (docs/SEMANTICS.md).
//
// The arithmetic rules (IEEE 754-2019 sections 6.3, 7.2, 7.3) are written
// here a second time as a decision table over operand classes; DAZ/FTZ and
// `tininess before` are not modelled (tests/arith/arith_cases_test.cc and
// the SoftFloat vectors cover them).
#pragma once

#include <boost/multiprecision/gmp.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "formats/philox.h"   // the random bits of stochastic rounding, not rounding
#include "formats/policy.h"   // Rounding, Options and flag names only
#include "tests/sweep/format_definitions.h"

namespace floatscope::arith_ref {

// Expression templates off: every operation yields a plain exact value.
using Rational = boost::multiprecision::number<boost::multiprecision::gmp_rational,
                                               boost::multiprecision::et_off>;
using sweep::CodeClass;
using sweep::FormatDefinition;
using sweep::Specials;

enum class Op : uint8_t { kAdd, kSub, kMul, kDiv, kSqrt, kMulAdd };

struct RefResult {
  uint32_t code;
  uint8_t flags;
  bool operator==(const RefResult&) const = default;
};

// An exact nonzero finite real: `value`, or sqrt(value) when is_sqrt.
struct Real {
  Rational value;
  bool is_sqrt = false;
};

// Sign of x - t for a real x and a rational t.
inline int Compare(const Real& x, const Rational& t) {
  if (!x.is_sqrt) return x.value < t ? -1 : (x.value > t ? 1 : 0);
  if (t < 0) return 1;  // sqrt(...) >= 0 > t
  const Rational t2 = t * t;
  return x.value < t2 ? -1 : (x.value > t2 ? 1 : 0);
}

inline int Sign(const Real& x) { return x.is_sqrt ? 1 : (x.value < 0 ? -1 : 1); }

class Reference {
 public:
  explicit Reference(const FormatDefinition& def) : def_(def) {
    if (sweep::IsIntegerDefinition(def)) throw std::invalid_argument("float formats only");
    const uint32_t codes = uint32_t{1} << def.bits;
    for (uint32_t c = 0; c < codes; ++c) {
      const sweep::DecodedCode d = sweep::DecodeByDefinition(def, c);
      if (d.cls != CodeClass::kFinite) continue;
      if (d.value == 0 && d.negative) continue;  // -0 is +0's value
      table_.push_back({Rational(d.value), c, (c & 1) != 0, false});
    }
    std::sort(table_.begin(), table_.end(), [](const Entry& a, const Entry& b) { return a.value < b.value; });
    max_code_ = table_.back().code;
    lowest_code_ = table_.front().code;
    const Entry max = table_.back(), lowest = table_.front();
    const double past = sweep::FormulaValue(def, (max.code & ~SignBit()) + 1);
    table_.push_back({Rational(past), 0, !max.odd, true});
    if (HasSignBit()) table_.insert(table_.begin(), {Rational(-past), 0, !lowest.odd, true});
    min_normal_code_ = def.specials == Specials::kE8m0 ? 0 : uint32_t{1} << def.mantissa_bits;
    min_normal_ = Rational(sweep::FormulaValue(def, min_normal_code_));
    // The grid point just below min normal with an unbounded exponent range.
    wide_below_ = min_normal_ - min_normal_ / Rational(uint64_t{1} << (def.mantissa_bits + 1));
  }

  const FormatDefinition& definition() const { return def_; }

  // The reference result of `op` on codes x[0..], in `mode` (the format's
  // default overflow, or saturate), for element `index` under `seed`.
  RefResult Apply(Op op, const uint32_t* x, Rounding mode, bool saturate = false, uint64_t seed = 0,
                  uint8_t sr_bits = 32, uint64_t index = 0) const {
    Ctx ctx{mode, saturate || def_.saturates_by_default, 0, 0};
    if (mode == Rounding::kStochastic || mode == Rounding::kStochasticEq) {
      const uint32_t random = StochasticBits(seed, index);
      ctx.sr_draw = random >> (32 - sr_bits);
      ctx.sr_bits = sr_bits;
    }
    const int n = op == Op::kSqrt ? 1 : op == Op::kMulAdd ? 3 : 2;
    Operand v[3];
    uint8_t invalid = 0;
    int first_nan = -1;
    for (int i = 0; i < n; ++i) {
      v[i] = Read(x[i]);
      if (v[i].cls == CodeClass::kNan) {
        if (first_nan < 0) first_nan = i;
        if (v[i].signaling) invalid = kInvalid;
      }
    }
    const bool zero_times_inf =
        (op == Op::kMul || op == Op::kMulAdd) &&
        ((v[0].is_zero && v[1].cls == CodeClass::kInf) || (v[0].cls == CodeClass::kInf && v[1].is_zero));
    if (first_nan >= 0) {
      if (op == Op::kMulAdd && zero_times_inf) invalid = kInvalid;  // SoftFloat's choice (7.2(c))
      RefResult r = NanOperand(v[first_nan]);
      r.flags |= invalid;
      return r;
    }
    switch (op) {
      case Op::kAdd: return Sum(ctx, v[0], v[1]);
      case Op::kSub: return Sum(ctx, v[0], Negated(v[1]));
      case Op::kMul:
        if (zero_times_inf) return DefaultNan();
        return ProductLike(ctx, v[0], v[1], /*divide=*/false);
      case Op::kDiv: return ProductLike(ctx, v[0], v[1], /*divide=*/true);
      case Op::kSqrt: return SquareRoot(ctx, v[0]);
      case Op::kMulAdd: {
        if (zero_times_inf) return DefaultNan();
        // The exact product as an operand of the sum (never rounded).
        Operand p;
        p.negative = v[0].negative != v[1].negative;
        if (v[0].cls == CodeClass::kInf || v[1].cls == CodeClass::kInf) p.cls = CodeClass::kInf;
        else if (v[0].is_zero || v[1].is_zero) p.is_zero = true;
        else p.value = v[0].value * v[1].value;
        return Sum(ctx, p, v[2]);
      }
    }
    throw std::logic_error("op");
  }

  // A nonzero exact rational rounded into the format (deterministic modes).
  RefResult RoundRational(const Rational& v, Rounding mode, bool saturate = false) const {
    if (v == 0) throw std::invalid_argument("RoundRational: zero has no rounding");
    const Ctx ctx{mode, saturate || def_.saturates_by_default, 0, 0};
    return Round(ctx, Real{v, false});
  }

  // The exact value of a finite code.
  Rational ValueOf(uint32_t code) const { return Rational(sweep::DecodeByDefinition(def_, code).value); }

 private:
  struct Entry {
    Rational value;
    uint32_t code;
    bool odd;
    bool is_virtual;
  };
  struct Ctx {
    Rounding mode;
    bool saturate;
    uint32_t sr_draw;  // top sr_bits of the random word (stochastic modes)
    uint8_t sr_bits;
  };
  struct Operand {
    CodeClass cls = CodeClass::kFinite;
    bool negative = false;
    bool is_zero = false;
    bool signaling = false;
    uint32_t code = 0;
    Rational value;  // finite: signed value (0 for zeros)
  };

  uint32_t SignBit() const { return HasSignBit() ? uint32_t{1} << (def_.bits - 1) : 0; }
  bool HasSignBit() const { return sweep::HasSignBit(def_); }
  bool HasNegativeZero() const {
    return def_.specials == Specials::kIeee || def_.specials == Specials::kOcpE4m3 ||
           def_.specials == Specials::kNone;
  }
  bool HasInf() const { return def_.specials == Specials::kIeee || def_.specials == Specials::kP3109; }
  bool HasNan() const { return def_.specials != Specials::kNone; }
  bool HasZero() const { return def_.specials != Specials::kE8m0; }
  uint32_t MagnitudeOnes() const { return (uint32_t{1} << (def_.bits - (HasSignBit() ? 1 : 0))) - 1; }

  Operand Read(uint32_t code) const {
    const sweep::DecodedCode d = sweep::DecodeByDefinition(def_, code);
    Operand o;
    o.cls = d.cls;
    o.negative = d.negative;
    o.code = code;
    if (d.cls == CodeClass::kFinite) {
      o.is_zero = d.value == 0;
      o.value = Rational(d.value);
    }
    if (d.cls == CodeClass::kNan && def_.specials == Specials::kIeee)
      o.signaling = ((code >> (def_.mantissa_bits - 1)) & 1) == 0;  // quiet bit clear
    return o;
  }
  static Operand Negated(Operand o) {
    o.negative = !o.negative;
    o.value = -o.value;
    return o;
  }

  // ---- encodings of non-numbers --------------------------------------------
  uint32_t IeeeInf(bool neg) const {
    return (neg ? SignBit() : 0) | (((uint32_t{1} << def_.exponent_bits) - 1) << def_.mantissa_bits);
  }
  RefResult NanOperand(const Operand& o) const {
    switch (def_.specials) {
      case Specials::kIeee:  // quiet it, keep sign and payload
        return {o.code | (uint32_t{1} << (def_.mantissa_bits - 1)), 0};
      case Specials::kOcpE4m3: return {(o.negative ? SignBit() : 0) | MagnitudeOnes(), 0};
      case Specials::kFnuz:
      case Specials::kP3109: return {SignBit(), 0};
      case Specials::kE8m0: return {0xFF, 0};
      default: throw std::logic_error("NaN operand in a format without NaN");
    }
  }
  RefResult DefaultNan() const {
    switch (def_.specials) {
      case Specials::kIeee: return {IeeeInf(false) | (uint32_t{1} << (def_.mantissa_bits - 1)), kInvalid};
      case Specials::kOcpE4m3: return {MagnitudeOnes(), kInvalid};
      case Specials::kFnuz:
      case Specials::kP3109: return {SignBit(), kInvalid};
      case Specials::kE8m0: return {0xFF, kInvalid};
      default: return {0, kInvalid};  // no NaN: +0 (NanToNoNan::kZero)
    }
  }
  RefResult MaxFinite(bool neg, uint8_t flags) const { return {neg ? lowest_code_ : max_code_, flags}; }
  // An exact infinity (inf operands, x/0) encoded in the format.
  RefResult Infinity(const Ctx& c, bool neg) const {
    if (neg && !HasSignBit()) return DefaultNan();
    if (HasInf() && !c.saturate) {
      if (def_.specials == Specials::kIeee) return {IeeeInf(neg), 0};
      return {(neg ? SignBit() : 0) | MagnitudeOnes(), 0};  // P3109
    }
    if (c.saturate || !HasNan()) return MaxFinite(neg, kOverflow | kInexact);
    RefResult r = DefaultNan();  // no infinity: NaN, with the sign where NaNs have one
    if (def_.specials == Specials::kOcpE4m3 && neg) r.code |= SignBit();
    return r;
  }
  RefResult Zero(bool neg) const {
    if (!HasZero()) return DefaultNan();
    return {neg && HasNegativeZero() ? SignBit() : 0, 0};
  }

  // ---- the operations ---------------------------------------------------------
  RefResult Sum(const Ctx& c, const Operand& a, const Operand& b) const {
    if (a.cls == CodeClass::kInf && b.cls == CodeClass::kInf)
      return a.negative == b.negative ? Infinity(c, a.negative) : DefaultNan();
    if (a.cls == CodeClass::kInf) return Infinity(c, a.negative);
    if (b.cls == CodeClass::kInf) return Infinity(c, b.negative);
    if (a.is_zero && b.is_zero)
      return Zero(a.negative == b.negative ? a.negative : c.mode == Rounding::kDown);
    const Rational s = a.value + b.value;
    if (s == 0) return Zero(c.mode == Rounding::kDown);
    return Round(c, Real{s, false});
  }

  RefResult ProductLike(const Ctx& c, const Operand& a, const Operand& b, bool divide) const {
    const bool neg = a.negative != b.negative;
    if (!divide) {
      if (a.cls == CodeClass::kInf || b.cls == CodeClass::kInf) return Infinity(c, neg);
      if (a.is_zero || b.is_zero) return Zero(neg);
      return Round(c, Real{a.value * b.value, false});
    }
    if ((a.cls == CodeClass::kInf && b.cls == CodeClass::kInf) || (a.is_zero && b.is_zero)) return DefaultNan();
    if (a.cls == CodeClass::kInf) return Infinity(c, neg);
    if (b.cls == CodeClass::kInf || a.is_zero) return Zero(neg);
    if (b.is_zero) {
      RefResult r = Infinity(c, neg);
      r.flags |= kInfinite;
      return r;
    }
    return Round(c, Real{a.value / b.value, false});
  }

  RefResult SquareRoot(const Ctx& c, const Operand& a) const {
    if (a.is_zero) return Zero(a.negative);
    if (a.negative) return DefaultNan();
    if (a.cls == CodeClass::kInf) return Infinity(c, false);
    return Round(c, Real{a.value, true});
  }

  // ---- rounding an exact nonzero real ----------------------------------------
  RefResult Overflowed(const Ctx& c, bool neg) const {
    const uint8_t flags = kOverflow | kInexact;
    const Rounding m = c.mode;
    const bool away = m == Rounding::kNearestEven || m == Rounding::kNearestAway || m == Rounding::kStochastic ||
                      m == Rounding::kStochasticEq || (m == Rounding::kUp && !neg) || (m == Rounding::kDown && neg);
    if (c.saturate || !away) return MaxFinite(neg, flags);
    if (HasInf()) return {Infinity(c, neg).code, flags};
    if (HasNan()) {
      RefResult r = DefaultNan();
      if (def_.specials == Specials::kOcpE4m3 && neg) r.code |= SignBit();
      return {r.code, flags};
    }
    return MaxFinite(neg, flags);
  }

  // Does the mode pick `hi` for lo < v < hi?
  bool PicksUpper(const Ctx& c, const Real& v, const Entry& lo, const Entry& hi) const {
    const bool neg = Sign(v) < 0;
    const Entry& nearer_zero = neg ? hi : lo;
    switch (c.mode) {
      case Rounding::kDown: return false;
      case Rounding::kUp: return true;
      case Rounding::kTowardZero: return neg;  // hi is nearer zero for negative v
      case Rounding::kOdd: return hi.odd;
      case Rounding::kNearestEven:
      case Rounding::kNearestAway: {
        const int side = Compare(v, (lo.value + hi.value) / 2);
        if (side != 0) return side > 0;
        if (c.mode == Rounding::kNearestEven) return !hi.odd;
        return !neg;  // away from zero
      }
      case Rounding::kStochastic: {
        // f = |v - nearer_zero| / |hi - lo|; away iff floor(f 2^R) + u >= 2^R,
        // i.e. f >= (2^R - u) / 2^R.
        const Rational one_r = Rational(uint64_t{1} << c.sr_bits);
        const Rational threshold = (one_r - Rational(c.sr_draw)) / one_r;  // in (0, 1]
        const Rational step = hi.value - lo.value;
        // |v - nearer_zero| >= threshold * step, with v on the real line:
        const Rational point = neg ? nearer_zero.value - threshold * step : nearer_zero.value + threshold * step;
        const int side = Compare(v, point);
        const bool away = neg ? side <= 0 : side >= 0;
        return neg ? !away : away;
      }
      case Rounding::kStochasticEq: {
        const bool away = (c.sr_draw >> (c.sr_bits - 1)) != 0;
        return neg ? !away : away;
      }
    }
    return false;
  }

  // Tininess after rounding: |v| < min normal, and v rounded to the
  // format's precision with an unbounded exponent stays below it.
  bool IsTiny(const Ctx& c, const Real& v) const {
    const bool neg = Sign(v) < 0;
    const Rational lim = neg ? Rational(-min_normal_) : min_normal_;
    if (neg ? Compare(v, lim) <= 0 : Compare(v, lim) >= 0) return false;
    const Rational w = neg ? Rational(-wide_below_) : wide_below_;
    if (neg ? Compare(v, w) >= 0 : Compare(v, w) <= 0) return true;
    const bool n_odd = (min_normal_code_ & 1) != 0;
    if (!neg) return !PicksUpper(c, v, Entry{wide_below_, 0, !n_odd, false}, Entry{min_normal_, 0, n_odd, false});
    return PicksUpper(c, v, Entry{-min_normal_, 0, n_odd, false}, Entry{-wide_below_, 0, !n_odd, false});
  }

  RefResult Round(const Ctx& c, const Real& v) const {
    const bool neg = Sign(v) < 0;
    if (def_.specials == Specials::kE8m0) {
      if (neg) return DefaultNan();
      if (Compare(v, table_.front().value) < 0)  // below 2^-127: nothing smaller
        return {table_.front().code, static_cast<uint8_t>(kInexact | (IsTiny(c, v) ? kUnderflow : 0))};
    }
    if (Compare(v, table_.front().value) < 0 || Compare(v, table_.back().value) > 0) return Overflowed(c, neg);
    // First entry >= v.
    size_t lo_i = 0, hi_i = table_.size() - 1;
    while (lo_i < hi_i) {
      const size_t mid = (lo_i + hi_i) / 2;
      if (Compare(v, table_[mid].value) > 0) lo_i = mid + 1;
      else hi_i = mid;
    }
    const Entry& hi = table_[lo_i];
    if (Compare(v, hi.value) == 0) return hi.is_virtual ? Overflowed(c, neg) : RefResult{hi.code, 0};
    const Entry& lo = table_[lo_i - 1];
    const Entry& pick = PicksUpper(c, v, lo, hi) ? hi : lo;
    if (pick.is_virtual) return Overflowed(c, neg);
    const uint8_t flags = kInexact | (IsTiny(c, v) ? kUnderflow : 0);
    if (pick.value == 0) return {neg && HasNegativeZero() ? SignBit() : 0, flags};
    return {pick.code, flags};
  }

  FormatDefinition def_;
  std::vector<Entry> table_;  // ascending, virtual entries at both ends
  uint32_t max_code_ = 0, lowest_code_ = 0, min_normal_code_ = 0;
  Rational min_normal_, wide_below_;
};

}  // namespace floatscope::arith_ref
