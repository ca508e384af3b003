// `floatscope explain VALUE --format F`: how a number is stored, for students.
#pragma once

#include <CLI/CLI.hpp>

namespace floatscope::cli {

void RegisterExplainCommand(CLI::App& app);

}  // namespace floatscope::cli
