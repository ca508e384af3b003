#include "train/trainer.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>

#include "analysis/error_stats.h"
#include "emulate/npy.h"
#include "train/loss_scaler.h"
#include "train/sampler.h"
#include "train/zoo.h"
#include "version.h"

namespace floatscope::train {

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// The rows of `x` (N x features) picked by idx, as T.
template <class T>
Mat<T> Rows(const std::vector<float>& x, size_t features, const size_t* idx, size_t n) {
  Mat<T> m(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(features));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < features; ++j) m(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = static_cast<T>(x[idx[i] * features + j]);
  return m;
}

// Loss and accuracy over a whole split, in batches of 500.
template <class T>
std::pair<double, double> Evaluate(Model<T>& m, Ctx<T>& c, const std::vector<float>& x, const std::vector<int32_t>& y,
                                   size_t features) {
  const size_t n = y.size();
  double loss = 0;
  size_t right = 0;
  std::vector<size_t> idx;
  for (size_t b = 0; b < n; b += 500) {
    const size_t e = std::min(n, b + 500);
    idx.resize(e - b);
    for (size_t i = b; i < e; ++i) idx[i - b] = i;
    const Mat<T> xb = Rows<T>(x, features, idx.data(), e - b);
    const Mat<T> logits = m.Forward(c, xb);
    size_t r = 0;
    loss += m.Loss(c, logits, y.data() + b, nullptr, T(1), &r) * static_cast<double>(e - b);
    right += r;
  }
  return {loss / static_cast<double>(n), static_cast<double>(right) / static_cast<double>(n)};
}

// The leaves' layer policies for a policy, with escalated param layers
// (dynamic schedule) given `fallback`. A leaf without parameters follows the
// param layer before it (an activation belongs to its layer).
template <class T>
std::vector<LayerPolicy> LeafPolicies(const Model<T>& m, const Policy& p, const std::vector<bool>& escalated,
                                      const LayerPolicy& fallback) {
  const auto& leaves = m.Leaves();
  const std::vector<size_t> pl = m.ParamLayerIds();
  std::vector<LayerPolicy> out(leaves.size());
  std::vector<int> owner(leaves.size(), -1);
  int last = -1;
  for (size_t i = 0; i < leaves.size(); ++i) {
    for (size_t k = 0; k < pl.size(); ++k)
      if (pl[k] == i) last = static_cast<int>(k);
    owner[i] = last;
  }
  for (size_t i = 0; i < leaves.size(); ++i) {
    const int k = owner[i] < 0 ? 0 : owner[i];
    out[i] = LayerPolicyFor(p, static_cast<size_t>(k), pl.size(), leaves[pl.empty() ? i : pl[static_cast<size_t>(k)]]->name);
    if (leaves[i]->Params().empty()) {
      // A name override for the parameter-free leaf itself wins.
      const auto it = p.layers.find(leaves[i]->name);
      if (it != p.layers.end())
        for (const auto& [role, spec] : it->second) out[i][role] = spec;
    }
    if (!escalated.empty() && !pl.empty() && escalated[static_cast<size_t>(k)]) out[i] = fallback;
  }
  return out;
}

struct GradCompare {
  analysis::ErrorStats all;
  std::vector<analysis::ErrorStats> layer;
};

// A field of every parameter (grad or value) of the model against the same
// field of a float64 model, overall and per layer.
template <class T>
GradCompare CompareParams(Model<T>& m, Model<double>& ref, size_t leaves, Mat<T> Param<T>::*mine_field,
                          Mat<double> Param<double>::*ref_field) {
  GradCompare g;
  g.layer.assign(leaves, {});
  const auto& pm = m.Params();
  const auto& pr = ref.Params();
  for (size_t i = 0; i < pm.size(); ++i) {
    const Mat<double> mine = (pm[i]->*mine_field).template cast<double>();
    const analysis::ErrorStats s = analysis::Compare((pr[i]->*ref_field).data(), mine.data(), static_cast<size_t>(mine.size()));
    g.all += s;
    g.layer[pm[i]->layer] += s;
  }
  return g;
}

template <class T>
void CopyWeights(Model<T>& from, Model<double>& to) {
  const auto& a = from.Params();
  const auto& b = to.Params();
  for (size_t i = 0; i < a.size(); ++i) b[i]->value = a[i]->value.template cast<double>();
}

bool AllFinite(const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) return false;
  return true;
}
bool AllFinite(const double* x, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) return false;
  return true;
}

