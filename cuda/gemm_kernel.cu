// The fast emulated GEMM (cuda/gpu.h GemmFixedPoint): kHardware models in
// fixed point, every step emulate/dot_hardware.h's own FS_HD functions, the
// ones the CPU's Dot calls (no second copy of the model here; this file is
// tiling and launch plumbing).
//
// A block computes a 64 x 64 tile of C with 256 threads, 4 x 4 outputs each.
// Per K tile of 32, A (64 x 32) and B (32 x 64) are decoded once into shared
// memory as fixed-point operands (FixedDecode of the core's Unpack: signed
// significand, alignment exponent); a group of G products (G divides 32)
// is then two passes over the tile in registers, pass 1 the largest
// alignment exponent (FixedProductAlign), pass 2 the cut terms summed in an
// int32 (FixedProductTerm: one multiply, one shift). Between the passes,
// once e is known, each output's running sum is read from its code
// (FixedDecodeCode, not the core's Unpack) and cut at e
// (FixedAccumulatorCut). The group's rounding then runs over the thread's
// outputs: the common case inline (FixedGroupRoundFast: the 33-bit sum
// rounded as a uint32_t by RoundNormalFast), the rest out of line
// (FixedGroupRound -> RoundPack, HardwareGroupDone), promotions
// (HardwarePromote) likewise. Where the sum format has a compile-time kind
// (SumKind: float32, as for the H100 f16/bf16 presets and every model
// whose sums are kept in its float32 accumulator; f32p14, the FP8
// presets'; or any IEEE-like format, bf16, f16, tf32, ..., whose widths
// and bias are read at run time), the common case is unrolled over the 16
// outputs, the declined ones done afterwards; the rounding mode is a
// compile-time constant too for rtz, rne and sr, and read at run time for
// the others. Sum formats of no kind (no infinities, unsigned, ...) loop
// over the outputs with the format and mode read at run time.
// The running sums, float32 accumulators and flags of the block's outputs
// live in shared memory (the fast step's inexact flags in a register). Dot
// products whose row of A or column of B holds a NaN or an infinity are
// computed again afterwards by emulate/dot.h's GemmElement itself
// (GemmSpecialKernel), as the general kernel does.
//
// An operand conversion (DotModel::operand_format) is done per element as
// the tiles are decoded (detail::OperandUnpack, Dot's own), and an
// instruction K order (instruction_k dividing the K tile, as
// hopper-mma-fp8's 32) by loading each tile in the model's order, the last
// instruction padded with +0 products: the tile then holds the model's
// sequence of terms, which the group steps take as they come. A conversion
// that raises a flag sends its row or column to GemmElement.
//
// Speed: cuda/RESULTS.md ("Fast emulated GEMM" and later sections; the
// README's GPU row quotes the latest run).
#include <cuda_runtime.h>

#include <string>

#include "cuda/check.cuh"
#include "cuda/gpu.h"
#include "emulate/dot.h"
#include "emulate/dot_hardware.h"
#include "emulate/h100_tensor_core.h"

