// Dot products and GEMM with explicit accumulation models: the same data,
// summed the way a given piece of hardware or library sums it, every
// rounding done by the one core (emulate/arith.h -> formats/round_pack.h).
//
// Inputs are codes of a float format `in`; products and sums are rounded
// into the accumulator format `acc` (both up to f64; the products of two
// `in` values are exact before their first rounding). The models, for
// p_i = a_i * b_i (exact) and round() into `acc`:
//
//   kSequential  s = round(s + round(p_i)),  i = 0, 1, ..., n-1
//                (a plain loop: multiply, then add; 2n roundings)
//   kFused       s = round(p_i + s)          (an FMA per step; n roundings)
//   kPairwise    q_i = round(p_i), then a balanced tree of rounded sums:
//                sum(l, r) = sum(l, m) + sum(m, r), m = l + (r - l) / 2,
//                down to single terms (2n - 1 roundings)
//   kBlock       s = round(s + p_i + ... + p_{i+k-1}) for blocks of k =
//                model.block products, the block summed exactly: a
//                k-term exact accumulator added to s with one rounding, as
//                in wide-accumulator MMA units (k = 1 is kFused)
//   kExact       round(p_0 + ... + p_{n-1}): the correctly rounded dot
//                product (one rounding; kBlock with k >= n)
//   kHardware    an MMA unit's aligned, truncating adder tree (below)
//
// kHardware (parameters G = model.group, F = model.fraction_bits,
// A = model.include_accumulator, N = model.promote_every). The products are
// taken in groups of G consecutive terms (the last group may be shorter).
// For each group, the exact products p_i (and the accumulator s when A) are
// aligned to the largest exponent among them, e = max floor(log2 |x|) over
// the group's nonzero finite products (and s, when A and s is nonzero);
// each of them is cut to F fraction bits below that exponent: truncated
// toward zero as a bit field, everything below 2^(e - F) dropped. The cut
// terms are summed exactly, as integers, and the group sum enters the
// accumulator with one rounding into `acc`:
//
//   T(x) = sign(x) * floor(|x| * 2^(F - e)) * 2^(e - F)
//   A:      s = round(T(s) + T(p_i) + ... + T(p_{i+G-1}))
//   not A:  s = round(s + T(p_i) + ... + T(p_{i+G-1}))   (s itself uncut)
//
// With F large enough to keep every bit (F >= e - lowest bit of any term)
// this is kBlock with k = G.
//
// Which exponent a term aligns by is model.alignment:
//   kLeadingBit   floor(log2 |x|), the exact term's leading bit (above)
//   kExponentSum  a product's exponent-field sum E(a) + E(b), where E(v) is
//                 floor(log2 |v|) for a normal v and the format's minimum
//                 normal exponent for a subnormal one: the product, whose
//                 significand lies in [1, 4), is aligned as a fixed-point
//                 number with two integer bits, so one in [2, 4) * 2^E keeps
//                 one bit more above 2^(e - F) than kLeadingBit would give it.
//                 The accumulator s aligns by E(s) in the format it is kept
//                 in. (Measured on H100 tensor cores: see
//                 emulate/h100_tensor_core.h.)
// e is then the largest of these exponents and T cuts at 2^(e - F) as above.
//
// model.sum_format (nullptr: `acc`) is the format a group's sum is rounded
// into and s is kept in, when the adder's output is narrower than `acc`
// (e.g. 14 significant bits in FP8 tensor cores): round() above is then into
// sum_format, and the result s is rounded into `acc` once more at the end
// (N = 0; one more rounding, counted last). model.promote_nearest_even makes
// every promotion o = round_f32(o + s) round to nearest even whatever
// opt.rounding says (a float32 FADD after the MMA), opt.rounding still
// rounding the group sums. The cuts raise no flag (hardware drops those
// bits silently); inexact and the others come from round() only. A group
// whose cut sum is exactly zero gives +0 (-0 under rdn, or when every exact
// term, s included, is -0), as in kBlock, even if its exact sum was not 0.
// N > 0 models promotion into an outer fp32 accumulator o (o = +0 at the
// start): after every N groups, and after the last group if any came since
// the last promotion, o = round_f32(o + s) and s = +0 again; the result is
// then round(o) into `acc` (exact when `acc` is f32 or wider). N = 0: no
// outer accumulator, the result is s. Products are exact (no product
// rounding), as in every model here. Specials are those of kBlock, per group.
//
// s starts as +0 (IEEE 754 sums: an all-(-0) sum stays -0 only if every
// addend is -0; exact cancellation gives +0, -0 under rdn). The exact sums
// of kBlock/kExact use a long fixed-point accumulator (Kulisch) wide enough
// for any sum of products of `in` values and a value of `acc`, so they are
// exact, and the one rounding of each block goes through RoundPack.
//
// Specials follow IEEE 754 as if each exact sum were a sum of its terms:
// a NaN operand or accumulator gives NaN (the first one met), 0 * inf and
// inf - inf give the default NaN with invalid, infinities of one sign give
// that infinity.
//
// `acc` must have a zero (not e8m0fnu); DAZ (flush_input) applies to the
// inputs a and b, FTZ (flush_output) to every rounding. Flags are the OR of
// every rounding's flags. Stochastic rounding: rounding
// number t of a dot product (t = 0, 1, ..., counted in the order above;
// RoundingsPerDot(model, n) of them) uses element index first_index + t.
// kHardware counts a group's rounding, then (N > 0) a promotion when one is
// due, and the final round(o) last; with n = 0 nothing is rounded.
// Gemm gives C(i, j) first_index + (i * N + j) * RoundingsPerDot(model, K),
// so every rounding of a GEMM has its own index.
#pragma once

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <vector>

