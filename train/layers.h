// More layers for the training lab, with train/layer.h's conventions: each
// computes in T with Eigen and rounds only through the Ctx (GEMM operands
// for gemm_in / gemm_w / gemm_grad, outputs for act or f32_ops, input
// gradients for act_grad, weight gradients for weight_grad), recording a
// histogram of every act, act_grad and weight (not bias) gradient before
// it is rounded. Distinct tensors of one role in one layer use distinct
// slots (the slot keys the delayed-scaling history and the stochastic
// rounding stream); the slots are listed in each layer's comment.
//
//   Conv2d                 im2col + one GEMM, NCHW (PyTorch's layout)
//   GELU                   exact erf form (PyTorch's default)
//   LayerNorm              over the last dimension, output f32_ops
//   Embedding              token + learned position embeddings
//   MultiHeadSelfAttention no mask, nn.MultiheadAttention's parameters
//   Residual               y = x + inner(x)
//   SelectLast             the last token of every sequence
//
// Token sequences are (batch*T) x features, the rows of one sequence
// consecutive.
#pragma once

#include <cmath>
#include <cstddef>
#include <memory>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include "train/layer.h"

namespace floatscope::train {

namespace layers_detail {

inline Eigen::Index Ix(size_t n) { return static_cast<Eigen::Index>(n); }

template <class T>
void FillUniform(Mat<T>& m, double bound, Rng& rng) {
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<T>(rng.Uniform(-bound, bound));
}

template <class T>
void FillNormal(Mat<T>& m, Rng& rng) {
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<T>(rng.Normal());
}

template <class T>
Layer<T>* FirstLeaf(Layer<T>* l) {
  for (auto ch = l->Children(); !ch.empty(); ch = l->Children()) l = ch.front();
  return l;
}

template <class T>
Layer<T>* LastLeaf(Layer<T>* l) {
  for (auto ch = l->Children(); !ch.empty(); ch = l->Children()) l = ch.back();
  return l;
}

// m as its GEMM reads it when the GEMM's K runs along runs of `k`
// consecutive elements (row-major): rounded for role r as one tensor of
// (size/k) x k, so that scaling blocks never cross a run; shape kept.
template <class T>
Mat<T> RoundRuns(Ctx<T>& c, const Mat<T>& m, Eigen::Index k, Role r, int slot) {
  if (!c.Active(r)) return m;
  Mat<T> runs = Eigen::Map<const Mat<T>>(m.data(), m.size() / k, k);
  c.Round(runs, r, slot);
  return Eigen::Map<const Mat<T>>(runs.data(), m.rows(), m.cols());
}

}  // namespace layers_detail

// 2-D convolution of images stored as rows of C*H*W (channel-major, NCHW
// flattened). im2col makes (batch*Ho*Wo) x (C_in*k*k) patches (zero padding),
// one GEMM multiplies them by the weight (C_out x C_in*k*k, PyTorch's
// [C_out, C_in, k, k] flattened), the bias is added and the result is laid
// out as batch x (C_out*Ho*Wo). PyTorch's default initialisation: U(-b, b)
// with b = 1/sqrt(C_in*k*k) for weight and bias.
// Slots: gemm_in 0 (patches), gemm_w 0, gemm_grad 0, act 0, act_grad 0,
// weight_grad 0 (weight) and 1 (bias).
template <class T>
class Conv2d : public Layer<T> {
 public:
  Conv2d(std::string name, size_t c_in, size_t h, size_t w, size_t c_out, size_t kernel, size_t stride, size_t pad,
         Rng& rng)
      : c_in_(c_in), h_(h), w_in_(w), c_out_(c_out), k_(kernel), s_(stride), p_(pad) {
    if (c_in == 0 || c_out == 0 || kernel == 0 || stride == 0 || h + 2 * pad < kernel || w + 2 * pad < kernel)
      throw std::invalid_argument("conv '" + name + "': kernel " + std::to_string(kernel) + " stride " +
                                  std::to_string(stride) + " pad " + std::to_string(pad) + " does not fit " +
                                  std::to_string(c_in) + "x" + std::to_string(h) + "x" + std::to_string(w));
    this->name = name;
    ho_ = (h + 2 * pad - kernel) / stride + 1;
    wo_ = (w + 2 * pad - kernel) / stride + 1;
    weight_.name = name + ".weight";
    bias_.name = name + ".bias";
    weight_.value.resize(layers_detail::Ix(c_out), layers_detail::Ix(c_in * kernel * kernel));
    bias_.value.resize(1, layers_detail::Ix(c_out));
    const double bound = 1.0 / std::sqrt(static_cast<double>(c_in * kernel * kernel));
    layers_detail::FillUniform(weight_.value, bound, rng);
    layers_detail::FillUniform(bias_.value, bound, rng);
  }
  std::vector<Param<T>*> Params() override { return {&weight_, &bias_}; }
  size_t OutH() const { return ho_; }
  size_t OutW() const { return wo_; }
  size_t OutFeatures() const { return c_out_ * ho_ * wo_; }

