// Mixed-precision iterative refinement with LU factorizations done in
// emulated low-precision formats (see iterative_refinement.h):
//
//   iterative_refinement [--n 100] [--cond 100] [--iterations 10] [--seed 1]
//                        [--csv out.csv]
//
// For f32, tf32, bf16, f16, e5m2 and e4m3fn it prints, per iterate, the
// normwise backward error and the forward error of the float64 solution.
// The factorization's every operation is correctly rounded in the format
// (floatscope::value<F> in Eigen's PartialPivLU), so the numbers say what
// the format itself can do, free of any wider accumulator.
#include <Eigen/Dense>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "experiments/iterative_refinement.h"

using namespace floatscope;

namespace {

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr, "iterative_refinement: %s\n", why.c_str());
  std::exit(2);
}

double Number(const char* flag, const char* text) {
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  if (end == text || *end != '\0') Usage(std::string(flag) + ": not a number: '" + text + "'");
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  int n = 100, iterations = 10;
  double cond = 100;
  uint64_t seed = 1;
  std::string csv;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) Usage(a + ": missing value (options: --n --cond --iterations --seed --csv)");
    const char* v = argv[++i];
    if (a == "--n") n = static_cast<int>(Number("--n", v));
    else if (a == "--cond") cond = Number("--cond", v);
    else if (a == "--iterations") iterations = static_cast<int>(Number("--iterations", v));
    else if (a == "--seed") seed = static_cast<uint64_t>(Number("--seed", v));
    else if (a == "--csv") csv = v;
    else Usage("unknown option '" + a + "' (--n --cond --iterations --seed --csv)");
  }
  if (n < 1 || n > 2000) Usage("--n must be between 1 and 2000");
  if (!(cond >= 1)) Usage("--cond must be at least 1");
  if (iterations < 0 || iterations > 1000) Usage("--iterations must be between 0 and 1000");

  const Eigen::MatrixXd a = experiments::MatrixWithCondition(n, cond, seed);
  const Eigen::VectorXd x_true = Eigen::VectorXd::Ones(n);
  const Eigen::VectorXd b = a * x_true;

  FILE* out = nullptr;
  if (!csv.empty()) {
    out = std::fopen(csv.c_str(), "w");
    if (!out) Usage("cannot write " + csv);
    std::fprintf(out, "format,unit_roundoff,iterate,backward_error,forward_error\n");
  }
  std::printf("n = %d, cond_2(A) = %g, x = ones, b = A x in float64; LU in the format, residuals in float64\n\n",
              n, cond);
  std::printf("%-8s %10s  %-28s %-28s\n", "format", "u", "backward error by iterate", "forward error by iterate");
  auto run = [&](const Format& f, auto tag) {
    using Low = decltype(tag);
    const experiments::Refinement r = experiments::Refine<Low>(a, b, x_true, iterations);
    const double u = std::ldexp(1.0, -(f.mantissa_bits + 1));
    std::printf("%-8s %10.3g ", f.name, u);
    for (size_t k = 0; k < r.backward_error.size(); ++k) {
      std::printf(" %8.1e", r.backward_error[k]);
      if (out) std::fprintf(out, "%s,%g,%zu,%.6e,%.6e\n", f.name, u, k, r.backward_error[k], r.forward_error[k]);
    }
    std::printf("\n%-8s %10s ", "", "");
    for (double e : r.forward_error) std::printf(" %8.1e", e);
    std::printf("\n");
  };
  run(formats::kF32, value<formats::kF32>{});
  run(formats::kTf32, value<formats::kTf32>{});
  run(formats::kBf16, value<formats::kBf16>{});
  run(formats::kF16, value<formats::kF16>{});
  run(formats::kE5m2, value<formats::kE5m2>{});
  run(formats::kE4m3fn, value<formats::kE4m3fn>{});
  if (out) std::fclose(out);
  std::printf("\nConverges to float64 accuracy (~1e-16) when cond * u is well below 1.\n");
  return 0;
}
