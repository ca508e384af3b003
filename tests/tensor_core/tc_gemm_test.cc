// The H100 GEMM-level model against fresh hardware GEMMs (issue 16): the
// 2026-12-06 generalisation run (experiments/tensor_core_probe/results/
// 2026-12-06, cuda/RESULTS.md) stored cuBLASLt's outputs and the algorithm
// configuration it chose; the inputs are rebuilt here from the seed
// (gemm_cases.h, checked against the recorded checksums). How each kernel
// runs K comes from its recorded configuration (tc_data.h ApplyKernel).
//
// nvjet kernels (algorithm 66): a sample of cuBLASLt's default choices
// (rank 0) with K >= 4000, split-K included, must come out of the presets
// bit for bit with the split-K rule (chunks on the 128-byte K tile, RNE sums
// of the partials), and the rule's parameters must matter: equal chunks, a
// K tile half as long, one chunk, and the f16/bf16 adder saturating instead
// of overflowing to infinity must each break it. (A tile twice as long gives
// the same chunks for these shapes: the data says "at least 128 bytes",
// cuda/RESULTS.md.)
//
// CUTLASS-style kernels (algorithms 23 and 24, which cuBLASLt picks for
// f16/bf16 GEMMs of K = 100 and 8190, K not a multiple of 8): every such
// run, at every rank, must come out bit for bit with the partial K tile
// first (zero-filled at its end, the tile the stages id's K depth) and
// split-K chunks on 16 bytes of K; K in order, the tile halved or doubled,
// the zeros in front of the partial tile, and chunks on 8 or 128 bytes must
// each break it (cuda/RESULTS.md, "Algorithm 23 (issue 16), 2026-12-07").
//
// Held-out run (experiments/tensor_core_probe/results/2026-12-07/
// heldout_run: other shapes, seed 20261207): every GEMM that cuBLASLt ran
// with algorithm 24 and stages id 0 (f16/bf16, split-K, all four ranks) must
// come out bit for bit with the Turing-style kernel's K loop (mma.sync
// m16n8k8: the model's groups of 8; the partial 32-element K tile first;
// chunks on 16 bytes); the groups of 16, K in order, a K tile of 16 or 64,
// and chunks on 8 or 32 bytes must each break it. The run's other
// CUTLASS-style GEMMs (algorithm 23, algorithm 24 with a stages id that
// names a K depth) keep the model's m16n8k16 groups, which groups of 8
// break (cuda/RESULTS.md, "Held-out GEMMs (issue 16), 2026-12-07").
#include <doctest/doctest.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "emulate/h100_tensor_core.h"
#include "experiments/tensor_core_probe/gemm_cases.h"
#include "experiments/tensor_core_probe/tc_data.h"

using namespace floatscope;
using namespace floatscope::tc;

#ifndef FLOATSCOPE_TC_GEMM_RUN
#error "FLOATSCOPE_TC_GEMM_RUN (the folder of gemm_meta.json) must be defined by the build"
#endif
#ifndef FLOATSCOPE_TC_HELDOUT_RUN
#error "FLOATSCOPE_TC_HELDOUT_RUN (the held-out run's folder of gemm_meta.json) must be defined by the build"
#endif

