// NVFP4 (NVIDIA Blackwell): E2M1 elements in blocks of 16 consecutive
// elements along an axis, one E4M3 decode scale per block and one float32
// scale per tensor. The recipe is TransformerEngine's, including the order
// of its float32 operations (each one an IEEE float32 operation, round to
// nearest even; the E4M3 and E2M1 casts go through the core):
//
//   S_enc   = fminf(448 * 6 / amax_tensor, FLT_MAX);  1 if amax_tensor == 0
//             or S_enc == 0                          (global encode scale)
//   S_dec   = 1 / S_enc                              (global decode scale)
//   s_b     = e4m3_rn_satfinite(fminf(amax_b / 6 * S_enc, FLT_MAX))
//                                                    (block decode scale)
//   k_b     = fminf(1 / (float(s_b) * S_dec), FLT_MAX)   (block encode scale)
//   q_i     = e2m1(x_i * k_b)    caller's rounding (rne or sr), saturating
//   x'_i    = q_i * (float(s_b) * S_dec)
//
// amax values are taken as fmaxf does (NaN ignored). Inputs are float32; a
// float64 input is rounded to float32 first (nearest even), as feeding
// TransformerEngine a float64 tensor would.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstdint>

#include "emulate/quant/common.h"
#include "formats/catalog.h"

namespace floatscope::quant {

inline constexpr size_t kNvfp4Block = 16;

inline float Nvfp4GlobalEncodeScale(float amax_tensor) {
  float s = 448.0f * 6.0f / amax_tensor;
  s = std::fmin(s, FLT_MAX);
  if (amax_tensor == 0.0f || s == 0.0f) return 1.0f;
  return s;
}

inline float Nvfp4GlobalDecodeScale(float s_enc) { return 1.0f / s_enc; }

// E4M3 code of the block decode scale.
inline uint8_t Nvfp4BlockScaleCode(float amax_block, float s_enc) {
  const float s = std::fmin(amax_block / 6.0f * s_enc, FLT_MAX);
  Options opt;
  opt.overflow = Overflow::kSaturate;
  return static_cast<uint8_t>(EncodeFromF32(formats::kE4m3fn, s, opt).code);
}

inline float Nvfp4BlockEncodeScale(uint8_t scale_code, float s_dec) {
  return std::fmin(1.0f / (DecodeToF32(formats::kE4m3fn, scale_code) * s_dec), FLT_MAX);
}

inline Result Nvfp4EncodeElement(const Options& opt, float x, float block_encode_scale, uint64_t index) {
  return EncodeFromF32(formats::kE2m1fn, x * block_encode_scale, opt, index);
}

inline float Nvfp4DecodeElement(uint64_t code, uint8_t scale_code, float s_dec) {
  return DecodeToF32(formats::kE2m1fn, code) * (DecodeToF32(formats::kE4m3fn, scale_code) * s_dec);
}

}  // namespace floatscope::quant
