// The CUDA kernels behind cuda/gpu.h. Element work is in emulate/encode_lanes.h
// (the "fast" and "plan" variants: the Highway kernels' general conversion, one
// lane per thread), formats/ (the "core" variant), cuda/device_ops.h and
// emulate/ itself (the GEMM's dot products); this file is launch plumbing: grid-stride loops with 16-byte loads and
// stores, reductions, and the host side of each call.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <type_traits>

#include "cuda/check.cuh"
#include "cuda/device_ops.h"
#include "cuda/gpu.h"
#include "cuda/named.h"
#include "cuda/stochastic.h"
#include "cuda/verify.h"
#include "emulate/dot.h"
#include "emulate/quant/fp8_scaling.h"
#include "emulate/quant/mx.h"
#include "emulate/quant/nvfp4.h"
#include "emulate/encode_lanes.h"
#include "emulate/encode_plan.h"
#include "formats/catalog.h"
#include "formats/convert.h"

namespace floatscope::gpu {

namespace {

void CheckLaunch(const char* kernel) { Check(cudaGetLastError(), kernel); }

int SmCount() {
  static int sms = [] {
    int dev = 0, n = 0;
    Check(cudaGetDevice(&dev), "cudaGetDevice");
    Check(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev), "cudaDeviceGetAttribute");
    return n;
  }();
  return sms;
}

constexpr int kThreads = 256;

// A full wave of resident blocks for a grid-stride kernel, no more than the
// work needs.
template <class Kernel>
unsigned GridFor(Kernel kernel, size_t work_items) {
  int per_sm = 0;
  Check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, 0), "occupancy");
  const size_t wave = static_cast<size_t>(std::max(per_sm, 1)) * SmCount();
  const size_t need = (work_items + kThreads - 1) / kThreads;
  return static_cast<unsigned>(std::max<size_t>(1, std::min(wave, need)));
}

size_t CodeBytesOf(const Format& f) {
  const int b = f.storage_bits;
  return b <= 8 ? 1 : b <= 16 ? 2 : b <= 32 ? 4 : 8;
}

// ---- element operations --------------------------------------------------------

// op(bits, index, random) -> the element's result. Ops with kSharedCall
// take their random bits from the caller: word index mod 4 of the call
// StochasticCall(op.Seed(), index / 4) that the kernel makes once per group
// of four (cuda/stochastic.h). The core's ops draw their own
// (formats/round_pack.h calls StochasticBits(seed, index): the same word,
// one call per element).
template <Rounding kMode>
struct FastEncodeOp {
  static constexpr bool kSharedCall = IsStochastic(kMode);
  EncodePlan plan;
  __device__ uint64_t Seed() const { return plan.random.Seed(); }
  __device__ uint32_t operator()(uint32_t bits, uint64_t, uint32_t random) const {
    return lanes::EncodeLanes<lanes::ScalarTags>(plan, bits, random, kMode).code << plan.layout.storage_shift;
  }
};

template <Rounding kMode>
struct FastFakeQuantOp {
  static constexpr bool kSharedCall = IsStochastic(kMode);
  EncodePlan plan;  // decode.flush_subnormals off
  __device__ uint64_t Seed() const { return plan.random.Seed(); }
  __device__ uint32_t operator()(uint32_t bits, uint64_t, uint32_t random) const {
    const uint32_t code = lanes::EncodeLanes<lanes::ScalarTags>(plan, bits, random, kMode).code;
    return lanes::DecodeLanes<lanes::ScalarTags>(plan, code);
  }
};

struct CoreEncodeOp {
  static constexpr bool kSharedCall = false;
  Format f;
  Options opt;
  __device__ uint32_t operator()(uint32_t bits, uint64_t index, uint32_t) const {
    constexpr Format kF32 = formats::kF32;
    return StoredCode(f, Convert(kF32, bits, f, opt, index).code);
  }
};

struct CoreFakeQuantOp {
  static constexpr bool kSharedCall = false;
  Format f;
  Options opt, dec;
  __device__ uint32_t operator()(uint32_t bits, uint64_t index, uint32_t) const {
    constexpr Format kF32 = formats::kF32;
    const uint64_t code = Convert(kF32, bits, f, opt, index).code;
    return BitsOf(DecodeToF32(f, code, dec));
  }
};

struct FastDecodeOp {
  EncodePlan plan;
  __device__ uint32_t operator()(uint32_t stored) const {
    return lanes::DecodeLanes<lanes::ScalarTags>(plan, stored >> plan.layout.storage_shift);
  }
};

struct CoreDecodeOp {
  Format f;
  Options dec;
  __device__ uint32_t operator()(uint32_t stored) const { return BitsOf(DecodeToF32(f, CoreCode(f, stored), dec)); }
};

// ---- vector loads and stores -------------------------------------------------------

