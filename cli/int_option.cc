#include "cli/int_option.h"

#include <fmt/format.h>

#include <limits>

#include "cli/quoted.h"

namespace floatscope::cli {

namespace {

// Sign and magnitude of a plain decimal; nothing for anything else (empty,
// '+', spaces, hex, exponents, more than 2^64-1).
struct Decimal {
  bool negative = false;
  uint64_t magnitude = 0;
};

std::optional<Decimal> ParseDecimal(std::string_view text) {
  Decimal d;
  if (!text.empty() && text[0] == '-') {
    d.negative = true;
    text.remove_prefix(1);
  }
  if (text.empty()) return std::nullopt;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<uint64_t>(c - '0');
    if (d.magnitude > (std::numeric_limits<uint64_t>::max() - digit) / 10) return std::nullopt;
    d.magnitude = d.magnitude * 10 + digit;
  }
  return d;
}

std::string Complaint(std::string_view text, const std::string& lo, const std::string& hi) {
  return fmt::format("must be an integer from {} to {}, got {}", lo, hi, Quoted(text));
}

}  // namespace

std::optional<int64_t> ParseIntegerIn(std::string_view text, int64_t lo, int64_t hi) {
  const std::optional<Decimal> d = ParseDecimal(text);
  if (!d) return std::nullopt;
  constexpr uint64_t kMinMagnitude = uint64_t{1} << 63;  // |INT64_MIN|
  int64_t v = 0;
  if (d->negative) {
    if (d->magnitude > kMinMagnitude) return std::nullopt;
    v = d->magnitude == kMinMagnitude ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(d->magnitude);
  } else {
    if (d->magnitude > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    v = static_cast<int64_t>(d->magnitude);
  }
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

std::optional<uint64_t> ParseUnsignedIn(std::string_view text, uint64_t lo, uint64_t hi) {
  const std::optional<Decimal> d = ParseDecimal(text);
  if (!d || d->negative) return std::nullopt;
  if (d->magnitude < lo || d->magnitude > hi) return std::nullopt;
  return d->magnitude;
}

CLI::Validator IntegerIn(int64_t lo, int64_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) {
        return ParseIntegerIn(text, lo, hi) ? std::string() : Complaint(text, std::to_string(lo), std::to_string(hi));
      },
      fmt::format("INT in [{}, {}]", lo, hi));
}

CLI::Validator UnsignedIn(uint64_t lo, uint64_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) {
        return ParseUnsignedIn(text, lo, hi) ? std::string() : Complaint(text, std::to_string(lo), std::to_string(hi));
      },
      fmt::format("UINT in [{}, {}]", lo, hi));
}

}  // namespace floatscope::cli