// A shadow in float64: plain training, no rounding, no scaling.
struct Shadow {
  std::unique_ptr<Model<double>> model;
  Ctx<double> ctx;
  std::vector<OptState<double>> state;
  double last_loss = NAN;

  void Step(const Dataset& d, const std::vector<size_t>& idx, const OptimizerConfig& oc, int64_t t) {
    const Mat<double> x = Rows<double>(d.train_x, d.features, idx.data(), idx.size());
    ctx.BeginStep(t, false, false);
    const Mat<double> logits = model->Forward(ctx, x);
    std::vector<int32_t> y(idx.size());
    for (size_t i = 0; i < idx.size(); ++i) y[i] = d.train_y[idx[i]];
    Mat<double> dl;
    last_loss = model->Loss(ctx, logits, y.data(), &dl, 1.0, nullptr);
    model->Backward(ctx, dl);
    const auto& ps = model->Params();
    for (size_t i = 0; i < ps.size(); ++i) ps[i]->value += OptimizerDelta(oc, ps[i]->value, ps[i]->grad, state[i], t + 1);
  }
};

template <class T>
class Run {
 public:
  Run(const TrainConfig& cfg, const Dataset& d, const Policy& top)
      : cfg_(cfg), d_(d), top_(top), sampler_(d.TrainSize(), cfg.batch, cfg.seed), scaler_(top.loss_scaling) {
    model_ = BuildModel<T>(cfg.model, d, cfg.seed);
    leaves_ = model_->Leaves().size();
    param_layers_ = model_->ParamLayerIds();
    escalated_.assign(param_layers_.size(), false);
    quiet_until_.assign(param_layers_.size(), 0);
    fallback_ = top.dynamic.enabled ? ResolvePolicy(top.dynamic.fallback, cfg.policy_params).base : LayerPolicy{};
    state_.resize(model_->Params().size());
    state64_.resize(model_->Params().size());
    master_.resize(model_->Params().size());
    master64_.resize(model_->Params().size());
    active_ = PhasePolicy(0);
    Configure(active_);
    // The stored initial weights: rounded into the weights' format to
    // nearest even (as model.half() or .to(bfloat16) casts them), whatever
    // mode the policy uses for updates.
    ctx_.BeginStep(0, false, false);
    {
      std::vector<LayerPolicy> rne = LeafPolicies(*model_, active_, escalated_, fallback_);
      for (LayerPolicy& l : rne) l[Role::kWeights].opt.rounding = Rounding::kNearestEven;
      ctx_.Configure(rne, 1);
      RoundStoredWeights(true);
      Configure(active_);
    }
    if (cfg.shadow) {
      shadow_.model = BuildModel<double>(cfg.model, d, cfg.seed);
      CopyWeights(*model_, *shadow_.model);
      shadow_.ctx.Configure(std::vector<LayerPolicy>(leaves_), 1);
      shadow_.state.resize(shadow_.model->Params().size());
      probe_ = BuildModel<double>(cfg.model, d, cfg.seed);
      probe_ctx_.Configure(std::vector<LayerPolicy>(leaves_), 1);
    }
  }

  TrainResult Go();

 private:
  Policy PhasePolicy(int64_t step) const {
    if (top_.progressive.empty()) return top_;
    const Phase* ph = &top_.progressive.front();
    for (const Phase& p : top_.progressive)
      if (p.step <= step) ph = &p;
    const auto it = top_.inline_policies.find(ph->policy);
    Policy p = it != top_.inline_policies.end() ? PolicyFromJson(it->second, cfg_.policy_params)
                                                 : ResolvePolicy(ph->policy, cfg_.policy_params);
    p.name = ph->policy;
    return p;
  }