namespace floatscope::gpu {

namespace {

constexpr int kBM = 64, kBN = 64, kBK = 32, kTM = 4, kTN = 4;
constexpr int kGemmThreads = (kBM / kTM) * (kBN / kTN);  // 256
constexpr int kPadM = kBM + 4;  // A is stored k-major: rows padded against bank conflicts, 16-byte aligned
constexpr int kOutputs = kBM * kBN;

// The group sums' format as a compile-time constant where it is float32
// (every model whose sum format is its float32 accumulator), the H100's
// FP8 group-sum format f32p14, bf16 or f16 (the narrow sums of generic
// models; kSumRuntime: from the parameters), and the rounding mode likewise
// (kRoundRuntime: opt.rounding). The model's steps
// are the same FS_HD functions either way; with a constant Format and
// rounding the compiler folds their format and mode tests (Unpack,
// RoundNormalFast, RoundsUp) away, which is most of a group step's
// instructions.
enum SumKind : int { kSumRuntime = 0, kSumF32 = 1, kSumFp8 = 2, kSumIeee = 3 };
constexpr int kRoundRuntime = -1;
constexpr int32_t kSpecialCut = INT32_MIN;  // scratch_sum's mark of a NaN or infinite running sum

// kSumIeee: a sum format laid out as IEEE 754's binary formats (signed,
// subnormals, a zero, the largest exponent field for infinities and NaNs),
// as bf16, f16, tf32 and any fp32 of fewer mantissa bits are: those
// properties constant, its widths and bias read at run time (IeeeSum).
bool IsIeeeLike(const Format& f) {
  return IsFloat(f) && f.is_signed && f.inf == InfCodes::kIeee && f.nan == NanCodes::kIeee && f.has_subnormals &&
         f.has_zero && f.bits <= 32;
}

SumKind SumKindOf(const Format& sf) {
  if (SameArithmetic(sf, formats::kF32)) return kSumF32;
  if (SameArithmetic(sf, kH100Fp8SumFormat)) return kSumFp8;
  if (IsIeeeLike(sf)) return kSumIeee;
  return kSumRuntime;
}

// An IEEE-like sum format (IsIeeeLike) with the properties the kind fixes
// written as constants, so that the compiler folds the tests on them.
__device__ __forceinline__ Format IeeeSum(const Format& f) {
  Format s = f;
  s.kind = Kind::kFloat;
  s.is_signed = true;
  s.inf = InfCodes::kIeee;
  s.nan = NanCodes::kIeee;
  s.has_subnormals = true;
  s.has_zero = true;
  return s;
}

struct FixedGemmParams {
  Format in_a, in_b, acc, sf;
  DotModel model;  // sum_format, operand_format: re-pointed at sf, op inside the kernels
  bool has_sum_format;
  bool has_operand_format;
  Format op;  // the model's operand format (has_operand_format)
  Options opt;
  detail::FixedDotPlan plan;
  const uint32_t* a;
  const uint32_t* b;
  uint64_t* c;
  uint8_t* flags;
  uint8_t* row_special;
  uint8_t* col_special;
  size_t m, n, k;
  uint64_t first_index, per;
};

// Shared memory of one block (dynamic, over 48 KB).
struct FixedGemmShared {
  int32_t a_sig[kBK][kPadM], a_align[kBK][kPadM];
  int32_t b_sig[kBK][kBN], b_align[kBK][kBN];
  uint32_t s[kOutputs];      // running sums: codes of the sum format
  uint32_t outer[kOutputs];  // float32 accumulators
  uint8_t flags[kOutputs];
};

// A group's rounding for one output when FixedGroupRoundFast declines
// (zero, subnormal, overflowing or special sums, other rounding modes): the
// general FixedGroupRound and HardwareGroupDone, out of line.
__device__ __noinline__ void GroupSlow(const FixedGemmParams& p, const DotModel& model, FixedGemmShared& sh, int row,
                                       int col, int g0, int g1, uint64_t index, int32_t e, int32_t products_sum) {
  const int o = row * kBN + col;
  const Result r = detail::FixedGroupRound(p.plan, p.sf, sh.s[o], e, products_sum, p.opt, index, [&] {
    for (int kk = g0; kk < g1; ++kk)
      if (!detail::FixedProductIsNegativeZero(sh.a_sig[kk][row], sh.a_align[kk][row], sh.b_sig[kk][col],
                                              sh.b_align[kk][col]))
        return false;
    return true;
  });
  detail::HardwareState st;
  st.s = sh.s[o];
  st.flags = sh.flags[o];
  detail::HardwareGroupDone(model, p.sf, r, st);
  sh.s[o] = static_cast<uint32_t>(st.s);
  sh.flags[o] = st.flags;
}

// kUnroll: the K steps of a group unrolled (4 for exponent-sum alignment,
// as measured; see cuda/RESULTS.md).
// kSum, kRound: SumKind and the rounding mode (a Rounding, or
// kRoundRuntime); both constant or both run-time (LaunchFixedFor).
template <bool kLeading, int kUnroll, int kSum, int kRound>
__global__ void __launch_bounds__(kGemmThreads, 2) GemmFixedKernel(const FixedGemmParams p) {
  // With a sum format of a compile-time kind the group's rounding is
  // unrolled over the thread's outputs (measured 1.41x faster for h100-f16
  // at 4096^3 with a constant rounding mode too, the constant format alone
  // 1.31x; cuda/RESULTS.md); with a wholly run-time format the unrolled
  // format tests and call sites made it slower, so it loops.
  constexpr bool kRegisterRound = kSum != kSumRuntime;
  // Local copies (device code cannot take a host variable's address).
  constexpr Format kF32Sum = formats::kF32, kFp8Sum = kH100Fp8SumFormat;
  const Format sf = kSum == kSumF32 ? kF32Sum : kSum == kSumFp8 ? kFp8Sum : kSum == kSumIeee ? IeeeSum(p.sf) : p.sf;
  Options opt = p.opt;
  if constexpr (kRound != kRoundRuntime) opt.rounding = static_cast<Rounding>(kRound);  // what LaunchFixedFor checked
  extern __shared__ __align__(16) unsigned char smem_raw[];
  FixedGemmShared& sh = *reinterpret_cast<FixedGemmShared*>(smem_raw);
  int32_t* const scratch_e = reinterpret_cast<int32_t*>(smem_raw + sizeof(FixedGemmShared));
  int32_t* const scratch_sum = scratch_e + kOutputs;
  DotModel model = p.model;
  model.sum_format = p.has_sum_format ? &p.sf : nullptr;
  const Format* const op = p.has_operand_format ? &p.op : nullptr;
  model.operand_format = op;
  // The K order (hopper-mma-fp8's): K tile position kk holds the term
  // k0 + kk of the model's sequence, K position order.Position(k0 + kk);
  // positions >= k are the +0 padding of the last instruction
  // (FixedGemmTiles: instruction_k divides kBK, and K tiles start at
  // multiples of kBK). k_terms: the sequence's length.
  const KOrder order(model);
  const size_t k_terms = order.Length(p.k);
  // One code as the adder sees it (converted to the operand format, if
  // any), marking its row or column for GemmElement when it is a NaN or an
  // infinity or its conversion raised a flag (Dot ORs those into the
  // result).
  auto decode = [&](const Format& in, uint32_t code, int32_t mant_bits, int32_t shift, uint8_t* special) {
    uint8_t conversion_flags = 0;
    const detail::FixedOperand x =
        detail::FixedDecode(detail::OperandUnpack(in, code, op, opt, conversion_flags), mant_bits, shift, kLeading);
    if (x.special || conversion_flags != 0) *special = 1;
    return x;
  };
  const detail::FixedDotPlan plan = p.plan;
  const int tid = threadIdx.x, tx = tid % (kBN / kTN), ty = tid / (kBN / kTN);
  const size_t i0 = size_t{blockIdx.y} * kBM, j0 = size_t{blockIdx.x} * kBN;
  const size_t m = p.m, n = p.n, k = p.k;
  const uint32_t g = model.group ? model.group : 1;  // divides kBK
  auto out_index = [&](int t) { return (ty * kTM + t / kTN) * kBN + tx * kTN + t % kTN; };
  // The first stochastic index of output t's dot product: that of output
  // 0 plus t's row and column steps (small multiples of 64-bit numbers,
  // not a 64-bit product per output and group).
  const uint64_t first0 = p.first_index + ((i0 + ty * kTM) * n + j0 + tx * kTN) * p.per, row_step = n * p.per;
  auto first_of = [&](int t) { return first0 + uint64_t(t / kTN) * row_step + uint64_t(t % kTN) * p.per; };

  uint32_t inexact_mask = 0;  // the fast group step's inexact, bit t for output t (kRegisterRound)
  {
    const detail::HardwareState st0 = detail::HardwareStart(sf, opt);
    for (int t = 0; t < kTM * kTN; ++t) {
      const int o = out_index(t);
      sh.s[o] = static_cast<uint32_t>(st0.s);
      sh.outer[o] = static_cast<uint32_t>(st0.outer);
      sh.flags[o] = 0;
    }
  }

  uint64_t next_q = 0;  // the groups in K order (counted: (k0 + g0) / g is a 64-bit division per group)
  for (size_t k0 = 0; k0 < k_terms; k0 += kBK) {
    __syncthreads();  // the last tile's readers are done
    for (int u = tid; u < kBM * kBK; u += kGemmThreads) {
      const int r = u / kBK, kk = u % kBK;
      const size_t gi = i0 + r, gk = order.Position(k0 + kk);
      detail::FixedOperand x;
      if (gi < m && gk < k) x = decode(p.in_a, p.a[gi * k + gk], plan.mant_a, plan.a_shift, &p.row_special[gi]);
      sh.a_sig[kk][r] = x.sig;
      sh.a_align[kk][r] = x.align;
    }
    for (int u = tid; u < kBK * kBN; u += kGemmThreads) {
      const int kk = u / kBN, cidx = u % kBN;
      const size_t gk = order.Position(k0 + kk), gj = j0 + cidx;
      detail::FixedOperand y;
      if (gk < k && gj < n) y = decode(p.in_b, p.b[gk * n + gj], plan.mant_b, 0, &p.col_special[gj]);
      sh.b_sig[kk][cidx] = y.sig;
      sh.b_align[kk][cidx] = y.align;
    }
    __syncthreads();
    const int kt = k_terms - k0 < size_t{kBK} ? static_cast<int>(k_terms - k0) : kBK;
    for (int g0 = 0; g0 < kt; g0 += static_cast<int>(g)) {
      const int g1 = g0 + static_cast<int>(g) < kt ? g0 + static_cast<int>(g) : kt;
      const uint64_t q = next_q++;
      // Pass 1: the largest alignment exponent of each output's products.
      int32_t e[kTM * kTN];
#pragma unroll
      for (int t = 0; t < kTM * kTN; ++t) e[t] = detail::kFixedNoTerm;
#pragma unroll kUnroll
      for (int kk = g0; kk < g1; ++kk) {
        const int4 aa = *reinterpret_cast<const int4*>(&sh.a_align[kk][ty * kTM]);
        const int4 ba = *reinterpret_cast<const int4*>(&sh.b_align[kk][tx * kTN]);
        const int32_t al[4] = {aa.x, aa.y, aa.z, aa.w}, bl[4] = {ba.x, ba.y, ba.z, ba.w};
        int32_t as[4] = {0, 0, 0, 0}, bs[4] = {0, 0, 0, 0};
        if constexpr (kLeading) {
          const int4 av = *reinterpret_cast<const int4*>(&sh.a_sig[kk][ty * kTM]);
          const int4 bv = *reinterpret_cast<const int4*>(&sh.b_sig[kk][tx * kTN]);
          as[0] = av.x, as[1] = av.y, as[2] = av.z, as[3] = av.w;
          bs[0] = bv.x, bs[1] = bv.y, bs[2] = bv.z, bs[3] = bv.w;
        }
#pragma unroll
        for (int r = 0; r < kTM; ++r)
#pragma unroll
          for (int c = 0; c < kTN; ++c) {
            const int32_t x = detail::FixedProductAlign(plan, as[r], al[r], bs[c], bl[c]);
            e[r * kTN + c] = x > e[r * kTN + c] ? x : e[r * kTN + c];
          }
      }
      // e with the running sum; e + R for pass 2. With the rounding in
      // registers, the running sum is cut here, once e is known, rather than
      // decoded again after pass 2. The cut waits in registers (s_cut, and
      // s_special's bit t for a NaN or infinite sum), or in scratch_sum where
      // pass 2 is unrolled (kUnroll > 1: there, with more operands live, the
      // compiler spilled the cuts to local memory; kSpecialCut marks a NaN
      // or infinite sum, no cut is one: |cut| < 2^31).
      constexpr bool kCutInScratch = kUnroll > 1;
      int32_t s_cut[kTM * kTN];
      uint32_t s_special = 0;
#pragma unroll
      for (int t = 0; t < kTM * kTN; ++t) {
        const detail::FixedOperand s = detail::FixedDecodeCode(sf, sh.s[out_index(t)], plan.s_left, kLeading);
        e[t] = detail::FixedGroupExponent(e[t], detail::FixedAccumulatorAlign(s));
        if constexpr (kRegisterRound) {
          const int32_t cut = detail::FixedAccumulatorCut(plan, s, e[t]);
          if constexpr (kCutInScratch) {
            scratch_sum[out_index(t)] = s.special ? kSpecialCut : cut;
          } else {
            s_cut[t] = cut;
            s_special |= s.special ? 1u << t : 0u;
          }
        }
        e[t] += plan.right;
      }
      // Pass 2: the cut terms, summed.
      int32_t sum[kTM * kTN];
#pragma unroll
      for (int t = 0; t < kTM * kTN; ++t) sum[t] = 0;
#pragma unroll kUnroll
      for (int kk = g0; kk < g1; ++kk) {
        const int4 aa = *reinterpret_cast<const int4*>(&sh.a_align[kk][ty * kTM]);
        const int4 ba = *reinterpret_cast<const int4*>(&sh.b_align[kk][tx * kTN]);
        const int4 av = *reinterpret_cast<const int4*>(&sh.a_sig[kk][ty * kTM]);
        const int4 bv = *reinterpret_cast<const int4*>(&sh.b_sig[kk][tx * kTN]);
        const int32_t al[4] = {aa.x, aa.y, aa.z, aa.w}, bl[4] = {ba.x, ba.y, ba.z, ba.w};
        const int32_t as[4] = {av.x, av.y, av.z, av.w}, bs[4] = {bv.x, bv.y, bv.z, bv.w};
#pragma unroll
        for (int r = 0; r < kTM; ++r)
#pragma unroll
          for (int c = 0; c < kTN; ++c)
            sum[r * kTN + c] += detail::FixedProductTerm(as[r], al[r], bs[c], bl[c], e[r * kTN + c]);
      }
      if constexpr (kRegisterRound) {
        // The group's rounding over the thread's 16 outputs unrolled, e and
        // the cut sum in registers: the common case inline (constant sum
        // format and rounding: no call sites), the outputs it declines
        // collected in a mask and done afterwards out of line.
        // The fast step raises inexact at most: one bit per output here,
        // into the flags at the end.
        uint32_t slow = 0;
        const uint64_t group_offset = IsStochastic(opt.rounding) ? detail::HardwareGroupOffset(model, q) : 0;
#pragma unroll
        for (int t = 0; t < kTM * kTN; ++t) {
          const int o = out_index(t);
          // The stochastic index (under stochastic rounding only; folded
          // away otherwise).
          const uint64_t index = IsStochastic(opt.rounding) ? first_of(t) + group_offset : 0;
          Result r;
          const int32_t cut = kCutInScratch ? scratch_sum[o] : s_cut[t];
          const bool special = kCutInScratch ? cut == kSpecialCut : ((s_special >> t) & 1) != 0;
          if (detail::FixedGroupRoundFast(plan, sf, special, cut, e[t] - plan.right, sum[t], opt, index, r)) {
            sh.s[o] = static_cast<uint32_t>(r.code);
            inexact_mask |= r.flags != 0 ? 1u << t : 0u;
          } else {
            slow |= 1u << t;
            scratch_e[o] = e[t] - plan.right;
            scratch_sum[o] = sum[t];
          }
        }
#pragma unroll 1
        for (; slow != 0; slow &= slow - 1) {
          const int t = __ffs(slow) - 1;
          const int row = ty * kTM + t / kTN, col = tx * kTN + t % kTN, o = row * kBN + col;
          const size_t gi = i0 + row, gj = j0 + col;
          if (gi >= m || gj >= n) continue;
          const uint64_t base = p.first_index + (gi * n + gj) * p.per;
          GroupSlow(p, model, sh, row, col, g0, g1, detail::HardwareGroupIndex(model, base, q), scratch_e[o],
                    scratch_sum[o]);
        }
      } else {
        // The group's rounding, one output at a time (e and the cut sum go
        // through shared memory): the common case inline, the rest out of
        // line. (Unrolled over the 16 outputs instead, with the run-time
        // format's tests and the slow path's call sites inside, it measured
        // 1.4-1.6x slower.)
#pragma unroll
        for (int t = 0; t < kTM * kTN; ++t) {
          scratch_e[out_index(t)] = e[t] - plan.right;
          scratch_sum[out_index(t)] = sum[t];
        }
#pragma unroll 1
        for (int t = 0; t < kTM * kTN; ++t) {
          const int row = ty * kTM + t / kTN, col = tx * kTN + t % kTN, o = row * kBN + col;
          const size_t gi = i0 + row, gj = j0 + col;
          if (gi >= m || gj >= n) continue;
          const uint64_t base = p.first_index + (gi * n + gj) * p.per;
          const detail::FixedOperand s = detail::FixedDecodeCode(sf, sh.s[o], plan.s_left, kLeading);
          Result r;
          const uint64_t index = detail::HardwareGroupIndex(model, base, q);
          if (!detail::FixedGroupRoundFast(plan, sf, s.special, detail::FixedAccumulatorCut(plan, s, scratch_e[o]),
                                           scratch_e[o], scratch_sum[o], opt, index, r)) {
            GroupSlow(p, model, sh, row, col, g0, g1, index, scratch_e[o], scratch_sum[o]);
            continue;
          }
          sh.s[o] = static_cast<uint32_t>(r.code);
          sh.flags[o] |= r.flags;
        }
      }
      if (detail::HardwarePromotionDue(model, q)) {
#pragma unroll 1
        for (int t = 0; t < kTM * kTN; ++t) {
          const int o = out_index(t);
          const size_t gi = i0 + ty * kTM + t / kTN, gj = j0 + tx * kTN + t % kTN;
          if (gi >= m || gj >= n) continue;
          const uint64_t base = p.first_index + (gi * n + gj) * p.per;
          detail::HardwareState st;
          st.s = sh.s[o];
          st.outer = sh.outer[o];
          st.flags = sh.flags[o];
          detail::HardwarePromote(model, sf, opt, detail::HardwareGroupIndex(model, base, q) + 1, st);
          sh.s[o] = static_cast<uint32_t>(st.s);
          sh.outer[o] = static_cast<uint32_t>(st.outer);
          sh.flags[o] = st.flags;
        }
      }
    }
  }

  const uint64_t groups = (k_terms + g - 1) / g;
#pragma unroll 1
  for (int t = 0; t < kTM * kTN; ++t) {
    const int o = out_index(t);
    if (inexact_mask & (1u << t)) sh.flags[o] |= kInexact;
    const size_t gi = i0 + ty * kTM + t / kTN, gj = j0 + tx * kTN + t % kTN;
    if (gi >= m || gj >= n) continue;
    detail::HardwareState st;
    st.s = sh.s[o];
    st.outer = sh.outer[o];
    st.flags = sh.flags[o];
    const Result r =
        detail::HardwareFinish(model, sf, p.acc, opt, p.first_index + (gi * n + gj) * p.per, groups, st);
    p.c[gi * n + gj] = r.code;
    if (p.flags) p.flags[gi * n + gj] = r.flags;
  }
}

// The dot products whose row of A or column of B holds a NaN or an
// infinity, by emulate/dot.h's GemmElement.
__global__ void GemmSpecialKernel(const FixedGemmParams p) {
  const size_t j = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const size_t i = size_t{blockIdx.y} * blockDim.y + threadIdx.y;
  if (i >= p.m || j >= p.n || !(p.row_special[i] | p.col_special[j])) return;
  DotModel model = p.model;
  model.sum_format = p.has_sum_format ? &p.sf : nullptr;
  model.operand_format = p.has_operand_format ? &p.op : nullptr;
  const Result r = GemmElement(p.in_a, p.a, p.in_b, p.b, i, j, p.n, p.k, p.acc, model, p.opt, p.first_index, p.per);
  p.c[i * p.n + j] = r.code;
  if (p.flags) p.flags[i * p.n + j] = r.flags;
}

template <bool kLeading, int kUnroll, int kSum, int kRound>
void LaunchFixed(const FixedGemmParams& p) {
  auto kernel = GemmFixedKernel<kLeading, kUnroll, kSum, kRound>;
  constexpr size_t kSmem = sizeof(FixedGemmShared) + 2 * kOutputs * sizeof(int32_t);
  static const bool attributes_set = [&] {
    Check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(kSmem)),
              "cudaFuncSetAttribute");
    return true;
  }();
  (void)attributes_set;
  const dim3 grid(static_cast<unsigned>((p.n + kBN - 1) / kBN), static_cast<unsigned>((p.m + kBM - 1) / kBM));
  kernel<<<grid, kGemmThreads, kSmem>>>(p);
  Check(cudaGetLastError(), "GemmFixedKernel");
}

