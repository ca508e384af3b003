// Launch plumbing of the compile-time specialised kernels, shared by
// cuda/named_fake_quant.cu and cuda/named_encode.cu (two files so the many
// instantiations compile in parallel): the element loop (two float4 per
// thread per iteration, loads first, a grid of one full wave; one Philox
// call per four elements in the stochastic modes, cuda/stochastic.h), the
// table of named formats, and the run-time mode -> template dispatch.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <type_traits>

#include "cuda/check.cuh"
#include "cuda/gpu.h"
#include "cuda/named.h"
#include "cuda/named_convert.h"
#include "cuda/stochastic.h"

namespace floatscope::gpu::named_detail {

constexpr int kThreads = 256;
constexpr int kFormats = static_cast<int>(sizeof(formats::kAll) / sizeof(formats::kAll[0]));

inline int SmCount() {
  static int sms = [] {
    int dev = 0, n = 0;
    Check(cudaGetDevice(&dev), "cudaGetDevice");
    Check(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev), "cudaDeviceGetAttribute");
    return n;
  }();
  return sms;
}

// One full wave of resident blocks, no more than `threads_needed` asks.
template <class Kernel>
unsigned GridFor(Kernel kernel, size_t threads_needed) {
  int per_sm = 0;
  Check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, 0), "occupancy");
  const size_t wave = static_cast<size_t>(std::max(per_sm, 1)) * SmCount();
  const size_t need = (threads_needed + kThreads - 1) / kThreads;
  return static_cast<unsigned>(std::max<size_t>(1, std::min(wave, need)));
}

inline bool Aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// Calls fn(std::integral_constant<int, i>{}) for the formats::kAll index
// i = idx when kNamedPlan<i>.ok; returns whether it did.
template <int kIdx = 0, class Fn>
bool WithIndex(int idx, Fn&& fn) {
  if constexpr (kIdx < kFormats) {
    if (idx == kIdx) {
      if constexpr (kNamedPlan<kIdx>.ok) {
        fn(std::integral_constant<int, kIdx>{});
        return true;
      } else {
        return false;
      }
    }
    return WithIndex<kIdx + 1>(idx, std::forward<Fn>(fn));
  } else {
    return false;
  }
}

template <class Fn>
void WithMode(Rounding r, Fn&& fn) {
  switch (r) {
    case Rounding::kNearestEven: fn(std::integral_constant<Rounding, Rounding::kNearestEven>{}); return;
    case Rounding::kNearestAway: fn(std::integral_constant<Rounding, Rounding::kNearestAway>{}); return;
    case Rounding::kTowardZero: fn(std::integral_constant<Rounding, Rounding::kTowardZero>{}); return;
    case Rounding::kDown: fn(std::integral_constant<Rounding, Rounding::kDown>{}); return;
    case Rounding::kUp: fn(std::integral_constant<Rounding, Rounding::kUp>{}); return;
    case Rounding::kOdd: fn(std::integral_constant<Rounding, Rounding::kOdd>{}); return;
    case Rounding::kStochastic: fn(std::integral_constant<Rounding, Rounding::kStochastic>{}); return;
    case Rounding::kStochasticEq: fn(std::integral_constant<Rounding, Rounding::kStochasticEq>{}); return;
  }
  throw GpuError("unknown rounding mode");
}

// 4 outputs of type Out as one store.
template <class Out>
struct Pack4;
template <>
struct Pack4<float> {
  using type = uint4;
  __device__ static type Of(uint32_t a, uint32_t b, uint32_t c, uint32_t d) { return make_uint4(a, b, c, d); }
};
template <>
struct Pack4<uint8_t> {
  using type = uint32_t;
  __device__ static type Of(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
    return (a & 0xFFu) | (b & 0xFFu) << 8 | (c & 0xFFu) << 16 | d << 24;
  }
};
template <>
struct Pack4<uint16_t> {
  using type = uint2;
  __device__ static type Of(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
    return make_uint2((a & 0xFFFFu) | b << 16, (c & 0xFFFFu) | d << 16);
  }
};

// One element: code (kCodes) or fake-quantized float32 bits; `random` is
// its word of its group's call (unused by the deterministic modes).
template <int kIdx, Rounding kMode, bool kCodes>
__device__ __forceinline__ uint32_t NamedElement(const NamedParams& p, uint32_t bits, uint32_t random) {
  const lanes::FastLanes<uint32_t> l = NamedRound<kIdx, kMode>(p, bits, random);
  if constexpr (kCodes) return NamedCodeOf<kIdx>(p, l);
  else return NamedFakeQuantOf<kIdx>(p, l);
}

// Four elements whose indices are 4 * counter .. 4 * counter + 3: one
// call (formats/philox.h), word k for element k.
template <int kIdx, Rounding kMode, bool kCodes, class Out>
__device__ __forceinline__ typename Pack4<Out>::type NamedQuad(const NamedParams& p, uint4 x, uint64_t counter) {
  Philox4x32 r{{0, 0, 0, 0}};
  if constexpr (IsStochastic(kMode)) r = StochasticCall(p.random.Seed(), counter);
  return Pack4<Out>::Of(NamedElement<kIdx, kMode, kCodes>(p, x.x, r.v[0]),
                        NamedElement<kIdx, kMode, kCodes>(p, x.y, r.v[1]),
                        NamedElement<kIdx, kMode, kCodes>(p, x.z, r.v[2]),
                        NamedElement<kIdx, kMode, kCodes>(p, x.w, r.v[3]));
}