  void Configure(const Policy& p) {
    for (const LayerPolicy& l : LeafPolicies(*model_, p, escalated_, fallback_)) {
      for (size_t r = 0; r < kRoleCount; ++r) {
        const RoleSpec& s = l.roles[r];
        if (static_cast<Role>(r) == Role::kWeights && s.Active() && s.scaling != Scaling::kNone)
          throw TrainError("policy '" + p.name + "': the weights' storage role takes no scaling");
      }
      if (p.master == Master::kF64 && l[Role::kOptState].Active())
        throw TrainError("policy '" + p.name + "': master f64 keeps the optimizer state in f64 (opt_state must be none)");
    }
    Accum acc;
    if (!ParseAccum(p.accum, &acc))
      throw TrainError("policy '" + p.name + "': unknown accum '" + p.accum +
                       "' (fast, sequential, fused, pairwise, exact, block:K, h100-f16, h100-bf16, h100-e4m3, ..., "
                       "hopper-mma-fp8)");
    for (const LayerPolicy& l : LeafPolicies(*model_, p, escalated_, fallback_))
      for (Role r : {Role::kGemmIn, Role::kGemmW, Role::kGemmGrad})
        if (!acc.fast && l[r].Active() && l[r].scaling != Scaling::kNone)
          throw TrainError("policy '" + p.name + "': accum '" + p.accum +
                           "' takes unscaled GEMM operands (role " + RoleName(r) + " is scaled); use accum fast");
    ctx_.Configure(LeafPolicies(*model_, p, escalated_, fallback_), 1);
    ctx_.SetAccum(acc);
  }

  // Rounds every parameter into its layer's weights format (value), and
  // sets up masters when the policy keeps them.
  void RoundStoredWeights(bool init_master) {
    const auto& ps = model_->Params();
    for (size_t i = 0; i < ps.size(); ++i) {
      if (init_master) {
        if (active_.master == Master::kF32 || (active_.master == Master::kNone)) master_[i] = ps[i]->value;
        if (active_.master == Master::kF64) master64_[i] = ps[i]->value.template cast<double>();
      }
      ctx_.SetLayer(ps[i]->layer);
      ctx_.Round(ps[i]->value, Role::kWeights, static_cast<int>(i), false);
    }
  }

  void SwitchTo(Policy p, int64_t step) {
    const Master before = active_.master;
    switches_.push_back({{"step", step}, {"layer", "all"}, {"from", active_.name}, {"to", p.name}, {"reason", "progressive"}});
    const LossScaling old = active_.loss_scaling;
    active_ = std::move(p);
    Configure(active_);
    if (active_.loss_scaling.kind != old.kind) scaler_ = LossScaler(active_.loss_scaling);
    const auto& ps = model_->Params();
    for (size_t i = 0; i < ps.size(); ++i) {
      // The new phase starts from the weights the old one kept best.
      if (before == Master::kF32) ps[i]->value = master_[i];
      if (before == Master::kF64) ps[i]->value = master64_[i].template cast<T>();
      if (active_.master == Master::kF32) master_[i] = ps[i]->value;
      if (active_.master == Master::kF64) master64_[i] = ps[i]->value.template cast<double>();
      ctx_.SetLayer(ps[i]->layer);
      ctx_.Round(ps[i]->value, Role::kWeights, static_cast<int>(i), false);
    }
  }

  // Updates every parameter from its (unscaled) gradient; counts lost updates.
  void Update(int64_t t, bool collect, std::vector<double>* lost, std::vector<double>* lost_storage,
              std::vector<double>* changed) {
    const auto& ps = model_->Params();
    for (size_t i = 0; i < ps.size(); ++i) {
      Param<T>& p = *ps[i];
      ctx_.SetLayer(p.layer);
      const size_t L = p.layer;
      if (active_.master == Master::kF64) {
        const Mat<double> g = p.grad.template cast<double>();
        const Mat<double> dw = OptimizerDelta(cfg_.optimizer, master64_[i], g, state64_[i], t);
        const Mat<double> old = master64_[i];
        master64_[i] += dw;
        if (collect) Count(old.data(), master64_[i].data(), dw.data(), static_cast<size_t>(dw.size()), L, lost, changed);
        ctx_.Histogram(HistKind::kUpdate, dw.template cast<T>());
        p.value = master64_[i].template cast<T>();
        ctx_.Round(p.value, Role::kWeights, static_cast<int>(i));
        continue;
      }
      Mat<T>& w = active_.master == Master::kF32 ? master_[i] : p.value;
      const Mat<T> dw = OptimizerDelta(cfg_.optimizer, w, p.grad, state_[i], t);
      ctx_.Histogram(HistKind::kUpdate, dw);
      if (ctx_.Active(Role::kOptState)) {
        if (state_[i].m.size()) ctx_.Round(state_[i].m, Role::kOptState, 2 * static_cast<int>(i));
        if (state_[i].v.size()) ctx_.Round(state_[i].v, Role::kOptState, 2 * static_cast<int>(i) + 1);
      }
      if (active_.master == Master::kF32) {
        const Mat<T> old = master_[i];
        master_[i] += dw;
        if (collect) {
          Count(old.data(), master_[i].data(), dw.data(), static_cast<size_t>(dw.size()), L, lost, changed);
          // What storing the update in the weights' format alone would keep.
          Mat<T> direct = p.value + dw;
          ctx_.Round(direct, Role::kWeights, static_cast<int>(i), false);
          Count(p.value.data(), direct.data(), dw.data(), static_cast<size_t>(dw.size()), L, lost_storage, nullptr);
        }
        p.value = master_[i];
        ctx_.Round(p.value, Role::kWeights, static_cast<int>(i));
      } else {
        const Mat<T> old = p.value;
        p.value += dw;
        ctx_.Round(p.value, Role::kWeights, static_cast<int>(i));
        if (collect) {
          Count(old.data(), p.value.data(), dw.data(), static_cast<size_t>(dw.size()), L, lost, changed);
          Count(old.data(), p.value.data(), dw.data(), static_cast<size_t>(dw.size()), L, lost_storage, nullptr);
        }
      }
    }
  }

