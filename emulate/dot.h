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
// Operand conversion and K order (model.operand_format, instruction_k,
// substeps, substep_run; every accumulation), what an MMA instruction does
// before its adder. With operand_format set, each a[i] and b[i] is
// converted to that format first (DAZ from opt.flush_input, then round to
// nearest even, the conversion's flags joining the result's; exact when
// every value of the input format is one of it, as e4m3fn/e5m2 -> f16),
// and the model runs on the converted values as if they were the inputs:
// kExponentSum aligns by their exponent fields (an e4m3fn subnormal, which
// aligns by e4m3fn's minimum exponent 2^-6, is a normal f16 of exponent -7
// to -9). The K order: the products are taken in blocks of
// B = instruction_k consecutive K, one instruction each, the last block
// padded with +0 products; inside a block, K position p belongs to
// sub-step (p / r) mod S (r = substep_run, S = substeps), and the block
// enters the model sub-step after sub-step, each in ascending K
// (emulate/dot_model.h KOrder). Every model then runs on that sequence of
// Length(n) terms, as on a dot product of that length with the products in
// that order (groups, blocks, the pairwise tree, the first NaN met,
// RoundingsPerDot). A fresh accumulator per instruction whose result is
// added to the running sum is kHardware's promotion: promote_every = B / G
// groups, promote_nearest_even for a float32 FADD (the hopper-mma-fp8
// preset, emulate/h100_tensor_core.h). B = 0 (the default): K in order,
// no padding; no operand_format: no conversion.
//
// s starts as +0 (IEEE 754 sums: an all-(-0) sum stays -0 only if every
// addend is -0; exact cancellation gives +0, -0 under rdn). The exact sums
// of kBlock/kExact/kHardware use a long fixed-point accumulator (Kulisch,
// emulate/dot_exact_sum.h) wide enough for any sum of products of `in`
// values and a value of `acc`, so they are exact, and the one rounding of
// each block goes through RoundPack.
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
//
// One definition for the CPU and the GPU: Dot and GemmElement are FS_HD,
// with no heap memory and no recursion (a fixed-capacity long accumulator,
// an explicit stack for the pairwise tree, two passes over each kHardware
// group: one for the largest exponent, one to cut and sum), and the general
// CUDA GEMM kernel (cuda/kernels.cu) calls GemmElement itself. kHardware's
// steps are emulate/dot_hardware.h's: the run across groups, and a
// fixed-point group step (int32 cut terms) that Dot takes for every group
// of finite operands when the model's terms fit it (the H100 presets among
// them); the fast GPU GEMM (cuda/gemm_kernel.cu) tiles the same functions
// for the models detail::FixedGemmTiles accepts (no operand conversion, K
// in order; the others go to GemmElement).
#pragma once

#include <cstddef>
#include <cstdint>

#include "emulate/arith.h"
#include "emulate/dot_exact_sum.h"
#include "emulate/dot_hardware.h"
#include "emulate/dot_model.h"
#include "formats/catalog.h"
#include "formats/convert.h"

