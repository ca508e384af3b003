// The training lab's CI invariants (train/trainer.h and what it is made of):
//   1. fp64 reproduces the FP64 shadow bit for bit;
//   2. fp32 is a plain float32 MLP, step by step, against an independent
//      implementation written here;
//   3. results do not depend on --threads;
//   4. dynamic loss scaling is torch.amp.GradScaler (vectors from torch 2.11);
//   5. every role rounds exactly the tensors it names and nothing else;
//   6. policy presets resolve and bad policy JSON fails with one line;
//   7. FakeQuant equals the core's casts and the quant recipes per element.
// Every check compares bits (or exact doubles); each is able to fail.
#include <doctest/doctest.h>

#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <Eigen/Dense>
#include <nlohmann/json.hpp>

#include "emulate/array_ops.h"
#include "emulate/quant/fp8_scaling.h"
#include "emulate/quant/mx.h"
#include "emulate/quant/nvfp4.h"
#include "formats/catalog.h"
#include "formats/convert.h"
#include "formats/spec_parser.h"
#include "train/context.h"
#include "train/data.h"
#include "train/fake_quant.h"
#include "train/layer.h"
#include "train/loss_scaler.h"
#include "train/policy.h"
#include "train/rng.h"
#include "train/sampler.h"
#include "train/trainer.h"

#ifndef FLOATSCOPE_SOURCE_ROOT
#error "FLOATSCOPE_SOURCE_ROOT must be defined (tests/train/meson.build)"
#endif

using namespace floatscope;
using namespace floatscope::train;

