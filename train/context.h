// What a layer asks of the precision policy while it computes: the Ctx
// rounds tensors for their role (train/fake_quant.h), multiplies GEMM
// operands as the policy says they are seen, and counts what every rounding
// cost (analysis/) when the trainer asks for statistics.
//
// A Ctx<double> rounds nothing: it runs the FP64 shadow and the fp64 policy
// (the same code path, so fp64 reproduces the shadow bit for bit).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "analysis/error_stats.h"
#include "analysis/histogram.h"
#include "emulate/array_ops.h"
#include "train/fake_quant.h"
#include "train/policy.h"
#include "train/tensor.h"

namespace floatscope::train {

// Histograms kept at chosen steps: values before they are rounded.
enum class HistKind : uint8_t { kAct, kActGrad, kWeightGrad, kUpdate };
inline constexpr size_t kHistKinds = 4;
inline constexpr const char* kHistNames[kHistKinds] = {"activations", "activation_gradients", "weight_gradients",
                                                      "updates"};

// What the roundings of one layer cost since the step began, per role.
struct RoleStats {
  analysis::ErrorStats error;  // value before vs after rounding
  ArrayStats cast;             // the element casts' own counts (overflow, saturation...)
  RoleStats& operator+=(const RoleStats& o) {
    error += o.error;
    cast += o.cast;
    return *this;
  }
};
using LayerStats = std::array<RoleStats, kRoleCount>;

inline uint64_t Mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

template <class T>
class Ctx {
 public:
  static constexpr bool kRounds = std::is_same_v<T, float>;

  // One policy per leaf layer (index = the layer's id).
  void Configure(std::vector<LayerPolicy> layers, unsigned threads) {
    layers_ = std::move(layers);
    threads_ = threads;
    stats_.assign(layers_.size(), LayerStats{});
  }
  void SetLayerPolicy(size_t id, const LayerPolicy& p) { layers_[id] = p; }
  const LayerPolicy& PolicyOf(size_t id) const { return layers_[id]; }
  size_t LayerCount() const { return layers_.size(); }

  void BeginStep(int64_t step, bool collect, bool hist) {
    step_ = step;
    collect_ = collect;
    hist_ = hist;
    for (LayerStats& s : stats_) s = LayerStats{};
    for (auto& h : hists_) h = analysis::Log2Histogram{};
  }
  // Delayed scaling: every site's amax joins its history.
  void EndStep() {
    for (auto& [key, site] : sites_) {
      const RoleSpec& spec = layers_[std::get<0>(key)][static_cast<Role>(std::get<1>(key))];
      if (spec.Active() && spec.scaling == Scaling::kDelayed) site.EndStep(spec);
    }
  }

  void SetLayer(size_t id) { layer_ = id; }
  size_t Layer() const { return layer_; }
  const LayerPolicy& Policy() const { return layers_[layer_]; }
  bool Collecting() const { return collect_; }
  unsigned Threads() const { return threads_; }

  // Rounds x in place for role r of the current layer (blocks, if any, run
  // along rows). `slot` tells apart two tensors of one role in one layer.
  // With record = false nothing is counted (a what-if rounding).
  void Round(Mat<T>& x, Role r, int slot = 0, bool record = true) { Quantize(x, r, slot, true, record); }

  // Records the values of x into histogram `k` (at histogram steps).
  void Histogram(HistKind k, const Mat<T>& x) {
    if (hist_) hists_[static_cast<size_t>(k)].AddArray(x.data(), static_cast<size_t>(x.size()));
  }

  // op(a) * op(b) with each operand as the GEMM sees it: rounded for its role
  // (ra, rb) with blocks along the GEMM's K. The product is computed in T
  // (float32 accumulation for every low-precision policy).
  Mat<T> MatMul(const Mat<T>& a, bool ta, Role ra, int sa, const Mat<T>& b, bool tb, Role rb, int sb) {
    const Mat<T>* pa = &a;
    const Mat<T>* pb = &b;
    Mat<T> qa, qb;
    if (Active(ra)) {
      qa = a;
      Quantize(qa, ra, sa, !ta);
      pa = &qa;
    }
    if (Active(rb)) {
      qb = b;
      Quantize(qb, rb, sb, tb);
      pb = &qb;
    }
    Mat<T> c;
    if (!ta && !tb) c.noalias() = *pa * *pb;
    else if (!ta && tb) c.noalias() = *pa * pb->transpose();
    else if (ta && !tb) c.noalias() = pa->transpose() * *pb;
    else c.noalias() = pa->transpose() * pb->transpose();
    return c;
  }

  bool Active(Role r) const { return kRounds && layers_[layer_][r].Active(); }

  const std::vector<LayerStats>& Stats() const { return stats_; }
  // The seed a stochastic rounding of role r, slot `slot` of layer `layer`
  // uses at this step (one stream per site and step).
  uint64_t SeedFor(const RoleSpec& spec, size_t layer, Role r, int slot, bool k_along_rows) const {
    return Mix64(spec.opt.seed ^ Mix64(static_cast<uint64_t>(step_) ^
                                       Mix64((static_cast<uint64_t>(layer) << 16) ^ (static_cast<uint64_t>(r) << 8) ^
                                             static_cast<uint64_t>(slot) ^ (k_along_rows ? 1ull << 40 : 0))));
  }
  const std::array<analysis::Log2Histogram, kHistKinds>& Histograms() const { return hists_; }

 private:
  void Quantize(Mat<T>& x, Role r, int slot, bool k_along_rows, bool record = true) {
    if constexpr (kRounds) {
      const RoleSpec& spec = layers_[layer_][r];
      if (!spec.Active()) return;
      const auto key = std::make_tuple(layer_, static_cast<int>(r), slot);
      auto it = sites_.find(key);
      if (it == sites_.end()) it = sites_.emplace(key, ScaleState(spec.history)).first;
      const uint64_t seed = SeedFor(spec, layer_, r, slot, k_along_rows);
      const size_t rows = static_cast<size_t>(x.rows()), cols = static_cast<size_t>(x.cols());
      if (!collect_ || !record) {
        FakeQuant(spec, x.data(), rows, cols, k_along_rows, seed, &it->second, threads_, nullptr);
        return;
      }
      const Mat<T> before = x;
      RoleStats& s = stats_[layer_][static_cast<size_t>(r)];
      FakeQuant(spec, x.data(), rows, cols, k_along_rows, seed, &it->second, threads_, &s.cast);
      s.error += analysis::Compare(before.data(), x.data(), rows * cols);
    } else {
      (void)x, (void)r, (void)slot, (void)k_along_rows, (void)record;
    }
  }

  std::vector<LayerPolicy> layers_;
  unsigned threads_ = 1;
  size_t layer_ = 0;
  int64_t step_ = 0;
  bool collect_ = false, hist_ = false;
  std::map<std::tuple<size_t, int, int>, ScaleState> sites_;
  std::vector<LayerStats> stats_;
  std::array<analysis::Log2Histogram, kHistKinds> hists_;
};

}  // namespace floatscope::train
