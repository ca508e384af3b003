// emulate/dot.h's Dot, written for a GPU thread: the same accumulation
// models, the same order of roundings, the same stochastic-rounding indices
// and the same flags, without heap memory or recursion (a fixed-size long
// accumulator, an explicit stack for the pairwise tree, and two passes over
// each kHardware group instead of a term list). Every rounding is the
// core's, through emulate/arith.h. FS_HD: the host build of this very code
// is tested against emulate/dot.h (tests/cuda/device_ops_host_test.cc), and
// the GPU build against the host (tests/cuda/gpu_kernels_test.cc).
//
// Limits: input codes of at most 32 bits, accumulators up to f64 (the long
// accumulator then needs at most 36 words).
#pragma once

#include <cstdint>

#include "emulate/arith.h"
#include "formats/catalog.h"

namespace floatscope::gpu {

// dot.h's enums, mirrored so this header needs nothing host-only.
enum class DotAccumulation : uint8_t { kSequential, kFused, kPairwise, kBlock, kExact, kHardware };

struct DotParams {
  DotAccumulation accumulation = DotAccumulation::kSequential;
  uint32_t block = 16;
  uint32_t group = 4;
  uint32_t fraction_bits = 24;
  bool include_accumulator = true;
  uint32_t promote_every = 0;
};

namespace dot_detail {

using detail::ArithU128;

FS_HD constexpr int32_t LowestBit(const Format& f) { return MinNormalExponent(f) - f.mantissa_bits; }
FS_HD constexpr int32_t TopBit(const Format& f) {
  return static_cast<int32_t>(MaxFiniteMagnitude(f) >> f.mantissa_bits) - f.bias + 1;
}

inline constexpr int kMaxWords = 36;

// dot.h's LongAccumulator with a fixed capacity.
struct LongAcc {
  int32_t lsb = 0;
  int words = 0;
  uint64_t w[kMaxWords] = {};

  FS_HD constexpr void Init(int32_t lsb_, int32_t top_bits) {
    lsb = lsb_;
    words = (top_bits - lsb_) / 64 + 3;
    if (words > kMaxWords) words = kMaxWords;  // callers check DotFits first
    for (int i = 0; i < words; ++i) w[i] = 0;
  }

  FS_HD constexpr void Add(bool negative, ArithU128 sig, int32_t exp) {
    const int32_t shift = exp - lsb;
    const int wi = shift / 64;
    const int b = shift % 64;
    const uint64_t lo = static_cast<uint64_t>(sig), hi = static_cast<uint64_t>(sig >> 64);
    const uint64_t parts[3] = {lo << b, b ? (hi << b) | (lo >> (64 - b)) : hi, b ? hi >> (64 - b) : 0};
    if (!negative) {
      uint64_t carry = 0;
      for (int i = wi; i < words; ++i) {
        const uint64_t add = i - wi < 3 ? parts[i - wi] : 0;
        if (add == 0 && carry == 0 && i - wi >= 3) break;
        const uint64_t s1 = w[i] + add;
        const uint64_t c1 = s1 < add;
        const uint64_t s2 = s1 + carry;
        carry = c1 | (s2 < s1);
        w[i] = s2;
      }
    } else {
      uint64_t borrow = 0;
      for (int i = wi; i < words; ++i) {
        const uint64_t sub = i - wi < 3 ? parts[i - wi] : 0;
        if (sub == 0 && borrow == 0 && i - wi >= 3) break;
        const uint64_t d1 = w[i] - sub;
        const uint64_t b1 = w[i] < sub;
        const uint64_t d2 = d1 - borrow;
        borrow = b1 | (d1 < borrow);
        w[i] = d2;
      }
    }
  }

  FS_HD constexpr bool IsZero() const {
    for (int i = 0; i < words; ++i)
      if (w[i]) return false;
    return true;
  }