// A sum format of a compile-time kind: the rounding mode a constant too
// for the H100 presets' round toward zero, rne and sr (the modes whose
// speed the measurements in cuda/RESULTS.md rest on), read at run time for
// the others (rdn, rup, rna, rto, sr-eq: one switch per rounding, in the
// same unrolled group step). Kernels are compiled per (alignment, kind,
// mode), so every constant here costs build time.
template <bool kLeading, int kUnroll, int kSum>
void LaunchFixedRounding(const FixedGemmParams& p) {
  switch (p.opt.rounding) {
    case Rounding::kTowardZero:
      LaunchFixed<kLeading, kUnroll, kSum, static_cast<int>(Rounding::kTowardZero)>(p);
      return;
    case Rounding::kNearestEven:
      LaunchFixed<kLeading, kUnroll, kSum, static_cast<int>(Rounding::kNearestEven)>(p);
      return;
    case Rounding::kStochastic:
      LaunchFixed<kLeading, kUnroll, kSum, static_cast<int>(Rounding::kStochastic)>(p);
      return;
    default: LaunchFixed<kLeading, kUnroll, kSum, kRoundRuntime>(p); return;
  }
}

template <bool kLeading, int kUnroll>
void LaunchFixedFor(const FixedGemmParams& p) {
  switch (SumKindOf(p.sf)) {
    case kSumF32: LaunchFixedRounding<kLeading, kUnroll, kSumF32>(p); return;
    case kSumFp8: LaunchFixedRounding<kLeading, kUnroll, kSumFp8>(p); return;
    case kSumIeee: LaunchFixedRounding<kLeading, kUnroll, kSumIeee>(p); return;
    case kSumRuntime: LaunchFixed<kLeading, kUnroll, kSumRuntime, kRoundRuntime>(p); return;
  }
}

}  // namespace

