// The format descriptor: everything the rounding core needs to know about a
// number format, as plain data. Limits (max, min normal, ...) are derived
// from the fields by constexpr functions, never written by hand, and the
// catalog pins them against the published tables with static_asserts.
#pragma once

#include <cstdint>

#include "formats/host_device.h"

namespace floatscope {

enum class Kind : uint8_t {
  kFloat,    // sign / exponent / mantissa
  kInteger,  // two's complement (signed) or plain binary (unsigned)
};

// Which codes are NaN.
enum class NanCodes : uint8_t {
  kNone,          // no NaN at all (FP6, FP4, integers)
  kIeee,          // exponent field all ones, mantissa != 0 (f16, e5m2, ...)
  kAllOnes,       // only the all-ones magnitude: S.1111.111 (e4m3fn), 0xFF (e8m0fnu)
  kNegativeZero,  // the single code 1.000..0, where -0 would be (fnuz, P3109)
};

// Which codes are infinite.
enum class InfCodes : uint8_t {
  kNone,     // no infinities
  kIeee,     // exponent field all ones, mantissa 0
  kMaxCode,  // the largest magnitude that is not NaN (IEEE P3109): the
             // all-ones magnitude 0x7F / 0xFF in signed formats, the code
             // just below the all-ones NaN (0xFE) in unsigned ones
};

// What a finite result too large for the format becomes.
enum class Overflow : uint8_t {
  kDefault,   // the format's documented default (Format::default_overflow)
  kIeee,      // IEEE 754: infinity or max finite depending on the rounding
              // direction; a format without infinities gives NaN instead of
              // infinity, and one without NaN either gives max finite
  kSaturate,  // clamp to +-max finite (OCP "satfinite"); infinities too
  kNan,       // NaN (formats that have one)
  kWrap,      // integers only: keep the low bits (two's complement wrap, as
              // C casts through a wider integer do; ml_dtypes' int4/uint4)
};

struct Format {
  const char* name;
  Kind kind;
  uint8_t bits;          // width of one code
  uint8_t storage_bits;  // width of the hex text in eval/verify (tf32: 32)
  // Unsigned floats: a negative input that does not round to zero has no
  // code. Without a zero (e8m0fnu) it becomes NaN, as the OCP MX scale's
  // users expect; with one (IEEE P3109 binaryKpPu*) it clamps to +0, the
  // format's lowest value, as P3109's Saturate does; both raise invalid.
  bool is_signed;
  uint8_t exponent_bits;
  uint8_t mantissa_bits;  // stored fraction bits (precision p = mantissa_bits + 1)
  int32_t bias;
  InfCodes inf;
  NanCodes nan;
  bool has_subnormals;  // exponent field 0 holds 0.m * 2^(1-bias)
  bool has_zero;        // false only for scale formats like e8m0fnu, whose
                        // exponent field 0 is an ordinary binade
  Overflow default_overflow;
  const char* source;  // where the definition comes from
  // Codes sit this many bits up in their storage word: 13 for tf32, which
  // lives in a float32 register with its low 13 bits zero; 0 otherwise.
  uint8_t storage_shift = 0;
};

// ---- derived properties ---------------------------------------------------

FS_HD constexpr bool IsFloat(const Format& f) { return f.kind == Kind::kFloat; }

// Whether two descriptors have the same codes and values (names, sources
// and default overflow policies aside): a kernel specialised for one
// format runs the other.
FS_HD constexpr bool SameArithmetic(const Format& a, const Format& b) {
  return a.kind == b.kind && a.bits == b.bits && a.is_signed == b.is_signed && a.exponent_bits == b.exponent_bits &&
         a.mantissa_bits == b.mantissa_bits && a.bias == b.bias && a.inf == b.inf && a.nan == b.nan &&
         a.has_subnormals == b.has_subnormals && a.has_zero == b.has_zero && a.storage_shift == b.storage_shift;
}

FS_HD constexpr uint64_t CodeMask(const Format& f) {
  return f.bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << f.bits) - 1;
}

FS_HD constexpr uint64_t SignBit(const Format& f) {
  return f.is_signed ? uint64_t{1} << (f.bits - 1) : 0;
}

// Mask of the magnitude bits (everything but the sign).
FS_HD constexpr uint64_t MagnitudeMask(const Format& f) { return CodeMask(f) & ~SignBit(f); }

FS_HD constexpr uint64_t MantissaMask(const Format& f) {
  return (uint64_t{1} << f.mantissa_bits) - 1;
}

FS_HD constexpr uint32_t MaxExponentField(const Format& f) {
  return (uint32_t{1} << f.exponent_bits) - 1;
}

// Unbiased exponent of the smallest normal binade.
FS_HD constexpr int32_t MinNormalExponent(const Format& f) {
  return (f.has_zero ? 1 : 0) - f.bias;
}

FS_HD constexpr bool HasNegativeZero(const Format& f) {
  return IsFloat(f) && f.is_signed && f.has_zero && f.nan != NanCodes::kNegativeZero;
}

FS_HD constexpr bool HasInf(const Format& f) { return f.inf != InfCodes::kNone; }
FS_HD constexpr bool HasNan(const Format& f) { return f.nan != NanCodes::kNone; }

