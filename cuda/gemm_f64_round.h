// The float64 GEMM kernel's common rounding (cuda/gemm_f64_kernel.cu),
// shared with the host test that holds it equal to the core's
// RoundNormalFast (tests/cuda/device_ops_host_test.cc).
//
// Each step of that kernel has a float64 x: the exact result, or its
// round-to-odd with at least two bits below the accumulator's last. Where
// x lies in the accumulator's normal range and the mode is deterministic,
// rounding x into the accumulator is an integer add on x's bit pattern and
// a mask: d = 52 - m low bits go, the add carrying into the exponent field
// when the significand rounds up to the next binade, and the result is a
// float64 again, the next step's operand, with no unpacking. That replaces
// the core's general steps (unpack, RoundNormalFast on a run-time format,
// repack) in nearly every step.
#pragma once

#include <cstdint>

#include "formats/convert.h"
#include "formats/format.h"
#include "formats/policy.h"

namespace floatscope::gpu {

// What the fast rounding needs of the accumulator format.
struct F64AccFields {
  bool ok = false;        // a signed float of at most 50 mantissa bits
  int32_t drop = 0;       // 52 - mantissa_bits: the float64 bits that go
  int32_t emin = 0;       // the smallest normal exponent
  double max_finite = 0;  // the largest finite value
};

FS_HD constexpr F64AccFields F64AccFieldsOf(const Format& acc) {
  F64AccFields f;
  f.ok = IsFloat(acc) && acc.is_signed && acc.mantissa_bits >= 1 && acc.mantissa_bits <= 50;
  if (!f.ok) return f;
  f.drop = 52 - acc.mantissa_bits;
  f.emin = MinNormalExponent(acc);
  f.max_finite = MaxFinite(acc);
  return f;
}

// x (finite) rounded into the accumulator under `mode` when both x and the
// result are normal values of it no larger than its largest finite one:
// the result as a float64 in `out`, whether it was inexact in `inexact`.
// False, with nothing written, for zeros, x or results outside that range,
// and the stochastic modes (their random bits are the core's to take).
FS_HD constexpr bool RoundF64Fast(const F64AccFields& f, double x, Rounding mode, double& out, bool& inexact) {
  const uint64_t bits = BitsOf(x);
  const uint64_t mag = bits & ~(uint64_t{1} << 63);
  const bool negative = (bits >> 63) != 0;
  if (!f.ok || static_cast<int32_t>(mag >> 52) - 1023 < f.emin) return false;  // zero, tiny (or subnormal)
  if (!(F64FromBits(mag) <= f.max_finite)) return false;
  const uint64_t mask = (uint64_t{1} << f.drop) - 1;
  const uint64_t low = mag & mask;
  uint64_t r = mag;
  switch (mode) {
    case Rounding::kNearestEven: r += (mask >> 1) + ((mag >> f.drop) & 1); break;
    case Rounding::kNearestAway: r += (mask >> 1) + 1; break;
    case Rounding::kTowardZero: break;
    case Rounding::kDown: r += negative ? mask : 0; break;
    case Rounding::kUp: r += negative ? 0 : mask; break;
    case Rounding::kOdd: r |= low != 0 ? mask + 1 : 0; break;
    default: return false;
  }
  r &= ~mask;
  const double v = F64FromBits(r);
  if (!(v <= f.max_finite)) return false;  // rounded past the largest finite: the core's overflow
  out = negative ? -v : v;
  inexact = low != 0;
  return true;
}

}  // namespace floatscope::gpu