bool GemmFixedPointApplies(const Format& in_a, const Format& in_b, const Format& acc, const DotModel& model,
                           size_t m, size_t n, size_t k) {
  const Format& sf = model.sum_format ? *model.sum_format : acc;
  if (k == 0 || m == 0 || n == 0 || !IsFloat(acc) || !acc.has_zero) return false;
  if (!detail::FixedGemmTiles(model, kBK)) return false;  // a K order whose instructions do not tile kBK
  if ((m + kBM - 1) / kBM > 65535) return false;
  const uint32_t g = model.group ? model.group : 1;
  if (kBK % g != 0) return false;
  const Format& fa = model.operand_format ? *model.operand_format : in_a;
  const Format& fb = model.operand_format ? *model.operand_format : in_b;
  return detail::MakeFixedDotPlan(fa, fb, sf, model).ok;
}

bool GemmFixedPoint(const Format& in_a, const uint32_t* d_a, const Format& in_b, const uint32_t* d_b, size_t m,
                    size_t n, size_t k, const Format& acc, const DotModel& model, uint64_t* d_c, uint8_t* d_flags,
                    const Options& opt, uint64_t first_index) {
  if (!GemmFixedPointApplies(in_a, in_b, acc, model, m, n, k)) return false;
  FixedGemmParams p{};
  p.in_a = in_a;
  p.in_b = in_b;
  p.acc = acc;
  p.has_sum_format = model.sum_format != nullptr;
  p.sf = p.has_sum_format ? *model.sum_format : acc;
  p.model = model;
  p.has_operand_format = model.operand_format != nullptr;
  if (p.has_operand_format) p.op = *model.operand_format;
  p.model.sum_format = nullptr;  // host pointers: the kernels re-point them
  p.model.operand_format = nullptr;
  p.opt = opt;
  p.plan = detail::MakeFixedDotPlan(p.has_operand_format ? p.op : in_a, p.has_operand_format ? p.op : in_b, p.sf,
                                    model);
  p.a = d_a;
  p.b = d_b;
  p.c = d_c;
  p.flags = d_flags;
  p.m = m;
  p.n = n;
  p.k = k;
  p.first_index = first_index;
  p.per = RoundingsPerDot(model, k);
  void* special = nullptr;
  Check(cudaMallocAsync(&special, m + n, 0), "cudaMallocAsync");
  Check(cudaMemsetAsync(special, 0, m + n, 0), "cudaMemsetAsync");
  p.row_special = static_cast<uint8_t*>(special);
  p.col_special = p.row_special + m;
  if (p.plan.leading) LaunchFixedFor<true, 1>(p);
  else LaunchFixedFor<false, 4>(p);
  const dim3 block(16, 16);
  const dim3 grid(static_cast<unsigned>((n + 15) / 16), static_cast<unsigned>((m + 15) / 16));
  GemmSpecialKernel<<<grid, block>>>(p);
  Check(cudaGetLastError(), "GemmSpecialKernel");
  Check(cudaFreeAsync(special, 0), "cudaFreeAsync");
  return true;
}

}  // namespace floatscope::gpu
