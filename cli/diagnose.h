// `floatscope verify OP --in X.npy --out Y.npy --diagnose [--json FILE]`:
// when a kernel's outputs differ from the given semantics, find the
// semantics that reproduce them. The candidates are the given semantics
// with one change (level 1), then with two (level 2), along these
// dimensions: rounding mode (the six deterministic ones; sr and sr-eq only
// with a seed), overflow policy, subnormal handling (flush inputs and/or
// results, tininess before rounding), the NaN encoding choices of
// formats/policy.h, the tie rule of formats without mantissa bits, double
// rounding (the input rounded to f32, f16 or bf16 first, by each
// deterministic mode, where that format is wider than the target) and the
// peer presets of formats/compat.h. Each candidate runs over the whole
// array through emulate/array_ops.h; the search stops after the first level
// that holds an exact candidate. The report names it (or the closest one)
// and explains the first differing elements.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "cli/npy_verify.h"
#include "formats/compat.h"
#include "formats/format.h"
#include "formats/policy.h"

namespace floatscope::cli {

// What a conversion does, as far as the search varies it.
struct Semantics {
  Options opt;  // the conversion into the target format
  // Double rounding: the input is first rounded to `via` by `via_rounding`
  // (IEEE overflow, subnormals kept, NaN payload kept: a plain cast), and
  // that value is converted by `opt`. Null: converted directly.
  const Format* via = nullptr;
  Rounding via_rounding = Rounding::kNearestEven;
};

// Every element's expected output word (as KernelDumps::Got gives the
// kernel's) under `sem`, through the array kernels.
void ExpectedWords(const Format& f, const Semantics& sem, const KernelDumps& d, std::vector<uint32_t>* out);

struct DiagnoseRequest {
  const Format* format = nullptr;
  std::string op_name, json_path;
  Semantics given;
  Compat given_compat = Compat::kNone;
  bool stochastic = false;  // search sr and sr-eq: a seed was given, or the given rounding is stochastic
  int max_report = 20;
};

// Checks the options (in diagnose mode --seed alone is allowed: it is the
// seed to search stochastic rounding with) and that --json can be written.
// Throws UsageError.
DiagnoseRequest MakeDiagnoseRequest(const NpyVerifyRequest& r, const Format& f);

// Runs the search, writes --json (atomically, before anything is printed)
// and prints the report, ending with verify's "N passed, N failed" for the
// given semantics. Returns the given semantics' mismatch count.
uint64_t RunDiagnose(const DiagnoseRequest& r, const KernelDumps& d, std::ostream& os);

}  // namespace floatscope::cli
