// emulate/h100_tensor_core.h against real H100 outputs: tests/data/
// tc_h100_<config>.bin are samples (about 1500-1800 dot products each) of
// what experiments/tensor_core_probe/probe.py recorded on an H100 on
// 2026-11-23 (designed probes and random tiles of four distributions; see
// cuda/RESULTS.md). Every dot product must come out of the fitted model bit
// for bit; and every parameter of the model must matter: changing any one
// of them must break agreement somewhere in the same sample, so the sample
// pins the whole model and not just part of it.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "emulate/h100_tensor_core.h"
#include "experiments/tensor_core_probe/tc_data.h"

using namespace floatscope;
using namespace floatscope::tc;

#ifndef FLOATSCOPE_TC_DATA
#error "FLOATSCOPE_TC_DATA (the folder of tc_h100_*.bin) must be defined by the build"
#endif

namespace {

struct Sample {
  const char* file;    // tests/data/tc_h100_<file>.bin
  const char* preset;  // kH100TensorCoreModels name
};

constexpr Sample kSamples[] = {
    {"f16", "h100-f16"},       {"bf16", "h100-bf16"},           {"e4m3", "h100-e4m3"},
    {"e4m3_fast", "h100-e4m3-fast"}, {"e5m2", "h100-e5m2xe4m3"}, {"e5m2_fast", "h100-e5m2xe4m3-fast"},
};

std::vector<Record> Load(const Sample& s) {
  const std::string path = std::string(FLOATSCOPE_TC_DATA) + "/tc_h100_" + s.file + ".bin";
  return ReadRecords(path);  // throws (and fails the test) if missing
}

Replay PresetReplay(const char* name) {
  const H100TensorCoreModel* m = FindH100TensorCoreModel(name);
  REQUIRE(m != nullptr);
  Replay rp;
  rp.model = m->model;
  rp.opt = m->options;
  return rp;
}

// Dot products of `recs` whose float32 result `model_of(r, d)` gets wrong;
// the first few are described.
template <class ModelOf>
size_t CountMismatches(const std::vector<Record>& recs, ModelOf&& model_of, std::string* first) {
  size_t bad = 0;
  for (const Record& r : recs)
    for (size_t d = 0; d < r.dots(); ++d) {
      const uint32_t got = model_of(r, d);
      if (got == r.c[d]) continue;
      if (first && bad < 3) {
        char buf[200];
        std::snprintf(buf, sizeof buf, "%s GEMM %s dot %zu: hardware 0x%08x, model 0x%08x, exact %.17g\n",
                      r.designed() ? "designed" : "random", r.shape().c_str(), d, r.c[d], got, ExactF64(r, d));
        *first += buf;
      }
      ++bad;
    }
  return bad;
}

// ... of the replay `rp` (tc_data.h Emulate).
size_t Mismatches(const std::vector<Record>& recs, const Replay& rp, std::string* first = nullptr) {
  return CountMismatches(recs, [&](const Record& r, size_t d) { return Emulate(r, d, rp); }, first);
}

size_t Dots(const std::vector<Record>& recs) {
  size_t n = 0;
  for (const Record& r : recs) n += r.dots();
  return n;
}

}  // namespace

TEST_CASE("every sampled H100 dot product is reproduced bit for bit by its fitted model") {
  for (const Sample& s : kSamples) {
    const std::string file = s.file;
    CAPTURE(file);
    const std::vector<Record> recs = Load(s);
    const size_t n = Dots(recs);
    CHECK(n >= 1000);  // the sample is real, not empty
    bool random = false, designed = false, promotion_depth = false;
    for (const Record& r : recs) {
      random |= !r.designed();
      designed |= r.designed();
      promotion_depth |= r.K >= 512;
    }
    CHECK(random);
    CHECK(designed);
    CHECK(promotion_depth);  // K past several promotion intervals
    std::string first;
    const size_t bad = Mismatches(recs, PresetReplay(s.preset), &first);
    INFO(first);
    CHECK_MESSAGE(bad == 0, bad << " of " << n << " differ");
  }
}

