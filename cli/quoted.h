// Echoing user input back in an error line: quoted, with every byte that is
// not printable ASCII written as \xNN. A raw NUL would end the message early
// (what() is a C string) and an escape sequence would reach the terminal.
#pragma once

#include <string>
#include <string_view>

namespace floatscope::cli {

inline std::string Quoted(std::string_view text, size_t max_chars = 64) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  size_t shown = 0;
  for (const char ch : text) {
    if (shown++ == max_chars) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 32 && c < 127 && c != '\\' && c != '\'') {
      out += ch;
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out + "'";
}

}  // namespace floatscope::cli
