// The compile-time specialised encode kernels (float32 -> codes of a named
// format, every mode), and the per-tensor scaled quantization's fast
// passes: the amax reduction and the cast, every mode (stochastic rounding
// with one Philox call per four elements; sr itself not for bf16, see
// ScaledSrWide) (cuda/named_kernels.cuh, cuda/named_convert.h).
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

// For stochastic rounding the float32 must carry the exact product's bits
// down to 2^-32 of the quantum, more than round-to-odd keeps: x * scale
// (x finite, scale finite and > 0) as its float32 truncation z (sign
// included; __fmul_rz) and ext, the 32 bits of the exact product below
// z's last bit (FastSrMagOneLane). The product of the significands mx *
// ms holds the exact product in units of 2^(lsb(x) + lsb(scale)); the
// `dropped` = lsb(z) - lsb(x) - lsb(scale) low bits of it are what z lost,
// at most 24 when z is a normal float32 (z keeps 24 of at most 48 bits), so
// the low 32-bit word of mx * ms has them. A subnormal z (|x| scale <
// 2^-126) has dropped bits below 2^-149; ext = 0 there is exact for the
// formats whose smallest quantum is at least 2^-117 (ScaledSrWide): such
// a value is below 2^-32 of the smallest quantum and rounds to 0 either
// way. Infinities and NaNs: as ScaledProductOdd (z = inf, NaN quieted).
struct WideProduct {
  uint32_t z, ext;
};
struct ScaleParts {
  float scale;
  uint32_t sig;   // significand of scale (implicit bit included)
  int32_t lsb0;   // 150 - lsb field of scale: dropped = max(ez, 1) - max(ex, 1) + lsb0
};
__device__ __forceinline__ ScaleParts ScalePartsOf(float scale) {
  const uint32_t b = __float_as_uint(scale);
  const uint32_t e = b >> 23;
  return ScaleParts{scale, (b & 0x7fffffu) | (e != 0 ? 0x800000u : 0u), 150 - static_cast<int32_t>(lanes::Max(e, 1u))};
}
__device__ __forceinline__ WideProduct ScaledProductWide(uint32_t bits, const ScaleParts& s) {
  const uint32_t abs = bits & 0x7fffffffu;
  if (abs > 0x7f800000u) return WideProduct{bits | 0x400000u, 0};
  const uint32_t z = __float_as_uint(__fmul_rz(__uint_as_float(abs), s.scale));
  const uint32_t ex = abs >> 23, ez = z >> 23;
  const uint32_t mx = (abs & 0x7fffffu) | (ex != 0 ? 0x800000u : 0u);
  const int32_t dropped = static_cast<int32_t>(lanes::Max(ez, 1u)) - static_cast<int32_t>(lanes::Max(ex, 1u)) + s.lsb0;
  const uint32_t low = mx * s.sig;  // the low word of the exact significand product
  const uint32_t ext = dropped > 0 && dropped <= 32 ? low << (32 - dropped) : 0u;
  return WideProduct{z | (bits & 0x80000000u), ext};
}

// quant::Fp8Decode: value(code) * scale_inv with x86's NaN rules.
__device__ __forceinline__ uint32_t ScaledDecode(uint32_t fq_bits, float inv) {
  return __float_as_uint(quant::MulF32AsX86(__uint_as_float(fq_bits), inv));
}

// One element of the scaled cast: code (when `codes`) and fake-quantized
// float32 bits. `random`: the element's word of its group's call.
template <int kIdx, Rounding kMode>
__device__ __forceinline__ uint32_t ScaledElement(const NamedParams& p, const ScaleParts& s, float inv,
                                                  uint32_t bits, uint32_t random, bool codes, uint32_t* code) {
  lanes::FastLanes<uint32_t> l;
  if constexpr (kMode == Rounding::kStochastic) {
    const WideProduct w = ScaledProductWide(bits, s);
    l = NamedRoundSrWide<kIdx>(p, w.z, w.ext, random);
  } else {
    // sr-eq needs only whether the product is inexact at the quantum,
    // which round-to-odd keeps (its sticky last bit).
    l = NamedRound<kIdx, kMode>(p, ScaledProductOdd(bits, s.scale), random);
  }
  if (codes) *code = NamedCodeOf<kIdx>(p, l);
  return ScaledDecode(NamedFakeQuantOf<kIdx>(p, l), inv);
}

