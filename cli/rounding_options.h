// The rounding options shared by eval, verify, explain and quantize:
// --round, --overflow, --subnormals, --tininess, --seed, --sr-bits, --compat.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "formats/compat.h"
#include "formats/format.h"
#include "formats/policy.h"

namespace floatscope::cli {

struct RoundingFlags {
  std::string round, overflow, subnormals = "keep", tininess = "after", compat = "none";
  uint64_t seed = 0;
  int sr_bits = 32;
};

// Declares the options on `cmd`, filling `flags`.
void AddRoundingOptions(CLI::App& cmd, RoundingFlags& flags);

// Turns the flags into Options for rounding into `dst`: the --compat preset
// first, explicit options on top. Throws UsageError on any bad value or a
// combination that cannot apply to `dst`.
Options ResolveOptions(const RoundingFlags& flags, const Format& dst);

}  // namespace floatscope::cli
