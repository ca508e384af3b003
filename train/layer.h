// Layers with explicit forward and backward passes. Every layer:
//  - computes in T (float for every low-precision policy, double for the
//    FP64 shadow) with Eigen;
//  - asks the Ctx to round what the policy says is rounded: GEMM operands
//    through Ctx::MatMul (roles gemm_in, gemm_w, gemm_grad), its outputs
//    with Ctx::Round(y, Role::kAct) (or kF32Ops for the ops autocast keeps
//    in float32), its input gradient with Role::kActGrad, its weight
//    gradients with Role::kWeightGrad;
//  - records histograms (Ctx::Histogram) of the values before they are
//    rounded.
// Backward receives dL/dy (as stored, already rounded by whoever produced
// it), sets every Param::grad of the layer (not accumulates) and returns
// dL/dx. Gradients are of the *scaled* loss when loss scaling is on.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "train/context.h"
#include "train/rng.h"
#include "train/tensor.h"

namespace floatscope::train {

template <class T>
struct Param {
  std::string name;  // "<layer>.<weight|bias|...>"
  Mat<T> value;      // as the network uses it (rounded to the weights' format)
  Mat<T> grad;       // dL/dvalue of the last backward pass
  size_t layer = 0;  // id of the owning layer (whose policy stores it)
};

template <class T>
class Layer {
 public:
  virtual ~Layer() = default;
  // Forward/Backward with the Ctx pointed at this layer's policy.
  Mat<T> Fwd(Ctx<T>& c, const Mat<T>& x) {
    c.SetLayer(id);
    return Forward(c, x);
  }
  Mat<T> Bwd(Ctx<T>& c, const Mat<T>& dy) {
    c.SetLayer(id);
    return Backward(c, dy);
  }
  virtual std::vector<Param<T>*> Params() { return {}; }
  // Layers made of other layers list them (ids, policies and parameters
  // are assigned over the leaves).
  virtual std::vector<Layer<T>*> Children() { return {}; }

  std::string name;
  size_t id = 0;

 protected:
  virtual Mat<T> Forward(Ctx<T>& c, const Mat<T>& x) = 0;
  virtual Mat<T> Backward(Ctx<T>& c, const Mat<T>& dy) = 0;
};

template <class T>
using LayerPtr = std::unique_ptr<Layer<T>>;

// Layers in order.
template <class T>
class Sequential : public Layer<T> {
 public:
  Sequential& Add(LayerPtr<T> l) {
    layers_.push_back(std::move(l));
    return *this;
  }
  std::vector<Layer<T>*> Children() override {
    std::vector<Layer<T>*> c;
    for (auto& l : layers_) c.push_back(l.get());
    return c;
  }

 protected:
  Mat<T> Forward(Ctx<T>& c, const Mat<T>& x) override {
    Mat<T> h = x;
    for (auto& l : layers_) h = l->Fwd(c, h);
    return h;
  }
  Mat<T> Backward(Ctx<T>& c, const Mat<T>& dy) override {
    Mat<T> g = dy;
    for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) g = (*it)->Bwd(c, g);
    return g;
  }

 private:
  std::vector<LayerPtr<T>> layers_;
};

// Slots (Ctx's site numbers) of one projection's backward tensors.
struct ProjectionSlots {
  int dy;    // dy as both backward GEMMs read it (gemm_grad)
  int x;     // x as the weight-gradient GEMM reads it (gemm_in)
  int w;     // W as the data-gradient GEMM reads it (gemm_w)
  int grad;  // dW (weight_grad); db uses grad + 1
  int dx;    // dx as stored (act_grad)
};

// The backward of y = x W^T + b: sets w.grad = dy^T x and b.grad = the
// column sums of dy (rounded as weight gradients), returns dx = dy W
// (rounded as an activation gradient). Linear and the attention
// projections share it.
template <class T>
Mat<T> ProjectionBackward(Ctx<T>& c, const Mat<T>& dy, const Mat<T>& x, Param<T>& w, Param<T>& b, ProjectionSlots s) {
  Mat<T> gw = c.MatMul(dy, true, Role::kGemmGrad, s.dy, x, false, Role::kGemmIn, s.x);
  c.Histogram(HistKind::kWeightGrad, gw);
  c.Round(gw, Role::kWeightGrad, s.grad);
  w.grad = std::move(gw);
  Mat<T> gb = dy.colwise().sum();
  c.Round(gb, Role::kWeightGrad, s.grad + 1);
  b.grad = std::move(gb);
  Mat<T> dx = c.MatMul(dy, false, Role::kGemmGrad, s.dy, w.value, false, Role::kGemmW, s.w);
  c.Histogram(HistKind::kActGrad, dx);
  c.Round(dx, Role::kActGrad, s.dx);
  return dx;
}

// y = x W^T + b; W is out x in. PyTorch's default initialisation:
// U(-1/sqrt(in), 1/sqrt(in)) for W and b, drawn in float64.
template <class T>
class Linear : public Layer<T> {
 public:
  Linear(std::string name, size_t in, size_t out, Rng& rng) {
    this->name = name;
    w_.name = name + ".weight";
    b_.name = name + ".bias";
    w_.value.resize(static_cast<Eigen::Index>(out), static_cast<Eigen::Index>(in));
    b_.value.resize(1, static_cast<Eigen::Index>(out));
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    for (Eigen::Index i = 0; i < w_.value.size(); ++i) w_.value.data()[i] = static_cast<T>(rng.Uniform(-bound, bound));
    for (Eigen::Index i = 0; i < b_.value.size(); ++i) b_.value.data()[i] = static_cast<T>(rng.Uniform(-bound, bound));
  }
  std::vector<Param<T>*> Params() override { return {&w_, &b_}; }

 protected:
  Mat<T> Forward(Ctx<T>& c, const Mat<T>& x) override {
    x_ = x;
    Mat<T> y = c.MatMul(x, false, Role::kGemmIn, 0, w_.value, true, Role::kGemmW, 0);
    y.rowwise() += b_.value.row(0);
    c.Histogram(HistKind::kAct, y);
    c.Round(y, Role::kAct);
    return y;
  }
  Mat<T> Backward(Ctx<T>& c, const Mat<T>& dy) override {
    return ProjectionBackward(c, dy, x_, w_, b_, ProjectionSlots{0, 0, 0, 0, 0});
  }

 private:
  Param<T> w_, b_;
  Mat<T> x_;
};

// max(x, 0): exact in every format, so nothing is rounded.
template <class T>
class ReLU : public Layer<T> {
 public:
  explicit ReLU(std::string name) { this->name = std::move(name); }

 protected:
  Mat<T> Forward(Ctx<T>&, const Mat<T>& x) override {
    x_ = x;
    return x.cwiseMax(T(0));
  }
  // PyTorch's threshold_backward: dy where x > 0, else exactly 0 (even for a
  // non-finite dy).
  Mat<T> Backward(Ctx<T>&, const Mat<T>& dy) override { return (x_.array() > T(0)).select(dy, T(0)); }

 private:
  Mat<T> x_;
};

}  // namespace floatscope::train
