// Rounding modes, overflow/subnormal policies, and the IEEE exception flags.
// Policies are passed explicitly and flags are returned: there is no global
// state, so every SIMD lane and GPU thread can use its own.
#pragma once

#include <cstdint>

#include "formats/format.h"

namespace floatscope {

enum class Rounding : uint8_t {
  kNearestEven,  // rne   [near_even]
  kNearestAway,  // rna   [near_maxMag]
  kTowardZero,   // rtz   [minMag]
  kDown,         // rdn   [min]
  kUp,           // rup   [max]
  kOdd,          // rto   [odd]: truncate, then set the last bit if inexact
  kStochastic,   // sr    round up with probability = distance fraction
  kStochasticEq, // sr-eq round up with probability 1/2 when inexact
};

FS_HD constexpr bool IsStochastic(Rounding r) {
  return r == Rounding::kStochastic || r == Rounding::kStochasticEq;
}

enum class Tininess : uint8_t { kAfterRounding, kBeforeRounding };

// What becomes of a NaN converted into a format.
enum class NanPayload : uint8_t {
  kPreserve,   // keep the sign and the leading payload bits, set the quiet
               // bit (IEEE 754 6.2.3; what x86 F16C and SoftFloat do)
  kCanonical,  // keep the sign, drop the payload (ml_dtypes)
  kAllOnes,    // always the positive all-ones magnitude: 0x7F, 0x7FFF,
               // 0x7FFFFFFF (NVIDIA's cvt instructions)
};

// What a NaN becomes in a format that has no NaN (FP6, FP4, integers).
// The OCP MX spec leaves this to the implementation.
enum class NanToNoNan : uint8_t {
  kZero,              // +0 (integers always give 0)
  kZeroOppositeSign,  // zero with the NaN's sign flipped: ml_dtypes' result
  kMaxFinite,         // +max finite
};

// How a tie is broken by rne when the format has no mantissa bits
// (e8m0fnu, binary8p1): every significand is 1, so IEEE 754's "even
// significand" says nothing.
enum class TieRuleP1 : uint8_t {
  kEvenCode,  // the neighbour whose code is even (even exponent field)
  kAway,      // the larger magnitude (ml_dtypes' e8m0fnu)
};

// TestFloat's flag bits.
enum Flag : uint8_t {
  kInexact = 1,
  kUnderflow = 2,
  kOverflow = 4,
  kInfinite = 8,  // divide by zero
  kInvalid = 16,
};

struct Options {
  Rounding rounding = Rounding::kNearestEven;
  Overflow overflow = Overflow::kDefault;
  bool flush_input = false;   // treat subnormal inputs as zero (DAZ)
  bool flush_output = false;  // replace tiny results by zero (FTZ)
  Tininess tininess = Tininess::kAfterRounding;
  uint64_t seed = 0;    // stochastic rounding: Philox key
  uint8_t sr_bits = 32; // stochastic rounding: random bits compared, 1..32
  NanPayload nan_payload = NanPayload::kPreserve;
  NanToNoNan nan_to_no_nan = NanToNoNan::kZero;
  TieRuleP1 tie_rule_p1 = TieRuleP1::kEvenCode;
};

FS_HD constexpr Overflow EffectiveOverflow(const Format& f, Overflow o) {
  return o == Overflow::kDefault ? f.default_overflow : o;
}

// A converted code with the flags it raised.
struct Result {
  uint64_t code;
  uint8_t flags;
};

}  // namespace floatscope
