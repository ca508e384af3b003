// The fast per-element conversion of the CUDA kernels: emulate/simd's
// EncodeLanes/DecodeLanes (emulate/simd/convert-inl.h) written for one
// float32 at a time, in 32-bit integer operations only, driven by the same
// EncodePlan (emulate/simd/encode_plan.h), whose special results (zeros,
// infinities, overflow, NaNs, negatives into unsigned formats) come from the
// scalar core. It covers the formats SimdSupports() accepts, every rounding
// mode. The general path (cuda/kernels.cu, variant "core") calls the core
// itself; `floatscope gpu-verify --exhaustive` proves both equal to the core
// on all 2^32 float32 inputs (cuda/RESULTS.md).
#pragma once

#include <cstdint>

#include "emulate/simd/encode_plan.h"

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
FS_HD constexpr Rounded Round(const simd::EncodePlan& p, uint32_t sig, int32_t shift, bool negative,
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
    const int32_t right = shift - static_cast<int32_t>(p.sr_bits);
    const uint32_t r = right > 0 ? rem >> Min32(right, 31) : rem << Max32(-right, 0);
    const uint32_t u = p.sr_bits == 32 ? random : random >> (32 - p.sr_bits);
    const uint32_t sum = r + u;
    up = p.sr_bits == 32 ? sum < u : (sum >> p.sr_bits) != 0;
  } else {
    up = inexact && (random >> 31) != 0;
  }
  return Rounded{kept + (up ? 1u : 0u), inexact};
}