  // lost[L] += elements with a nonzero update whose weight did not change;
  // changed[L] += elements with a nonzero update.
  template <class U>
  static void Count(const U* before, const U* after, const U* dw, size_t n, size_t L, std::vector<double>* lost,
                    std::vector<double>* nonzero) {
    double l = 0, z = 0;
    for (size_t k = 0; k < n; ++k) {
      if (dw[k] == 0 || !std::isfinite(dw[k])) continue;
      z += 1;
      l += after[k] == before[k];
    }
    (*lost)[L] += l;
    if (nonzero) (*nonzero)[L] += z;
  }

  void Progress(int64_t step, double loss, double loss64, Clock::time_point start, bool final);

  const TrainConfig& cfg_;
  const Dataset& d_;
  const Policy& top_;
  Sampler sampler_;
  LossScaler scaler_;
  std::unique_ptr<Model<T>> model_;
  Ctx<T> ctx_;
  size_t leaves_ = 0;
  std::vector<size_t> param_layers_;
  std::vector<bool> escalated_;
  std::vector<int64_t> quiet_until_;
  LayerPolicy fallback_;
  Policy active_;
  std::vector<OptState<T>> state_;
  std::vector<OptState<double>> state64_;
  std::vector<Mat<T>> master_;
  std::vector<Mat<double>> master64_;
  Shadow shadow_;
  std::unique_ptr<Model<double>> probe_;
  Ctx<double> probe_ctx_;
  nlohmann::json switches_ = nlohmann::json::array();
  Clock::time_point last_progress_{};
};

template <class T>
void Run<T>::Progress(int64_t step, double loss, double loss64, Clock::time_point start, bool final) {
  if (!cfg_.progress) return;
  const auto now = Clock::now();
  if (!final && Seconds(last_progress_, now) < 1.0) return;
  last_progress_ = now;
  const double el = Seconds(start, now);
  const double eta = step > 0 ? el / static_cast<double>(step) * static_cast<double>(cfg_.steps - step) : 0;
  std::fprintf(stderr, "\rtrain %s/%s: step %lld/%lld (%3.0f%%) loss %.4f fp64 %.4f elapsed %.0fs ETA %.0fs   %s",
               cfg_.model.c_str(), top_.name.c_str(), static_cast<long long>(step), static_cast<long long>(cfg_.steps),
               100.0 * static_cast<double>(step) / static_cast<double>(cfg_.steps), loss, loss64, el, eta,
               final ? "\n" : "");
  std::fflush(stderr);
}

