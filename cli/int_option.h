// Integer options checked as text, before CLI11 converts them: CLI11 2.1
// reads "-1" into an unsigned option as 2^64-1, clamps 2^64 and beyond to
// the largest value, and reads '' as 0. IntegerIn(lo, hi) accepts only a
// plain decimal ("-" first where lo < 0, digits, nothing else) whose value
// lies in [lo, hi]; anything else is one ValidationError naming the option.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace floatscope::cli {

// The value of `text` if it is a plain decimal in [lo, hi], else nothing.
std::optional<int64_t> ParseIntegerIn(std::string_view text, int64_t lo, int64_t hi);
std::optional<uint64_t> ParseUnsignedIn(std::string_view text, uint64_t lo, uint64_t hi);

// CLI11 checks: "must be an integer from LO to HI, got '...'".
CLI::Validator IntegerIn(int64_t lo, int64_t hi);
CLI::Validator UnsignedIn(uint64_t lo, uint64_t hi);

}  // namespace floatscope::cli