template <class T>
struct Vec4Of;
template <>
struct Vec4Of<uint8_t> {
  using type = uint32_t;
  __device__ static type Pack(const uint32_t c[4]) { return (c[0] & 0xFF) | (c[1] & 0xFF) << 8 | (c[2] & 0xFF) << 16 | c[3] << 24; }
  __device__ static void Unpack(type v, uint32_t c[4]) {
    for (int k = 0; k < 4; ++k) c[k] = (v >> (8 * k)) & 0xFF;
  }
};
template <>
struct Vec4Of<uint16_t> {
  using type = uint2;
  __device__ static type Pack(const uint32_t c[4]) {
    return make_uint2((c[0] & 0xFFFF) | c[1] << 16, (c[2] & 0xFFFF) | c[3] << 16);
  }
  __device__ static void Unpack(type v, uint32_t c[4]) {
    c[0] = v.x & 0xFFFF, c[1] = v.x >> 16, c[2] = v.y & 0xFFFF, c[3] = v.y >> 16;
  }
};
template <>
struct Vec4Of<uint32_t> {
  using type = uint4;
  __device__ static type Pack(const uint32_t c[4]) { return make_uint4(c[0], c[1], c[2], c[3]); }
  __device__ static void Unpack(type v, uint32_t c[4]) { c[0] = v.x, c[1] = v.y, c[2] = v.z, c[3] = v.w; }
};
template <>
struct Vec4Of<float> {
  using type = uint4;
  __device__ static type Pack(const uint32_t c[4]) { return make_uint4(c[0], c[1], c[2], c[3]); }
};

// out[i] = op(bits of in[i], first_index + i). `vector` (the host's
// VectorSplitOf): the first `peel` elements go through the group loop,
// then float4 loads and 4-element stores from in + peel (for ops with a
// shared call, each float4 is one group of four indices: its first index
// is a multiple of 4), then the tail through the group loop (SrGroups: one
// group per thread and iteration, scalar loads and stores), so every group
// costs one call whatever the alignment. Not `vector`: the group loop
// takes everything.
template <class Op, class Out>
__global__ void __launch_bounds__(kThreads) MapF32Kernel(Op op, const float* __restrict__ in, Out* __restrict__ out,
                                                         size_t n, uint64_t first_index, bool vector, size_t peel) {
  const size_t stride = size_t{gridDim.x} * blockDim.x;
  const size_t tid = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (!vector) peel = 0;
  const size_t n4 = vector ? (n - peel) / 4 : 0;
  const uint4* in4 = reinterpret_cast<const uint4*>(in + peel);
  using V = typename Vec4Of<Out>::type;
  V* out4 = reinterpret_cast<V*>(out + peel);
  const uint64_t first4 = first_index + peel;
  for (size_t v = tid; v < n4; v += stride) {
    const uint4 x = in4[v];
    const uint64_t i = first4 + 4 * v;
    Philox4x32 r{{0, 0, 0, 0}};
    if constexpr (Op::kSharedCall) r = StochasticCall(op.Seed(), first4 / 4 + v);
    const uint32_t c[4] = {op(x.x, i, r.v[0]), op(x.y, i + 1, r.v[1]), op(x.z, i + 2, r.v[2]),
                           op(x.w, i + 3, r.v[3])};
    out4[v] = Vec4Of<Out>::Pack(c);
  }
  const GroupRanges rest = GroupRangesOf(first_index, peel, n4, n);
  for (uint64_t g = tid; g < rest.head.count + rest.tail.count; g += stride) {
    const bool head = g < rest.head.count;
    const uint64_t counter = head ? rest.head.first + g : rest.tail.first + (g - rest.head.count);
    const size_t lo = head ? 0 : rest.tail_begin, hi = head ? rest.head_end : n;
    Philox4x32 r{{0, 0, 0, 0}};
    if constexpr (Op::kSharedCall) r = StochasticCall(op.Seed(), counter);
#pragma unroll
    for (unsigned k = 0; k < 4; ++k) {
      const uint64_t index = 4 * counter + k;
      const size_t j = static_cast<size_t>(index - first_index);  // wraps below 0 to huge
      if (j < lo || j >= hi) continue;
      const uint32_t c = op(__float_as_uint(in[j]), index, r.v[k]);
      if constexpr (std::is_same_v<Out, float>) out[j] = __uint_as_float(c);
      else out[j] = static_cast<Out>(c);
    }
  }
}

template <class Op, class Code>
__global__ void __launch_bounds__(kThreads) DecodeKernel(Op op, const Code* __restrict__ codes, float* __restrict__ out,
                                                         size_t n, bool vector) {
  const size_t stride = size_t{gridDim.x} * blockDim.x;
  const size_t tid = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const size_t n4 = vector ? n / 4 : 0;
  using V = typename Vec4Of<Code>::type;
  const V* in4 = reinterpret_cast<const V*>(codes);
  uint4* out4 = reinterpret_cast<uint4*>(out);
  for (size_t v = tid; v < n4; v += stride) {
    uint32_t c[4];
    Vec4Of<Code>::Unpack(in4[v], c);
    out4[v] = make_uint4(op(c[0]), op(c[1]), op(c[2]), op(c[3]));
  }
  for (size_t j = 4 * n4 + tid; j < n; j += stride) out[j] = __uint_as_float(op(codes[j]));
}

bool Aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

