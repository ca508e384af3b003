// The compile-time specialised encode kernels (float32 -> codes of a named
// format, every mode), and the per-tensor scaled quantization's fast
// passes: the amax reduction and the cast, every mode (stochastic rounding
// with one Philox call per four elements) (cuda/named_kernels.cuh,
// cuda/named_convert.h).
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
  return lanes::Max(lanes::Max(AbsOrZero(x.x), AbsOrZero(x.y)), lanes::Max(AbsOrZero(x.z), AbsOrZero(x.w)));
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
    m0 = lanes::Max(m0, Max4(x0));
    m1 = lanes::Max(m1, Max4(x1));
  }
  if (v < n4) m0 = lanes::Max(m0, Max4(in4[v]));
  for (size_t j = 4 * n4 + tid; j < n; j += stride) m1 = lanes::Max(m1, AbsOrZero(__float_as_uint(in[j])));
  uint32_t m = __reduce_max_sync(0xffffffffu, lanes::Max(m0, m1));
  __shared__ uint32_t warp_max[kThreads / 32];
  if (threadIdx.x % 32 == 0) warp_max[threadIdx.x / 32] = m;
  __syncthreads();
  if (threadIdx.x < 32) {
    m = __reduce_max_sync(0xffffffffu, threadIdx.x < kThreads / 32 ? warp_max[threadIdx.x] : 0u);
    if (threadIdx.x == 0) atomicMax(amax_bits, m);
  }
}

// ---- the scaled cast (its element: cuda/named_convert.h ScaledElement) ---------

// The cast pass: element i (index first_index + i; a whole tensor as the
// CPU's scheme tensor has first_index 0) of in -> codes[i] and out[i]
// (either may be null). `vector` (all pointers aligned for four elements
// and, in the stochastic modes, first_index a multiple of 4): two float4
// per thread per iteration, each one group of four indices and so one
// Philox call in the stochastic modes; the rest by the group loop.
// kCodes: whether codes are written (fake quantization alone, the common
// call, then carries no code path: 31 % fewer instructions in the sr
// kernel's main loop, in the sm_90a build).
template <int kIdx, Rounding kMode, class Code, bool kCodes>
__global__ void __launch_bounds__(kThreads) ScaledCastKernel(NamedParams p, const float* __restrict__ in,
                                                             Code* __restrict__ codes, float* __restrict__ out,
                                                             size_t n, uint64_t first_index,
                                                             const ScaledWork* __restrict__ w, bool vector) {
  const ScaleParts s = ScalePartsOf(w->scale);
  const float inv = w->scale_inv;
  const size_t stride = size_t{gridDim.x} * blockDim.x;
  const size_t tid = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const size_t n4 = vector ? n / 4 : 0;
  const uint4* in4 = reinterpret_cast<const uint4*>(in);
  constexpr bool want_codes = kCodes;
  auto quad = [&](uint4 x, size_t at) {
    Philox4x32 r{{0, 0, 0, 0}};
    if constexpr (IsStochastic(kMode)) r = StochasticCall(p.random.Seed(), first_index / 4 + at);
    uint32_t c[4] = {0, 0, 0, 0};
    const uint4 y = make_uint4(ScaledElement<kIdx, kMode>(p, s, inv, x.x, r.v[0], want_codes, &c[0]),
                               ScaledElement<kIdx, kMode>(p, s, inv, x.y, r.v[1], want_codes, &c[1]),
                               ScaledElement<kIdx, kMode>(p, s, inv, x.z, r.v[2], want_codes, &c[2]),
                               ScaledElement<kIdx, kMode>(p, s, inv, x.w, r.v[3], want_codes, &c[3]));
    if constexpr (kCodes) reinterpret_cast<typename Pack4<Code>::type*>(codes)[at] = Pack4<Code>::Of(c[0], c[1], c[2], c[3]);
    if (out) reinterpret_cast<uint4*>(out)[at] = y;
  };
  size_t v = tid;
  for (; v + stride < n4; v += 2 * stride) {
    const uint4 x0 = in4[v], x1 = in4[v + stride];
    quad(x0, v);
    quad(x1, v + stride);
  }
  if (v < n4) quad(in4[v], v);
  const SrGroups groups = SrGroupsOf(first_index, 4 * n4, n);
  for (uint64_t g = tid; g < groups.count; g += stride) {
    const uint64_t counter = groups.first + g;
    Philox4x32 r{{0, 0, 0, 0}};
    if constexpr (IsStochastic(kMode)) r = StochasticCall(p.random.Seed(), counter);
#pragma unroll
    for (unsigned k = 0; k < 4; ++k) {
      const size_t j = static_cast<size_t>(4 * counter + k - first_index);  // wraps below 0 to huge
      if (j < 4 * n4 || j >= n) continue;
      uint32_t c = 0;
      const uint32_t y = ScaledElement<kIdx, kMode>(p, s, inv, __float_as_uint(in[j]), r.v[k], want_codes, &c);
      if constexpr (kCodes) codes[j] = static_cast<Code>(c);
      if (out) out[j] = __uint_as_float(y);
    }
  }
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
                uint64_t first_index, const ScaledWork* w) {
  using namespace named_detail;
  if (opt.flush_input || opt.flush_output || opt.nan_payload != Options{}.nan_payload) return false;
  bool done = false;
  WithIndex(NamedIndex(f), [&](auto index) {
    constexpr int kIdx = decltype(index)::value;
    if constexpr (!kNamedPlan<kIdx>.layout.is_int && ScaledSpecialised(formats::kAll[kIdx])) {
      const EncodePlan plan = MakeEncodePlan(f, opt);
      if (!PlanMatches(kNamedPlan<kIdx>, plan)) return;
      done = true;
      if (n == 0) return;
      using Code = CodeOf<kIdx>;
      const NamedParams p = MakeNamedParams(plan);
      Code* c = static_cast<Code*>(codes);
      const bool vector = Aligned(in, 16) && Aligned(c, 4 * sizeof(Code)) && Aligned(out, 16) &&
                          (!IsStochastic(opt.rounding) || first_index % 4 == 0);
      const size_t threads = vector ? (n / 4 + 1) / 2 + 1 : (n + 3) / 4 + 1;
      WithMode(opt.rounding, [&](auto mode) {
        constexpr Rounding kMode = decltype(mode)::value;
        auto kernel = c != nullptr ? ScaledCastKernel<kIdx, kMode, Code, true> : ScaledCastKernel<kIdx, kMode, Code, false>;
        kernel<<<GridFor(kernel, threads), kThreads>>>(p, in, c, out, n, first_index, w, vector);
      });
      Check(cudaGetLastError(), "ScaledCastKernel");
    }
  });
  return done;
}

}  // namespace named
}  // namespace floatscope::gpu