TEST_CASE("every parameter of the fitted models is pinned by the hardware sample") {
  using Change = std::function<void(Replay&)>;
  struct Variant {
    const char* what;
    Change change;
  };
  for (const Sample& s : kSamples) {
    const std::string file = s.file;
    CAPTURE(file);
    const std::vector<Record> recs = Load(s);
    const Replay fitted = PresetReplay(s.preset);
    const bool fp8 = fitted.model.sum_format != nullptr;
    std::vector<Variant> variants = {
        {"one fraction bit fewer", [](Replay& r) { --r.model.fraction_bits; }},
        {"one fraction bit more", [](Replay& r) { ++r.model.fraction_bits; }},
        {"half the group", [](Replay& r) { r.model.group /= 2; }},
        {"twice the group", [](Replay& r) { r.model.group *= 2; }},
        {"accumulator outside the alignment", [](Replay& r) { r.model.include_accumulator = false; }},
        {"alignment by leading bit", [](Replay& r) { r.model.alignment = Alignment::kLeadingBit; }},
        {"group sums rounded to nearest even", [](Replay& r) { r.opt.rounding = Rounding::kNearestEven; }},
    };
    if (fp8) {
      variants.push_back({"group sums kept in float32", [](Replay& r) { r.model.sum_format = nullptr; }});
      if (fitted.model.promote_every != 0) {
        variants.push_back({"no promotion", [](Replay& r) { r.model.promote_every = 0; }});
        variants.push_back({"promotion every 2 groups", [](Replay& r) { r.model.promote_every = 2; }});
        variants.push_back({"promotion every 8 groups", [](Replay& r) { r.model.promote_every = 8; }});
        variants.push_back({"promotion rounded toward zero", [](Replay& r) { r.model.promote_nearest_even = false; }});
      } else {
        variants.push_back({"promotion every 4 groups", [](Replay& r) { r.model.promote_every = 4; }});
      }
    }
    for (const Variant& v : variants) {
      const std::string what = v.what;
      CAPTURE(what);
      Replay changed = fitted;
      v.change(changed);
      CHECK(Mismatches(recs, changed) > 0);
    }
  }
}

TEST_CASE("reading a malformed probe file fails with the file's name") {
  const std::string path = std::string(FLOATSCOPE_TC_DATA) + "/tc_h100_f16.bin";
  CHECK_THROWS_WITH_AS(ReadRecords(path + ".missing"), doctest::Contains("cannot open"), std::runtime_error);
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(bytes.size() > 100);
  const std::string bad = (std::filesystem::temp_directory_path() / "floatscope_tc_bad.bin").string();
  auto write = [&](const std::string& content) {
    std::ofstream out(bad, std::ios::binary | std::ios::trunc);
    out << content;
  };
  write(bytes.substr(0, 100));  // a header and part of A
  CHECK_THROWS_WITH_AS(ReadRecords(bad), doctest::Contains("truncated at byte"), std::runtime_error);
  std::string wrong_magic = bytes;
  wrong_magic[0] ^= 1;
  write(wrong_magic);
  CHECK_THROWS_WITH_AS(ReadRecords(bad), doctest::Contains("bad record magic at byte 0"), std::runtime_error);
  std::remove(bad.c_str());
}