 protected:
  Mat<T> Forward(Ctx<T>& c, const Mat<T>& x) override {
    using layers_detail::Ix;
    if (x.cols() != Ix(c_in_ * h_ * w_in_))
      throw std::invalid_argument("conv '" + this->name + "': input has " + std::to_string(x.cols()) +
                                  " features, expected " + std::to_string(c_in_ * h_ * w_in_));
    batch_ = x.rows();
    const Eigen::Index hw = Ix(ho_ * wo_), kk = Ix(c_in_ * k_ * k_);
    cols_.setZero(batch_ * hw, kk);
    // im2col: each patch element is read from the pixel it covers.
    ForEachTap([&](Eigen::Index b, Eigen::Index r, Eigen::Index col, Eigen::Index pixel) { cols_(r, col) = x(b, pixel); });
    Mat<T> ycol = c.MatMul(cols_, false, Role::kGemmIn, 0, weight_.value, true, Role::kGemmW, 0);
    ycol.rowwise() += bias_.value.row(0);
    Mat<T> y(batch_, Ix(c_out_) * hw);
    for (Eigen::Index b = 0; b < batch_; ++b)
      for (Eigen::Index p = 0; p < hw; ++p)
        for (Eigen::Index co = 0; co < Ix(c_out_); ++co) y(b, co * hw + p) = ycol(b * hw + p, co);
    c.Histogram(HistKind::kAct, y);
    c.Round(y, Role::kAct);
    return y;
  }
  Mat<T> Backward(Ctx<T>& c, const Mat<T>& dy) override {
    using layers_detail::Ix;
    const Eigen::Index hw = Ix(ho_ * wo_);
    Mat<T> dycol(batch_ * hw, Ix(c_out_));
    for (Eigen::Index b = 0; b < batch_; ++b)
      for (Eigen::Index p = 0; p < hw; ++p)
        for (Eigen::Index co = 0; co < Ix(c_out_); ++co) dycol(b * hw + p, co) = dy(b, co * hw + p);
    Mat<T> gw = c.MatMul(dycol, true, Role::kGemmGrad, 0, cols_, false, Role::kGemmIn, 0);
    c.Histogram(HistKind::kWeightGrad, gw);
    c.Round(gw, Role::kWeightGrad, 0);
    weight_.grad = std::move(gw);
    Mat<T> gb = dycol.colwise().sum();
    c.Round(gb, Role::kWeightGrad, 1);
    bias_.grad = std::move(gb);
    const Mat<T> dcols = c.MatMul(dycol, false, Role::kGemmGrad, 0, weight_.value, false, Role::kGemmW, 0);
    // col2im: every patch element adds into the pixel it was read from.
    Mat<T> dx = Mat<T>::Zero(batch_, Ix(c_in_ * h_ * w_in_));
    ForEachTap([&](Eigen::Index b, Eigen::Index r, Eigen::Index col, Eigen::Index pixel) { dx(b, pixel) += dcols(r, col); });
    c.Histogram(HistKind::kActGrad, dx);
    c.Round(dx, Role::kActGrad);
    return dx;
  }

