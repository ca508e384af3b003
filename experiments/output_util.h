// Small helpers the experiment programs share: atomic output files
// (experiments/atomic_file.h) and a human-readable duration for progress
// lines.
#pragma once

#include <fmt/format.h>

#include <cmath>
#include <string>

#include "experiments/atomic_file.h"

namespace floatscope::experiments {

// "42s" or "3m07s".
inline std::string Duration(double s) {
  if (s < 60) return fmt::format("{:.0f}s", s);
  return fmt::format("{:.0f}m{:02.0f}s", std::floor(s / 60), std::fmod(s, 60));
}

}  // namespace floatscope::experiments
