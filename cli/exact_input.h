// Reading a decimal or hex-float string as an exact value, through MPFR:
// "0.1" is rounded into a format once, from the exact decimal, not through
// a float64 on the way (which would round twice).
#pragma once

#include <string>

#include "formats/round_pack.h"

namespace floatscope::cli {

// Parses "0.1", "-3e-5", "0x1.8p3", "inf", "-inf", "nan". The result holds
// the value truncated to 64 significant bits with a sticky bit for the rest,
// which RoundPack rounds exactly as it would the exact value. Throws
// UsageError on malformed text.
Unpacked ParseExactValue(const std::string& text);

// (exact value of `text`) - (value of `approx`) and that divided by the
// exact value, as decimal strings with `digits` significant digits.
struct ErrorText {
  std::string abs, rel;
};
ErrorText ErrorOf(const std::string& text, double approx, int digits = 6);

// Compares |exact - a| and |exact - b|: -1, 0 (tie), +1.
int CompareDistances(const std::string& text, double a, double b);

}  // namespace floatscope::cli