 private:
  // Calls f(b, row of cols_, column of cols_, input pixel) for every patch
  // element that covers a pixel (padding taps are skipped), in the one
  // order both im2col and col2im use.
  template <class F>
  void ForEachTap(F f) const {
    using layers_detail::Ix;
    const Eigen::Index hw = Ix(ho_ * wo_);
    for (Eigen::Index b = 0; b < batch_; ++b)
      for (size_t oy = 0; oy < ho_; ++oy)
        for (size_t ox = 0; ox < wo_; ++ox) {
          const Eigen::Index r = b * hw + Ix(oy * wo_ + ox);
          for (size_t ci = 0; ci < c_in_; ++ci)
            for (size_t ky = 0; ky < k_; ++ky) {
              const size_t iy = oy * s_ + ky;  // padded coordinates
              if (iy < p_ || iy - p_ >= h_) continue;
              for (size_t kx = 0; kx < k_; ++kx) {
                const size_t ix = ox * s_ + kx;
                if (ix < p_ || ix - p_ >= w_in_) continue;
                f(b, r, Ix((ci * k_ + ky) * k_ + kx), Ix((ci * h_ + iy - p_) * w_in_ + ix - p_));
              }
            }
        }
  }

  size_t c_in_, h_, w_in_, c_out_, k_, s_, p_, ho_ = 0, wo_ = 0;
  Param<T> weight_, bias_;
  Eigen::Index batch_ = 0;
  Mat<T> cols_;  // the patches of the last forward pass
};

// x * 0.5 * (1 + erf(x / sqrt(2))), as PyTorch's exact GELU computes it;
// its derivative cdf(x) + x * pdf(x) as PyTorch's GeluBackward does.
// Slots: act 0, act_grad 0.
template <class T>
class GELU : public Layer<T> {
 public:
  explicit GELU(std::string name) { this->name = std::move(name); }

 protected:
  static constexpr double kSqrt1_2 = std::numbers::sqrt2 / 2;                    // M_SQRT1_2
  static constexpr double kAlpha = 2 * std::numbers::inv_sqrtpi * kSqrt1_2 * 0.5;  // 1/sqrt(2 pi)

  Mat<T> Forward(Ctx<T>& c, const Mat<T>& x) override {
    x_ = x;
    Mat<T> y = x.unaryExpr([](T v) { return v * T(0.5) * (T(1) + std::erf(v * T(kSqrt1_2))); });
    c.Histogram(HistKind::kAct, y);
    c.Round(y, Role::kAct);
    return y;
  }
  Mat<T> Backward(Ctx<T>& c, const Mat<T>& dy) override {
    Mat<T> dx = dy.binaryExpr(x_, [](T g, T v) {
      const T cdf = T(0.5) * (T(1) + std::erf(v * T(kSqrt1_2)));
      const T pdf = T(kAlpha) * std::exp(v * v * T(-0.5));
      return g * (cdf + v * pdf);
    });
    c.Histogram(HistKind::kActGrad, dx);
    c.Round(dx, Role::kActGrad);
    return dx;
  }

 private:
  Mat<T> x_;
};

// Layer normalisation over each row: (x - mean) / sqrt(var + eps) * weight
// + bias, var the biased variance; weight starts at 1 and bias at 0
// (PyTorch). Computed in T; the output is rounded for f32_ops (autocast keeps
// layer_norm in float32). Slots: f32_ops 0, act_grad 0, weight_grad 0
// (weight) and 1 (bias).
template <class T>
class LayerNorm : public Layer<T> {
 public:
  LayerNorm(std::string name, size_t features, double eps = 1e-5) : eps_(eps) {
    this->name = name;
    weight_.name = name + ".weight";
    bias_.name = name + ".bias";
    weight_.value = Mat<T>::Ones(1, layers_detail::Ix(features));
    bias_.value = Mat<T>::Zero(1, layers_detail::Ix(features));
  }
  std::vector<Param<T>*> Params() override { return {&weight_, &bias_}; }

