// Fake quantization of a float32 matrix under one role's spec: round every
// element into the format (with the spec's scaling) and back to float32, in
// place. Every element rounding goes through the array kernels
// (emulate/array_ops.h), so the core's bits, modes and overflow policies
// apply; the scaling arithmetic is the recipes' own, in float32, as the
// hardware does it:
//   tensor/delayed  s = fmax / amax / 2^margin (emulate/quant/fp8_scaling.h),
//                   q = Q(x * s) (float32 product), x' = q * (1 / s)
//   mx              per block of `block` along the GEMM's K: X = 2^k from
//                   emulate/quant/mx.h, q = Q(x * 2^-k), x' = q * 2^k
//   nvfp4           emulate/quant/nvfp4.h's float32 recipe, blocks of 16
// A product x * s that is not a float32 is rounded to nearest even first
// (the float32 multiply), exactly as TransformerEngine's kernels do.
#pragma once

#include <cstddef>
#include <cstdint>

#include "emulate/array_ops.h"
#include "emulate/quant/fp8_scaling.h"
#include "train/policy.h"

namespace floatscope::train {

// What one site (a role of one layer) keeps between steps: the amax history
// of delayed scaling.
struct ScaleState {
  explicit ScaleState(size_t history = 1) : history(history, quant::AmaxReduce::kMax) {}
  quant::AmaxHistory history;
  float scale = 1.0f;     // the scale in use this step
  double step_amax = 0;   // largest |x| seen this step (pushed at EndStep)
  // Pushes this step's amax and computes next step's scale from the history
  // (TransformerEngine's DelayedScaling: amax = max over the history; a zero
  // amax keeps the previous scale).
  void EndStep(const RoleSpec& spec);
};

// x is rows x cols, row-major. `k_along_rows`: the GEMM reduces along a row
// (blocks are runs of a row); else down a column. `seed` keys stochastic
// rounding for this call (element i of the matrix uses index i).
// `stats` (may be null) counts what the element casts did.
void FakeQuant(const RoleSpec& spec, float* x, size_t rows, size_t cols, bool k_along_rows, uint64_t seed,
               ScaleState* state, unsigned threads, ArrayStats* stats);

// max |x| over the finite elements (NaN ignored, as fmaxf does; an
// infinity gives infinity).
float Amax(const float* x, size_t n);

}  // namespace floatscope::train
