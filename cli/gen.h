// `floatscope gen OP`: TestFloat-style test vectors (operands, expected
// result and flags) for any op that `eval` and `verify` take, so that other
// implementations can be tested against floatscope (docs/CLI.md, "gen").
#pragma once

#include <CLI/CLI.hpp>

namespace floatscope::cli {

void RegisterGenCommand(CLI::App& app);

}  // namespace floatscope::cli
