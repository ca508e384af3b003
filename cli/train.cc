#include "cli/train.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <string>

#include "cli/cli_error.h"
#include "cli/int_option.h"
#include "emulate/npy.h"
#include "train/data.h"
#include "train/policy.h"
#include "train/trainer.h"
#include "train/zoo.h"

namespace floatscope::cli {

namespace {

struct TrainArgs {
  train::TrainConfig cfg;
  std::string data = "digits";
  std::string out;
  std::string optimizer = "sgd";
  std::string shadow = "on";
  std::string plots = "on";
  double loss_scale = 1024;
  int64_t threads = 1;
  int64_t batch = 64;
};

// The interpreter that draws the plots: $FLOATSCOPE_PYTHON, else the
// project's virtualenv.
std::string PlotPython() {
  if (const char* p = std::getenv("FLOATSCOPE_PYTHON"); p && *p) return p;
  return std::string(FLOATSCOPE_SOURCE_ROOT) + "/.venv/bin/python";
}

std::string ShellQuote(const std::string& s) {
  std::string q = "'";
  for (const char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// The mean step time; the first steps are not timed (warm-up), so a run
// that short has none.
std::string StepTime(const nlohmann::json& ms) {
  if (ms.is_number() && std::isfinite(ms.get<double>())) return fmt::format("{:.3f} ms", ms.get<double>());
  return "not timed (too few steps)";
}

void RunTrain(TrainArgs& a) {
  if (a.threads < 1 || a.threads > 256) throw UsageError("--threads must be 1..256");
  if (a.batch < 1 || a.batch > 1000000) throw UsageError("--batch must be 1..1000000");
  if (!(a.loss_scale > 0) || !(a.loss_scale < 1e38)) throw UsageError("--loss-scale must be in (0, 1e38)");
  const auto opt = train::ParseOptimizer(a.optimizer);
  if (!opt) throw UsageError("unknown --optimizer '" + a.optimizer + "' (sgd, adam, adamw)");
  a.cfg.optimizer.kind = *opt;
  a.cfg.threads = static_cast<unsigned>(a.threads);
  a.cfg.batch = static_cast<size_t>(a.batch);
  a.cfg.shadow = a.shadow == "on";
  a.cfg.policy_params.seed = a.cfg.seed;
  a.cfg.policy_params.loss_scale = a.loss_scale;
  // Everything that needs no data is checked before the data is loaded.
  train::ResolvePolicy(a.cfg.policy_spec, a.cfg.policy_params);
  {
    std::error_code ec;
    const auto st = std::filesystem::status(a.out, ec);
    if (std::filesystem::exists(st) && !std::filesystem::is_directory(st))
      throw UsageError("--out '" + a.out + "' exists and is not a folder");
  }
  const train::Dataset d = train::LoadDataset(a.data);
  const train::TrainResult r = train::Train(a.cfg, d);
  train::WriteOutputs(a.out, r);
  const auto& f = r.summary["final"];
  const auto& s = r.summary["shadow"];
  std::cout << fmt::format("{} {} {}: test acc {:.4f} (fp64 shadow {}), test loss {:.4f}, mean grad energy lost {:.3g}, "
                           "skipped steps {}, step {}\n",
                           a.cfg.model, d.name, r.summary["policy"]["name"].get<std::string>(),
                           f["test_acc"].get<double>(),
                           s.is_null() ? std::string("off") : fmt::format("{:.4f}", s["test_acc"].get<double>()),
                           f["test_loss"].get<double>(), r.summary["totals"]["mean_grad_energy_lost"].get<double>(),
                           r.summary["totals"]["skipped_steps"].get<int64_t>(),
                           StepTime(r.summary["timing"]["step_ms"]));
  if (a.plots == "on") {
    const std::string py = PlotPython();
    const std::string script = std::string(FLOATSCOPE_SOURCE_ROOT) + "/analysis/plot_train.py";
    if (!std::filesystem::exists(py)) {
      std::cerr << "floatscope: plots not drawn: no Python at " << py
                << " (run scripts/setup.sh, set FLOATSCOPE_PYTHON, or pass --plots off)\n";
      throw UsageError("plots failed");
    }
    const std::string cmd = ShellQuote(py) + " " + ShellQuote(script) + " " + ShellQuote(a.out);
    if (std::system(cmd.c_str()) != 0) throw UsageError("plotting failed: " + cmd);
  }
}

}  // namespace

void RegisterTrainCommand(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* c = app.add_subcommand("train", "Train a built-in model under a precision policy beside its FP64 shadow");
  c->add_option("--model", a->cfg.model, std::string("Model: ") + train::kModelNames)->required();
  c->add_option("--data", a->data, "Data: digits, mnist1d, modadd[:P], idx:TRAIN_IMG,TRAIN_LBL,TEST_IMG,TEST_LBL")
      ->required();
  std::string presets;
  for (const auto& n : train::PresetNames()) presets += (presets.empty() ? "" : " ") + n;
  c->add_option("--policy", a->cfg.policy_spec, "Preset (" + presets + ") or a policy .json file")->required();
  c->add_option("--steps", a->cfg.steps, "Training steps")->capture_default_str()->check(IntegerIn(1, 100000000));
  c->add_option("--batch", a->batch, "Batch size")->capture_default_str()->check(IntegerIn(1, 1000000));
  c->add_option("--lr", a->cfg.optimizer.lr, "Learning rate")->capture_default_str();
  c->add_option("--optimizer", a->optimizer, "sgd (momentum 0.9), adam, adamw")->capture_default_str();
  c->add_option("--momentum", a->cfg.optimizer.momentum, "SGD momentum")->capture_default_str();
  c->add_option("--weight-decay", a->cfg.optimizer.weight_decay, "Weight decay")->capture_default_str();
  c->add_option("--seed", a->cfg.seed, "Seed: initial weights, batches, stochastic rounding")
      ->capture_default_str()
      ->check(UnsignedIn(0, std::numeric_limits<uint64_t>::max()));
  c->add_option("--threads", a->threads, "Threads (2+: the shadow runs beside the model; results do not change)")
      ->capture_default_str()
      ->check(IntegerIn(1, 256));
  c->add_option("--shadow", a->shadow, "FP64 shadow in lockstep")->check(CLI::IsMember({"on", "off"}))->capture_default_str();
  c->add_option("--log-every", a->cfg.log_every, "Steps between logged rows (and FP64 gradient checks)")
      ->capture_default_str()
      ->check(IntegerIn(1, 100000000));
  c->add_option("--hist-every", a->cfg.hist_every, "Steps between histograms (0: first and last step)")
      ->capture_default_str()
      ->check(IntegerIn(0, 100000000));
  c->add_option("--loss-scale", a->loss_scale, "Static loss scale of fp16-static")->capture_default_str();
  c->add_option("--plots", a->plots, "Draw the plots")->check(CLI::IsMember({"on", "off"}))->capture_default_str();
  c->add_flag("--quiet", [a](int64_t) { a->cfg.progress = false; }, "No progress line");
  c->add_option("--out", a->out, "Output folder")->required();
  c->callback([a] {
    try {
      RunTrain(*a);
    } catch (const train::DataError& e) {
      throw UsageError(e.what());
    } catch (const train::PolicyError& e) {
      throw UsageError(e.what());
    } catch (const train::ModelError& e) {
      throw UsageError(e.what());
    } catch (const train::TrainError& e) {
      throw UsageError(e.what());
    }
  });
}

}  // namespace floatscope::cli
