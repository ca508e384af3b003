// Correctly rounded arithmetic on codes of one floating-point format:
// Add, Sub, Mul, Div, Sqrt and MulAdd (fused a*b+c), for every named float
// format and custom spec (up to f64), every rounding mode of the core, with
// TestFloat's flags.
//
// "Correctly rounded" means: the exact real result, rounded once. Each
// operation below computes its exact result with integers (unsigned
// __int128), as a significand `sig`, an exponent and a sticky bit, and hands
// it to the one rounding routine, RoundPack/RoundPackFinite of
// formats/round_pack.h. Nothing here rounds, and no host floating-point
// operation is used, so there is no double rounding.
//
// The sticky contract. RoundPackFinite(sig, exp, sticky) reads sticky as
// "the true value lies strictly between sig*2^exp and (sig+1)*2^exp". That
// decides every deterministic rounding exactly when the last bit of sig is
// at least one place below the rounding position, i.e. when sig has at
// least p+1 significant bits (p = mantissa_bits + 1 <= 53): then no
// rounding boundary (a multiple of half the quantum, also for the tininess
// test) falls strictly inside that interval. Every op below gives a sticky
// result only with a significand of 63 bits or more, and Finish() keeps the
// top 64 bits. Stochastic rounding compares the top sr_bits (R) of the
// discarded fraction, which are exact when p + R <= 63: all formats up to
// f32 with R = 32. For wider formats (f64) the R compared bits are the
// (at least 10) exact ones followed by zeros, since RoundPackFinite takes a
// 64-bit significand (see docs/SEMANTICS.md).
//
// Why each op is exact:
//   Mul     sigA * sigB: two significands of at most 53 bits give at most
//           106 bits, held exactly in 128. Exponents add. Never sticky.
//   Add/Sub AddExact (also the last step of MulAdd): each addend has at most
//           106 significant bits. Both are shifted left so their leading bit
//           is bit 125; their low 20 bits are then zero. The one with the
//           smaller exponent is shifted right by the exponent difference d.
//           For d <= 20 only zero bits fall off: the sum or difference is
//           exact. For d > 20 the fallen-off bits make a fraction f in
//           [0, 1) of the last bit, nonzero iff sticky: X + (Y' + f) is
//           sig = X + Y' with sticky, and X - (Y' + f) = (X - Y' - 1) +
//           (1 - f) is sig = X - Y' - 1 with sticky (X >= 2^125 > Y' + 1, so
//           the result keeps at least 125 bits). The sum stays below 2^127.
//   MulAdd  the exact 106-bit product, then AddExact with c: one rounding.
//   Div     both significands normalized to [2^63, 2^64); the 128-by-64
//           division floor(sigA * 2^63 / sigB) has 63 or 64 bits, and the
//           remainder is nonzero exactly when the quotient is inexact: that
//           is the sticky bit (the true quotient lies strictly between q and
//           q + 1).
//   Sqrt    the significand is shifted left to 125 or 126 bits, by an amount
//           that makes the exponent even; the integer square root r (digit
//           by digit) then has 63 bits, and the remainder N - r^2 is nonzero
//           exactly when sqrt(N) is irrational, i.e. strictly between r and
//           r + 1: that is the sticky bit.
//
// Special operands and flags (IEEE 754-2019 sections 6, 7):
//   - invalid (16): inf - inf (effective subtraction of infinities), 0 * inf,
//     0 / 0, inf / inf, sqrt of a negative nonzero value, MulAdd with
//     0 * inf (also when c is a quiet NaN: IEEE 754 7.2(c) leaves that open;
//     SoftFloat, TestFloat's reference, signals, x86 FMA does not), and any
//     signaling NaN operand. The result is the format's default NaN: the
//     core's encoding of a positive quiet NaN without payload (the canonical
//     NaN; CUDA's all-ones NaN under NanPayload::kAllOnes). A format without
//     NaN gives the core's replacement (NanToNoNan: +0 by default).
//   - NaN operands: the first NaN in operand order (a, b, c) is the result,
//     encoded by the core's NaN rules (quiet bit set, payload kept under
//     kPreserve, dropped under kCanonical).
//   - infinite (8): a finite nonzero value divided by zero gives an exact
//     infinity. A result that is an exact infinity (also inf + x, inf * x,
//     sqrt(+inf)) is encoded as the core encodes an infinity: kept where the
//     format has one; otherwise NaN with invalid (overflow ieee/nan), or
//     +-max finite with overflow and inexact (saturate, or no NaN either).
//   - exact zero results (IEEE 754 6.3): x * y and x / y have the sign
//     sign(x) XOR sign(y); a sum of two zeros of the same sign keeps it; any
//     other exact zero sum or difference (x - x, (+0) + (-0), MulAdd whose
//     a*b and c cancel) is +0, except -0 when rounding toward -inf (rdn).
//     sqrt(-0) = -0. Formats without -0 (fnuz, P3109) give +0, e8m0fnu
//     (no zero) gives NaN, as the core encodes zeros.
//   - subnormal operands read as zero under flush_input (DAZ); flush_output,
//     overflow, underflow and tininess are the core's.
//
// The *ExactOperands functions take the operands as exact values (Unpacked,
// of any formats up to f64) and round into `f`: mixed-format arithmetic
// (emulate/dot.h). Integer formats are not arithmetic formats here: the
// functions expect IsFloat(f). Operands must be codes of `f` (bits above
// f.bits are ignored). `index` keys stochastic rounding as for conversions.
#pragma once

