// NVFP4 (NVIDIA Blackwell): E2M1 elements in blocks of 16 consecutive
// elements along an axis, one E4M3 decode scale per block and one float32
// scale per tensor. Two recipes, which differ on purpose; each is written
// here with its float32 operations in its own order (each one an IEEE
// float32 operation, round to nearest even; the E4M3 and E2M1 casts go
// through the core). Inputs are float32; a float64 input is rounded to
// float32 first (nearest even), as feeding either library a float64 tensor
// would. amax values are taken as fmaxf does (NaN ignored).
//
// te: NVIDIA TransformerEngine's (the default, and train/'s):
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
// A block whose scaled amax is below half of E4M3's smallest subnormal
// (2^-10) gets s_b = 0: k_b = FLT_MAX and every element becomes 0 (or +-6
// for a nonzero one: x * FLT_MAX saturates), decoded as 0 * 0.
//
// torchao: PyTorch AO's nvfp4_quantize with a per-tensor scale from
// per_tensor_amax_to_scale (torchao/prototype/mx_formats/nvfp4_tensor.py):
//
//   P       = amax_tensor / (448 * 6)                (per-tensor decode scale)
//   s_b     = e4m3_rn(clamp((amax_b / 6) / P, 2^-6, 448))
//   t_b     = P * float(s_b)                         (block decode scale)
//   q_i     = e2m1(clamp(x_i / t_b, -6, 6))   caller's rounding
//   x'_i    = q_i * (P * float(s_b))
//
// 2^-6 is torch.finfo(torch.float8_e4m3fn).tiny, E4M3's smallest normal: a
// block whose scale would be smaller (a tensor with a wide dynamic range)
// keeps 2^-6 where te would give a subnormal or zero scale, so its small
// elements survive (quantized against a scale larger than their own amax
// asks for). torchao divides where te multiplies by a reciprocal, so the
// two can also differ by a rounding in P, s_b or x_i / t_b. An all-zero
// tensor gives P = 0 and (0 / 6) / 0 = NaN scales in torchao; floatscope
// follows (NaN block scales, NaN values). torchao takes amax with torch.amax,
// which propagates NaN; floatscope ignores NaN under both recipes.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "emulate/quant/common.h"
#include "formats/catalog.h"