namespace {

struct Case {
  Record record;
  uint32_t algo = 0, splitk = 1, stages = 0, tile = 0, reduction = 0;
  int rank = 0;
  std::string config, preset;
};

// GEMMs of the run in `dir` that `want(run)` selects, for distributions
// `dists`, with a corner x corner block of their dot products.
std::vector<Case> LoadRuns(const std::function<bool(const nlohmann::json&)>& want,
                           std::initializer_list<uint32_t> dists, uint32_t corner,
                           const std::string& dir = FLOATSCOPE_TC_GEMM_RUN) {
  std::ifstream mf(dir + "/gemm_meta.json");
  REQUIRE(mf.good());
  const nlohmann::json meta = nlohmann::json::parse(mf);
  std::ifstream rf(dir + "/gemm_results.bin", std::ios::binary);
  const std::vector<char> raw((std::istreambuf_iterator<char>(rf)), std::istreambuf_iterator<char>());
  const uint64_t seed = meta.at("seed");
  std::vector<Case> out;
  for (const nlohmann::json& run : meta.at("runs")) {
    if (run.contains("error") || !want(run)) continue;
    const uint32_t dist = run.at("dist");
    if (std::find(dists.begin(), dists.end(), dist) == dists.end()) continue;
    uint32_t ci = 0;
    while (run.at("config") != kGemmConfigs[ci].name) ++ci;
    const GemmConfig& cfg = kGemmConfigs[ci];
    Case c;
    Record& r = c.record;
    r.kind = 1, r.dist = dist, r.M = run.at("M"), r.N = run.at("N"), r.K = run.at("K");
    r.fa = cfg.fa, r.fb = cfg.fb;
    r.ms = r.ns = corner;
    const std::vector<uint64_t> a = GemmRows(FormatOfId(cfg.fa), seed, ci, dist, 0, r.K);
    const std::vector<uint64_t> b = GemmRows(FormatOfId(cfg.fb), seed, ci, dist, 1, r.K);
    REQUIRE(std::to_string(Checksum(a)) == run.at("checksum_a").get<std::string>());
    REQUIRE(std::to_string(Checksum(b)) == run.at("checksum_b").get<std::string>());
    r.a.assign(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(size_t{corner} * r.K));
    r.b.assign(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(size_t{corner} * r.K));
    const size_t off = run.at("offset");
    for (uint32_t i = 0; i < corner; ++i)
      for (uint32_t j = 0; j < corner; ++j) {
        uint32_t bits;
        std::memcpy(&bits, raw.data() + 4 * (off + size_t{i} * kStored + j), 4);
        r.c.push_back(bits);
      }
    c.algo = run.at("algo").at("id");
    c.splitk = run.at("algo").at("splitk");
    c.stages = run.at("algo").at("stages");
    c.tile = run.at("algo").at("tile");
    c.reduction = run.at("algo").at("reduction");
    c.rank = run.at("rank");
    c.config = cfg.name;
    c.preset = cfg.preset;
    out.push_back(std::move(c));
  }
  return out;
}

// Rank-0 GEMMs with K >= 4000 from cuBLASLt's nvjet kernels (algorithm 66).
std::vector<Case> LoadSample(std::initializer_list<uint32_t> dists, uint32_t corner) {
  return LoadRuns(
      [](const nlohmann::json& run) {
        return run.at("rank") == 0 && run.at("K").get<uint32_t>() >= 4000 && run.at("algo").at("id") == 66;
      },
      dists, corner);
}

// Every GEMM, at every rank, that cuBLASLt ran with another algorithm than
// the nvjet kernels (23 and 24: the f16/bf16 GEMMs of K = 100 and 8190).
std::vector<Case> LoadCutlassRuns(uint32_t corner) {
  return LoadRuns([](const nlohmann::json& run) { return run.at("algo").at("id") != 66; },
                  {kNormal, kPositive, kHeavy, kCodes, kSparse, kCancel}, corner);
}

// Every GEMM of the held-out run that cuBLASLt ran with algorithm 24 and
// stages id 0 (stages == true), or with another CUTLASS-style kernel
// (algorithm 23, or 24 with a stages id that names a K depth; stages ==
// false).
std::vector<Case> LoadHeldOutCutlass(bool stages0, uint32_t corner) {
  return LoadRuns(
      [stages0](const nlohmann::json& run) {
        const nlohmann::json& a = run.at("algo");
        if (a.at("id") == 66) return false;
        return stages0 ? a.at("id") == 24 && a.at("stages") == 0 : a.at("stages") != 0;
      },
      {kNormal, kPositive, kHeavy, kCodes, kSparse, kCancel}, corner, FLOATSCOPE_TC_HELDOUT_RUN);
}

Replay ReplayOf(const Case& c) {
  const H100TensorCoreModel* m = FindH100TensorCoreModel(c.preset);
  REQUIRE(m != nullptr);
  Replay rp;
  rp.model = m->model;
  rp.opt = m->options;
  ApplyKernel(rp, c.algo, c.splitk, c.stages, FormatOfId(c.record.fa));
  return rp;
}

size_t Mismatches(const std::vector<Case>& cases, const std::function<void(Replay&)>& change = {}) {
  size_t bad = 0;
  for (const Case& c : cases) {
    Replay rp = ReplayOf(c);
    if (change) change(rp);
    for (size_t d = 0; d < c.record.dots(); ++d) bad += Emulate(c.record, d, rp) != c.record.c[d];
  }
  return bad;
}

}  // namespace