  FS_HD constexpr Unpacked ToUnpacked(bool zero_sign) const {
    Unpacked u;
    if (IsZero()) {
      u.cls = Class::kZero;
      u.sign = zero_sign;
      return u;
    }
    uint64_t mag[kMaxWords] = {};
    for (int i = 0; i < words; ++i) mag[i] = w[i];
    const bool negative = (mag[words - 1] >> 63) != 0;
    if (negative) {
      uint64_t carry = 1;
      for (int i = 0; i < words; ++i) {
        mag[i] = ~mag[i] + carry;
        carry = carry && mag[i] == 0;
      }
    }
    int top = words - 1;
    while (mag[top] == 0) --top;
    const int bit = 63 - detail::CountLeadingZeros64(mag[top]);
    const int64_t msb = int64_t{top} * 64 + bit;
    const int64_t low = msb - 63;
    uint64_t sig = 0;
    bool sticky = false;
    for (int i = 0; i < words; ++i) {
      const int64_t pos = int64_t{i} * 64;
      const uint64_t x = mag[i];
      if (x == 0) continue;
      if (pos + 63 < low) {
        sticky = true;
        continue;
      }
      const int64_t off = pos - low;
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
    u.exp = static_cast<int32_t>(low) + lsb;
    u.sticky = sticky;
    return u;
  }
};

// dot.h's SpecialSum, holding a copy of the first NaN operand.
struct Special {
  Unpacked nan;
  bool has_nan = false;
  bool invalid = false;
  bool default_nan = false;
  bool pos_inf = false, neg_inf = false;
  bool all_negative_zero = true;

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
  // A product x * y: classes, and the exact finite product if any.
  FS_HD constexpr bool Product(const Unpacked& x, const Unpacked& y) {
    Operand(x);
    Operand(y);
    const bool neg = x.sign != y.sign;
    const bool x_inf = x.cls == Class::kInf, y_inf = y.cls == Class::kInf;
    const bool x_zero = x.cls == Class::kZero, y_zero = y.cls == Class::kZero;
    bool finite = false;
    if ((x_inf && y_zero) || (x_zero && y_inf)) {
      invalid = default_nan = true;
    } else if (x_inf || y_inf) {
      Infinity(neg);
    } else if (x.cls == Class::kFinite && y.cls == Class::kFinite) {
      finite = true;
    }
    Term(x_zero || y_zero, neg);
    return finite;
  }
};

FS_HD constexpr Result RoundGroup(const Format& acc, const Special& sp, const LongAcc& sum, const Options& opt,
                                  uint64_t index) {
  Unpacked u;
  uint8_t op_flags = 0;
  if (sp.has_nan) {
    u = sp.nan;
    if (sp.invalid) op_flags = kInvalid;
  } else if (sp.default_nan || (sp.pos_inf && sp.neg_inf)) {
    u.cls = Class::kNan;
    op_flags = kInvalid;
  } else if (sp.pos_inf || sp.neg_inf) {
    u.cls = Class::kInf;
    u.sign = sp.neg_inf;
  } else {
    const bool zero_sign = sp.all_negative_zero || opt.rounding == Rounding::kDown;
    u = sum.ToUnpacked(zero_sign);
  }
  Result r = RoundPack(acc, u, opt, index);
  r.flags |= op_flags;
  return r;
}

FS_HD constexpr int32_t AccLsb(const Format& in, const Format& acc) {
  const int32_t a = 2 * LowestBit(in), b = LowestBit(acc);
  return a < b ? a : b;
}
FS_HD constexpr int32_t AccTop(const Format& in, const Format& acc) {
  const int32_t a = 2 * TopBit(in), b = TopBit(acc);
  return (a > b ? a : b) + 64;
}

}  // namespace dot_detail

// Whether Dot below can run (in) x (acc): float formats, in of at most 32
// bits, the long accumulator within its fixed capacity, acc with a zero.
FS_HD constexpr bool DotFits(const Format& in, const Format& acc) {
  if (!IsFloat(in) || !IsFloat(acc) || in.bits > 32 || acc.bits > 64 || !acc.has_zero) return false;
  const int32_t words = (dot_detail::AccTop(in, acc) - dot_detail::AccLsb(in, acc)) / 64 + 3;
  return words <= dot_detail::kMaxWords;
}

// dot.h's Dot: sum over i < n of a[i * a_stride] * b[i * b_stride].
template <class Code>
FS_HD constexpr Result Dot(const Format& in, const Code* a, size_t a_stride, const Code* b, size_t b_stride, size_t n,
                           const Format& acc, const DotParams& model, const Options& opt, uint64_t first_index) {
  using dot_detail::ArithU128;
  uint64_t t = first_index;
  uint8_t flags = 0;
  auto A = [&](size_t i) { return Unpack(in, a[i * a_stride], opt.flush_input); };
  auto B = [&](size_t i) { return Unpack(in, b[i * b_stride], opt.flush_input); };
  const Unpacked zero{};
  const uint64_t start_code = RoundPack(acc, zero, opt, 0).code;
  switch (model.accumulation) {
    case DotAccumulation::kSequential:
    case DotAccumulation::kFused: {
      uint64_t code = start_code;
      for (size_t i = 0; i < n; ++i) {
        const Unpacked s = Unpack(acc, code);
        Result r{};
        if (model.accumulation == DotAccumulation::kFused) {
          r = MulAddExactOperands(acc, A(i), B(i), s, opt, t++);
        } else {
          const Result p = MulExactOperands(acc, A(i), B(i), opt, t++);
          flags |= p.flags;
          r = AddExactOperands(acc, s, Unpack(acc, p.code), opt, t++);
        }
        flags |= r.flags;
        code = r.code;
      }
      return Result{code, flags};
    }
    case DotAccumulation::kPairwise: {
      if (n == 0) return Result{start_code, flags};
      // Products use indices first_index + i; the sums, in the post-order of
      // dot.h's recursive tree, first_index + n + 0, 1, ...
      Options sums = opt;
      sums.flush_input = false;
      uint64_t sum_index = first_index + n;
      auto leaf = [&](size_t i) {
        const Result p = MulExactOperands(acc, A(i), B(i), opt, first_index + i);
        flags |= p.flags;
        return p.code;
      };
      struct Frame {
        size_t l, r;
        int state;  // 0: left to do, 1: right to do, 2: add
        uint64_t left;
      };
      Frame stack[66] = {};
      int depth = 0;
      uint64_t value = 0;  // the last finished subtree's sum
      stack[0] = Frame{0, n, 0, 0};
      depth = 1;
      while (depth > 0) {
        Frame& fr = stack[depth - 1];
        if (fr.r - fr.l == 1) {
          value = leaf(fr.l);
          --depth;
          continue;
        }
        const size_t m = fr.l + (fr.r - fr.l) / 2;
        if (fr.state == 0) {
          fr.state = 1;
          stack[depth++] = Frame{fr.l, m, 0, 0};
        } else if (fr.state == 1) {
          fr.left = value;
          fr.state = 2;
          stack[depth++] = Frame{m, fr.r, 0, 0};
        } else {
          const Result s = Add(acc, fr.left, value, sums, sum_index++);
          flags |= s.flags;
          value = s.code;
          --depth;
        }
      }
      return Result{value, flags};
    }
    case DotAccumulation::kBlock:
    case DotAccumulation::kExact: {
      const size_t k = model.accumulation == DotAccumulation::kExact ? (n ? n : 1) : (model.block ? model.block : 1);
      const int32_t lsb = dot_detail::AccLsb(in, acc), top = dot_detail::AccTop(in, acc);
      if (n == 0) return Result{start_code, flags};
      Unpacked s = zero;
      uint64_t code = start_code;
      dot_detail::LongAcc sum;
      for (size_t start = 0; start < n; start += k) {
        const size_t end = start + k < n ? start + k : n;
        sum.Init(lsb, top);
        dot_detail::Special sp;
        sp.Operand(s);
        if (s.cls == Class::kInf) sp.Infinity(s.sign);
        sp.Term(s.cls == Class::kZero, s.sign);
        if (s.cls == Class::kFinite) sum.Add(s.sign, s.sig, s.exp);
        for (size_t i = start; i < end; ++i) {
          const Unpacked x = A(i), y = B(i);
          if (sp.Product(x, y)) sum.Add(x.sign != y.sign, ArithU128{x.sig} * y.sig, x.exp + y.exp);
        }
        const Result r = dot_detail::RoundGroup(acc, sp, sum, opt, t++);
        flags |= r.flags;
        code = r.code;
        s = Unpack(acc, code);
      }
      return Result{code, flags};
    }
    case DotAccumulation::kHardware: {
      if (n == 0) return Result{start_code, flags};
      const size_t g = model.group ? model.group : 1;
      const int32_t lsb = dot_detail::AccLsb(in, acc), top = dot_detail::AccTop(in, acc);
      constexpr Format kOuter = formats::kF32;
      uint64_t outer = RoundPack(kOuter, zero, opt, 0).code;
      uint32_t since_promotion = 0;
      Unpacked s = zero;
      uint64_t code = start_code;
      dot_detail::LongAcc sum;
      auto promote = [&] {
        const Result r = AddExactOperands(kOuter, Unpack(kOuter, outer), s, opt, t++);
        flags |= r.flags;
        outer = r.code;
        s = zero;
        code = start_code;
        since_promotion = 0;
      };
      for (size_t start = 0; start < n; start += g) {
        const size_t end = start + g < n ? start + g : n;
        sum.Init(lsb, top);
        dot_detail::Special sp;
        sp.Operand(s);
        if (s.cls == Class::kInf) sp.Infinity(s.sign);
        sp.Term(s.cls == Class::kZero, s.sign);
        // Pass 1: classes, and the largest leading-bit exponent e of the
        // terms (s when A and finite, the finite products).
        bool any_term = false;
        int64_t e = 0;
        auto consider = [&](ArithU128 sig, int32_t exp) {
          const int64_t lead = int64_t{exp} + detail::BitLength128(sig) - 1;
          if (!any_term || lead > e) e = lead;
          any_term = true;
        };
        const bool s_term = s.cls == Class::kFinite && model.include_accumulator;
        if (s.cls == Class::kFinite) {
          if (s_term) consider(s.sig, s.exp);
          else sum.Add(s.sign, s.sig, s.exp);  // s enters uncut
        }
        for (size_t i = start; i < end; ++i) {
          const Unpacked x = A(i), y = B(i);
          if (sp.Product(x, y)) consider(ArithU128{x.sig} * y.sig, x.exp + y.exp);
        }
        // Pass 2: cut every term below 2^(e - F) and sum exactly.
        if (any_term) {
          const int64_t cut = e - int64_t{model.fraction_bits};
          auto add_cut = [&](bool negative, ArithU128 sig, int32_t exp) {
            if (exp < cut) {
              const int64_t shift = cut - exp;
              sig = shift >= 128 ? 0 : sig >> shift;
              exp = static_cast<int32_t>(cut);
            }
            if (sig != 0) sum.Add(negative, sig, exp);
          };
          if (s_term) add_cut(s.sign, s.sig, s.exp);
          for (size_t i = start; i < end; ++i) {
            const Unpacked x = A(i), y = B(i);
            if (x.cls == Class::kFinite && y.cls == Class::kFinite)
              add_cut(x.sign != y.sign, ArithU128{x.sig} * y.sig, x.exp + y.exp);
          }
        }
        const Result r = dot_detail::RoundGroup(acc, sp, sum, opt, t++);
        flags |= r.flags;
        code = r.code;
        s = Unpack(acc, code);
        if (model.promote_every != 0 && ++since_promotion == model.promote_every) promote();
      }
      if (model.promote_every == 0) return Result{code, flags};
      if (since_promotion != 0) promote();
      const Result r = RoundPack(acc, Unpack(kOuter, outer), opt, t++);
      flags |= r.flags;
      return Result{r.code, flags};
    }
  }
  return Result{0, kInvalid};
}

}  // namespace floatscope::gpu
