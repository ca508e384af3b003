// gemm_accuracy: how the error of C = A * B grows with the inner dimension K
// for low-precision inputs and accumulators, under the accumulation models
// of emulate/dot.h.
//
// For K = 16, 64, 256, ..., kmax (powers of 4) and two input distributions
// (uniform[0, 1): every product positive, where low-precision accumulators
// stagnate; normal(0, 1): signed, sums grow like sqrt(K)), A (M x K) and
// B (K x N) are drawn in float64 and rounded (nearest even) into each input
// format (f16, bf16, e4m3fn, e5m2). C is computed from those rounded inputs
// under each accumulation model:
//
//   accumulators f32, f16, bf16  x  orders sequential (a loop: round the
//   product, round the sum), pairwise (balanced tree), blocked-32 (32
//   products summed exactly, then added to the accumulator with one
//   rounding);
//   hardware: groups of 32 products aligned to the largest exponent, cut to
//   F = 13 fraction bits, summed exactly, one rounding into an f32
//   accumulator (which is cut along with the products), as FP8 tensor cores
//   are observed to do;
//   exact-f32: the correctly rounded dot product in f32 (one rounding),
//   the best any f32 result can be.
//
// The reference is the exact product of the rounded inputs: every product
// of two inputs is exact in float64 (at most 2 x 11 significant bits), and
// the products are summed in double-double (Knuth's TwoSum), whose error
// (about K 2^-106 of sum |p|) is far below any error measured here. So the
// errors are those of the accumulation alone, not of rounding the inputs.
//
// Per (distribution, input, model, K) the experiment reports, over the
// M x N output tile: the normwise relative error ||C - C_ref||_F /
// ||C_ref||_F (plotted), the median of |C - C_ref| / |C_ref|, and the max of
// |C - C_ref| / (|A| |B|)_ij (the quantity the classical bounds K u and
// sqrt(K) u refer to; equal to the relative error for positive data).
// The tile is 16 x 16 up to K = 4096 and shrinks with K (side =
// min(--tile, max(4, floor(sqrt(2^21 / K)))): 11 x 11 at 16384, 5 x 5 at
// 65536) to keep the default run under two minutes on two cores.
//
// Deterministic: element (r, c) of a matrix is drawn from a hash of (seed,
// distribution, K, matrix, r, c); work is spread over output elements and
// every statistic is computed afterwards in a fixed order, so the results
// do not depend on --threads. Writes gemm_accuracy.csv and
// gemm_accuracy.json into --out (each written to a temporary file and
// renamed); experiments/plot_gemm_accuracy.py draws them.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "emulate/dot.h"
#include "formats/catalog.h"
#include "formats/convert.h"
#include "experiments/keyed_random.h"
#include "experiments/output_util.h"