// The cast pass: element i (index first_index + i; a whole tensor as the
// CPU's scheme tensor has first_index 0) of in -> codes[i] and out[i]
// (either may be null). `vector` (all pointers aligned for four elements
// and, in the stochastic modes, first_index a multiple of 4): two float4
// per thread per iteration, each one group of four indices and so one
// Philox call in the stochastic modes; the rest by the group loop.
template <int kIdx, Rounding kMode, class Code>
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
  const bool want_codes = codes != nullptr;
  auto quad = [&](uint4 x, size_t at) {
    Philox4x32 r{{0, 0, 0, 0}};
    if constexpr (IsStochastic(kMode)) r = StochasticCall(p.random.Seed(), first_index / 4 + at);
    uint32_t c[4] = {0, 0, 0, 0};
    const uint4 y = make_uint4(ScaledElement<kIdx, kMode>(p, s, inv, x.x, r.v[0], want_codes, &c[0]),
                               ScaledElement<kIdx, kMode>(p, s, inv, x.y, r.v[1], want_codes, &c[1]),
                               ScaledElement<kIdx, kMode>(p, s, inv, x.z, r.v[2], want_codes, &c[2]),
                               ScaledElement<kIdx, kMode>(p, s, inv, x.w, r.v[3], want_codes, &c[3]));
    if (codes) reinterpret_cast<typename Pack4<Code>::type*>(codes)[at] = Pack4<Code>::Of(c[0], c[1], c[2], c[3]);
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
      if (codes) codes[j] = static_cast<Code>(c);
      if (out) out[j] = __uint_as_float(y);
    }
  }
}

constexpr int IndexOfNamed(std::string_view name) {
  for (int i = 0; i < kFormats; ++i)
    if (name == formats::kAll[i].name) return i;
  return -1;
}

// The formats with a specialised scaled cast: those per-tensor FP8 scaling
// is used with (emulate/quant's tests: e4m3fn, e5m2, f16, e3m4) and bf16.
constexpr bool ScaledSpecialised(int i) {
  const std::string_view name = formats::kAll[i].name;
  return name == "e4m3fn" || name == "e5m2" || name == "f16" || name == "bf16" || name == "e3m4";
}

// Stochastic rounding through ScaledProductWide, exact where the smallest
// quantum is at least 2^-117 (float32 bits 0x05000000): not bf16 (2^-133),
// which keeps the core's cast.
constexpr bool ScaledSrWide(int i) {
  const NamedPlan d = MakeNamedPlan(formats::kAll[i]);
  return ScaledSpecialised(i) && !d.layout.is_int && d.fast.min_positive >= 0x05000000u;
}
static_assert(ScaledSrWide(IndexOfNamed("e4m3fn")) && ScaledSrWide(IndexOfNamed("e5m2")) &&
              ScaledSrWide(IndexOfNamed("f16")) && ScaledSrWide(IndexOfNamed("e3m4")) &&
              !ScaledSrWide(IndexOfNamed("bf16")));

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
    if constexpr (!kNamedPlan<kIdx>.layout.is_int && ScaledSpecialised(kIdx)) {
      if (opt.rounding == Rounding::kStochastic && !ScaledSrWide(kIdx)) return;
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
        if constexpr (kMode != Rounding::kStochastic || ScaledSrWide(kIdx)) {
          auto kernel = ScaledCastKernel<kIdx, kMode, Code>;
          kernel<<<GridFor(kernel, threads), kThreads>>>(p, in, c, out, n, first_index, w, vector);
        }
      });
      Check(cudaGetLastError(), "ScaledCastKernel");
    }
  });
  return done;
}

}  // namespace named
}  // namespace floatscope::gpu