 protected:
  Mat<T> Forward(Ctx<T>& c, const Mat<T>& x) override {
    const Eigen::Index n = x.rows(), f = x.cols();
    xhat_.resize(n, f);
    rstd_.resize(n);
    for (Eigen::Index i = 0; i < n; ++i) {
      const T mean = x.row(i).sum() / static_cast<T>(f);
      const T var = (x.row(i).array() - mean).square().sum() / static_cast<T>(f);
      rstd_[static_cast<size_t>(i)] = T(1) / std::sqrt(var + static_cast<T>(eps_));
      xhat_.row(i) = ((x.row(i).array() - mean) * rstd_[static_cast<size_t>(i)]).matrix();
    }
    Mat<T> y = ((xhat_.array().rowwise() * weight_.value.row(0).array()).rowwise() + bias_.value.row(0).array()).matrix();
    c.Histogram(HistKind::kAct, y);
    c.Round(y, Role::kF32Ops);
    return y;
  }
  Mat<T> Backward(Ctx<T>& c, const Mat<T>& dy) override {
    const Eigen::Index n = dy.rows(), f = dy.cols();
    Mat<T> gw = (dy.array() * xhat_.array()).colwise().sum().matrix();
    c.Histogram(HistKind::kWeightGrad, gw);
    c.Round(gw, Role::kWeightGrad, 0);
    weight_.grad = std::move(gw);
    Mat<T> gb = dy.colwise().sum();
    c.Round(gb, Role::kWeightGrad, 1);
    bias_.grad = std::move(gb);
    // dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * weight.
    Mat<T> dx(n, f);
    for (Eigen::Index i = 0; i < n; ++i) {
      const auto g = (dy.row(i).array() * weight_.value.row(0).array()).eval();
      const T mg = g.sum() / static_cast<T>(f);
      const T mgx = (g * xhat_.row(i).array()).sum() / static_cast<T>(f);
      dx.row(i) = ((g - mg - xhat_.row(i).array() * mgx) * rstd_[static_cast<size_t>(i)]).matrix();
    }
    c.Histogram(HistKind::kActGrad, dx);
    c.Round(dx, Role::kActGrad);
    return dx;
  }

 private:
  double eps_;
  Param<T> weight_, bias_;
  Mat<T> xhat_;
  std::vector<T> rstd_;
};

// Token embeddings plus learned position embeddings: row r of the input's
// tokens (all its elements in row-major order: a batch x T matrix of ids or
// a (batch*T) x 1 column, ids as exact floats in [0, vocab)) becomes
// weight[id] + position[r % T]. Both tables start N(0, 1) (nn.Embedding).
// Weight gradients are scatter-adds of dy; the input gradient is zero.
// Slots: act 0, weight_grad 0 (weight) and 1 (position).
template <class T>
class Embedding : public Layer<T> {
 public:
  Embedding(std::string name, size_t vocab, size_t dim, size_t seq_len, Rng& rng) : vocab_(vocab), seq_(seq_len) {
    if (vocab == 0 || dim == 0 || seq_len == 0)
      throw std::invalid_argument("embedding '" + name + "': vocab, dim and seq_len must be > 0");
    this->name = name;
    weight_.name = name + ".weight";
    position_.name = name + ".position";
    weight_.value.resize(layers_detail::Ix(vocab), layers_detail::Ix(dim));
    position_.value.resize(layers_detail::Ix(seq_len), layers_detail::Ix(dim));
    layers_detail::FillNormal(weight_.value, rng);
    layers_detail::FillNormal(position_.value, rng);
  }
  std::vector<Param<T>*> Params() override { return {&weight_, &position_}; }

