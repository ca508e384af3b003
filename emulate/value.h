// floatscope::value<F, R>: a scalar of format F whose every operation is
// correctly rounded into F with rounding mode R, through emulate/arith.h
// (and so through the one RoundPack). Use it where code is written for a
// floating-point type: value<formats::kBf16> in an Eigen matrix gives an
// LU factorization done entirely in bfloat16, each multiply and add
// rounded to bfloat16 as hardware without a wider accumulator would.
//
//   using half = floatscope::value<floatscope::formats::kF16>;
//   half a = 0.1, b = 3;                 // conversions round once, into F
//   half c = a * b + half(1);            // two roundings (mul, then add)
//   half d = fma(a, b, half(1));         // one rounding
//   double x = static_cast<double>(c);   // exact: every value is a double
//
// What it is not: flags are dropped (call emulate/arith.h for them); the
// stochastic modes are refused at compile time, because their random bits
// are keyed by an element index that a scalar does not have (use
// emulate/arith.h with explicit indices); the overflow policy and NaN
// rules are the format's defaults (Options{}).
//
// Construction from a number rounds it into F once (integers through
// double: exact up to 2^53). Comparisons compare the exact values (NaN is
// unordered, -0 == +0). Negation is IEEE 754's negate: exact, the sign
// flipped (a format without -0 keeps +0; NaNs stay NaN).
//
// Eigen: including <Eigen/Core> before this header (or defining
// FLOATSCOPE_VALUE_EIGEN) adds Eigen::NumTraits for value<F, R>.
//
// The order of a matrix product's operations (Eigen 3.4, checked by
// tests/arith/value_test.cc). a.lazyProduct(b), and a * b wherever Eigen
// picks its coefficient-based product (dynamic sizes with rows + cols +
// depth < 20, and small fixed sizes), computes each element as
//
//   c(i, j) = ((p_0 + p_1) + p_2) + ... + p_{K-1},   p_l = a(i, l) * b(l, j)
//
// every product and every sum rounded into F (emulate/dot.h's kSequential
// with `acc` = F, the first term taken as it is). One exception: when
// Eigen unrolls a fixed-size sum completely (depth <= 3 with the costs
// below) it sums by halving, p_0 + (p_1 + p_2) for a depth of 3. Larger
// products (a * b with rows + cols + depth >= 20) go through Eigen's
// blocked GEMM kernel, whose order is Eigen's internal affair and differs
// from the left fold for some elements: use lazyProduct where the order
// matters.
#pragma once

#include <cstdint>
#include <limits>
#include <ostream>
#include <type_traits>

#include "emulate/arith.h"
#include "formats/catalog.h"
#include "formats/convert.h"

namespace floatscope {

template <const Format& F, Rounding R = Rounding::kNearestEven>
class value {
  static_assert(IsFloat(F), "value<F> needs a floating-point format");
  static_assert(!IsStochastic(R), "stochastic rounding needs element indices: use emulate/arith.h");

 public:
  static constexpr const Format& format() { return F; }
  static constexpr Rounding rounding = R;

  // +0 (in e8m0fnu, which has no zero, the conversion of 0 gives NaN).
  constexpr value() : code_(Encode(0.0)) {}
  template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>>
  constexpr value(T x) : code_(Encode(static_cast<double>(x))) {}  // NOLINT: implicit, as float is

  static constexpr value FromCode(uint64_t code) {
    value v;
    v.code_ = code & CodeMask(F);
    return v;
  }
  constexpr uint64_t code() const { return code_; }
  constexpr double to_double() const { return DecodeToF64(F, code_); }
  explicit constexpr operator double() const { return to_double(); }
  explicit constexpr operator float() const { return static_cast<float>(to_double()); }

  friend constexpr value operator+(value a, value b) { return FromCode(Add(F, a.code_, b.code_, Opt()).code); }
  friend constexpr value operator-(value a, value b) { return FromCode(Sub(F, a.code_, b.code_, Opt()).code); }
  friend constexpr value operator*(value a, value b) { return FromCode(Mul(F, a.code_, b.code_, Opt()).code); }
  friend constexpr value operator/(value a, value b) { return FromCode(Div(F, a.code_, b.code_, Opt()).code); }
  constexpr value& operator+=(value b) { return *this = *this + b; }
  constexpr value& operator-=(value b) { return *this = *this - b; }
  constexpr value& operator*=(value b) { return *this = *this * b; }
  constexpr value& operator/=(value b) { return *this = *this / b; }
  constexpr value operator+() const { return *this; }
  constexpr value operator-() const {
    Unpacked u = Unpack(F, code_);
    u.sign = !u.sign;
    return FromCode(RoundPack(F, u, Opt(), 0).code);  // exact: the same magnitude
  }

