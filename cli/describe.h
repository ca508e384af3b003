// Human-readable descriptions of codes: fields, bits and value. Used by
// `explain`, `formats` and every mismatch report, so that a failure
// explains itself.
#pragma once

#include <cstdint>
#include <string>

#include "formats/format.h"

namespace floatscope::cli {

// "0 1111 110" for e4m3fn 0x7e: sign, exponent and mantissa fields.
std::string FieldBits(const Format& f, uint64_t code);

// The exact value of a code as text: "448", "-0", "inf", "nan", "0.001953125".
// Finite values are printed exactly (every binary fraction has a finite
// decimal expansion), so a student sees the true stored number.
std::string ExactValueText(const Format& f, uint64_t code);

// Short text like "1.75 x 2^8" or "0.5 x 2^-6 (subnormal)".
std::string ScientificText(const Format& f, uint64_t code);

// "7e [0 1111 110] = 448" : hex, fields, value.
std::string DescribeCode(const Format& f, uint64_t code);

// A double printed compactly with enough digits to be exact.
std::string NumberText(double x);

}  // namespace floatscope::cli