namespace {

const Dataset& Digits() {
  static const Dataset d = LoadDataset("digits");
  return d;
}

TrainConfig Config(const std::string& policy, int64_t steps) {
  TrainConfig c;
  c.model = "mlp";
  c.policy_spec = policy;
  c.steps = steps;
  c.batch = 64;
  c.seed = 1;
  c.threads = 1;
  c.log_every = 1;
  c.progress = false;
  return c;
}

uint32_t Bits(float x) { return std::bit_cast<uint32_t>(x); }

bool SameBits(const Mat<float>& a, const Mat<float>& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (Eigen::Index i = 0; i < a.size(); ++i)
    if (Bits(a.data()[i]) != Bits(b.data()[i])) return false;
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------
// 1. fp64 is the shadow.

TEST_CASE("fp64 reproduces the FP64 shadow bit for bit") {
  const TrainResult r = Train(Config("fp64", 50), Digits());
  REQUIRE(r.steps.size() == 50);
  REQUIRE(r.layers.size() == 150);  // fc1, fc2, fc3
  for (const auto* rows : {&r.steps, &r.layers})
    for (const StepRow& row : *rows) {
      CAPTURE(row.step);
      CAPTURE(row.layer);
      CHECK(row.weight_rel_div == 0.0);
      CHECK(std::bit_cast<uint64_t>(row.loss) == std::bit_cast<uint64_t>(row.loss_fp64));
      CHECK(std::isfinite(row.loss));
    }
  // It did train (the comparison is not of two frozen models).
  CHECK(r.steps.back().loss < 0.5 * r.steps.front().loss);
  CHECK(r.summary["policy"]["compute"] == "f64");
  REQUIRE(r.summary["shadow"].is_object());
  CHECK(r.summary["final"] == r.summary["shadow"]);
}

// ---------------------------------------------------------------------------
// 2. fp32 against a plain float32 MLP written here.
//
// The reference is what a straightforward float32 implementation does with
// Eigen: y = x * W^T + b with Eigen's float GEMM, ReLU, softmax
// cross-entropy (max-subtracted exp, sum, log; dlogits = (softmax - onehot)
// / batch), weight gradients dY^T * X, bias gradients as column sums of dY,
// input gradients dY * W, SGD with momentum as PyTorch (buf = g at the first
// step, then buf = m * buf + g; w += -lr * buf). It shares nothing with
// train/ but train::Rng (the initial weights: zoo.h's order, each Linear
// drawing W row by row then b, PyTorch's U(-1/sqrt(in), 1/sqrt(in)) in
// float64 cast to float) and train/sampler.h (which examples each step
// sees: the data order, not the arithmetic under test).
//
// Matrices are row-major (one example per row, as the batch lies in memory)
// and every product is evaluated straight into its row-major result
// (construction or noalias()). That matters, bit for bit: Eigen's float GEMM
// sums in an order that depends on how the result is laid out (the rows left
// over after its packet-wide tiles take another path), and
// `gw = g.transpose() * x` without noalias() evaluates into a column-major
// temporary first (the plain type of col-major x row-major). Measured
// (mlp/digits, seed 1, batch 64, 30 steps, x86-64 SSE, Eigen 3.4): with that
// one assignment 76 of fc3's 640 weight-gradient elements at step 0 differ
// by 1 ulp (rows 8-9 of 10) and the losses differ from step 2 on by up to
// 2.6e-8; a column-major (MatrixXf) reference differs from step 1 on by up
// to 2.6e-8. The trainer (Ctx::MatMul writes c.noalias() = op(a) * op(b)
// into row-major matrices) equals the reference below exactly.
namespace {

template <int Order>
using RefMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Order>;

template <int Order>
struct RefMlp {
  using M = RefMat<Order>;
  using RowVec = Eigen::Matrix<float, 1, Eigen::Dynamic>;
  struct Lin {
    M w;  // out x in
    RowVec b;
    M mw;
    RowVec mb;
    M gw;
    RowVec gb;
    M x;  // input (for the weight gradient)
  };
  std::vector<Lin> lin;
  std::vector<M> pre;  // ReLU inputs
  bool first = true;

  RefMlp(const std::vector<size_t>& dims, uint64_t seed) {
    Rng rng(seed);
    for (size_t k = 0; k + 1 < dims.size(); ++k) {
      Lin l;
      const Eigen::Index in = static_cast<Eigen::Index>(dims[k]), out = static_cast<Eigen::Index>(dims[k + 1]);
      l.w.resize(out, in);
      l.b.resize(out);
      const double bound = 1.0 / std::sqrt(static_cast<double>(dims[k]));
      for (Eigen::Index o = 0; o < out; ++o)
        for (Eigen::Index i = 0; i < in; ++i) l.w(o, i) = static_cast<float>(rng.Uniform(-bound, bound));
      for (Eigen::Index o = 0; o < out; ++o) l.b(o) = static_cast<float>(rng.Uniform(-bound, bound));
      lin.push_back(std::move(l));
    }
    pre.resize(lin.size());
  }

  M Forward(const M& x) {
    M h = x;
    for (size_t k = 0; k < lin.size(); ++k) {
      lin[k].x = h;
      M z = h * lin[k].w.transpose();
      z.rowwise() += lin[k].b;
      if (k + 1 < lin.size()) {
        pre[k] = z;
        h = z.cwiseMax(0.0f);
      } else {
        h = z;
      }
    }
    return h;
  }

  // Mean cross-entropy (each example's term in float32, the mean of the
  // terms in float64 as the trainer reports it) and dlogits.
  double Loss(const M& logits, const std::vector<int32_t>& y, M* d) {
    const Eigen::Index b = logits.rows(), k = logits.cols();
    M p(b, k);
    double loss = 0;
    for (Eigen::Index i = 0; i < b; ++i) {
      const float m = logits.row(i).maxCoeff();
      float sum = 0;
      for (Eigen::Index j = 0; j < k; ++j) {
        p(i, j) = std::exp(logits(i, j) - m);
        sum += p(i, j);
      }
      const float log_sum = std::log(sum);
      loss -= static_cast<double>(logits(i, y[static_cast<size_t>(i)]) - m - log_sum);
      for (Eigen::Index j = 0; j < k; ++j) p(i, j) /= sum;
    }
    *d = p;
    for (Eigen::Index i = 0; i < b; ++i) (*d)(i, y[static_cast<size_t>(i)]) -= 1.0f;
    *d *= 1.0f / static_cast<float>(b);
    return loss / static_cast<double>(b);
  }

  void Backward(const M& dlogits) {
    M g = dlogits;
    for (size_t k = lin.size(); k-- > 0;) {
      lin[k].gw.noalias() = g.transpose() * lin[k].x;  // into the row-major result (see above)
      lin[k].gb = g.colwise().sum();
      if (k == 0) break;
      M dx = g * lin[k].w;
      g = (pre[k - 1].array() > 0.0f).select(dx, 0.0f);
    }
  }

  void Sgd(float lr, float momentum) {
    for (Lin& l : lin) {
      if (first) {
        l.mw = l.gw;
        l.mb = l.gb;
      } else {
        l.mw = momentum * l.mw + l.gw;
        l.mb = momentum * l.mb + l.gb;
      }
      l.w += -lr * l.mw;
      l.b += -lr * l.mb;
    }
    first = false;
  }
};

// The reference's per-step losses.
template <int Order>
std::vector<double> RefLosses(const Dataset& d, int64_t steps, size_t batch, uint64_t seed) {
  RefMlp<Order> net({d.features, 128, 64, d.classes}, seed);
  Sampler s(d.TrainSize(), batch, seed);
  std::vector<double> out;
  for (int64_t t = 0; t < steps; ++t) {
    const std::vector<size_t> idx = s.Next();
    RefMat<Order> x(static_cast<Eigen::Index>(batch), static_cast<Eigen::Index>(d.features));
    std::vector<int32_t> y(batch);
    for (size_t i = 0; i < batch; ++i) {
      y[i] = d.train_y[idx[i]];
      for (size_t j = 0; j < d.features; ++j)
        x(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = d.train_x[idx[i] * d.features + j];
    }
    const RefMat<Order> logits = net.Forward(x);
    RefMat<Order> dl;
    out.push_back(net.Loss(logits, y, &dl));
    net.Backward(dl);
    net.Sgd(0.1f, 0.9f);
  }
  return out;
}

}  // namespace

TEST_CASE("fp32 equals a plain float32 MLP step by step (row-major Eigen)") {
  constexpr int64_t kSteps = 30;
  TrainConfig c = Config("fp32", kSteps);
  c.shadow = false;
  REQUIRE(c.optimizer.kind == OptimizerConfig::Kind::kSgd);
  REQUIRE(c.optimizer.lr == 0.1);
  REQUIRE(c.optimizer.momentum == 0.9);
  const TrainResult r = Train(c, Digits());
  REQUIRE(r.steps.size() == static_cast<size_t>(kSteps));
  const std::vector<double> ref = RefLosses<Eigen::RowMajor>(Digits(), kSteps, c.batch, c.seed);
  for (int64_t t = 0; t < kSteps; ++t) {
    CAPTURE(t);
    CHECK(r.steps[static_cast<size_t>(t)].step == t);
    CHECK(std::bit_cast<uint64_t>(r.steps[static_cast<size_t>(t)].loss) ==
          std::bit_cast<uint64_t>(ref[static_cast<size_t>(t)]));
  }
  CHECK(ref.back() < 0.5 * ref.front());
}

// ---------------------------------------------------------------------------
// 3. Threads.

TEST_CASE("same seed, same bits: threads 1 and 2 give identical steps.csv and layers.csv") {
  for (const char* policy : {"fp16-amp", "bf16-pure-sr", "fp8-hybrid"}) {
    CAPTURE(policy);
    TrainConfig c = Config(policy, 30);
    const TrainResult a = Train(c, Digits());
    c.threads = 2;
    const TrainResult b = Train(c, Digits());
    REQUIRE(a.steps.size() == 30);
    CHECK(StepsCsv(a.steps, false) == StepsCsv(b.steps, false));
    CHECK(StepsCsv(a.layers, true) == StepsCsv(b.layers, true));
    CHECK(a.summary["final"] == b.summary["final"]);
    // The CSV does see the run: another seed gives other rows.
    c.seed = 2;
    const TrainResult other = Train(c, Digits());
    CHECK(StepsCsv(a.steps, false) != StepsCsv(other.steps, false));
  }
}

// ---------------------------------------------------------------------------
// 4. GradScaler against PyTorch.

TEST_CASE("dynamic loss scaling equals torch.amp.GradScaler (tests/data/gradscaler_torch.json)") {
  const std::string path = std::string(FLOATSCOPE_SOURCE_ROOT) + "/tests/data/gradscaler_torch.json";
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  const nlohmann::json j = nlohmann::json::parse(in);
  CHECK(j["generator"].get<std::string>().find("GradScaler") != std::string::npos);
  const auto& cases = j["cases"];
  REQUIRE(cases.size() >= 4);
  size_t steps = 0, skips = 0, changes = 0;
  for (size_t k = 0; k < cases.size(); ++k) {
    const auto& cs = cases[k];
    LossScaling ls;
    ls.kind = LossScaling::Kind::kDynamic;
    ls.init = cs["init_scale"].get<double>();
    ls.growth = cs["growth_factor"].get<double>();
    ls.backoff = cs["backoff_factor"].get<double>();
    ls.interval = cs["growth_interval"].get<int64_t>();
    LossScaler s(ls);
    REQUIRE(s.Enabled());
    CHECK(static_cast<double>(s.Scale()) == static_cast<double>(static_cast<float>(ls.init)));
    REQUIRE(!cs["steps"].empty());
    double before = s.Scale();
    for (size_t i = 0; i < cs["steps"].size(); ++i) {
      const auto& st = cs["steps"][i];
      CAPTURE(k);
      CAPTURE(i);
      const bool skipped = s.Update(st["found_inf"].get<bool>());
      CHECK(skipped == st["skipped"].get<bool>());
      CHECK(static_cast<double>(s.Scale()) == st["scale_after"].get<double>());
      // The scaler's reciprocal is float(1 / double(scale)).
      CHECK(s.InvScale() == static_cast<float>(1.0 / static_cast<double>(s.Scale())));
      ++steps;
      skips += skipped;
      changes += static_cast<double>(s.Scale()) != before;
      before = s.Scale();
    }
  }
  // The vectors exercise growth, backoff and skipping.
  CHECK(steps >= 60);
  CHECK(skips >= 4);
  CHECK(changes >= 8);
}

// ---------------------------------------------------------------------------
// 5. Roles are independent.

namespace {

struct LinearPass {
  Mat<float> y, dx, gw, gb;
};

// One forward and backward pass of one Linear (37 -> 29, batch 23) with
// `role` (if any) rounded to a 1-bit-mantissa format.
LinearPass RunLinear(int role) {
  std::string err;
  const Format* e5m1 = ResolveFormat("e5m1", &err);
  REQUIRE_MESSAGE(e5m1 != nullptr, err);
  Rng rng(21);
  Linear<float> fc("fc", 37, 29, rng);
  Mat<float> x(23, 37), dy(23, 29);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(rng.Normal());
  for (Eigen::Index i = 0; i < dy.size(); ++i) dy.data()[i] = static_cast<float>(0.1 * rng.Normal());
  LayerPolicy p;
  if (role >= 0) p.roles[static_cast<size_t>(role)].format = e5m1;
  Ctx<float> c;
  c.Configure({p}, 1);
  c.BeginStep(0, false, false);
  LinearPass out;
  out.y = fc.Fwd(c, x);
  out.dx = fc.Bwd(c, dy);
  out.gw = fc.Params()[0]->grad;
  out.gb = fc.Params()[1]->grad;
  return out;
}

}  // namespace

TEST_CASE("accum names: every tensor-core preset of emulate/h100_tensor_core.h by its name") {
  for (const H100TensorCoreModel& p : kH100TensorCoreModels) {
    const std::string name = p.name;
    CAPTURE(name);
    Accum a;
    REQUIRE(ParseAccum(name, &a));
    CHECK_FALSE(a.fast);
    CHECK(a.model.accumulation == p.model.accumulation);
    CHECK(a.model.group == p.model.group);
    CHECK(a.model.operand_format == p.model.operand_format);
    CHECK(a.model.instruction_k == p.model.instruction_k);
    CHECK(a.model.substeps == p.model.substeps);
    CHECK(a.model.substep_run == p.model.substep_run);
    CHECK(a.opt.rounding == p.options.rounding);
  }
  Accum mma;
  REQUIRE(ParseAccum("hopper-mma-fp8", &mma));
  CHECK(mma.model.operand_format == &formats::kF16);
  CHECK(mma.model.instruction_k == 32);
  Accum none;
  CHECK_FALSE(ParseAccum("hopper-mma-f16", &none));
}

TEST_CASE("roles are independent: one Linear pass with exactly one role in e5m1") {
  const LinearPass base = RunLinear(-1);
  // Expected: which of y, dx, w.grad, b.grad each role changes.
  struct Expect {
    Role role;
    bool y, dx, gw, gb;
  };
  const Expect table[] = {
      {Role::kAct, true, false, false, false},        {Role::kActGrad, false, true, false, false},
      {Role::kWeightGrad, false, false, true, true},  {Role::kGemmIn, true, false, true, false},
      {Role::kGemmW, true, true, false, false},       {Role::kGemmGrad, false, true, true, false},
      {Role::kF32Ops, false, false, false, false},    {Role::kWeights, false, false, false, false},
      {Role::kOptState, false, false, false, false},
  };
  static_assert(std::size(table) == kRoleCount);
  for (const Expect& e : table) {
    CAPTURE(std::string(RoleName(e.role)));
    const LinearPass q = RunLinear(static_cast<int>(e.role));
    CHECK(!SameBits(q.y, base.y) == e.y);
    CHECK(!SameBits(q.dx, base.dx) == e.dx);
    CHECK(!SameBits(q.gw, base.gw) == e.gw);
    CHECK(!SameBits(q.gb, base.gb) == e.gb);
    // A role that rounds a tensor rounds all of it: every element of a
    // changed tensor is an e5m1 value (or the tensor is the product of
    // rounded operands); spot-check the directly rounded ones.
    auto all_e5m1 = [](const Mat<float>& m) {
      std::string err;
      const Format* f = ResolveFormat("e5m1", &err);
      for (Eigen::Index i = 0; i < m.size(); ++i) {
        const float v = m.data()[i];
        if (Bits(DecodeToF32(*f, EncodeFromF32(*f, v).code)) != Bits(v)) return false;
      }
      return true;
    };
    if (e.role == Role::kAct) CHECK(all_e5m1(q.y));
    if (e.role == Role::kActGrad) CHECK(all_e5m1(q.dx));
    if (e.role == Role::kWeightGrad) CHECK((all_e5m1(q.gw) && all_e5m1(q.gb)));
  }
  // The unrounded tensors are not e5m1 values (so each rounding changes something).
  std::string err;
  const Format* f = ResolveFormat("e5m1", &err);
  size_t exact = 0;
  for (const Mat<float>* m : {&base.y, &base.dx, &base.gw, &base.gb})
    for (Eigen::Index i = 0; i < m->size(); ++i)
      exact += Bits(DecodeToF32(*f, EncodeFromF32(*f, m->data()[i]).code)) == Bits(m->data()[i]);
  CHECK(exact == 0);
}

TEST_CASE("roles weights, opt_state and f32_ops act through Train() where the trainer applies them") {
  const TrainResult base = Train(Config("fp32", 6), Digits());
  auto with = [](const char* role) {
    return Train(Config(std::string("{\"base\": \"fp32\", \"roles\": {\"") + role + "\": \"e5m1\"}}", 6), Digits());
  };
  auto same_loss = [](const TrainResult& a, const TrainResult& b, size_t t) {
    return std::bit_cast<uint64_t>(a.steps[t].loss) == std::bit_cast<uint64_t>(b.steps[t].loss);
  };
  // weights: the stored initial weights are rounded, so step 0 differs.
  const TrainResult w = with("weights");
  CHECK(!same_loss(base, w, 0));
  CHECK(w.summary["final"] != base.summary["final"]);
  // opt_state: the momentum is rounded after it is used, so step 1 uses the
  // same weights; step 2's weights come from a rounded buffer.
  const TrainResult o = with("opt_state");
  CHECK(same_loss(base, o, 0));
  CHECK(same_loss(base, o, 1));
  CHECK(!same_loss(base, o, 2));
  CHECK(o.summary["final"] != base.summary["final"]);
  // f32_ops: softmax and the loss gradient are rounded; the loss value of
  // step 0 is not, the update is.
  const TrainResult f = with("f32_ops");
  CHECK(same_loss(base, f, 0));
  CHECK(!same_loss(base, f, 1));
  CHECK(f.summary["final"] != base.summary["final"]);
}

// ---------------------------------------------------------------------------
// 6. Policy parsing.

TEST_CASE("every preset resolves, prints back its name and trains two steps") {
  REQUIRE(PresetNames().size() >= 17);
  for (const std::string& name : PresetNames()) {
    CAPTURE(name);
    Policy p;
    CHECK_NOTHROW(p = ResolvePolicy(name, PolicyParams{}));
    CHECK(p.name == name);
    CHECK(PolicyToJson(p)["name"] == name);
    TrainConfig c = Config(name, 2);
    c.shadow = false;
    TrainResult r;
    CHECK_NOTHROW(r = Train(c, Digits()));
    CHECK(r.steps.size() == 2);
  }
  CHECK_THROWS_AS(ResolvePolicy("fp17", PolicyParams{}), PolicyError);
}

TEST_CASE("policy JSON errors throw PolicyError with one line") {
  struct Bad {
    const char* what;
    const char* json;
    const char* mentions;
  };
  const Bad bad[] = {
      {"unknown key", R"({"base": "fp32", "rolez": {}})", "rolez"},
      {"unknown key in a role", R"({"roles": {"act": {"format": "bf16", "rounding": "rne"}}})", "rounding"},
      {"unknown key in loss_scale", R"({"loss_scale": {"kind": "dynamic", "grow": 2}})", "grow"},
      {"unknown role", R"({"roles": {"activations": "bf16"}})", "activations"},
      {"unknown format", R"({"roles": {"act": "bf17"}})", "bf17"},
      {"unknown format (bad spec)", R"({"roles": {"gemm_in": {"format": "e4m3:bias=x"}}})", "e4m3:bias=x"},
      {"unknown scaling", R"({"roles": {"gemm_in": {"format": "e4m3fn", "scaling": "block"}}})", "block"},
      {"equal progressive steps",
       R"({"schedule": {"progressive": [{"step": 0, "policy": "fp32"}, {"step": 0, "policy": "bf16-amp"}]}})",
       "increase"},
      {"decreasing progressive steps",
       R"({"schedule": {"progressive": [{"step": 0, "policy": "fp32"}, {"step": 20, "policy": "bf16-amp"},
                                        {"step": 10, "policy": "fp32"}]}})",
       "increase"},
      {"f64 compute with an active role", R"({"compute": "f64", "roles": {"act": "bf16"}})", "f64"},
      {"fp64 base with an active role", R"({"base": "fp64", "roles": {"weights": "f16"}})", "f64"},
      {"negative loss scale", R"({"loss_scale": -1})", "loss_scale"},
      {"zero loss scale", R"({"loss_scale": 0})", "loss_scale"},
      {"loss scale backoff > 1", R"({"loss_scale": {"kind": "dynamic", "backoff": 2}})", "loss_scale"},
      {"loss scale interval 0", R"({"loss_scale": {"kind": "dynamic", "interval": 0}})", "loss_scale"},
      {"loss scale growth < 1", R"({"loss_scale": {"kind": "dynamic", "growth": 0.5}})", "loss_scale"},
      {"unknown loss scale kind", R"({"loss_scale": {"kind": "sometimes"}})", "loss_scale"},
      {"loss scale of a wrong type", R"({"loss_scale": "often"})", "loss_scale"},
      // found by tests/fuzz/fuzz_policy.cc: a missing key was nlohmann's out_of_range
      {"progressive phase without a step", R"({"schedule": {"progressive": [{"policy": "fp32"}]}})", "'step' is missing"},
      {"progressive phase without a policy", R"({"schedule": {"progressive": [{"step": 0}]}})", "'policy' is missing"},
      {"a number beyond double", R"({"loss_scale": 1e999})", "out_of_range"},
      {"role object without a format", R"({"roles": {"act": {"round": "rne"}}})", "'format' is missing"},
  };
  for (const Bad& b : bad) {
    CAPTURE(b.what);
    bool threw = false;
    try {
      ResolvePolicy(b.json, PolicyParams{});
    } catch (const PolicyError& e) {
      threw = true;
      const std::string m = e.what();
      CAPTURE(m);
      CHECK(!m.empty());
      CHECK(m.find('\n') == std::string::npos);
      CHECK(m.find(b.mentions) != std::string::npos);
    } catch (...) {
      FAIL("not a PolicyError");
    }
    CHECK(threw);
  }
  // The good neighbours of the bad ones parse.
  CHECK_NOTHROW(ResolvePolicy(R"({"base": "fp32", "roles": {"act": "e5m1"}})", PolicyParams{}));
  CHECK_NOTHROW(ResolvePolicy(
      R"({"schedule": {"progressive": [{"step": 0, "policy": "fp32"}, {"step": 1, "policy": "bf16-amp"}]}})",
      PolicyParams{}));
  CHECK_NOTHROW(ResolvePolicy(R"({"compute": "f64"})", PolicyParams{}));
  CHECK_NOTHROW(ResolvePolicy(R"({"loss_scale": {"kind": "dynamic", "backoff": 1, "interval": 1}})", PolicyParams{}));
}

