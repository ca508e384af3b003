// The emulated GEMM's float64 path (cuda/gpu.h GemmFloat64): kSequential and
// kFused models (emulate/dot.h) whose accumulator or rounding mode the
// float32 kernel cannot run (cuda/gemm_float_kernel.cu: a float32
// accumulator under rne, rtz, rdn or rup only): narrow accumulators (f16,
// bf16, FP8, ...) and a float32 one in every rounding mode, stochastic ones
// included. Each rounding is the core's (RoundNormalFast for a normal
// result, RoundPack for the rest); what the GPU's float64 arithmetic adds
// is the exact operation before it:
//
//   - the inputs, the accumulator's values and every product of two inputs
//     are exact float64 values (GemmFloat64Applies: significands of at most
//     53 bits in all, exponents within float64's normal range);
//   - a step's exact result x (kFused: a_i * b_i + s; kSequential: a_i * b_i,
//     exact, then s + p_i) is computed twice, rounded down and up
//     (fma.rm/fma.rp, add.rm/add.rp); equal, it is x (a zero with the sign
//     IEEE 754 gives the exact sum in the model's mode: the rounded-down one
//     under rdn, the rounded-up one otherwise, as the core's
//     AddExactOperands); unequal, the one of the two adjacent float64s with
//     an odd last bit is x rounded to odd (round-to-odd keeps the rest as a
//     sticky bit);
//   - rounding that to the accumulator is rounding x itself when float64
//     keeps at least two bits more than the accumulator (the deterministic
//     modes and sr-eq) or sr_bits + 1 more (sr: its fraction's top sr_bits
//     bits are x's own): round-to-odd's double-rounding property (Boldo and
//     Melquiond), here for every mode of formats/round_pack.h RoundsUp,
//     whose decision reads only the kept bit, the half bit, the sticky and
//     the top sr_bits of the fraction. The flags follow: inexact iff x was
//     or its rounding is; tininess, before or after rounding, is decided on
//     a value on the same side of every power of two as x;
//   - sr into an accumulator too wide for that (float32: 24 + 32 + 1 bits)
//     takes each sum exactly instead, as TwoSum's pair (hi, lo), read into a
//     64-bit significand with the rest jammed into its last bit
//     (RoundPairToAcc).
//
// An accumulator that becomes infinite or NaN (a narrow format's overflow,
// inf - inf) marks its dot product, and one whose row of A or column of B
// holds a NaN or an infinity marks its row or column: those are computed
// again afterwards by emulate/dot.h's GemmElement itself, as in the other
// kernels.
//
// Tiling: a block computes 64 x 64 outputs with 256 threads of 4 x 4, K
// tiles of 16 float64 values in shared memory, decoded from the codes by
// the core's Unpack as the tiles are loaded.
#include <cuda_runtime.h>

#include "cuda/check.cuh"
#include "cuda/gpu.h"
#include "cuda/named_convert.h"
#include "emulate/dot.h"
#include "emulate/dot_exact_sum.h"
#include "emulate/dot_hardware.h"