TEST_CASE("fresh H100 GEMMs with K >= 4000, split-K included, are reproduced bit for bit") {
  const std::vector<Case> cases = LoadSample({kNormal, kCodes, kCancel}, 3);
  size_t split = 0, fp8 = 0, wide = 0, dots = 0;
  for (const Case& c : cases) {
    split += c.splitk > 1;
    fp8 += FormatOfId(c.record.fa).bits <= 8;
    wide += FormatOfId(c.record.fa).bits > 8;
    dots += c.record.dots();
  }
  // The sample is what it says: every configuration, split-K GEMMs among them.
  CHECK(split >= 6);
  CHECK(fp8 >= 40);
  CHECK(wide >= 20);
  INFO(dots << " dot products in " << cases.size() << " GEMMs");
  CHECK(Mismatches(cases) == 0);
}

TEST_CASE("the split-K rule and the adder's overflow are pinned by the hardware") {
  const std::vector<Case> cases = LoadSample({kNormal, kCodes, kCancel}, 3);
  CHECK(Mismatches(cases, [](Replay& r) { r.split_align = 1; }) > 0);  // equal chunks
  CHECK(Mismatches(cases, [](Replay& r) { r.split_align /= 2; }) > 0);
  CHECK(Mismatches(cases, [](Replay& r) { r.split = 1; }) > 0);  // one chunk
  // bf16 random codes overflow float32: the adder gives +-inf, not +-max.
  CHECK(Mismatches(cases, [](Replay& r) { r.model.overflow_to_infinity = false; }) > 0);
}

TEST_CASE("every H100 GEMM of cuBLASLt's CUTLASS-style algorithms (23, 24) is reproduced bit for bit") {
  const std::vector<Case> cases = LoadCutlassRuns(4);
  // The sample is what it says: both shapes, split-K and not, several K
  // tiles, all 8 f16/bf16 (configuration, rank) pairs of the run.
  size_t split = 0, k100 = 0, k8190 = 0, dots = 0;
  std::vector<uint32_t> tiles;
  for (const Case& c : cases) {
    split += c.splitk > 1;
    k100 += c.record.K == 100;
    k8190 += c.record.K == 8190;
    dots += c.record.dots();
    const uint32_t t = StagesKDepth(c.stages);
    if (std::find(tiles.begin(), tiles.end(), t) == tiles.end()) tiles.push_back(t);
  }
  CHECK(cases.size() == 96);
  CHECK(k100 == 48);
  CHECK(k8190 == 48);
  CHECK(split >= 60);
  CHECK(tiles.size() == 3);  // K tiles 32, 64 and 128
  INFO(dots << " dot products in " << cases.size() << " GEMMs");
  CHECK(Mismatches(cases) == 0);
}

TEST_CASE("the CUTLASS-style kernels' K order is pinned by the hardware") {
  const std::vector<Case> cases = LoadCutlassRuns(4);
  CHECK(Mismatches(cases, [](Replay& r) { r.residue_tile = 1; }) > 0);  // K in order
  CHECK(Mismatches(cases, [](Replay& r) { r.residue_tile /= 2; }) > 0);
  CHECK(Mismatches(cases, [](Replay& r) { r.residue_tile *= 2; }) > 0);
  // The partial tile first, but its zeros in front of it (leading zero terms).
  CHECK(Mismatches(cases, [](Replay& r) { r.residue_first = r.residue_tile, r.residue_tile = 1; }) > 0);
  // Split-K chunks on 8 or 128 bytes of K instead of 16.
  CHECK(Mismatches(cases, [](Replay& r) { r.split_align /= 2; }) > 0);
  CHECK(Mismatches(cases, [](Replay& r) { r.split_align = 64; }) > 0);
}