// ---------------------------------------------------------------------------
// 7. Fake quantization.

namespace {

// Random float32 values over many binades with the specials mixed in: ±0,
// subnormals, ±inf, NaNs (with payloads and either sign), values near the
// largest finite of the small formats.
std::vector<float> Messy(size_t n, uint64_t seed, bool specials) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t k = rng.Below(20);
    const float sign = rng.Below(2) ? -1.0f : 1.0f;
    if (k == 0) v[i] = sign * 0.0f;
    else if (k == 1) v[i] = std::bit_cast<float>(static_cast<uint32_t>(rng.Below(0x800000)) | (sign < 0 ? 0x80000000u : 0u));
    else if (k == 2 && specials) v[i] = sign * INFINITY;
    else if (k == 3 && specials)
      v[i] = std::bit_cast<float>(0x7F800001u | static_cast<uint32_t>(rng.Below(0x7FFFFF)) | (sign < 0 ? 0x80000000u : 0u));
    else if (k == 4) v[i] = sign * std::ldexp(1.0f + static_cast<float>(rng.Uniform()), static_cast<int>(rng.Below(24)) - 4);
    else v[i] = sign * static_cast<float>(std::ldexp(rng.Uniform(0.5, 1.0), static_cast<int>(rng.Below(60)) - 40));
  }
  return v;
}

