// Measured accumulation models of NVIDIA H100 tensor-core GEMMs and of
// Hopper's FP8 mma.sync instruction, as emulate/dot.h kHardware models:
// pass `model` and `options` to Dot/Gemm with acc = f32 to get the float32
// result cuBLAS (or the instruction) gives on an H100, bit for bit.
// The same model runs in the GPU's emulated GEMM (cuda/gpu.h Gemm), which
// calls emulate/dot.h's code.
//
// Measured on 2026-11-23 on an NVIDIA H100 80GB HBM3 (sm_90, driver
// 580.159.04, CUDA 13.0, PyTorch 2.11.0+cu130, cuBLAS(Lt) "nvjet" kernels) by
// experiments/tensor_core_probe (probe.py on the GPU, tc_fit to fit and
// verify); the data, the commands and the agreement counts are in
// cuda/RESULTS.md, section "H100 tensor-core accumulation". GEMMs there are
// torch.mm(a, b, out_dtype=torch.float32) for f16/bf16 and
// torch._scaled_mm(a, b, 1, 1, out_dtype=torch.float32, use_fast_accum=...)
// for FP8, beta = 0.
//
// What was measured (the model's parameters, dot.h's names):
//   alignment    kExponentSum: products are aligned by the sum of their
//                inputs' exponent fields, not by their leading bit
//   group G      16 products per aligned group for f16/bf16, 32 for FP8
//   fraction F   bits kept below the group's largest exponent: 25 for
//                f16/bf16, 13 for FP8; the rest is truncated toward zero
//                (sign-magnitude), negative terms included
//   accumulator  the running sum takes part in every group's alignment (and
//                is cut with the products)
//   group sum    f16/bf16: rounded toward zero into float32. FP8: rounded
//                toward zero to 14 significant bits (float32's exponent
//                range; kH100Fp8SumFormat), so an FP8 GEMM without promotion
//                returns float32 values with at most 14 significant bits
//   promotion    FP8 without fast accumulation (E4M3 x E4M3 and E5M2 x
//                E4M3): every 4 groups (128 products) the tensor-core sum is
//                added into a separate float32 accumulator with round to
//                nearest even and restarted from zero; with fast
//                accumulation there is no promotion at all
//
// hopper-mma-fp8: the FP8 mma.sync instruction itself
// (mma.sync.aligned.m16n8k32 .e4m3/.e5m2, Ada's instruction) on an H100,
// which has no FP8 path for it: the compiler converts the operands to f16
// and runs two f16 m16n8k16 steps (NVIDIA's answer in NVIDIA/cutlass#1986).
// Measured on 2026-12-07 (same H100, driver, CUDA) by
// experiments/tensor_core_probe/mma_probe on the instruction's own outputs,
// no library; cuda/RESULTS.md, "FP8 mma.sync on Hopper, bit for bit":
// 1,301,324 / 1,301,324 e4m3 x e4m3 and 1,301,689 / 1,301,689 e5m2 x e4m3
// dot products bit for bit. As dot.h fields:
//   operand_format  f16: both operands converted (exactly) first, so an
//                   e4m3fn subnormal aligns as the normal f16 it becomes
//                   (e5m2's subnormals are f16's: unchanged)
//   instruction_k   32, substeps 2, substep_run 2: the first step takes the
//                   K positions 0, 1 (mod 4) of the instruction's 32, the
//                   second 2, 3 (each fp8 register's low byte pair, then
//                   its high pair)
//   each step       h100-f16's arithmetic: G 16, F 25, exponent-sum
//                   alignment, accumulator aligned, group sums rounded
//                   toward zero into float32
//   per instruction the two steps into a fresh accumulator, the result
//                   added to C in float32 with round to nearest even:
//                   promote_every 2 (= 32 / 16), promote_nearest_even
// The FP8 presets above (wgmma, cuBLAS) do not describe it, nor it them.
//
// Not covered: split-K kernels (cuBLAS chose one for a 240x240x4096
// f16/bf16 GEMM: two K chunks, each one such dot product, their float32
// results added with round to nearest even; tc_fit --split models it and
// then agrees), the K order of a kernel (cuBLASLt's CUTLASS-style
// algorithms 23/24, chosen for f16/bf16 K not a multiple of 8, run a partial
// K tile first, so the groups of 16 restart after it; tc_fit --residue-tile
// and experiments/tensor_core_probe/tc_data.h ApplyKernel model it, and the
// per-instruction model here is unchanged: cuda/RESULTS.md, "Algorithm 23
// (issue 16), 2026-12-07"; algorithm 24 with stages id 0 runs mma.sync
// m16n8k8, i.e. this arithmetic in groups of 8, with a 32-element K tile:
// tc_fit --mma-k, "Held-out GEMMs (issue 16), 2026-12-07"), other GPUs, other cuBLAS versions and kernels, outputs other
// than float32, NaN/infinity inputs, subnormal float32 sums (not probed; the
// sum format keeps subnormals).
#pragma once

