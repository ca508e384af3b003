// gemm_probe: the generalisation GEMMs (gemm_cases.h) through cuBLASLt on
// the GPU, with the configuration of every algorithm that ran read back
// from cuBLASLt (cublasLtMatmulAlgoConfigGetAttribute: algorithm id, tile,
// split-K number, reduction scheme, stages, swizzle, custom option, inner
// and cluster shape) instead of guessed from timings or kernel names.
//
//   gemm_probe OUT_DIR [--algos N] [--seed S] [--max-k K] [--shapes 1|2]
//
// --shapes 2: gemm_cases.h's held-out shapes (kGemmShapesHeldOut) instead
// of the first set.
//
// For each configuration x shape x distribution it asks cuBLASLt's
// heuristic for up to N algorithms (default 4) and runs each of them (rank
// 0 is what cuBLASLt and PyTorch choose by default), layout TN as PyTorch's
// torch.mm / torch._scaled_mm (A row-major M x K, B^T row-major N x K,
// float32 C = D, alpha 1, beta 0, FP8 scales 1). Writes
//   OUT_DIR/gemm_results.bin   float32 corners (kStored x kStored, row-major)
//   OUT_DIR/gemm_meta.json     one entry per GEMM run: its case, the
//                              algorithm's attributes, the offset of its
//                              corner, and the checksums of the inputs
// both atomically. gemm_assemble (CPU) turns them into tc_data.h files.
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "experiments/tensor_core_probe/gemm_cases.h"
#include "experiments/tensor_core_probe/tc_data.h"

namespace {

using floatscope::tc::kStored;

void Check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}
void Check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) throw std::runtime_error(std::string(what) + ": cuBLAS status " + std::to_string(s));
}

cudaDataType_t CudaType(uint32_t format_id) {
  switch (format_id) {
    case 0: return CUDA_R_16F;
    case 1: return CUDA_R_16BF;
    case 2: return CUDA_R_8F_E4M3;
    case 3: return CUDA_R_8F_E5M2;
  }
  throw std::runtime_error("format id");
}

// The device copy of one matrix: `rows` x K codes built from the stored rows.
void* DeviceMatrix(const std::vector<uint64_t>& stored, uint32_t format_id, uint32_t rows, uint32_t K) {
  const size_t size = floatscope::tc::FormatOfId(format_id).bits <= 8 ? 1 : 2;
  std::vector<uint8_t> bytes(stored.size() * size);
  for (size_t i = 0; i < stored.size(); ++i)
    for (size_t b = 0; b < size; ++b) bytes[i * size + b] = static_cast<uint8_t>(stored[i] >> (8 * b));
  uint8_t *src = nullptr, *dst = nullptr;
  Check(cudaMalloc(&src, bytes.size()), "cudaMalloc");
  Check(cudaMemcpy(src, bytes.data(), bytes.size(), cudaMemcpyHostToDevice), "cudaMemcpy");
  Check(cudaMalloc(&dst, size_t{rows} * K * size), "cudaMalloc");
  // Row r is stored row r mod kStored: whole blocks of kStored rows, then the rest.
  const size_t block = size_t{kStored} * K * size;
  for (size_t r = 0; r < rows; r += kStored) {
    const size_t n = std::min<size_t>(kStored, rows - r) * K * size;
    Check(cudaMemcpy(dst + r * K * size, src, std::min(n, block), cudaMemcpyDeviceToDevice), "cudaMemcpy");
  }
  cudaFree(src);
  return dst;
}

template <class T>
T AlgoAttr(const cublasLtMatmulAlgo_t& algo, cublasLtMatmulAlgoConfigAttributes_t attr) {
  T v{};
  size_t written = 0;
  if (cublasLtMatmulAlgoConfigGetAttribute(&algo, attr, &v, sizeof v, &written) != CUBLAS_STATUS_SUCCESS) return T{};
  return v;
}

