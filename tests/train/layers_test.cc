// train/layers.h and the cnn / transformer models of train/zoo.h.
//
// Gradients: every layer's Backward (its input gradient and every parameter
// gradient) against float64 finite differences (five-point central
// differences) of f = sum(y * R), R random, on a Model<double> with a
// Ctx<double> (which rounds nothing); the whole cnn and transformer through
// Model::Loss. The error of a tensor is max |analytic - numeric| /
// max |numeric| over the entries checked and must stay below 1e-6; a tensor
// whose numeric gradient is all zero fails (the check would prove nothing).
// ReLU kinks: an entry whose perturbation flips the sign of any ReLU input
// is skipped (the function is not differentiable there).
//
// Forward values: against direct, independent computations (a seven-loop
// convolution, per-head attention with scalar loops, known GELU values...).
// Rounding: with no role active Ctx<float> is plain Eigen float math
// (Linear, bit for bit); Residual rounds its sum at the inner layers' last
// leaf and its input gradient at their first leaf.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "formats/catalog.h"
#include "train/layers.h"
#include "train/model.h"
#include "train/zoo.h"

using namespace floatscope::train;

namespace {

using M = Mat<double>;
using Index = Eigen::Index;

constexpr double kTolerance = 1e-6;
constexpr double kStep = 1e-4;

M Normal(Rng& rng, Index rows, Index cols, double scale = 1) {
  M m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = scale * rng.Normal();
  return m;
}

// Token ids in [0, vocab) as exact doubles.
M Tokens(Rng& rng, Index rows, Index cols, size_t vocab) {
  M m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<double>(rng.Below(vocab));
  return m;
}

// df/dv(i), five-point central difference.
double Numeric(M& v, Index i, const std::function<double()>& f) {
  const double old = v.data()[i];
  auto at = [&](double t) {
    v.data()[i] = old + t;
    return f();
  };
  const double d = (-at(2 * kStep) + 8 * at(kStep) - 8 * at(-kStep) + at(-2 * kStep)) / (12 * kStep);
  v.data()[i] = old;
  return d;
}

struct GradError {
  double max_err = 0;  // max |analytic - numeric|
  double max_num = 0;  // max |numeric|
  size_t checked = 0, skipped = 0;
  double Relative() const { return max_err / max_num; }
};

// Compares the analytic gradient g of f with respect to v against finite
// differences: every entry when v has at most `limit`, else the limit/2
// entries of largest |g| and limit/2 random others. `kink` (optional) is set
// by f when an evaluation crossed a ReLU kink; such entries are skipped.
GradError Compare(M& v, const M& g, const std::function<double()>& f, size_t limit, Rng& rng, bool* kink = nullptr) {
  REQUIRE(v.rows() == g.rows());
  REQUIRE(v.cols() == g.cols());
  std::vector<Index> idx(static_cast<size_t>(v.size()));
  for (Index i = 0; i < v.size(); ++i) idx[static_cast<size_t>(i)] = i;
  if (idx.size() > limit) {
    std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(limit / 2), idx.end(),
                      [&](Index a, Index b) { return std::fabs(g.data()[a]) > std::fabs(g.data()[b]); });
    for (size_t k = limit / 2; k < limit; ++k)
      std::swap(idx[k], idx[k + static_cast<size_t>(rng.Below(idx.size() - k))]);
    idx.resize(limit);
  }
  GradError e;
  for (const Index i : idx) {
    if (kink) *kink = false;
    const double num = Numeric(v, i, f);
    if (kink && *kink) {
      ++e.skipped;
      continue;
    }
    e.max_err = std::max(e.max_err, std::fabs(g.data()[i] - num));
    e.max_num = std::max(e.max_num, std::fabs(num));
    ++e.checked;
  }
  return e;
}

void RequireClose(const GradError& e, const std::string& what) {
  INFO(what << ": checked " << e.checked << " (skipped " << e.skipped << "), max |numeric| " << e.max_num
            << ", max |error| " << e.max_err);
  REQUIRE(e.checked > 0);
  REQUIRE(e.max_num > 0);
  CHECK(e.Relative() < kTolerance);
}