// Values of a few magnitudes per region (blocks with their own scale), with
// zeros and subnormals.
std::vector<float> Blocky(size_t rows, size_t cols, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(rows * cols);
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) {
      const int e = static_cast<int>((r / 5 + c / 7) % 9) * 3 - 12;
      const uint64_t k = rng.Below(25);
      float x = static_cast<float>(std::ldexp(rng.Normal(), e));
      if (k == 0) x = rng.Below(2) ? 0.0f : -0.0f;
      if (k == 1) x = std::bit_cast<float>(static_cast<uint32_t>(rng.Below(0x800000)));
      v[r * cols + c] = x;
    }
  // An all-zero run in a row and in a column.
  for (size_t c = 0; c < std::min<size_t>(cols, 40); ++c) v[2 * cols + c] = 0.0f;
  for (size_t r = 0; r < rows; ++r) v[r * cols + 3] = r % 2 ? -0.0f : 0.0f;
  return v;
}

void CheckSameBits(const std::vector<float>& got, const std::vector<float>& want, bool nan_as_class = false) {
  REQUIRE(got.size() == want.size());
  size_t bad = 0, first = got.size();
  for (size_t i = 0; i < got.size(); ++i) {
    const bool same = nan_as_class && std::isnan(got[i]) && std::isnan(want[i]) ? true : Bits(got[i]) == Bits(want[i]);
    if (!same && bad++ == 0) first = i;
  }
  CAPTURE(first);
  if (first < got.size()) {
    CAPTURE(got[first]);
    CAPTURE(want[first]);
    CHECK(bad == 0);
  }
  CHECK(bad == 0);
}

