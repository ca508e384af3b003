// One training step under each fake-quant policy beside the same network's
// plain float32 step (the ceiling: rounding can only add to it), and the
// FP64 shadow's step beside the policy's. Issue 12's targets: a policy step
// <= 2x the float32 step, the shadow <= 1.5x more.
//
//   build/bench/train_bench [--model mlp] [--data digits] [--steps 300] [--reps 5] [--batch 64]
//
// Each (policy, repetition) is a fresh Train() of `steps` steps with logging
// off but for the first and last step; step_ms is the mean over the steps
// that computed no statistics, and the table prints the median over
// repetitions. Compare numbers within one run only (shared machines).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "emulate/array_ops.h"
#include "train/trainer.h"

namespace ft = floatscope::train;

namespace {
double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"train_bench: training step time per policy vs float32 and the FP64 shadow"};
  std::string model = "mlp", data = "digits";
  int64_t steps = 300, reps = 5, batch = 64;
  std::vector<std::string> policies = {"fp32", "fp16-amp", "bf16-amp", "fp8-hybrid", "mxfp4",
                                       "nvfp4", "fp16-naive", "bf16-pure-sr", "int8-qat"};
  app.add_option("--model", model)->capture_default_str();
  app.add_option("--data", data)->capture_default_str();
  app.add_option("--steps", steps)->capture_default_str();
  app.add_option("--reps", reps)->capture_default_str();
  app.add_option("--batch", batch)->capture_default_str();
  app.add_option("--policies", policies)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    const ft::Dataset d = ft::LoadDataset(data);
    std::printf("model %s, data %s, batch %lld, %lld steps x %lld repetitions, SIMD target %s, 1 thread\n",
                model.c_str(), d.name.c_str(), static_cast<long long>(batch), static_cast<long long>(steps),
                static_cast<long long>(reps), floatscope::SimdTargetName());
    std::printf("%-14s %10s %8s %12s %14s\n", "policy", "step ms", "x fp32", "shadow ms", "shadow/policy");
    double fp32_ms = 0;
    for (const std::string& p : policies) {
      std::vector<double> ms, shadow_ms;
      for (int64_t r = 0; r < reps; ++r) {
        ft::TrainConfig c;
        c.model = model;
        c.policy_spec = p;
        c.steps = steps;
        c.batch = static_cast<size_t>(batch);
        c.log_every = steps;
        c.progress = false;
        c.threads = 1;
        c.shadow = true;
        const ft::TrainResult res = ft::Train(c, d);
        ms.push_back(res.summary["timing"]["step_ms"].get<double>());
        shadow_ms.push_back(res.summary["timing"]["shadow_step_ms"].get<double>());
      }
      const double m = Median(ms), s = Median(shadow_ms);
      if (p == "fp32") fp32_ms = m;
      std::printf("%-14s %10.4f %8.2f %12.4f %14.2f\n", p.c_str(), m, fp32_ms > 0 ? m / fp32_ms : 0.0, s, s / m);
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_bench: %s\n", e.what());
    return 2;
  }
  return 0;
}
