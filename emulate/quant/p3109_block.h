// IEEE P3109 scaled (block) conversion: k consecutive elements V_1..V_k
// along an axis share one power-of-two scale X held in an unsigned P = 1
// format (binary8p1uf by default, binary8p1ue, any smaller binaryKp1u*, or
// OCP's e8m0fnu), chosen from the block's largest finite magnitude:
//
//   amax       = max |V_i| over the finite V_i
//   shared_exp = floor(log2 amax) - emax_elem,  clamped to the scale
//                format's finite range [1 - bias, MaxFinite code - bias]
//   X          = 2^shared_exp                   (scale code shared_exp + bias)
//   P_i        = round(elem, V_i / X)           in the caller's mode and
//                                               overflow policy (saturate
//                                               unless asked otherwise)
//   value_i    = X * P_i
//
// emax_elem is the exponent of the element format's largest finite value
// (binary8p3sf 15, binary8p4se 7, e4m3fn 8), so the largest element lands in
// the element format's top binade, as in OCP MX.
//
// Where this differs from OCP MX (emulate/quant/mx.h) on purpose:
//   - the scale is a function of the *finite* values only ("max abs finite"):
//     a NaN or an infinity in a block does not poison the scale; each such
//     element converts on its own (NaN -> the element format's NaN, or what
//     --nan-to-no-nan says; +-inf -> +-inf where the element format has
//     infinities and the policy is ieee, else the saturated +-max), so the
//     block's other elements keep their values;
//   - a block with no nonzero finite value gets the smallest scale, as in
//     OCP MX and gfloat's compute_scale_amax (its zeros stay zeros; an
//     infinity in it becomes +-inf or, saturated, the element format's
//     +-max times that smallest scale);
//   - the scale range is the scale format's: binary8p1uf holds 2^-127 ..
//     2^126, binary8p1ue 2^-127 .. 2^125 (its code 0xFE is +inf), e8m0fnu
//     2^-127 .. 2^127. A shared_exp above the range clamps to the top (the
//     elements then overflow as their policy says) where MX would give a
//     NaN scale.
// The scale formats' code 0 (the zero of binaryKp1u*) and NaN code are
// never produced.
//
// Element i is V_i * 2^-shared_exp rounded once, exactly as MX elements are
// (quant::EncodeScaledPow2): the division is exact on the unpacked value.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "emulate/quant/mx.h"
#include "formats/format.h"

namespace floatscope::quant {

// Whether `s` can hold P3109 block scales: an unsigned float with no
// trailing significand bits (every value a power of two), of at most 8 bits
// (uint8 scale codes, float32-range scales).
inline bool IsPow2ScaleFormat(const Format& s) {
  return IsFloat(s) && !s.is_signed && s.mantissa_bits == 0 && s.bits <= 8;
}

// The range of shared exponents `s` holds: 2^lo .. 2^hi.
struct ScaleRange {
  int lo, hi;
};
inline ScaleRange ScaleRangeOf(const Format& s) {
  const int first = s.has_zero ? 1 : 0;  // code 0 is zero where there is one
  return {first - s.bias, static_cast<int>(MaxFiniteMagnitude(s)) - s.bias};
}

// The element type the MX machinery runs on: any float element format, no
// implied shift.
inline MxType P3109ElementType(const Format& elem) { return {"P3109 block", &elem, EmaxOf(elem), 0}; }

// The scale of a block whose largest finite magnitude is `amax_finite`
// (0 when it has none), as the scale format's code and exponent.
inline MxScale P3109BlockScale(const MxType& t, const Format& scale_format, double amax_finite) {
  const ScaleRange r = ScaleRangeOf(scale_format);
  int s = r.lo;
  if (amax_finite > 0) {
    int e = 0;
    std::frexp(amax_finite, &e);  // amax = m * 2^e, 0.5 <= m < 1: floor(log2 amax) = e - 1
    s = (e - 1) - t.emax_elem;
    s = s < r.lo ? r.lo : s > r.hi ? r.hi : s;
  }
  return {static_cast<uint8_t>(s + scale_format.bias), s};
}

// Why `s` cannot be a block-scale format, or "" where it can.
inline std::string CheckScaleFormat(const Format& s) {
  if (IsPow2ScaleFormat(s)) return "";
  return std::string("scale format ") + s.name +
         " is not an unsigned power-of-two format of at most 8 bits (binary8p1uf, binary8p1ue, binaryKp1u*, "
         "e8m0fnu)";
}

}  // namespace floatscope::quant
