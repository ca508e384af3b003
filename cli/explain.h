// `floatscope explain VALUE --format F`: how a number is stored, for students.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace floatscope::cli {

void RegisterExplainCommand(CLI::App& app);

// CLI11 reads "-inf" and "-nan" as the short options -i, -n; "-0.5" and
// "-1e3" it already takes for values. Rewrites each argument of `explain`
// (before any "--") that is a negative infinity or NaN into "--value=-inf",
// so that negative VALUEs need no "--". `args` is argv as strings.
void ExplainValueArguments(std::vector<std::string>& args);

}  // namespace floatscope::cli