template <class Op, class Out>
void LaunchMap(const Op& op, const float* in, Out* out, size_t n, uint64_t first_index) {
  if (n == 0) return;
  const VectorSplit split = VectorSplitOf(reinterpret_cast<uintptr_t>(in), reinterpret_cast<uintptr_t>(out),
                                          sizeof(Out), n, first_index, Op::kSharedCall);
  const size_t peel = split.vector ? split.peel : 0;
  const size_t n4 = split.vector ? (n - peel) / 4 : 0;
  const GroupRanges rest = GroupRangesOf(first_index, peel, n4, n);
  const size_t threads = n4 + static_cast<size_t>(rest.head.count + rest.tail.count);
  auto kernel = MapF32Kernel<Op, Out>;
  kernel<<<GridFor(kernel, threads), kThreads>>>(op, in, out, n, first_index, split.vector, peel);
  CheckLaunch("MapF32Kernel");
}

template <class Op>
void LaunchEncode(const Op& op, const Format& f, const float* in, void* codes, size_t n, uint64_t first_index) {
  switch (CodeBytesOf(f)) {
    case 1: LaunchMap(op, in, static_cast<uint8_t*>(codes), n, first_index); break;
    case 2: LaunchMap(op, in, static_cast<uint16_t*>(codes), n, first_index); break;
    case 4: LaunchMap(op, in, static_cast<uint32_t*>(codes), n, first_index); break;
    default: throw GpuError(std::string("format ") + f.name + " is too wide for the GPU kernels (codes of at most 32 bits)");
  }
}

template <class Op>
void LaunchDecode(const Op& op, const Format& f, const void* codes, float* out, size_t n) {
  if (n == 0) return;
  auto go = [&](auto* c) {
    using Code = std::remove_const_t<std::remove_pointer_t<decltype(c)>>;
    const bool vector = Aligned(c, 4 * sizeof(Code)) && Aligned(out, 16);
    auto kernel = DecodeKernel<Op, Code>;
    kernel<<<GridFor(kernel, vector ? (n + 3) / 4 : n), kThreads>>>(op, c, out, n, vector);
    CheckLaunch("DecodeKernel");
  };
  switch (CodeBytesOf(f)) {
    case 1: go(static_cast<const uint8_t*>(codes)); break;
    case 2: go(static_cast<const uint16_t*>(codes)); break;
    case 4: go(static_cast<const uint32_t*>(codes)); break;
    default: throw GpuError(std::string("format ") + f.name + " is too wide for the GPU kernels (codes of at most 32 bits)");
  }
}

// Calls fn(std::integral_constant<Rounding, mode>{}) for the run-time mode.
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

// emulate/array_ops.cc's SimdSupports: formats the fast algorithm covers.
bool FastSupports(const Format& f) {
  if (!IsFloat(f)) return f.bits <= 16;
  return f.mantissa_bits <= 22 && f.bits <= 24 && f.exponent_bits <= 8 && MinNormalExponent(f) >= -127 &&
         MinNormalExponent(f) - f.mantissa_bits >= -149 &&
         static_cast<int>(MaxFiniteMagnitude(f) >> f.mantissa_bits) - f.bias <= 127;
}

Variant Resolve(Variant v, const Format& f) {
  if (CodeBytesOf(f) > 4) throw GpuError(std::string("format ") + f.name + " is too wide for the GPU kernels (codes of at most 32 bits)");
  if (v == Variant::kAuto) return FastSupports(f) ? Variant::kFast : Variant::kCore;
  if ((v == Variant::kFast || v == Variant::kPlan) && !FastSupports(f))
    throw GpuError(std::string("the fast kernels do not cover format ") + f.name + " (use the core variant)");
  return v;
}

// ---- reductions ---------------------------------------------------------------------

__device__ float WarpMax(float v, unsigned mask = 0xffffffffu, int width = 32) {
  for (int o = width / 2; o > 0; o /= 2) v = quant::FmaxF32(v, __shfl_xor_sync(mask, v, o, width));
  return v;
}

// *amax_bits = max(*amax_bits, bits of max |x| over non-NaN x). Non-negative
// floats order as their bit patterns, so atomicMax on the bits is max.
__global__ void __launch_bounds__(kThreads) AmaxKernel(const float* __restrict__ in, size_t n, unsigned* amax_bits,
                                                       bool vector) {
  const size_t stride = size_t{gridDim.x} * blockDim.x;
  const size_t tid = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const size_t n4 = vector ? n / 4 : 0;
  float m = 0.0f;
  const float4* in4 = reinterpret_cast<const float4*>(in);
  for (size_t v = tid; v < n4; v += stride) {
    const float4 x = in4[v];
    const float hi = quant::FmaxF32(quant::FmaxF32(quant::AbsF32(x.x), quant::AbsF32(x.y)),
                                    quant::FmaxF32(quant::AbsF32(x.z), quant::AbsF32(x.w)));
    m = quant::FmaxF32(m, hi);
  }
  for (size_t j = 4 * n4 + tid; j < n; j += stride) m = quant::FmaxF32(m, quant::AbsF32(in[j]));
  m = WarpMax(m);
  __shared__ float warp_max[kThreads / 32];
  if (threadIdx.x % 32 == 0) warp_max[threadIdx.x / 32] = m;
  __syncthreads();
  if (threadIdx.x < 32) {
    m = threadIdx.x < kThreads / 32 ? warp_max[threadIdx.x] : 0.0f;
    m = WarpMax(m);
    if (threadIdx.x == 0) atomicMax(amax_bits, __float_as_uint(m));
  }
}

