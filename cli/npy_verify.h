// Checks a user's conversion kernel from .npy dumps: the inputs it was given
// (float32, or float64 for `verify f64_to_<fmt>`) and what it produced,
// either codes (uint8 / uint16 .npy, the format's stored codes) or
// fake-quantized float32 values. floatscope computes the expected results
// (on the CPU for `verify`, with the CUDA kernels for `gpu-verify`), prints
// every mismatch up to max_report with the input and both results decoded,
// then "N passed, N failed". `verify --diagnose` (cli/diagnose.h) goes on to
// search which rounding/overflow/NaN/subnormal variant the kernel follows.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/rounding_options.h"
#include "formats/format.h"
#include "formats/policy.h"

namespace floatscope::cli {

// A kernel's dumps, read and checked against a conversion into one format.
struct KernelDumps {
  std::string in_path, out_path;
  bool f64_inputs = false;   // the inputs are float64 (x64), else float32 (x32)
  std::vector<float> x32;
  std::vector<double> x64;
  size_t n = 0;
  bool fake_quant = false;   // outputs are float32 values, not codes
  size_t item = 0;           // bytes of one output element: CodeBytes, or 4
  std::string got;           // the outputs, n * item bytes, as in the file

  uint64_t InputBits(size_t i) const;
  double InputValue(size_t i) const;  // exact: a float32 or float64 widened
  uint32_t Got(size_t i) const;       // element i's output word
};

// Reads and checks both files for a conversion into `f` from float64
// inputs (f64_inputs) or float32 ones. Throws UsageError for a bad file
// (wrong dtype, shapes that differ, codes too narrow for the format).
// `op_hint`: the op name that would take the other input dtype, named in
// the dtype error ("" for none).
KernelDumps ReadKernelDumps(const Format& f, bool f64_inputs, const std::string& in_path, const std::string& out_path,
                            const std::string& op_hint);

// Prints element i's mismatch as verify does: input, the kernel's output,
// the expected one (an output word as KernelDumps::Got gives it).
void PrintMismatch(const Format& f, const KernelDumps& d, size_t i, uint32_t want, std::ostream& os);

// Fills the expected stored codes (codes mode) or fake-quantized float32
// bits (fake-quant mode) of inputs x; element i has stochastic index i.
using NpyExpected = std::function<void(const std::vector<float>& x, bool fake_quant, std::vector<uint32_t>* out)>;

// The CPU emulator (emulate/array_ops.h).
NpyExpected CpuExpected(const Format& f, const Options& opt);

// float32 inputs only (gpu-verify). Returns the number of mismatching
// elements; throws UsageError for a bad file.
uint64_t RunNpyVerify(const Format& f, const std::string& in_path, const std::string& out_path, int max_report,
                      const NpyExpected& expected, std::ostream& os);

// `floatscope verify OP --in X.npy --out Y.npy [--diagnose [--json F]]`.
struct NpyVerifyRequest {
  std::string op_name;
  RoundingFlags flags;  // as parsed: the option pointers say what was given
  std::string in_path, out_path, json_path;
  int max_report = 20;
  bool diagnose = false;
};

// Returns the exit status: 0 when every element matches the given
// semantics, 1 when some do not (after the diagnosis, with --diagnose).
// Throws UsageError for bad options or files, before any output.
int RunNpyVerifyCommand(const NpyVerifyRequest& r, std::ostream& os);

}  // namespace floatscope::cli
