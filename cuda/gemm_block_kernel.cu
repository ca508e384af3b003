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
// Tiling: A and B are first converted into their integers A', B'
// (BlockDecodeKernel); a block computes 64 x 64 outputs with 256 threads of
// 4 x 4, K tiles of 32 integers in shared memory, one IMAD.WIDE per product and
// output; at the end of each of the model's blocks the roundings of the
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
  int32_t* ia;  // A and B as the integers A', B'
  int32_t* ib;
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

__global__ void __launch_bounds__(kThreads, 2) GemmBlockKernel(const BlockGemmParams p) {
  __shared__ __align__(16) int32_t as[kBK][kPadM];
  __shared__ __align__(16) int32_t bs[kBK][kBN];
  const Options opt = p.opt;
  const int32_t g = p.qa + p.qb;
  const int tid = threadIdx.x, tx = tid % (kBN / kTN), ty = tid / (kBN / kTN);
  const size_t i0 = size_t{blockIdx.y} * kBM, j0 = size_t{blockIdx.x} * kBN;
  const size_t m = p.m, n = p.n, k = p.k;
  int64_t v[kTM * kTN];
  uint32_t s[kTM * kTN];
  uint32_t inexact = 0, redo = 0;  // bit t: output t
#pragma unroll
  for (int t = 0; t < kTM * kTN; ++t) v[t] = 0, s[t] = 0;  // s = +0
  uint64_t left = p.block;  // products until the current block's rounding
  uint64_t block_no = 0;
  for (size_t k0 = 0; k0 < k; k0 += kBK) {
    __syncthreads();
    for (int u = tid; u < kBM * kBK; u += kThreads) {
      const int r = u / kBK, kk = u % kBK;
      const size_t gi = i0 + r, gk = k0 + kk;
      as[kk][r] = gi < m && gk < k ? p.ia[gi * k + gk] : 0;
    }
    for (int u = tid; u < kBK * kBN; u += kThreads) {
      const int kk = u / kBN, c = u % kBN;
      const size_t gk = k0 + kk, gj = j0 + c;
      bs[kk][c] = gk < k && gj < n ? p.ib[gk * n + gj] : 0;
    }
    __syncthreads();
    const int kt = k - k0 < size_t{kBK} ? static_cast<int>(k - k0) : kBK;
    for (int kk = 0; kk < kt;) {
      // The products up to the tile's end or the block's, whichever is first.
      const int run = left < static_cast<uint64_t>(kt - kk) ? static_cast<int>(left) : kt - kk;
      const int end = kk + run;
      if (run == kBK) {
#pragma unroll 8
        for (int x = 0; x < kBK; ++x) {
          const int4 av = *reinterpret_cast<const int4*>(&as[x][ty * kTM]);
          const int4 bv = *reinterpret_cast<const int4*>(&bs[x][tx * kTN]);
          const int32_t ar[4] = {av.x, av.y, av.z, av.w}, br[4] = {bv.x, bv.y, bv.z, bv.w};
#pragma unroll
          for (int r = 0; r < kTM; ++r)
#pragma unroll
            for (int c = 0; c < kTN; ++c) v[r * kTN + c] += static_cast<int64_t>(ar[r]) * br[c];
        }
      } else {
#pragma unroll 4
        for (int x = kk; x < end; ++x) {
          const int4 av = *reinterpret_cast<const int4*>(&as[x][ty * kTM]);
          const int4 bv = *reinterpret_cast<const int4*>(&bs[x][tx * kTN]);
          const int32_t ar[4] = {av.x, av.y, av.z, av.w}, br[4] = {bv.x, bv.y, bv.z, bv.w};
#pragma unroll
          for (int r = 0; r < kTM; ++r)
#pragma unroll
            for (int c = 0; c < kTN; ++c) v[r * kTN + c] += static_cast<int64_t>(ar[r]) * br[c];
        }
      }
      kk = end;
      left -= static_cast<uint64_t>(run);
      if (left == 0 || k0 + kk == k) {
        // The block's rounding, output by output (the core's steps).
#pragma unroll
        for (int t = 0; t < kTM * kTN; ++t) {
          const size_t gi = i0 + ty * kTM + t / kTN, gj = j0 + tx * kTN + t % kTN;
          Result r{0, 0};
          if (!BlockRound(v[t], g, opt, p.first_index + (gi * n + gj) * p.per + block_no, r)) redo |= 1u << t;
          inexact |= r.flags != 0 ? 1u << t : 0u;
          v[t] = BlockF32AsFixed(static_cast<uint32_t>(r.code), g);
          s[t] = static_cast<uint32_t>(r.code);
        }
        left = p.block;
        ++block_no;
      }
    }
  }
#pragma unroll
  for (int t = 0; t < kTM * kTN; ++t) {
    const size_t gi = i0 + ty * kTM + t / kTN, gj = j0 + tx * kTN + t % kTN;
    if (gi >= m || gj >= n) continue;
    p.c[gi * n + gj] = s[t];
    if (p.flags) p.flags[gi * n + gj] = (inexact >> t) & 1 ? kInexact : 0;
    p.redo[gi * n + gj] = (redo >> t) & 1;
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
  if (!detail::FixedGemmTiles(model)) return false;  // an operand conversion or a K order: GemmGeneral
  if (m == 0 || n == 0 || (m + kBM - 1) / kBM > 65535) return false;
  return BlockFixedFits(in_a, in_b, acc, k);
}

bool GemmBlockFixed(const Format& in_a, const uint32_t* d_a, const Format& in_b, const uint32_t* d_b, size_t m,
                    size_t n, size_t k, const Format& acc, const DotModel& model, uint64_t* d_c, uint8_t* d_flags,
                    const Options& opt, uint64_t first_index) {
  if (!GemmBlockFixedApplies(in_a, in_b, acc, model, m, n, k)) return false;
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
  Check(cudaMallocAsync(&scratch, values * sizeof(int32_t) + m + n + m * n, 0), "cudaMallocAsync");
  p.ia = static_cast<int32_t*>(scratch);
  p.ib = p.ia + m * k;
  p.row_special = reinterpret_cast<uint8_t*>(p.ib + k * n);
  p.col_special = p.row_special + m;
  p.redo = p.col_special + n;
  Check(cudaMemsetAsync(p.row_special, 0, m + n, 0), "cudaMemsetAsync");
  BlockDecodeKernel<<<static_cast<unsigned>((values + 255) / 256 < 4096 ? (values + 255) / 256 : 4096), 256>>>(p);
  Check(cudaGetLastError(), "BlockDecodeKernel");
  const dim3 grid(static_cast<unsigned>((n + kBN - 1) / kBN), static_cast<unsigned>((m + kBM - 1) / kBM));
  GemmBlockKernel<<<grid, kThreads>>>(p);
  Check(cudaGetLastError(), "GemmBlockKernel");
  const dim3 block(16, 16);
  const dim3 fix_grid(static_cast<unsigned>((n + 15) / 16), static_cast<unsigned>((m + 15) / 16));
  GemmBlockFixupKernel<<<fix_grid, block>>>(p);
  Check(cudaGetLastError(), "GemmBlockFixupKernel");
  Check(cudaFreeAsync(scratch, 0), "cudaFreeAsync");
  return true;
}

}  // namespace floatscope::gpu