// One layer alone as a Model<double>: its parameters are moved off their
// initial values (zero biases, unit LayerNorm weights) so that every term of
// the gradient matters, then dy = R, dx and every parameter gradient are
// checked against differences of sum(Forward(x) * R).
void CheckLayer(LayerPtr<double> layer, M x, Rng& rng, bool input_grad = true, size_t limit = 400) {
  Layer<double>* root = layer.get();
  Model<double> model(std::move(layer));
  Ctx<double> c;
  for (Param<double>* p : model.Params()) p->value += Normal(rng, p->value.rows(), p->value.cols(), 0.3);
  const M y = model.Forward(c, x);
  const M r = Normal(rng, y.rows(), y.cols());
  const M dx = root->Bwd(c, r);
  std::vector<M> grads;
  for (Param<double>* p : model.Params()) grads.push_back(p->grad);
  auto f = [&] { return (model.Forward(c, x).array() * r.array()).sum(); };
  REQUIRE(dx.rows() == x.rows());
  REQUIRE(dx.cols() == x.cols());
  if (input_grad) {
    RequireClose(Compare(x, dx, f, limit, rng), root->name + " input");
  } else {
    CHECK(dx.isZero(0));
  }
  for (size_t i = 0; i < grads.size(); ++i)
    RequireClose(Compare(model.Params()[i]->value, grads[i], f, limit, rng), model.Params()[i]->name);
}

}  // namespace

TEST_CASE("Conv2d: a direct convolution forward, finite-difference backward") {
  struct Shape {
    size_t c_in, h, w, c_out, k, stride, pad;
  };
  for (const Shape s : {Shape{2, 5, 4, 3, 3, 2, 1}, Shape{1, 6, 6, 2, 3, 1, 1}, Shape{3, 4, 5, 2, 2, 1, 0},
                        Shape{2, 7, 5, 3, 3, 3, 2}}) {
    CAPTURE(s.c_in);
    CAPTURE(s.h);
    CAPTURE(s.w);
    CAPTURE(s.stride);
    CAPTURE(s.pad);
    Rng rng(11 + s.h * 7 + s.stride);
    auto conv = std::make_unique<Conv2d<double>>("conv", s.c_in, s.h, s.w, s.c_out, s.k, s.stride, s.pad, rng);
    const size_t ho = (s.h + 2 * s.pad - s.k) / s.stride + 1, wo = (s.w + 2 * s.pad - s.k) / s.stride + 1;
    REQUIRE(conv->OutH() == ho);
    REQUIRE(conv->OutW() == wo);
    const Index batch = 2;
    const M x = Normal(rng, batch, static_cast<Index>(s.c_in * s.h * s.w));
    // y[b, co, oy, ox] = bias[co] + sum w[co, ci, ky, kx] x[b, ci, oy*s - p + ky, ox*s - p + kx].
    Ctx<double> c;
    const M w = conv->Params()[0]->value, bias = conv->Params()[1]->value;
    const M y = conv->Fwd(c, x);
    REQUIRE(y.rows() == batch);
    REQUIRE(y.cols() == static_cast<Index>(s.c_out * ho * wo));
    double max_diff = 0;
    for (Index b = 0; b < batch; ++b)
      for (size_t co = 0; co < s.c_out; ++co)
        for (size_t oy = 0; oy < ho; ++oy)
          for (size_t ox = 0; ox < wo; ++ox) {
            double acc = bias(0, static_cast<Index>(co));
            for (size_t ci = 0; ci < s.c_in; ++ci)
              for (size_t ky = 0; ky < s.k; ++ky)
                for (size_t kx = 0; kx < s.k; ++kx) {
                  const long iy = static_cast<long>(oy * s.stride + ky) - static_cast<long>(s.pad);
                  const long ix = static_cast<long>(ox * s.stride + kx) - static_cast<long>(s.pad);
                  if (iy < 0 || ix < 0 || iy >= static_cast<long>(s.h) || ix >= static_cast<long>(s.w)) continue;
                  acc += w(static_cast<Index>(co), static_cast<Index>((ci * s.k + ky) * s.k + kx)) *
                         x(b, static_cast<Index>(ci * s.h * s.w) + iy * static_cast<Index>(s.w) + ix);
                }
            max_diff = std::max(max_diff, std::fabs(acc - y(b, static_cast<Index>((co * ho + oy) * wo + ox))));
          }
    CHECK(max_diff < 1e-12);
    CheckLayer(std::move(conv), x, rng);
  }
  Rng rng(1);
  CHECK_THROWS_AS(Conv2d<double>("bad", 1, 2, 2, 1, 5, 1, 1, rng), std::invalid_argument);
}

