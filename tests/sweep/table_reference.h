// The independent reference encoder of the sweeps: float32 -> a format of at
// most 16 bits, by nearest-value search in the sorted table of the format's
// values. It is the proof the core (formats/round_pack.h) is checked against,
// so it is written the other way round on purpose:
//
//   core (round_pack.h)                  this reference
//   ---------------------------------    -----------------------------------
//   integer significand, shift, sticky   doubles, a sorted table, lower_bound
//   magnitude + sign, increments         signed values on the real line
//   quantum per binade / subnormal grid  no binades: neighbours in the table
//   tie parity from the kept bits        tie parity = the code's last bit
//   overflow from the encoded field      a "virtual" table entry past max
//   descriptors of formats/catalog.h     format_definitions.h (retyped)
//
// The rules reproduced are the contract of policy.h / round_pack.h:
//   - Every finite input v lies between two neighbours lo < v < hi of the
//     table (or is one). rdn picks lo, rup hi, rtz the one nearer zero, rne
//     and rna the nearer one, ties to the neighbour whose code ends in 0
//     (rne) or to the larger magnitude (rna), rto the neighbour whose code
//     ends in 1. The code's last bit is the significand's last bit for
//     formats with fraction bits, the exponent field's parity for those
//     without (e8m0fnu, binary8p1: TieRuleP1::kEvenCode), the integer's
//     parity for integers: one rule for all.
//   - The table continues one step past the largest finite value (and below
//     the most negative one) with a virtual entry: the value the next code
//     would have if the exponent field were wider, with that code's parity.
//     Picking it, or being beyond it, is overflow: IEEE 754 7.4 says the
//     result is infinity when rounding away from zero (rne, rna, rup for
//     positive, rdn for negative) and max finite otherwise (rtz, rto, rup for
//     negative, rdn for positive); a format without infinity gives NaN
//     instead, one without NaN max finite; `saturate` always max finite.
//     Integers clamp to their range and raise only invalid.
//   - A result of zero keeps the input's sign where the format has -0.
//   - e8m0fnu has no zero and no sign: zero and negative inputs are NaN
//     (0xFF, invalid), inputs below 2^-127 give 2^-127 (0x00) whatever the
//     mode.
//   - Unsigned P3109 formats (binaryKpPu*) have a zero but no sign: the
//     table is mirrored below zero (-v for every value v, with v's code
//     parity) and a negative input rounds in it like any other; a pick of
//     zero is +0 with the usual flags, a pick of a mirrored (negative) entry
//     clamps to +0, the format's lowest value, raising invalid (P3109's
//     Saturate; floatscope's flag, as for unsigned integers). -inf gives +0
//     and invalid.
//   - Formats whose values reach far beyond float32 (max > 2^200: P3109
//     members with 9 to 11 exponent bits) keep their table up to 2^200: no
//     finite float32 input can overflow them, and above that the sums in
//     the midpoints would leave double's range.
//   - NaN: IEEE-style formats keep the sign and the leading payload bits and
//     set the quiet bit (NanPayload::kPreserve); other formats give their NaN
//     code; formats without NaN give +0 (NanToNoNan::kZero). Invalid is
//     raised for signaling NaNs, and always where there is no NaN.
//   - Infinities: kept where the format has them (saturate: max finite,
//     overflow + inexact); otherwise NaN (invalid), or max finite (overflow +
//     inexact) in a format without NaN or when saturating.
//   - Flags (TestFloat's bits): inexact when the result differs from the
//     input; overflow (+ inexact) as above; underflow when the result is
//     inexact and the input is tiny after rounding (|v| < min normal, and
//     rounding v to the format's precision with an unbounded exponent range
//     stays below min normal); integers raise invalid out of range.
//
// All arithmetic is exact: a float32 is exact in a double; every table
// value has at most 16 significant bits and lies in [2^-1028, 2^200] (the
// P3109 family's widest exponent fields reach 2^-1027; tables are cut at
// 2^200), so the midpoint (lo + hi) / 2 of two neighbours is exact too (the
// constructor checks it), and every comparison below compares exact values.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "formats/policy.h"  // the Rounding enum (names only)
#include "tests/sweep/format_definitions.h"

