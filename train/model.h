// A model: a layer tree, its leaves numbered (ids index the per-layer
// policies and statistics), its parameters, and the loss (softmax +
// cross-entropy, mean over the batch).
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "train/layer.h"

namespace floatscope::train {

template <class T>
class Model {
 public:
  explicit Model(LayerPtr<T> root) : root_(std::move(root)) {
    Collect(root_.get());
    for (Layer<T>* l : leaves_) {
      for (Param<T>* p : l->Params()) {
        p->layer = l->id;
        params_.push_back(p);
      }
    }
  }
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const std::vector<Layer<T>*>& Leaves() const { return leaves_; }
  const std::vector<Param<T>*>& Params() const { return params_; }
  // Leaves that own parameters, in order ("layers" in layers.csv and in
  // per-layer policies: "first", "last", "0", "1", ...).
  std::vector<size_t> ParamLayerIds() const {
    std::vector<size_t> ids;
    for (Layer<T>* l : leaves_)
      if (!l->Params().empty()) ids.push_back(l->id);
    return ids;
  }

  Mat<T> Forward(Ctx<T>& c, const Mat<T>& x) { return root_->Fwd(c, x); }
  void Backward(Ctx<T>& c, const Mat<T>& dlogits) { root_->Bwd(c, dlogits); }

  // Mean cross-entropy of softmax(logits) against labels, and (when dlogits
  // is given) its gradient times `scale` (the loss scale). Computed in T as
  // an op autocast keeps in float32 (role f32_ops of the last layer), the
  // gradient then stored as an activation gradient (role act_grad).
  double Loss(Ctx<T>& c, const Mat<T>& logits, const int32_t* labels, Mat<T>* dlogits, T scale, size_t* correct) {
    c.SetLayer(leaves_.back()->id);
    const Eigen::Index b = logits.rows(), k = logits.cols();
    Mat<T> p(b, k);
    double loss = 0;
    size_t right = 0;
    for (Eigen::Index i = 0; i < b; ++i) {
      const T m = logits.row(i).maxCoeff();
      T sum = 0;
      for (Eigen::Index j = 0; j < k; ++j) sum += (p(i, j) = std::exp(logits(i, j) - m));
      const T log_sum = std::log(sum);
      Eigen::Index arg = 0;
      for (Eigen::Index j = 1; j < k; ++j)
        if (logits(i, j) > logits(i, arg)) arg = j;
      right += arg == labels[i];
      loss -= static_cast<double>(logits(i, labels[i]) - m - log_sum);
      for (Eigen::Index j = 0; j < k; ++j) p(i, j) /= sum;
    }
    if (correct) *correct = right;
    if (dlogits) {
      c.Round(p, Role::kF32Ops, 9);
      Mat<T> d = p;
      for (Eigen::Index i = 0; i < b; ++i) d(i, labels[i]) -= T(1);
      const T f = scale / static_cast<T>(b);
      d *= f;
      c.Round(d, Role::kF32Ops, 10);
      c.Histogram(HistKind::kActGrad, d);
      c.Round(d, Role::kActGrad, 10);
      *dlogits = std::move(d);
    }
    return loss / static_cast<double>(b);
  }

 private:
  void Collect(Layer<T>* l) {
    const auto children = l->Children();
    if (children.empty()) {
      l->id = leaves_.size();
      leaves_.push_back(l);
      return;
    }
    l->id = 0;  // composites set no policy of their own; leaves do
    for (Layer<T>* c : children) Collect(c);
  }

  LayerPtr<T> root_;
  std::vector<Layer<T>*> leaves_;
  std::vector<Param<T>*> params_;
};

}  // namespace floatscope::train
