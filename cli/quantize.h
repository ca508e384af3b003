// `floatscope quantize --format F --scheme S [opts] --in x.npy --out y.npy`:
// quantizes a float32/float64 .npy tensor by a scheme (FP8 scaling,
// integer, OCP MX, NVFP4), writes the dequantized float32 values (or the
// codes and scales with --codes) and prints what it cost against the
// input's float64 values.
#pragma once

#include <CLI/CLI.hpp>

namespace floatscope::cli {

void RegisterQuantizeCommand(CLI::App& app);

}  // namespace floatscope::cli