#include <string_view>

#include "emulate/dot.h"

namespace floatscope {

struct H100TensorCoreModel {
  const char* name;  // as tc_fit --preset takes it
  const char* what;  // the GEMM it models
  DotModel model;
  Options options;   // rounding of a group's sum (promotions: model.promote_nearest_even)
};

// The FP8 tensor cores' adder output: float32's exponent range with 14
// significant bits (13 stored), kept in a float32-sized word like tf32.
inline constexpr Format kH100Fp8SumFormat{"f32p14", Kind::kFloat, 22, 32, true, 8, 13, 127, InfCodes::kIeee,
                                          NanCodes::kIeee, true, true, Overflow::kIeee,
                                          "H100 FP8 tensor-core group sum (measured, 2026-11-23)", 10};

namespace detail {
constexpr DotModel H100Model(uint32_t group, uint32_t fraction_bits, uint32_t promote_every,
                             const Format* sum_format, bool overflow_to_infinity) {
  DotModel m;
  m.accumulation = Accumulation::kHardware;
  m.group = group;
  m.fraction_bits = fraction_bits;
  m.include_accumulator = true;
  m.promote_every = promote_every;
  m.alignment = Alignment::kExponentSum;
  m.sum_format = sum_format;
  m.promote_nearest_even = true;
  m.overflow_to_infinity = overflow_to_infinity;
  return m;
}
// hopper-mma-fp8 (see the top): h100-f16's steps on f16-converted
// operands, two sub-steps per 32-K instruction, each instruction's sum
// added to C with round to nearest even.
constexpr DotModel HopperMmaFp8Model() {
  DotModel m = H100Model(16, 25, 2, nullptr, true);
  m.operand_format = &formats::kF16;
  m.instruction_k = 32;
  m.substeps = 2;
  m.substep_run = 2;
  return m;
}
static_assert(HopperMmaFp8Model().promote_every * HopperMmaFp8Model().group == HopperMmaFp8Model().instruction_k,
              "hopper-mma-fp8: one promotion per instruction");
constexpr Options TowardZero() {
  Options o;
  o.rounding = Rounding::kTowardZero;
  return o;
}
}  // namespace detail

inline constexpr H100TensorCoreModel kH100TensorCoreModels[] = {
    {"h100-f16", "f16 x f16 -> f32, torch.mm out_dtype=float32", detail::H100Model(16, 25, 0, nullptr, true),
     detail::TowardZero()},
    {"h100-bf16", "bf16 x bf16 -> f32, torch.mm out_dtype=float32", detail::H100Model(16, 25, 0, nullptr, true),
     detail::TowardZero()},
    {"h100-e4m3", "e4m3fn x e4m3fn -> f32, torch._scaled_mm, use_fast_accum=False",
     detail::H100Model(32, 13, 4, &kH100Fp8SumFormat, false), detail::TowardZero()},
    {"h100-e4m3-fast", "e4m3fn x e4m3fn -> f32, torch._scaled_mm, use_fast_accum=True",
     detail::H100Model(32, 13, 0, &kH100Fp8SumFormat, false), detail::TowardZero()},
    {"h100-e5m2xe4m3", "e5m2 x e4m3fn -> f32, torch._scaled_mm, use_fast_accum=False",
     detail::H100Model(32, 13, 4, &kH100Fp8SumFormat, false), detail::TowardZero()},
    {"h100-e5m2xe4m3-fast", "e5m2 x e4m3fn -> f32, torch._scaled_mm, use_fast_accum=True",
     detail::H100Model(32, 13, 0, &kH100Fp8SumFormat, false), detail::TowardZero()},
    {"hopper-mma-fp8", "e4m3fn or e5m2 x e4m3fn -> f32, mma.sync.m16n8k32 on sm_90 (f16 path)",
     detail::HopperMmaFp8Model(), detail::TowardZero()},
};

// The model named `name`, or nullptr.
inline const H100TensorCoreModel* FindH100TensorCoreModel(std::string_view name) {
  for (const H100TensorCoreModel& m : kH100TensorCoreModels)
    if (name == m.name) return &m;
  return nullptr;
}

}  // namespace floatscope