RoleSpec Spec(const Format& f, Scaling s, Rounding rounding, Overflow o) {
  RoleSpec r;
  r.format = &f;
  r.scaling = s;
  r.opt.rounding = rounding;
  r.opt.overflow = o;
  return r;
}

}  // namespace

TEST_CASE("FakeQuant with scaling none equals scalar::FakeQuantF32Array element by element") {
  std::string err;
  const Format* e5m1 = ResolveFormat("e5m1", &err);
  REQUIRE(e5m1);
  const std::vector<float> x = Messy(37 * 41, 31, true);
  for (const Format* f : {&formats::kF16, &formats::kBf16, &formats::kE4m3fn, &formats::kE5m2, &formats::kE2m1fn,
                          &formats::kInt8, e5m1})
    for (Rounding rd : {Rounding::kNearestEven, Rounding::kTowardZero, Rounding::kStochastic})
      for (Overflow ov : {Overflow::kDefault, Overflow::kSaturate})
        for (unsigned threads : {1u, 2u}) {
          CAPTURE(std::string(f->name));
          CAPTURE(static_cast<int>(rd));
          CAPTURE(static_cast<int>(ov));
          CAPTURE(threads);
          const RoleSpec spec = Spec(*f, Scaling::kNone, rd, ov);
          const uint64_t seed = 0x1234567 + threads;
          std::vector<float> got = x;
          FakeQuant(spec, got.data(), 37, 41, true, seed, nullptr, threads, nullptr);
          Options opt = spec.opt;
          opt.seed = seed;
          std::vector<float> want(x.size());
          scalar::FakeQuantF32Array(*f, opt, x.data(), want.data(), x.size(), 0, nullptr);
          CheckSameBits(got, want);
          // Something was rounded.
          size_t changed = 0;
          for (size_t i = 0; i < x.size(); ++i) changed += Bits(got[i]) != Bits(x[i]);
          CHECK(changed > x.size() / 4);
        }
}

