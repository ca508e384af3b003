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

// For stochastic rounding the rounding must see the exact product's bits
// down to 2^-32 of the quantum, more than round-to-odd keeps: x * scale (x
// finite, scale finite and > 0) as its float32 truncation z (__fmul_rz: the
// binade and the kept bits) and f, the 32 bits of the exact product just
// below the quantum (NamedRoundMagSrF). The product of the significands P =
// mx * ms (48 bits at most) is the exact product in units of 2^(lsb(x) +
// lsb(scale)), and the quantum's last bit lies dropped + dd bits above that
// unit: dropped = lsb(z) - lsb(x) - lsb(scale), the bits of P that z lost,
// and dd = NamedSrDd(z), the bits of z below the quantum (z's exponent
// field clamped to 1, as the lsb of a float32 subnormal z is). So f = the
// low 32 bits of P * 2^(32 - dropped - dd), exact for every quantum, bf16's
// 2^-133 included (a subnormal z's pattern is linear in its value, as the
// rounding's bias-and-clear needs). Infinite products: z = FLT_MAX or inf
// (a meaningless f; overflow is decided on z). NaNs: as ScaledProductOdd
// (NaN quieted).
struct SrProduct {
  uint32_t z;  // the truncation, sign included
  uint32_t f;
  int32_t dd;
};
struct ScaleParts {
  float scale;
  uint32_t sig8;  // significand of scale (implicit bit included) << 8
  int32_t sh0;    // 150 - lsb field of scale - 16: sh + 16 = max(ez, 1) - max(ex, 1) + dd + sh0
};
__device__ __forceinline__ ScaleParts ScalePartsOf(float scale) {
  const uint32_t b = __float_as_uint(scale);
  const uint32_t e = b >> 23;
  return ScaleParts{scale, ((b & 0x7fffffu) | (e != 0 ? 0x800000u : 0u)) << 8,
                    150 - 16 - static_cast<int32_t>(UMaxD(e, 1))};
}
template <int kIdx>
__device__ __forceinline__ SrProduct ScaledProductSr(uint32_t bits, const ScaleParts& s) {
  const uint32_t abs = bits & 0x7fffffffu;
  if (abs > 0x7f800000u) return SrProduct{bits | 0x400000u, 0, 0};
  const uint32_t z = __float_as_uint(__fmul_rz(__uint_as_float(abs), s.scale));
  const uint32_t ex = abs >> 23;
  const uint32_t mx = (abs & 0x7fffffu) | (ex != 0 ? 0x800000u : 0u);
  const int32_t dd = NamedSrDd<kIdx>(z);
  // f = the low 32 bits of (P << 16) >> r, r = dropped + dd - 16 (P << 16 <
  // 2^64 is (mx << 8) * (ms << 8)). r >= 0 for every nonzero finite x and
  // finite scale > 0 of these formats (dd >= fast_dmin >= 13): dropped >= 0
  // (a normal z keeps 24 of P's bits, P >= 2^23 unless x and scale are both
  // subnormal, which makes z 0; a subnormal z keeps none of them), and where
  // dd < 16 (f16's quanta from 2^-16 on) |z| >= 2^-16 needs P >= 2^29
  // (x, scale < 2^128): dropped >= 6. (x = 0: P = 0.)
  const int32_t r = static_cast<int32_t>(UMaxD(z >> 23, 1)) - static_cast<int32_t>(UMaxD(ex, 1)) + dd + s.sh0;
  const uint64_t product = uint64_t{mx << 8} * s.sig8;
  const uint32_t f = static_cast<uint32_t>(product >> UMinD(static_cast<uint32_t>(r), 63));
  return SrProduct{z | (bits & 0x80000000u), f, dd};
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
  uint32_t x, mag;
  if constexpr (kMode == Rounding::kStochastic) {
    const SrProduct w = ScaledProductSr<kIdx>(bits, s);
    x = w.z;
    mag = NamedRoundMagSrF<kIdx>(x & 0x7fffffffu, w.dd, w.f, random, p.top_r);
  } else {
    // sr-eq needs only whether the product is inexact at the quantum,
    // which round-to-odd keeps (its sticky last bit).
    x = ScaledProductOdd(bits, s.scale);
    mag = NamedRoundMag<kIdx, kMode>(x, random, p.top_r);
  }
  if (codes) *code = NamedCodeOf<kIdx>(p, x, mag);
  return ScaledDecode(NamedFakeQuantOf<kIdx>(p, x, mag), inv);
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
    if constexpr (IsStochastic(kMode)) r = StochasticCall(p.seed, first_index / 4 + at);
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
    if constexpr (IsStochastic(kMode)) r = StochasticCall(p.seed, counter);
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

// The formats with a specialised scaled cast: those per-tensor FP8 scaling
// is used with (emulate/quant's tests: e4m3fn, e5m2, f16, e3m4) and bf16.
constexpr bool ScaledSpecialised(int i) {
  const std::string_view name = formats::kAll[i].name;
  return name == "e4m3fn" || name == "e5m2" || name == "f16" || name == "bf16" || name == "e3m4";
}
// ScaledProductSr's shift needs dd >= 13 (its comment).
constexpr bool ScaledDminOk() {
  for (int i = 0; i < kFormats; ++i)
    if (ScaledSpecialised(i) && MakeNamedDesc(formats::kAll[i]).dmin < 13) return false;
  return true;
}
static_assert(ScaledDminOk());

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
    if constexpr (!kNamedDesc<kIdx>.is_int && ScaledSpecialised(kIdx)) {
      const simd::EncodePlan plan = simd::MakeEncodePlan(f, opt);
      if (!PlanMatches(kNamedDesc<kIdx>, plan)) return;
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
        auto kernel = ScaledCastKernel<kIdx, kMode, Code>;
        kernel<<<GridFor(kernel, threads), kThreads>>>(p, in, c, out, n, first_index, w, vector);
      });
      Check(cudaGetLastError(), "ScaledCastKernel");
    }
  });
  return done;
}

}  // namespace named
}  // namespace floatscope::gpu