namespace floatscope {

namespace detail {

FS_HD constexpr int32_t Min3(int32_t x, int32_t y, int32_t z) {
  const int32_t m = x < y ? x : y;
  return m < z ? m : z;
}
FS_HD constexpr int32_t Max3(int32_t x, int32_t y, int32_t z) {
  const int32_t m = x > y ? x : y;
  return m > z ? m : z;
}

// One input code as the model's adder sees it: with an operand format,
// converted to it first (DAZ from opt.flush_input, then round to nearest
// even; exact for the models here), the conversion's flags ORed into
// `flags`; without one, the code itself (DAZ from opt.flush_input). Dot's
// terms and the fast GPU GEMM's tiles (cuda/gemm_kernel.cu) both decode
// through this.
FS_HD constexpr Unpacked OperandUnpack(const Format& in, uint64_t code, const Format* operand_format,
                                       const Options& opt, uint8_t& flags) {
  if (!operand_format) return Unpack(in, code, opt.flush_input);
  Options convert;
  convert.flush_input = opt.flush_input;
  convert.nan_payload = opt.nan_payload;
  const Result c = Convert(in, code, *operand_format, convert, 0);
  flags |= c.flags;
  return Unpack(*operand_format, c.code);
}

// kPairwise: q_i = round(p_i), then the balanced tree of rounded sums, in
// the post-order of the recursive sum(l, r) of the top comment, walked with
// an explicit stack (depth <= 1 + log2 n; subtrees of one or two leaves
// are done without frames, which keeps the CPU as fast as the recursion
// was). Product i takes index first_index + i; the sums first_index + n,
// n + 1, ... in post-order.
template <class Leaf>
FS_HD Result PairwiseTree(const Format& acc, size_t n, const Options& opt, uint64_t first_index, Leaf&& leaf) {
  Options sums = opt;
  sums.flush_input = false;  // DAZ is for a and b; the q are results
  uint64_t sum_index = first_index + n;
  uint8_t flags = 0;
  struct Frame {
    size_t l, r;
    int state;  // 0: left subtree to do, 1: right subtree to do, 2: add them
    uint64_t left;
  };
  Frame stack[8 * sizeof(size_t) + 2];  // each frame written before it is read
  int depth = 1;
  stack[0] = Frame{0, n, 0, 0};
  uint64_t value = 0;  // the sum of the subtree finished last
  while (depth > 0) {
    Frame& fr = stack[depth - 1];
    if (fr.r - fr.l <= 2) {  // a leaf, or two leaves and their sum: no frames for them
      const Result p = leaf(fr.l, first_index + fr.l);
      flags |= p.flags;
      value = p.code;
      if (fr.r - fr.l == 2) {
        const Result q = leaf(fr.l + 1, first_index + fr.l + 1);
        const Result s = Add(acc, p.code, q.code, sums, sum_index++);
        flags |= q.flags | s.flags;
        value = s.code;
      }
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

// Dot's body: the model over n terms, term i the product A(i) * B(i) of
// two unpacked values of in_a and in_b (the formats the model multiplies
// in: after the operand conversion, with the K order applied).
template <class TermA, class TermB>
FS_HD Result DotTerms(const Format& in_a, TermA&& A, const Format& in_b, TermB&& B, size_t n, const Format& acc,
                      const DotModel& model, const Options& opt, uint64_t first_index) {
  uint64_t t = first_index;
  uint8_t flags = 0;
  const Format& sum_format = model.sum_format ? *model.sum_format : acc;  // kHardware
  // Products of in_a and in_b values, a value of acc or sum_format, and
  // carries.
  const int32_t lsb = Min3(LowestBit(in_a) + LowestBit(in_b), LowestBit(acc), LowestBit(sum_format));
  const int32_t top = Max3(TopBit(in_a) + TopBit(in_b), TopBit(acc), TopBit(sum_format)) + 64;
  const Unpacked zero{};  // +0
  const uint64_t start_code = RoundPack(acc, zero, opt, 0).code;
  switch (model.accumulation) {
    case Accumulation::kSequential:
    case Accumulation::kFused: {
      uint64_t code = start_code;
      for (size_t i = 0; i < n; ++i) {
        const Unpacked s = Unpack(acc, code);
        Result r{};
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
      return PairwiseTree(acc, n, opt, first_index, [&](size_t i, uint64_t index) {
        return MulExactOperands(acc, A(i), B(i), opt, index);
      });
    }
    case Accumulation::kBlock:
    case Accumulation::kExact: {
      const size_t k = model.accumulation == Accumulation::kExact ? (n ? n : 1) : (model.block ? model.block : 1);
      if (n == 0) return Result{start_code, flags};
      Unpacked s = zero;
      uint64_t code = start_code;
      LongAccumulator sum;
      for (size_t start = 0; start < n; start += k) {
        const size_t end = start + k < n ? start + k : n;
        sum.Reset(lsb, top);
        SpecialSum sp;
        if (sp.Accumulator(s)) sum.Add(s.sign, s.sig, s.exp);
        for (size_t i = start; i < end; ++i) {
          const Unpacked x = A(i), y = B(i);
          if (sp.Product(x, y)) sum.Add(x.sign != y.sign, ArithU128{x.sig} * y.sig, x.exp + y.exp);
        }
        const Result r = RoundGroup(acc, sp, sum, opt, t++);
        flags |= r.flags;
        code = r.code;
        s = Unpack(acc, code);
      }
      return Result{code, flags};
    }
    case Accumulation::kHardware: {
      if (n == 0) return Result{start_code, flags};
      const size_t g = model.group ? model.group : 1;
      const bool by_fields = model.alignment == Alignment::kExponentSum;
      const Format& sf = sum_format;
      // The run across groups and the fixed-point group step are
      // emulate/dot_hardware.h's, shared with the GPU's fast GEMM kernel.
      HardwareState st = HardwareStart(sf, opt);
      const FixedDotPlan plan = MakeFixedDotPlan(in_a, in_b, sf, model);
      // The exponent of a term's leading bit.
      auto lead = [](ArithU128 sig, int32_t exp) { return int64_t{exp} + BitLength128(sig) - 1; };
      LongAccumulator sum;
      uint64_t q = 0;
      for (size_t start = 0; start < n; start += g, ++q) {
        const size_t end = start + g < n ? start + g : n;
        const Unpacked s = Unpack(sf, st.s);
        const uint64_t index = HardwareGroupIndex(model, first_index, q);
        if (plan.ok) {
          // Fixed point, unless an operand is NaN or infinite. Pass 1: the
          // largest alignment exponent.
          auto fa = [&](size_t i) { return FixedDecode(A(i), plan.mant_a, plan.a_shift, plan.leading); };
          auto fb = [&](size_t i) { return FixedDecode(B(i), plan.mant_b, 0, plan.leading); };
          bool special = false;
          int32_t products_max = kFixedNoTerm;
          for (size_t i = start; i < end && !special; ++i) {
            const FixedOperand x = fa(i), y = fb(i);
            special = x.special || y.special;
            const int32_t al = FixedProductAlign(plan, x.sig, x.align, y.sig, y.align);
            if (al > products_max) products_max = al;
          }
          if (!special) {
            // Pass 2: every product cut below 2^(e - F), summed.
            const int32_t e = FixedGroupExponent(
                products_max, FixedAccumulatorAlign(FixedDecodeCode(sf, st.s, plan.s_left, plan.leading)));
            int64_t products_sum = 0;
            for (size_t i = start; i < end; ++i) {
              const FixedOperand x = fa(i), y = fb(i);
              products_sum += FixedProductTerm(x.sig, x.align, y.sig, y.align, e + plan.right);
            }
            const Result r = FixedGroupRound(plan, sf, st.s, e, products_sum, opt, index, [&] {
              for (size_t i = start; i < end; ++i) {
                const FixedOperand x = fa(i), y = fb(i);
                if (!FixedProductIsNegativeZero(x.sig, x.align, y.sig, y.align)) return false;
              }
              return true;
            });
            HardwareAfterGroup(model, sf, opt, first_index, q, r, st);
            continue;
          }
        }
        // The general group step: a long accumulator.
        sum.Reset(lsb, top);
        SpecialSum sp;
        const bool s_finite = sp.Accumulator(s);
        const bool s_term = s_finite && model.include_accumulator;  // s aligned and cut with the products
        // Pass 1: the classes, and e = the largest exponent the terms align
        // by (s when it is a term, the finite products).
        bool any_term = false;
        int64_t e = 0;
        auto consider = [&](int64_t align) {
          if (!any_term || align > e) e = align;
          any_term = true;
        };
        if (s_term) consider(by_fields ? int64_t{s.exp} + sf.mantissa_bits : lead(s.sig, s.exp));
        else if (s_finite) sum.Add(s.sign, s.sig, s.exp);  // s enters uncut
        for (size_t i = start; i < end; ++i) {
          const Unpacked x = A(i), y = B(i);
          if (sp.Product(x, y))
            consider(by_fields ? int64_t{x.exp} + in_a.mantissa_bits + y.exp + in_b.mantissa_bits
                               : lead(ArithU128{x.sig} * y.sig, x.exp + y.exp));
        }
        // Pass 2: every term cut below 2^(e - F), summed exactly.
        if (any_term) {
          const int64_t cut = e - int64_t{model.fraction_bits};  // exponent of the last kept bit
          auto add_cut = [&](bool negative, ArithU128 sig, int32_t exp) {
            if (exp < cut) {
              const int64_t shift = cut - exp;
              sig = shift >= 128 ? 0 : sig >> shift;
              exp = static_cast<int32_t>(cut);  // > the term's exp >= lsb: in range
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
        const Result r = RoundGroup(sf, sp, sum, opt, index);
        HardwareAfterGroup(model, sf, opt, first_index, q, r, st);
      }
      return HardwareFinish(model, sf, acc, opt, first_index, q, st);
    }
  }
  return Result{0, kInvalid};
}

}  // namespace detail

// One dot product of two input formats (a[i] codes of in_a, b[i] of in_b,
// as in mixed FP8 GEMMs such as E5M2 x E4M3): sum over i < n of
// a[i * a_stride] * b[i * b_stride]. Code: the word the codes are stored
// in (uint64_t on the CPU, uint32_t in the GPU kernels).
template <class Code>
FS_HD Result Dot(const Format& in_a, const Code* a, size_t a_stride, const Format& in_b, const Code* b,
                 size_t b_stride, size_t n, const Format& acc, const DotModel& model, const Options& opt = {},
                 uint64_t first_index = 0) {
  const Format& fa = model.operand_format ? *model.operand_format : in_a;
  const Format& fb = model.operand_format ? *model.operand_format : in_b;
  const KOrder order(model);
  if (!model.operand_format && order.InOrder()) {
    auto A = [&](size_t i) { return Unpack(in_a, a[i * a_stride], opt.flush_input); };
    auto B = [&](size_t i) { return Unpack(in_b, b[i * b_stride], opt.flush_input); };
    return detail::DotTerms(in_a, A, in_b, B, n, acc, model, opt, first_index);
  }
  uint8_t convert_flags = 0;  // the conversions' flags join the result
  auto term = [&](const Format& in, const Format& f, const Code* x, size_t stride, size_t j) {
    const uint64_t k = order.Position(j);
    if (k >= n) return Unpacked{};  // +0: the padding of the last instruction
    return detail::OperandUnpack(in, x[k * stride], model.operand_format ? &f : nullptr, opt, convert_flags);
  };
  auto A = [&](size_t j) { return term(in_a, fa, a, a_stride, j); };
  auto B = [&](size_t j) { return term(in_b, fb, b, b_stride, j); };
  Result r = detail::DotTerms(fa, A, fb, B, static_cast<size_t>(order.Length(n)), acc, model, opt, first_index);
  r.flags |= convert_flags;
  return r;
}

// One dot product: sum over i < n of a[i * a_stride] * b[i * b_stride].
template <class Code>
FS_HD Result Dot(const Format& in, const Code* a, size_t a_stride, const Code* b, size_t b_stride, size_t n,
                 const Format& acc, const DotModel& model, const Options& opt = {}, uint64_t first_index = 0) {
  return Dot(in, a, a_stride, in, b, b_stride, n, acc, model, opt, first_index);
}

// C(i, j) of C = A * B (A: M x K codes of in_a, B: K x N codes of in_b,
// both row-major; n = N, k = K): the dot product of row i and column j,
// its roundings at first_index + (i * N + j) * roundings_per_dot on
// (roundings_per_dot = RoundingsPerDot(model, K)).
template <class Code>
FS_HD Result GemmElement(const Format& in_a, const Code* a, const Format& in_b, const Code* b, size_t i, size_t j,
                         size_t n, size_t k, const Format& acc, const DotModel& model, const Options& opt,
                         uint64_t first_index, uint64_t roundings_per_dot) {
  return Dot(in_a, a + i * k, 1, in_b, b + j, n, k, acc, model, opt, first_index + (i * n + j) * roundings_per_dot);
}

// C = A * B: A is M x K codes of in_a, B is K x N codes of in_b, both
// row-major; C is M x N row-major codes of `acc`. Returns the OR of all
// flags.
inline uint8_t Gemm(const Format& in_a, const uint64_t* a, const Format& in_b, const uint64_t* b, size_t m, size_t n,
                    size_t k, const Format& acc, const DotModel& model, uint64_t* c, const Options& opt = {},
                    uint64_t first_index = 0) {
  uint8_t flags = 0;
  const uint64_t per = RoundingsPerDot(model, k);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) {
      const Result r = GemmElement(in_a, a, in_b, b, i, j, n, k, acc, model, opt, first_index, per);
      c[i * n + j] = r.code;
      flags |= r.flags;
    }
  return flags;
}

// C = A * B with A and B codes of one format `in`.
inline uint8_t Gemm(const Format& in, const uint64_t* a, const uint64_t* b, size_t m, size_t n, size_t k,
                    const Format& acc, const DotModel& model, uint64_t* c, const Options& opt = {},
                    uint64_t first_index = 0) {
  return Gemm(in, a, in, b, m, n, k, acc, model, c, opt, first_index);
}

}  // namespace floatscope
