// Loss scaling. Dynamic scaling is PyTorch's GradScaler
// (torch.amp.GradScaler, _amp_update_scale_): the scale is a float32;
// unscaling multiplies every gradient by the float32 reciprocal
// float(1 / double(scale)); a step whose unscaled gradients hold an inf or
// NaN is skipped and the scale multiplied by backoff (0.5), the growth
// tracker reset; after `interval` (2000) consecutive finite steps the scale
// is multiplied by growth (2) if the result is finite. Static scaling
// skips non-finite steps too (as Apex does) but never changes the scale.
#pragma once

#include <cmath>
#include <cstdint>

#include "train/policy.h"

namespace floatscope::train {

class LossScaler {
 public:
  explicit LossScaler(const LossScaling& s)
      : cfg_(s), scale_(s.kind == LossScaling::Kind::kNone ? 1.0f : static_cast<float>(s.init)) {}

  bool Enabled() const { return cfg_.kind != LossScaling::Kind::kNone; }
  float Scale() const { return scale_; }
  // What the gradients are multiplied by to unscale them.
  float InvScale() const { return static_cast<float>(1.0 / static_cast<double>(scale_)); }
  int64_t GrowthTracker() const { return tracker_; }

  // After a backward pass: `found_inf` = some unscaled gradient is not
  // finite. Returns whether the optimizer step is skipped.
  bool Update(bool found_inf) {
    if (cfg_.kind == LossScaling::Kind::kNone) return false;
    if (cfg_.kind == LossScaling::Kind::kStatic) return found_inf;
    if (found_inf) {
      scale_ = scale_ * static_cast<float>(cfg_.backoff);
      tracker_ = 0;
      return true;
    }
    const int64_t successful = tracker_ + 1;
    if (successful >= cfg_.interval) {
      const float grown = scale_ * static_cast<float>(cfg_.growth);
      if (std::isfinite(grown)) scale_ = grown;
      tracker_ = 0;
    } else {
      tracker_ = successful;
    }
    return false;
  }

 private:
  LossScaling cfg_;
  float scale_;
  int64_t tracker_ = 0;
};

}  // namespace floatscope::train