TEST_CASE("GELU: PyTorch's exact values, finite-difference backward") {
  Rng rng(2);
  GELU<double> g("gelu");
  Ctx<double> c;
  M x(1, 5);
  x << -3, -1, 0, 1, 2;
  const M y = g.Fwd(c, x);
  // torch.nn.functional.gelu(torch.tensor([-3., -1., 0., 1., 2.], dtype=torch.float64))
  CHECK(y(0, 0) == doctest::Approx(-0.004049694094890284).epsilon(1e-13));
  CHECK(y(0, 1) == doctest::Approx(-0.15865525393145707).epsilon(1e-14));
  CHECK(y(0, 2) == 0.0);
  CHECK(y(0, 3) == doctest::Approx(0.8413447460685429).epsilon(1e-14));
  CHECK(y(0, 4) == doctest::Approx(1.9544997361036416).epsilon(1e-14));
  CheckLayer(std::make_unique<GELU<double>>("gelu"), Normal(rng, 4, 7, 2.0), rng);
}

TEST_CASE("LayerNorm: normalised rows, finite-difference backward") {
  Rng rng(3);
  LayerNorm<double> ln("ln", 6);
  Ctx<double> c;
  const M x = (Normal(rng, 5, 6, 3.0).array() + 2.0).matrix();
  const M y = ln.Fwd(c, x);
  for (Index i = 0; i < x.rows(); ++i) {
    const double mean = x.row(i).mean();
    const double var = (x.row(i).array() - mean).square().mean();
    CHECK(std::fabs(y.row(i).mean()) < 1e-14);
    CHECK(y.row(i).array().square().mean() == doctest::Approx(var / (var + 1e-5)).epsilon(1e-13));
  }
  CheckLayer(std::make_unique<LayerNorm<double>>("ln", 6), x, rng);
  CheckLayer(std::make_unique<LayerNorm<double>>("ln", 1 + 16), Normal(rng, 3, 17), rng);
}

TEST_CASE("Embedding: token plus position rows, scatter-add gradients") {
  Rng rng(4);
  const size_t vocab = 5, dim = 4, seq = 3;
  Embedding<double> e("emb", vocab, dim, seq, rng);
  Ctx<double> c;
  const M ids = Tokens(rng, 4, seq, vocab);  // batch x T, as the trainer feeds it
  const M y = e.Fwd(c, ids);
  REQUIRE(y.rows() == 4 * static_cast<Index>(seq));
  const M& w = e.Params()[0]->value;
  const M& pos = e.Params()[1]->value;
  for (Index r = 0; r < y.rows(); ++r)
    CHECK(y.row(r) == w.row(static_cast<Index>(ids.data()[r])) + pos.row(r % static_cast<Index>(seq)));
  const M column = Eigen::Map<const M>(ids.data(), ids.size(), 1);  // (batch*T) x 1
  CHECK(e.Fwd(c, column) == y);
  M bad = ids;
  bad(1, 1) = 5;
  CHECK_THROWS_AS(e.Fwd(c, bad), std::invalid_argument);
  bad(1, 1) = 0.5;
  CHECK_THROWS_AS(e.Fwd(c, bad), std::invalid_argument);
  CHECK_THROWS_AS(e.Fwd(c, M::Zero(2, 2)), std::invalid_argument);
  // A batch that uses every token (so that every row of the gradient is checked).
  M all = Tokens(rng, 6, seq, vocab);
  for (Index i = 0; i < static_cast<Index>(vocab); ++i) all.data()[i * 3] = static_cast<double>(i);
  CheckLayer(std::make_unique<Embedding<double>>("emb", vocab, dim, seq, rng), all, rng, false);
}

