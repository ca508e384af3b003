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
  // The options as declared (null where a command declares them itself):
  // which of them were given.
  CLI::Option *round_opt = nullptr, *overflow_opt = nullptr, *subnormals_opt = nullptr, *tininess_opt = nullptr,
              *compat_opt = nullptr, *seed_opt = nullptr, *sr_bits_opt = nullptr;
  bool Given(const CLI::Option* o) const { return o && o->count() > 0; }
  // The first option given, as "--name", or "" when none was.
  std::string AnyGiven() const;
};

// Declares the options on `cmd`, filling `flags`.
void AddRoundingOptions(CLI::App& cmd, RoundingFlags& flags);

// The checks --seed and --sr-bits carry: any uint64 / 1..32, as plain
// decimals (cli/int_option.h).
CLI::Validator SeedCheck();
CLI::Validator SrBitsCheck();

// Turns the flags into Options for rounding into `dst`: the --compat preset
// first, explicit options on top. Throws UsageError on any bad value or a
// combination that cannot apply to `dst`, --seed or --sr-bits given to a
// rounding that is not stochastic among them.
Options ResolveOptions(const RoundingFlags& flags, const Format& dst);

}  // namespace floatscope::cli
