// The compile-time specialised encode kernels (float32 -> codes of a named
// format, every mode), and the per-tensor scaled quantization's fast
// passes: the amax reduction and the cast for the deterministic modes
// (cuda/named_kernels.cuh, cuda/named_convert.h).
#include <string_view>

#include "cuda/named_kernels.cuh"

namespace floatscope::gpu {
namespace named_detail {
namespace {

// ---- amax -----------------------------------------------------------------------

// max over non-NaN |x|, as float32 bits: non-negative floats order as their
// bit patterns, so this is an integer max (NaN patterns, above infinity's,
// count as 0), the same value as std::fmax over |x|.
__device__ __forceinline__ uint32_t AbsOrZero(uint32_t bits) {
  const uint32_t a = bits & 0x7fffffffu;
  return a > 0x7f800000u ? 0u : a;
}
__device__ __forceinline__ uint32_t Max4(uint4 x) {
  return UMaxD(UMaxD(AbsOrZero(x.x), AbsOrZero(x.y)), UMaxD(AbsOrZero(x.z), AbsOrZero(x.w)));
}

__global__ void __launch_bounds__(kThreads) AmaxKernel(const float* __restrict__ in, size_t n,
                                                       unsigned* __restrict__ amax_bits, bool vector) {
  const size_t stride = size_t{gridDim.x} * blockDim.x;
  const size_t tid = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const size_t n4 = vector ? n / 4 : 0;
  const uint4* in4 = reinterpret_cast<const uint4*>(in);
  uint32_t m0 = 0, m1 = 0;
  size_t v = tid;
  for (; v + stride < n4; v += 2 * stride) {
    const uint4 x0 = in4[v], x1 = in4[v + stride];
    m0 = UMaxD(m0, Max4(x0));
    m1 = UMaxD(m1, Max4(x1));
  }
  if (v < n4) m0 = UMaxD(m0, Max4(in4[v]));
  for (size_t j = 4 * n4 + tid; j < n; j += stride) m1 = UMaxD(m1, AbsOrZero(__float_as_uint(in[j])));
  uint32_t m = __reduce_max_sync(0xffffffffu, UMaxD(m0, m1));
  __shared__ uint32_t warp_max[kThreads / 32];
  if (threadIdx.x % 32 == 0) warp_max[threadIdx.x / 32] = m;
  __syncthreads();
  if (threadIdx.x < 32) {
    m = __reduce_max_sync(0xffffffffu, threadIdx.x < kThreads / 32 ? warp_max[threadIdx.x] : 0u);
    if (threadIdx.x == 0) atomicMax(amax_bits, m);
  }
}

// ---- the scaled cast ------------------------------------------------------------

// x * scale (scale finite and > 0) rounded to odd in float32: the product
// toward zero, its last bit set when inexact (rounding toward +infinity
// then differs). The format keeps at most 21 significant bits and quanta of
// at least 2^-147, so the float32 keeps 2 more bits than the format at
// every magnitude, and rounding this value into the format with any
// deterministic mode gives the format's rounding of the exact product
// (round-to-odd's double-rounding property; Boldo & Melquiond, IEEE TC
// 2008), overflow included. NaN inputs come out quieted, sign and payload
// kept, as the CPU's exact product gives them (quant::Fp8Encode, emulate/quant/fp8_scaling.h).
__device__ __forceinline__ uint32_t ScaledProductOdd(uint32_t bits, float scale) {
  const uint32_t abs = bits & 0x7fffffffu;
  if (abs > 0x7f800000u) return bits | 0x400000u;
  const float ax = __uint_as_float(abs);
  const float z = __fmul_rz(ax, scale), u = __fmul_ru(ax, scale);
  return (__float_as_uint(z) | (z != u ? 1u : 0u)) | (bits & 0x80000000u);
}

// quant::Fp8Decode: value(code) * scale_inv with x86's NaN rule.
__device__ __forceinline__ uint32_t ScaledDecode(uint32_t fq_bits, float inv) {
  if ((fq_bits & 0x7fffffffu) > 0x7f800000u) return fq_bits | 0x400000u;
  return __float_as_uint(__fmul_rn(__uint_as_float(fq_bits), inv));
}

template <int kIdx, Rounding kMode, class Code>
__global__ void __launch_bounds__(kThreads) ScaledCastKernel(NamedParams p, const float* __restrict__ in,
                                                             Code* __restrict__ codes, float* __restrict__ out,
                                                             size_t n, const ScaledWork* __restrict__ w, bool vector) {
  const float scale = w->scale, inv = w->scale_inv;
  const size_t stride = size_t{gridDim.x} * blockDim.x;
  const size_t tid = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const size_t n4 = vector ? n / 4 : 0;
  const uint4* in4 = reinterpret_cast<const uint4*>(in);
  auto one = [&](uint32_t bits, uint32_t* code) {
    const uint32_t x = ScaledProductOdd(bits, scale);
    const uint32_t mag = NamedRoundMag<kIdx, kMode>(x, 0, 0);
    if (codes) *code = NamedCodeOf<kIdx>(p, x, mag);
    return ScaledDecode(NamedFakeQuantOf<kIdx>(p, x, mag), inv);
  };
  auto quad = [&](uint4 x, size_t at) {
    uint32_t c[4] = {0, 0, 0, 0};
    const uint4 r = make_uint4(one(x.x, &c[0]), one(x.y, &c[1]), one(x.z, &c[2]), one(x.w, &c[3]));
    if (codes) reinterpret_cast<typename Pack4<Code>::type*>(codes)[at] = Pack4<Code>::Of(c[0], c[1], c[2], c[3]);
    if (out) reinterpret_cast<uint4*>(out)[at] = r;
  };
  size_t v = tid;
  for (; v + stride < n4; v += 2 * stride) {
    const uint4 x0 = in4[v], x1 = in4[v + stride];
    quad(x0, v);
    quad(x1, v + stride);
  }
  if (v < n4) quad(in4[v], v);
  for (size_t j = 4 * n4 + tid; j < n; j += stride) {
    uint32_t c = 0;
    const uint32_t r = one(__float_as_uint(in[j]), &c);
    if (codes) codes[j] = static_cast<Code>(c);
    if (out) out[j] = __uint_as_float(r);
  }
}

// The formats with a specialised scaled cast: those per-tensor FP8 scaling
// is used with (emulate/quant's tests: e4m3fn, e5m2, f16, e3m4) and bf16.
constexpr bool ScaledSpecialised(int i) {
  const std::string_view name = formats::kAll[i].name;
  return name == "e4m3fn" || name == "e5m2" || name == "f16" || name == "bf16" || name == "e3m4";
}

}  // namespace
}  // namespace named_detail

namespace named {

bool Encode(const Format& f, const Options& opt, const float* in, void* codes, size_t n, uint64_t first_index) {
  using namespace named_detail;
  bool done = false;
  WithIndex(NamedIndex(f), [&](auto index) {
    constexpr int kIdx = decltype(index)::value;
    using Code = CodeOf<kIdx>;
    done = LaunchNamedMap<kIdx, Code>(opt, true, in, static_cast<Code*>(codes), n, first_index);
  });
  return done;
}

void Amax(const float* in, size_t n, unsigned* amax_bits) {
  using namespace named_detail;
  Check(cudaMemsetAsync(amax_bits, 0, sizeof(unsigned)), "cudaMemsetAsync");
  if (n == 0) return;
  const bool vector = Aligned(in, 16);
  const size_t threads = vector ? (n / 4 + 1) / 2 + n % 4 : n;
  AmaxKernel<<<GridFor(AmaxKernel, threads), kThreads>>>(in, n, amax_bits, vector);
  Check(cudaGetLastError(), "AmaxKernel");
}

bool ScaledCast(const Format& f, const Options& opt, const float* in, void* codes, float* out, size_t n,
                const ScaledWork* w) {
  using namespace named_detail;
  if (IsStochastic(opt.rounding) || opt.flush_input || opt.flush_output || opt.nan_payload != Options{}.nan_payload)
    return false;
  bool done = false;
  WithIndex(NamedIndex(f), [&](auto index) {
    constexpr int kIdx = decltype(index)::value;
    if constexpr (!kNamedDesc<kIdx>.is_int && ScaledSpecialised(kIdx)) {
      const simd::EncodePlan plan = simd::MakeEncodePlan(f, opt);
      if (!PlanMatches(kNamedDesc<kIdx>, plan)) return;
      done = true;
      if (n == 0) return;
      using Code = CodeOf<kIdx>;
      const NamedParams p = MakeNamedParams(plan);
      Code* c = static_cast<Code*>(codes);
      const bool vector = Aligned(in, 16) && Aligned(c, 4 * sizeof(Code)) && Aligned(out, 16);
      const size_t threads = vector ? (n / 4 + 1) / 2 + n % 4 : n;
      WithMode(opt.rounding, [&](auto mode) {
        constexpr Rounding kMode = decltype(mode)::value;
        if constexpr (!IsStochastic(kMode)) {
          auto kernel = ScaledCastKernel<kIdx, kMode, Code>;
          kernel<<<GridFor(kernel, threads), kThreads>>>(p, in, c, out, n, w, vector);
        }
      });
      Check(cudaGetLastError(), "ScaledCastKernel");
    }
  });
  return done;
}

}  // namespace named
}  // namespace floatscope::gpu
