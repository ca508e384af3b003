// Inputs and CPU references shared by the CUDA suites: the host build of the
// device code (device_ops_host_test.cc) and the GPU kernels
// (gpu_kernels_test.cc) are both compared with emulate/ on these.
#pragma once

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "emulate/dot.h"
#include "emulate/h100_tensor_core.h"
#include "emulate/quant/quantize.h"
#include "formats/catalog.h"
#include "formats/convert.h"

namespace floatscope::cuda_test {

// Calls fn(std::integral_constant<Rounding, m>{}) for every rounding mode m,
// for code templated on the mode (the kernels' element functions).
template <class Fn>
void ForEachMode(Fn&& fn) {
  fn(std::integral_constant<Rounding, Rounding::kNearestEven>{});
  fn(std::integral_constant<Rounding, Rounding::kNearestAway>{});
  fn(std::integral_constant<Rounding, Rounding::kTowardZero>{});
  fn(std::integral_constant<Rounding, Rounding::kDown>{});
  fn(std::integral_constant<Rounding, Rounding::kUp>{});
  fn(std::integral_constant<Rounding, Rounding::kOdd>{});
  fn(std::integral_constant<Rounding, Rounding::kStochastic>{});
  fn(std::integral_constant<Rounding, Rounding::kStochasticEq>{});
}

// float32 inputs that reach every branch: zeros, subnormals, the edges of
// every format's range and of each binade (with their neighbours), ties,
// infinities, quiet and signaling NaNs with payloads, both signs, then
// random bit patterns.
inline std::vector<float> InterestingInputs(size_t random_count, uint32_t seed) {
  std::vector<uint32_t> bits = {0x00000000u, 0x00000001u, 0x00000002u, 0x007fffffu, 0x00800000u, 0x00400000u,
                                0x7f7fffffu, 0x7f800000u, 0x7fc00000u, 0x7fc00001u, 0x7fa00000u, 0x7f800001u,
                                0x7fffffffu, 0x3f800000u, 0x3f800001u, 0x3f7fffffu};
  for (const Format& f : formats::kAll) {
    if (!IsFloat(f) || f.bits > 24) continue;
    for (const double v : {MaxFinite(f), MinNormal(f), MinPositive(f), MaxFinite(f) * 1.0625, MinPositive(f) / 2,
                           MinPositive(f) * 0.75, MinPositive(f) * 1.5, 1.0 + Epsilon(f) / 2, 1.0 + Epsilon(f) * 1.5}) {
      const uint32_t b = BitsOf(static_cast<float>(v));
      for (int d = -2; d <= 2; ++d) bits.push_back(b + static_cast<uint32_t>(d));
    }
  }
  for (int e = 0; e < 255; ++e)
    for (const uint32_t m : {0u, 1u, 0x400000u, 0x7fffffu, 0x100000u, 0x300000u, 0x080000u, 0x180000u})
      bits.push_back(static_cast<uint32_t>(e) << 23 | m);
  for (int i = 0; i < 130; ++i) bits.push_back(BitsOf(static_cast<float>(i - 65)));  // integers
  std::mt19937 rng(seed);
  for (size_t i = 0; i < random_count; ++i) bits.push_back(rng());
  const size_t n = bits.size();
  for (size_t i = 0; i < n; ++i) bits.push_back(bits[i] ^ 0x80000000u);
  std::vector<float> out(bits.size());
  std::memcpy(out.data(), bits.data(), 4 * bits.size());
  return out;
}

// Tensor values for the scaled schemes: normal data with a few outliers,
// subnormals, zeros; `specials` adds NaNs (with payloads) and infinities.
inline std::vector<float> TensorInputs(size_t n, uint32_t seed, bool specials, float sigma) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, sigma);
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = normal(rng);
  if (n > 16) {
    x[3] = 0.0f;
    x[5] = -0.0f;
    x[7] = 1e-40f;
    x[11] = sigma * 40;
  }
  if (specials && n > 32) {
    uint32_t nan1 = 0x7fc01234u, snan = 0xff812345u;
    std::memcpy(&x[13], &nan1, 4);
    std::memcpy(&x[17], &snan, 4);
    x[19] = -INFINITY;
  }
  return x;
}

inline std::vector<double> Widen(const std::vector<float>& x) { return std::vector<double>(x.begin(), x.end()); }

inline quant::QuantResult CpuQuantize(const Format& f, quant::Scheme scheme, const Options& opt,
                                      const std::vector<size_t>& shape, const std::vector<float>& x,
                                      int margin = 0, bool pow2 = false) {
  quant::QuantConfig c;
  c.format = &f;
  c.scheme = scheme;
  c.axis = -1;
  c.opt = opt;
  c.fp8.margin = margin;
  c.fp8.pow2 = pow2;
  c.threads = 2;
  // The core element by element: the GPU is compared with the core
  // itself, not through the SIMD arrays (equal to it, but a second path).
  c.simd = false;
  return quant::Quantize(c, shape, Widen(x));
}