// Hopper's FP8 mma.sync (experiments/tensor_core_probe/mma_probe, 2026-12-07):
// tc_h100_mma_<e4m3|e5m2>.bin sample the instruction's own outputs (no
// library), e5m2 x e4m3 with the 19 'wide' dot products (of 1.3 M) that
// show that the operands are converted to f16 first (each has a subnormal
// e4m3fn operand, a normal f16 after the conversion; cuda/RESULTS.md said
// "e5m2 subnormal", but e5m2's subnormals are f16's and align the same). The
// preset hopper-mma-fp8 runs through emulate/dot.h's Dot directly (no
// replay structure: the conversion and the instruction's K order are the
// model's own fields).
namespace {

const Sample kMmaSamples[] = {{"mma_e4m3", "hopper-mma-fp8"}, {"mma_e5m2", "hopper-mma-fp8"}};

// Dot products of `recs` that Dot with `model` and `opt` gets wrong.
size_t DotMismatches(const std::vector<Record>& recs, const DotModel& model, const Options& opt,
                     std::string* first = nullptr) {
  return CountMismatches(
      recs,
      [&](const Record& r, size_t d) {
        const uint64_t* a = r.a.data() + size_t{r.row_a(d)} * r.K;
        const uint64_t* b = r.b.data() + size_t{r.row_b(d)} * r.K;
        return static_cast<uint32_t>(
            Dot(FormatOfId(r.fa), a, 1, FormatOfId(r.fb), b, 1, r.K, formats::kF32, model, opt).code);
      },
      first);
}

}  // namespace

TEST_CASE("Hopper's FP8 mma.sync is the hopper-mma-fp8 preset: every sampled dot product bit for bit") {
  const H100TensorCoreModel* preset = FindH100TensorCoreModel("hopper-mma-fp8");
  REQUIRE(preset != nullptr);
  for (const Sample& s : kMmaSamples) {
    const std::string file = s.file;
    CAPTURE(file);
    const std::vector<Record> recs = Load(s);
    const size_t n = Dots(recs);
    CHECK(n >= 1000);
    bool odd_k = false;  // K that is not a whole number of instructions: the padding
    for (const Record& r : recs) odd_k |= r.K % 32 != 0;
    CHECK(odd_k);
    std::string first;
    const size_t bad = DotMismatches(recs, preset->model, preset->options, &first);
    INFO(first);
    CHECK_MESSAGE(bad == 0, bad << " of " << n << " differ");
    // Dot, Gemm's element and tc_fit's replay (tc_data.h Emulate) agree.
    CHECK(Mismatches(recs, PresetReplay(s.preset)) == 0);
  }
}

TEST_CASE("every detail of the FP8 mma.sync model is pinned by the hardware sample") {
  const H100TensorCoreModel* preset = FindH100TensorCoreModel("hopper-mma-fp8");
  REQUIRE(preset != nullptr);
  using Change = std::function<void(DotModel&, Options&)>;
  struct Variant {
    const char* what;
    const char* file;
    Change change;
  };
  const Variant variants[] = {
      // The instruction's K order (instruction_k, substeps, substep_run).
      {"K in order (no instructions)", "mma_e4m3", [](DotModel& m, Options&) { m.instruction_k = 0; }},
      {"each instruction in K order", "mma_e4m3", [](DotModel& m, Options&) { m.substeps = 1; }},
      {"sub-steps of even and odd K", "mma_e4m3", [](DotModel& m, Options&) { m.substep_run = 1; }},
      {"sub-steps of runs of 4", "mma_e4m3", [](DotModel& m, Options&) { m.substep_run = 4; }},
      {"K 0-7, 16-23 first (runs of 8)", "mma_e4m3", [](DotModel& m, Options&) { m.substep_run = 8; }},
      {"four sub-steps", "mma_e4m3", [](DotModel& m, Options&) { m.substeps = 4; }},
      {"a 64-K instruction", "mma_e4m3", [](DotModel& m, Options&) { m.instruction_k = 64; }},
      // The operand conversion (operand_format).
      {"no conversion to f16", "mma_e5m2", [](DotModel& m, Options&) { m.operand_format = nullptr; }},
      // The per-instruction sum: a fresh accumulator per instruction, added to C with RNE.
      {"C accumulated in the steps (no fresh accumulator)", "mma_e4m3",
       [](DotModel& m, Options&) { m.promote_every = 0; }},
      {"a fresh accumulator every step", "mma_e4m3", [](DotModel& m, Options&) { m.promote_every = 1; }},
      {"a fresh accumulator every 2 instructions", "mma_e4m3", [](DotModel& m, Options&) { m.promote_every = 4; }},
      {"C added toward zero", "mma_e4m3", [](DotModel& m, Options&) { m.promote_nearest_even = false; }},
      // Each step's arithmetic (h100-f16's).
      {"one fraction bit fewer", "mma_e4m3", [](DotModel& m, Options&) { --m.fraction_bits; }},
      {"one fraction bit more", "mma_e4m3", [](DotModel& m, Options&) { ++m.fraction_bits; }},
      {"step sums rounded to nearest even", "mma_e4m3",
       [](DotModel&, Options& o) { o.rounding = Rounding::kNearestEven; }},
      {"alignment by leading bit", "mma_e4m3", [](DotModel& m, Options&) { m.alignment = Alignment::kLeadingBit; }},
      {"accumulator outside the alignment", "mma_e4m3",
       [](DotModel& m, Options&) { m.include_accumulator = false; }},
  };
  for (const Variant& v : variants) {
    const std::string what = v.what;
    CAPTURE(what);
    DotModel model = preset->model;
    Options opt = preset->options;
    v.change(model, opt);
    CHECK(DotMismatches(Load(Sample{v.file, ""}), model, opt) > 0);
  }
  // An order the fields cannot state (the two steps swapped), through
  // tc_fit's k_perm on the model without its own K order.
  Replay swapped = PresetReplay("hopper-mma-fp8");
  swapped.model.instruction_k = 0;
  for (uint32_t j = 0; j < 32; ++j)
    swapped.k_perm.push_back(j < 16 ? 2 + j / 2 * 4 + j % 2 : (j - 16) / 2 * 4 + j % 2);
  CHECK(Mismatches(Load(Sample{"mma_e4m3", ""}), swapped) > 0);
  // ... and the preset's own order written as k_perm agrees.
  Replay as_perm = swapped;
  for (uint32_t j = 0; j < 32; ++j) as_perm.k_perm[j] = j < 16 ? j / 2 * 4 + j % 2 : 2 + (j - 16) / 2 * 4 + j % 2;
  CHECK(Mismatches(Load(Sample{"mma_e4m3", ""}), as_perm) == 0);
}