TEST_CASE("every held-out GEMM of algorithm 24 with stages id 0 is reproduced bit for bit") {
  const std::vector<Case> cases = LoadHeldOutCutlass(true, 4);
  // The sample is what it says: the 36 (configuration, rank, shape) runs of
  // the held-out data, 6 distributions each, both configurations, all four
  // ranks, both tiles (15 = 64x64, 20 = 128x128), both reduction schemes
  // (2 and 4), split-K throughout.
  size_t split = 0, f16 = 0, bf16 = 0, dots = 0;
  std::vector<int> ranks;
  std::vector<uint32_t> tiles, reductions;
  std::vector<std::string> runs;
  auto add = [](auto& v, const auto& x) {
    if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
  };
  for (const Case& c : cases) {
    split += c.splitk > 1;
    f16 += c.config == "f16";
    bf16 += c.config == "bf16";
    dots += c.record.dots();
    add(ranks, c.rank);
    add(tiles, c.tile);
    add(reductions, c.reduction);
    add(runs, c.config + " " + std::to_string(c.rank) + " " + c.record.shape());
    const Replay rp = ReplayOf(c);
    CHECK(rp.mma_k == 8);
    CHECK(rp.residue_tile == 32);
    CHECK(rp.split_align == 8);
  }
  CHECK(cases.size() == 216);
  CHECK(runs.size() == 36);
  CHECK(f16 == 72);
  CHECK(bf16 == 144);
  CHECK(split == cases.size());
  CHECK(ranks.size() == 4);
  CHECK(tiles.size() == 2);
  CHECK(reductions.size() == 2);
  INFO(dots << " dot products in " << cases.size() << " GEMMs");
  CHECK(Mismatches(cases) == 0);
}

TEST_CASE("the stages-0 kernels' instruction and K order are pinned by the hardware") {
  const std::vector<Case> cases = LoadHeldOutCutlass(true, 4);
  CHECK(Mismatches(cases, [](Replay& r) { r.mma_k = 0; }) > 0);  // the model's m16n8k16 groups of 16
  CHECK(Mismatches(cases, [](Replay& r) { r.mma_k = 16; }) > 0);
  CHECK(Mismatches(cases, [](Replay& r) { r.residue_tile = 1; }) > 0);  // K in order
  CHECK(Mismatches(cases, [](Replay& r) { r.residue_tile = 16; }) > 0);
  CHECK(Mismatches(cases, [](Replay& r) { r.residue_tile = 64; }) > 0);
  // Split-K chunks on 8 or 32 bytes of K instead of 16.
  CHECK(Mismatches(cases, [](Replay& r) { r.split_align = 4; }) > 0);
  CHECK(Mismatches(cases, [](Replay& r) { r.split_align = 16; }) > 0);
}

TEST_CASE("the held-out run's multistage CUTLASS-style kernels keep the m16n8k16 groups") {
  const std::vector<Case> cases = LoadHeldOutCutlass(false, 4);
  size_t a23 = 0, a24 = 0;
  for (const Case& c : cases) {
    a23 += c.algo == 23;
    a24 += c.algo == 24;
    CHECK(ReplayOf(c).mma_k == 0);
  }
  CHECK(a23 == 42);
  CHECK(a24 == 78);  // f16 shapes that bf16 (or another rank) ran with stages id 0
  INFO(cases.size() << " GEMMs");
  CHECK(Mismatches(cases) == 0);
  CHECK(Mismatches(cases, [](Replay& r) { r.mma_k = 8; }) > 0);
}