TEST_CASE("FakeQuant with tensor scaling equals per-element core casts of x*s, times 1/s") {
  const size_t rows = 37, cols = 45;
  std::vector<float> x = Blocky(rows, cols, 32);
  x[17] = NAN;  // ignored by amax; stays NaN
  int scaled = 0;
  for (const Format* f : {&formats::kE4m3fn, &formats::kE5m2, &formats::kInt8})
    for (int margin : {0, 2})
      for (bool pow2 : {false, true}) {
        CAPTURE(std::string(f->name));
        CAPTURE(margin);
        CAPTURE(pow2);
        RoleSpec spec = Spec(*f, Scaling::kTensor, Rounding::kNearestEven, Overflow::kSaturate);
        spec.margin = margin;
        spec.pow2 = pow2;
        std::vector<float> got = x;
        ScaleState state;
        FakeQuant(spec, got.data(), rows, cols, true, 0, &state, 1, nullptr);
        float amax = 0;
        for (float v : x)
          if (std::fabs(v) > amax) amax = std::fabs(v);
        quant::Fp8ScalingRecipe recipe;
        recipe.margin = margin;
        recipe.pow2 = pow2;
        const float s = quant::Fp8ScaleFromAmax(*f, amax, recipe, 1.0f);
        scaled += s != 1.0f;
        const float inv = 1.0f / s;
        std::vector<float> want(x.size());
        for (size_t i = 0; i < x.size(); ++i) {
          const float xs = x[i] * s;  // float32 product
          want[i] = DecodeToF32(*f, EncodeFromF32(*f, xs, spec.opt, i).code) * inv;
        }
        CheckSameBits(got, want);
      }
  CHECK(scaled >= 10);  // of 12 (e5m2 with margin 2 and pow2 gets s = 1 here)
}