#include "emulate/arith.h"
#include "formats/catalog.h"

namespace floatscope {

enum class Accumulation : uint8_t { kSequential, kFused, kPairwise, kBlock, kExact, kHardware };

// kHardware: the exponent each term is aligned by (see the top comment).
enum class Alignment : uint8_t { kLeadingBit, kExponentSum };

struct DotModel {
  Accumulation accumulation = Accumulation::kSequential;
  uint32_t block = 16;  // kBlock: products summed exactly per rounding (>= 1)
  // kHardware (see the comment at the top; the defaults are an example, not
  // a measured chip):
  uint32_t group = 4;               // G: products per aligned group (0 reads as 1)
  uint32_t fraction_bits = 24;      // F: bits kept below the group's largest exponent
  bool include_accumulator = true;  // A: s is aligned and cut with the products
  uint32_t promote_every = 0;       // N: groups per promotion into fp32 (0: never)
  Alignment alignment = Alignment::kLeadingBit;  // what "largest exponent" compares
  const Format* sum_format = nullptr;  // group sums and s rounded into this (nullptr: acc)
  bool promote_nearest_even = false;   // promotions round to nearest even (else opt.rounding)
};

inline uint64_t RoundingsPerDot(const DotModel& m, size_t n) {
  switch (m.accumulation) {
    case Accumulation::kSequential: return 2 * uint64_t{n};
    case Accumulation::kFused: return n;
    case Accumulation::kPairwise: return n == 0 ? 0 : 2 * uint64_t{n} - 1;
    case Accumulation::kBlock: return m.block == 0 ? 0 : (n + m.block - 1) / m.block;
    case Accumulation::kExact: return n == 0 ? 0 : 1;
    case Accumulation::kHardware: {
      if (n == 0) return 0;
      const uint64_t g = m.group ? m.group : 1;
      const uint64_t groups = (n + g - 1) / g;
      if (m.promote_every == 0) return groups + (m.sum_format ? 1 : 0);
      return groups + (groups + m.promote_every - 1) / m.promote_every + 1;
    }
  }
  return 0;
}

namespace detail {

// A long fixed-point accumulator: a two's-complement integer in 64-bit
// words, in units of 2^lsb. Sized by the caller so that nothing overflows.
class LongAccumulator {
 public:
  LongAccumulator(int32_t lsb, int32_t top_bits) : lsb_(lsb), words_((top_bits - lsb) / 64 + 3, 0) {}

