// Checks a user's conversion kernel from .npy dumps: the float32 inputs it
// was given and what it produced, either codes (uint8 / uint16 .npy, the
// format's stored codes) or fake-quantized float32 values. floatscope
// computes the expected results (on the CPU for `verify`, with the CUDA
// kernels for `gpu-verify`), prints every mismatch up to max_report with
// the input and both results decoded, then "N passed, N failed".
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "formats/format.h"
#include "formats/policy.h"

namespace floatscope::cli {

// Fills the expected stored codes (codes mode) or fake-quantized float32
// bits (fake-quant mode) of inputs x; element i has stochastic index i.
using NpyExpected = std::function<void(const std::vector<float>& x, bool fake_quant, std::vector<uint32_t>* out)>;

// The CPU emulator (emulate/array_ops.h).
NpyExpected CpuExpected(const Format& f, const Options& opt);

// Returns the number of mismatching elements; throws UsageError for a bad
// file (wrong dtype, shapes that differ, codes too narrow for the format).
uint64_t RunNpyVerify(const Format& f, const std::string& in_path, const std::string& out_path, int max_report,
                      const NpyExpected& expected, std::ostream& os);

}  // namespace floatscope::cli
