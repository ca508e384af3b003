// The emulated GEMM's fixed-point path for kBlock and kExact (cuda/gpu.h
// GemmBlockFixed): narrow inputs (FP8 E4M3, FP6, FP4: every value an
// integer multiple of 2^LowestBit below 2^31 of them) with a float32
// accumulator, every rounding mode. This file is tiling and launch
// plumbing; the model's roundings are the core's:
//
//   - a value of A is A' * 2^qa with A' a signed integer (|A'| < 2^wa,
//     qa = LowestBit(in_a), wa = TopBit - LowestBit), likewise B; every
//     product is A' B' * 2^(qa + qb), exactly, and so is every block sum,
//     in an int64: K products and the accumulator stay below 2^62
//     (wa + wb + ceil(log2 K) + 1 <= 62, the one bit for the roundings'
//     growth, at most (1 + 2^-23)^K < 2 for K < 2^22);
//   - the accumulator s (float32) is always a multiple of 2^(qa + qb): it
//     is a rounding of such a multiple, exact when it fits 24 bits, else a
//     multiple of its own ulp, which is larger; so s + the block's products
//     is the int64 v * 2^(qa + qb) exactly, as the long accumulator of
//     emulate/dot.h holds it;
//   - a block's rounding is the core's: RoundNormalFast (emulate/
//     dot_hardware.h, every mode, stochastic bits by the rounding's index)
//     for a nonzero sum, which is never tiny (|v| * 2^(qa + qb) >= 2^-126)
//     nor overflowing (below 2^62 * 2^(qa + qb)); the only flag is inexact.
//     A block whose sum is exactly zero (its sign needs the terms' signs of
//     zero) makes the whole dot product go to GemmElement, as do the rows
//     and columns with a NaN or an infinity.
//
// 16-bit inputs (f16, bf16: the wide variant, gemm_block_fixed.h) take the
// same steps with A' * 2^q_i for row i (q_i its lowest set bit, |A'| <
// 2^40), B likewise by column, g = q_i + q_j per output, and the sum in
// three int64 limbs (weights 2^40, 2^20, 1), read as one 128-bit integer at
// each rounding. The same argument holds with g per output: s is a multiple
// of 2^g; a sum that is tiny or overflows in float32 (RoundNormalFast
// declines it) sends its dot product to GemmElement, as do rows and columns
// whose values span 40 bits or more (never for f16: 2^-24 to 2^16).
//
// Tiling: A and B are first converted into their integers A', B'
// (BlockDecodeKernel; WideRangeKernel, then WideDecodeKernel); a block
// computes 64 x 64 outputs with 256 threads of 4 x 4, K tiles of 32
// integers in shared memory, one IMAD.WIDE per product and output (four,
// wide); at the end of each of the model's blocks the roundings of the
// thread's 16 outputs.
#include <cuda_runtime.h>

#include <string>

#include "cuda/gemm_block_fixed.h"
#include "cuda/check.cuh"
#include "cuda/gpu.h"
#include "emulate/dot.h"
#include "emulate/dot_exact_sum.h"
#include "emulate/dot_hardware.h"
#include "formats/catalog.h"

