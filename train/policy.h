// Precision policies: for every tensor role, the format it is rounded into,
// how (rounding mode, overflow) and with which scaling. A policy is data:
// the presets below and JSON files resolve to the same struct, and
// summary.json prints it back in full.
//
// Where each role is rounded (train/layers.h does it through train/context.h):
//   weights      the weights as stored, after every update (no master: the
//                update itself is rounded here, e.g. sr for bf16-pure-sr)
//   gemm_in      activations as a GEMM reads them (forward and weight-grad GEMMs)
//   gemm_w       weights as a GEMM reads them (forward and data-grad GEMMs)
//   gemm_grad    activation gradients as a GEMM reads them (both backward GEMMs)
//   act          layer outputs as stored between layers (GEMM/GELU outputs)
//   act_grad     activation gradients as stored between layers
//   weight_grad  weight gradients as the GEMM writes them (before unscaling)
//   opt_state    optimizer state (momentum; Adam m and v) after every update
//   f32_ops      outputs of the ops autocast keeps in float32: softmax,
//                layernorm, the loss and its gradient, reductions
// A role without a format is not rounded: it stays in the compute type.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "formats/format.h"
#include "formats/policy.h"

namespace floatscope::train {

enum class Role : uint8_t { kWeights, kGemmIn, kGemmW, kGemmGrad, kAct, kActGrad, kWeightGrad, kOptState, kF32Ops };
inline constexpr size_t kRoleCount = 9;
inline constexpr const char* kRoleNames[kRoleCount] = {"weights", "gemm_in",    "gemm_w",     "gemm_grad", "act",
                                                      "act_grad", "weight_grad", "opt_state", "f32_ops"};
inline const char* RoleName(Role r) { return kRoleNames[static_cast<size_t>(r)]; }

enum class Scaling : uint8_t {
  kNone,     // the value itself is rounded
  kTensor,   // per-tensor current scaling: s = fmax / amax / 2^margin
  kDelayed,  // per-tensor delayed scaling: amax from a history of earlier steps
  kMx,       // OCP MX: E8M0 power-of-two scale per block along the GEMM's K
  kNvfp4,    // NVFP4: E4M3 scale per 16-block along K and a float32 tensor scale
};
const char* ScalingName(Scaling s);

struct RoleSpec {
  const Format* format = nullptr;  // nullptr: not rounded
  Options opt;                     // rounding, overflow, sr seed and bits
  Scaling scaling = Scaling::kNone;
  int margin = 0;          // tensor/delayed: scale divided by 2^margin
  bool pow2 = false;       // tensor/delayed: scale rounded down to a power of two
  size_t history = 1024;   // delayed: amax history length (TransformerEngine's default)
  size_t block = 32;       // mx: elements per block

  bool Active() const { return format != nullptr; }
};

struct LayerPolicy {
  std::array<RoleSpec, kRoleCount> roles;
  RoleSpec& operator[](Role r) { return roles[static_cast<size_t>(r)]; }
  const RoleSpec& operator[](Role r) const { return roles[static_cast<size_t>(r)]; }
};

enum class Master : uint8_t { kNone, kF32, kF64 };

struct LossScaling {
  enum class Kind : uint8_t { kNone, kStatic, kDynamic } kind = Kind::kNone;
  // PyTorch GradScaler's defaults.
  double init = 65536.0;
  double growth = 2.0;
  double backoff = 0.5;
  int64_t interval = 2000;
};

// Dynamic schedule: a layer whose gradient underflow or overflow rate (or the
// loss) crosses a threshold runs `fallback` until `quiet_steps` steps pass
// without crossing it again.
struct DynamicRule {
  bool enabled = false;
  std::string fallback = "fp32";
  double max_overflow_frac = 1e-4;  // of a layer's rounded gradient elements
  double max_flushed_frac = 0.05;   // of its nonzero gradient elements flushed to zero
  double loss_spike = 0;            // > 0: loss > loss_spike * running mean escalates every layer
  int64_t quiet_steps = 50;
  int64_t check_every = 10;         // steps between checks (statistics are collected then)
};

struct Policy;

// Progressive schedule: from `step` on, `policy` applies (phases sorted by step).
struct Phase {
  int64_t step = 0;
  std::string policy;  // a preset name or the name of an inline policy
};

struct Policy {
  std::string name;
  bool compute_f64 = false;  // the fp64 policy: float64 compute, no rounding
  LayerPolicy base;
  // Per-layer overrides, keyed by layer name, "first", "last" or the index
  // among layers with parameters ("0", "1", ...). An override replaces whole
  // roles of the base policy.
  std::map<std::string, std::map<Role, RoleSpec>> layers;
  Master master = Master::kNone;
  LossScaling loss_scaling;
  std::string accum = "fast";  // GEMM accumulation: "fast" (float32) or an emulate/dot.h model
  std::vector<Phase> progressive;
  std::map<std::string, nlohmann::json> inline_policies;  // for phases given inline
  DynamicRule dynamic;
  nlohmann::json source;  // what the user wrote (preset name or JSON)
};

struct PolicyError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Every preset name, in DESIGN.md's order.
const std::vector<std::string>& PresetNames();

struct PolicyParams {
  uint64_t seed = 1;         // stochastic rounding key
  double loss_scale = 1024;  // fp16-static
};

// A preset by name, or a JSON file path (anything ending in .json or
// containing '/'), or inline JSON text (starting with '{'). Throws
// PolicyError with one line.
Policy ResolvePolicy(const std::string& spec, const PolicyParams& params);
Policy PolicyFromJson(const nlohmann::json& j, const PolicyParams& params, int depth = 0);

// The layer policy for layer `index` of `count` layers named `name`.
LayerPolicy LayerPolicyFor(const Policy& p, size_t index, size_t count, const std::string& name);

// The whole resolved policy, every role spelled out.
nlohmann::json PolicyToJson(const Policy& p);
nlohmann::json RoleToJson(const RoleSpec& r);

}  // namespace floatscope::train
