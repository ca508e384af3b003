// Whole-tensor quantization: picks a scheme's scales for a C-order tensor,
// casts every element (through the core, in parallel), dequantizes, and
// measures the loss against the input's float64 values. The schemes and
// their formulas are in fp8_scaling.h, integer.h, calibration.h, mx.h and
// nvfp4.h; docs/QUANTIZATION.md has them all on one page.
//
// Results never depend on the thread count: every element is cast from its
// own value, its unit's scale and its flat index (which keys stochastic
// rounding), and the statistics are summed per fixed chunk of 65536
// elements, then over chunks in order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/error_stats.h"
#include "emulate/quant/calibration.h"
#include "emulate/quant/fp8_scaling.h"
#include "emulate/quant/integer.h"
#include "formats/format.h"
#include "formats/policy.h"

namespace floatscope::quant {

enum class Scheme : uint8_t {
  kTensor,   // one scale for the tensor (FP8 current scaling / integer)
  kChannel,  // one scale per index along the axis
  kGroup,    // one scale per `group` consecutive elements along the axis
  kDelayed,  // FP8 delayed scaling; axis 0 counts the steps
  kMx,       // OCP MX blocks of 32 along the axis, E8M0 scales
  kNvfp4,    // NVFP4: E2M1 blocks of 16 along the axis, E4M3 + FP32 scales
};

// Names: tensor, channel, group, delayed, mx, nvfp4.
std::optional<Scheme> ParseScheme(std::string_view name);
const char* SchemeName(Scheme s);
inline constexpr const char* kSchemeNames = "tensor, channel, group, delayed, mx, nvfp4";

struct QuantError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

struct QuantConfig {
  const Format* format = nullptr;  // element format
  Scheme scheme = Scheme::kTensor;
  long axis = -1;       // channel, group, mx, nvfp4 (negative: from the end)
  size_t group = 0;     // group: elements per group (required)
  size_t block = 32;    // mx: elements per block (OCP: 32)
  IntMode int_mode = IntMode::kSymmetric;  // integer formats
  Calibration calib;                       // tensor, channel, group
  Fp8ScalingRecipe fp8;                    // float formats: margin, pow2
  size_t history = 16;                     // delayed: amax history length
  AmaxReduce reduce = AmaxReduce::kMax;    // delayed
  Options opt;  // element casts; overflow kDefault means saturate here
  unsigned threads = 0;  // 0: all hardware threads
  // Cast through the SIMD array kernels (emulate/array_ops.h) wherever that
  // gives the core's bits: NVFP4 elements, MX float elements, FP8 scaling
  // with a power-of-two scale. false: the core element by element (the
  // reference the tests compare with). Results are identical either way.
  bool simd = true;
};

struct QuantResult {
  std::vector<size_t> shape;
  std::vector<uint16_t> codes;     // one element code per input element
  std::vector<float> dequantized;  // float32 x' per element
  // Per-unit scales, C order, shape `scale_shape`: x' = value(code) * s for
  // float formats (s = 1/scale: the decode scale), (value(code) - z) * s for
  // integers. Empty for mx and nvfp4, which have `scale_codes` instead.
  std::vector<size_t> scale_shape;
  std::vector<float> scales;
  std::vector<float> zero_points;   // asymmetric integer schemes only
  std::vector<uint8_t> scale_codes; // mx: E8M0 codes; nvfp4: E4M3 codes
  std::optional<float> global_decode_scale;  // nvfp4: S_dec
  // What the quantization cost, against the input's float64 values:
  // measured on the float32 dequantized values (what the default output
  // file holds). `saturated` counts the casts that overflowed or clamped
  // (NaN inputs excepted).
  analysis::ErrorStats stats;
};

// Called now and then from the calling thread with elements done so far.
using Progress = std::function<void(size_t done, size_t total)>;

// Throws QuantError (one line) for a configuration that cannot apply to any
// tensor (the checks Quantize makes that do not need the data).
void CheckConfig(const QuantConfig& config);

// Throws QuantError (one line) for a configuration that does not apply.
QuantResult Quantize(const QuantConfig& config, const std::vector<size_t>& shape, const std::vector<double>& x,
                     const Progress& progress = {});

}  // namespace floatscope::quant
