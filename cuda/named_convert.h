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

#include "emulate/encode_plan.h"
#include "emulate/fast_round-inl.h"
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

// Stochastic rounding of a value that a float32 does not hold (the scaled
// cast's exact product): FastSrMagOneLane with the 32 bits `ext` below the
// float32 truncation `bits`.
template <int kIdx>
FS_HD lanes::FastLanes<uint32_t> NamedRoundSrWide(const NamedParams& p, uint32_t bits,
                                                                       uint32_t ext, uint32_t random) {
  constexpr NamedPlan D = kNamedPlan<kIdx>;
  lanes::FastLanes<uint32_t> l;
  l.a = bits & 0x7fffffffu;
  l.bits = bits;
  l.mag = lanes::FastSrMagOneLane<D.kind>(D.fast, bits, ext, random, p.random.TopMask());
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

}  // namespace floatscope::gpu
