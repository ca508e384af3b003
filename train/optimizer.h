// Optimizers as PyTorch defines them (torch.optim.SGD with momentum and
// dampening 0; Adam and AdamW), one parameter tensor at a time, in the
// arithmetic type U of the weights they update (the master weights when the
// policy keeps them, else the stored weights). Each returns the update Δw;
// the caller adds it and rounds the sum into the storage format, which is
// where an update can be lost.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include "train/tensor.h"

namespace floatscope::train {

struct OptimizerConfig {
  enum class Kind : uint8_t { kSgd, kAdam, kAdamW } kind = Kind::kSgd;
  double lr = 0.1;
  double momentum = 0.9;  // sgd
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0;  // sgd and adam: L2 added to the gradient; adamw: decoupled
};

inline std::optional<OptimizerConfig::Kind> ParseOptimizer(const std::string& s) {
  if (s == "sgd") return OptimizerConfig::Kind::kSgd;
  if (s == "adam") return OptimizerConfig::Kind::kAdam;
  if (s == "adamw") return OptimizerConfig::Kind::kAdamW;
  return std::nullopt;
}
inline const char* OptimizerName(OptimizerConfig::Kind k) {
  return k == OptimizerConfig::Kind::kSgd ? "sgd" : k == OptimizerConfig::Kind::kAdam ? "adam" : "adamw";
}

template <class U>
struct OptState {
  Mat<U> m, v;  // sgd: m is the momentum buffer
};

// Δw for weights w with gradient g at step t (1-based).
template <class U>
Mat<U> OptimizerDelta(const OptimizerConfig& c, const Mat<U>& w, const Mat<U>& g_in, OptState<U>& s, int64_t t) {
  const U lr = static_cast<U>(c.lr);
  Mat<U> g = g_in;
  if (c.weight_decay != 0 && c.kind != OptimizerConfig::Kind::kAdamW) g += static_cast<U>(c.weight_decay) * w;
  if (c.kind == OptimizerConfig::Kind::kSgd) {
    if (c.momentum == 0) return -lr * g;
    if (s.m.size() == 0) s.m = g;  // PyTorch: the first buffer is the gradient itself
    else s.m = static_cast<U>(c.momentum) * s.m + g;
    return -lr * s.m;
  }
  const U b1 = static_cast<U>(c.beta1), b2 = static_cast<U>(c.beta2);
  if (s.m.size() == 0) {
    s.m = Mat<U>::Zero(g.rows(), g.cols());
    s.v = Mat<U>::Zero(g.rows(), g.cols());
  }
  s.m = b1 * s.m + (U(1) - b1) * g;
  s.v = b2 * s.v + (U(1) - b2) * g.cwiseProduct(g);
  const U bc1 = U(1) - static_cast<U>(std::pow(c.beta1, static_cast<double>(t)));
  const U bc2 = U(1) - static_cast<U>(std::pow(c.beta2, static_cast<double>(t)));
  const U step = lr / bc1;
  const U sqrt_bc2 = std::sqrt(bc2);
  Mat<U> d = -step * (s.m.array() / ((s.v.array().sqrt() / sqrt_bc2) + static_cast<U>(c.eps))).matrix();
  if (c.kind == OptimizerConfig::Kind::kAdamW && c.weight_decay != 0) d -= (lr * static_cast<U>(c.weight_decay)) * w;
  return d;
}

}  // namespace floatscope::train