FS_HD constexpr uint64_t ExponentFieldOf(const Format& f, uint64_t code) {
  return (code & MagnitudeMask(f)) >> f.mantissa_bits;
}

FS_HD constexpr bool IsNanCode(const Format& f, uint64_t code) {
  const uint64_t mag = code & MagnitudeMask(f);
  switch (f.nan) {
    case NanCodes::kNone: return false;
    case NanCodes::kIeee:
      return ExponentFieldOf(f, code) == MaxExponentField(f) && (mag & MantissaMask(f)) != 0;
    case NanCodes::kAllOnes: return mag == MagnitudeMask(f);
    case NanCodes::kNegativeZero: return (code & CodeMask(f)) == SignBit(f);
  }
  return false;
}

// Magnitude of the infinity of an InfCodes::kMaxCode format: the all-ones
// magnitude, or the one below it where that one is the NaN.
FS_HD constexpr uint64_t MaxCodeInfMagnitude(const Format& f) {
  return MagnitudeMask(f) - (f.nan == NanCodes::kAllOnes ? 1 : 0);
}

FS_HD constexpr bool IsInfCode(const Format& f, uint64_t code) {
  const uint64_t mag = code & MagnitudeMask(f);
  switch (f.inf) {
    case InfCodes::kNone: return false;
    case InfCodes::kIeee: return mag == (uint64_t{MaxExponentField(f)} << f.mantissa_bits);
    case InfCodes::kMaxCode: return mag == MaxCodeInfMagnitude(f);
  }
  return false;
}

// Magnitude bits of the largest finite value.
FS_HD constexpr uint64_t MaxFiniteMagnitude(const Format& f) {
  if (!IsFloat(f)) return f.is_signed ? MagnitudeMask(f) : CodeMask(f);
  if (f.nan == NanCodes::kIeee || f.inf == InfCodes::kIeee)
    return (uint64_t{MaxExponentField(f) - 1} << f.mantissa_bits) | MantissaMask(f);
  if (f.inf == InfCodes::kMaxCode) return MaxCodeInfMagnitude(f) - 1;
  if (f.nan == NanCodes::kAllOnes) return MagnitudeMask(f) - 1;
  return MagnitudeMask(f);
}

// The positive NaN code (for a format with NaN), quiet where that matters.
FS_HD constexpr uint64_t CanonicalNanCode(const Format& f) {
  switch (f.nan) {
    case NanCodes::kIeee:
      return (uint64_t{MaxExponentField(f)} << f.mantissa_bits) |
             (uint64_t{1} << (f.mantissa_bits - 1));
    case NanCodes::kAllOnes: return MagnitudeMask(f);
    case NanCodes::kNegativeZero: return SignBit(f);
    case NanCodes::kNone: return 0;
  }
  return 0;
}

FS_HD constexpr uint64_t PositiveInfCode(const Format& f) {
  return f.inf == InfCodes::kIeee ? uint64_t{MaxExponentField(f)} << f.mantissa_bits
                                  : MaxCodeInfMagnitude(f);
}

// Exact powers of two as doubles, without libm (so it works in constexpr
// and device code). Valid for -1074 <= e <= 1023.
FS_HD constexpr double Pow2(int e) {
  double r = 1.0;
  if (e >= 0) {
    for (int i = 0; i < e; ++i) r *= 2.0;
  } else {
    // Stop at 2^-1022 before going subnormal so every step is exact.
    int i = 0;
    for (; i < -e && i < 1022; ++i) r *= 0.5;
    for (; i < -e; ++i) r *= 0.5;
  }
  return r;
}

// Value of a finite positive magnitude code, for limits and tables (the
// rounding core itself never goes through double).
FS_HD constexpr double MagnitudeValue(const Format& f, uint64_t mag) {
  if (!IsFloat(f)) return static_cast<double>(mag);
  const uint64_t field = mag >> f.mantissa_bits;
  const uint64_t mant = mag & MantissaMask(f);
  if (field == 0 && f.has_zero) {
    if (!f.has_subnormals) return 0.0;
    return static_cast<double>(mant) * Pow2(MinNormalExponent(f) - f.mantissa_bits);
  }
  const double sig = static_cast<double>((uint64_t{1} << f.mantissa_bits) | mant);
  return sig * Pow2(static_cast<int>(field) - f.bias - f.mantissa_bits);
}

FS_HD constexpr double MaxFinite(const Format& f) { return MagnitudeValue(f, MaxFiniteMagnitude(f)); }

// Smallest positive normal value (for integers: 1).
FS_HD constexpr double MinNormal(const Format& f) {
  if (!IsFloat(f)) return 1.0;
  return Pow2(MinNormalExponent(f));
}

// Smallest positive value; equals MinNormal when there are no subnormals.
FS_HD constexpr double MinPositive(const Format& f) {
  if (!IsFloat(f)) return 1.0;
  if (f.has_subnormals && f.has_zero && f.mantissa_bits > 0)
    return Pow2(MinNormalExponent(f) - f.mantissa_bits);
  return MinNormal(f);
}

// Distance from 1 to the next larger value (2^-mantissa_bits).
FS_HD constexpr double Epsilon(const Format& f) {
  return IsFloat(f) ? Pow2(-static_cast<int>(f.mantissa_bits)) : 1.0;
}

}  // namespace floatscope
