// Codes as TestFloat writes them: hex of the format's storage width.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include "formats/format.h"

namespace floatscope::cli {

// Number of hex digits of a format's storage word (f16: 4, FP8/FP6/FP4: 2).
inline int HexDigits(const Format& f) { return (f.storage_bits + 3) / 4; }

// Parses one operand; on failure returns false and says why in *why.
bool ParseHexCode(std::string_view text, const Format& f, uint64_t* code, std::string* why);

// Formats a code zero-padded to the storage width, lower case.
std::string FormatHexCode(uint64_t code, const Format& f);

// The lines of eval and verify input: at most kMaxLineLength characters
// (a trailing '\r' aside), read so that no line grows past that (eval <
// /dev/zero fails at once), split at whitespace.
inline constexpr size_t kMaxLineLength = 4096;

struct LineReader {
  std::istream& in;
  uint64_t number = 0;  // of the line last read, from 1
  // Reads the next line into `tokens`; false at end of input. Throws
  // UsageError for a line that is too long.
  bool Next(std::vector<std::string>* tokens);
};

}  // namespace floatscope::cli