  int32_t lsb() const { return lsb_; }

  // += or -= sig * 2^exp (sig < 2^128, exp >= lsb).
  void Add(bool negative, ArithU128 sig, int32_t exp) {
    const int32_t shift = exp - lsb_;
    const size_t w = static_cast<size_t>(shift / 64);
    const int b = shift % 64;
    // sig << b spans up to three words.
    uint64_t parts[3] = {static_cast<uint64_t>(sig) << b, 0, 0};
    const uint64_t lo = static_cast<uint64_t>(sig), hi = static_cast<uint64_t>(sig >> 64);
    parts[1] = b ? (hi << b) | (lo >> (64 - b)) : hi;
    parts[2] = b ? hi >> (64 - b) : 0;
    if (!negative) {
      uint64_t carry = 0;
      for (size_t i = w; i < words_.size(); ++i) {
        const uint64_t add = i - w < 3 ? parts[i - w] : 0;
        if (add == 0 && carry == 0 && i - w >= 3) break;
        const uint64_t s1 = words_[i] + add;
        const uint64_t c1 = s1 < add;
        const uint64_t s2 = s1 + carry;
        carry = c1 | (s2 < s1);
        words_[i] = s2;
      }
    } else {
      uint64_t borrow = 0;
      for (size_t i = w; i < words_.size(); ++i) {
        const uint64_t sub = i - w < 3 ? parts[i - w] : 0;
        if (sub == 0 && borrow == 0 && i - w >= 3) break;
        const uint64_t d1 = words_[i] - sub;
        const uint64_t b1 = words_[i] < sub;
        const uint64_t d2 = d1 - borrow;
        borrow = b1 | (d1 < borrow);
        words_[i] = d2;
      }
    }
  }

  bool IsZero() const {
    for (uint64_t w : words_)
      if (w) return false;
    return true;
  }