namespace {

// Multi-head self-attention with scalar loops, from the parameters.
M ReferenceAttention(const M& x, const M& win, const M& bin, const M& wo, const M& bo, size_t heads, size_t seq) {
  const Index d = x.cols(), dh = d / static_cast<Index>(heads), L = static_cast<Index>(seq);
  M qkv(x.rows(), 3 * d);
  for (Index n = 0; n < x.rows(); ++n)
    for (Index o = 0; o < 3 * d; ++o) {
      double acc = bin(0, o);
      for (Index i = 0; i < d; ++i) acc += x(n, i) * win(o, i);
      qkv(n, o) = acc;
    }
  M a = M::Zero(x.rows(), d);
  for (Index b = 0; b < x.rows() / L; ++b)
    for (Index h = 0; h < static_cast<Index>(heads); ++h)
      for (Index i = 0; i < L; ++i) {
        std::vector<double> s(static_cast<size_t>(L));
        double mx = -1e300, sum = 0;
        for (Index j = 0; j < L; ++j) {
          double dot = 0;
          for (Index e = 0; e < dh; ++e) dot += qkv(b * L + i, h * dh + e) * qkv(b * L + j, d + h * dh + e);
          s[static_cast<size_t>(j)] = dot / std::sqrt(static_cast<double>(dh));
          mx = std::max(mx, s[static_cast<size_t>(j)]);
        }
        for (double& v : s) sum += (v = std::exp(v - mx));
        for (Index j = 0; j < L; ++j)
          for (Index e = 0; e < dh; ++e)
            a(b * L + i, h * dh + e) += s[static_cast<size_t>(j)] / sum * qkv(b * L + j, 2 * d + h * dh + e);
      }
  M y(x.rows(), d);
  for (Index n = 0; n < x.rows(); ++n)
    for (Index o = 0; o < d; ++o) {
      double acc = bo(0, o);
      for (Index i = 0; i < d; ++i) acc += a(n, i) * wo(o, i);
      y(n, o) = acc;
    }
  return y;
}

}  // namespace

TEST_CASE("MultiHeadSelfAttention: per-head reference forward, finite-difference backward") {
  struct Shape {
    size_t dim, heads, seq, batch;
  };
  for (const Shape s : {Shape{8, 2, 3, 2}, Shape{6, 1, 4, 2}, Shape{12, 4, 5, 3}}) {
    CAPTURE(s.dim);
    CAPTURE(s.heads);
    CAPTURE(s.seq);
    Rng rng(5 + s.dim);
    auto attn = std::make_unique<MultiHeadSelfAttention<double>>("attn", s.dim, s.heads, s.seq, rng);
    std::vector<Param<double>*> p = attn->Params();
    REQUIRE(p.size() == 4);
    CHECK(p[0]->name == "attn.in_proj_weight");
    CHECK(p[3]->name == "attn.out_proj.bias");
    for (Param<double>* q : p) q->value += Normal(rng, q->value.rows(), q->value.cols(), 0.2);
    const M x = Normal(rng, static_cast<Index>(s.batch * s.seq), static_cast<Index>(s.dim));
    Ctx<double> c;
    const M y = attn->Fwd(c, x);
    const M ref = ReferenceAttention(x, p[0]->value, p[1]->value, p[2]->value, p[3]->value, s.heads, s.seq);
    CHECK((y - ref).cwiseAbs().maxCoeff() < 1e-12);
    CheckLayer(std::move(attn), x, rng);
  }
  Rng rng(5);
  CHECK_THROWS_AS(MultiHeadSelfAttention<double>("bad", 10, 4, 3, rng), std::invalid_argument);
}