TEST_CASE("FakeQuant with mx scaling equals mx.h's shared scale and element casts, along rows and columns") {
  const size_t rows = 37, cols = 45;  // neither a multiple of 32
  std::vector<float> x = Blocky(rows, cols, 33);
  x[5 * cols + 40] = INFINITY;  // a row block (row 5, cols 32..44) and a column block (col 40, rows 0..31) of NaN
  x[36 * cols + 10] = NAN;
  for (const Format* f : {&formats::kE4m3fn, &formats::kE5m2, &formats::kE2m1fn, &formats::kE3m2fn})
    for (bool along_rows : {true, false}) {
      CAPTURE(std::string(f->name));
      CAPTURE(along_rows);
      const quant::MxType* t = quant::FindMxType(f->name);
      REQUIRE(t);
      const RoleSpec spec = Spec(*f, Scaling::kMx, Rounding::kNearestEven, Overflow::kSaturate);
      REQUIRE(spec.block == 32);
      std::vector<float> got = x;
      FakeQuant(spec, got.data(), rows, cols, along_rows, 0, nullptr, 1, nullptr);
      std::vector<float> want(x.size());
      const size_t lines = along_rows ? rows : cols, len = along_rows ? cols : rows;
      size_t nan_blocks = 0;
      for (size_t l = 0; l < lines; ++l)
        for (size_t b = 0; b < len; b += spec.block) {
          const size_t n = std::min(spec.block, len - b);
          auto at = [&](size_t i) { return along_rows ? l * cols + b + i : (b + i) * cols + l; };
          float amax = 0;
          bool special = false;
          for (size_t i = 0; i < n; ++i) {
            const float a = std::fabs(x[at(i)]);
            special |= !std::isfinite(a);
            if (a > amax) amax = a;
          }
          const quant::MxScale sc = quant::MxSharedScale(*t, amax, special);
          nan_blocks += sc.IsNan();
          for (size_t i = 0; i < n; ++i) {
            const Result r = quant::MxEncodeElement(*t, spec.opt, x[at(i)], sc, 0);
            want[at(i)] = quant::MxDecodeElement(*t, r.code, sc);
          }
        }
      CHECK(nan_blocks == 2);
      // NaN blocks: every element NaN (payloads are not the recipe's).
      CheckSameBits(got, want, true);
    }
}

