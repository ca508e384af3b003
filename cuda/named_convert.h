// Fake quantization and encoding for the named formats with every format
// constant known at compile time: the fast path's rounding
// (emulate/fast_round-inl.h, the code the Highway kernels run, here on one
// float32 per thread: lanes::ScalarTags) with the format's constants folded
// in by the compiler (for bf16, d is the constant 16; for integers no
// subnormal code path exists at all).
//
// The constants are MakeFastRounding's (emulate/encode_plan.h), evaluated
// at compile time for each named format with the default options
// (NamedPlan). What stays a run-time parameter (NamedParams) is what the
// options decide and what the scalar core answers for the special inputs:
// the codes and fake-quantized values of overflow, infinity and NaN, the
// seed, the number of random bits, all from the run-time plan
// (MakeEncodePlan). The host checks that the run-time plan's fast-path
// constants equal the compile-time ones (PlanMatches) before it launches a
// specialised kernel (cuda/named_kernels.cuh), so options that change them
// take the run-time-plan kernel. `floatscope gpu-verify --exhaustive`
// proves the specialised kernels equal to the core on all 2^32 float32
// inputs (cuda/RESULTS.md).
#pragma once

#include <cstdint>
#include <string_view>

#include "emulate/encode_plan.h"
#include "emulate/fast_round-inl.h"
#include "emulate/quant/common.h"
#include "formats/catalog.h"
#include "formats/convert.h"