namespace floatscope::gpu {

namespace {

constexpr int kBM = 64, kBN = 64, kBK = 16, kTM = 4, kTN = 4;
constexpr int kThreads = (kBM / kTM) * (kBN / kTN);  // 256
constexpr int kPadM = kBM + 2;  // A k-major, rows padded against bank conflicts (16-byte aligned)
constexpr int kRoundRuntime = -1;
// sr with the sums as exact pairs (RoundPairToAcc): sr into an accumulator
// whose precision plus sr_bits + 1 exceeds float64's 53 bits (float32: 57).
// (A kernel template parameter of its own made nvcc 13's host stubs fail to
// compile.)
constexpr int kRoundSrPairs = -2;

struct F64GemmParams {
  Format in_a, in_b, acc;
  DotModel model;
  Options opt;
  const uint32_t* a;
  const uint32_t* b;
  uint64_t* c;
  uint8_t* flags;
  uint8_t* row_special;
  uint8_t* col_special;
  uint8_t* redo;  // m x n: the accumulator became infinite or NaN
  size_t m, n, k;
  uint64_t first_index, per;
};

// A finite or zero Unpacked value as a float64 (exact: GemmFloat64Applies).
__device__ __forceinline__ double ToF64(const Unpacked& u) {
  const double v = u.cls == Class::kZero ? 0.0 : static_cast<double>(u.sig) * Pow2F64(u.exp);
  return u.sign ? -v : v;
}

// One code of an input as a float64, or `special` (NaN, infinity).
__device__ __forceinline__ double DecodeInput(const Format& f, uint32_t code, bool flush, bool& special) {
  const Unpacked u = Unpack(f, code, flush);
  special = u.cls != Class::kZero && u.cls != Class::kFinite;
  return special ? 0.0 : ToF64(u);
}

// A float64 as the core's Unpacked value (every float64 here is zero or
// normal: significand 2^52 | mantissa, as RoundPairToAcc reads it).
__device__ __forceinline__ Unpacked FromF64(double x) {
  constexpr Format kF64 = formats::kF64;  // a local copy (device code)
  return Unpack(kF64, static_cast<uint64_t>(__double_as_longlong(x)));
}

// RoundToAcc's general case, out of line: the core's RoundPack of
// (-1)^negative * mag * 2^exp (mag = 0: a zero).
__device__ __noinline__ double RoundToAccSlow(const Format& acc, bool negative, uint64_t mag, int32_t exp,
                                              const Options& opt, uint64_t index, uint8_t& flags, bool& bad) {
  Unpacked u;
  u.sign = negative;
  if (mag != 0) {
    u.cls = Class::kFinite;
    u.sig = mag;
    u.exp = exp;
  }
  const Result p = RoundPack(acc, u, opt, index);
  flags |= p.flags;
  const Unpacked v = Unpack(acc, p.code);
  const bool finite = v.cls == Class::kZero || v.cls == Class::kFinite;
  bad |= !finite;
  return finite ? ToF64(v) : 0.0;
}

// (-1)^negative * mag * 2^exp (exact, or rounded to odd with enough bits
// below the accumulator's; mag = 0: a zero) rounded into the accumulator by
// the core: RoundNormalFast for a normal result (inexact at most),
// RoundPack for zeros, tiny and overflowing ones. Returns the result's
// value as a float64 (the next step's operand); `bad` when it is infinite
// or NaN.
__device__ __forceinline__ double RoundToAcc(const Format& acc, bool negative, uint64_t mag, int32_t exp,
                                             const Options& opt, uint64_t index, uint8_t& flags, bool& bad) {
  Result r;
  if (mag != 0 && detail::RoundNormalFast(acc, negative, mag, exp, opt, index, r)) {
    flags |= r.flags;
    // A normal result: its value from its fields (acc's layout is IEEE-like
    // where RoundNormalFast accepts it: sign | exponent field | mantissa).
    const uint64_t code = r.code;
    const int32_t m = acc.mantissa_bits;
    const int32_t e = static_cast<int32_t>((code & ~SignBit(acc)) >> m) - acc.bias;
    const uint64_t sig = (code & ((uint64_t{1} << m) - 1)) | (uint64_t{1} << m);
    const double v = static_cast<double>(sig) * Pow2F64(e - m);
    return negative ? -v : v;
  }
  return RoundToAccSlow(acc, negative, mag, exp, opt, index, flags, bad);
}

// A float64 x (zero or normal) rounded into the accumulator.
__device__ __forceinline__ double RoundToAcc(const Format& acc, double x, const Options& opt, uint64_t index,
                                             uint8_t& flags, bool& bad) {
  const Unpacked u = FromF64(x);
  return RoundToAcc(acc, u.sign, u.sig, u.exp, opt, index, flags, bad);
}

// hi + lo exactly (TwoSum's pair: hi = x + y rounded to nearest, lo its
// error, |lo| <= ulp(hi) / 2) rounded into the accumulator: hi's
// significand and 11 bits more (a 64-bit window) with lo's part in it
// added, everything below jammed into the last bit (round-to-odd at 64
// bits, 57 of which sr on float32 reads). hi = 0 is an exact zero, signed
// as IEEE 754's sum rounded to nearest (the sign of the exact zero sum in
// every mode but rdn, which this path does not take).
__device__ __forceinline__ double RoundPairToAcc(const Format& acc, double hi, double lo, const Options& opt,
                                                 uint64_t index, uint8_t& flags, bool& bad) {
  const Unpacked h = FromF64(hi);
  if (lo == 0.0) return RoundToAcc(acc, h.sign, h.sig, h.exp, opt, index, flags, bad);
  const Unpacked l = FromF64(lo);
  const int32_t shift = h.exp - 11 - l.exp;  // >= 42: lo's leading bit is below hi's last
  const uint64_t part = shift >= 64 ? 0 : l.sig >> shift;
  const bool rest = shift >= 64 ? true : (l.sig & ((uint64_t{1} << shift) - 1)) != 0;
  uint64_t sig = h.sig << 11;
  if (l.sign == h.sign) sig += part;
  else sig -= part + (rest ? 1 : 0);  // the true value: sig plus the positive rest below
  return RoundToAcc(acc, h.sign, sig | (rest ? 1 : 0), h.exp - 11, opt, index, flags, bad);
}

// Knuth's TwoSum: s = x + y rounded to nearest, e the exact error.
__device__ __forceinline__ void TwoSum(double x, double y, double& s, double& e) {
  s = __dadd_rn(x, y);
  const double yy = __dsub_rn(s, x);
  e = __dadd_rn(__dsub_rn(x, __dsub_rn(s, yy)), __dsub_rn(y, yy));
}

// The exact result from its two directed roundings: itself when they agree
// (a zero signed as IEEE 754's exact sum in the model's mode), else the one
// with an odd last bit (round-to-odd).
__device__ __forceinline__ double ExactOrOdd(double lo, double hi, Rounding mode) {
  if (lo == hi) return mode == Rounding::kDown ? lo : hi;
  return (__double2loint(lo) & 1) ? lo : hi;
}

// kRound: a Rounding, kRoundRuntime (opt.rounding) or kRoundSrPairs.
template <bool kFused, int kRound>
__global__ void __launch_bounds__(kThreads, 2) GemmF64Kernel(const F64GemmParams p) {
  constexpr bool kPair = kRound == kRoundSrPairs;
  __shared__ __align__(16) double as[kBK][kPadM];
  __shared__ __align__(16) double bs[kBK][kBN];
  __shared__ uint8_t out_flags[kBM * kBN];
  Options opt = p.opt;
  if constexpr (kPair) opt.rounding = Rounding::kStochastic;
  else if constexpr (kRound != kRoundRuntime) opt.rounding = static_cast<Rounding>(kRound);  // what LaunchF64 checked
  const Format acc = p.acc;
  const int tid = threadIdx.x, tx = tid % (kBN / kTN), ty = tid / (kBN / kTN);
  const size_t i0 = size_t{blockIdx.y} * kBM, j0 = size_t{blockIdx.x} * kBN;
  const size_t m = p.m, n = p.n, k = p.k;
  auto out_index = [&](int t) { return (ty * kTM + t / kTN) * kBN + tx * kTN + t % kTN; };
  const bool stochastic = IsStochastic(opt.rounding);
  // Output t's first stochastic index: that of output 0 plus its row and
  // column steps.
  const uint64_t first0 = p.first_index + ((i0 + ty * kTM) * n + j0 + tx * kTN) * p.per, row_step = n * p.per;
  auto first_of = [&](int t) { return first0 + uint64_t(t / kTN) * row_step + uint64_t(t % kTN) * p.per; };
  double s[kTM * kTN];
  uint32_t bad_mask = 0;
#pragma unroll
  for (int t = 0; t < kTM * kTN; ++t) {
    s[t] = 0.0;  // +0 (RoundPack of +0 in every mode)
    out_flags[out_index(t)] = 0;
  }
  uint64_t step = 0;  // the K position of the tile's first step
  for (size_t k0 = 0; k0 < k; k0 += kBK, step += kBK) {
    __syncthreads();  // the last tile's readers are done
    for (int u = tid; u < kBM * kBK; u += kThreads) {
      const int r = u / kBK, kk = u % kBK;
      const size_t gi = i0 + r, gk = k0 + kk;
      bool special = false;
      as[kk][r] = gi < m && gk < k ? DecodeInput(p.in_a, p.a[gi * k + gk], opt.flush_input, special) : 0.0;
      if (special) p.row_special[gi] = 1;
    }
    for (int u = tid; u < kBK * kBN; u += kThreads) {
      const int kk = u / kBN, c = u % kBN;
      const size_t gk = k0 + kk, gj = j0 + c;
      bool special = false;
      bs[kk][c] = gk < k && gj < n ? DecodeInput(p.in_b, p.b[gk * n + gj], opt.flush_input, special) : 0.0;
      if (special) p.col_special[gj] = 1;
    }
    __syncthreads();
    // Only the K steps that exist (a padded step would round once more).
    const int kt = k - k0 < size_t{kBK} ? static_cast<int>(k - k0) : kBK;
#pragma unroll 1
    for (int kk = 0; kk < kt; ++kk) {
      double a[kTM], b[kTN];
#pragma unroll
      for (int r = 0; r < kTM; ++r) a[r] = as[kk][ty * kTM + r];
#pragma unroll
      for (int c = 0; c < kTN; ++c) b[c] = bs[kk][tx * kTN + c];
      // The stochastic index of this step's first rounding, past output
      // t's first: kFused rounds once per step, kSequential twice (the
      // product, then the sum).
      const uint64_t offset = (kFused ? 1 : 2) * (step + kk);
#pragma unroll
      for (int t = 0; t < kTM * kTN; ++t) {
        const double x = a[t / kTN], y = b[t % kTN];
        const uint64_t index = stochastic ? first_of(t) + offset : 0;
        uint8_t fl = 0;
        bool bad = false;
        // The product is exact in float64; its zero's sign is the product's.
        if constexpr (kPair) {
          double hi, lo;
          if constexpr (kFused) {
            TwoSum(__dmul_rn(x, y), s[t], hi, lo);
            s[t] = RoundPairToAcc(acc, hi, lo, opt, index, fl, bad);
          } else {
            const double q = RoundToAcc(acc, __dmul_rn(x, y), opt, index, fl, bad);
            TwoSum(s[t], q, hi, lo);
            s[t] = RoundPairToAcc(acc, hi, lo, opt, index + 1, fl, bad);
          }
        } else if constexpr (kFused) {
          const double v = ExactOrOdd(__fma_rd(x, y, s[t]), __fma_ru(x, y, s[t]), opt.rounding);
          s[t] = RoundToAcc(acc, v, opt, index, fl, bad);
        } else {
          const double q = RoundToAcc(acc, __dmul_rn(x, y), opt, index, fl, bad);
          const double v = ExactOrOdd(__dadd_rd(s[t], q), __dadd_ru(s[t], q), opt.rounding);
          s[t] = RoundToAcc(acc, v, opt, index + 1, fl, bad);
        }
        if (fl) out_flags[out_index(t)] |= fl;
        bad_mask |= bad ? 1u << t : 0u;
      }
    }
  }
#pragma unroll 1
  for (int t = 0; t < kTM * kTN; ++t) {
    const size_t gi = i0 + ty * kTM + t / kTN, gj = j0 + tx * kTN + t % kTN;
    if (gi >= m || gj >= n) continue;
    if (bad_mask & (1u << t)) {
      p.redo[gi * n + gj] = 1;
      continue;
    }
    // s is a value of acc: its code, exactly.
    p.c[gi * n + gj] = RoundPack(acc, FromF64(s[t]), opt, 0).code;
    if (p.flags) p.flags[gi * n + gj] = out_flags[out_index(t)];
  }
}

// The dot products marked above, by emulate/dot.h's GemmElement.
__global__ void GemmF64RedoKernel(const F64GemmParams p) {
  const size_t j = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const size_t i = size_t{blockIdx.y} * blockDim.y + threadIdx.y;
  if (i >= p.m || j >= p.n || !(p.row_special[i] | p.col_special[j] | p.redo[i * p.n + j])) return;
  const Result r =
      GemmElement(p.in_a, p.a, p.in_b, p.b, i, j, p.n, p.k, p.acc, p.model, p.opt, p.first_index, p.per);
  p.c[i * p.n + j] = r.code;
  if (p.flags) p.flags[i * p.n + j] = r.flags;
}

template <bool kFused, int kRound>
void LaunchF64(const F64GemmParams& p) {
  const dim3 grid(static_cast<unsigned>((p.n + kBN - 1) / kBN), static_cast<unsigned>((p.m + kBM - 1) / kBM));
  GemmF64Kernel<kFused, kRound><<<grid, kThreads>>>(p);
  Check(cudaGetLastError(), "GemmF64Kernel");
}

// Whether round-to-odd in float64 keeps enough bits below the
// accumulator's precision: two (the deterministic modes, sr-eq), or
// sr_bits + 1 under sr.
bool OddSuffices(const Format& acc, const Options& opt) {
  const int32_t extra = opt.rounding == Rounding::kStochastic ? detail::ClampSrBits(opt.sr_bits) + 1 : 2;
  return acc.mantissa_bits + 1 + extra <= 53;
}

// The rounding mode a compile-time constant for rne and sr (the common
// narrow-accumulator experiments), read at run time for the others; sr
// with exact pairs where round-to-odd would not keep enough bits.
template <bool kFused>
void LaunchF64For(const F64GemmParams& p) {
  switch (p.opt.rounding) {
    case Rounding::kNearestEven: LaunchF64<kFused, static_cast<int>(Rounding::kNearestEven)>(p); return;
    case Rounding::kStochastic:
      if (OddSuffices(p.acc, p.opt)) LaunchF64<kFused, static_cast<int>(Rounding::kStochastic)>(p);
      else LaunchF64<kFused, kRoundSrPairs>(p);
      return;
    default: LaunchF64<kFused, kRoundRuntime>(p); return;
  }
}

// Whether a format's values are exact float64 normal numbers (or zero).
bool ExactInF64(const Format& f) {
  return IsFloat(f) && f.bits <= 32 && f.mantissa_bits <= 52 && detail::LowestBit(f) >= -1022 + 53 &&
         detail::TopBit(f) <= 1000;
}

}  // namespace

bool GemmFloat64Applies(const Format& in_a, const Format& in_b, const Format& acc, const DotModel& model,
                        const Options& opt, size_t m, size_t n, size_t k) {
  if (model.accumulation != Accumulation::kSequential && model.accumulation != Accumulation::kFused) return false;
  if (!detail::TakesCodesInOrder(model)) return false;  // an operand conversion or a K order: GemmGeneral
  if (k == 0 || m == 0 || n == 0 || (m + kBM - 1) / kBM > 65535) return false;
  if (!ExactInF64(in_a) || !ExactInF64(in_b) || !ExactInF64(acc) || !acc.has_zero) return false;
  // Products exact in float64, and far above its subnormals.
  if (in_a.mantissa_bits + in_b.mantissa_bits + 2 > 53) return false;
  if (detail::LowestBit(in_a) + detail::LowestBit(in_b) < -1022 + 53) return false;
  if (detail::TopBit(in_a) + detail::TopBit(in_b) > 1000) return false;
  // Round-to-odd keeps enough bits, or (sr) the sums go as exact pairs,
  // whose 64-bit window keeps 63 - 33 = 30 bits of precision for sr.
  if (OddSuffices(acc, opt)) return true;
  return opt.rounding == Rounding::kStochastic && acc.mantissa_bits + 1 + detail::ClampSrBits(opt.sr_bits) + 1 <= 63;
}

bool GemmFloat64(const Format& in_a, const uint32_t* d_a, const Format& in_b, const uint32_t* d_b, size_t m,
                 size_t n, size_t k, const Format& acc, const DotModel& model, uint64_t* d_c, uint8_t* d_flags,
                 const Options& opt, uint64_t first_index) {
  if (!GemmFloat64Applies(in_a, in_b, acc, model, opt, m, n, k)) return false;
  F64GemmParams p{};
  p.in_a = in_a;
  p.in_b = in_b;
  p.acc = acc;
  p.model = model;  // no pointer in it is read (no kHardware, no conversion)
  p.model.sum_format = nullptr;
  p.opt = opt;
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
  Check(cudaMallocAsync(&scratch, m + n + m * n, 0), "cudaMallocAsync");
  Check(cudaMemsetAsync(scratch, 0, m + n + m * n, 0), "cudaMemsetAsync");
  p.row_special = static_cast<uint8_t*>(scratch);
  p.col_special = p.row_special + m;
  p.redo = p.col_special + n;
  if (model.accumulation == Accumulation::kFused) LaunchF64For<true>(p);
  else LaunchF64For<false>(p);
  const dim3 block(16, 16);
  const dim3 grid(static_cast<unsigned>((n + 15) / 16), static_cast<unsigned>((m + 15) / 16));
  GemmF64RedoKernel<<<grid, block>>>(p);
  Check(cudaGetLastError(), "GemmF64RedoKernel");
  Check(cudaFreeAsync(scratch, 0), "cudaFreeAsync");
  return true;
}

}  // namespace floatscope::gpu