template <class T>
TrainResult Run<T>::Go() {
  TrainResult res;
  const auto start = Clock::now();
  last_progress_ = start;
  const size_t P = param_layers_.size();
  std::vector<int> layer_index(leaves_, -1);  // leaf id -> index among param layers
  for (size_t k = 0; k < P; ++k) layer_index[param_layers_[k]] = static_cast<int>(k);
  double step_time = 0, shadow_time = 0;
  int64_t timed_steps = 0;
  int64_t skipped_total = 0, nonfinite_total = 0, low_layer_steps = 0;
  std::vector<double> loss_hist;
  double loss_mean = NAN;
  double last_loss = NAN;
  const int64_t hist_every = cfg_.hist_every;
  for (int64_t step = 0; step < cfg_.steps; ++step) {
    if (!top_.progressive.empty()) {
      Policy p = PhasePolicy(step);
      if (p.name != active_.name) SwitchTo(std::move(p), step);
    }
    const bool collect = step % cfg_.log_every == 0 || step + 1 == cfg_.steps;
    const bool dyn_check = top_.dynamic.enabled && step % top_.dynamic.check_every == 0;
    const bool hist = collect && (hist_every > 0 ? step % hist_every == 0 : (step == 0 || step + 1 == cfg_.steps));
    const std::vector<size_t> idx = sampler_.Next();
    std::vector<int32_t> y(idx.size());
    for (size_t i = 0; i < idx.size(); ++i) y[i] = d_.train_y[idx[i]];

    // The shadow's step runs beside the model's when there is a second thread.
    std::future<void> shadow_done;
    double shadow_s = 0;
    auto shadow_step = [&] {
      const auto t0 = Clock::now();
      shadow_.Step(d_, idx, cfg_.optimizer, step);
      shadow_s = Seconds(t0, Clock::now());
    };
    if (cfg_.shadow && cfg_.threads >= 2) shadow_done = std::async(std::launch::async, shadow_step);

    const auto t0 = Clock::now();
    ctx_.BeginStep(step, collect || dyn_check, hist);
    const Mat<T> x = Rows<T>(d_.train_x, d_.features, idx.data(), idx.size());
    const Mat<T> logits = model_->Forward(ctx_, x);
    Mat<T> dl;
    const float scale = scaler_.Scale();
    const double loss = model_->Loss(ctx_, logits, y.data(), &dl, static_cast<T>(scale), nullptr);
    model_->Backward(ctx_, dl);
    // Unscale (float32 multiply by the float32 reciprocal) and look for inf/NaN.
    bool found_inf = false;
    const auto& ps = model_->Params();
    for (Param<T>* p : ps) {
      if (scaler_.Enabled() && scale != 1.0f) p->grad *= static_cast<T>(scaler_.InvScale());
      found_inf |= !AllFinite(p->grad.data(), static_cast<size_t>(p->grad.size()));
    }
    nonfinite_total += found_inf;
    const auto t1 = Clock::now();

    // FP64 gradients at the same weights, on the same batch.
    GradCompare gc;
    if (collect && cfg_.shadow) {
      CopyWeights(*model_, *probe_);
      probe_ctx_.BeginStep(step, false, false);
      const Mat<double> x64 = Rows<double>(d_.train_x, d_.features, idx.data(), idx.size());
      const Mat<double> l64 = probe_->Forward(probe_ctx_, x64);
      Mat<double> d64;
      probe_->Loss(probe_ctx_, l64, y.data(), &d64, 1.0, nullptr);
      probe_->Backward(probe_ctx_, d64);
      gc = CompareParams(*model_, *probe_, leaves_, &Param<T>::grad, &Param<double>::grad);
    }

    const auto t2 = Clock::now();
    const bool skip = scaler_.Update(found_inf);
    skipped_total += skip;
    std::vector<double> lost(leaves_, 0), lost_storage(leaves_, 0), changed(leaves_, 0);
    if (!skip) Update(step + 1, collect, &lost, &lost_storage, &changed);
    ctx_.EndStep();
    const auto t3 = Clock::now();
    if (!collect && !dyn_check) {
      step_time += Seconds(t0, t1) + Seconds(t2, t3);
      ++timed_steps;
    }
    if (cfg_.shadow) {
      if (shadow_done.valid()) shadow_done.get();
      else shadow_step();
      if (!collect) shadow_time += shadow_s;
    }
    last_loss = loss;
    // A layer runs in low precision at a step when its policy rounds
    // anything (escalation, layer overrides and phases all count).
    auto low_precision = [&](size_t k) {
      for (const RoleSpec& r : ctx_.PolicyOf(param_layers_[k]).roles)
        if (r.Active()) return true;
      return false;
    };
    for (size_t k = 0; k < P; ++k) low_layer_steps += low_precision(k);

    // Per-layer statistics of this step's roundings.
    const auto& st = ctx_.Stats();
    auto grad_stats = [&](size_t leaf) {
      RoleStats g;
      for (Role r : {Role::kActGrad, Role::kGemmGrad, Role::kWeightGrad}) g += st[leaf][static_cast<size_t>(r)];
      return g;
    };
    auto act_stats = [&](size_t leaf) {
      RoleStats g;
      for (Role r : {Role::kAct, Role::kGemmIn}) g += st[leaf][static_cast<size_t>(r)];
      return g;
    };

    // Dynamic schedule: escalate layers whose gradients under- or overflow.
    if (dyn_check) {
      const DynamicRule& rule = top_.dynamic;
      bool changed_any = false;
      const bool spike = rule.loss_spike > 0 && std::isfinite(loss_mean) && (!std::isfinite(loss) || loss > rule.loss_spike * loss_mean);
      for (size_t k = 0; k < P; ++k) {
        // A layer's gradient statistics: its own leaf and the leaves it owns.
        RoleStats g;
        for (size_t leaf = 0; leaf < leaves_; ++leaf) {
          size_t owner = 0;
          for (size_t q = 0; q < P; ++q)
            if (param_layers_[q] <= leaf) owner = q;
          if (owner == k) g += grad_stats(leaf);
        }
        const double of = g.cast.elements ? static_cast<double>(g.cast.overflow) / static_cast<double>(g.cast.elements) : 0;
        const double fl = g.error.FlushedFrac();
        const bool cross = of > rule.max_overflow_frac || fl > rule.max_flushed_frac || spike || found_inf;
        const std::string lname = model_->Leaves()[param_layers_[k]]->name;
        if (cross) {
          if (!escalated_[k]) {
            escalated_[k] = true;
            changed_any = true;
            switches_.push_back({{"step", step}, {"layer", lname}, {"from", active_.name}, {"to", rule.fallback},
                                 {"reason", fmt::format("overflow {:.3g} flushed {:.3g}{}{}", of, fl, spike ? " loss spike" : "",
                                                        found_inf ? " non-finite gradient" : "")}});
          }
          quiet_until_[k] = step + rule.quiet_steps;
        } else if (escalated_[k] && step >= quiet_until_[k]) {
          escalated_[k] = false;
          changed_any = true;
          switches_.push_back({{"step", step}, {"layer", lname}, {"from", rule.fallback}, {"to", active_.name}, {"reason", "quiet"}});
        }
      }
      if (changed_any) ctx_.Configure(LeafPolicies(*model_, active_, escalated_, fallback_), 1);
    }
    if (std::isfinite(loss)) {
      loss_mean = std::isfinite(loss_mean) ? 0.95 * loss_mean + 0.05 * loss : loss;
    }

    if (collect) {
      const GradCompare wc = cfg_.shadow ? CompareParams(*model_, *shadow_.model, leaves_, &Param<T>::value, &Param<double>::value)
                                          : GradCompare{};
      StepRow row;
      row.step = step;
      row.name = active_.name;
      row.loss = loss;
      row.loss_fp64 = cfg_.shadow ? shadow_.last_loss : NAN;
      row.loss_scale = scale;
      row.skipped = skip;
      RoleStats g, a;
      double lost_all = 0, lost_st_all = 0, changed_all = 0;
      std::vector<RoleStats> lg(P), la(P);
      std::vector<double> ll(P, 0), lls(P, 0), lc(P, 0);
      std::vector<analysis::ErrorStats> lgc(P), lwc(P);
      for (size_t leaf = 0; leaf < leaves_; ++leaf) {
        size_t owner = 0;
        for (size_t q = 0; q < P; ++q)
          if (param_layers_[q] <= leaf) owner = q;
        const RoleStats gs = grad_stats(leaf), as = act_stats(leaf);
        g += gs;
        a += as;
        lg[owner] += gs;
        la[owner] += as;
        ll[owner] += lost[leaf];
        lls[owner] += lost_storage[leaf];
        lc[owner] += changed[leaf];
        lost_all += lost[leaf];
        lost_st_all += lost_storage[leaf];
        changed_all += changed[leaf];
        if (cfg_.shadow) {
          lgc[owner] += gc.layer[leaf];
          lwc[owner] += wc.layer[leaf];
        }
      }
      auto fill = [&](StepRow& r, const RoleStats& gs, const RoleStats& as, double l, double ls, double c,
                      const analysis::ErrorStats* gcs, const analysis::ErrorStats* wcs) {
        r.grad_zero_frac = gs.error.FlushedFrac();
        r.grad_energy_lost = gs.error.EnergyLost();
        r.grad_overflow_frac =
            gs.cast.elements ? static_cast<double>(gs.cast.overflow) / static_cast<double>(gs.cast.elements) : 0;
        r.act_zero_frac = as.error.FlushedFrac();
        r.act_overflow_frac =
            as.cast.elements ? static_cast<double>(as.cast.overflow) / static_cast<double>(as.cast.elements) : 0;
        r.lost_update_frac = c > 0 ? l / c : 0;
        r.lost_update_frac_storage = c > 0 ? ls / c : 0;
        if (gcs) {
          r.grad_cos_fp64 = gcs->Cosine();
          r.grad_rel_err_fp64 = gcs->RelL2();
        }
        if (wcs) r.weight_rel_div = wcs->RelL2();
      };
      fill(row, g, a, lost_all, lost_st_all, changed_all, cfg_.shadow ? &gc.all : nullptr,
           cfg_.shadow ? &wc.all : nullptr);
      size_t low = 0;
      for (size_t k = 0; k < P; ++k) low += low_precision(k);
      row.low_precision_frac = P ? static_cast<double>(low) / static_cast<double>(P) : 1;
      res.steps.push_back(row);
      for (size_t k = 0; k < P; ++k) {
        StepRow lr = row;
        lr.layer = static_cast<int>(k);
        lr.name = model_->Leaves()[param_layers_[k]]->name;
        fill(lr, lg[k], la[k], ll[k], lls[k], lc[k], cfg_.shadow ? &lgc[k] : nullptr, cfg_.shadow ? &lwc[k] : nullptr);
        lr.low_precision_frac = low_precision(k) ? 1 : 0;
        res.layers.push_back(lr);
      }
      if (hist) {
        nlohmann::json h = {{"loss_scale", scale}};
        for (size_t k = 0; k < kHistKinds; ++k) h[kHistNames[k]] = ctx_.Histograms()[k].ToJson();
        res.hist[std::to_string(step)] = h;
      }
    }
    Progress(step + 1, loss, cfg_.shadow ? shadow_.last_loss : NAN, start, false);
  }
  Progress(cfg_.steps, last_loss, cfg_.shadow ? shadow_.last_loss : NAN, start, true);

  // Final evaluation (forward passes under the policy's rounding).
  ctx_.BeginStep(cfg_.steps, false, false);
  const auto [train_loss, train_acc] = Evaluate(*model_, ctx_, d_.train_x, d_.train_y, d_.features);
  const auto [test_loss, test_acc] = Evaluate(*model_, ctx_, d_.test_x, d_.test_y, d_.features);
  nlohmann::json shadow_json = nullptr;
  if (cfg_.shadow) {
    shadow_.ctx.BeginStep(cfg_.steps, false, false);
    const auto [s_train_loss, s_train_acc] = Evaluate(*shadow_.model, shadow_.ctx, d_.train_x, d_.train_y, d_.features);
    const auto [s_test_loss, s_test_acc] = Evaluate(*shadow_.model, shadow_.ctx, d_.test_x, d_.test_y, d_.features);
    shadow_json = {{"train_loss", s_train_loss}, {"train_acc", s_train_acc}, {"test_loss", s_test_loss}, {"test_acc", s_test_acc}};
  }
  const double runtime = Seconds(start, Clock::now());
  double grad_energy = 0, grad_zero = 0, lost_upd = 0, lost_st = 0;
  for (const StepRow& r : res.steps) {
    grad_energy += r.grad_energy_lost;
    grad_zero += r.grad_zero_frac;
    lost_upd += r.lost_update_frac;
    lost_st += r.lost_update_frac_storage;
  }
  const double nrows = res.steps.empty() ? 1.0 : static_cast<double>(res.steps.size());
  nlohmann::json layers = nlohmann::json::array();
  for (size_t k = 0; k < P; ++k) layers.push_back(model_->Leaves()[param_layers_[k]]->name);
  size_t n_params = 0;
  for (Param<T>* p : model_->Params()) n_params += static_cast<size_t>(p->value.size());
  res.switches = switches_;
  res.summary = {
      {"model", cfg_.model},
      {"data", d_.name},
      {"policy", PolicyToJson(top_)},
      {"steps", cfg_.steps},
      {"batch", cfg_.batch},
      {"optimizer",
       {{"kind", OptimizerName(cfg_.optimizer.kind)},
        {"lr", cfg_.optimizer.lr},
        {"momentum", cfg_.optimizer.momentum},
        {"beta1", cfg_.optimizer.beta1},
        {"beta2", cfg_.optimizer.beta2},
        {"eps", cfg_.optimizer.eps},
        {"weight_decay", cfg_.optimizer.weight_decay}}},
      {"seed", cfg_.seed},
      {"threads", cfg_.threads},
      {"log_every", cfg_.log_every},
      {"layers", layers},
      {"parameters", n_params},
      {"train_examples", d_.TrainSize()},
      {"test_examples", d_.TestSize()},
      {"final",
       {{"train_loss", train_loss}, {"train_acc", train_acc}, {"test_loss", test_loss}, {"test_acc", test_acc}}},
      {"shadow", shadow_json},
      {"totals",
       {{"skipped_steps", skipped_total},
        {"nonfinite_grad_steps", nonfinite_total},
        {"final_loss_scale", scaler_.Scale()},
        {"mean_grad_energy_lost", grad_energy / nrows},
        {"mean_grad_zero_frac", grad_zero / nrows},
        {"mean_lost_update_frac", lost_upd / nrows},
        {"mean_lost_update_frac_storage", lost_st / nrows},
        {"low_precision_layer_frac",
         P && cfg_.steps ? static_cast<double>(low_layer_steps) / static_cast<double>(P * static_cast<size_t>(cfg_.steps)) : 1.0},
        {"switches", switches_.size()}}},
      {"timing",
       {{"runtime_s", runtime},
        {"step_ms", timed_steps ? 1e3 * step_time / static_cast<double>(timed_steps) : NAN},
        {"shadow_step_ms", timed_steps && cfg_.shadow ? 1e3 * shadow_time / static_cast<double>(timed_steps) : NAN},
        {"timed_steps", timed_steps}}},
      {"simd_target", SimdTargetName()},
      {"git_revision", kGitRevision},
  };
  return res;
}

}  // namespace