FS_HD constexpr bool IsNanCodeP(const simd::EncodePlan& p, uint32_t code) {
  const uint32_t mag = code & ~p.sign_bit;
  switch (p.nan_kind) {
    case NanCodes::kNone: return false;
    case NanCodes::kIeee: return (mag >> p.m) == p.max_field && (mag & ((1u << p.m) - 1)) != 0;
    case NanCodes::kAllOnes: return mag == p.mag_mask;
    case NanCodes::kNegativeZero: return code == p.sign_bit;
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
FS_HD constexpr uint32_t FastEncode(const simd::EncodePlan& p, uint32_t bits, uint32_t random) {
  using namespace fast_detail;
  const uint32_t sign = bits >> 31;
  const bool neg = sign != 0;
  const uint32_t abs = bits & 0x7fffffffu;
  const uint32_t ef = abs >> 23;
  const uint32_t mant = abs & 0x7fffffu;
  const bool is_nan = abs > 0x7f800000u;
  const bool is_inf = abs == 0x7f800000u;
  const bool ef_zero = ef == 0;
  const bool is_zero = abs == 0 || (p.flush_in && ef_zero);

  // 1. The exact value sig * 2^exp; E = exponent of its top bit.
  const uint32_t sig = ef_zero ? mant : (mant | 0x800000u);
  const int32_t exp = ef_zero ? -149 : static_cast<int32_t>(ef) - 150;
  const int32_t mant_log2 = mant ? BitLength32(mant) - 1 : -127;
  const int32_t E = ef_zero ? -149 + mant_log2 : static_cast<int32_t>(ef) - 127;

  if (p.is_int) {
    const bool big = exp > -1;
    const Rounded r = Round<kMode>(p, sig, Max32(-exp, 1), neg, random, false, 0);
    const uint32_t limit = neg ? p.int_max_neg : p.max_mag;
    const bool out_of_range = big || r.kept > limit;
    const uint32_t big_low = sig << Min32(Max32(exp, 0), 31);
    const uint32_t magnitude = big ? big_low : r.kept;
    const uint32_t twos = (neg ? 0u - magnitude : magnitude) & p.code_mask;
    const uint32_t clamp = neg ? (0u - p.int_max_neg) & p.code_mask : p.max_mag;
    uint32_t code = out_of_range ? (p.int_wrap ? twos : clamp) : twos;
    if (is_zero) code = p.zero.code[sign];
    if (is_inf) code = p.inf.code[sign];
    if (is_nan) code = p.nan_quiet.code[0];
    return code;
  }

  // 2. The quantum q.
  const bool normal = E > p.emin - 1;
  const int32_t q_low = p.has_sub ? p.emin - p.m : p.emin;
  const int32_t q = normal ? E - p.m : q_low;

  // 3. Round; with no mantissa bits the parity is the exponent field's.
  const bool p1 = p.m == 0 && p.p1_even_code;
  const uint32_t odd_value = static_cast<uint32_t>(q + p.bias) & 1u;
  const Rounded r = Round<kMode>(p, sig, q - exp, neg, random, p1 && normal, odd_value);
  uint32_t kept = r.kept;

  // 4. Tininess (for flush-to-zero).
  bool tiny = E < p.emin;
  if (p.tiny_after && p.flush_out) {
    const int32_t q2 = E - p.m;
    const uint32_t odd2 = static_cast<uint32_t>(q2 + p.bias) & 1u;
    const Rounded wide = Round<kMode>(p, sig, Max32(q2 - exp, 1), neg, random, p1, odd2);
    if (E == p.emin - 1 && wide.kept == (2u << p.m)) tiny = false;
  }

  // 5. Encode kept * 2^q.
  uint32_t mag = 0;
  const uint32_t field_base = static_cast<uint32_t>(q + p.m + p.bias);
  if (p.has_sub) {
    mag = (field_base << p.m) + kept - (1u << p.m);
  } else {
    if (!p.has_zero && !normal && kept == 0) kept = 1;
    const uint32_t normal_mag = (field_base << p.m) + kept - (1u << p.m);
    const uint32_t gap_mag = kept != 0 ? static_cast<uint32_t>(p.emin + p.bias) << p.m : 0u;
    mag = normal ? normal_mag : gap_mag;
  }

  // 6./7. Overflow, flush-to-zero, specials.
  const bool ovf = mag > p.max_mag;
  uint32_t code = mag | (neg ? p.sign_bit : 0u);
  if (p.has_zero) {
    const bool tiny_nonzero = tiny && mag != 0;
    if (p.flush_out && tiny_nonzero) code = p.neg_zero && neg ? p.sign_bit : 0u;
    if (!p.neg_zero && (code & ~p.sign_bit) == 0) code = 0;
  }
  if (ovf) code = p.overflow.code[sign];
  // Negatives into an unsigned format: the core gives code 0 (or NaN with no
  // zero) whether they round to zero or clamp; only its flags tell them apart.
  if (!p.is_signed && neg && !is_nan) code = p.negative.code[sign];
  if (is_zero) code = p.zero.code[sign];
  if (is_inf) code = p.inf.code[sign];
  if (is_nan) {
    if (p.nan_from_payload) {
      code = p.nan_base | (mant >> (23 - p.m)) | (neg ? p.sign_bit : 0u);
    } else {
      const bool quiet = (mant & 0x400000u) != 0;
      code = quiet ? p.nan_quiet.code[sign] : p.nan_signaling.code[sign];
    }
  }
  return code;
}

// code -> float32 bits (DecodeLanes; exact for every format the plan covers).
FS_HD constexpr uint32_t FastDecode(const simd::EncodePlan& p, uint32_t code) {
  using namespace fast_detail;
  if (p.is_int) {
    uint32_t v = code;
    if (p.is_signed) v = (code ^ p.sign_bit) - p.sign_bit;
    return BitsOf(static_cast<float>(static_cast<int32_t>(v)));
  }
  const bool neg = (code & p.sign_bit) != 0;
  const uint32_t sign = neg ? 0x80000000u : 0u;
  const uint32_t mag = code & ~p.sign_bit;
  const uint32_t field = mag >> p.m;
  const uint32_t mant = mag & ((1u << p.m) - 1);
  const bool sub = p.has_zero && field == 0;
  uint32_t sig = sub ? (p.has_sub ? mant : 0u) : (mant | (1u << p.m));
  if (p.decode_flush && sub) sig = 0;
  const int32_t k = sub ? p.emin - p.m : static_cast<int32_t>(field) - (p.bias + p.m);
  const uint32_t scale = k > -127 ? static_cast<uint32_t>(k + 127) << 23 : 1u << Max32(k + 149, 0);
  const float value = static_cast<float>(static_cast<int32_t>(sig)) * F32FromBits(scale);
  uint32_t bits = BitsOf(value) | sign;
  bool is_inf = false;
  switch (p.inf_kind) {
    case InfCodes::kNone: break;
    case InfCodes::kIeee: is_inf = field == p.max_field && mant == 0; break;
    case InfCodes::kMaxCode: is_inf = mag == p.inf_mag; break;
  }
  if (is_inf) bits = p.dec_inf[neg ? 1 : 0];
  if (IsNanCodeP(p, code))
    bits = p.decode_nan_payload ? (sign | 0x7fc00000u | (mant << (23 - p.m))) : p.dec_nan[neg ? 1 : 0];
  return bits;
}

}  // namespace floatscope::gpu
