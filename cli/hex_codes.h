// Codes as TestFloat writes them: hex of the format's storage width.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "formats/format.h"

namespace floatscope::cli {

// Number of hex digits of a format's storage word (f16: 4, FP8/FP6/FP4: 2).
inline int HexDigits(const Format& f) { return (f.storage_bits + 3) / 4; }

// Parses one operand; on failure returns false and says why in *why.
bool ParseHexCode(std::string_view text, const Format& f, uint64_t* code, std::string* why);

// Formats a code zero-padded to the storage width, lower case.
std::string FormatHexCode(uint64_t code, const Format& f);

}  // namespace floatscope::cli
