// The host's floating-point environment as an oracle: its exception flags
// in floatscope's bit values, and float/double from bit patterns.
#pragma once

#include <cfenv>
#include <cstdint>

#include "formats/convert.h"

namespace floatscope::arith_test {

// fetestexcept() bits -> floatscope's IEEE flags (TestFloat's values).
inline uint8_t FlagsFromHost(int e) {
  uint8_t f = 0;
  if (e & FE_INEXACT) f |= kInexact;
  if (e & FE_UNDERFLOW) f |= kUnderflow;
  if (e & FE_OVERFLOW) f |= kOverflow;
  if (e & FE_DIVBYZERO) f |= kInfinite;
  if (e & FE_INVALID) f |= kInvalid;
  return f;
}

template <typename T>
T FromBits(uint64_t x) {
  if constexpr (sizeof(T) == 4) return F32FromBits(static_cast<uint32_t>(x));
  else return F64FromBits(x);
}

}  // namespace floatscope::arith_test