void LaunchAmax(const float* in, size_t n, unsigned* amax_bits) {
  Check(cudaMemsetAsync(amax_bits, 0, sizeof(unsigned)), "cudaMemsetAsync");
  if (n == 0) return;
  const bool vector = Aligned(in, 16);
  AmaxKernel<<<GridFor(AmaxKernel, vector ? (n + 3) / 4 : n), kThreads>>>(in, n, amax_bits, vector);
  CheckLaunch("AmaxKernel");
}

// ---- per-tensor scaled ---------------------------------------------------------------

// Current scaling: the previous scale is 1.
__global__ void TensorScaleKernel(Format f, ScaledRecipe recipe, ScaledWork* w) {
  const float amax = __uint_as_float(w->amax_bits);
  w->scale = quant::Fp8ScaleFromAmax(f, static_cast<double>(amax), recipe, 1.0f);
  w->scale_inv = quant::Fp8ScaleInverse(w->scale);
}

struct CoreScaledOp {
  Format f;
  Options opt;
  __device__ uint32_t Encode(float x, float scale, uint64_t index) const {
    return static_cast<uint32_t>(quant::Fp8Encode(f, opt, static_cast<double>(x), scale, index).code);
  }
  __device__ float Decode(uint32_t code, float inv) const { return quant::Fp8Decode(f, code, inv); }
};

// The core with the format and mode known at compile time (FP8 formats).
template <int kIndex, Rounding kMode>
struct NamedScaledOp {
  Options opt;
  __device__ uint32_t Encode(float x, float scale, uint64_t index) const {
    constexpr Format kF = formats::kAll[kIndex];
    Options o = opt;
    o.rounding = kMode;
    return static_cast<uint32_t>(quant::Fp8Encode(kF, o, static_cast<double>(x), scale, index).code);
  }
  __device__ float Decode(uint32_t code, float inv) const {
    constexpr Format kF = formats::kAll[kIndex];
    return quant::Fp8Decode(kF, code, inv);
  }
};

// Element i of in (index first_index + i) -> codes[i], out[i] (either may
// be null): float4 loads when every pointer allows them, the rest one
// element per thread; each element draws its own bits (the core's cast).
template <class Op, class Code>
__global__ void __launch_bounds__(kThreads) ScaledCastKernel(Op op, const float* __restrict__ in, Code* __restrict__ codes,
                                                             float* __restrict__ out, size_t n, uint64_t first_index,
                                                             const ScaledWork* __restrict__ w, bool vector) {
  const float scale = w->scale, inv = w->scale_inv;
  const size_t stride = size_t{gridDim.x} * blockDim.x;
  const size_t tid = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const size_t n4 = vector ? n / 4 : 0;
  const float4* in4 = reinterpret_cast<const float4*>(in);
  using V = typename Vec4Of<Code>::type;
  for (size_t v = tid; v < n4; v += stride) {
    const float4 x = in4[v];
    const uint64_t i = first_index + 4 * v;
    const uint32_t c[4] = {op.Encode(x.x, scale, i), op.Encode(x.y, scale, i + 1), op.Encode(x.z, scale, i + 2),
                           op.Encode(x.w, scale, i + 3)};
    if (codes) reinterpret_cast<V*>(codes)[v] = Vec4Of<Code>::Pack(c);
    if (out)
      reinterpret_cast<float4*>(out)[v] =
          make_float4(op.Decode(c[0], inv), op.Decode(c[1], inv), op.Decode(c[2], inv), op.Decode(c[3], inv));
  }
  for (size_t j = 4 * n4 + tid; j < n; j += stride) {
    const uint32_t c = op.Encode(in[j], scale, first_index + j);
    if (codes) codes[j] = static_cast<Code>(c);
    if (out) out[j] = op.Decode(c, inv);
  }
}

template <class Op>
void LaunchScaledCast(const Op& op, const Format& f, const float* in, void* codes, float* out, size_t n,
                      uint64_t first_index, const ScaledWork* w) {
  if (n == 0) return;
  auto go = [&](auto* c) {
    using Code = std::remove_pointer_t<decltype(c)>;
    const bool vector = Aligned(in, 16) && Aligned(c, 4 * sizeof(Code)) && Aligned(out, 16);
    auto kernel = ScaledCastKernel<Op, Code>;
    kernel<<<GridFor(kernel, vector ? (n + 3) / 4 : n), kThreads>>>(op, in, c, out, n, first_index, w, vector);
    CheckLaunch("ScaledCastKernel");
  };
  if (CodeBytesOf(f) == 1) go(static_cast<uint8_t*>(codes));
  else go(static_cast<uint16_t*>(codes));
}

constexpr int IndexOfName(std::string_view name) {
  int i = 0;
  for (const Format& g : formats::kAll) {
    if (name == g.name) return i;
    ++i;
  }
  return -1;
}
constexpr int kE4m3fnIndex = IndexOfName("e4m3fn");
constexpr int kE5m2Index = IndexOfName("e5m2");
static_assert(kE4m3fnIndex >= 0 && kE5m2Index >= 0);

