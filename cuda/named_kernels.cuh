// Launch plumbing of the compile-time specialised kernels, shared by
// cuda/named_fake_quant.cu and cuda/named_encode.cu (two files so the many
// instantiations compile in parallel): the element loop (two float4 per
// thread per iteration, loads first, a grid of one full wave), the table of
// named formats, and the run-time mode -> template dispatch.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <type_traits>

#include "cuda/gpu.h"
#include "cuda/named.h"
#include "cuda/named_convert.h"

namespace floatscope::gpu::named_detail {

constexpr int kThreads = 256;
constexpr int kFormats = static_cast<int>(sizeof(formats::kAll) / sizeof(formats::kAll[0]));

inline void Check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw GpuError(std::string(what) + ": " + cudaGetErrorString(e));
}

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
// i = idx when kNamedDesc<i>.ok; returns whether it did.
template <int kIdx = 0, class Fn>
bool WithIndex(int idx, Fn&& fn) {
  if constexpr (kIdx < kFormats) {
    if (idx == kIdx) {
      if constexpr (kNamedDesc<kIdx>.ok) {
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

// One element: code (kCodes) or fake-quantized float32 bits.
template <int kIdx, Rounding kMode, bool kCodes>
__device__ __forceinline__ uint32_t NamedElement(const NamedParams& p, uint32_t bits, uint32_t idx_lo, uint32_t idx_hi) {
  uint32_t random = 0;
  if constexpr (IsStochastic(kMode)) random = PhiloxWord0Device(idx_lo, idx_hi, p.key0, p.key1);
  const uint32_t mag = NamedRoundMag<kIdx, kMode>(bits, random, p.top_r);
  if constexpr (kCodes) return NamedCodeOf<kIdx>(p, bits, mag);
  else return NamedFakeQuantOf<kIdx>(p, bits, mag);
}

template <int kIdx, Rounding kMode, bool kCodes, class Out>
__device__ __forceinline__ typename Pack4<Out>::type NamedQuad(const NamedParams& p, uint4 x, uint64_t index) {
  const uint32_t lo = static_cast<uint32_t>(index), hi = static_cast<uint32_t>(index >> 32);
  // Element index + k, k < 4: the high word carries when the low one wraps.
  auto at = [&](uint32_t bits, uint32_t k) {
    const uint32_t l = lo + k;
    return NamedElement<kIdx, kMode, kCodes>(p, bits, l, hi + (l < lo ? 1u : 0u));
  };
  return Pack4<Out>::Of(at(x.x, 0), at(x.y, 1), at(x.z, 2), at(x.w, 3));
}

// out[i] = element(in[i], first_index + i). Each thread takes two float4
// per iteration (both loads issued before the arithmetic), the rest in a
// scalar loop.
template <int kIdx, Rounding kMode, bool kCodes, class Out>
__global__ void __launch_bounds__(kThreads) NamedMapKernel(NamedParams p, const float* __restrict__ in,
                                                           Out* __restrict__ out, size_t n, uint64_t first_index,
                                                           bool vector) {
  const size_t stride = size_t{gridDim.x} * blockDim.x;
  const size_t tid = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const size_t n4 = vector ? n / 4 : 0;
  const uint4* in4 = reinterpret_cast<const uint4*>(in);
  using V = typename Pack4<Out>::type;
  V* out4 = reinterpret_cast<V*>(out);
  size_t v = tid;
  for (; v + stride < n4; v += 2 * stride) {
    const uint4 x0 = in4[v], x1 = in4[v + stride];
    out4[v] = NamedQuad<kIdx, kMode, kCodes, Out>(p, x0, first_index + 4 * v);
    out4[v + stride] = NamedQuad<kIdx, kMode, kCodes, Out>(p, x1, first_index + 4 * (v + stride));
  }
  if (v < n4) out4[v] = NamedQuad<kIdx, kMode, kCodes, Out>(p, in4[v], first_index + 4 * v);
  for (size_t j = 4 * n4 + tid; j < n; j += stride) {
    const uint64_t i = first_index + j;
    const uint32_t c = NamedElement<kIdx, kMode, kCodes>(p, __float_as_uint(in[j]), static_cast<uint32_t>(i),
                                                         static_cast<uint32_t>(i >> 32));
    if constexpr (std::is_same_v<Out, float>) out[j] = __uint_as_float(c);
    else out[j] = static_cast<Out>(c);
  }
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
  const simd::EncodePlan plan = simd::MakeEncodePlan(formats::kAll[kIdx], opt);
  if (!PlanMatches(kNamedDesc<kIdx>, plan)) return false;
  if (n == 0) return true;
  const NamedParams p = MakeNamedParams(plan);
  const bool vector = Aligned(in, 16) && Aligned(out, 4 * sizeof(Out));
  const size_t threads = vector ? (n / 4 + 1) / 2 + n % 4 : n;
  WithMode(opt.rounding, [&](auto mode) {
    constexpr Rounding kMode = decltype(mode)::value;
    if constexpr (IsStochastic(kMode) && !SrSpecialised(kIdx)) return;
    if (codes) {
      if constexpr (!std::is_same_v<Out, float>) {
        auto kernel = NamedMapKernel<kIdx, kMode, true, Out>;
        kernel<<<GridFor(kernel, threads), kThreads>>>(p, in, out, n, first_index, vector);
      }
    } else {
      if constexpr (std::is_same_v<Out, float>) {
        auto kernel = NamedMapKernel<kIdx, kMode, false, Out>;
        kernel<<<GridFor(kernel, threads), kThreads>>>(p, in, out, n, first_index, vector);
      }
    }
  });
  Check(cudaGetLastError(), "NamedMapKernel");
  return true;
}

template <int kIdx>
using CodeOf = std::conditional_t<(formats::kAll[kIdx].storage_bits <= 8), uint8_t, uint16_t>;

}  // namespace floatscope::gpu::named_detail