 protected:
  Mat<T> Forward(Ctx<T>& c, const Mat<T>& x) override {
    const Eigen::Index n = x.size(), seq = layers_detail::Ix(seq_);
    if (n % seq != 0)
      throw std::invalid_argument("embedding '" + this->name + "': " + std::to_string(n) +
                                  " tokens are not whole sequences of " + std::to_string(seq_));
    in_rows_ = x.rows();
    in_cols_ = x.cols();
    ids_.resize(static_cast<size_t>(n));
    Mat<T> y(n, weight_.value.cols());
    for (Eigen::Index r = 0; r < n; ++r) {
      const T v = x.data()[r];
      if (!(v >= T(0) && v < static_cast<T>(vocab_) && v == std::floor(v)))
        throw std::invalid_argument("embedding '" + this->name + "': token " + std::to_string(static_cast<double>(v)) +
                                    " is not an integer in [0, " + std::to_string(vocab_) + ")");
      ids_[static_cast<size_t>(r)] = static_cast<Eigen::Index>(v);
      y.row(r) = weight_.value.row(ids_[static_cast<size_t>(r)]) + position_.value.row(r % seq);
    }
    c.Histogram(HistKind::kAct, y);
    c.Round(y, Role::kAct);
    return y;
  }
  Mat<T> Backward(Ctx<T>& c, const Mat<T>& dy) override {
    const Eigen::Index seq = layers_detail::Ix(seq_);
    Mat<T> gw = Mat<T>::Zero(weight_.value.rows(), weight_.value.cols());
    Mat<T> gp = Mat<T>::Zero(position_.value.rows(), position_.value.cols());
    for (Eigen::Index r = 0; r < dy.rows(); ++r) {
      gw.row(ids_[static_cast<size_t>(r)]) += dy.row(r);
      gp.row(r % seq) += dy.row(r);
    }
    c.Histogram(HistKind::kWeightGrad, gw);
    c.Round(gw, Role::kWeightGrad, 0);
    weight_.grad = std::move(gw);
    c.Histogram(HistKind::kWeightGrad, gp);
    c.Round(gp, Role::kWeightGrad, 1);
    position_.grad = std::move(gp);
    return Mat<T>::Zero(in_rows_, in_cols_);
  }

 private:
  size_t vocab_, seq_;
  Param<T> weight_, position_;
  std::vector<Eigen::Index> ids_;
  Eigen::Index in_rows_ = 0, in_cols_ = 0;
};

// Multi-head self-attention without a mask over sequences of seq_len rows,
// with nn.MultiheadAttention's parameters and initialisation: in_proj_weight
// (3*dim x dim: the Q, K, V projections stacked, Xavier-uniform),
// in_proj_bias (0), out_proj.weight (U(+-1/sqrt(dim))), out_proj.bias (0).
// Head h uses columns [h*dh, (h+1)*dh) of Q, K and V (dh = dim / heads):
//   QKV = X Win^T + bin                            (Ctx::MatMul)
//   S = Q_h K_h^T / sqrt(dh), P = softmax(S) by row
//   A_h = P V_h,  Y = A Wo^T + bo                  (Ctx::MatMul)
// The per-sequence, per-head products are batched GEMMs: each of their
// operands is rounded once, as one tensor, for its GEMM role, laid out so
// that the GEMM's K runs along its rows (RoundRuns), exactly as a batched
// Ctx::MatMul would; the products are computed in T.
// Slots:
//   gemm_in    0 X, 1 Q, 2 K (scores), 3 P, 4 V (P V), 5 A (out proj),
//              6 V (dP), 7 P (dV), 8 K (dQ), 9 Q (dK)
//   gemm_w     0 Win, 1 Wo
//   gemm_grad  0 dY, 1 dA (dP), 2 dA (dV), 3 dS (dQ), 4 dS (dK), 5 dQKV
//   act        0 QKV, 1 S, 2 A, 3 Y;  f32_ops 0 P
//   act_grad   0 dA, 1 dP, 2 dS, 3 dQKV, 4 dX
//   weight_grad 0 in_proj_weight, 1 in_proj_bias, 2 out_proj.weight, 3 out_proj.bias
template <class T>
class MultiHeadSelfAttention : public Layer<T> {
 public:
  MultiHeadSelfAttention(std::string name, size_t dim, size_t heads, size_t seq_len, Rng& rng)
      : dim_(dim), heads_(heads), seq_(seq_len) {
    if (dim == 0 || heads == 0 || dim % heads != 0 || seq_len == 0)
      throw std::invalid_argument("attention '" + name + "': dim " + std::to_string(dim) +
                                  " is not a positive multiple of heads " + std::to_string(heads) +
                                  " (or seq_len is 0)");
    using layers_detail::Ix;
    this->name = name;
    win_.name = name + ".in_proj_weight";
    bin_.name = name + ".in_proj_bias";
    wo_.name = name + ".out_proj.weight";
    bo_.name = name + ".out_proj.bias";
    win_.value.resize(Ix(3 * dim), Ix(dim));
    layers_detail::FillUniform(win_.value, std::sqrt(6.0 / static_cast<double>(dim + 3 * dim)), rng);
    bin_.value = Mat<T>::Zero(1, Ix(3 * dim));
    wo_.value.resize(Ix(dim), Ix(dim));
    layers_detail::FillUniform(wo_.value, 1.0 / std::sqrt(static_cast<double>(dim)), rng);
    bo_.value = Mat<T>::Zero(1, Ix(dim));
  }
  std::vector<Param<T>*> Params() override { return {&win_, &bin_, &wo_, &bo_}; }