Options SaturateByDefault(Options o) {
  if (o.overflow == Overflow::kDefault) o.overflow = Overflow::kSaturate;
  return o;
}

// ---- MX and NVFP4 -------------------------------------------------------------------

// One warp per block of 32 along a row. t.elem, a host pointer, is
// replaced by a pointer to this thread's copy of the element format.
__global__ void __launch_bounds__(kThreads) MxKernel(quant::MxType t, Format elem, Options opt,
                                                     const float* __restrict__ in, size_t rows, size_t cols,
                                                     uint8_t* __restrict__ codes, uint8_t* __restrict__ scales,
                                                     float* __restrict__ out) {
  t.elem = &elem;
  const size_t per_row = (cols + 31) / 32;
  const size_t blocks = rows * per_row;
  const size_t warps = size_t{gridDim.x} * blockDim.x / 32;
  const unsigned lane = threadIdx.x % 32;
  for (size_t b = (size_t{blockIdx.x} * blockDim.x + threadIdx.x) / 32; b < blocks; b += warps) {
    const size_t row = b / per_row, col = (b % per_row) * 32 + lane;
    const bool valid = col < cols;
    const size_t e = row * cols + col;
    const float v = valid ? in[e] : 0.0f;
    const bool finite = (__float_as_uint(v) & 0x7f800000u) != 0x7f800000u;
    const bool special = __any_sync(0xffffffffu, !finite);
    const float amax = WarpMax(finite ? quant::AbsF32(v) : 0.0f);
    const quant::MxScale x = quant::MxSharedScale(t, static_cast<double>(amax), special);
    if (lane == 0) scales[b] = x.code;
    if (valid) {
      const uint64_t code = quant::MxEncodeElement(t, opt, static_cast<double>(v), x, e).code;
      codes[e] = static_cast<uint8_t>(code);
      out[e] = quant::MxDecodeElement(t, code, x);
    }
  }
}

struct Nvfp4Work {
  unsigned amax_bits;
  float s_dec;
};

// One half-warp per block of 16 along a row.
__global__ void __launch_bounds__(kThreads) Nvfp4Kernel(Options opt, const float* __restrict__ in, size_t rows,
                                                        size_t cols, uint8_t* __restrict__ codes,
                                                        uint8_t* __restrict__ scales, float* __restrict__ out,
                                                        Nvfp4Work* w) {
  const float s_enc = quant::Nvfp4GlobalEncodeScale(__uint_as_float(w->amax_bits));
  const float s_dec = quant::Nvfp4GlobalDecodeScale(s_enc);
  if (blockIdx.x == 0 && threadIdx.x == 0) w->s_dec = s_dec;
  const size_t per_row = (cols + 15) / 16;
  const size_t blocks = rows * per_row;
  const size_t halves = size_t{gridDim.x} * blockDim.x / 16;
  const unsigned lane = threadIdx.x % 16;
  // Every half-warp runs the same number of iterations, so the shuffles
  // below always have their whole warp present.
  const size_t first = (size_t{blockIdx.x} * blockDim.x + threadIdx.x) / 16;
  const size_t first_of_warp = first & ~size_t{1};
  for (size_t base = first_of_warp; base < blocks; base += halves) {
    const size_t b = base + (first - first_of_warp);
    const bool block_valid = b < blocks;
    const size_t row = block_valid ? b / per_row : 0, col = block_valid ? (b % per_row) * 16 + lane : 0;
    const bool valid = block_valid && col < cols;
    const size_t e = row * cols + col;
    const float v = valid ? in[e] : 0.0f;
    const float amax = WarpMax(quant::AbsF32(v), 0xffffffffu, 16);
    const uint8_t sc = quant::Nvfp4BlockScaleCode(amax, s_enc);
    const float k = quant::Nvfp4BlockEncodeScale(sc, s_dec);
    if (block_valid && lane == 0) scales[b] = sc;
    if (valid) {
      const uint64_t code = quant::Nvfp4EncodeElement(opt, v, k, e).code;
      codes[e] = static_cast<uint8_t>(code);
      out[e] = quant::Nvfp4DecodeElement(code, sc, s_dec);
    }
  }
}

// ---- GEMM -------------------------------------------------------------------------------

// One thread per element of C, computed by emulate/dot.h's GemmElement.
// The model arrives by value; its sum_format and operand_format, host
// pointers, are replaced by pointers to this thread's copies of those
// formats (has_sum_format, has_operand_format).
__global__ void GemmKernel(Format in_a, const uint32_t* __restrict__ a, Format in_b, const uint32_t* __restrict__ b,
                           size_t m, size_t n, size_t k, Format acc, DotModel model, bool has_sum_format,
                           Format sum_format, bool has_operand_format, Format operand_format,
                           uint64_t* __restrict__ c, uint8_t* __restrict__ flags, Options opt, uint64_t first_index,
                           uint64_t per) {
  const size_t j = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const size_t i = size_t{blockIdx.y} * blockDim.y + threadIdx.y;
  if (i >= m || j >= n) return;
  model.sum_format = has_sum_format ? &sum_format : nullptr;
  model.operand_format = has_operand_format ? &operand_format : nullptr;
  const Result r = GemmElement(in_a, a, in_b, b, i, j, n, k, acc, model, opt, first_index, per);
  c[i * n + j] = r.code;
  if (flags) flags[i * n + j] = r.flags;
}