TrainResult Train(const TrainConfig& cfg, const Dataset& data) {
  if (cfg.steps < 1 || cfg.steps > 100000000) throw TrainError("--steps must be 1..1e8");
  if (cfg.batch < 1 || cfg.batch > data.TrainSize())
    throw TrainError(fmt::format("--batch must be 1..{} (the training set's size)", data.TrainSize()));
  if (cfg.log_every < 1) throw TrainError("--log-every must be >= 1");
  if (cfg.hist_every < 0) throw TrainError("--hist-every must be >= 0");
  if (!(cfg.optimizer.lr > 0) || !std::isfinite(cfg.optimizer.lr)) throw TrainError("--lr must be a positive number");
  const Policy p = ResolvePolicy(cfg.policy_spec, cfg.policy_params);
  if (p.compute_f64) {
    Run<double> run(cfg, data, p);
    return run.Go();
  }
  Run<float> run(cfg, data, p);
  return run.Go();
}

std::string StepsCsv(const std::vector<StepRow>& rows, bool layers) {
  std::string s = layers ? "step,layer,name," : "step,policy,";
  s +=
      "loss,loss_fp64,loss_scale,skipped,grad_zero_frac,grad_energy_lost,grad_overflow_frac,grad_cos_fp64,"
      "grad_rel_err_fp64,weight_rel_div,lost_update_frac,lost_update_frac_storage,act_zero_frac,act_overflow_frac,"
      "low_precision_frac\n";
  for (const StepRow& r : rows) {
    s += layers ? fmt::format("{},{},{},", r.step, r.layer, r.name) : fmt::format("{},{},", r.step, r.name);
    s += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", r.loss, r.loss_fp64, r.loss_scale, r.skipped,
                     r.grad_zero_frac, r.grad_energy_lost, r.grad_overflow_frac, r.grad_cos_fp64, r.grad_rel_err_fp64,
                     r.weight_rel_div, r.lost_update_frac, r.lost_update_frac_storage, r.act_zero_frac,
                     r.act_overflow_frac, r.low_precision_frac);
  }
  return s;
}

void WriteOutputs(const std::string& dir, const TrainResult& r) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) throw TrainError("cannot create output folder '" + dir + "'");
  const std::filesystem::path d(dir);
  // The five files appear together or not at all, with the rules of every
  // output file (emulate/npy.h: temporaries removed on failure or signal);
  // summary.json is renamed last: its presence says the run is complete.
  try {
    npy::OutputFiles files;
    files.AddBytes((d / "steps.csv").string(), StepsCsv(r.steps, false));
    files.AddBytes((d / "layers.csv").string(), StepsCsv(r.layers, true));
    files.AddBytes((d / "hist.json").string(), r.hist.dump() + "\n");
    files.AddBytes((d / "switches.json").string(), r.switches.dump(1) + "\n");
    files.AddBytes((d / "summary.json").string(), r.summary.dump(2) + "\n");
    files.Commit();
  } catch (const npy::NpyError& e) {
    throw TrainError(e.what());
  }
}

}  // namespace floatscope::train