namespace {

using namespace floatscope;

using experiments::Mix;
using experiments::Normal;
using experiments::Uniform;

enum class Dist { kUniform, kNormal };
const char* DistName(Dist d) { return d == Dist::kUniform ? "uniform" : "normal"; }

// Element (r, c) of matrix `which` (0: A, 1: B) for (seed, dist, K).
double Draw(uint64_t seed, Dist d, size_t k, int which, size_t r, size_t c) {
  uint64_t key = Mix(seed ^ Mix((static_cast<uint64_t>(d) << 1 | static_cast<uint64_t>(which)) ^ Mix(k)));
  key = Mix(key ^ Mix(r * 0x100000001B3ull + c));
  return d == Dist::kUniform ? Uniform(key) : Normal(key);
}

struct Model {
  std::string name;  // order as written to the CSV
  const Format* acc;
  DotModel dot;
};

std::vector<Model> Models() {
  std::vector<Model> ms;
  for (const Format* acc : {&formats::kF32, &formats::kF16, &formats::kBf16}) {
    DotModel seq;
    seq.accumulation = Accumulation::kSequential;
    DotModel pair;
    pair.accumulation = Accumulation::kPairwise;
    DotModel block;
    block.accumulation = Accumulation::kBlock;
    block.block = 32;
    ms.push_back({"sequential", acc, seq});
    ms.push_back({"pairwise", acc, pair});
    ms.push_back({"blocked-32", acc, block});
  }
  DotModel hw;
  hw.accumulation = Accumulation::kHardware;
  hw.group = 32;
  hw.fraction_bits = 13;
  hw.include_accumulator = true;
  ms.push_back({"hardware-F13-G32", &formats::kF32, hw});
  DotModel exact;
  exact.accumulation = Accumulation::kExact;
  ms.push_back({"exact", &formats::kF32, exact});
  return ms;
}

// Knuth's TwoSum: s + e = a + b exactly.
void TwoSum(double a, double b, double& s, double& e) {
  s = a + b;
  const double bb = s - a;
  e = (a - (s - bb)) + (b - bb);
}

struct Row {
  std::string dist, input, acc, order;
  size_t k = 0, samples = 0;
  double rel_fro = 0, rel_median = 0, rel_max = 0, abs_ab_max = 0, u_acc = 0;
};

size_t TileSide(size_t k, size_t tile) {
  const size_t s = static_cast<size_t>(std::sqrt(static_cast<double>(1u << 21) / static_cast<double>(k)));
  return std::min(tile, std::max<size_t>(4, s));
}

using floatscope::experiments::Duration;
using floatscope::experiments::WriteAtomically;

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gemm_accuracy: error of C = A*B against an exact reference as K grows, per input format, "
               "accumulator and accumulation order (emulate/dot.h)"};
  std::string out_dir = "gemm_accuracy_out";
  uint64_t seed = 1;
  size_t kmax = 65536, tile = 16;
  unsigned threads = 2;
  app.add_option("--out", out_dir, "output folder (created if missing)");
  app.add_option("--seed", seed, "seed of the random matrices");
  app.add_option("--kmax", kmax, "largest K (K = 16, 64, ... up to it)")->check(CLI::Range(size_t{16}, size_t{1} << 22));
  app.add_option("--tile", tile, "largest output tile side (M = N); shrinks for large K")->check(CLI::Range(1, 256));
  app.add_option("--threads", threads, "worker threads (results do not depend on it)")->check(CLI::Range(1, 256));
  CLI11_PARSE(app, argc, argv);

  const std::vector<Model> models = Models();
  const Format* inputs[] = {&formats::kF16, &formats::kBf16, &formats::kE4m3fn, &formats::kE5m2};
  const Dist dists[] = {Dist::kUniform, Dist::kNormal};
  std::vector<size_t> ks;
  for (size_t k = 16; k <= kmax; k *= 4) ks.push_back(k);

  // Work in multiply-adds, for the progress line.
  double total = 0, done = 0;
  for (size_t k : ks) {
    const size_t side = TileSide(k, tile);
    total += 2.0 * std::size(inputs) * models.size() * static_cast<double>(side * side * k);
  }
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  double last_print = -1;

  std::vector<Row> rows;
  for (size_t k : ks) {
    const size_t side = TileSide(k, tile), m = side, n = side, cells = m * n;
    for (Dist dist : dists) {
      std::vector<double> a64(m * k), b64(k * n);
      for (size_t r = 0; r < m; ++r)
        for (size_t c = 0; c < k; ++c) a64[r * k + c] = Draw(seed, dist, k, 0, r, c);
      for (size_t r = 0; r < k; ++r)
        for (size_t c = 0; c < n; ++c) b64[r * n + c] = Draw(seed, dist, k, 1, r, c);
      for (const Format* in : inputs) {
        std::vector<uint64_t> a(m * k), b(k * n);
        std::vector<double> av(m * k), bv(k * n);
        for (size_t i = 0; i < a.size(); ++i) {
          a[i] = EncodeFromF64(*in, a64[i]).code;
          av[i] = DecodeToF64(*in, a[i]);
        }
        for (size_t i = 0; i < b.size(); ++i) {
          b[i] = EncodeFromF64(*in, b64[i]).code;
          bv[i] = DecodeToF64(*in, b[i]);
        }
        // The reference and |A||B|, per cell.
        std::vector<double> ref(cells), abs_ab(cells);
        for (size_t i = 0; i < m; ++i)
          for (size_t j = 0; j < n; ++j) {
            double hi = 0, lo = 0, mag = 0;
            for (size_t l = 0; l < k; ++l) {
              const double p = av[i * k + l] * bv[l * n + j];  // exact
              double s, e;
              TwoSum(hi, p, s, e);
              hi = s;
              lo += e;
              mag += std::fabs(p);
            }
            ref[i * n + j] = hi + lo;
            abs_ab[i * n + j] = mag;
          }
        for (const Model& model : models) {
          std::vector<double> got(cells);
          std::atomic<size_t> next{0};
          auto work = [&] {
            for (size_t cell; (cell = next.fetch_add(1)) < cells;) {
              const size_t i = cell / n, j = cell % n;
              const Result r = Dot(*in, a.data() + i * k, 1, b.data() + j, n, k, *model.acc, model.dot);
              got[cell] = DecodeToF64(*model.acc, r.code);
            }
          };
          std::vector<std::thread> pool;
          for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
          work();
          for (std::thread& t : pool) t.join();

          Row row{DistName(dist), in->name, model.acc->name, model.name, k, cells};
          row.u_acc = std::ldexp(1.0, -static_cast<int>(model.acc->mantissa_bits) - 1);
          double num = 0, den = 0;
          std::vector<double> rel(cells);
          for (size_t c = 0; c < cells; ++c) {
            const double d = got[c] - ref[c];  // within 2^-53 of the exact difference
            num += d * d;
            den += ref[c] * ref[c];
            rel[c] = std::fabs(d) / std::fabs(ref[c]);
            row.rel_max = std::max(row.rel_max, rel[c]);
            row.abs_ab_max = std::max(row.abs_ab_max, abs_ab[c] > 0 ? std::fabs(d) / abs_ab[c] : 0.0);
          }
          row.rel_fro = std::sqrt(num / den);
          std::sort(rel.begin(), rel.end());
          row.rel_median = cells % 2 ? rel[cells / 2] : 0.5 * (rel[cells / 2 - 1] + rel[cells / 2]);
          rows.push_back(row);

          done += static_cast<double>(cells * k);
          const double t = elapsed();
          if (t - last_print >= 0.5 || done >= total) {
            last_print = t;
            const double eta = done > 0 ? t * (total - done) / done : 0;
            std::fprintf(stderr, "\r[gemm_accuracy] %5.1f%%  K=%-6zu %-7s %-6s %-4s %-17s elapsed %s, ETA %s   ",
                         100.0 * done / total, k, DistName(dist), in->name, model.acc->name, model.name.c_str(),
                         Duration(t).c_str(), Duration(eta).c_str());
            std::fflush(stderr);
          }
        }
      }
    }
  }
  std::fprintf(stderr, "\n");

  std::filesystem::create_directories(out_dir);
  std::string csv = "distribution,input,accumulator,order,K,samples,rel_err_fro,rel_err_median,rel_err_max,"
                    "err_over_absAB_max,u_acc\n";
  nlohmann::json rows_json = nlohmann::json::array();
  for (const Row& r : rows) {
    csv += fmt::format("{},{},{},{},{},{},{:.6e},{:.6e},{:.6e},{:.6e},{:.6e}\n", r.dist, r.input, r.acc, r.order, r.k,
                       r.samples, r.rel_fro, r.rel_median, r.rel_max, r.abs_ab_max, r.u_acc);
    rows_json.push_back({{"distribution", r.dist}, {"input", r.input}, {"accumulator", r.acc}, {"order", r.order},
                         {"K", r.k}, {"samples", r.samples}, {"rel_err_fro", r.rel_fro},
                         {"rel_err_median", r.rel_median}, {"rel_err_max", r.rel_max},
                         {"err_over_absAB_max", r.abs_ab_max}, {"u_acc", r.u_acc}});
  }
  const nlohmann::json doc = {
      {"experiment", "gemm_accuracy"},
      {"seed", seed},
      {"kmax", kmax},
      {"tile", tile},
      {"threads", threads},
      {"reference", "exact products of the rounded inputs in float64, summed in double-double (TwoSum)"},
      {"hardware_model", {{"group", 32}, {"fraction_bits", 13}, {"include_accumulator", true}, {"accumulator", "f32"}}},
      {"seconds", elapsed()},
      {"rows", rows_json}};
  const std::filesystem::path dir(out_dir);
  WriteAtomically(dir / "gemm_accuracy.csv", csv);
  WriteAtomically(dir / "gemm_accuracy.json", doc.dump(1) + "\n");
  std::fprintf(stderr, "[gemm_accuracy] %zu rows in %s (%s)\n", rows.size(), out_dir.c_str(),
               Duration(elapsed()).c_str());
  return 0;
}