// ---- verification helpers ------------------------------------------------------------------

__global__ void IotaKernel(float* out, uint32_t first_bits, size_t n) {
  const size_t stride = size_t{gridDim.x} * blockDim.x;
  for (size_t i = size_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = __uint_as_float(first_bits + static_cast<uint32_t>(i));
}

constexpr int kDigestSpan = 1 << 14;  // elements per CUDA block

template <class T>
__global__ void __launch_bounds__(kThreads) DigestKernel(const T* __restrict__ values, bool fake_quant,
                                                         uint32_t first_index, int log2_block,
                                                         unsigned long long* digests) {
  const size_t start = size_t{blockIdx.x} * kDigestSpan;
  uint64_t sum = 0;
  for (int k = threadIdx.x; k < kDigestSpan; k += kThreads) {
    const uint32_t index = first_index + static_cast<uint32_t>(start + k);
    const uint32_t value = static_cast<uint32_t>(values[start + k]);
    sum += fake_quant ? FakeQuantTerm(index, value) : CodeTerm(index, value);
  }
  for (int o = 16; o > 0; o /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  __shared__ uint64_t part[kThreads / 32];
  if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = sum;
  __syncthreads();
  if (threadIdx.x == 0) {
    uint64_t total = 0;
    for (int w = 0; w < kThreads / 32; ++w) total += part[w];
    atomicAdd(&digests[start >> log2_block], static_cast<unsigned long long>(total));
  }
}

__global__ void __launch_bounds__(kThreads) CopyKernel(const float4* __restrict__ in, float4* __restrict__ out, size_t n4) {
  const size_t stride = size_t{gridDim.x} * blockDim.x;
  for (size_t i = size_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n4; i += stride) out[i] = in[i];
}

__global__ void CopyTailKernel(const float* in, float* out, size_t begin, size_t n) {
  const size_t i = begin + threadIdx.x;
  if (i < n) out[i] = in[i];
}

}  // namespace

// ---- host API --------------------------------------------------------------------------------

bool DeviceAvailable(std::string* why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    if (why) *why = e != cudaSuccess ? cudaGetErrorString(e) : "no CUDA device";
    cudaGetLastError();  // clear
    return false;
  }
  return true;
}

std::string DeviceDescription() {
  int dev = 0, driver = 0, runtime = 0;
  Check(cudaGetDevice(&dev), "cudaGetDevice");
  cudaDeviceProp p{};
  Check(cudaGetDeviceProperties(&p, dev), "cudaGetDeviceProperties");
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s (sm_%d%d, %d SMs), CUDA driver %d, runtime %d", p.name, p.major, p.minor,
                p.multiProcessorCount, driver, runtime);
  return buf;
}

void* DeviceAlloc(size_t bytes) {
  void* p = nullptr;
  Check(cudaMalloc(&p, bytes), "cudaMalloc");
  return p;
}
void DeviceFree(void* p) {
  if (p) cudaFree(p);
}
void CopyToDevice(void* dst, const void* src, size_t bytes) {
  Check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy to device");
}
void CopyToHost(void* dst, const void* src, size_t bytes) {
  Check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy to host");
}
void Synchronize() { Check(cudaDeviceSynchronize(), "kernel"); }
void Zero(void* p, size_t bytes) { Check(cudaMemsetAsync(p, 0, bytes), "cudaMemsetAsync"); }

const char* VariantName(Variant v) {
  switch (v) {
    case Variant::kAuto: return "auto";
    case Variant::kFast: return "fast";
    case Variant::kCore: return "core";
    case Variant::kPlan: return "plan";
  }
  return "?";
}

bool VariantSupports(Variant v, const Format& f) {
  if (CodeBytesOf(f) > 4) return false;
  return (v != Variant::kFast && v != Variant::kPlan) || FastSupports(f);
}

void Encode(const Format& f, const Options& opt, const float* in, void* codes, size_t n, uint64_t first_index,
            Variant v) {
  const Variant r = Resolve(v, f);
  if (r == Variant::kFast && named::Encode(f, opt, in, codes, n, first_index)) return;
  if (r == Variant::kFast || r == Variant::kPlan) {
    const EncodePlan plan = MakeEncodePlan(f, opt);
    WithMode(opt.rounding, [&](auto mode) {
      LaunchEncode(FastEncodeOp<decltype(mode)::value>{plan}, f, in, codes, n, first_index);
    });
  } else {
    LaunchEncode(CoreEncodeOp{f, opt}, f, in, codes, n, first_index);
  }
}

void Decode(const Format& f, const Options& opt, const void* codes, float* out, size_t n, Variant v) {
  const Variant r = Resolve(v, f);
  if (r == Variant::kFast || r == Variant::kPlan) {
    EncodePlan plan = MakeEncodePlan(f, opt);
    LaunchDecode(FastDecodeOp{plan}, f, codes, out, n);
  } else {
    LaunchDecode(CoreDecodeOp{f, DecodeOptions(opt)}, f, codes, out, n);
  }
}

