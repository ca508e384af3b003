// `floatscope formats [--json] [FORMAT...]`: the properties of every named
// format (or of the given names/specs) as a table a student can read, or as
// the JSON array DESIGN.md specifies.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "formats/format.h"

namespace floatscope::cli {

nlohmann::json FormatToJson(const Format& f);
void RegisterFormatsCommand(CLI::App& app);

}  // namespace floatscope::cli