  friend constexpr bool operator==(value a, value b) { return a.to_double() == b.to_double(); }
  friend constexpr bool operator!=(value a, value b) { return !(a == b); }
  friend constexpr bool operator<(value a, value b) { return a.to_double() < b.to_double(); }
  friend constexpr bool operator>(value a, value b) { return b < a; }
  friend constexpr bool operator<=(value a, value b) { return a.to_double() <= b.to_double(); }
  friend constexpr bool operator>=(value a, value b) { return b <= a; }

  friend constexpr value sqrt(value a) { return FromCode(Sqrt(F, a.code_, Opt()).code); }
  friend constexpr value fma(value a, value b, value c) {
    return FromCode(MulAdd(F, a.code_, b.code_, c.code_, Opt()).code);
  }
  friend constexpr value abs(value a) { return a < value(0) ? -a : a; }
  friend constexpr bool isnan(value a) { return IsNanCode(F, a.code_); }
  friend constexpr bool isinf(value a) { return IsInfCode(F, a.code_); }
  friend constexpr bool isfinite(value a) { return !isnan(a) && !isinf(a); }

  friend std::ostream& operator<<(std::ostream& os, value a) { return os << a.to_double(); }

  // Limits, for NumTraits and numeric_limits.
  static constexpr value max() { return FromCode(MaxFiniteMagnitude(F)); }
  // The most negative value (unsigned formats: the smallest one).
  static constexpr value lowest() { return F.is_signed ? -max() : FromCode(0); }
  static constexpr value epsilon() { return value(Epsilon(F)); }
  static constexpr value min_normal() { return value(MinNormal(F)); }

 private:
  static constexpr Options Opt() {
    Options o;
    o.rounding = R;
    return o;
  }
  static constexpr uint64_t Encode(double x) { return EncodeFromF64(F, x, Opt()).code; }

  uint64_t code_;
};

}  // namespace floatscope

// std::numeric_limits, so generic code (and Eigen's defaults) see the format.
template <const floatscope::Format& F, floatscope::Rounding R>
class std::numeric_limits<floatscope::value<F, R>> {
  using V = floatscope::value<F, R>;

 public:
  static constexpr bool is_specialized = true;
  static constexpr bool is_signed = F.is_signed;
  static constexpr bool is_integer = false;
  static constexpr bool is_exact = false;
  static constexpr bool has_infinity = floatscope::HasInf(F);
  static constexpr bool has_quiet_NaN = floatscope::HasNan(F);
  static constexpr bool has_signaling_NaN = F.nan == floatscope::NanCodes::kIeee;
  static constexpr int radix = 2;
  static constexpr int digits = F.mantissa_bits + 1;
  // floor((p - 1) log10 2), as std::numeric_limits<float> (6) and double (15).
  static constexpr int digits10 = (F.mantissa_bits * 30103) / 100000;
  static constexpr int max_digits10 = 2 + (digits * 30103) / 100000;
  static constexpr int min_exponent = floatscope::MinNormalExponent(F) + 1;
  static constexpr int max_exponent =
      static_cast<int>(floatscope::MaxFiniteMagnitude(F) >> F.mantissa_bits) - F.bias + 1;
  static constexpr V min() { return V::min_normal(); }
  static constexpr V max() { return V::max(); }
  static constexpr V lowest() { return V::lowest(); }
  static constexpr V epsilon() { return V::epsilon(); }
  static constexpr V round_error() { return V(0.5); }
  static constexpr V infinity() { return V::FromCode(floatscope::PositiveInfCode(F)); }
  static constexpr V quiet_NaN() { return V::FromCode(floatscope::CanonicalNanCode(F)); }
  static constexpr V denorm_min() { return V(floatscope::MinPositive(F)); }
};

#if defined(EIGEN_CORE_H) || defined(FLOATSCOPE_VALUE_EIGEN)
#include <Eigen/Core>

namespace Eigen {

// Eigen sees value<F, R> as a real scalar type: its decompositions and
// products then run with every operation rounded into F.
template <const floatscope::Format& F, floatscope::Rounding R>
struct NumTraits<floatscope::value<F, R>> : GenericNumTraits<floatscope::value<F, R>> {
  using V = floatscope::value<F, R>;
  using Real = V;
  using NonInteger = V;
  using Literal = V;
  using Nested = V;
  enum {
    IsComplex = 0,
    IsInteger = 0,
    IsSigned = 1,
    RequireInitialization = 0,
    ReadCost = 1,
    AddCost = 20,  // a software operation: tens of instructions
    MulCost = 20,
  };
  static V epsilon() { return V::epsilon(); }
  // The tolerance Eigen's iterative algorithms use: a few ulps at 1.
  static V dummy_precision() { return V(8 * floatscope::Epsilon(F)); }
  static V highest() { return V::max(); }
  static V lowest() { return V::lowest(); }
  static int digits10() { return std::numeric_limits<V>::digits10; }
  static int digits() { return std::numeric_limits<V>::digits; }
  static V infinity() { return std::numeric_limits<V>::infinity(); }
  static V quiet_NaN() { return std::numeric_limits<V>::quiet_NaN(); }
};

}  // namespace Eigen
#endif