// out[i] = element(in[i]) with index first_index + i. `vector` (the host's
// VectorSplitOf): the first `peel` elements go through the group loop,
// then each thread takes two float4 per iteration from in + peel, both
// loads issued before the arithmetic, each float4 one group of four (its
// first index a multiple of 4 in the stochastic modes) and so one call;
// the tail of (n - peel) mod 4 elements goes through the group loop. Not
// `vector`: the group loop takes everything.
template <int kIdx, Rounding kMode, bool kCodes, class Out>
__global__ void __launch_bounds__(kThreads) NamedMapKernel(NamedParams p, const float* __restrict__ in,
                                                           Out* __restrict__ out, size_t n, uint64_t first_index,
                                                           bool vector, size_t peel) {
  const size_t stride = size_t{gridDim.x} * blockDim.x;
  const size_t tid = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (!vector) peel = 0;
  const size_t n4 = vector ? (n - peel) / 4 : 0;
  const uint4* in4 = reinterpret_cast<const uint4*>(in + peel);
  using V = typename Pack4<Out>::type;
  V* out4 = reinterpret_cast<V*>(out + peel);
  const uint64_t counter0 = (first_index + peel) / 4;  // the counter of quad 0 when `vector`
  size_t v = tid;
  for (; v + stride < n4; v += 2 * stride) {
    const uint4 x0 = in4[v], x1 = in4[v + stride];
    out4[v] = NamedQuad<kIdx, kMode, kCodes, Out>(p, x0, counter0 + v);
    out4[v + stride] = NamedQuad<kIdx, kMode, kCodes, Out>(p, x1, counter0 + v + stride);
  }
  if (v < n4) out4[v] = NamedQuad<kIdx, kMode, kCodes, Out>(p, in4[v], counter0 + v);
  const GroupRanges rest = GroupRangesOf(first_index, peel, n4, n);
  for (uint64_t g = tid; g < rest.head.count + rest.tail.count; g += stride) {
    const bool head = g < rest.head.count;
    const uint64_t counter = head ? rest.head.first + g : rest.tail.first + (g - rest.head.count);
    const size_t lo = head ? 0 : rest.tail_begin, hi = head ? rest.head_end : n;
    Philox4x32 r{{0, 0, 0, 0}};
    if constexpr (IsStochastic(kMode)) r = StochasticCall(p.random.Seed(), counter);
#pragma unroll
    for (unsigned k = 0; k < 4; ++k) {
      const size_t j = static_cast<size_t>(4 * counter + k - first_index);  // wraps below 0 to huge
      if (j < lo || j >= hi) continue;
      const uint32_t c = NamedElement<kIdx, kMode, kCodes>(p, __float_as_uint(in[j]), r.v[k]);
      if constexpr (std::is_same_v<Out, float>) out[j] = __uint_as_float(c);
      else out[j] = static_cast<Out>(c);
    }
  }
}

// Threads a NamedMapKernel launch can use: the float4 loop's (two quads
// each) plus the groups of the rest.
inline size_t NamedThreads(size_t n, uint64_t first_index, const VectorSplit& split) {
  const size_t peel = split.vector ? split.peel : 0;
  const size_t n4 = split.vector ? (n - peel) / 4 : 0;
  const GroupRanges rest = GroupRangesOf(first_index, peel, n4, n);
  return (n4 + 1) / 2 + static_cast<size_t>(rest.head.count + rest.tail.count);
}

// Stochastic rounding is specialised for the formats it is mostly used
// with (and exhaustively verified for); the others take the plan kernel.
constexpr bool SrSpecialised(int i) {
  const std::string_view name = formats::kAll[i].name;
  return name == "f16" || name == "bf16" || name == "e4m3fn" || name == "e5m2" || name == "e2m1fn" || name == "int8";
}

template <int kIdx, class Out>
bool LaunchNamedMap(const Options& opt, bool codes, const float* in, Out* out, size_t n, uint64_t first_index) {
  if (IsStochastic(opt.rounding) && !SrSpecialised(kIdx)) return false;
  const EncodePlan plan = MakeEncodePlan(formats::kAll[kIdx], opt);
  if (!PlanMatches(kNamedPlan<kIdx>, plan)) return false;
  if (n == 0) return true;
  const NamedParams p = MakeNamedParams(plan);
  // A float4 is one group of four only when its first index is a multiple
  // of 4; the deterministic modes do not care.
  const VectorSplit split = VectorSplitOf(reinterpret_cast<uintptr_t>(in), reinterpret_cast<uintptr_t>(out),
                                          sizeof(Out), n, first_index, IsStochastic(opt.rounding));
  const size_t threads = NamedThreads(n, first_index, split);
  WithMode(opt.rounding, [&](auto mode) {
    constexpr Rounding kMode = decltype(mode)::value;
    if constexpr (IsStochastic(kMode) && !SrSpecialised(kIdx)) return;
    if (codes) {
      if constexpr (!std::is_same_v<Out, float>) {
        auto kernel = NamedMapKernel<kIdx, kMode, true, Out>;
        kernel<<<GridFor(kernel, threads), kThreads>>>(p, in, out, n, first_index, split.vector, split.peel);
      }
    } else {
      if constexpr (std::is_same_v<Out, float>) {
        auto kernel = NamedMapKernel<kIdx, kMode, false, Out>;
        kernel<<<GridFor(kernel, threads), kThreads>>>(p, in, out, n, first_index, split.vector, split.peel);
      }
    }
  });
  Check(cudaGetLastError(), "NamedMapKernel");
  return true;
}

template <int kIdx>
using CodeOf = std::conditional_t<(formats::kAll[kIdx].storage_bits <= 8), uint8_t, uint16_t>;

}  // namespace floatscope::gpu::named_detail