// Hopper's wgmma through our own kernel (experiments/tensor_core_probe/
// wgmma_probe, H100, 2026-12-07): tc_h100_wgmma_<f16|bf16|e4m3|e5m2>.bin
// sample the instruction's outputs, accumulator chained in the tensor core
// across K steps. The presets fitted on cuBLAS's kernels are the
// instruction's arithmetic: f16/bf16 as they are, FP8 (native QGMMA) as the
// presets without cuBLAS's float32 promotion (-fast). Neither the promoted
// FP8 presets nor FP8 mma.sync's f16 path describe it.
TEST_CASE("Hopper's wgmma is the fitted presets' arithmetic: every sampled dot product bit for bit") {
  const Sample agree[] = {{"wgmma_f16", "h100-f16"},
                          {"wgmma_bf16", "h100-bf16"},
                          {"wgmma_e4m3", "h100-e4m3-fast"},
                          {"wgmma_e5m2", "h100-e5m2xe4m3-fast"}};
  for (const Sample& s : agree) {
    const std::string file = s.file, preset = s.preset;
    CAPTURE(file);
    CAPTURE(preset);
    const std::vector<Record> recs = Load(s);
    CHECK(Dots(recs) >= 1000);
    std::string first;
    const size_t bad = Mismatches(recs, PresetReplay(s.preset), &first);
    INFO(first);
    CHECK_MESSAGE(bad == 0, bad << " of " << Dots(recs) << " differ");
  }
  // The sample tells the FP8 candidates apart.
  for (const Sample& s : {Sample{"wgmma_e4m3", "h100-e4m3"}, Sample{"wgmma_e5m2", "h100-e5m2xe4m3"}}) {
    const std::string file = s.file;
    CAPTURE(file);
    CHECK(Mismatches(Load(s), PresetReplay(s.preset)) > 0);
    CHECK(Mismatches(Load(s), PresetReplay("hopper-mma-fp8")) > 0);
  }
}