namespace floatscope::gpu {

// The compile-time part of a named format's plan.
struct NamedPlan {
  bool ok = false;  // a specialised kernel covers the format (with default-like options)
  FormatLayout layout;
  RoundingPlan rounding;
  FastRounding fast;
  lanes::FastKind kind = lanes::FastKind::kFloat;
};

FS_HD constexpr NamedPlan MakeNamedPlan(const Format& f) {
  NamedPlan d;
  d.layout = encode_plan_detail::MakeFormatLayout(f);
  d.rounding = encode_plan_detail::MakeRoundingPlan(f, Options{});
  // Codes of at most 16 bits, unshifted (the kernels store uint8/uint16);
  // floats of at most 21 significant bits with quanta of at least 2^-147
  // in the normal float32 range, which the scaled cast's round-to-odd
  // product needs (two more bits than the format: cuda/named_encode.cu).
  const int32_t emin = d.layout.emin;
  const bool covered =
      f.storage_shift == 0 && f.storage_bits <= 16 &&
      (d.layout.is_int ? f.bits <= 16
                       : (f.mantissa_bits <= 21 && f.exponent_bits <= 8 && emin >= -126 &&
                          emin - f.mantissa_bits >= -147 &&
                          static_cast<int>(MaxFiniteMagnitude(f) >> f.mantissa_bits) - f.bias <= 127));
  if (!covered) return d;
  d.fast = encode_plan_detail::MakeFastRounding(d.layout, d.rounding);
  d.kind = lanes::FastKindOf(d.layout, d.fast);
  // Integers: wrapping overflow (a run-time option) leaves the fast path.
  d.ok = d.layout.is_int || d.fast.applies;
  return d;
}

template <int kIndex>
inline constexpr NamedPlan kNamedPlan = MakeNamedPlan(formats::kAll[kIndex]);

// Whether the run-time plan has exactly these constants (and the options
// leave the fast path on without input flushing).
inline bool PlanMatches(const NamedPlan& d, const EncodePlan& p) {
  return d.ok && p.fast.applies && !p.rounding.flush_input && p.layout == d.layout && p.fast == d.fast;
}

// The options' part: special results from the scalar core (by input sign),
// the seed and the random bits.
struct NamedParams {
  CoreSpecials special;
  StochasticPlan random;
};

inline NamedParams MakeNamedParams(const EncodePlan& p) { return NamedParams{p.special, p.random}; }

// The plan as the shared fast path reads it (the members of EncodePlan it
// uses): the compile-time parts and the run-time ones.
struct NamedView {
  const FormatLayout& layout;
  const RoundingPlan& rounding;
  const FastRounding& fast;
  const StochasticPlan& random;
  const CoreSpecials& special;
};

// The element functions of the specialised kernels (host-device: tests/cuda
// runs them on the host against the core).

// |x| rounded to the format, as a float32 pattern (meaningless where the
// result overflows or x is NaN or infinite): FastRoundLanes.
template <int kIdx, Rounding kMode>
FS_HD lanes::FastLanes<uint32_t> NamedRound(const NamedParams& p, uint32_t bits,
                                                                 uint32_t random) {
  constexpr NamedPlan D = kNamedPlan<kIdx>;
  const NamedView v{D.layout, D.rounding, D.fast, p.random, p.special};
  return lanes::FastRoundLanes<lanes::ScalarTags, kMode, D.kind>(v, bits, random);
}

// Stochastic rounding of a value v that a float32 does not hold (the
// scaled cast's exact product): `z` its float32 truncation (sign
// included), `dd` = FastSrDropBits(|z|) and `frac` the 32 bits of v just
// below the quantum (FastSrMagOfFraction).
template <int kIdx>
FS_HD lanes::FastLanes<uint32_t> NamedRoundSrFraction(const NamedParams& p, uint32_t z, int32_t dd,
                                                      uint32_t frac, uint32_t random) {
  constexpr NamedPlan D = kNamedPlan<kIdx>;
  lanes::FastLanes<uint32_t> l;
  l.a = z & 0x7fffffffu;
  l.bits = z;
  l.mag = lanes::FastSrMagOfFraction<D.kind>(D.fast, l.a, dd, frac, random, p.random.TopMask());
  // As FastRoundLanes: the larger of mag and |x| as signed patterns (a NaN's
  // mag may wrap into the sign bit).
  const int32_t beyond = lanes::Max(static_cast<int32_t>(l.mag), static_cast<int32_t>(l.a));
  l.any = beyond > static_cast<int32_t>(D.fast.max_finite_both_signs);
  return l;
}

// Fake quantization: FastFakeQuantLanes.
template <int kIdx>
FS_HD uint32_t NamedFakeQuantOf(const NamedParams& p, const lanes::FastLanes<uint32_t>& l) {
  constexpr NamedPlan D = kNamedPlan<kIdx>;
  const NamedView v{D.layout, D.rounding, D.fast, p.random, p.special};
  return lanes::FastFakeQuantLanes<lanes::ScalarTags, D.kind>(v, l);
}

// Encoding: FastCodeLanes.
template <int kIdx>
FS_HD uint32_t NamedCodeOf(const NamedParams& p, const lanes::FastLanes<uint32_t>& l) {
  constexpr NamedPlan D = kNamedPlan<kIdx>;
  const NamedView v{D.layout, D.rounding, D.fast, p.random, p.special};
  return lanes::FastCodeLanes<lanes::ScalarTags, D.kind>(v, l);
}


// ---- the per-tensor scaled cast (quant::Fp8Encode, then Fp8Decode) ------------

// The formats with a specialised scaled cast: those per-tensor FP8 scaling
// is used with (emulate/quant's tests: e4m3fn, e5m2, f16, e3m4) and bf16.
constexpr bool ScaledSpecialised(const Format& f) {
  const std::string_view n = f.name;
  return n == "e4m3fn" || n == "e5m2" || n == "f16" || n == "bf16" || n == "e3m4";
}

// x * y for finite x and y > 0 (float32 patterns; y's is positive) toward
// zero, and whether it was inexact: __fmul_rz on the GPU; on the host the
// product in float64 (exact: 24 x 24 bits, never a float64 subnormal),
// then cut to float32 toward zero.
struct ProductTowardZero {
  uint32_t z;  // |x| * y toward zero (x's sign not applied)
  bool inexact;
};
FS_HD ProductTowardZero MulTowardZero(uint32_t abs_x, float y) {
#if defined(__CUDA_ARCH__)
  const float ax = __uint_as_float(abs_x);
  const float z = __fmul_rz(ax, y);
  return ProductTowardZero{__float_as_uint(z), z != __fmul_ru(ax, y)};
#else
  const double p = static_cast<double>(F32FromBits(abs_x)) * static_cast<double>(y);
  uint32_t z = BitsOf(static_cast<float>(p));  // to nearest (a positive pattern)
  if (static_cast<double>(F32FromBits(z)) > p) --z;  // the next one toward zero (inf -> FLT_MAX)
  return ProductTowardZero{z, static_cast<double>(F32FromBits(z)) != p};
#endif
}

// x * scale (scale finite and > 0) rounded to odd in float32: the product
// toward zero, its last bit set when inexact. The format keeps at most 21
// significant bits and quanta of at least 2^-147 (MakeNamedPlan), so the
// float32 keeps 2 more bits than the format at every magnitude, and
// rounding this value into the format with any deterministic mode gives the
// format's rounding of the exact product (round-to-odd's double-rounding
// property; Boldo & Melquiond, IEEE TC 2008), overflow included; sr-eq
// needs only whether the product is inexact at the quantum, which the
// sticky last bit keeps. NaN inputs come out quieted, sign and payload
// kept, as the CPU's exact product gives them (quant::Fp8Encode).
FS_HD uint32_t ScaledProductOdd(uint32_t bits, float scale) {
  const uint32_t abs = bits & 0x7fffffffu;
  if (abs > 0x7f800000u) return bits | 0x400000u;
  const ProductTowardZero t = MulTowardZero(abs, scale);
  return (t.z | (t.inexact ? 1u : 0u)) | (bits & 0x80000000u);
}

// The scale's parts that stochastic rounding's exact product needs.
struct ScaleParts {
  float scale;
  float half;      // scale / 2 (exact unless scale < 2^-125, where no product reaches 2^127)
  double scale64;  // scale as a float64
};
FS_HD ScaleParts ScalePartsOf(float scale) {
  return ScaleParts{scale, scale * 0.5f, static_cast<double>(scale)};
}

// 2^e as a float64, for -1022 <= e <= 1023: formats/format.h Pow2 built
// from the exponent field in one step, for the per-element path (Pow2 is
// a loop, meant for constants and covering the subnormal powers too).
FS_HD double Pow2F64(int32_t e) {
  return __builtin_bit_cast(double, static_cast<uint64_t>(static_cast<uint32_t>(1023 + e)) << 52);
}

// floor(y) mod 2^32 for 0 <= y < 2^52. On the GPU y + 2^52 toward zero,
// whose low word is floor(y)'s (one float64 add, no conversion); on the
// host the truncating conversion. (y >= 2^52, inf and NaN only where the
// caller ignores the result: a defined value on the GPU, 0 on the host.)
FS_HD uint32_t FloorLow32(double y) {
#if defined(__CUDA_ARCH__)
  return static_cast<uint32_t>(__double2loint(__dadd_rz(y, 0x1p52)));
#else
  return y < 0x1p52 ? static_cast<uint32_t>(static_cast<uint64_t>(y)) : 0u;
#endif
}

// For stochastic rounding the rounding must see the exact product's bits
// down to 2^-32 of the quantum, more than round-to-odd keeps: x * scale (x
// finite, scale finite and > 0) as its float32 truncation z (the binade and
// the kept bits) and frac, the 32 bits of the exact product just below the
// quantum (NamedRoundSrFraction). The quantum is 2^q, q = lsb(z) + dd
// (lsb(z) = max(z's exponent field, 1) - 150; dd = FastSrDropBits(z), z's
// bits below the quantum), so frac = floor(|x| * scale * 2^(32 - q)) mod
// 2^32. In float64 every step is exact: |x| * scale has at most 48
// significant bits and lies in [2^-298, 2^256]; the power of two only
// moves the exponent (32 - q lies in [-93, 165] for the specialised
// formats; the result stays normal); and the result is below 2^(56 - dd)
// (z < 2^(lsb(z) + 24)), within FloorLow32's 2^52 for formats of at most
// 19 fraction bits (dd >= 4; f16's bound is 2^43). On the GPU that is a
// conversion, two float64 multiplies and a float64 add in place of the
// significands' 64-bit product and its variable shift. Exact for every
// quantum, bf16's 2^-133 included (a subnormal z's pattern is
// linear in its value, as the rounding's bias-and-clear needs). An infinite
// x gives z = inf and a meaningless frac (overflow is decided on z), as
// does a product beyond FLT_MAX (z = FLT_MAX: every specialised format
// overflows there or checks ProductBeyondF32); NaNs as ScaledProductOdd.
struct SrProduct {
  uint32_t z;  // the truncation, x's sign included
  int32_t dd;
  uint32_t frac;
};
template <int kIdx>
FS_HD SrProduct ScaledProductSr(uint32_t bits, const ScaleParts& s) {
  constexpr NamedPlan D = kNamedPlan<kIdx>;
  static_assert(D.fast.min_dropped_bits >= 4, "frac's float64 bound (see above)");
  const uint32_t abs = bits & 0x7fffffffu;
  if (abs > 0x7f800000u) return SrProduct{bits | 0x400000u, 0, 0};
  const uint32_t z = MulTowardZero(abs, s.scale).z;
  const uint32_t ez = z >> 23;
  const int32_t dd = lanes::FastSrDropBits<D.kind>(D.fast, z);
  const int32_t q = static_cast<int32_t>(ez > 1 ? ez : 1) - 150 + dd;
  const double v = static_cast<double>(F32FromBits(abs)) * s.scale64;  // exact
  const uint32_t frac = FloorLow32(v * Pow2F64(32 - q));
  return SrProduct{z | (bits & 0x80000000u), dd, frac};
}

// Whether |x| * scale >= 2^128, i.e. |x| * scale / 2 >= 2^127 toward zero
// (2^127 is a float32): the truncation z saturates at FLT_MAX there and
// stands for every such product. The deterministic modes round FLT_MAX as
// they round all of them (the round-to-odd argument, overflow included);
// sr and sr-eq would round it up or down at random where the core
// overflows, in the formats whose largest finite value reaches 2^127
// (bf16): those check.
FS_HD bool ProductBeyondF32(uint32_t abs_x, const ScaleParts& s) {
  return MulTowardZero(abs_x, s.half).z >= 0x7f000000u;
}

// One element of the scaled cast: the code (NamedCodeOf, when `codes`) and
// the fake-quantized value as float32 bits (Fp8Decode: value(code) *
// scale_inv with x86's NaN rules). `random`: the element's word of its
// group's Philox call.
template <int kIdx, Rounding kMode>
FS_HD uint32_t ScaledElement(const NamedParams& p, const ScaleParts& s, float inv, uint32_t bits, uint32_t random,
                             bool codes, uint32_t* code) {
  lanes::FastLanes<uint32_t> l;
  if constexpr (kMode == Rounding::kStochastic) {
    const SrProduct w = ScaledProductSr<kIdx>(bits, s);
    l = NamedRoundSrFraction<kIdx>(p, w.z, w.dd, w.frac, random);
  } else {
    l = NamedRound<kIdx, kMode>(p, ScaledProductOdd(bits, s.scale), random);
  }
  if constexpr (IsStochastic(kMode) && kNamedPlan<kIdx>.fast.max_finite[0] >= 0x7f000000u) {
    const uint32_t abs = bits & 0x7fffffffu;
    if (abs < 0x7f800000u && ProductBeyondF32(abs, s)) {  // overflow, whatever the random bits
      l.mag = 0x7f800000u;
      l.any = true;
    }
  }
  if (codes) *code = NamedCodeOf<kIdx>(p, l);
  return BitsOf(quant::MulF32AsX86(F32FromBits(NamedFakeQuantOf<kIdx>(p, l)), inv));
}

}  // namespace floatscope::gpu
