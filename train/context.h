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
#include "emulate/dot.h"
#include "emulate/h100_tensor_core.h"
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

// GEMM accumulation: "fast" (float32 products and sums by Eigen), or an
// emulate/dot.h model run element by element (slow; opt-in): "sequential",
// "fused", "pairwise", "exact", "block:K", or a fitted tensor-core preset
// of emulate/h100_tensor_core.h (h100-f16, h100-bf16, h100-e4m3, ...,
// hopper-mma-fp8). Accumulator: float32.
struct Accum {
  bool fast = true;
  DotModel model;
  Options opt;
};

// Parses an accumulation name; false for an unknown one.
inline bool ParseAccum(const std::string& name, Accum* out) {
  Accum a;
  if (name == "fast") {
    *out = a;
    return true;
  }
  a.fast = false;
  if (const H100TensorCoreModel* m = FindH100TensorCoreModel(name)) {
    a.model = m->model;
    a.opt = m->options;
  } else if (name == "sequential") {
    a.model.accumulation = Accumulation::kSequential;
  } else if (name == "fused") {
    a.model.accumulation = Accumulation::kFused;
  } else if (name == "pairwise") {
    a.model.accumulation = Accumulation::kPairwise;
  } else if (name == "exact") {
    a.model.accumulation = Accumulation::kExact;
  } else if (name.rfind("block:", 0) == 0) {
    const std::string k = name.substr(6);
    if (k.empty() || k.size() > 5 || k.find_first_not_of("0123456789") != std::string::npos) return false;
    a.model.accumulation = Accumulation::kBlock;
    a.model.block = static_cast<uint32_t>(std::stoul(k));
    if (a.model.block < 1) return false;
  } else {
    return false;
  }
  *out = a;
  return true;
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
  void SetAccum(const Accum& a) { accum_ = a; }
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
    if constexpr (kRounds) {
      if (!accum_.fast) return ModelMatMul(*pa, ta, ra, *pb, tb, rb);
    }
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
  // op(a) * op(b) by the dot model: operands as codes of their role's format
  // (float32 where the role is not rounded), one Dot per output element.
  Mat<T> ModelMatMul(const Mat<T>& a, bool ta, Role ra, const Mat<T>& b, bool tb, Role rb) {
    const RoleSpec& sa = layers_[layer_][ra];
    const RoleSpec& sb = layers_[layer_][rb];
    if ((sa.Active() && sa.scaling != Scaling::kNone) || (sb.Active() && sb.scaling != Scaling::kNone))
      throw std::invalid_argument("accum models take unscaled GEMM operands (use accum \"fast\" with scaling)");
    const Format& fa = sa.Active() ? *sa.format : formats::kF32;
    const Format& fb = sb.Active() ? *sb.format : formats::kF32;
    const Mat<T> A = ta ? Mat<T>(a.transpose()) : a;   // M x K
    const Mat<T> B = tb ? b : Mat<T>(b.transpose());   // N x K
    auto codes = [](const Format& f, const Mat<T>& m) {
      std::vector<uint64_t> c(static_cast<size_t>(m.size()));
      for (size_t i = 0; i < c.size(); ++i) c[i] = EncodeFromF32(f, m.data()[i], Options{}).code;
      return c;
    };
    const std::vector<uint64_t> ca = codes(fa, A), cb = codes(fb, B);
    const size_t M = static_cast<size_t>(A.rows()), N = static_cast<size_t>(B.rows()), K = static_cast<size_t>(A.cols());
    Mat<T> c(A.rows(), B.rows());
    for (size_t i = 0; i < M; ++i)
      for (size_t j = 0; j < N; ++j) {
        const Result r = Dot(fa, ca.data() + i * K, 1, fb, cb.data() + j * K, 1, K, formats::kF32, accum_.model, accum_.opt);
        c(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = DecodeToF32(formats::kF32, r.code);
      }
    return c;
  }

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
  Accum accum_;
  unsigned threads_ = 1;
  size_t layer_ = 0;
  int64_t step_ = 0;
  bool collect_ = false, hist_ = false;
  std::map<std::tuple<size_t, int, int>, ScaleState> sites_;
  std::vector<LayerStats> stats_;
  std::array<analysis::Log2Histogram, kHistKinds> hists_;
};

}  // namespace floatscope::train