void FakeQuant(const Format& f, const Options& opt, const float* in, float* out, size_t n, uint64_t first_index,
               Variant v) {
  const Variant r = Resolve(v, f);
  if (r == Variant::kFast && named::FakeQuant(f, opt, in, out, n, first_index)) return;
  if (r == Variant::kFast || r == Variant::kPlan) {
    EncodePlan plan = MakeEncodePlan(f, opt);
    plan.decode.flush_subnormals = false;  // as emulate/array_ops.cc: the decode reads the code exactly
    WithMode(opt.rounding, [&](auto mode) {
      LaunchMap(FastFakeQuantOp<decltype(mode)::value>{plan}, in, out, n, first_index);
    });
  } else {
    LaunchMap(CoreFakeQuantOp{f, opt, FakeQuantDecodeOptions(opt)}, in, out, n, first_index);
  }
}

namespace {

// The cast pass of the per-tensor scaled quantization: the specialised
// kernel where one applies (not for kCore), else the core's cast.
void ScaledCastPass(const Format& f, const Options& opt, const float* in, void* codes, float* out, size_t n,
                    uint64_t first_index, const ScaledWork* w, Variant v) {
  if (v != Variant::kCore && named::ScaledCast(f, opt, in, codes, out, n, first_index, w)) return;
  const int index = NamedIndex(f);
  if (index == kE4m3fnIndex || index == kE5m2Index) {
    WithMode(opt.rounding, [&](auto mode) {
      constexpr Rounding kMode = decltype(mode)::value;
      if (index == kE4m3fnIndex)
        LaunchScaledCast(NamedScaledOp<kE4m3fnIndex, kMode>{opt}, f, in, codes, out, n, first_index, w);
      else LaunchScaledCast(NamedScaledOp<kE5m2Index, kMode>{opt}, f, in, codes, out, n, first_index, w);
    });
  } else {
    LaunchScaledCast(CoreScaledOp{f, opt}, f, in, codes, out, n, first_index, w);
  }
}

}  // namespace

size_t TensorScaledWorkBytes() { return sizeof(ScaledWork); }

void TensorScaledFakeQuant(const Format& f, const Options& opt_in, const ScaledRecipe& recipe, const float* in,
                           void* codes, float* out, size_t n, void* work, Variant v) {
  if (!IsFloat(f) || f.storage_bits > 16)
    throw GpuError(std::string("per-tensor FP8 scaling needs a float format of at most 16 bits, not ") + f.name);
  const Options opt = SaturateByDefault(opt_in);
  ScaledWork* w = static_cast<ScaledWork*>(work);
  const bool first_version = v == Variant::kCore;
  if (first_version) LaunchAmax(in, n, &w->amax_bits);
  else named::Amax(in, n, &w->amax_bits);
  TensorScaleKernel<<<1, 1>>>(f, recipe, w);
  CheckLaunch("TensorScaleKernel");
  ScaledCastPass(f, opt, in, codes, out, n, 0, w, v);
}

void TensorScaledCast(const Format& f, const Options& opt, float scale, const float* in, void* codes, float* out,
                      size_t n, uint64_t first_index, void* work, Variant v) {
  if (!IsFloat(f) || f.storage_bits > 16)
    throw GpuError(std::string("per-tensor FP8 scaling needs a float format of at most 16 bits, not ") + f.name);
  const ScaledWork host{0u, scale, quant::Fp8ScaleInverse(scale)};
  CopyToDevice(work, &host, sizeof host);
  ScaledCastPass(f, SaturateByDefault(opt), in, codes, out, n, first_index, static_cast<ScaledWork*>(work), v);
}

TensorScales TensorScaledScales(const void* work) {
  ScaledWork w{};
  CopyToHost(&w, work, sizeof w);
  return TensorScales{__builtin_bit_cast(float, w.amax_bits), w.scale, w.scale_inv};
}

void MxQuantize(const Format& elem, const Options& opt, const float* in, size_t rows, size_t cols, uint8_t* codes,
                uint8_t* scales, float* out) {
  const int i = NamedIndex(elem);
  const quant::MxType* t = i >= 0 ? quant::FindMxType(formats::kAll[i].name) : nullptr;
  if (!t) throw GpuError(std::string("MX has no element format ") + elem.name);
  if (rows * cols == 0) return;
  const size_t blocks = rows * ((cols + 31) / 32);
  MxKernel<<<GridFor(MxKernel, blocks * 32), kThreads>>>(*t, *t->elem, SaturateByDefault(opt), in, rows, cols, codes,
                                                         scales, out);
  CheckLaunch("MxKernel");
}

size_t Nvfp4WorkBytes() { return sizeof(Nvfp4Work); }

void Nvfp4Quantize(const Options& opt, const float* in, size_t rows, size_t cols, uint8_t* codes, uint8_t* scales,
                   float* out, void* work) {
  Nvfp4Work* w = static_cast<Nvfp4Work*>(work);
  LaunchAmax(in, rows * cols, &w->amax_bits);
  if (rows * cols == 0) return;
  const size_t blocks = rows * ((cols + 15) / 16);
  Nvfp4Kernel<<<GridFor(Nvfp4Kernel, blocks * 16), kThreads>>>(SaturateByDefault(opt), in, rows, cols, codes, scales,
                                                               out, w);
  CheckLaunch("Nvfp4Kernel");
}