TEST_CASE("FakeQuant with nvfp4 scaling equals nvfp4.h per element, along rows and columns") {
  const size_t rows = 37, cols = 45;  // neither a multiple of 16
  const std::vector<float> x = Blocky(rows, cols, 34);
  for (bool along_rows : {true, false}) {
    CAPTURE(along_rows);
    const RoleSpec spec = Spec(formats::kE2m1fn, Scaling::kNvfp4, Rounding::kNearestEven, Overflow::kSaturate);
    std::vector<float> got = x;
    FakeQuant(spec, got.data(), rows, cols, along_rows, 0, nullptr, 1, nullptr);
    float amax_t = 0;
    for (float v : x)
      if (std::fabs(v) > amax_t) amax_t = std::fabs(v);
    const float s_enc = quant::Nvfp4GlobalEncodeScale(amax_t);
    const float s_dec = quant::Nvfp4GlobalDecodeScale(s_enc);
    std::vector<float> want(x.size());
    const size_t lines = along_rows ? rows : cols, len = along_rows ? cols : rows;
    for (size_t l = 0; l < lines; ++l)
      for (size_t b = 0; b < len; b += quant::kNvfp4Block) {
        const size_t n = std::min(quant::kNvfp4Block, len - b);
        auto at = [&](size_t i) { return along_rows ? l * cols + b + i : (b + i) * cols + l; };
        float amax = 0;
        for (size_t i = 0; i < n; ++i) amax = std::fmax(amax, std::fabs(x[at(i)]));
        const uint8_t code = quant::Nvfp4BlockScaleCode(amax, s_enc);
        const float k = quant::Nvfp4BlockEncodeScale(code, s_dec);
        for (size_t i = 0; i < n; ++i) {
          const Result r = quant::Nvfp4EncodeElement(spec.opt, x[at(i)], k, at(i));
          want[at(i)] = quant::Nvfp4DecodeElement(r.code, code, s_dec);
        }
      }
    CheckSameBits(got, want);
    // The two directions block differently.
    std::vector<float> other = x;
    FakeQuant(spec, other.data(), rows, cols, !along_rows, 0, nullptr, 1, nullptr);
    CHECK(other != got);
  }
}