void WriteAtomically(const std::filesystem::path& path, const void* data, size_t bytes) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
    if (!out.flush()) throw std::runtime_error(tmp.string() + ": write failed");
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace floatscope::tc;
  if (argc < 2) {
    std::fprintf(stderr, "usage: gemm_probe OUT_DIR [--algos N] [--seed S] [--max-k K] [--shapes 1|2]\n");
    return 2;
  }
  const std::filesystem::path out_dir = argv[1];
  int max_algos = 4;
  uint64_t seed = 20261206;
  uint32_t max_k = 1u << 20;
  int shape_set = 1;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--algos") max_algos = std::atoi(argv[i + 1]);
    else if (a == "--seed") seed = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--max-k") max_k = static_cast<uint32_t>(std::strtoul(argv[i + 1], nullptr, 10));
    else if (a == "--shapes") shape_set = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "gemm_probe: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (shape_set != 1 && shape_set != 2) {
    std::fprintf(stderr, "gemm_probe: --shapes takes 1 or 2\n");
    return 2;
  }
  const std::span<const GemmShape> shapes =
      shape_set == 1 ? std::span<const GemmShape>(kGemmShapes) : std::span<const GemmShape>(kGemmShapesHeldOut);
  try {
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
      std::fprintf(stderr, "gemm_probe: skipped: no CUDA device\n");
      return 77;
    }
    std::filesystem::create_directories(out_dir);
    cudaDeviceProp prop{};
    Check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    cublasLtHandle_t lt;
    Check(cublasLtCreate(&lt), "cublasLtCreate");
    const size_t workspace_bytes = size_t{64} << 20;
    void* workspace = nullptr;
    Check(cudaMalloc(&workspace, workspace_bytes), "cudaMalloc");
    float* one = nullptr;
    Check(cudaMalloc(&one, sizeof(float)), "cudaMalloc");
    const float h_one = 1.0f, h_zero = 0.0f;
    Check(cudaMemcpy(one, &h_one, sizeof(float), cudaMemcpyHostToDevice), "cudaMemcpy");

    nlohmann::json meta = {{"tool", "gemm_probe"}, {"device", prop.name}, {"sm", prop.major * 10 + prop.minor},
                           {"cublaslt_version", cublasLtGetVersion()}, {"seed", seed}, {"shapes", shape_set}, {"stored", kStored},
                           {"runs", nlohmann::json::array()}};
    int driver = 0;
    cudaDriverGetVersion(&driver);
    meta["driver_api"] = driver;
    std::vector<float> results;
    const auto t0 = std::chrono::steady_clock::now();
    size_t done = 0, total = std::size(kGemmConfigs) * shapes.size() * std::size(kGemmDists);
    for (uint32_t ci = 0; ci < std::size(kGemmConfigs); ++ci) {
      const GemmConfig& cfg = kGemmConfigs[ci];
      const floatscope::Format& fa = FormatOfId(cfg.fa);
      const floatscope::Format& fb = FormatOfId(cfg.fb);
      for (const GemmShape& s : shapes) {
        if (s.K > max_k) continue;
        for (uint32_t dist : kGemmDists) {
          const std::vector<uint64_t> a = GemmRows(fa, seed, ci, dist, 0, s.K);
          const std::vector<uint64_t> b = GemmRows(fb, seed, ci, dist, 1, s.K);
          void* da = DeviceMatrix(a, cfg.fa, s.M, s.K);
          void* db = DeviceMatrix(b, cfg.fb, s.N, s.K);
          float* dd = nullptr;
          Check(cudaMalloc(&dd, size_t{s.M} * s.N * sizeof(float)), "cudaMalloc");

          cublasLtMatmulDesc_t op;
          Check(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "MatmulDescCreate");
          const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
          Check(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), "TRANSA");
          Check(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), "TRANSB");
          if (cfg.fp8) {
            const int8_t fast = cfg.fast_accum ? 1 : 0;
            Check(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fast, sizeof fast), "FAST_ACCUM");
            Check(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &one, sizeof one), "A_SCALE");
            Check(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &one, sizeof one), "B_SCALE");
          }
          // Column-major views: A^T is K x M (ld K), B is K x N (ld K), D is M x N (ld M).
          cublasLtMatrixLayout_t la, lb, ld;
          Check(cublasLtMatrixLayoutCreate(&la, CudaType(cfg.fa), s.K, s.M, s.K), "layout A");
          Check(cublasLtMatrixLayoutCreate(&lb, CudaType(cfg.fb), s.K, s.N, s.K), "layout B");
          Check(cublasLtMatrixLayoutCreate(&ld, CUDA_R_32F, s.M, s.N, s.M), "layout D");
          cublasLtMatmulPreference_t pref;
          Check(cublasLtMatmulPreferenceCreate(&pref), "PreferenceCreate");
          Check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes,
                                                     sizeof workspace_bytes),
                "MAX_WORKSPACE");
          std::vector<cublasLtMatmulHeuristicResult_t> heur(static_cast<size_t>(max_algos));
          int found = 0;
          const cublasStatus_t hs =
              cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, ld, ld, pref, max_algos, heur.data(), &found);
          nlohmann::json base = {{"config", cfg.name}, {"M", s.M}, {"N", s.N}, {"K", s.K}, {"dist", dist},
                                 {"checksum_a", std::to_string(Checksum(a))},
                                 {"checksum_b", std::to_string(Checksum(b))}};
          if (hs != CUBLAS_STATUS_SUCCESS || found == 0) {
            nlohmann::json run = base;
            run["error"] = "no algorithm (heuristic status " + std::to_string(hs) + ")";
            meta["runs"].push_back(run);
          }
          for (int r = 0; r < found; ++r) {
            nlohmann::json run = base;
            run["rank"] = r;
            const cublasLtMatmulAlgo_t& algo = heur[static_cast<size_t>(r)].algo;
            run["algo"] = {{"id", AlgoAttr<int32_t>(algo, CUBLASLT_ALGO_CONFIG_ID)},
                           {"tile", AlgoAttr<uint32_t>(algo, CUBLASLT_ALGO_CONFIG_TILE_ID)},
                           {"splitk", AlgoAttr<int32_t>(algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM)},
                           {"reduction", AlgoAttr<uint32_t>(algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME)},
                           {"swizzle", AlgoAttr<uint32_t>(algo, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING)},
                           {"custom", AlgoAttr<uint32_t>(algo, CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION)},
                           {"stages", AlgoAttr<uint32_t>(algo, CUBLASLT_ALGO_CONFIG_STAGES_ID)},
                           {"inner_shape", AlgoAttr<uint16_t>(algo, CUBLASLT_ALGO_CONFIG_INNER_SHAPE_ID)},
                           {"cluster_shape", AlgoAttr<uint16_t>(algo, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID)},
                           {"workspace", heur[static_cast<size_t>(r)].workspaceSize},
                           {"waves", heur[static_cast<size_t>(r)].wavesCount}};
            Check(cudaMemset(dd, 0xFF, size_t{s.M} * s.N * sizeof(float)), "cudaMemset");  // NaN: no stale result
            const cublasStatus_t ms = cublasLtMatmul(lt, op, &h_one, da, la, db, lb, &h_zero, dd, ld, dd, ld, &algo,
                                                     workspace, workspace_bytes, 0);
            const cudaError_t sync = cudaDeviceSynchronize();
            if (ms != CUBLAS_STATUS_SUCCESS || sync != cudaSuccess) {
              run["error"] = "matmul status " + std::to_string(ms) + ", " + cudaGetErrorString(sync);
              meta["runs"].push_back(run);
              continue;
            }
            // The corner D[i][j], i, j < kStored: column-major D[i + j*M].
            std::vector<float> columns(size_t{kStored} * kStored), corner(columns.size());
            Check(cudaMemcpy2D(columns.data(), kStored * sizeof(float), dd, size_t{s.M} * sizeof(float),
                               kStored * sizeof(float), kStored, cudaMemcpyDeviceToHost),
                  "cudaMemcpy2D");
            for (uint32_t i = 0; i < kStored; ++i)
              for (uint32_t j = 0; j < kStored; ++j) corner[size_t{i} * kStored + j] = columns[size_t{j} * kStored + i];
            run["offset"] = results.size();
            results.insert(results.end(), corner.begin(), corner.end());
            meta["runs"].push_back(run);
          }
          cublasLtMatmulPreferenceDestroy(pref);
          cublasLtMatrixLayoutDestroy(la);
          cublasLtMatrixLayoutDestroy(lb);
          cublasLtMatrixLayoutDestroy(ld);
          cublasLtMatmulDescDestroy(op);
          cudaFree(da);
          cudaFree(db);
          cudaFree(dd);
          ++done;
          const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          std::fprintf(stderr, "[%zu/%zu] %s %ux%ux%u dist %u: %d algorithms, elapsed %.0f s, ETA %.0f s\n", done,
                       total, cfg.name, s.M, s.N, s.K, dist, found, el, el / done * (total - done));
        }
      }
      // After each configuration, so a run cut short keeps what it did.
      WriteAtomically(out_dir / "gemm_results.bin", results.data(), results.size() * sizeof(float));
      const std::string text = meta.dump(1);
      WriteAtomically(out_dir / "gemm_meta.json", text.data(), text.size());
    }
    std::printf("gemm_probe: %zu GEMM runs, %zu dot products on %s\n", meta["runs"].size(), results.size(),
                prop.name);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gemm_probe: %s\n", e.what());
    return 1;
  }
  return 0;
}