float Nvfp4GlobalDecodeScale(const void* work) {
  Nvfp4Work w{};
  CopyToHost(&w, work, sizeof w);
  return w.s_dec;
}

void Gemm(const Format& in_a, const uint32_t* a, const Format& in_b, const uint32_t* b, size_t m, size_t n, size_t k,
          const Format& acc, const DotModel& model, uint64_t* c, uint8_t* flags, const Options& opt,
          uint64_t first_index) {
  if (GemmFixedPoint(in_a, a, in_b, b, m, n, k, acc, model, c, flags, opt, first_index)) return;
  if (GemmFloat(in_a, a, in_b, b, m, n, k, acc, model, c, flags, opt, first_index)) return;
  if (GemmBlockFixed(in_a, a, in_b, b, m, n, k, acc, model, c, flags, opt, first_index)) return;
  if (GemmFloat64(in_a, a, in_b, b, m, n, k, acc, model, c, flags, opt, first_index)) return;
  GemmGeneral(in_a, a, in_b, b, m, n, k, acc, model, c, flags, opt, first_index);
}

void GemmGeneral(const Format& in_a, const uint32_t* a, const Format& in_b, const uint32_t* b, size_t m, size_t n,
                 size_t k, const Format& acc, const DotModel& model, uint64_t* c, uint8_t* flags, const Options& opt,
                 uint64_t first_index) {
  const bool has_sum_format = model.sum_format != nullptr;
  const Format sum_format = has_sum_format ? *model.sum_format : acc;
  const bool has_operand_format = model.operand_format != nullptr;
  const Format operand_format = has_operand_format ? *model.operand_format : in_a;
  // Codes travel as uint32 words; a sum needs a zero to start from.
  const bool inputs_ok = IsFloat(in_a) && IsFloat(in_b) && in_a.bits <= 32 && in_b.bits <= 32 &&
                         IsFloat(operand_format);
  const bool sums_ok = IsFloat(acc) && acc.has_zero && IsFloat(sum_format) && sum_format.has_zero;
  if (!inputs_ok || !sums_ok)
    throw GpuError(std::string("the GPU GEMM takes float inputs of at most 32 bits (and a float operand format) "
                               "and float accumulator and sum formats with a zero: ") +
                   in_a.name + " x " + in_b.name + " (operands " + operand_format.name + ") -> " + acc.name +
                   " (sum " + sum_format.name + ")");
  if (m * n == 0) return;
  const dim3 block(16, 16);
  const dim3 grid(static_cast<unsigned>((n + 15) / 16), static_cast<unsigned>((m + 15) / 16));
  GemmKernel<<<grid, block>>>(in_a, a, in_b, b, m, n, k, acc, model, has_sum_format, sum_format, has_operand_format,
                              operand_format, c, flags, opt, first_index, RoundingsPerDot(model, k));
  CheckLaunch("GemmKernel");
}

void FillIota(float* out, uint32_t first_bits, size_t n) {
  if (n == 0) return;
  IotaKernel<<<GridFor(IotaKernel, n), kThreads>>>(out, first_bits, n);
  CheckLaunch("IotaKernel");
}

void BlockDigests(const void* values, int value_bytes, bool fake_quant, uint32_t first_index, size_t n,
                  int log2_block, uint64_t* digests) {
  if (log2_block < 14 || n % (size_t{1} << log2_block) != 0)
    throw GpuError("BlockDigests: blocks of at least 2^14 elements, n a multiple of the block");
  const unsigned grid = static_cast<unsigned>(n / kDigestSpan);
  auto* d = reinterpret_cast<unsigned long long*>(digests);
  switch (value_bytes) {
    case 1: DigestKernel<<<grid, kThreads>>>(static_cast<const uint8_t*>(values), fake_quant, first_index, log2_block, d); break;
    case 2: DigestKernel<<<grid, kThreads>>>(static_cast<const uint16_t*>(values), fake_quant, first_index, log2_block, d); break;
    case 4: DigestKernel<<<grid, kThreads>>>(static_cast<const uint32_t*>(values), fake_quant, first_index, log2_block, d); break;
    default: throw GpuError("BlockDigests: values of 1, 2 or 4 bytes");
  }
  CheckLaunch("DigestKernel");
}

void Copy(const float* in, float* out, size_t n) {
  const size_t n4 = Aligned(in, 16) && Aligned(out, 16) ? n / 4 : 0;
  if (n4) {
    CopyKernel<<<GridFor(CopyKernel, n4), kThreads>>>(reinterpret_cast<const float4*>(in),
                                                      reinterpret_cast<float4*>(out), n4);
    CheckLaunch("CopyKernel");
  }
  for (size_t b = 4 * n4; b < n; b += kThreads) {
    CopyTailKernel<<<1, kThreads>>>(in, out, b, n);
    CheckLaunch("CopyTailKernel");
  }
}

}  // namespace floatscope::gpu
