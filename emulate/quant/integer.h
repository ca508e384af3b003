// Integer quantization (int8, uint8, int4, uint4 and any intN/uintN spec):
// affine maps between a clipping range [lo, hi] and the integer grid
// [qmin, qmax] of the format (signed: -2^(b-1) .. 2^(b-1)-1, unsigned:
// 0 .. 2^b-1).
//
// Symmetric (c = max(|lo|, |hi|), h = 2^(b-1) - 1, i.e. 127 for 8 bits):
//   scale = fp32(c / h),  zero_point = 0 (signed) or 2^(b-1) (unsigned)
// Asymmetric (the range is first widened to contain 0):
//   lo' = min(lo, 0),  hi' = max(hi, 0)
//   scale = fp32((hi' - lo') / (qmax - qmin))
//   zero_point = clamp(qmin - round_half_even(lo' / scale), qmin, qmax)
// A scale that comes out 0, infinite or NaN (an all-zero unit, an infinite
// range) is replaced by 1.
//
//   code = cast(fmt, x / scale + zero_point)   one rounding by the core, in
//          the caller's mode (any of rne rna rtz rdn rup rto sr sr-eq);
//          out-of-range values saturate to qmin/qmax (the integer
//          formats' default); x / scale + zero_point is computed in float64
//   x'   = fp32((value(code) - zero_point) * scale)   (exact in float64)
//
// The clipping range comes from calibration (emulate/quant/calibration.h).
#pragma once

#include <cmath>
#include <cstdint>

#include "emulate/quant/common.h"

namespace floatscope::quant {

enum class IntMode : uint8_t { kSymmetric, kAsymmetric };

struct IntParams {
  float scale = 1.0f;
  int64_t zero_point = 0;
};

inline int64_t QMin(const Format& f) { return f.is_signed ? -(int64_t{1} << (f.bits - 1)) : 0; }
inline int64_t QMax(const Format& f) {
  return f.is_signed ? (int64_t{1} << (f.bits - 1)) - 1 : (int64_t{1} << f.bits) - 1;
}

inline IntParams ChooseIntParams(const Format& f, IntMode mode, double lo, double hi) {
  IntParams p;
  auto usable = [](float s) { return s > 0 && std::isfinite(s); };
  if (mode == IntMode::kSymmetric) {
    const double c = std::fmax(std::fabs(lo), std::fabs(hi));
    const double h = static_cast<double>((int64_t{1} << (f.bits - 1)) - 1);
    const float s = RoundToF32(c / h);
    p.scale = usable(s) ? s : 1.0f;
    p.zero_point = f.is_signed ? 0 : int64_t{1} << (f.bits - 1);
    return p;
  }
  const double l = std::fmin(lo, 0.0), u = std::fmax(hi, 0.0);
  const float s = RoundToF32((u - l) / static_cast<double>(QMax(f) - QMin(f)));
  p.scale = usable(s) ? s : 1.0f;
  const double z = static_cast<double>(QMin(f)) - std::nearbyint(l / p.scale);
  p.zero_point = static_cast<int64_t>(
      std::fmin(std::fmax(z, static_cast<double>(QMin(f))), static_cast<double>(QMax(f))));
  return p;
}

inline Result IntEncode(const Format& f, const Options& opt, double x, const IntParams& p, uint64_t index) {
  return EncodeFromF64(f, x / static_cast<double>(p.scale) + static_cast<double>(p.zero_point), opt, index);
}

inline float IntDecode(const Format& f, uint64_t code, const IntParams& p) {
  return RoundToF32((DecodeToF64(f, code) - static_cast<double>(p.zero_point)) * static_cast<double>(p.scale));
}

}  // namespace floatscope::quant