  // The exact value as an Unpacked (finite or zero; a zero gets `zero_sign`),
  // keeping the top 64 bits and a sticky bit: exact for RoundPack since 64
  // bits are more than any format's precision plus one.
  Unpacked ToUnpacked(bool zero_sign) const {
    Unpacked u;
    if (IsZero()) {
      u.cls = Class::kZero;
      u.sign = zero_sign;
      return u;
    }
    std::vector<uint64_t> mag = words_;
    const bool negative = (mag.back() >> 63) != 0;
    if (negative) {  // two's complement negate
      uint64_t carry = 1;
      for (uint64_t& w : mag) {
        w = ~w + carry;
        carry = carry && w == 0;
      }
    }
    size_t top = mag.size() - 1;
    while (mag[top] == 0) --top;
    const int bit = 63 - CountLeadingZeros64(mag[top]);
    const int64_t msb = static_cast<int64_t>(top) * 64 + bit;  // position of the leading 1
    // The 64-bit window [msb - 63, msb].
    const int64_t low = msb - 63;
    uint64_t sig = 0;
    bool sticky = false;
    for (int64_t pos = 0; pos < static_cast<int64_t>(mag.size()) * 64; pos += 64) {
      const uint64_t w = mag[static_cast<size_t>(pos / 64)];
      if (w == 0) continue;
      if (pos + 63 < low) {
        sticky = true;
        continue;
      }
      // Bits of w at positions pos..pos+63 that fall in the window.
      const int64_t off = pos - low;  // window bit of w's bit 0
      if (off >= 0) sig |= off < 64 ? w << off : 0;
      else {
        sig |= w >> -off;
        if ((w << (64 + off)) != 0) sticky = true;
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
  int32_t lsb_;
  std::vector<uint64_t> words_;
};

// Exponent of the lowest and one past the highest bit of a float format's
// finite values.
inline int32_t LowestBit(const Format& f) { return MinNormalExponent(f) - f.mantissa_bits; }
inline int32_t TopBit(const Format& f) {
  return static_cast<int32_t>(MaxFiniteMagnitude(f) >> f.mantissa_bits) - f.bias + 1;
}

// IEEE classes of a sum whose terms are known by class only.
struct SpecialSum {
  const Unpacked* nan = nullptr;  // first NaN operand met
  bool invalid = false;           // 0 * inf, inf - inf, signaling NaN
  bool default_nan = false;       // 0 * inf or inf - inf
  bool pos_inf = false, neg_inf = false;
  bool all_negative_zero = true;  // every term so far a -0
  bool any_term = false;

  void Operand(const Unpacked& u) {
    if (u.cls == Class::kNan) {
      if (!nan) nan = &u;
      if (u.signaling) invalid = true;
    }
  }
  void Infinity(bool negative) { (negative ? neg_inf : pos_inf) = true; }
  void Term(bool is_zero, bool negative) {
    any_term = true;
    if (!(is_zero && negative)) all_negative_zero = false;
  }
  // The product term x*y: its NaN operands, 0*inf (invalid), an infinite
  // product and its zero sign. True when x*y is finite and nonzero, i.e.
  // the caller adds sig_x*sig_y * 2^(exp_x+exp_y) to the sum.
  bool Product(const Unpacked& x, const Unpacked& y) {
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

// Rounds one group's sum into `acc`: its IEEE special result if it has
// one (NaN, infinity, invalid), else the exact sum (an exact zero takes
// the sign IEEE 754 6.3 gives it).
inline Result RoundGroup(const Format& acc, const SpecialSum& sp, const LongAccumulator& sum, const Options& opt,
                         uint64_t index) {
  Unpacked u;
  uint8_t op_flags = 0;
  if (sp.nan) {
    u = *sp.nan;
    if (sp.invalid) op_flags = kInvalid;
  } else if (sp.default_nan || (sp.pos_inf && sp.neg_inf)) {
    u.cls = Class::kNan;  // the default NaN
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

}  // namespace detail

// One dot product of two input formats (a[i] codes of in_a, b[i] of in_b,
// as in mixed FP8 GEMMs such as E5M2 x E4M3): sum over i < n of
// a[i * a_stride] * b[i * b_stride]. Everything else as the one-format Dot
// below.
inline Result Dot(const Format& in_a, const uint64_t* a, size_t a_stride, const Format& in_b, const uint64_t* b,
                  size_t b_stride, size_t n, const Format& acc, const DotModel& model, const Options& opt = {},
                  uint64_t first_index = 0) {
  uint64_t t = first_index;
  uint8_t flags = 0;
  auto A = [&](size_t i) { return Unpack(in_a, a[i * a_stride], opt.flush_input); };
  auto B = [&](size_t i) { return Unpack(in_b, b[i * b_stride], opt.flush_input); };
  // Products of in_a and in_b values, a value of acc, and carries.
  const Format& sum_format = model.sum_format ? *model.sum_format : acc;  // kHardware
  const int32_t lowest = std::min({detail::LowestBit(in_a) + detail::LowestBit(in_b), detail::LowestBit(acc),
                                   detail::LowestBit(sum_format)});
  const int32_t highest =
      std::max({detail::TopBit(in_a) + detail::TopBit(in_b), detail::TopBit(acc), detail::TopBit(sum_format)}) + 64;
  const Unpacked zero{};  // +0
  const uint64_t start_code = RoundPack(acc, zero, opt, 0).code;
  switch (model.accumulation) {
    case Accumulation::kSequential:
    case Accumulation::kFused: {
      uint64_t code = start_code;
      for (size_t i = 0; i < n; ++i) {
        const Unpacked s = Unpack(acc, code);
        Result r;
        if (model.accumulation == Accumulation::kFused) {
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
    case Accumulation::kPairwise: {
      if (n == 0) return Result{start_code, flags};
      std::vector<uint64_t> q(n);
      for (size_t i = 0; i < n; ++i) {
        const Result p = MulExactOperands(acc, A(i), B(i), opt, t++);
        flags |= p.flags;
        q[i] = p.code;
      }
      Options sums = opt;
      sums.flush_input = false;  // DAZ is for a and b; the q are results
      struct Tree {
        const Format& f;
        const Options& o;
        const std::vector<uint64_t>& q;
        uint64_t& t;
        uint8_t& flags;
        uint64_t Sum(size_t l, size_t r) {
          if (r - l == 1) return q[l];
          const size_t m = l + (r - l) / 2;
          const uint64_t x = Sum(l, m);
          const uint64_t y = Sum(m, r);
          const Result s = Add(f, x, y, o, t++);
          flags |= s.flags;
          return s.code;
        }
      };
      Tree tree{acc, sums, q, t, flags};
      const uint64_t code = tree.Sum(0, n);
      return Result{code, flags};
    }
    case Accumulation::kBlock:
    case Accumulation::kExact: {
      const size_t k = model.accumulation == Accumulation::kExact ? (n ? n : 1) : (model.block ? model.block : 1);
      const int32_t lsb = lowest, top = highest;
      if (n == 0) return Result{start_code, flags};
      Unpacked s = zero;
      uint64_t code = start_code;
      for (size_t start = 0; start < n; start += k) {
        const size_t end = start + k < n ? start + k : n;
        detail::LongAccumulator sum(lsb, top);
        detail::SpecialSum sp;
        std::vector<Unpacked> ops;  // keeps NaN operands alive for sp.nan
        ops.reserve(2 * (end - start) + 1);
        ops.push_back(s);
        sp.Operand(ops.back());
        if (s.cls == Class::kInf) sp.Infinity(s.sign);
        sp.Term(s.cls == Class::kZero, s.sign);
        if (s.cls == Class::kFinite) sum.Add(s.sign, s.sig, s.exp);
        for (size_t i = start; i < end; ++i) {
          ops.push_back(A(i));
          const Unpacked& x = ops.back();
          ops.push_back(B(i));
          const Unpacked& y = ops.back();
          if (sp.Product(x, y)) sum.Add(x.sign != y.sign, detail::ArithU128{x.sig} * y.sig, x.exp + y.exp);
        }
        Result r = detail::RoundGroup(acc, sp, sum, opt, t++);
        flags |= r.flags;
        code = r.code;
        s = Unpack(acc, code);
      }
      return Result{code, flags};
    }
    case Accumulation::kHardware: {
      if (n == 0) return Result{start_code, flags};
      const size_t g = model.group ? model.group : 1;
      const int32_t lsb = lowest, top = highest;
      const bool by_fields = model.alignment == Alignment::kExponentSum;
      const Format& outer_format = formats::kF32;
      uint64_t outer = RoundPack(outer_format, zero, opt, 0).code;  // o = +0
      uint32_t since_promotion = 0;
      Unpacked s = zero;
      const Format& sf = sum_format;
      const uint64_t sum_start = RoundPack(sf, zero, opt, 0).code;
      uint64_t code = sum_start;
      Options promote_opt = opt;
      if (model.promote_nearest_even) promote_opt.rounding = Rounding::kNearestEven;
      auto promote = [&] {
        const Result r = AddExactOperands(outer_format, Unpack(outer_format, outer), s, promote_opt, t++);
        flags |= r.flags;
        outer = r.code;
        s = zero;
        code = sum_start;
        since_promotion = 0;
      };
      struct Term {
        bool negative;
        detail::ArithU128 sig;
        int32_t exp;
        int64_t align;  // the exponent it is aligned by
      };
      auto lead = [](detail::ArithU128 sig, int32_t exp) {
        return int64_t{exp} + detail::BitLength128(sig) - 1;
      };
      std::vector<Term> terms;
      for (size_t start = 0; start < n; start += g) {
        const size_t end = start + g < n ? start + g : n;
        detail::LongAccumulator sum(lsb, top);
        detail::SpecialSum sp;
        std::vector<Unpacked> ops;  // keeps NaN operands alive for sp.nan
        ops.reserve(2 * (end - start) + 1);
        terms.clear();
        ops.push_back(s);
        sp.Operand(ops.back());
        if (s.cls == Class::kInf) sp.Infinity(s.sign);
        sp.Term(s.cls == Class::kZero, s.sign);
        if (s.cls == Class::kFinite) {
          if (model.include_accumulator)
            terms.push_back({s.sign, s.sig, s.exp,
                             by_fields ? int64_t{s.exp} + sf.mantissa_bits : lead(s.sig, s.exp)});
          else sum.Add(s.sign, s.sig, s.exp);  // s enters uncut
        }
        for (size_t i = start; i < end; ++i) {
          ops.push_back(A(i));
          const Unpacked& x = ops.back();
          ops.push_back(B(i));
          const Unpacked& y = ops.back();
          if (sp.Product(x, y)) {
            const bool neg = x.sign != y.sign;
            const detail::ArithU128 sig = detail::ArithU128{x.sig} * y.sig;
            const int64_t align = by_fields ? int64_t{x.exp} + in_a.mantissa_bits + y.exp + in_b.mantissa_bits
                                            : lead(sig, x.exp + y.exp);
            terms.push_back({neg, sig, x.exp + y.exp, align});
          }
        }
        // Align to the largest leading-bit exponent e; cut below 2^(e - F).
        if (!terms.empty()) {
          int64_t e = INT64_MIN;
          for (const Term& term : terms) e = std::max(e, term.align);
          const int64_t cut = e - int64_t{model.fraction_bits};  // exponent of the last kept bit
          for (const Term& term : terms) {
            detail::ArithU128 sig = term.sig;
            int32_t exp = term.exp;
            if (exp < cut) {
              const int64_t shift = cut - exp;
              sig = shift >= 128 ? 0 : sig >> shift;
              exp = static_cast<int32_t>(cut);  // > term.exp >= lsb: in range
            }
            if (sig != 0) sum.Add(term.negative, sig, exp);
          }
        }
        Result r = detail::RoundGroup(sf, sp, sum, opt, t++);
        flags |= r.flags;
        code = r.code;
        s = Unpack(sf, code);
        if (model.promote_every != 0 && ++since_promotion == model.promote_every) promote();
      }
      if (model.promote_every == 0) {
        if (!model.sum_format) return Result{code, flags};
        const Result r = RoundPack(acc, s, opt, t++);
        flags |= r.flags;
        return Result{r.code, flags};
      }
      if (since_promotion != 0) promote();
      const Result r = RoundPack(acc, Unpack(outer_format, outer), opt, t++);
      flags |= r.flags;
      return Result{r.code, flags};
    }
  }
  return Result{0, kInvalid};
}

// One dot product: sum over i < n of a[i * a_stride] * b[i * b_stride].
inline Result Dot(const Format& in, const uint64_t* a, size_t a_stride, const uint64_t* b, size_t b_stride,
                  size_t n, const Format& acc, const DotModel& model, const Options& opt = {},
                  uint64_t first_index = 0) {
  return Dot(in, a, a_stride, in, b, b_stride, n, acc, model, opt, first_index);
}

// C = A * B: A is M x K, B is K x N, both row-major codes of `in`; C is
// M x N row-major codes of `acc`. Returns the OR of all flags.
inline uint8_t Gemm(const Format& in, const uint64_t* a, const uint64_t* b, size_t m, size_t n, size_t k,
                    const Format& acc, const DotModel& model, uint64_t* c, const Options& opt = {},
                    uint64_t first_index = 0) {
  uint8_t flags = 0;
  const uint64_t per = RoundingsPerDot(model, k);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) {
      const Result r = Dot(in, a + i * k, 1, b + j, n, k, acc, model, opt, first_index + (i * n + j) * per);
      c[i * n + j] = r.code;
      flags |= r.flags;
    }
  return flags;
}

}  // namespace floatscope