namespace floatscope::gpu {

namespace {

constexpr int kBM = 64, kBN = 64, kBK = 32, kTM = 4, kTN = 4;
constexpr int kThreads = (kBM / kTM) * (kBN / kTN);  // 256
constexpr int kPadM = kBM + 4;

struct BlockGemmParams {
  Format in_a, in_b, acc, sf;
  DotModel model;  // sum_format: re-pointed at sf inside the fix-up kernel
  bool has_sum_format;
  Options opt;
  int32_t qa, qb;      // LowestBit of in_a, in_b
  uint64_t block;      // products per rounding (kExact: K)
  const uint32_t* a;
  const uint32_t* b;
  int32_t* ia;  // A and B as the integers A', B' (narrow)
  int32_t* ib;
  int64_t* wa;  // the same, wide: by the rows' and columns' q
  int64_t* wb;
  int32_t* row_q;  // wide: q of each row of A, column of B
  int32_t* col_q;
  uint64_t* c;
  uint8_t* flags;
  uint8_t* row_special;
  uint8_t* col_special;
  uint8_t* redo;  // m x n: a zero block sum
  size_t m, n, k;
  uint64_t first_index, per;
};

// A and B into integers, the rows and columns with a NaN or an infinity
// marked.
__global__ void BlockDecodeKernel(const BlockGemmParams p) {
  const size_t total_a = p.m * p.k, total = total_a + p.k * p.n;
  for (size_t u = size_t{blockIdx.x} * blockDim.x + threadIdx.x; u < total; u += size_t{gridDim.x} * blockDim.x) {
    bool special = false;
    if (u < total_a) {
      const Unpacked x = Unpack(p.in_a, p.a[u], p.opt.flush_input);
      special = x.cls == Class::kNan || x.cls == Class::kInf;
      p.ia[u] = BlockFixedInteger(x, p.qa);
      if (special) p.row_special[u / p.k] = 1;
    } else {
      const size_t v = u - total_a;
      const Unpacked y = Unpack(p.in_b, p.b[v], p.opt.flush_input);
      special = y.cls == Class::kNan || y.cls == Class::kInf;
      p.ib[v] = BlockFixedInteger(y, p.qb);
      if (special) p.col_special[v % p.n] = 1;
    }
  }
}

// The wide variant's ranges (gemm_block_fixed.h): q of each row of A and
// column of B, the lowest set bit among its values; the rows and columns
// with a NaN or an infinity, or too wide a span of set bits, marked. A warp
// per row of A, a thread per column of B (both reads coalesced).
__global__ void WideRangeKernel(const BlockGemmParams p) {
  const size_t warps = size_t{gridDim.x} * blockDim.x / 32;
  const size_t warp = (size_t{blockIdx.x} * blockDim.x + threadIdx.x) / 32;
  const unsigned lane = threadIdx.x % 32;
  for (size_t w = warp; w < p.m + (p.n + 31) / 32; w += warps) {
    int32_t lowest = INT32_MAX, highest = INT32_MIN;
    bool special = false;
    if (w < p.m) {
      for (size_t kk = lane; kk < p.k; kk += 32) {
        const Unpacked x = Unpack(p.in_a, p.a[w * p.k + kk], p.opt.flush_input);
        special |= x.cls == Class::kNan || x.cls == Class::kInf;
        if (x.cls == Class::kFinite) lowest = min(lowest, LowestSetBit(x)), highest = max(highest, HighestSetBit(x));
      }
    } else {  // 32 columns of B per warp
      const size_t j = (w - p.m) * 32 + lane;
      if (j < p.n)
        for (size_t kk = 0; kk < p.k; ++kk) {
          const Unpacked y = Unpack(p.in_b, p.b[kk * p.n + j], p.opt.flush_input);
          special |= y.cls == Class::kNan || y.cls == Class::kInf;
          if (y.cls == Class::kFinite) lowest = min(lowest, LowestSetBit(y)), highest = max(highest, HighestSetBit(y));
        }
    }
    if (w < p.m) {
      lowest = __reduce_min_sync(0xffffffffu, lowest);
      highest = __reduce_max_sync(0xffffffffu, highest);
      special = __any_sync(0xffffffffu, special);
      if (lane == 0) {
        p.row_q[w] = lowest == INT32_MAX ? 0 : lowest;
        p.row_special[w] = special || (lowest != INT32_MAX && !BlockWideRowFits(lowest, highest));
      }
    } else {
      const size_t j = (w - p.m) * 32 + lane;
      if (j < p.n) {
        p.col_q[j] = lowest == INT32_MAX ? 0 : lowest;
        p.col_special[j] = special || (lowest != INT32_MAX && !BlockWideRowFits(lowest, highest));
      }
    }
  }
}

// A and B into the wide integers A', B' by their rows' and columns' q (0 in
// the marked ones).
__global__ void WideDecodeKernel(const BlockGemmParams p) {
  const size_t total_a = p.m * p.k, total = total_a + p.k * p.n;
  for (size_t u = size_t{blockIdx.x} * blockDim.x + threadIdx.x; u < total; u += size_t{gridDim.x} * blockDim.x) {
    if (u < total_a) {
      const size_t i = u / p.k;
      p.wa[u] = p.row_special[i] ? 0 : BlockWideInteger(Unpack(p.in_a, p.a[u], p.opt.flush_input), p.row_q[i]);
    } else {
      const size_t v = u - total_a, j = v % p.n;
      p.wb[v] = p.col_special[j] ? 0 : BlockWideInteger(Unpack(p.in_b, p.b[v], p.opt.flush_input), p.col_q[j]);
    }
  }
}

// The products and the roundings. kWide: three limbs per output (a1 b1,
// a1 b0 + a0 b1, a0 b0), the exponent g per output from its row's and
// column's q; else one int64 and g = qa + qb.
// The wide variant writes its outputs at the last rounding (the limbs take
// 96 registers, none left to keep them in); the narrow one keeps them.
template <bool kWide>
__global__ void __launch_bounds__(kThreads, kWide ? 1 : 2) GemmBlockKernel(const BlockGemmParams p) {
  constexpr int kLimbs = kWide ? 2 : 1;  // int32 limbs per value in shared memory
  __shared__ __align__(16) int32_t as[kLimbs][kBK][kPadM];
  __shared__ __align__(16) int32_t bs[kLimbs][kBK][kBN];
  const Options opt = p.opt;
  const int tid = threadIdx.x, tx = tid % (kBN / kTN), ty = tid / (kBN / kTN);
  const size_t i0 = size_t{blockIdx.y} * kBM, j0 = size_t{blockIdx.x} * kBN;
  const size_t m = p.m, n = p.n, k = p.k;
  int64_t v[kTM * kTN];                       // narrow: the sum; wide: the limb of weight 1
  int64_t vm[kWide ? kTM * kTN : 1];          // wide: weight 2^20
  int64_t vh[kWide ? kTM * kTN : 1];          // wide: weight 2^40
  uint32_t s[kWide ? 1 : kTM * kTN];       // narrow: the results
  uint32_t inexact = 0, redo = 0;  // bit t: output t
#pragma unroll
  for (int t = 0; t < kTM * kTN; ++t) {
    v[t] = 0;
    if constexpr (kWide) vm[t] = vh[t] = 0;
    else s[t] = 0;  // +0
  }
  // Value x of the tile (its limbs for kWide: a1 in [1], a0 in [0]).
  auto split = [](int64_t x, int32_t* limb0, int32_t* limb1) {
    *limb0 = static_cast<int32_t>(x & ((int64_t{1} << kBlockLimbBits) - 1));
    *limb1 = static_cast<int32_t>(x >> kBlockLimbBits);
  };
  auto products = [&](int x) {
    const int4 av = *reinterpret_cast<const int4*>(&as[0][x][ty * kTM]);
    const int4 bv = *reinterpret_cast<const int4*>(&bs[0][x][tx * kTN]);
    const int32_t ar[4] = {av.x, av.y, av.z, av.w}, br[4] = {bv.x, bv.y, bv.z, bv.w};
    if constexpr (kWide) {
      const int4 ah = *reinterpret_cast<const int4*>(&as[kLimbs - 1][x][ty * kTM]);
      const int4 bh = *reinterpret_cast<const int4*>(&bs[kLimbs - 1][x][tx * kTN]);
      const int32_t arh[4] = {ah.x, ah.y, ah.z, ah.w}, brh[4] = {bh.x, bh.y, bh.z, bh.w};
#pragma unroll
      for (int r = 0; r < kTM; ++r)
#pragma unroll
        for (int c = 0; c < kTN; ++c) {
          v[r * kTN + c] += static_cast<int64_t>(ar[r]) * br[c];
          vm[r * kTN + c] += static_cast<int64_t>(arh[r]) * br[c];
          vm[r * kTN + c] += static_cast<int64_t>(ar[r]) * brh[c];
          vh[r * kTN + c] += static_cast<int64_t>(arh[r]) * brh[c];
        }
    } else {
#pragma unroll
      for (int r = 0; r < kTM; ++r)
#pragma unroll
        for (int c = 0; c < kTN; ++c) v[r * kTN + c] += static_cast<int64_t>(ar[r]) * br[c];
    }
  };
  uint64_t left = p.block;  // products until the current block's rounding
  uint64_t block_no = 0;
  for (size_t k0 = 0; k0 < k; k0 += kBK) {
    __syncthreads();
    for (int u = tid; u < kBM * kBK; u += kThreads) {
      const int r = u / kBK, kk = u % kBK;
      const size_t gi = i0 + r, gk = k0 + kk;
      const bool in = gi < m && gk < k;
      if constexpr (kWide) split(in ? p.wa[gi * k + gk] : 0, &as[0][kk][r], &as[kLimbs - 1][kk][r]);
      else as[0][kk][r] = in ? p.ia[gi * k + gk] : 0;
    }
    for (int u = tid; u < kBK * kBN; u += kThreads) {
      const int kk = u / kBN, c = u % kBN;
      const size_t gk = k0 + kk, gj = j0 + c;
      const bool in = gk < k && gj < n;
      if constexpr (kWide) split(in ? p.wb[gk * n + gj] : 0, &bs[0][kk][c], &bs[kLimbs - 1][kk][c]);
      else bs[0][kk][c] = in ? p.ib[gk * n + gj] : 0;
    }
    __syncthreads();
    const int kt = k - k0 < size_t{kBK} ? static_cast<int>(k - k0) : kBK;
    for (int kk = 0; kk < kt;) {
      // The products up to the tile's end or the block's, whichever is first.
      const int run = left < static_cast<uint64_t>(kt - kk) ? static_cast<int>(left) : kt - kk;
      const int end = kk + run;
      if (run == kBK) {
#pragma unroll 8
        for (int x = 0; x < kBK; ++x) products(x);
      } else {
#pragma unroll 4
        for (int x = kk; x < end; ++x) products(x);
      }
      kk = end;
      left -= static_cast<uint64_t>(run);
      if (left == 0 || k0 + kk == k) {
        // The block's rounding, output by output (the core's steps).
#pragma unroll
        for (int t = 0; t < kTM * kTN; ++t) {
          const size_t gi = i0 + ty * kTM + t / kTN, gj = j0 + tx * kTN + t % kTN;
          const bool out = gi < m && gj < n;
          const uint64_t index = p.first_index + (gi * n + gj) * p.per + block_no;
          Result r{0, 0};
          if constexpr (kWide) {
            const int32_t g = out ? p.row_q[gi] + p.col_q[gj] : 0;
            if (!BlockRoundWide(BlockWideValue(vh[t], vm[t], v[t]), g, opt, index, r)) redo |= 1u << t;
            BlockWideLimbs(BlockF32AsWide(static_cast<uint32_t>(r.code), g), vh[t], vm[t], v[t]);
          } else {
            const int32_t g = p.qa + p.qb;
            if (!BlockRound(v[t], g, opt, index, r)) redo |= 1u << t;
            v[t] = BlockF32AsFixed(static_cast<uint32_t>(r.code), g);
            s[t] = static_cast<uint32_t>(r.code);
          }
          inexact |= r.flags != 0 ? 1u << t : 0u;
          if (kWide && out && k0 + kk == k) {  // the last rounding: the result
            p.c[gi * n + gj] = r.code;
            if (p.flags) p.flags[gi * n + gj] = (inexact >> t) & 1 ? kInexact : 0;
            p.redo[gi * n + gj] = (redo >> t) & 1;
          }
        }
        left = p.block;
        ++block_no;
      }
    }
  }
  if constexpr (!kWide) {
#pragma unroll
    for (int t = 0; t < kTM * kTN; ++t) {
      const size_t gi = i0 + ty * kTM + t / kTN, gj = j0 + tx * kTN + t % kTN;
      if (gi >= m || gj >= n) continue;
      p.c[gi * n + gj] = s[t];
      if (p.flags) p.flags[gi * n + gj] = (inexact >> t) & 1 ? kInexact : 0;
      p.redo[gi * n + gj] = (redo >> t) & 1;
    }
  }
}

// The dot products with a NaN or an infinity in their row or column, or a
// zero block sum, by emulate/dot.h's GemmElement.
__global__ void GemmBlockFixupKernel(const BlockGemmParams p) {
  const size_t j = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const size_t i = size_t{blockIdx.y} * blockDim.y + threadIdx.y;
  if (i >= p.m || j >= p.n || !(p.row_special[i] | p.col_special[j] | p.redo[i * p.n + j])) return;
  DotModel model = p.model;
  model.sum_format = p.has_sum_format ? &p.sf : nullptr;
  const Result r = GemmElement(p.in_a, p.a, p.in_b, p.b, i, j, p.n, p.k, p.acc, model, p.opt, p.first_index, p.per);
  p.c[i * p.n + j] = r.code;
  if (p.flags) p.flags[i * p.n + j] = r.flags;
}

}  // namespace

bool GemmBlockFixedApplies(const Format& in_a, const Format& in_b, const Format& acc, const DotModel& model,
                           size_t m, size_t n, size_t k) {
  if (model.accumulation != Accumulation::kBlock && model.accumulation != Accumulation::kExact) return false;
  if (model.accumulation == Accumulation::kBlock && model.block == 0) return false;
  if (!detail::TakesCodesInOrder(model)) return false;  // an operand conversion or a K order: GemmGeneral
  if (m == 0 || n == 0 || (m + kBM - 1) / kBM > 65535) return false;
  return BlockFixedFits(in_a, in_b, acc, k) || BlockWideFits(in_a, in_b, acc, k);
}

bool GemmBlockFixed(const Format& in_a, const uint32_t* d_a, const Format& in_b, const uint32_t* d_b, size_t m,
                    size_t n, size_t k, const Format& acc, const DotModel& model, uint64_t* d_c, uint8_t* d_flags,
                    const Options& opt, uint64_t first_index) {
  if (!GemmBlockFixedApplies(in_a, in_b, acc, model, m, n, k)) return false;
  const bool wide = !BlockFixedFits(in_a, in_b, acc, k);
  BlockGemmParams p{};
  p.in_a = in_a;
  p.in_b = in_b;
  p.acc = acc;
  p.has_sum_format = model.sum_format != nullptr;
  p.sf = p.has_sum_format ? *model.sum_format : acc;
  p.model = model;
  p.model.sum_format = nullptr;  // a host pointer: the fix-up kernel re-points it
  p.opt = opt;
  p.qa = detail::LowestBit(in_a);
  p.qb = detail::LowestBit(in_b);
  p.block = model.accumulation == Accumulation::kExact ? k : model.block;
  p.a = d_a;
  p.b = d_b;
  p.c = d_c;
  p.flags = d_flags;
  p.m = m;
  p.n = n;
  p.k = k;
  p.first_index = first_index;
  p.per = RoundingsPerDot(model, k);
  void* scratch = nullptr;
  const size_t values = (m + n) * k;
  const size_t value_bytes = values * (wide ? sizeof(int64_t) : sizeof(int32_t));
  const size_t q_bytes = wide ? (m + n) * sizeof(int32_t) : 0;
  Check(cudaMallocAsync(&scratch, value_bytes + q_bytes + m + n + m * n, 0), "cudaMallocAsync");
  char* at = static_cast<char*>(scratch);
  if (wide) {
    p.wa = reinterpret_cast<int64_t*>(at);
    p.wb = p.wa + m * k;
  } else {
    p.ia = reinterpret_cast<int32_t*>(at);
    p.ib = p.ia + m * k;
  }
  at += value_bytes;
  p.row_q = reinterpret_cast<int32_t*>(at);
  p.col_q = p.row_q + m;
  at += q_bytes;
  p.row_special = reinterpret_cast<uint8_t*>(at);
  p.col_special = p.row_special + m;
  p.redo = p.col_special + n;
  Check(cudaMemsetAsync(p.row_special, 0, m + n, 0), "cudaMemsetAsync");
  const unsigned decode_blocks = static_cast<unsigned>((values + 255) / 256 < 4096 ? (values + 255) / 256 : 4096);
  const dim3 grid(static_cast<unsigned>((n + kBN - 1) / kBN), static_cast<unsigned>((m + kBM - 1) / kBM));
  if (wide) {
    const size_t range_warps = m + (n + 31) / 32;
    WideRangeKernel<<<static_cast<unsigned>((range_warps + 7) / 8), 256>>>(p);
    Check(cudaGetLastError(), "WideRangeKernel");
    WideDecodeKernel<<<decode_blocks, 256>>>(p);
    Check(cudaGetLastError(), "WideDecodeKernel");
    GemmBlockKernel<true><<<grid, kThreads>>>(p);
  } else {
    BlockDecodeKernel<<<decode_blocks, 256>>>(p);
    Check(cudaGetLastError(), "BlockDecodeKernel");
    GemmBlockKernel<false><<<grid, kThreads>>>(p);
  }
  Check(cudaGetLastError(), "GemmBlockKernel");
  const dim3 block(16, 16);
  const dim3 fix_grid(static_cast<unsigned>((n + 15) / 16), static_cast<unsigned>((m + 15) / 16));
  GemmBlockFixupKernel<<<fix_grid, block>>>(p);
  Check(cudaGetLastError(), "GemmBlockFixupKernel");
  Check(cudaFreeAsync(scratch, 0), "cudaFreeAsync");
  return true;
}

}  // namespace floatscope::gpu
