// The training loop: a model under a precision policy and its FP64 shadow
// (same initial weights, same batches, float64, no rounding) in lockstep,
// with the statistics of train/README (steps.csv, layers.csv, summary.json,
// hist.json) measured by analysis/.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "train/data.h"
#include "train/optimizer.h"
#include "train/policy.h"

namespace floatscope::train {

struct TrainConfig {
  std::string model = "mlp";
  std::string policy_spec = "fp32";
  int64_t steps = 500;
  size_t batch = 64;
  OptimizerConfig optimizer;
  uint64_t seed = 1;
  unsigned threads = 1;      // >= 2: the shadow runs beside the model
  bool shadow = true;
  int64_t log_every = 10;    // steps between rows of steps.csv (and gradient checks)
  int64_t hist_every = 0;    // steps between histograms (0: first and last logged step)
  PolicyParams policy_params;
  bool progress = true;      // a progress line on stderr
};

// One row of steps.csv (overall) or of layers.csv (layer >= 0).
struct StepRow {
  int64_t step = 0;
  int layer = -1;
  std::string name;          // layer name or the active phase's policy
  double loss = NAN, loss_fp64 = NAN;
  double loss_scale = 1;
  int skipped = 0;
  double grad_zero_frac = 0, grad_energy_lost = 0, grad_overflow_frac = 0;
  double grad_cos_fp64 = NAN, grad_rel_err_fp64 = NAN;
  double weight_rel_div = NAN;
  double lost_update_frac = 0, lost_update_frac_storage = 0;
  double act_zero_frac = 0, act_overflow_frac = 0;
  double low_precision_frac = 1;  // of layers (steps.csv) / 1 or 0 (layers.csv)
};

struct TrainResult {
  std::vector<StepRow> steps, layers;
  nlohmann::json hist;      // {"<step>": {"activations": {...}, ...}}
  nlohmann::json switches;  // [{"step", "layer", "from", "to", "reason"}]
  nlohmann::json summary;
};

struct TrainError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Trains; throws TrainError/PolicyError/ModelError for bad configurations.
TrainResult Train(const TrainConfig& cfg, const Dataset& data);

// steps.csv / layers.csv text.
std::string StepsCsv(const std::vector<StepRow>& rows, bool layers);

// Writes DIR/steps.csv, layers.csv, summary.json, hist.json, switches.json
// atomically (each through a temporary file and a rename).
void WriteOutputs(const std::string& dir, const TrainResult& r);

}  // namespace floatscope::train
