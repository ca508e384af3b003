// GPU throughput of floatscope's CUDA kernels (cuda/gpu.h) beside the
// ceiling measured in the same run: a plain float4 device copy. Over 2^28
// float32 (1 GiB): fake-quantization (f16, bf16, e4m3fn, e5m2, e2m1fn, int8;
// rne and sr; the compile-time specialised kernels beside the run-time-plan
// kernel, "plan"; sr also from a first index 1 on aligned pointers,
// "first=1" (the group loop), and on a slice from element 1, "slice@1"
// (the peel, then the float4 loops)),
// per-tensor scaled fake-quantization (amax pass + cast pass; "v1" the
// first version), encode; then the emulated GEMM beside cuBLAS FP32 and
// BF16 GEMM.
// CUDA events around each call, the median of --reps repetitions after a
// warm-up. GB/s count the bytes each kernel must move: fake-quant and
// scaled read 4 and write 4 bytes per element (scaled really reads twice:
// its ideal is 8/12 = 67 % of copy), encode reads 4 and writes the code.
//
//   gpu_bench [--log2n 28] [--reps 20] [--gemm 1024] [--json out.json]
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cuda/device_ops.h"
#include "cuda/gpu.h"
#include "emulate/array_ops.h"
#include "emulate/dot.h"
#include "experiments/atomic_file.h"
#include "formats/names.h"
#include "formats/catalog.h"

namespace fs = floatscope;
namespace gpu = floatscope::gpu;

namespace {

void Check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "gpu_bench: %s: %s\n", what, cudaGetErrorString(e));
    std::exit(2);
  }
}

void CheckBlas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "gpu_bench: %s: cuBLAS status %d\n", what, static_cast<int>(s));
    std::exit(2);
  }
}

// Values like activations: random sign, exponents 2^-8 .. 2^7, random
// mantissas (never zeros: they would flatter the kernels).
__global__ void FillKernel(float* x, size_t n, uint64_t seed) {
  for (size_t i = size_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x) {
    const uint64_t h = gpu::Mix64(i ^ seed);
    const uint32_t e = 119 + static_cast<uint32_t>((h >> 32) % 16);
    x[i] = __uint_as_float(static_cast<uint32_t>(h >> 63) << 31 | e << 23 | (static_cast<uint32_t>(h) & 0x7fffff));
  }
}

__global__ void ToBf16Kernel(const float* x, __nv_bfloat16* y, size_t n) {
  for (size_t i = size_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x)
    y[i] = __float2bfloat16_rn(x[i]);
}