 protected:
  Mat<T> Forward(Ctx<T>& c, const Mat<T>& x) override {
    using layers_detail::Ix;
    using layers_detail::RoundRuns;
    const Eigen::Index n = x.rows(), d = Ix(dim_), H = Ix(heads_), L = Ix(seq_), dh = d / H;
    if (x.cols() != d || n % L != 0)
      throw std::invalid_argument("attention '" + this->name + "': input " + std::to_string(n) + "x" +
                                  std::to_string(x.cols()) + " is not sequences of " + std::to_string(seq_) + " x " +
                                  std::to_string(dim_));
    const Eigen::Index B = n / L;
    x_ = x;
    Mat<T> qkv = c.MatMul(x, false, Role::kGemmIn, 0, win_.value, true, Role::kGemmW, 0);
    qkv.rowwise() += bin_.value.row(0);
    c.Histogram(HistKind::kAct, qkv);
    c.Round(qkv, Role::kAct, 0);
    q_ = qkv.leftCols(d);
    k_ = qkv.middleCols(d, d);
    v_ = qkv.rightCols(d);

    const Mat<T> qs = RoundRuns(c, q_, dh, Role::kGemmIn, 1), ks = RoundRuns(c, k_, dh, Role::kGemmIn, 2);
    Mat<T> s(B * H * L, L);
    for (Eigen::Index b = 0; b < B; ++b)
      for (Eigen::Index h = 0; h < H; ++h)
        s.block((b * H + h) * L, 0, L, L).noalias() =
            qs.block(b * L, h * dh, L, dh) * ks.block(b * L, h * dh, L, dh).transpose();
    s *= Scale();
    c.Histogram(HistKind::kAct, s);
    c.Round(s, Role::kAct, 1);

    p_.resize(s.rows(), L);
    for (Eigen::Index i = 0; i < s.rows(); ++i) {
      const T m = s.row(i).maxCoeff();
      p_.row(i) = (s.row(i).array() - m).exp().matrix();
      p_.row(i) /= p_.row(i).sum();
    }
    c.Round(p_, Role::kF32Ops, 0);

    const Mat<T> ps = RoundRuns(c, p_, L, Role::kGemmIn, 3);
    const Mat<T> vt = RoundRuns(c, ByTime(v_, B), L, Role::kGemmIn, 4);
    a_.resize(n, d);
    for (Eigen::Index b = 0; b < B; ++b)
      for (Eigen::Index h = 0; h < H; ++h)
        a_.block(b * L, h * dh, L, dh).noalias() =
            ps.block((b * H + h) * L, 0, L, L) * vt.block((b * H + h) * dh, 0, dh, L).transpose();
    c.Histogram(HistKind::kAct, a_);
    c.Round(a_, Role::kAct, 2);

    Mat<T> y = c.MatMul(a_, false, Role::kGemmIn, 5, wo_.value, true, Role::kGemmW, 1);
    y.rowwise() += bo_.value.row(0);
    c.Histogram(HistKind::kAct, y);
    c.Round(y, Role::kAct, 3);
    return y;
  }

