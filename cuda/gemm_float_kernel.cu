// The emulated GEMM's float32 path (cuda/gpu.h GemmFloat): kSequential and
// kFused models (emulate/dot.h) with a float32 accumulator under rne, rtz,
// rdn or rup, on the GPU's own float32 FMA with the rounding mode in the
// instruction (fma.rn/rz/rm/rp). Where it runs, that is the model's
// arithmetic exactly, and this file is tiling and launch plumbing:
//
//   - every input value is converted to float32 exactly (the core's
//     Unpack and RoundPack, once per element, into a scratch array);
//   - the values of A and B lie in exponent windows (FloatWindows) such
//     that every product a_i * b_i is a multiple of 2^-149, and, for
//     kSequential, has at most 24 significant bits: it is exact in float32
//     (kSequential's round(p_i) = p_i, no flag), so round(s + round(p_i))
//     = round(p_i + s) = fma(a_i, b_i, s): both models are one correctly
//     rounded FMA per step, in the order of the model, s starting at +0;
//     IEEE 754 gives the FMA's exact zero the sign of the sum p_i + s, as
//     the core's AddExactOperands and MulAddExactOperands do;
//   - no partial sum can reach 2^127 (|p_i| < 2^(ha + hb + 2), K of them,
//     each rounding at most doubling after 2^22 steps): no overflow;
//   - every partial sum is a multiple of 2^-149, so one below 2^-126 is
//     exact: no underflow flag (the core raises it only with inexact) and
//     nothing for FTZ to do if flush_output were on (it is not allowed
//     here; DAZ is the conversion's);
//   - so the only flag is inexact: a step is exact iff its value rounded
//     down equals it rounded up (fma.rm, fma.rp): the kernel ORs the bits
//     rd ^ ru per output, which is nonzero beyond the sign bit exactly when
//     some step was inexact (an exact zero gives -0 and +0: the sign bit
//     alone; an inexact step gives two adjacent nonzero floats of one sign,
//     no step result being tiny and inexact).
//
// Rows of A and columns of B with a value outside its window, a NaN or an
// infinity are computed again afterwards by emulate/dot.h's GemmElement
// itself (GemmFloatSpecialKernel), as the fixed-point kernel does.
//
// Tiling: a block computes 64 x 128 outputs with 256 threads of 4 x 8
// (rows ty * 4 + r, columns tx * 4 + c and 64 + tx * 4 + c), K tiles of 16
// floats in shared memory. Per product and output: the FMA in the model's
// mode, fma.rm and fma.rp (one of them is the result under rdn/rup) and one
// LOP3.
#include <cuda_runtime.h>

#include <string>

#include "cuda/gemm_float_window.h"
#include "cuda/check.cuh"
#include "cuda/gpu.h"
#include "emulate/dot.h"
#include "emulate/dot_hardware.h"
#include "emulate/dot_exact_sum.h"
#include "formats/catalog.h"

