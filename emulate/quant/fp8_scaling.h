// Per-tensor (or per-channel / per-group) scaling into a float format, as
// NVIDIA TransformerEngine's FP8 recipes do.
//
//   amax   = max |x| over the unit (NaN ignored, as fmaxf does; +inf counts)
//   scale  = fp32( fp32(fmt_max / fp32(amax)) * 2^-margin )
//            + inf -> FLT_MAX; with pow2: 2^floor(log2(scale))
//            unless amax is 0, infinite or NaN (or the scale comes out 0):
//            then the previous scale is kept (1 for current scaling)
//   code   = cast(fmt, x * scale)      one rounding by the core; x * scale is
//                                      computed exactly in float64 for
//                                      float32 inputs (24 x 24 bits)
//   x'     = fp32( value(code) * scale_inv ),  scale_inv = fp32(1 / scale)
//
// The cast saturates (TransformerEngine casts with satfinite) unless the
// caller chose another overflow policy.
//
// Current scaling uses the tensor's own amax. Delayed scaling
// (TransformerEngine's DelayedScaling) uses the amax history of the
// previous steps: step t is cast with the scale computed from the history
// after step t-1 (1 at t = 0), then amax_t enters the history, which keeps
// the last `length` values (zeros until filled). The history reduces by
// max (default) or takes the most recent value.
//
// Where TransformerEngine differs: its kernels multiply x * scale in fp32
// and then round to FP8 (two roundings); floatscope rounds the exact
// product once. The two differ only where the fp32 product lands exactly on
// an FP8 rounding boundary after its own rounding.
#pragma once

#include <cmath>
#include <cstdint>
#include <deque>

#include "emulate/quant/common.h"

namespace floatscope::quant {

struct Fp8ScalingRecipe {
  int margin = 0;     // scale divided by 2^margin
  bool pow2 = false;  // round the scale down to a power of two
};

enum class AmaxReduce : uint8_t { kMax, kMostRecent };

// The scale for a unit whose amax is `amax` (see the top of this file).
// FS_HD: the per-tensor kernels of cuda/kernels.cu compute their scale
// with this function.
FS_HD float Fp8ScaleFromAmax(const Format& f, double amax, const Fp8ScalingRecipe& r, float previous) {
  if (!(amax > 0) || IsInfF64(amax)) return previous;
  const float amax32 = RoundToF32(amax);
  if (IsInfF32(amax32)) return previous;  // float64 amax beyond float32
  const float fmt_max = RoundToF32(MaxFinite(f));
  float s = fmt_max / amax32;
  s = LdexpF32(s, -r.margin);
  if (IsInfF32(s)) s = kFltMax;
  // frexp then ldexp(1, e - 1): the largest power of two <= s (and 0.5
  // for an s that underflowed to 0, as frexp gives it e = 0).
  if (r.pow2) s = LdexpF32(1.0f, FrexpExponentF32(s) - 1);
  return s > 0 ? s : previous;
}

// The amax history of delayed scaling.
class AmaxHistory {
 public:
  AmaxHistory(size_t length, AmaxReduce reduce) : values_(length == 0 ? 1 : length, 0.0), reduce_(reduce) {}

  // Records the newest amax, dropping the oldest.
  void Push(double amax) {
    values_.pop_back();
    values_.push_front(amax);
  }

  double Reduced() const {
    if (reduce_ == AmaxReduce::kMostRecent) return values_.front();
    double m = 0;
    for (const double v : values_)
      if (v > m || std::isinf(v)) m = v;
    return m;
  }

 private:
  std::deque<double> values_;  // most recent first
  AmaxReduce reduce_;
};

// cast(x * scale) with one rounding: the product is formed in float64,
// exact for float32 x (24 x 24 bits, never a float64 subnormal); a NaN x
// comes out quieted with its sign and payload, as on x86.
FS_HD Result Fp8Encode(const Format& f, const Options& opt, double x, float scale, uint64_t index) {
  return EncodeFromF64(f, MulF64AsX86(x, static_cast<double>(scale)), opt, index);
}

FS_HD constexpr float Fp8ScaleInverse(float scale) { return 1.0f / scale; }

FS_HD float Fp8Decode(const Format& f, uint64_t code, float scale_inv) {
  return MulF32AsX86(DecodeToF32(f, code), scale_inv);
}

}  // namespace floatscope::quant
