// One way to fail: throw UsageError with one line; main() prints it as
// "floatscope: <line>" on stderr and exits with status 2.
#pragma once

#include <stdexcept>
#include <string>

namespace floatscope::cli {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace floatscope::cli
