// The fast per-element conversion of the CUDA kernels: emulate/simd's
// EncodeLanes/DecodeLanes (emulate/simd/convert-inl.h) written for one
// float32 at a time, in 32-bit integer operations only, driven by the same
// EncodePlan (emulate/encode_plan.h), whose special results (zeros,
// infinities, overflow, NaNs, negatives into unsigned formats) come from the
// scalar core. It covers the formats SimdSupports() accepts, every rounding
// mode. The general path (cuda/kernels.cu, variant "core") calls the core
// itself; `floatscope gpu-verify --exhaustive` proves both equal to the core
// on all 2^32 float32 inputs (cuda/RESULTS.md).
#pragma once

#include <cstdint>

#include "emulate/encode_plan.h"

namespace floatscope::gpu {

namespace fast_detail {

FS_HD constexpr int32_t Min32(int32_t a, int32_t b) { return a < b ? a : b; }
FS_HD constexpr int32_t Max32(int32_t a, int32_t b) { return a > b ? a : b; }

struct Rounded {
  uint32_t kept;
  bool inexact;
};

// RoundLanes: sig * 2^exp (sig < 2^24) to a multiple of 2^q, shift = q - exp >= 1.
template <Rounding kMode>
FS_HD constexpr Rounded Round(const EncodePlan& p, uint32_t sig, int32_t shift, bool negative,
                              uint32_t random, bool use_odd, uint32_t odd_value) {
  const uint32_t s = static_cast<uint32_t>(Min32(Max32(shift, 1), 25));
  const uint32_t kept = sig >> s;
  const uint32_t rem = sig & ((1u << s) - 1);
  const uint32_t half_bit = 1u << (s - 1);
  const bool half = (rem & half_bit) != 0;
  const bool rest = (rem & (half_bit - 1)) != 0;
  const bool inexact = rem != 0;
  const bool is_odd = (use_odd ? odd_value : kept) & 1u;
  bool up = false;
  if constexpr (kMode == Rounding::kNearestEven) up = half && (rest || is_odd);
  else if constexpr (kMode == Rounding::kNearestAway) up = half;
  else if constexpr (kMode == Rounding::kTowardZero) up = false;
  else if constexpr (kMode == Rounding::kDown) up = inexact && negative;
  else if constexpr (kMode == Rounding::kUp) up = inexact && !negative;
  else if constexpr (kMode == Rounding::kOdd) up = inexact && !is_odd;
  else if constexpr (kMode == Rounding::kStochastic) {
    const int32_t right = shift - static_cast<int32_t>(p.random.sr_bits);
    const uint32_t r = right > 0 ? rem >> Min32(right, 31) : rem << Max32(-right, 0);
    const uint32_t u = p.random.sr_bits == 32 ? random : random >> (32 - p.random.sr_bits);
    const uint32_t sum = r + u;
    up = p.random.sr_bits == 32 ? sum < u : (sum >> p.random.sr_bits) != 0;
  } else {
    up = inexact && (random >> 31) != 0;
  }
  return Rounded{kept + (up ? 1u : 0u), inexact};
}

FS_HD constexpr bool IsNanCodeP(const EncodePlan& p, uint32_t code) {
  const uint32_t mag = code & ~p.layout.sign_bit;
  switch (p.layout.nan_codes) {
    case NanCodes::kNone: return false;
    case NanCodes::kIeee:
      return (mag >> p.layout.mantissa_bits) == p.layout.max_exponent_field &&
             (mag & ((1u << p.layout.mantissa_bits) - 1)) != 0;
    case NanCodes::kAllOnes: return mag == p.layout.magnitude_mask;
    case NanCodes::kNegativeZero: return code == p.layout.sign_bit;
  }
  return false;
}

FS_HD constexpr int BitLength32(uint32_t x) { return detail::BitLength(x); }

}  // namespace fast_detail

// float32 bits -> code of the plan's format (the core's code, unshifted).
// `random`: the element's 32 random bits in the stochastic modes, i.e.
// StochasticBits(seed, index) (the kernels take them from one call per
// four elements, cuda/stochastic.h); ignored otherwise.
template <Rounding kMode>
FS_HD constexpr uint32_t FastEncode(const EncodePlan& p, uint32_t bits, uint32_t random) {
  using namespace fast_detail;
  const uint32_t sign = bits >> 31;
  const bool neg = sign != 0;
  const uint32_t abs = bits & 0x7fffffffu;
  const uint32_t ef = abs >> 23;
  const uint32_t mant = abs & 0x7fffffu;
  const bool is_nan = abs > 0x7f800000u;
  const bool is_inf = abs == 0x7f800000u;
  const bool ef_zero = ef == 0;
  const bool is_zero = abs == 0 || (p.rounding.flush_input && ef_zero);

  // 1. The exact value sig * 2^exp; E = exponent of its top bit.
  const uint32_t sig = ef_zero ? mant : (mant | 0x800000u);
  const int32_t exp = ef_zero ? -149 : static_cast<int32_t>(ef) - 150;
  const int32_t mant_log2 = mant ? BitLength32(mant) - 1 : -127;
  const int32_t E = ef_zero ? -149 + mant_log2 : static_cast<int32_t>(ef) - 127;

  if (p.layout.is_int) {
    const bool big = exp > -1;
    const Rounded r = Round<kMode>(p, sig, Max32(-exp, 1), neg, random, false, 0);
    const uint32_t limit = neg ? p.layout.int_most_negative : p.layout.max_magnitude;
    const bool out_of_range = big || r.kept > limit;
    const uint32_t big_low = sig << Min32(Max32(exp, 0), 31);
    const uint32_t magnitude = big ? big_low : r.kept;
    const uint32_t twos = (neg ? 0u - magnitude : magnitude) & p.layout.code_mask;
    const uint32_t clamp = neg ? (0u - p.layout.int_most_negative) & p.layout.code_mask : p.layout.max_magnitude;
    uint32_t code = out_of_range ? (p.rounding.int_wraps ? twos : clamp) : twos;
    if (is_zero) code = p.special.zero.code[sign];
    if (is_inf) code = p.special.inf.code[sign];
    if (is_nan) code = p.special.nan_quiet.code[0];
    return code;
  }

  // 2. The quantum q.
  const bool normal = E > p.layout.emin - 1;
  const int32_t q_low = p.layout.has_subnormals ? p.layout.emin - p.layout.mantissa_bits : p.layout.emin;
  const int32_t q = normal ? E - p.layout.mantissa_bits : q_low;

  // 3. Round; with no mantissa bits the parity is the exponent field's.
  const bool p1 = p.layout.mantissa_bits == 0 && p.rounding.p1_even_code;
  const uint32_t odd_value = static_cast<uint32_t>(q + p.layout.bias) & 1u;
  const Rounded r = Round<kMode>(p, sig, q - exp, neg, random, p1 && normal, odd_value);
  uint32_t kept = r.kept;

  // 4. Tininess (for flush-to-zero).
  bool tiny = E < p.layout.emin;
  if (p.rounding.tiny_after_rounding && p.rounding.flush_output) {
    const int32_t q2 = E - p.layout.mantissa_bits;
    const uint32_t odd2 = static_cast<uint32_t>(q2 + p.layout.bias) & 1u;
    const Rounded wide = Round<kMode>(p, sig, Max32(q2 - exp, 1), neg, random, p1, odd2);
    if (E == p.layout.emin - 1 && wide.kept == (2u << p.layout.mantissa_bits)) tiny = false;
  }

  // 5. Encode kept * 2^q.
  uint32_t mag = 0;
  const uint32_t field_base = static_cast<uint32_t>(q + p.layout.mantissa_bits + p.layout.bias);
  if (p.layout.has_subnormals) {
    mag = (field_base << p.layout.mantissa_bits) + kept - (1u << p.layout.mantissa_bits);
  } else {
    if (!p.layout.has_zero && !normal && kept == 0) kept = 1;
    const uint32_t normal_mag = (field_base << p.layout.mantissa_bits) + kept - (1u << p.layout.mantissa_bits);
    const uint32_t gap_mag =
        kept != 0 ? static_cast<uint32_t>(p.layout.emin + p.layout.bias) << p.layout.mantissa_bits : 0u;
    mag = normal ? normal_mag : gap_mag;
  }

  // 6./7. Overflow, flush-to-zero, specials.
  const bool ovf = mag > p.layout.max_magnitude;
  uint32_t code = mag | (neg ? p.layout.sign_bit : 0u);
  if (p.layout.has_zero) {
    const bool tiny_nonzero = tiny && mag != 0;
    if (p.rounding.flush_output && tiny_nonzero) code = p.layout.has_negative_zero && neg ? p.layout.sign_bit : 0u;
    if (!p.layout.has_negative_zero && (code & ~p.layout.sign_bit) == 0) code = 0;
  }
  if (ovf) code = p.special.overflow.code[sign];
  // Negatives into an unsigned format: the core gives code 0 (or NaN with no
  // zero) whether they round to zero or clamp; only its flags tell them apart.
  if (!p.layout.is_signed && neg && !is_nan) code = p.special.negative.code[sign];
  if (is_zero) code = p.special.zero.code[sign];
  if (is_inf) code = p.special.inf.code[sign];
  if (is_nan) {
    if (p.special.nan_from_payload) {
      code = p.special.nan_base | (mant >> (23 - p.layout.mantissa_bits)) | (neg ? p.layout.sign_bit : 0u);
    } else {
      const bool quiet = (mant & 0x400000u) != 0;
      code = quiet ? p.special.nan_quiet.code[sign] : p.special.nan_signaling.code[sign];
    }
  }
  return code;
}

// code -> float32 bits (DecodeLanes; exact for every format the plan covers).
FS_HD constexpr uint32_t FastDecode(const EncodePlan& p, uint32_t code) {
  using namespace fast_detail;
  if (p.layout.is_int) {
    uint32_t v = code;
    if (p.layout.is_signed) v = (code ^ p.layout.sign_bit) - p.layout.sign_bit;
    return BitsOf(static_cast<float>(static_cast<int32_t>(v)));
  }
  const bool neg = (code & p.layout.sign_bit) != 0;
  const uint32_t sign = neg ? 0x80000000u : 0u;
  const uint32_t mag = code & ~p.layout.sign_bit;
  const uint32_t field = mag >> p.layout.mantissa_bits;
  const uint32_t mant = mag & ((1u << p.layout.mantissa_bits) - 1);
  const bool sub = p.layout.has_zero && field == 0;
  uint32_t sig = sub ? (p.layout.has_subnormals ? mant : 0u) : (mant | (1u << p.layout.mantissa_bits));
  if (p.decode.flush_subnormals && sub) sig = 0;
  const int32_t k = sub ? p.layout.emin - p.layout.mantissa_bits
                        : static_cast<int32_t>(field) - (p.layout.bias + p.layout.mantissa_bits);
  const uint32_t scale = k > -127 ? static_cast<uint32_t>(k + 127) << 23 : 1u << Max32(k + 149, 0);
  const float value = static_cast<float>(static_cast<int32_t>(sig)) * F32FromBits(scale);
  uint32_t bits = BitsOf(value) | sign;
  bool is_inf = false;
  switch (p.layout.inf_codes) {
    case InfCodes::kNone: break;
    case InfCodes::kIeee: is_inf = field == p.layout.max_exponent_field && mant == 0; break;
    case InfCodes::kMaxCode: is_inf = mag == p.layout.inf_magnitude; break;
  }
  if (is_inf) bits = p.decode.inf_bits[neg ? 1 : 0];
  if (IsNanCodeP(p, code))
    bits = p.decode.keep_nan_payload ? (sign | 0x7fc00000u | (mant << (23 - p.layout.mantissa_bits)))
                                     : p.decode.nan_bits[neg ? 1 : 0];
  return bits;
}

}  // namespace floatscope::gpu
