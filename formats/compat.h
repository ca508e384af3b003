// Presets that reproduce a peer's conversion semantics exactly. Each one is
// proven by an exhaustive test against the peer (tests/, cuda/RESULTS.md).
#pragma once

#include <optional>
#include <string_view>

#include "formats/policy.h"

namespace floatscope {

enum class Compat : uint8_t { kNone, kMlDtypes, kCuda, kCudaSatfinite };

inline std::optional<Compat> ParseCompat(std::string_view s) {
  if (s == "none") return Compat::kNone;
  if (s == "ml_dtypes") return Compat::kMlDtypes;
  if (s == "cuda") return Compat::kCuda;
  if (s == "cuda-satfinite") return Compat::kCudaSatfinite;
  return std::nullopt;
}

// "" when the preset covers conversions into `dst`, else why not.
FS_HD constexpr const char* CheckCompat(Compat c, const Format& dst) {
  if ((c == Compat::kCudaSatfinite || c == Compat::kCuda) && (!IsFloat(dst) || !dst.has_zero))
    return "the CUDA presets cover float formats with a zero, not e8m0fnu or integers";
  return "";
}

// Applies a preset on top of `opt`, for conversions into `dst`.
//
// ml_dtypes (0.5, 0.6): float32 -> type casts round to nearest even, with
//   - the format's default overflow (infinity where there is one, else NaN,
//     else saturation), which is floatscope's default too;
//   - NaN payloads dropped: every NaN becomes the canonical quiet NaN with
//     the input's sign;
//   - NaN into FP6/FP4 (no NaN): zero with the *opposite* sign (a quirk of
//     its bit manipulation, kept for compatibility);
//   - e8m0fnu ties away from zero (its implicit significand bit counts as
//     the "odd" last bit);
//   - int4/uint4 (and intN): truncation toward zero, then two's-complement
//     wrap-around, as C++ casts do; NaN gives 0.
// cuda-satfinite: __nv_cvt_float_to_fp8(x, __NV_SATFINITE, ...) and the
//   PTX cvt.rn.satfinite conversions (Hopper): round to nearest even, finite
//   overflow and infinities clamp to +-max finite, and every NaN, whatever
//   its sign or payload, becomes the positive all-ones code (0x7F for both
//   E4M3 and E5M2; 0x7FFF for f16/bf16). FP6/FP4 (cvt ... e2m1x2 etc.,
//   Blackwell): NaN gives +max finite, as CUDA's cuda_fp4.h/cuda_fp6.h say.
//   CUDA's e8m0 conversions round toward zero or up and ignore the sign:
//   they are not this preset, and CheckCompat rejects e8m0fnu.
// cuda: the same without saturation: __nv_cvt_float_to_fp8(x, __NV_NOSAT,
//   ...), __float2half_rn, __float2bfloat16_rn: round to nearest even, the
//   format's default overflow (E4M3: NaN 0x7F/0xFF with the sign; E5M2 and
//   f16/bf16: infinity), NaN inputs give the positive all-ones code.
// Both CUDA presets are proven on all 2^32 float32 inputs on an H100 by
// cuda/intrinsics_check.cu (cuda/RESULTS.md).
FS_HD constexpr Options ApplyCompat(Compat c, const Format& dst, Options opt) {
  switch (c) {
    case Compat::kNone: break;
    case Compat::kMlDtypes:
      opt.nan_payload = NanPayload::kCanonical;
      opt.nan_to_no_nan = NanToNoNan::kZeroOppositeSign;
      opt.tie_rule_p1 = TieRuleP1::kAway;
      opt.overflow = Overflow::kDefault;
      opt.rounding = Rounding::kNearestEven;
      if (!IsFloat(dst)) {
        opt.rounding = Rounding::kTowardZero;
        opt.overflow = Overflow::kWrap;
      }
      break;
    case Compat::kCuda:
      opt.rounding = Rounding::kNearestEven;
      opt.overflow = Overflow::kDefault;
      opt.nan_payload = NanPayload::kAllOnes;
      opt.nan_to_no_nan = NanToNoNan::kMaxFinite;
      break;
    case Compat::kCudaSatfinite:
      opt.rounding = Rounding::kNearestEven;
      opt.overflow = Overflow::kSaturate;
      opt.nan_payload = NanPayload::kAllOnes;
      opt.nan_to_no_nan = NanToNoNan::kMaxFinite;
      break;
  }
  return opt;
}

}  // namespace floatscope