inline uint32_t Bits(float x) { return BitsOf(x); }

// Every accumulation model, kHardware with both alignments, with and
// without a narrower sum format, and the distinct models of the H100
// presets (emulate/h100_tensor_core.h: exponent-sum alignment, the FP8 sum
// format, promotions to nearest even).
inline std::vector<DotModel> DotModels() {
  std::vector<DotModel> out;
  for (const Accumulation a : {Accumulation::kSequential, Accumulation::kFused, Accumulation::kPairwise,
                               Accumulation::kBlock, Accumulation::kExact}) {
    DotModel m;
    m.accumulation = a;
    m.block = 5;
    out.push_back(m);
  }
  for (const Alignment align : {Alignment::kLeadingBit, Alignment::kExponentSum})
    for (const uint32_t g : {1u, 4u, 32u})
      for (const uint32_t fbits : {3u, 13u, 24u, 60u})
        for (const bool inc : {true, false})
          for (const uint32_t promote : {0u, 2u}) {
            DotModel m;
            m.accumulation = Accumulation::kHardware;
            m.group = g;
            m.fraction_bits = fbits;
            m.include_accumulator = inc;
            m.promote_every = promote;
            m.alignment = align;
            if (g == 4 && fbits == 13) m.sum_format = &kH100Fp8SumFormat;
            out.push_back(m);
          }
  for (const H100TensorCoreModel& p : kH100TensorCoreModels) {
    bool seen = false;
    for (const DotModel& m : out)
      seen |= m.accumulation == p.model.accumulation && m.group == p.model.group &&
              m.fraction_bits == p.model.fraction_bits && m.promote_every == p.model.promote_every &&
              m.alignment == p.model.alignment && m.sum_format == p.model.sum_format &&
              m.promote_nearest_even == p.model.promote_nearest_even &&
              m.operand_format == p.model.operand_format && m.instruction_k == p.model.instruction_k &&
              m.substeps == p.model.substeps && m.substep_run == p.model.substep_run;
    if (!seen) out.push_back(p.model);
  }
  return out;
}

inline std::string DescribeModel(const DotModel& m) {
  return fmt::format("model {} G{} F{} A{} N{} align {} sum {} promote-rne {} operands {} instruction K {} ({}x{})",
                     static_cast<int>(m.accumulation), m.group, m.fraction_bits, m.include_accumulator,
                     m.promote_every, static_cast<int>(m.alignment), m.sum_format ? m.sum_format->name : "acc",
                     m.promote_nearest_even, m.operand_format ? m.operand_format->name : "as given",
                     m.instruction_k, m.substeps, m.substep_run);
}

// The H100 presets with the input formats each models (FP8 "e5m2x..."
// multiplies e5m2 by e4m3fn; hopper-mma-fp8 both pairs).
struct PresetCase {
  const H100TensorCoreModel* preset;
  const Format* in_a;
  const Format* in_b;
};
inline std::vector<PresetCase> H100PresetCases() {
  std::vector<PresetCase> out;
  for (const H100TensorCoreModel& p : kH100TensorCoreModels) {
    const std::string_view name = p.name;
    if (name == "h100-f16") out.push_back({&p, &formats::kF16, &formats::kF16});
    else if (name == "h100-bf16") out.push_back({&p, &formats::kBf16, &formats::kBf16});
    else if (name.starts_with("h100-e5m2xe4m3")) out.push_back({&p, &formats::kE5m2, &formats::kE4m3fn});
    else if (name == "hopper-mma-fp8") {  // both measured pairs
      out.push_back({&p, &formats::kE4m3fn, &formats::kE4m3fn});
      out.push_back({&p, &formats::kE5m2, &formats::kE4m3fn});
    } else out.push_back({&p, &formats::kE4m3fn, &formats::kE4m3fn});
  }
  return out;
}

// Random codes of `f`, mostly finite values of moderate size, some zeros,
// subnormals and (with specials) NaN/inf codes.
inline std::vector<uint64_t> RandomCodes(const Format& f, size_t n, uint32_t seed, bool specials) {
  std::mt19937 rng(seed);
  std::vector<uint64_t> out(n);
  const double one = 1.0;
  const uint64_t one_code = EncodeFromF64(f, one).code;
  for (size_t i = 0; i < n; ++i) {
    uint64_t c = rng() & CodeMask(f);
    const uint32_t pick = rng() % 16;
    if (pick < 10) c = (one_code + (rng() % 64) - 32) ^ ((rng() & 1) ? SignBit(f) : 0);  // near 1
    if (!specials && (IsNanCode(f, c) || IsInfCode(f, c))) c = one_code;
    out[i] = c & CodeMask(f);
  }
  return out;
}

}  // namespace floatscope::cuda_test