// Median milliseconds of `reps` runs of fn (after two warm-up runs).
double MedianMs(int reps, const std::function<void()>& fn) {
  fn();
  fn();
  Check(cudaDeviceSynchronize(), "warm-up");
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  std::vector<float> ms(reps);
  for (int r = 0; r < reps; ++r) {
    cudaEventRecord(a);
    fn();
    cudaEventRecord(b);
    Check(cudaEventSynchronize(b), "timed run");
    cudaEventElapsedTime(&ms[r], a, b);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(ms.begin(), ms.end());
  return ms[reps / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int log2n = 28, reps = 20, gemm_n = 1024;
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "gpu_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    auto number = [&]() {
      const std::string v = next();
      int out = 0;
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
      if (ec != std::errc{} || end != v.data() + v.size()) {
        std::fprintf(stderr, "gpu_bench: %s needs an integer, not '%s'\n", a.c_str(), v.c_str());
        std::exit(2);
      }
      return out;
    };
    if (a == "--log2n") log2n = number();
    else if (a == "--reps") reps = number();
    else if (a == "--gemm") gemm_n = number();  // 0: no GEMM rows
    else if (a == "--json") json_path = next();
    else {
      std::fprintf(stderr, "usage: gpu_bench [--log2n 28] [--reps 20] [--gemm 1024 (0: none)] [--json out.json]\n");
      return 2;
    }
  }
  if (log2n < 4 || log2n > 31 || reps < 1 || gemm_n < 0) {
    std::fprintf(stderr, "gpu_bench: --log2n must be 4..31, --reps >= 1, --gemm >= 0\n");
    return 2;
  }
  std::string why;
  if (!gpu::DeviceAvailable(&why)) {
    std::printf("skipped: no CUDA device\n");
    return 77;
  }
  const size_t n = size_t{1} << log2n;
  const std::string device = gpu::DeviceDescription();
  std::printf("device: %s\nn = 2^%d float32, median of %d runs\n", device.c_str(), log2n, reps);
  gpu::DeviceArray<float> x(n), y(n);
  gpu::DeviceArray<uint8_t> codes(2 * n), work(64);
  FillKernel<<<4096, 256>>>(x.get(), n, 0x5eed);
  Check(cudaDeviceSynchronize(), "fill");

  nlohmann::json rows = nlohmann::json::array();
  const double copy_ms = MedianMs(reps, [&] { gpu::Copy(x.get(), y.get(), n); });
  const double copy_gbs = 8.0 * static_cast<double>(n) / copy_ms / 1e6;
  auto row = [&](const std::string& kernel, const std::string& format, const std::string& mode, double ms,
                 double bytes_per_elem) {
    const double gbs = bytes_per_elem * static_cast<double>(n) / ms / 1e6;
    std::printf("%-22s %-8s %-6s %9.3f ms %8.0f GB/s %6.1f %% of copy\n", kernel.c_str(), format.c_str(), mode.c_str(),
                ms, gbs, 100.0 * gbs / copy_gbs);
    rows.push_back({{"kernel", kernel}, {"format", format}, {"round", mode}, {"ms", ms}, {"gb_per_s", gbs},
                    {"ratio_to_copy", gbs / copy_gbs}});
  };
  row("copy (float4)", "f32", "-", copy_ms, 8);
  // "plan" rows: the kernel driven by the run-time plan (the first fast
  // version, for before/after in one run); unmarked rows: what the entry
  // points take now (the compile-time specialised kernels).
  const char* names[] = {"f16", "bf16", "e4m3fn", "e5m2", "e2m1fn", "int8"};
  for (const char* name : names) {
    const fs::Format& f = *fs::FindNamedFormat(name);
    for (const fs::Rounding r : {fs::Rounding::kNearestEven, fs::Rounding::kStochastic}) {
      fs::Options opt;
      opt.rounding = r;
      opt.seed = 1;
      row("fake-quant plan", name, fs::RoundingNameOf(r),
          MedianMs(reps, [&] { gpu::FakeQuant(f, opt, x.get(), y.get(), n, 0, gpu::Variant::kPlan); }), 8);
      row("fake-quant", name, fs::RoundingNameOf(r),
          MedianMs(reps, [&] { gpu::FakeQuant(f, opt, x.get(), y.get(), n); }), 8);
    }
  }
  // Stochastic rounding, one Philox call per four elements
  // (cuda/stochastic.h), with a first index that is not a multiple of 4:
  // the group loop (scalar loads and stores, still one call per group).
  for (const char* name : names) {
    const fs::Format& f = *fs::FindNamedFormat(name);
    fs::Options opt;
    opt.rounding = fs::Rounding::kStochastic;
    opt.seed = 1;
    row("fake-quant first=1", name, "sr", MedianMs(reps, [&] { gpu::FakeQuant(f, opt, x.get(), y.get(), n, 1); }), 8);
    // A slice of an aligned tensor from element 1: pointers 4 bytes off,
    // index 1 (misaligned alike: 3 elements peeled, then float4 loops).
    row("fake-quant slice@1", name, "sr",
        MedianMs(reps, [&] { gpu::FakeQuant(f, opt, x.get() + 1, y.get() + 1, n - 1, 1); }), 8);
  }
  {  // the other modes, specialised
    const fs::Format& f = *fs::FindNamedFormat("e4m3fn");
    for (const fs::Rounding r : {fs::Rounding::kNearestAway, fs::Rounding::kTowardZero, fs::Rounding::kDown,
                                 fs::Rounding::kUp, fs::Rounding::kOdd, fs::Rounding::kStochasticEq}) {
      fs::Options opt;
      opt.rounding = r;
      opt.seed = 1;
      row("fake-quant", "e4m3fn", fs::RoundingNameOf(r),
          MedianMs(reps, [&] { gpu::FakeQuant(f, opt, x.get(), y.get(), n); }), 8);
    }
  }
  for (const char* name : {"e4m3fn", "e5m2", "f16", "bf16"}) {
    const fs::Format& f = *fs::FindNamedFormat(name);
    for (const fs::Rounding r : {fs::Rounding::kNearestEven, fs::Rounding::kStochastic, fs::Rounding::kStochasticEq}) {
      fs::Options opt;
      opt.rounding = r;
      for (const gpu::Variant v : {gpu::Variant::kCore, gpu::Variant::kAuto}) {
        if (v == gpu::Variant::kCore && (std::string(name) == "f16" || std::string(name) == "bf16")) continue;
        row(v == gpu::Variant::kCore ? "per-tensor scaled v1" : "per-tensor scaled", name, fs::RoundingNameOf(r),
            MedianMs(reps, [&] {
              gpu::TensorScaledFakeQuant(f, opt, gpu::ScaledRecipe{}, x.get(), nullptr, y.get(), n, work.get(), v);
            }), 8);
      }
    }
  }
  for (const char* name : names) {
    const fs::Format& f = *fs::FindNamedFormat(name);
    for (const fs::Rounding r : {fs::Rounding::kNearestEven, fs::Rounding::kStochastic}) {
      fs::Options opt;
      opt.rounding = r;
      opt.seed = 1;
      const double bytes = 4.0 + static_cast<double>(fs::CodeBytes(f));
      row("encode plan", name, fs::RoundingNameOf(r),
          MedianMs(reps, [&] { gpu::Encode(f, opt, x.get(), codes.get(), n, 0, gpu::Variant::kPlan); }), bytes);
      row("encode", name, fs::RoundingNameOf(r),
          MedianMs(reps, [&] { gpu::Encode(f, opt, x.get(), codes.get(), n); }), bytes);
    }
  }
  // The core variant (formats/ itself in the kernel) for comparison.
  for (const char* name : {"e4m3fn", "bf16"}) {
    const fs::Format& f = *fs::FindNamedFormat(name);
    fs::Options opt;
    row("fake-quant core", name, "rne",
        MedianMs(reps, [&] { gpu::FakeQuant(f, opt, x.get(), y.get(), n, 0, gpu::Variant::kCore); }), 8);
  }

  // ---- GEMM ----
  nlohmann::json gemm = nlohmann::json::array();
  const size_t g = static_cast<size_t>(gemm_n);
  if (g > 0) {
    gpu::DeviceArray<float> a(g * g), b(g * g), c(g * g);
    FillKernel<<<1024, 256>>>(a.get(), g * g, 1);
    FillKernel<<<1024, 256>>>(b.get(), g * g, 2);
    gpu::DeviceArray<__nv_bfloat16> a16(g * g), b16(g * g), c16(g * g);
    ToBf16Kernel<<<1024, 256>>>(a.get(), a16.get(), g * g);
    ToBf16Kernel<<<1024, 256>>>(b.get(), b16.get(), g * g);
    cublasHandle_t h;
    CheckBlas(cublasCreate(&h), "cublasCreate");
    const float one = 1.0f, zero = 0.0f;
    const double flop = 2.0 * static_cast<double>(g) * static_cast<double>(g) * static_cast<double>(g);
    auto grow = [&](const std::string& what, double ms) {
      std::printf("%-46s %5zu^3 %10.3f ms %10.2f TFLOP/s\n", what.c_str(), g, ms, flop / ms / 1e9);
      gemm.push_back({{"gemm", what}, {"n", g}, {"ms", ms}, {"tflop_per_s", flop / ms / 1e9}});
    };
    CheckBlas(cublasSetMathMode(h, CUBLAS_PEDANTIC_MATH), "math mode");
    grow("cuBLAS SGEMM (fp32, pedantic: no TF32)", MedianMs(reps, [&] {
           CheckBlas(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(g), static_cast<int>(g),
                                 static_cast<int>(g), &one, a.get(), static_cast<int>(g), b.get(),
                                 static_cast<int>(g), &zero, c.get(), static_cast<int>(g)),
                     "sgemm");
         }));
    CheckBlas(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH), "math mode");
    grow("cuBLAS BF16 GEMM (fp32 accumulate)", MedianMs(reps, [&] {
           CheckBlas(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(g), static_cast<int>(g),
                                  static_cast<int>(g), &one, a16.get(), CUDA_R_16BF, static_cast<int>(g), b16.get(),
                                  CUDA_R_16BF, static_cast<int>(g), &zero, c16.get(), CUDA_R_16BF,
                                  static_cast<int>(g), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                     "gemmex");
         }));
    cublasDestroy(h);
    // Emulated: bf16 codes in, f32 accumulator, several models.
    std::vector<uint16_t> raw(g * g);
    std::vector<uint32_t> ca(g * g), cb(g * g);
    Check(cudaMemcpy(raw.data(), a16.get(), 2 * g * g, cudaMemcpyDeviceToHost), "copy");
    for (size_t i = 0; i < g * g; ++i) ca[i] = raw[i];
    Check(cudaMemcpy(raw.data(), b16.get(), 2 * g * g, cudaMemcpyDeviceToHost), "copy");
    for (size_t i = 0; i < g * g; ++i) cb[i] = raw[i];
    gpu::DeviceArray<uint32_t> da(g * g), db(g * g);
    gpu::DeviceArray<uint64_t> dc(g * g);
    da.Upload(ca.data(), ca.size());
    db.Upload(cb.data(), cb.size());
    struct M {
      const char* name;
      fs::DotModel model;
    };
    std::vector<M> models(4);
    models[0] = {"emulated bf16 GEMM, f32 acc, sequential", {}};
    models[1] = {"emulated bf16 GEMM, f32 acc, fused", {}};
    models[1].model.accumulation = fs::Accumulation::kFused;
    models[2] = {"emulated bf16 GEMM, f32 acc, block 32", {}};
    models[2].model.accumulation = fs::Accumulation::kBlock;
    models[2].model.block = 32;
    models[3] = {"emulated bf16 GEMM, f32 acc, hardware G4 F24", {}};
    models[3].model.accumulation = fs::Accumulation::kHardware;
    const int gemm_reps = std::max(3, reps / 4);
    for (const M& m : models) {
      grow(m.name, MedianMs(gemm_reps, [&] {
             gpu::Gemm(fs::formats::kBf16, da.get(), db.get(), g, g, g, fs::formats::kF32, m.model, dc.get(), nullptr,
                       fs::Options{});
           }));
    }
  }
  if (!json_path.empty()) {
    nlohmann::json j = {{"device", device}, {"n", n}, {"reps", reps}, {"copy_gb_per_s", copy_gbs},
                        {"kernels", rows}, {"gemm", gemm}};
    try {
      floatscope::experiments::WriteAtomically(json_path, j.dump(2));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "gpu_bench: %s\n", e.what());
      return 1;
    }
  }
  return 0;
}