  Mat<T> Backward(Ctx<T>& c, const Mat<T>& dy) override {
    using layers_detail::Ix;
    using layers_detail::RoundRuns;
    const Eigen::Index n = dy.rows(), d = Ix(dim_), H = Ix(heads_), L = Ix(seq_), dh = d / H, B = n / L;

    const Mat<T> da = ProjectionBackward(c, dy, a_, wo_, bo_, ProjectionSlots{0, 5, 1, 2, 0});

    // dP = dA_h V_h^T (K = dh).
    const Mat<T> das = RoundRuns(c, da, dh, Role::kGemmGrad, 1), vs = RoundRuns(c, v_, dh, Role::kGemmIn, 6);
    Mat<T> dp(B * H * L, L);
    for (Eigen::Index b = 0; b < B; ++b)
      for (Eigen::Index h = 0; h < H; ++h)
        dp.block((b * H + h) * L, 0, L, L).noalias() =
            das.block(b * L, h * dh, L, dh) * vs.block(b * L, h * dh, L, dh).transpose();
    c.Histogram(HistKind::kActGrad, dp);
    c.Round(dp, Role::kActGrad, 1);

    // dV_h = P^T dA_h (K = the query index).
    const Mat<T> pt = RoundRuns(c, TransposeBlocks(p_), L, Role::kGemmIn, 7);
    const Mat<T> dat = RoundRuns(c, ByTime(da, B), L, Role::kGemmGrad, 2);
    Mat<T> dqkv(n, 3 * d);
    for (Eigen::Index b = 0; b < B; ++b)
      for (Eigen::Index h = 0; h < H; ++h)
        dqkv.block(b * L, 2 * d + h * dh, L, dh).noalias() =
            pt.block((b * H + h) * L, 0, L, L) * dat.block((b * H + h) * dh, 0, dh, L).transpose();

    // Softmax backward, times the scores' scale: dS = P * (dP - rowsum(dP * P)) / sqrt(dh).
    Mat<T> ds(dp.rows(), L);
    for (Eigen::Index i = 0; i < dp.rows(); ++i) {
      const T dot = (dp.row(i).array() * p_.row(i).array()).sum();
      ds.row(i) = (p_.row(i).array() * (dp.row(i).array() - dot) * Scale()).matrix();
    }
    c.Histogram(HistKind::kActGrad, ds);
    c.Round(ds, Role::kActGrad, 2);

    // dQ_h = dS K_h (K = the key index); dK_h = dS^T Q_h (K = the query index).
    const Mat<T> dss = RoundRuns(c, ds, L, Role::kGemmGrad, 3);
    const Mat<T> kt = RoundRuns(c, ByTime(k_, B), L, Role::kGemmIn, 8);
    const Mat<T> dst = RoundRuns(c, TransposeBlocks(ds), L, Role::kGemmGrad, 4);
    const Mat<T> qt = RoundRuns(c, ByTime(q_, B), L, Role::kGemmIn, 9);
    for (Eigen::Index b = 0; b < B; ++b)
      for (Eigen::Index h = 0; h < H; ++h) {
        const Eigen::Index r = (b * H + h) * L, t = (b * H + h) * dh;
        dqkv.block(b * L, h * dh, L, dh).noalias() = dss.block(r, 0, L, L) * kt.block(t, 0, dh, L).transpose();
        dqkv.block(b * L, d + h * dh, L, dh).noalias() = dst.block(r, 0, L, L) * qt.block(t, 0, dh, L).transpose();
      }
    c.Histogram(HistKind::kActGrad, dqkv);
    c.Round(dqkv, Role::kActGrad, 3);

    return ProjectionBackward(c, dqkv, x_, win_, bin_, ProjectionSlots{5, 0, 0, 0, 4});
  }

 private:
  T Scale() const { return static_cast<T>(1.0 / std::sqrt(static_cast<double>(dim_ / heads_))); }