#include <cstdint>

#include "formats/format.h"
#include "formats/policy.h"
#include "formats/round_pack.h"

namespace floatscope {

enum class ArithOp : uint8_t { kAdd, kSub, kMul, kDiv, kSqrt, kMulAdd };

// TestFloat's name of an op (the suffix in f16_mulAdd).
FS_HD constexpr const char* ArithOpName(ArithOp op) {
  switch (op) {
    case ArithOp::kAdd: return "add";
    case ArithOp::kSub: return "sub";
    case ArithOp::kMul: return "mul";
    case ArithOp::kDiv: return "div";
    case ArithOp::kSqrt: return "sqrt";
    case ArithOp::kMulAdd: return "mulAdd";
  }
  return "?";
}

FS_HD constexpr int OperandCount(ArithOp op) {
  return op == ArithOp::kSqrt ? 1 : op == ArithOp::kMulAdd ? 3 : 2;
}

namespace detail {

__extension__ typedef unsigned __int128 ArithU128;

FS_HD constexpr int BitLength128(ArithU128 x) {
  const uint64_t hi = static_cast<uint64_t>(x >> 64);
  return hi ? 64 + BitLength(hi) : BitLength(static_cast<uint64_t>(x));
}

// An exact result on its way to the core: (-1)^sign * (sig + f) * 2^exp with
// 0 < f < 1 when sticky, f = 0 otherwise (finite class only).
struct WideValue {
  Class cls = Class::kZero;
  bool sign = false;
  int32_t exp = 0;
  ArithU128 sig = 0;
  bool sticky = false;
};

// The result of an op: the exact value, or a NaN operand to pass on, or the
// default NaN, plus the flags raised by the operation itself (invalid,
// infinite).
struct Outcome {
  WideValue value;
  const Unpacked* nan_operand = nullptr;
  bool default_nan = false;
  uint8_t flags = 0;
};

FS_HD constexpr WideValue FromUnpacked(const Unpacked& u) {
  WideValue w;
  w.cls = u.cls;
  w.sign = u.sign;
  w.exp = u.exp;
  w.sig = u.sig;
  return w;
}

// Keeps the top 64 bits of an exact value (the rest goes into sticky), then
// lets the core round and encode it.
FS_HD constexpr Result Finish(const Format& f, const Outcome& o, const Options& opt,
                              uint64_t index) {
  Unpacked u;
  if (o.nan_operand) {
    u = *o.nan_operand;
  } else if (o.default_nan) {
    u.cls = Class::kNan;  // positive, quiet, no payload
  } else {
    const WideValue& w = o.value;
    u.cls = w.cls;
    u.sign = w.sign;
    if (w.cls == Class::kFinite) {
      ArithU128 sig = w.sig;
      int32_t exp = w.exp;
      bool sticky = w.sticky;
      const int bl = BitLength128(sig);
      if (bl > 64) {
        const int s = bl - 64;
        sticky = sticky || (sig & ((ArithU128{1} << s) - 1)) != 0;
        sig >>= s;
        exp += s;
      }
      u.sig = static_cast<uint64_t>(sig);
      u.exp = exp;
      u.sticky = sticky;
    }
  }
  Result r = RoundPack(f, u, opt, index);
  r.flags = static_cast<uint8_t>(r.flags | o.flags);
  return r;
}

// The sign of an exact zero sum whose addends had signs sa and sb (6.3).
FS_HD constexpr bool ZeroSumSign(bool sa, bool sb, Rounding mode) {
  return sa == sb ? sa : mode == Rounding::kDown;
}

// x + y for finite nonzero x, y whose significands have at most 106 bits.
FS_HD constexpr WideValue AddExact(WideValue x, WideValue y, Rounding mode) {
  // Leading bits at 125: the low 20 bits of both are zero.
  const int kx = 126 - BitLength128(x.sig), ky = 126 - BitLength128(y.sig);
  x.sig <<= kx;
  x.exp -= kx;
  y.sig <<= ky;
  y.exp -= ky;
  if (y.exp > x.exp || (y.exp == x.exp && y.sig > x.sig)) {
    const WideValue t = x;
    x = y;
    y = t;
  }
  // |x| >= |y| now.
  const int64_t d = int64_t{x.exp} - y.exp;
  ArithU128 yd = 0;
  bool sticky = false;
  if (d < 128) {
    yd = y.sig >> d;
    sticky = d > 0 && (y.sig & ((ArithU128{1} << d) - 1)) != 0;
  } else {
    sticky = true;  // y.sig != 0
  }
  WideValue r;
  r.cls = Class::kFinite;
  r.sign = x.sign;
  r.exp = x.exp;
  r.sticky = sticky;
  if (x.sign == y.sign) {
    r.sig = x.sig + yd;
  } else if (sticky) {
    r.sig = x.sig - yd - 1;
  } else {
    r.sig = x.sig - yd;
    if (r.sig == 0) {
      r.cls = Class::kZero;
      r.sign = ZeroSumSign(x.sign, y.sign, mode);
    }
  }
  return r;
}

// x + y for any classes; both not NaN.
FS_HD constexpr Outcome AddValues(const WideValue& x, const WideValue& y, Rounding mode) {
  Outcome o;
  if (x.cls == Class::kInf || y.cls == Class::kInf) {
    if (x.cls == Class::kInf && y.cls == Class::kInf && x.sign != y.sign) {
      o.default_nan = true;
      o.flags = kInvalid;
      return o;
    }
    o.value = x.cls == Class::kInf ? x : y;
    return o;
  }
  if (x.cls == Class::kZero && y.cls == Class::kZero) {
    o.value.cls = Class::kZero;
    o.value.sign = ZeroSumSign(x.sign, y.sign, mode);
    return o;
  }
  if (x.cls == Class::kZero) { o.value = y; return o; }
  if (y.cls == Class::kZero) { o.value = x; return o; }
  o.value = AddExact(x, y, mode);
  return o;
}

FS_HD constexpr WideValue MulValues(const WideValue& x, const WideValue& y) {
  WideValue r;
  r.sign = x.sign != y.sign;
  if (x.cls == Class::kInf || y.cls == Class::kInf) {
    r.cls = Class::kInf;
  } else if (x.cls == Class::kZero || y.cls == Class::kZero) {
    r.cls = Class::kZero;
  } else {
    r.cls = Class::kFinite;
    r.sig = x.sig * y.sig;  // <= 53 + 53 bits
    r.exp = x.exp + y.exp;
  }
  return r;
}

FS_HD constexpr bool IsZeroTimesInf(const Unpacked& a, const Unpacked& b) {
  return (a.cls == Class::kZero && b.cls == Class::kInf) ||
         (a.cls == Class::kInf && b.cls == Class::kZero);
}

// NaN operands: the first one is the result; a signaling one anywhere
// raises invalid. Returns false when there is none.
FS_HD constexpr bool PropagateNan(const Unpacked* const* xs, int n, Outcome* o) {
  const Unpacked* first = nullptr;
  for (int i = 0; i < n; ++i) {
    if (xs[i]->cls != Class::kNan) continue;
    if (!first) first = xs[i];
    if (xs[i]->signaling) o->flags |= kInvalid;
  }
  o->nan_operand = first;
  return first != nullptr;
}

// floor(sqrt(n)) and whether the remainder n - root^2 is nonzero.
FS_HD constexpr uint64_t IntegerSqrt(ArithU128 n, bool* inexact) {
  ArithU128 root = 0, bit = ArithU128{1} << 126;
  while (bit > n) bit >>= 2;
  while (bit != 0) {
    if (n >= root + bit) {
      n -= root + bit;
      root = (root >> 1) + bit;
    } else {
      root >>= 1;
    }
    bit >>= 2;
  }
  *inexact = n != 0;
  return static_cast<uint64_t>(root);
}

}  // namespace detail

// ---- operations on exact operands ----------------------------------------
// The operands are exact values (Unpack of codes of any formats up to f64:
// significands of at most 53 bits, no sticky); the result is rounded into
// `f`. Mixed
// formats (e4m3fn products accumulated in f32, emulate/dot.h) use these.

FS_HD constexpr Result AddExactOperands(const Format& f, const Unpacked& ua, const Unpacked& ub,
                                        const Options& opt = {}, uint64_t index = 0) {
  detail::Outcome o;
  const Unpacked* xs[] = {&ua, &ub};
  if (!detail::PropagateNan(xs, 2, &o))
    o = detail::AddValues(detail::FromUnpacked(ua), detail::FromUnpacked(ub), opt.rounding);
  return detail::Finish(f, o, opt, index);
}

FS_HD constexpr Result SubExactOperands(const Format& f, const Unpacked& ua, const Unpacked& ub,
                                        const Options& opt = {}, uint64_t index = 0) {
  detail::Outcome o;
  const Unpacked* xs[] = {&ua, &ub};
  if (!detail::PropagateNan(xs, 2, &o)) {
    detail::WideValue nb = detail::FromUnpacked(ub);
    nb.sign = !nb.sign;
    o = detail::AddValues(detail::FromUnpacked(ua), nb, opt.rounding);
  }
  return detail::Finish(f, o, opt, index);
}

FS_HD constexpr Result MulExactOperands(const Format& f, const Unpacked& ua, const Unpacked& ub,
                                        const Options& opt = {}, uint64_t index = 0) {
  detail::Outcome o;
  const Unpacked* xs[] = {&ua, &ub};
  if (!detail::PropagateNan(xs, 2, &o)) {
    if (detail::IsZeroTimesInf(ua, ub)) {
      o.default_nan = true;
      o.flags = kInvalid;
    } else {
      o.value = detail::MulValues(detail::FromUnpacked(ua), detail::FromUnpacked(ub));
    }
  }
  return detail::Finish(f, o, opt, index);
}

FS_HD constexpr Result DivExactOperands(const Format& f, const Unpacked& ua, const Unpacked& ub,
                                        const Options& opt = {}, uint64_t index = 0) {
  detail::Outcome o;
  const Unpacked* xs[] = {&ua, &ub};
  if (!detail::PropagateNan(xs, 2, &o)) {
    detail::WideValue& r = o.value;
    r.sign = ua.sign != ub.sign;
    if ((ua.cls == Class::kInf && ub.cls == Class::kInf) ||
        (ua.cls == Class::kZero && ub.cls == Class::kZero)) {
      o.default_nan = true;
      o.flags = kInvalid;
    } else if (ua.cls == Class::kInf) {
      r.cls = Class::kInf;
    } else if (ub.cls == Class::kInf || ua.cls == Class::kZero) {
      r.cls = Class::kZero;
    } else if (ub.cls == Class::kZero) {
      r.cls = Class::kInf;  // finite nonzero / 0: an exact infinity
      o.flags = kInfinite;
    } else {
      // Significands to [2^63, 2^64); the quotient then has 63 or 64 bits.
      const int la = detail::CountLeadingZeros64(ua.sig), lb = detail::CountLeadingZeros64(ub.sig);
      const uint64_t sa = ua.sig << la, sb = ub.sig << lb;
      const detail::ArithU128 n = detail::ArithU128{sa} << 63;
      r.cls = Class::kFinite;
      r.sig = n / sb;
      r.sticky = n % sb != 0;
      r.exp = (ua.exp - la) - (ub.exp - lb) - 63;
    }
  }
  return detail::Finish(f, o, opt, index);
}

FS_HD constexpr Result SqrtExactOperand(const Format& f, const Unpacked& ua, const Options& opt = {},
                                        uint64_t index = 0) {
  detail::Outcome o;
  const Unpacked* xs[] = {&ua};
  if (!detail::PropagateNan(xs, 1, &o)) {
    detail::WideValue& r = o.value;
    r.sign = ua.sign;
    if (ua.cls == Class::kZero) {
      r.cls = Class::kZero;  // sqrt(-0) = -0
    } else if (ua.sign) {
      o.default_nan = true;  // negative nonzero, -inf included
      o.flags = kInvalid;
    } else if (ua.cls == Class::kInf) {
      r.cls = Class::kInf;
    } else {
      // N = sig * 2^k with 125 or 126 bits and exp - k even.
      int k = 126 - detail::BitLength(ua.sig);
      if (((ua.exp - k) & 1) != 0) --k;
      bool inexact = false;
      r.cls = Class::kFinite;
      r.sig = detail::IntegerSqrt(detail::ArithU128{ua.sig} << k, &inexact);
      r.sticky = inexact;
      r.exp = (ua.exp - k) / 2;  // exact: ua.exp - k is even
    }
  }
  return detail::Finish(f, o, opt, index);
}

// a * b + c with one rounding (IEEE 754 fusedMultiplyAdd; TestFloat mulAdd).
FS_HD constexpr Result MulAddExactOperands(const Format& f, const Unpacked& ua, const Unpacked& ub,
                                           const Unpacked& uc, const Options& opt = {},
                                           uint64_t index = 0) {
  detail::Outcome o;
  const Unpacked* xs[] = {&ua, &ub, &uc};
  const bool zero_inf = detail::IsZeroTimesInf(ua, ub);
  if (detail::PropagateNan(xs, 3, &o)) {
    if (zero_inf) o.flags |= kInvalid;  // 0 * inf + qNaN: invalid too
  } else if (zero_inf) {
    o.default_nan = true;
    o.flags = kInvalid;
  } else {
    o = detail::AddValues(detail::MulValues(detail::FromUnpacked(ua), detail::FromUnpacked(ub)),
                          detail::FromUnpacked(uc), opt.rounding);
  }
  return detail::Finish(f, o, opt, index);
}

// ---- operations on codes of one format ---------------------------------------

FS_HD constexpr Result Add(const Format& f, uint64_t a, uint64_t b, const Options& opt = {},
                           uint64_t index = 0) {
  return AddExactOperands(f, Unpack(f, a, opt.flush_input), Unpack(f, b, opt.flush_input), opt, index);
}

FS_HD constexpr Result Sub(const Format& f, uint64_t a, uint64_t b, const Options& opt = {},
                           uint64_t index = 0) {
  return SubExactOperands(f, Unpack(f, a, opt.flush_input), Unpack(f, b, opt.flush_input), opt, index);
}

FS_HD constexpr Result Mul(const Format& f, uint64_t a, uint64_t b, const Options& opt = {},
                           uint64_t index = 0) {
  return MulExactOperands(f, Unpack(f, a, opt.flush_input), Unpack(f, b, opt.flush_input), opt, index);
}

FS_HD constexpr Result Div(const Format& f, uint64_t a, uint64_t b, const Options& opt = {},
                           uint64_t index = 0) {
  return DivExactOperands(f, Unpack(f, a, opt.flush_input), Unpack(f, b, opt.flush_input), opt, index);
}

FS_HD constexpr Result Sqrt(const Format& f, uint64_t a, const Options& opt = {},
                            uint64_t index = 0) {
  return SqrtExactOperand(f, Unpack(f, a, opt.flush_input), opt, index);
}

FS_HD constexpr Result MulAdd(const Format& f, uint64_t a, uint64_t b, uint64_t c,
                              const Options& opt = {}, uint64_t index = 0) {
  return MulAddExactOperands(f, Unpack(f, a, opt.flush_input), Unpack(f, b, opt.flush_input),
                             Unpack(f, c, opt.flush_input), opt, index);
}

// One entry point for tables of ops: x holds OperandCount(op) codes.
FS_HD constexpr Result ApplyArith(ArithOp op, const Format& f, const uint64_t* x,
                                  const Options& opt = {}, uint64_t index = 0) {
  switch (op) {
    case ArithOp::kAdd: return Add(f, x[0], x[1], opt, index);
    case ArithOp::kSub: return Sub(f, x[0], x[1], opt, index);
    case ArithOp::kMul: return Mul(f, x[0], x[1], opt, index);
    case ArithOp::kDiv: return Div(f, x[0], x[1], opt, index);
    case ArithOp::kSqrt: return Sqrt(f, x[0], opt, index);
    case ArithOp::kMulAdd: return MulAdd(f, x[0], x[1], x[2], opt, index);
  }
  return Result{0, kInvalid};
}

}  // namespace floatscope
