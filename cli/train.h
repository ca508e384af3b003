// `floatscope train --model M --data D --policy P|FILE [opts] --out DIR`:
// trains a built-in model under a precision policy beside its FP64 shadow
// (train/) and writes steps.csv, layers.csv, summary.json, hist.json,
// switches.json and the plots (analysis/plot_train.py) into DIR.
#pragma once

#include <CLI/CLI.hpp>

namespace floatscope::cli {

void RegisterTrainCommand(CLI::App& app);

}  // namespace floatscope::cli