TEST_CASE("Residual: x + inner(x), ids over the inner leaves, finite-difference backward") {
  Rng rng(6);
  auto make = [](uint64_t seed) {
    Rng r(seed);
    auto inner = std::make_unique<Sequential<double>>();
    inner->Add(std::make_unique<LayerNorm<double>>("ln", 5));
    inner->Add(std::make_unique<Linear<double>>("fc", 5, 5, r));
    inner->Add(std::make_unique<GELU<double>>("gelu"));
    return inner;
  };
  const M x = Normal(rng, 4, 5);
  {
    auto net = std::make_unique<Sequential<double>>();
    net->Add(std::make_unique<Linear<double>>("first", 5, 5, rng));
    net->Add(std::make_unique<Residual<double>>("res", make(7)));
    Model<double> m(std::move(net));
    REQUIRE(m.Leaves().size() == 4);
    CHECK(m.Leaves()[1]->name == "ln");
    CHECK(m.Leaves()[3]->name == "gelu");
    CHECK(m.Leaves()[3]->id == 3);
    CHECK(m.Params().size() == 6);
    CHECK(m.Params()[2]->layer == 1);  // ln.weight
  }
  Ctx<double> c;
  auto inner = make(7);
  Residual<double> res("res", make(7));
  Model<double> alone(std::move(inner));
  CHECK(res.Fwd(c, x) == x + alone.Forward(c, x));
  CheckLayer(std::make_unique<Residual<double>>("res", make(8)), x, rng);
}

TEST_CASE("SelectLast: the last row of every sequence") {
  Rng rng(7);
  SelectLast<double> s("last", 3);
  Ctx<double> c;
  const M x = Normal(rng, 6, 4);
  const M y = s.Fwd(c, x);
  REQUIRE(y.rows() == 2);
  CHECK(y.row(0) == x.row(2));
  CHECK(y.row(1) == x.row(5));
  CHECK_THROWS_AS(s.Fwd(c, Normal(rng, 4, 4)), std::invalid_argument);
  CheckLayer(std::make_unique<SelectLast<double>>("last", 3), x, rng);
}

namespace {

Dataset Images(size_t c, size_t h, size_t w, size_t classes) {
  Dataset d;
  d.name = "images";
  d.example_shape = {c, h, w};
  d.features = c * h * w;
  d.classes = classes;
  return d;
}

Dataset TokenData(size_t seq, size_t vocab, size_t classes) {
  Dataset d;
  d.name = "tokens";
  d.example_shape = {seq};
  d.features = seq;
  d.vocab = vocab;
  d.classes = classes;
  return d;
}

// Every parameter gradient of a model through Model::Loss against finite
// differences of the loss. `forward` computes the logits (and may flag a
// ReLU kink crossed).
void CheckModel(Model<double>& m, const M& x, const std::vector<int32_t>& labels,
                const std::function<M(Ctx<double>&, bool*)>& forward, Rng& rng, size_t limit) {
  Ctx<double> c;
  const M logits = forward(c, nullptr);
  M dlogits;
  const double loss = m.Loss(c, logits, labels.data(), &dlogits, 1.0, nullptr);
  REQUIRE(std::isfinite(loss));
  m.Backward(c, dlogits);
  std::vector<M> grads;
  for (Param<double>* p : m.Params()) grads.push_back(p->grad);
  bool kink = false;
  auto f = [&] { return m.Loss(c, forward(c, &kink), labels.data(), nullptr, 1.0, nullptr); };
  REQUIRE(x.rows() == static_cast<Index>(labels.size()));
  for (size_t i = 0; i < grads.size(); ++i)
    RequireClose(Compare(m.Params()[i]->value, grads[i], f, limit, rng, &kink), m.Params()[i]->name);
}

}  // namespace

