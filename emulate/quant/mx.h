// OCP Microscaling (MX) v1.0 block formats: k = 32 consecutive elements
// V_1..V_k along an axis share one E8M0 scale X (section 6.3):
//
//   shared_exp = floor(log2(max_i |V_i|)) - emax_elem
//   X          = 2^shared_exp                      (E8M0 code shared_exp + 127)
//   P_i        = cast(elem, V_i / X)               saturating to +-max normal
//   value_i    = X * P_i
//
// emax_elem is the exponent of the element type's largest normal value:
// E4M3 8, E5M2 15, E2M3 2, E3M2 4, E2M1 2, INT8 0 (MXINT8 elements are
// two's complement with an implied scale 2^-6: 1.984375 = 127 * 2^-6).
//
// The rules at the edges (section 6.3 and the spec's reference code,
// microsoft/microxcaling):
//   - a block with a NaN or an infinity gets X = NaN (code 0xFF); every
//     element of it then decodes to NaN whatever P_i holds (floatscope
//     stores the element type's encoding of NaN: its NaN code for E4M3/E5M2,
//     0 for the types without NaN);
//   - shared_exp > 127 (float64 inputs beyond 2^(127 + emax_elem + 1))
//     makes X NaN as well;
//   - shared_exp < -127 is clamped to -127 (X = 2^-127, code 0x00); the
//     elements then round (or flush) as the element type dictates;
//   - an all-zero block (amax = 0) has no log2; floatscope gives it the
//     smallest scale, code 0x00 (every P_i is 0 whatever X is);
//   - MXINT8 elements are clamped to +-127 (the spec's max normal
//     1.984375); -128 is never produced.
//
// Both the division by X and the multiplication by X are exact: they are
// done on the exponent of the unpacked value (quant::EncodeScaledPow2), so
// each element is rounded exactly once, by the core, in the caller's
// rounding mode (stochastic modes use the element's flat index).
#pragma once

#include <cstdint>
#include <string_view>

#include "emulate/quant/common.h"
#include "formats/catalog.h"

namespace floatscope::quant {

struct MxType {
  const char* name;     // OCP name
  const Format* elem;   // element format
  int emax_elem;        // exponent of the largest normal element value
  int implied_shift;    // element value = code value * 2^-implied_shift (MXINT8: 6)
};

// Exponent of the largest finite value of a float format.
constexpr int EmaxOf(const Format& f) {
  return static_cast<int>(MaxFiniteMagnitude(f) >> f.mantissa_bits) - f.bias;
}

inline constexpr MxType kMxTypes[] = {
    {"MXFP8 E4M3", &formats::kE4m3fn, EmaxOf(formats::kE4m3fn), 0},
    {"MXFP8 E5M2", &formats::kE5m2, EmaxOf(formats::kE5m2), 0},
    {"MXFP6 E2M3", &formats::kE2m3fn, EmaxOf(formats::kE2m3fn), 0},
    {"MXFP6 E3M2", &formats::kE3m2fn, EmaxOf(formats::kE3m2fn), 0},
    {"MXFP4 E2M1", &formats::kE2m1fn, EmaxOf(formats::kE2m1fn), 0},
    {"MXINT8", &formats::kInt8, 0, 6},
};
// OCP MX v1.0 table 1 (emax of the element types).
static_assert(kMxTypes[0].emax_elem == 8 && kMxTypes[1].emax_elem == 15 && kMxTypes[2].emax_elem == 2 &&
              kMxTypes[3].emax_elem == 4 && kMxTypes[4].emax_elem == 2);

inline constexpr size_t kMxBlock = 32;
inline constexpr int kE8m0Bias = 127;
inline constexpr uint8_t kE8m0Nan = 0xFF;

// The MX type whose element format is named `element` (e4m3fn, e5m2,
// e2m3fn, e3m2fn, e2m1fn, int8); nullptr for any other.
inline const MxType* FindMxType(std::string_view element) {
  for (const MxType& t : kMxTypes)
    if (element == t.elem->name) return &t;
  return nullptr;
}

struct MxScale {
  uint8_t code = 0;    // E8M0 code
  int shared_exp = 0;  // X = 2^shared_exp when code != 0xFF
  FS_HD constexpr bool IsNan() const { return code == kE8m0Nan; }
};

// The per-block steps below are FS_HD: the MX kernel of cuda/kernels.cu
// calls them (with an MxType whose elem points to its own copy of the
// element format).

// The shared scale of a block with max |V_i| = amax; `special` = the block
// holds a NaN or an infinity.
FS_HD constexpr MxScale MxSharedScale(const MxType& t, double amax, bool special) {
  if (special) return {kE8m0Nan, 0};
  if (!(amax > 0)) return {0, -kE8m0Bias};
  // amax = m * 2^e, 0.5 <= m < 1 (frexp): floor(log2 amax) = e - 1
  int s = (FrexpExponentF64(amax) - 1) - t.emax_elem;
  if (s > kE8m0Bias) return {kE8m0Nan, 0};
  if (s < -kE8m0Bias) s = -kE8m0Bias;
  return {static_cast<uint8_t>(s + kE8m0Bias), s};
}

// The element code of V_i. `opt` is the caller's (its overflow policy
// should be saturate, as the spec says).
FS_HD Result MxEncodeElement(const MxType& t, const Options& opt, double v, const MxScale& x, uint64_t index) {
  if (x.IsNan()) return EncodeFromF64(*t.elem, F64FromBits(kQuietNanF64), opt, index);
  Result r = EncodeScaledPow2(*t.elem, v, t.implied_shift - x.shared_exp, opt, index);
  if (t.implied_shift != 0 && r.code == 0x80) {  // MXINT8: -128 -> -127
    r.code = 0x81;
    r.flags |= kInvalid;
  }
  return r;
}

FS_HD float MxDecodeElement(const MxType& t, uint64_t code, const MxScale& x) {
  if (x.IsNan()) return F32FromBits(kQuietNanF32);
  return DecodeScaledPow2ToF32(*t.elem, code, x.shared_exp - t.implied_shift);
}

}  // namespace floatscope::quant