namespace floatscope::quant {

inline constexpr size_t kNvfp4Block = 16;

enum class Nvfp4Recipe : uint8_t {
  kTransformerEngine,  // "te"
  kTorchao,            // "torchao"
};

inline constexpr const char* kNvfp4RecipeNames = "te, torchao";

inline const char* Nvfp4RecipeName(Nvfp4Recipe r) { return r == Nvfp4Recipe::kTorchao ? "torchao" : "te"; }

inline std::optional<Nvfp4Recipe> ParseNvfp4Recipe(std::string_view name) {
  if (name == "te") return Nvfp4Recipe::kTransformerEngine;
  if (name == "torchao") return Nvfp4Recipe::kTorchao;
  return std::nullopt;
}

// The te recipe's steps are FS_HD: the NVFP4 kernel of cuda/kernels.cu
// calls them.

FS_HD constexpr float Nvfp4GlobalEncodeScale(float amax_tensor) {
  float s = 448.0f * 6.0f / amax_tensor;
  s = FminF32(s, kFltMax);
  if (amax_tensor == 0.0f || s == 0.0f) return 1.0f;
  return s;
}

FS_HD constexpr float Nvfp4GlobalDecodeScale(float s_enc) { return 1.0f / s_enc; }

// The block decode scale before its E4M3 cast, and the cast's options
// (e4m3_rn_satfinite). quantize.cc casts the blocks' values in one array
// call (the kernels give the core's bits).
FS_HD constexpr float Nvfp4BlockScaleValue(float amax_block, float s_enc) {
  return FminF32(amax_block / 6.0f * s_enc, kFltMax);
}

FS_HD constexpr Options Nvfp4BlockScaleOptions() {
  Options opt;
  opt.overflow = Overflow::kSaturate;
  return opt;
}

// E4M3 code of the block decode scale.
FS_HD uint8_t Nvfp4BlockScaleCode(float amax_block, float s_enc) {
  constexpr Format kE4m3fn = formats::kE4m3fn;
  return static_cast<uint8_t>(
      EncodeFromF32(kE4m3fn, Nvfp4BlockScaleValue(amax_block, s_enc), Nvfp4BlockScaleOptions()).code);
}

// The block encode scale from the value of the block decode scale's code.
FS_HD constexpr float Nvfp4BlockEncodeScaleOf(float scale_value, float s_dec) {
  return FminF32(1.0f / (scale_value * s_dec), kFltMax);
}

FS_HD float Nvfp4BlockEncodeScale(uint8_t scale_code, float s_dec) {
  constexpr Format kE4m3fn = formats::kE4m3fn;
  return Nvfp4BlockEncodeScaleOf(DecodeToF32(kE4m3fn, scale_code), s_dec);
}

// The block encode scale is never NaN, so a NaN x is the product's only
// NaN operand: quieted as x86 does.
FS_HD Result Nvfp4EncodeElement(const Options& opt, float x, float block_encode_scale, uint64_t index) {
  constexpr Format kE2m1fn = formats::kE2m1fn;
  return EncodeFromF32(kE2m1fn, MulF32AsX86(x, block_encode_scale), opt, index);
}

FS_HD float Nvfp4DecodeElement(uint64_t code, uint8_t scale_code, float s_dec) {
  constexpr Format kE2m1fn = formats::kE2m1fn, kE4m3fn = formats::kE4m3fn;
  return DecodeToF32(kE2m1fn, code) * (DecodeToF32(kE4m3fn, scale_code) * s_dec);
}

// ---- torchao ---------------------------------------------------------------

inline constexpr float kTorchaoE4m3Tiny = 0.015625f;  // 2^-6, torch.finfo(torch.float8_e4m3fn).tiny

// P = amax / (F8E4M3_MAX * F4_E2M1_MAX), per_tensor_amax_to_scale.
inline float TorchaoNvfp4TensorScale(float amax_tensor) { return amax_tensor / (448.0f * 6.0f); }

// s_b before its E4M3 cast (default options). torch.clamp passes NaN
// through, and the cast of NaN is E4M3's NaN.
inline float TorchaoNvfp4BlockScaleValue(float amax_block, float per_tensor) {
  float s = amax_block / 6.0f / per_tensor;
  if (s < kTorchaoE4m3Tiny) s = kTorchaoE4m3Tiny;
  if (s > 448.0f) s = 448.0f;
  return s;
}

// E4M3 code of s_b.
inline uint8_t TorchaoNvfp4BlockScaleCode(float amax_block, float per_tensor) {
  return static_cast<uint8_t>(EncodeFromF32(formats::kE4m3fn, TorchaoNvfp4BlockScaleValue(amax_block, per_tensor)).code);
}

// t_b = P * float(s_b): the block's decode scale, which the elements are
// divided by (quantize) and multiplied by (dequantize).
inline float TorchaoNvfp4BlockDecodeScaleOf(float scale_value, float per_tensor) { return per_tensor * scale_value; }

inline float TorchaoNvfp4BlockDecodeScale(uint8_t scale_code, float per_tensor) {
  return TorchaoNvfp4BlockDecodeScaleOf(DecodeToF32(formats::kE4m3fn, scale_code), per_tensor);
}

// clamp(x / t_b, -6, 6): what torchao hands to its E2M1 cast.
inline float TorchaoNvfp4Scaled(float x, float block_decode_scale) {
  const float v = x / block_decode_scale;
  return v < -6.0f ? -6.0f : v > 6.0f ? 6.0f : v;
}

inline Result TorchaoNvfp4EncodeElement(const Options& opt, float x, float block_decode_scale, uint64_t index) {
  return EncodeFromF32(formats::kE2m1fn, TorchaoNvfp4Scaled(x, block_decode_scale), opt, index);
}

inline float TorchaoNvfp4DecodeElement(uint64_t code, float block_decode_scale) {
  return DecodeToF32(formats::kE2m1fn, code) * block_decode_scale;
}

}  // namespace floatscope::quant