TEST_CASE("cnn: shapes, and every parameter gradient through Model::Loss") {
  Rng rng(8);
  const Dataset d = Images(1, 8, 8, 10);
  auto m = BuildModel<double>("cnn", d, 3);
  std::vector<std::string> names;
  for (Layer<double>* l : m->Leaves()) names.push_back(l->name);
  CHECK(names == std::vector<std::string>{"conv1", "relu1", "conv2", "relu2", "fc1", "relu3", "fc2"});
  CHECK(m->ParamLayerIds() == std::vector<size_t>{0, 2, 4, 6});
  CHECK(m->Params()[4]->value.cols() == 32 * 4 * 4);  // fc1.weight: 32 channels of 4x4
  const Index batch = 3;
  const M x = Normal(rng, batch, 64).cwiseAbs();  // pixels >= 0, like the data sets
  const std::vector<int32_t> labels{3, 0, 9};
  {
    Ctx<double> c;
    const M logits = m->Forward(c, x);
    REQUIRE(logits.rows() == batch);
    REQUIRE(logits.cols() == 10);
  }
  // The root is one Sequential of the leaves: running them in order is
  // Model::Forward, and shows the inputs of the ReLUs.
  std::vector<M> signs;
  auto forward = [&](Ctx<double>& c, bool* kink) {
    M h = x;
    size_t r = 0;
    for (Layer<double>* l : m->Leaves()) {
      if (dynamic_cast<ReLU<double>*>(l)) {
        const M s = (h.array() > 0).cast<double>();
        if (!kink) {
          if (signs.size() <= r) signs.resize(r + 1);
          signs[r] = s;
        } else if (s != signs[r]) {
          *kink = true;
        }
        ++r;
      }
      h = l->Fwd(c, h);
    }
    return h;
  };
  {
    Ctx<double> c;
    const M a = forward(c, nullptr), b = m->Forward(c, x);
    REQUIRE(a == b);
  }
  CheckModel(*m, x, labels, forward, rng, 24);

  // Other image shapes build and run.
  for (const Dataset& o : {Images(1, 28, 28, 10), Images(3, 7, 9, 4), Images(2, 1, 1, 3)}) {
    auto mo = BuildModel<float>("cnn", o, 1);
    Ctx<float> c;
    c.Configure(std::vector<LayerPolicy>(mo->Leaves().size()), 1);
    const Mat<float> logits = mo->Forward(c, Mat<float>::Ones(2, static_cast<Index>(o.features)));
    CHECK(logits.rows() == 2);
    CHECK(logits.cols() == static_cast<Index>(o.classes));
  }
}

TEST_CASE("transformer: layers, and every parameter gradient through Model::Loss") {
  Rng rng(9);
  const size_t seq = 3, vocab = 7, classes = 5;
  const Dataset d = TokenData(seq, vocab, classes);
  auto m = BuildModel<double>("transformer", d, 4);
  std::vector<std::string> names;
  for (Layer<double>* l : m->Leaves()) names.push_back(l->name);
  const std::vector<std::string> block0{"block0.ln1", "block0.attn", "block0.ln2", "block0.fc1", "block0.gelu",
                                        "block0.fc2"};
  REQUIRE(names.size() == 1 + 2 * block0.size() + 3);
  CHECK(names.front() == "embed");
  CHECK(std::vector<std::string>(names.begin() + 1, names.begin() + 7) == block0);
  CHECK(names[7] == "block1.ln1");
  CHECK(names[12] == "block1.fc2");
  CHECK(std::vector<std::string>(names.end() - 3, names.end()) == std::vector<std::string>{"ln_f", "last", "head"});
  for (size_t i = 0; i < m->Leaves().size(); ++i) CHECK(m->Leaves()[i]->id == i);
  CHECK(m->Params().size() == 2 + 2 * 12 + 2 + 2);

  const Index batch = 4;
  const M x = Tokens(rng, batch, static_cast<Index>(seq), vocab);
  const std::vector<int32_t> labels{1, 4, 0, 2};
  {
    Ctx<double> c;
    const M logits = m->Forward(c, x);
    REQUIRE(logits.rows() == batch);
    REQUIRE(logits.cols() == static_cast<Index>(classes));
  }
  auto forward = [&](Ctx<double>& c, bool*) { return m->Forward(c, x); };
  CheckModel(*m, x, labels, forward, rng, 16);
}