namespace floatscope::gpu {

namespace {

constexpr int kBM = 64, kBN = 128, kBK = 16, kTM = 4, kTN = 8;
constexpr int kThreads = (kBM / kTM) * (kBN / kTN);  // 256
constexpr int kPadM = kBM + 4;  // A k-major, rows padded against bank conflicts (16-byte aligned)

struct FloatGemmParams {
  Format in_a, in_b, acc, sf;
  DotModel model;  // sum_format: re-pointed at sf inside the kernels
  bool has_sum_format;
  Options opt;
  FloatWindow wa, wb;
  const uint32_t* a;
  const uint32_t* b;
  float* fa;  // A and B as float32 values
  float* fb;
  uint64_t* c;
  uint8_t* flags;
  uint8_t* row_special;
  uint8_t* col_special;
  size_t m, n, k;
  uint64_t first_index, per;
};

// One code as a float32 value (exact: the core's Unpack and RoundPack),
// or `special` when it is NaN, infinite or outside the window.
__device__ float ExactF32(const Format& f, uint32_t code, const Options& opt, FloatWindow w, bool& special) {
  constexpr Format kF32 = formats::kF32;  // a local copy (device code)
  const Unpacked u = Unpack(f, code, opt.flush_input);
  special = !InFloatWindow(u, w);
  if (special) return 0.0f;
  return __uint_as_float(static_cast<uint32_t>(RoundPack(kF32, u, opt, 0).code));
}

// A and B into float32, the rows and columns with a special value marked.
__global__ void FloatDecodeKernel(const FloatGemmParams p) {
  const size_t total_a = p.m * p.k, total = total_a + p.k * p.n;
  for (size_t u = size_t{blockIdx.x} * blockDim.x + threadIdx.x; u < total; u += size_t{gridDim.x} * blockDim.x) {
    bool special = false;
    if (u < total_a) {
      p.fa[u] = ExactF32(p.in_a, p.a[u], p.opt, p.wa, special);
      if (special) p.row_special[u / p.k] = 1;
    } else {
      const size_t v = u - total_a;
      p.fb[v] = ExactF32(p.in_b, p.b[v], p.opt, p.wb, special);
      if (special) p.col_special[v % p.n] = 1;
    }
  }
}

// One step of every output of a thread: s = fma(a, b, s) in the model's
// mode, x |= bits(fma.rm) ^ bits(fma.rp).
template <int kRound>
__device__ __forceinline__ void FloatStep(const float (&a)[kTM], const float (&b)[kTN], float (&s)[kTM][kTN],
                                          uint32_t (&x)[kTM][kTN]) {
#pragma unroll
  for (int r = 0; r < kTM; ++r)
#pragma unroll
    for (int c = 0; c < kTN; ++c) {
      const float lo = __fmaf_rd(a[r], b[c], s[r][c]), hi = __fmaf_ru(a[r], b[c], s[r][c]);
      x[r][c] |= __float_as_uint(lo) ^ __float_as_uint(hi);
      if constexpr (kRound == static_cast<int>(Rounding::kNearestEven)) s[r][c] = __fmaf_rn(a[r], b[c], s[r][c]);
      else if constexpr (kRound == static_cast<int>(Rounding::kTowardZero)) s[r][c] = __fmaf_rz(a[r], b[c], s[r][c]);
      else if constexpr (kRound == static_cast<int>(Rounding::kDown)) s[r][c] = lo;
      else s[r][c] = hi;
    }
}

template <int kRound>
__global__ void __launch_bounds__(kThreads, 2) GemmFloatKernel(const FloatGemmParams p) {
  __shared__ __align__(16) float as[kBK][kPadM];
  __shared__ __align__(16) float bs[kBK][kBN];
  const int tid = threadIdx.x, tx = tid % (kBN / kTN), ty = tid / (kBN / kTN);
  const size_t i0 = size_t{blockIdx.y} * kBM, j0 = size_t{blockIdx.x} * kBN;
  const size_t m = p.m, n = p.n, k = p.k;
  float s[kTM][kTN];
  uint32_t x[kTM][kTN];
#pragma unroll
  for (int r = 0; r < kTM; ++r)
#pragma unroll
    for (int c = 0; c < kTN; ++c) s[r][c] = 0.0f, x[r][c] = 0;  // s = +0 (RoundPack of +0 in every mode)
  for (size_t k0 = 0; k0 < k; k0 += kBK) {
    __syncthreads();  // the last tile's readers are done
    for (int u = tid; u < kBM * kBK; u += kThreads) {
      const int r = u / kBK, kk = u % kBK;
      const size_t gi = i0 + r, gk = k0 + kk;
      as[kk][r] = gi < m && gk < k ? p.fa[gi * k + gk] : 0.0f;
    }
    for (int u = tid; u < kBK * kBN; u += kThreads) {
      const int kk = u / kBN, c = u % kBN;
      const size_t gk = k0 + kk, gj = j0 + c;
      bs[kk][c] = gk < k && gj < n ? p.fb[gk * n + gj] : 0.0f;
    }
    __syncthreads();
    // Only the K steps that exist: a padded step would add +0 products,
    // which changes the sign of a zero sum.
    const int kt = k - k0 < size_t{kBK} ? static_cast<int>(k - k0) : kBK;
    auto load = [&](int kk, float (&a)[kTM], float (&b)[kTN]) {
      const float4 av = *reinterpret_cast<const float4*>(&as[kk][ty * kTM]);
      const float4 b0 = *reinterpret_cast<const float4*>(&bs[kk][tx * 4]);
      const float4 b1 = *reinterpret_cast<const float4*>(&bs[kk][kBN / 2 + tx * 4]);
      a[0] = av.x, a[1] = av.y, a[2] = av.z, a[3] = av.w;
      b[0] = b0.x, b[1] = b0.y, b[2] = b0.z, b[3] = b0.w, b[4] = b1.x, b[5] = b1.y, b[6] = b1.z, b[7] = b1.w;
    };
    if (kt == kBK) {
#pragma unroll
      for (int kk = 0; kk < kBK; ++kk) {
        float a[kTM], b[kTN];
        load(kk, a, b);
        FloatStep<kRound>(a, b, s, x);
      }
    } else {
#pragma unroll 1
      for (int kk = 0; kk < kt; ++kk) {
        float a[kTM], b[kTN];
        load(kk, a, b);
        FloatStep<kRound>(a, b, s, x);
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kTM; ++r)
#pragma unroll
    for (int c = 0; c < kTN; ++c) {
      const size_t gi = i0 + ty * kTM + r, gj = j0 + (c < 4 ? tx * 4 + c : kBN / 2 + tx * 4 + c - 4);
      if (gi >= m || gj >= n) continue;
      p.c[gi * n + gj] = __float_as_uint(s[r][c]);
      if (p.flags) p.flags[gi * n + gj] = (x[r][c] & 0x7fffffffu) != 0 ? kInexact : 0;
    }
}

// The dot products whose row of A or column of B holds a value outside
// its window, a NaN or an infinity, by emulate/dot.h's GemmElement.
__global__ void GemmFloatSpecialKernel(const FloatGemmParams p) {
  const size_t j = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const size_t i = size_t{blockIdx.y} * blockDim.y + threadIdx.y;
  if (i >= p.m || j >= p.n || !(p.row_special[i] | p.col_special[j])) return;
  DotModel model = p.model;
  model.sum_format = p.has_sum_format ? &p.sf : nullptr;
  const Result r = GemmElement(p.in_a, p.a, p.in_b, p.b, i, j, p.n, p.k, p.acc, model, p.opt, p.first_index, p.per);
  p.c[i * p.n + j] = r.code;
  if (p.flags) p.flags[i * p.n + j] = r.flags;
}

template <int kRound>
void LaunchFloat(const FloatGemmParams& p) {
  const dim3 grid(static_cast<unsigned>((p.n + kBN - 1) / kBN), static_cast<unsigned>((p.m + kBM - 1) / kBM));
  GemmFloatKernel<kRound><<<grid, kThreads>>>(p);
  Check(cudaGetLastError(), "GemmFloatKernel");
}

}  // namespace

bool GemmFloatApplies(const Format& in_a, const Format& in_b, const Format& acc, const DotModel& model,
                      const Options& opt, size_t m, size_t n, size_t k) {
  const bool sequential = model.accumulation == Accumulation::kSequential;
  if (!sequential && model.accumulation != Accumulation::kFused) return false;
  if (!detail::TakesCodesInOrder(model)) return false;  // an operand conversion or a K order: GemmGeneral
  if (k == 0 || m == 0 || n == 0 || (m + kBM - 1) / kBM > 65535) return false;
  if (!SameArithmetic(acc, formats::kF32) || opt.flush_output) return false;
  const Rounding r = opt.rounding;
  if (r != Rounding::kNearestEven && r != Rounding::kTowardZero && r != Rounding::kDown && r != Rounding::kUp)
    return false;
  if (!IsFloat(in_a) || !IsFloat(in_b) || in_a.bits > 32 || in_b.bits > 32) return false;
  if (in_a.mantissa_bits > 23 || in_b.mantissa_bits > 23) return false;  // every value exact in float32
  // kSequential: products of at most 24 significant bits (exact in float32).
  if (sequential && in_a.mantissa_bits + in_b.mantissa_bits + 2 > 24) return false;
  FloatWindow wa, wb;
  return FloatWindows(in_a, in_b, k, wa, wb);
}

bool GemmFloat(const Format& in_a, const uint32_t* d_a, const Format& in_b, const uint32_t* d_b, size_t m, size_t n,
               size_t k, const Format& acc, const DotModel& model, uint64_t* d_c, uint8_t* d_flags,
               const Options& opt, uint64_t first_index) {
  if (!GemmFloatApplies(in_a, in_b, acc, model, opt, m, n, k)) return false;
  FloatGemmParams p{};
  p.in_a = in_a;
  p.in_b = in_b;
  p.acc = acc;
  p.has_sum_format = model.sum_format != nullptr;
  p.sf = p.has_sum_format ? *model.sum_format : acc;
  p.model = model;
  p.model.sum_format = nullptr;  // a host pointer: the kernels re-point it
  p.opt = opt;
  FloatWindows(in_a, in_b, k, p.wa, p.wb);
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
  Check(cudaMallocAsync(&scratch, values * sizeof(float) + m + n, 0), "cudaMallocAsync");
  p.fa = static_cast<float*>(scratch);
  p.fb = p.fa + m * k;
  p.row_special = reinterpret_cast<uint8_t*>(p.fb + k * n);
  p.col_special = p.row_special + m;
  Check(cudaMemsetAsync(p.row_special, 0, m + n, 0), "cudaMemsetAsync");
  FloatDecodeKernel<<<static_cast<unsigned>((values + 255) / 256 < 4096 ? (values + 255) / 256 : 4096), 256>>>(p);
  Check(cudaGetLastError(), "FloatDecodeKernel");
  switch (opt.rounding) {
    case Rounding::kNearestEven: LaunchFloat<static_cast<int>(Rounding::kNearestEven)>(p); break;
    case Rounding::kTowardZero: LaunchFloat<static_cast<int>(Rounding::kTowardZero)>(p); break;
    case Rounding::kDown: LaunchFloat<static_cast<int>(Rounding::kDown)>(p); break;
    default: LaunchFloat<static_cast<int>(Rounding::kUp)>(p); break;
  }
  const dim3 block(16, 16);
  const dim3 grid(static_cast<unsigned>((n + 15) / 16), static_cast<unsigned>((m + 15) / 16));
  GemmFloatSpecialKernel<<<grid, block>>>(p);
  Check(cudaGetLastError(), "GemmFloatSpecialKernel");
  Check(cudaFreeAsync(scratch, 0), "cudaFreeAsync");
  return true;
}

}  // namespace floatscope::gpu
