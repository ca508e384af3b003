// `floatscope eval OP` and `floatscope verify OP` (DESIGN.md's contract).
#pragma once

#include <CLI/CLI.hpp>

namespace floatscope::cli {

void RegisterEvalCommand(CLI::App& app);
void RegisterVerifyCommand(CLI::App& app);

}  // namespace floatscope::cli