namespace floatscope::sweep {

// TestFloat's flag bits, as DESIGN.md lists them.
inline constexpr uint8_t kRefInexact = 1, kRefUnderflow = 2, kRefOverflow = 4, kRefInvalid = 16;

enum class RefOverflow : uint8_t { kFormatDefault, kSaturate };

struct RefResult {
  uint32_t code;
  uint8_t flags;
  friend bool operator==(const RefResult&, const RefResult&) = default;
};

// ---- float32 patterns in value order ----------------------------------------
// A key orders all 2^32 patterns: -NaNs, -inf ... -0, +0 ... +inf, +NaNs.
// Between -inf and +inf the keys are in value order (-0 just before +0).
constexpr uint32_t KeyOfF32Bits(uint32_t bits) {
  return (bits & 0x80000000u) ? 0x7FFFFFFFu - (bits & 0x7FFFFFFFu) : bits | 0x80000000u;
}
constexpr uint32_t F32BitsOfKey(uint32_t key) {
  return (key & 0x80000000u) ? key & 0x7FFFFFFFu : (0x7FFFFFFFu - key) | 0x80000000u;
}
inline constexpr uint32_t kKeyNegInf = KeyOfF32Bits(0xFF800000u);
inline constexpr uint32_t kKeyPosInf = KeyOfF32Bits(0x7F800000u);
static_assert(F32BitsOfKey(KeyOfF32Bits(0x80000000u)) == 0x80000000u);
static_assert(KeyOfF32Bits(0x80000000u) + 1 == KeyOfF32Bits(0));

// The exact value of a finite float32 pattern, read by the IEEE formula.
inline double F32Value(uint32_t bits) {
  const uint32_t field = (bits >> 23) & 0xFF, fraction = bits & 0x7FFFFF;
  const double mag = field == 0 ? std::ldexp(static_cast<double>(fraction), -149)
                                : std::ldexp(static_cast<double>(0x800000u | fraction),
                                             static_cast<int>(field) - 150);
  return (bits >> 31) ? -mag : mag;
}

class TableReference {
 public:
  // A run of keys [first_key, next piece's first_key) with one result.
  struct Piece {
    uint32_t first_key;
    RefResult result;
  };

  TableReference(const FormatDefinition& def, Rounding mode, RefOverflow overflow)
      : def_(def),
        mode_(mode),
        saturate_(overflow == RefOverflow::kSaturate || def.saturates_by_default) {
    if (mode == Rounding::kStochastic || mode == Rounding::kStochasticEq)
      throw std::invalid_argument("the table reference covers the deterministic modes only");
    BuildTable();
  }

  const FormatDefinition& definition() const { return def_; }

