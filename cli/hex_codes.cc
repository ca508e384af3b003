#include "cli/hex_codes.h"

#include <fmt/format.h>

#include <cctype>

#include "cli/cli_error.h"
#include "cli/quoted.h"

namespace floatscope::cli {

bool ParseHexCode(std::string_view text, const Format& f, uint64_t* code, std::string* why) {
  const int max_digits = HexDigits(f);
  if (text.empty()) {
    *why = "empty operand";
    return false;
  }
  // Characters first, so "3c00<NUL>" is reported as malformed, not long.
  uint64_t v = 0;
  for (char c : text) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else {
      *why = fmt::format("malformed hex {}", Quoted(text));
      return false;
    }
    v = (v << 4) | static_cast<uint64_t>(d);  // wraps past 16 digits; rejected just below
  }
  if (static_cast<int>(text.size()) > max_digits) {
    *why = fmt::format("{} has more than {} hex digits for {}", Quoted(text), max_digits, f.name);
    return false;
  }
  const uint64_t low_mask = (uint64_t{1} << f.storage_shift) - 1;
  if (v & low_mask) {
    *why = fmt::format("{} is not a {} code: its low {} bits must be zero", Quoted(text), f.name,
                       f.storage_shift);
    return false;
  }
  v >>= f.storage_shift;
  if (v & ~CodeMask(f)) {
    *why = fmt::format("{} is out of range for {} ({} bits)", Quoted(text), f.name, f.bits);
    return false;
  }
  *code = v;
  return true;
}

bool LineReader::Next(std::vector<std::string>* tokens) {
  std::string line;
  std::streambuf* buf = in.rdbuf();
  int c = buf->sbumpc();
  if (c == std::char_traits<char>::eof()) return false;
  ++number;
  for (; c != std::char_traits<char>::eof() && c != '\n'; c = buf->sbumpc()) {
    if (line.size() == kMaxLineLength + 1)
      throw UsageError(fmt::format("line {}: longer than {} characters", number, kMaxLineLength));
    line += static_cast<char>(c);
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.size() > kMaxLineLength)
    throw UsageError(fmt::format("line {}: longer than {} characters", number, kMaxLineLength));
  tokens->clear();
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    const size_t start = i;
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i > start) tokens->emplace_back(line, start, i - start);
  }
  return true;
}

std::string FormatHexCode(uint64_t code, const Format& f) {
  return fmt::format("{:0{}x}", code << f.storage_shift, HexDigits(f));
}

}  // namespace floatscope::cli
