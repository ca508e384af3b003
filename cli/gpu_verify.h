// `floatscope gpu-verify`: the CUDA kernels against the CPU emulator
// (cuda/verify.h). Registered in every build; without CUDA it says so in
// one line and exits 2.
#pragma once

#include <CLI/CLI.hpp>

namespace floatscope::cli {

void RegisterGpuVerifyCommand(CLI::App& app);

}  // namespace floatscope::cli