  // The first finite key (or +inf's) whose value is >= b (> b when
  // strictly_above): a binary search, keys being in value order.
  static uint32_t FirstKeyWhere(double b, bool strictly_above) {
    uint32_t lo = kKeyNegInf + 1, hi = kKeyPosInf;
    while (lo < hi) {
      const uint32_t mid = lo + (hi - lo) / 2;
      const double v = F32Value(F32BitsOfKey(mid));
      if (strictly_above ? v > b : v >= b) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  // The reference result for one float32 input.
  RefResult Round(uint32_t f32_bits) const {
    const bool neg = (f32_bits >> 31) != 0;
    const uint32_t field = (f32_bits >> 23) & 0xFF, fraction = f32_bits & 0x7FFFFF;
    if (field == 0xFF && fraction != 0) return RoundNan(neg, fraction);
    if (field == 0xFF) return RoundInf(neg);
    if (field == 0 && fraction == 0) return RoundZero(neg);
    return RoundFinite(F32Value(f32_bits));
  }

  // Values where Round's answer may change: every table value (virtual ones
  // included), every midpoint of neighbours, zero, and the points where
  // tininess after rounding changes. Between two consecutive breakpoints
  // every decision Round makes (which neighbours, which side of the
  // midpoint, exact or not, tiny or not, sign) is the same.
  std::vector<double> Breakpoints() const {
    std::vector<double> b{0.0};
    for (size_t i = 0; i < table_.size(); ++i) {
      b.push_back(table_[i].value);
      if (i + 1 < table_.size()) b.push_back(Midpoint(table_[i], table_[i + 1]));
    }
    if (!IsIntegerDefinition(def_)) {
      const double lo_w = WideBelowMinNormal();
      for (double s : {-1.0, 1.0}) {
        b.push_back(s * lo_w);
        b.push_back(s * (lo_w + min_normal_) / 2);
      }
    }
    std::sort(b.begin(), b.end());
    b.erase(std::unique(b.begin(), b.end()), b.end());
    return b;
  }

  // Round as runs over all 2^32 keys, so a sweep can compare the core with
  // the reference at the cost of a key comparison per input. Every finite
  // run between breakpoints is evaluated at both ends and must agree (that
  // would fail loudly if Breakpoints missed a point where Round changes);
  // the CI sweep also checks these pieces against Round on its samples.
  std::vector<Piece> Pieces() const {
    std::vector<Piece> pieces;
    auto push = [&](uint32_t key, RefResult r) {
      if (pieces.empty() || !(pieces.back().result == r)) pieces.push_back({key, r});
    };
    auto point = [&](uint32_t key) { push(key, Round(F32BitsOfKey(key))); };
    auto run = [&](uint32_t first, uint32_t last) {
      const RefResult r = Round(F32BitsOfKey(first));
      if (!(Round(F32BitsOfKey(last)) == r))
        throw std::logic_error(std::string(def_.name) + ": reference not constant between keys " +
                               std::to_string(first) + " and " + std::to_string(last));
      push(first, r);
    };
    for (uint32_t k = 0; k < kKeyNegInf; ++k) point(k);  // negative NaNs
    point(kKeyNegInf);
    uint32_t cursor = kKeyNegInf + 1;
    for (double b : Breakpoints()) {
      const uint32_t at = FirstKeyWhere(b, /*strictly_above=*/false);
      const uint32_t above = FirstKeyWhere(b, /*strictly_above=*/true);
      if (at > cursor) run(cursor, at - 1);
      for (uint32_t k = std::max(at, cursor); k < above; ++k) point(k);
      cursor = std::max(cursor, above);
    }
    if (cursor < kKeyPosInf) run(cursor, kKeyPosInf - 1);
    for (uint64_t k = kKeyPosInf; k <= 0xFFFFFFFFu; ++k) point(static_cast<uint32_t>(k));
    return pieces;
  }

 private:
  struct Entry {
    double value;
    uint32_t code;
    bool odd;         // the code's last bit
    bool is_virtual;  // one step past the finite range: overflow
    bool clamps = false;  // below zero in an unsigned P3109 format: clamps to +0
  };

  static double Midpoint(const Entry& lo, const Entry& hi) { return (lo.value + hi.value) / 2; }

  void BuildTable() {
    const uint32_t codes = uint32_t{1} << def_.bits;
    for (uint32_t c = 0; c < codes; ++c) {
      const DecodedCode d = DecodeByDefinition(def_, c);
      if (d.cls != CodeClass::kFinite) continue;
      if (d.value == 0 && d.negative) continue;  // -0: same value as +0; sign handled apart
      table_.push_back({d.value, c, (c & 1) != 0, false});
    }
    std::sort(table_.begin(), table_.end(),
              [](const Entry& a, const Entry& b) { return a.value < b.value; });
    for (size_t i = 0; i + 1 < table_.size(); ++i)
      if (!(table_[i].value < table_[i + 1].value))
        throw std::logic_error(std::string(def_.name) + ": two codes with the same value");
    const Entry max = table_.back(), lowest = table_.front();
    max_code_ = max.code;
    lowest_code_ = lowest.code;
    // Far beyond float32: cut the table (see the header comment).
    constexpr double kFar = 0x1p200;
    const bool cut = max.value > kFar;
    if (cut) {
      while (table_.back().value > kFar) table_.pop_back();
      while (table_.front().value < -kFar) table_.erase(table_.begin());
    }
    // The virtual entries.
    if (IsIntegerDefinition(def_)) {
      table_.push_back({max.value + 1, 0, !max.odd, true});
      table_.insert(table_.begin(), {lowest.value - 1, 0, !lowest.odd, true});
    } else {
      const uint32_t sign_bit = HasSignBit(def_) ? uint32_t{1} << (def_.bits - 1) : 0;
      const double past = FormulaValue(def_, (max.code & ~sign_bit) + 1);
      if (!cut) table_.push_back({past, 0, !max.odd, true});
      if (HasSignBit(def_) && !cut) table_.insert(table_.begin(), {-past, 0, !lowest.odd, true});
      if (IsUnsignedP3109(def_)) {
        // The mirror below zero (zero itself is not mirrored).
        std::vector<Entry> below;
        for (auto it = table_.rbegin(); it != table_.rend(); ++it)
          if (it->value > 0) below.push_back({-it->value, 0, it->odd, false, true});
        table_.insert(table_.begin(), below.begin(), below.end());
      }
      // Smallest normal: exponent field 1 (0 in e8m0fnu, which has no zero).
      min_normal_code_ = def_.specials == Specials::kE8m0 ? 0 : uint32_t{1} << def_.mantissa_bits;
      min_normal_ = FormulaValue(def_, min_normal_code_);
    }
    for (size_t i = 0; i + 1 < table_.size(); ++i) {
      const double mid = Midpoint(table_[i], table_[i + 1]);
      if (!(table_[i].value < mid && mid < table_[i + 1].value) ||
          mid - table_[i].value != table_[i + 1].value - mid)
        throw std::logic_error(std::string(def_.name) + ": a midpoint is not exact in double");
      if (table_[i].odd == table_[i + 1].odd)
        throw std::logic_error(std::string(def_.name) + ": neighbours with codes of equal parity");
    }
  }

  uint32_t SignBit() const { return HasSignBit(def_) ? uint32_t{1} << (def_.bits - 1) : 0; }
  uint32_t MagnitudeOnes() const { return (uint32_t{1} << (def_.bits - (HasSignBit(def_) ? 1 : 0))) - 1; }

  bool HasNegativeZero() const {
    return def_.specials == Specials::kIeee || def_.specials == Specials::kOcpE4m3 ||
           def_.specials == Specials::kNone;
  }
  bool HasInf() const {
    return def_.specials == Specials::kIeee || def_.specials == Specials::kP3109 ||
           def_.specials == Specials::kP3109UnsignedExtended;
  }
  bool HasNan() const {
    return def_.specials != Specials::kNone && !IsIntegerDefinition(def_);
  }
  uint32_t InfCode(bool neg) const {
    const uint32_t sign = neg ? SignBit() : 0;
    if (def_.specials == Specials::kIeee)
      return sign | (((uint32_t{1} << def_.exponent_bits) - 1) << def_.mantissa_bits);
    if (def_.specials == Specials::kP3109UnsignedExtended) return MagnitudeOnes() - 1;  // below the NaN
    return sign | MagnitudeOnes();  // P3109 signed
  }
  // The NaN a non-NaN input turns into (no payload to keep).
  uint32_t NanCode(bool neg) const {
    switch (def_.specials) {
      case Specials::kIeee:  // quiet NaN: field all ones, leading fraction bit set
        return (neg ? SignBit() : 0) | InfCode(false) | (uint32_t{1} << (def_.mantissa_bits - 1));
      case Specials::kOcpE4m3: return (neg ? SignBit() : 0) | MagnitudeOnes();
      case Specials::kFnuz:
      case Specials::kP3109:
      case Specials::kP3109SignedFinite: return SignBit();
      case Specials::kP3109UnsignedExtended:
      case Specials::kP3109UnsignedFinite: return MagnitudeOnes();
      case Specials::kE8m0: return 0xFF;
      default: throw std::logic_error("no NaN");
    }
  }
  RefResult MaxFinite(bool neg, uint8_t flags) const { return {neg ? lowest_code_ : max_code_, flags}; }

  RefResult RoundNan(bool neg, uint32_t fraction) const {
    const uint8_t flags = (fraction & 0x400000) ? 0 : kRefInvalid;  // signaling: quiet bit clear
    if (!HasNan()) return {0, kRefInvalid};
    if (def_.specials == Specials::kIeee) {
      const int m = def_.mantissa_bits;
      const uint32_t payload = (fraction >> (23 - m)) | (uint32_t{1} << (m - 1));
      return {(neg ? SignBit() : 0) | InfCode(false) | payload, flags};
    }
    return {NanCode(neg), flags};
  }

  RefResult RoundInf(bool neg) const {
    if (IsIntegerDefinition(def_)) return {neg ? lowest_code_ : max_code_, kRefInvalid};
    if (neg && IsUnsignedP3109(def_)) return {0, kRefInvalid};
    if (neg && !HasSignBit(def_)) return {NanCode(false), kRefInvalid};
    if (saturate_ || !HasNan()) return MaxFinite(neg, kRefOverflow | kRefInexact);
    if (HasInf()) return {InfCode(neg), 0};
    return {NanCode(neg), kRefInvalid};
  }

  RefResult RoundZero(bool neg) const {
    if (def_.specials == Specials::kE8m0) return {NanCode(false), kRefInvalid};
    return {neg && HasNegativeZero() ? SignBit() : 0, 0};
  }

  RefResult Overflowed(bool neg) const {
    if (IsIntegerDefinition(def_)) return {neg ? lowest_code_ : max_code_, kRefInvalid};
    const uint8_t flags = kRefOverflow | kRefInexact;
    const bool away = mode_ == Rounding::kNearestEven || mode_ == Rounding::kNearestAway ||
                      (mode_ == Rounding::kUp && !neg) || (mode_ == Rounding::kDown && neg);
    if (saturate_ || !away) return MaxFinite(neg, flags);
    if (HasInf()) return {InfCode(neg), flags};
    if (HasNan()) return {NanCode(neg), flags};
    return MaxFinite(neg, flags);
  }

  // Does the mode pick `hi` for lo.value < v < hi.value?
  bool PicksUpper(double v, const Entry& lo, const Entry& hi) const {
    switch (mode_) {
      case Rounding::kDown: return false;
      case Rounding::kUp: return true;
      case Rounding::kTowardZero: return std::fabs(hi.value) < std::fabs(lo.value);
      case Rounding::kOdd: return hi.odd;
      case Rounding::kNearestEven:
      case Rounding::kNearestAway: {
        const double mid = Midpoint(lo, hi);
        if (v != mid) return v > mid;
        if (mode_ == Rounding::kNearestEven) return !hi.odd;
        return std::fabs(hi.value) > std::fabs(lo.value);
      }
      default: throw std::logic_error("stochastic mode");
    }
  }

  // The value just below min normal on the grid with an unbounded exponent
  // range: min normal minus half its ulp (one binade down). Its code would
  // be min normal's code - 1.
  double WideBelowMinNormal() const {
    return min_normal_ - std::ldexp(min_normal_, -(def_.mantissa_bits + 1));
  }

  // Tininess after rounding (floats only).
  bool IsTiny(double v) const {
    const double a = std::fabs(v);
    if (a >= min_normal_) return false;
    const double lo_w = WideBelowMinNormal();
    if (a <= lo_w) return true;
    const bool n_odd = (min_normal_code_ & 1) != 0;
    if (v > 0) return !PicksUpper(v, Entry{lo_w, 0, !n_odd, false}, Entry{min_normal_, 0, n_odd, false});
    return PicksUpper(v, Entry{-min_normal_, 0, n_odd, false}, Entry{-lo_w, 0, !n_odd, false});
  }

  RefResult RoundFinite(double v) const {
    const bool neg = v < 0;
    if (def_.specials == Specials::kE8m0) {
      if (neg) return {NanCode(false), kRefInvalid};
      if (v < table_.front().value)  // below 2^-127: nothing smaller to go to
        return {table_.front().code, static_cast<uint8_t>(kRefInexact | (IsTiny(v) ? kRefUnderflow : 0))};
    }
    if (IsUnsignedP3109(def_) && v < table_.front().value) return {0, kRefInvalid};
    if (v < table_.front().value || v > table_.back().value) return Overflowed(neg);
    const auto hi = std::lower_bound(table_.begin(), table_.end(), v,
                                     [](const Entry& e, double x) { return e.value < x; });
    if (hi->value == v) {
      if (hi->clamps) return {0, kRefInvalid};
      return hi->is_virtual ? Overflowed(neg) : RefResult{hi->code, 0};
    }
    const auto lo = hi - 1;
    const Entry& pick = PicksUpper(v, *lo, *hi) ? *hi : *lo;
    if (pick.clamps) return {0, kRefInvalid};
    if (pick.is_virtual) return Overflowed(neg);
    if (IsIntegerDefinition(def_)) return {pick.code, kRefInexact};
    const uint8_t flags = kRefInexact | (IsTiny(v) ? kRefUnderflow : 0);
    if (pick.value == 0 && neg && HasNegativeZero()) return {SignBit(), flags};
    return {pick.code, flags};
  }

  FormatDefinition def_;
  Rounding mode_;
  bool saturate_;
  std::vector<Entry> table_;  // ascending; virtual entries at the ends
  uint32_t max_code_ = 0, lowest_code_ = 0;
  uint32_t min_normal_code_ = 0;
  double min_normal_ = 0;
};

}  // namespace floatscope::sweep
