// gemm_assemble: gemm_probe's results (from the GPU machine) as tc_data.h
// files, one per (configuration, algorithm rank), for `tc_fit verify`.
//
//   gemm_assemble RESULTS_DIR OUT_DIR
//
// Rebuilds every GEMM's stored rows from gemm_cases.h (same seed), checks
// them against the checksums the GPU machine recorded (exit 1 on any
// difference: the results would belong to other inputs), and writes
// OUT_DIR/gemm_<config>_r<rank>.bin (kind 1 records: the stored rows and
// the kStored x kStored corner of C). Prints the algorithm cuBLASLt chose
// for each (configuration, shape) at rank 0: split-K number and reduction
// scheme among its attributes; the flags for each file that `tc_fit verify`
// takes (--split, --residue-tile, --mma-k; tc_data.h ApplyKernel) are in
// gemm_<config>_r<rank>.splits.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "experiments/tensor_core_probe/gemm_cases.h"
#include "experiments/tensor_core_probe/tc_data.h"

using namespace floatscope::tc;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: gemm_assemble RESULTS_DIR OUT_DIR\n");
    return 2;
  }
  try {
    const std::filesystem::path in = argv[1], out = argv[2];
    std::ifstream mf(in / "gemm_meta.json");
    if (!mf) throw std::runtime_error((in / "gemm_meta.json").string() + ": cannot open");
    const nlohmann::json meta = nlohmann::json::parse(mf);
    std::ifstream rf(in / "gemm_results.bin", std::ios::binary);
    const std::vector<char> raw((std::istreambuf_iterator<char>(rf)), std::istreambuf_iterator<char>());
    std::vector<uint32_t> bits(raw.size() / 4);
    std::memcpy(bits.data(), raw.data(), bits.size() * 4);
    const uint64_t seed = meta.at("seed").get<uint64_t>();
    std::filesystem::create_directories(out);

    std::map<std::string, std::vector<Record>> files;
    std::map<std::string, std::set<std::string>> chosen;  // config -> "MxNxK: attributes" at rank 0
    // file -> shape -> how the kernel runs K (tc_data.h ApplyKernel: split-K
    // chunks and their alignment, the partial K tile first for the
    // CUTLASS-style algorithms), for tc_fit verify --split and
    // --residue-tile: measured, see cuda/RESULTS.md.
    std::map<std::string, std::map<std::string, Replay>> kernels;
    size_t errors = 0;
    for (const nlohmann::json& run : meta.at("runs")) {
      const std::string config = run.at("config");
      if (run.contains("error")) {
        ++errors;
        std::printf("%s %ux%ux%u dist %u: %s\n", config.c_str(), run.at("M").get<uint32_t>(),
                    run.at("N").get<uint32_t>(), run.at("K").get<uint32_t>(), run.at("dist").get<uint32_t>(),
                    run.at("error").get<std::string>().c_str());
        continue;
      }
      uint32_t ci = 0;
      while (ci < std::size(kGemmConfigs) && config != kGemmConfigs[ci].name) ++ci;
      if (ci == std::size(kGemmConfigs)) throw std::runtime_error("unknown configuration " + config);
      const GemmConfig& cfg = kGemmConfigs[ci];
      Record r;
      r.kind = 1;
      r.dist = run.at("dist");
      r.M = run.at("M"), r.N = run.at("N"), r.K = run.at("K");
      r.ms = r.ns = kStored;
      r.fa = cfg.fa, r.fb = cfg.fb;
      r.a = GemmRows(FormatOfId(cfg.fa), seed, ci, r.dist, 0, r.K);
      r.b = GemmRows(FormatOfId(cfg.fb), seed, ci, r.dist, 1, r.K);
      if (std::to_string(Checksum(r.a)) != run.at("checksum_a").get<std::string>() ||
          std::to_string(Checksum(r.b)) != run.at("checksum_b").get<std::string>())
        throw std::runtime_error(config + " " + r.shape() + ": rebuilt inputs differ from the GPU machine's");
      const size_t off = run.at("offset");
      if (off + size_t{kStored} * kStored > bits.size()) throw std::runtime_error("gemm_results.bin is short");
      r.c.assign(bits.begin() + static_cast<std::ptrdiff_t>(off),
                 bits.begin() + static_cast<std::ptrdiff_t>(off + size_t{kStored} * kStored));
      const int rank = run.at("rank");
      const std::string file = "gemm_" + config + "_r" + std::to_string(rank) + ".bin";
      const nlohmann::json& algo = run.at("algo");
      Replay k;
      ApplyKernel(k, algo.at("id"), algo.at("splitk"), algo.at("stages"), FormatOfId(cfg.fa));
      auto [it, fresh] = kernels[file].try_emplace(r.shape(), k);
      if (!fresh && (it->second.split != k.split || it->second.split_align != k.split_align ||
                     it->second.residue_tile != k.residue_tile || it->second.mma_k != k.mma_k))
        std::printf("%s %s: split-K %u/%u, K tile %u, MMA K %u and %u/%u, %u, %u for different data\n", file.c_str(),
                    r.shape().c_str(), it->second.split, it->second.split_align, it->second.residue_tile,
                    it->second.mma_k, k.split, k.split_align, k.residue_tile, k.mma_k);
      files[file].push_back(std::move(r));
      if (rank == 0) {
        const nlohmann::json& a = run.at("algo");
        chosen[config].insert(
            std::to_string(run.at("M").get<uint32_t>()) + "x" + std::to_string(run.at("N").get<uint32_t>()) + "x" +
            std::to_string(run.at("K").get<uint32_t>()) + ": algo " + std::to_string(a.at("id").get<int>()) +
            " tile " + std::to_string(a.at("tile").get<unsigned>()) + " splitk " +
            std::to_string(a.at("splitk").get<int>()) + " reduction " + std::to_string(a.at("reduction").get<unsigned>()) +
            " stages " + std::to_string(a.at("stages").get<unsigned>()) + " custom " +
            std::to_string(a.at("custom").get<unsigned>()) + " workspace " +
            std::to_string(a.at("workspace").get<size_t>()));
      }
    }
    for (const auto& [name, records] : files) {
      WriteRecords((out / name).string(), records);
      // The --split flags of the GEMMs that ran split-K, the --residue-tile
      // flags of the CUTLASS-style kernels and the --mma-k flags of those
      // with another instruction than the model's, one line.
      std::ofstream flags(out / (name.substr(0, name.size() - 4) + ".splits"));
      for (const auto& [shape, k] : kernels[name]) {
        if (k.split > 1) flags << "--split " << shape << ':' << k.split << ':' << k.split_align << ' ';
        if (k.residue_tile > 1) flags << "--residue-tile " << shape << ':' << k.residue_tile << ' ';
        if (k.mma_k > 0) flags << "--mma-k " << shape << ':' << k.mma_k << ' ';
      }
      flags << '\n';
      std::printf("wrote %s: %zu GEMMs\n", (out / name).c_str(), records.size());
    }
    for (const auto& [config, lines] : chosen) {
      std::printf("%s, rank 0 (cuBLASLt's choice):\n", config.c_str());
      for (const std::string& l : lines) std::printf("  %s\n", l.c_str());
    }
    std::printf("%zu runs without a result (see above)\n", errors);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gemm_assemble: %s\n", e.what());
    return 1;
  }
  return 0;
}