TEST_CASE("zoo: one clear ModelError line for a model that does not fit the data") {
  const Dataset tokens = TokenData(3, 7, 5), images = Images(1, 8, 8, 10);
  Dataset flat = images;
  flat.name = "mnist1d";
  flat.example_shape = {40};
  flat.features = 40;
  auto message = [](const std::string& model, const Dataset& d) {
    try {
      BuildModel<float>(model, d, 1);
    } catch (const ModelError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message("cnn", tokens) == "model cnn needs images; data 'tokens' holds tokens (use transformer)");
  CHECK(message("cnn", flat) == "model cnn needs images of shape {C,H,W}; data 'mnist1d' has 1-D examples (use mlp)");
  CHECK(message("transformer", images) ==
        "model transformer needs token data; data 'images' holds real-valued features (use mlp or cnn)");
  CHECK(message("mlp", tokens).find("use transformer") != std::string::npos);
  CHECK(message("resnet", images) == "unknown model 'resnet' (models: mlp, cnn, transformer)");
  CHECK(message("mlp", flat) == "no error");
}

TEST_CASE("Ctx<float> with no role active is plain Eigen float math (Linear, bit for bit)") {
  Rng rng(10);
  Linear<float> fc("fc", 37, 29, rng);
  Ctx<float> c;
  c.Configure({LayerPolicy{}}, 1);
  const Mat<float> x = Normal(rng, 23, 37).cast<float>(), dy = Normal(rng, 23, 29).cast<float>();
  const Mat<float> w = fc.Params()[0]->value, b = fc.Params()[1]->value;
  const Mat<float> y = fc.Fwd(c, x);
  const Mat<float> dx = fc.Bwd(c, dy);

  Mat<float> y_ref = x * w.transpose();
  y_ref.rowwise() += b.row(0);
  const Mat<float> gw_ref = dy.transpose() * x;
  const Mat<float> gb_ref = dy.colwise().sum();
  const Mat<float> dx_ref = dy * w;
  auto same_bits = [](const Mat<float>& a, const Mat<float>& e) {
    REQUIRE(a.rows() == e.rows());
    REQUIRE(a.cols() == e.cols());
    for (Index i = 0; i < a.size(); ++i)
      if (std::bit_cast<uint32_t>(a.data()[i]) != std::bit_cast<uint32_t>(e.data()[i])) return false;
    return true;
  };
  CHECK(same_bits(y, y_ref));
  CHECK(same_bits(fc.Params()[0]->grad, gw_ref));
  CHECK(same_bits(fc.Params()[1]->grad, gb_ref));
  CHECK(same_bits(dx, dx_ref));
  // Not trivially equal: float math differs from the same computation in double.
  const M y64 = (x.cast<double>() * w.cast<double>().transpose()).rowwise() + b.cast<double>().row(0);
  CHECK(!same_bits(y, y64.cast<float>()));
}

TEST_CASE("Residual rounds its sum at the last inner leaf and its input gradient at the first") {
  Rng rng(11);
  auto inner = std::make_unique<Sequential<float>>();
  inner->Add(std::make_unique<Linear<float>>("a", 8, 8, rng));
  inner->Add(std::make_unique<Linear<float>>("b", 8, 8, rng));
  auto res = std::make_unique<Residual<float>>("res", std::move(inner));
  Layer<float>* root = res.get();
  Model<float> m(std::move(res));
  REQUIRE(m.Leaves().size() == 2);
  auto is_bf16 = [](const Mat<float>& a) {
    for (Index i = 0; i < a.size(); ++i)
      if ((std::bit_cast<uint32_t>(a.data()[i]) & 0xFFFFu) != 0) return false;
    return true;
  };
  const Mat<float> x = Normal(rng, 5, 8).cast<float>(), dy = Normal(rng, 5, 8).cast<float>();
  REQUIRE(!is_bf16(x));
  REQUIRE(!is_bf16(dy));
  for (const size_t leaf : {size_t{0}, size_t{1}}) {
    CAPTURE(leaf);
    // act and act_grad in bf16 for one leaf only.
    std::vector<LayerPolicy> p(2);
    p[leaf][Role::kAct].format = &floatscope::formats::kBf16;
    p[leaf][Role::kActGrad].format = &floatscope::formats::kBf16;
    Ctx<float> c;
    c.Configure(p, 1);
    const Mat<float> y = root->Fwd(c, x);
    const Mat<float> dx = root->Bwd(c, dy);
    CHECK(is_bf16(y) == (leaf == 1));
    CHECK(is_bf16(dx) == (leaf == 0));
  }
}