  // m (batch*L x dim) with every (sequence, head) block transposed: row
  // (b*H + h)*dh + e holds m[b*L + i, h*dh + e] for i = 0..L-1.
  Mat<T> ByTime(const Mat<T>& m, Eigen::Index batch) const {
    using layers_detail::Ix;
    const Eigen::Index H = Ix(heads_), L = Ix(seq_), dh = Ix(dim_) / H;
    Mat<T> t(batch * H * dh, L);
    for (Eigen::Index b = 0; b < batch; ++b)
      for (Eigen::Index h = 0; h < H; ++h) t.block((b * H + h) * dh, 0, dh, L) = m.block(b * L, h * dh, L, dh).transpose();
    return t;
  }
  // m (blocks of L x L stacked) with every block transposed.
  Mat<T> TransposeBlocks(const Mat<T>& m) const {
    const Eigen::Index L = layers_detail::Ix(seq_);
    Mat<T> t(m.rows(), L);
    for (Eigen::Index r = 0; r < m.rows(); r += L) t.block(r, 0, L, L) = m.block(r, 0, L, L).transpose();
    return t;
  }

  size_t dim_, heads_, seq_;
  Param<T> win_, bin_, wo_, bo_;
  Mat<T> x_, q_, k_, v_, p_, a_;
};

// y = x + inner(x). The sum is rounded for act with the Ctx pointed at the
// inner layers' last leaf (slot kSlot, apart from that leaf's own outputs);
// in backward dx = dy + inner'(dy) is rounded for act_grad at the inner
// layers' first leaf (where the input branches), slot kSlot. Children() are
// the inner layers, so the leaves inside get the ids and own the parameters.
template <class T>
class Residual : public Layer<T> {
 public:
  static constexpr int kSlot = 16;

  Residual(std::string name, std::unique_ptr<Sequential<T>> inner) : inner_(std::move(inner)) {
    if (!inner_ || inner_->Children().empty()) throw std::invalid_argument("residual '" + name + "': no inner layers");
    this->name = std::move(name);
  }
  std::vector<Layer<T>*> Children() override { return inner_->Children(); }

 protected:
  Mat<T> Forward(Ctx<T>& c, const Mat<T>& x) override {
    Mat<T> y = x + inner_->Fwd(c, x);
    c.SetLayer(layers_detail::LastLeaf<T>(inner_.get())->id);
    c.Histogram(HistKind::kAct, y);
    c.Round(y, Role::kAct, kSlot);
    return y;
  }
  Mat<T> Backward(Ctx<T>& c, const Mat<T>& dy) override {
    Mat<T> dx = dy + inner_->Bwd(c, dy);
    c.SetLayer(layers_detail::FirstLeaf<T>(inner_.get())->id);
    c.Histogram(HistKind::kActGrad, dx);
    c.Round(dx, Role::kActGrad, kSlot);
    return dx;
  }

 private:
  std::unique_ptr<Sequential<T>> inner_;
};

// The last row of every sequence of seq_len rows: (batch*T) x d -> batch x d.
// Exact: nothing is rounded; backward scatters dy into zeros.
template <class T>
class SelectLast : public Layer<T> {
 public:
  SelectLast(std::string name, size_t seq_len) : seq_(seq_len) {
    if (seq_len == 0) throw std::invalid_argument("select_last '" + name + "': seq_len must be > 0");
    this->name = std::move(name);
  }

 protected:
  Mat<T> Forward(Ctx<T>&, const Mat<T>& x) override {
    const Eigen::Index L = layers_detail::Ix(seq_);
    if (x.rows() % L != 0)
      throw std::invalid_argument("select_last '" + this->name + "': " + std::to_string(x.rows()) +
                                  " rows are not whole sequences of " + std::to_string(seq_));
    rows_ = x.rows();
    Mat<T> y(x.rows() / L, x.cols());
    for (Eigen::Index b = 0; b < y.rows(); ++b) y.row(b) = x.row(b * L + L - 1);
    return y;
  }
  Mat<T> Backward(Ctx<T>&, const Mat<T>& dy) override {
    const Eigen::Index L = layers_detail::Ix(seq_);
    Mat<T> dx = Mat<T>::Zero(rows_, dy.cols());
    for (Eigen::Index b = 0; b < dy.rows(); ++b) dx.row(b * L + L - 1) = dy.row(b);
    return dx;
  }

 private:
  size_t seq_;
  Eigen::Index rows_ = 0;
};

}  // namespace floatscope::train
