// The emulated GEMM on the GPU beside cuBLAS(Lt) of the same shape and
// input type (float32 output): M = N = K = --size, every H100 preset
// (emulate/h100_tensor_core.h) and generic kHardware models through the
// fixed-point kernel (cuda/gemm_kernel.cu), kSequential and kFused models
// through the float32 kernel (cuda/gemm_float_kernel.cu), the general
// kernel (one thread per element) at --general-size, and a sample of the
// emulated results checked against emulate/dot.h's Dot on the CPU, bit for
// bit (code and flags). --only S: the cases whose name contains S.
//   build/bench/gemm_bench [--size 4096] [--reps 5] [--general-size 1024] [--check 256] [--only S]
// TFLOP/s = 2 M N K / median time (CUDA events, after one warm-up).
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cuda/gpu.h"
#include "emulate/dot.h"
#include "emulate/h100_tensor_core.h"
#include "formats/catalog.h"

using namespace floatscope;

namespace {

void Check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}
void Check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "%s: cublas status %d\n", what, static_cast<int>(s));
    std::exit(1);
  }
}

// Random finite codes of a float format: random sign and mantissa, the
// exponent field within +-spread of the bias (values of moderate size, no
// NaN or infinity), some zeros.
std::vector<uint32_t> RandomCodes(const Format& f, size_t n, uint32_t seed, int spread) {
  std::mt19937 rng(seed);
  std::vector<uint32_t> out(n);
  const int m = f.mantissa_bits, eb = f.exponent_bits;
  const uint32_t emax_field = (1u << eb) - 2;  // below the inf/NaN field of IEEE formats
  for (size_t i = 0; i < n; ++i) {
    const uint32_t r = rng();
    int field = static_cast<int>(f.bias) + static_cast<int>(r % (2 * spread + 1)) - spread;
    field = std::clamp(field, 1, static_cast<int>(emax_field));
    uint32_t code = (static_cast<uint32_t>(field) << m) | ((r >> 8) & ((1u << m) - 1));
    if (f.bits == 8 && m == 3 && code >= 0x7e) code = 0x7d;  // e4m3fn: 0x7f is NaN
    if ((r >> 28) == 0) code = 0;
    if (r >> 31) code |= 1u << (f.bits - 1);
    out[i] = code;
  }
  return out;
}

std::vector<uint8_t> Narrow8(const std::vector<uint32_t>& v) { return {v.begin(), v.end()}; }
std::vector<uint16_t> Narrow16(const std::vector<uint32_t>& v) { return {v.begin(), v.end()}; }

template <class T>
T* Upload(const std::vector<T>& v) {
  T* d = nullptr;
  Check(cudaMalloc(&d, v.size() * sizeof(T)), "cudaMalloc");
  Check(cudaMemcpy(d, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy");
  return d;
}

template <class F>
double MedianMs(int reps, F&& run) {
  cudaEvent_t a, b;
  Check(cudaEventCreate(&a), "event");
  Check(cudaEventCreate(&b), "event");
  run();  // warm-up
  Check(cudaDeviceSynchronize(), "warm-up");
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    Check(cudaEventRecord(a), "record");
    run();
    Check(cudaEventRecord(b), "record");
    Check(cudaEventSynchronize(b), "sync");
    float t = 0;
    Check(cudaEventElapsedTime(&t, a, b), "elapsed");
    ms.push_back(t);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

cudaDataType_t CudaType(const Format& f) {
  if (&f == &formats::kF16) return CUDA_R_16F;
  if (&f == &formats::kBf16) return CUDA_R_16BF;
  if (&f == &formats::kE4m3fn) return CUDA_R_8F_E4M3;
  return CUDA_R_8F_E5M2;
}

// cuBLASLt, C = A B with A (M x K) and B (K x N) row-major as the emulated
// GEMM stores them: D^T = B^T A^T in column-major terms, TN layout for FP8
// (A^T is K x M with ld K: our B transposed is needed, so B is given as
// N x K). The bench feeds cuBLAS its own copy of the codes in the layout it
// takes; the timing is what matters here, not the values.
double CublasMs(cublasLtHandle_t lt, const Format& fa, const Format& fb, const void* da, const void* db, size_t m,
                size_t n, size_t k, bool fast_accum, int reps, void* workspace, size_t workspace_bytes) {
  const bool fp8 = fa.bits == 8;
  cublasLtMatmulDesc_t op;
  Check(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "MatmulDescCreate");
  const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  Check(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), "TRANSA");
  Check(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), "TRANSB");
  float* one = nullptr;
  if (fp8) {
    const float h = 1.0f;
    Check(cudaMalloc(&one, sizeof(float)), "cudaMalloc");
    Check(cudaMemcpy(one, &h, sizeof h, cudaMemcpyHostToDevice), "cudaMemcpy");
    const int8_t fast = fast_accum ? 1 : 0;
    Check(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fast, sizeof fast), "FAST_ACCUM");
    Check(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &one, sizeof one), "A_SCALE");
    Check(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &one, sizeof one), "B_SCALE");
  }
  cublasLtMatrixLayout_t la, lb, ld;
  Check(cublasLtMatrixLayoutCreate(&la, CudaType(fa), k, m, k), "layout A");
  Check(cublasLtMatrixLayoutCreate(&lb, CudaType(fb), k, n, k), "layout B");
  Check(cublasLtMatrixLayoutCreate(&ld, CUDA_R_32F, m, n, m), "layout D");
  cublasLtMatmulPreference_t pref;
  Check(cublasLtMatmulPreferenceCreate(&pref), "PreferenceCreate");
  Check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes,
                                             sizeof workspace_bytes),
        "MAX_WORKSPACE");
  cublasLtMatmulHeuristicResult_t heur{};
  int found = 0;
  Check(cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, ld, ld, pref, 1, &heur, &found), "heuristic");
  float* dd = nullptr;
  Check(cudaMalloc(&dd, m * n * sizeof(float)), "cudaMalloc");
  const float h_one = 1.0f, h_zero = 0.0f;
  double ms = -1;
  if (found > 0)
    ms = MedianMs(reps, [&] {
      Check(cublasLtMatmul(lt, op, &h_one, da, la, db, lb, &h_zero, dd, ld, dd, ld, &heur.algo, workspace,
                           workspace_bytes, 0),
            "cublasLtMatmul");
    });
  cudaFree(dd);
  if (one) cudaFree(one);
  cublasLtMatmulPreferenceDestroy(pref);
  cublasLtMatrixLayoutDestroy(la);
  cublasLtMatrixLayoutDestroy(lb);
  cublasLtMatrixLayoutDestroy(ld);
  cublasLtMatmulDescDestroy(op);
  return ms;
}

struct Case {
  std::string name;
  const Format* in_a;
  const Format* in_b;
  DotModel model;
  Options opt;
  bool fast_accum;  // for the cuBLAS row of FP8
  const Format* acc = &formats::kF32;
  int spread = 6;  // the inputs' exponents: within +-spread of 1 (RandomCodes)
};

}  // namespace

int main(int argc, char** argv) {
  size_t size = 4096, general_size = 1024;
  int reps = 5, check = 256;
  std::string only;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--size") size = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--reps") reps = std::atoi(argv[i + 1]);
    else if (a == "--general-size") general_size = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--check") check = std::atoi(argv[i + 1]);
    else if (a == "--only") only = argv[i + 1];
  }
  std::string why;
  if (!gpu::DeviceAvailable(&why)) {
    std::printf("skipped: no CUDA device (%s)\n", why.c_str());
    return 77;
  }
  std::printf("device: %s\n", gpu::DeviceDescription().c_str());
  std::vector<Case> cases;
  auto preset = [&](const char* name, const Format& a, const Format& b, bool fast) {
    const H100TensorCoreModel* p = FindH100TensorCoreModel(name);
    cases.push_back({name, &a, &b, p->model, p->options, fast});
  };
  preset("h100-f16", formats::kF16, formats::kF16, false);
  preset("h100-bf16", formats::kBf16, formats::kBf16, false);
  preset("h100-e4m3", formats::kE4m3fn, formats::kE4m3fn, false);
  preset("h100-e4m3-fast", formats::kE4m3fn, formats::kE4m3fn, true);
  preset("h100-e5m2xe4m3", formats::kE5m2, formats::kE4m3fn, false);
  preset("h100-e5m2xe4m3-fast", formats::kE5m2, formats::kE4m3fn, true);
  preset("hopper-mma-fp8", formats::kE4m3fn, formats::kE4m3fn, false);  // no cuBLAS row: mma.sync, not a library GEMM
  {
    DotModel g;  // the generic example: G 4, F 24, leading-bit alignment, rne
    g.accumulation = Accumulation::kHardware;
    cases.push_back({"kHardware G4 F24 leading-bit rne", &formats::kBf16, &formats::kBf16, g, Options{}, false});
    DotModel s = g;
    s.group = 16;
    s.fraction_bits = 12;
    s.promote_every = 2;
    s.alignment = Alignment::kExponentSum;
    Options sr;
    sr.rounding = Rounding::kStochastic;
    cases.push_back({"kHardware G16 F12 N2 exponent-sum sr", &formats::kF16, &formats::kF16, s, sr, false});
    DotModel w = g;  // G 32, exponent-sum, rtz: a float32 sum under a mode of its own
    w.group = 32;
    w.alignment = Alignment::kExponentSum;
    Options rtz;
    rtz.rounding = Rounding::kTowardZero;
    cases.push_back({"kHardware G32 F24 exponent-sum rtz", &formats::kF16, &formats::kF16, w, rtz, false});
    DotModel f = g;  // G 8, F 20, the FP8 sum format, rdn
    f.group = 8;
    f.fraction_bits = 20;
    f.sum_format = &kH100Fp8SumFormat;
    Options rdn;
    rdn.rounding = Rounding::kDown;
    cases.push_back({"kHardware G8 F20 f32p14 rdn", &formats::kE5m2, &formats::kE4m3fn, f, rdn, false});
    // Sum formats of the IEEE-like kind (widths read at run time): bf16, tf32.
    DotModel b = g;
    b.sum_format = &formats::kBf16;
    cases.push_back({"kHardware G4 F24 bf16-sum rne", &formats::kBf16, &formats::kBf16, b, Options{}, false});
    DotModel t = g;
    t.sum_format = &formats::kTf32;
    cases.push_back({"kHardware G4 F24 tf32-sum rne", &formats::kBf16, &formats::kBf16, t, Options{}, false});
    // Rounding modes read at run time in the unrolled group step.
    Options rna, rto, sreq;
    rna.rounding = Rounding::kNearestAway;
    rto.rounding = Rounding::kOdd;
    sreq.rounding = Rounding::kStochasticEq;
    cases.push_back({"kHardware G4 F24 leading-bit rna", &formats::kBf16, &formats::kBf16, g, rna, false});
    cases.push_back({"kHardware G4 F24 leading-bit rto", &formats::kBf16, &formats::kBf16, g, rto, false});
    cases.push_back({"kHardware G16 F12 N2 exponent-sum sr-eq", &formats::kF16, &formats::kF16, s, sreq, false});
    // The wholly run-time variant: a sum format of no kind (e4m3fn: no
    // infinities).
    DotModel e = g;
    e.fraction_bits = 12;
    e.sum_format = &formats::kE4m3fn;
    cases.push_back({"kHardware G4 F12 e4m3fn-sum rne", &formats::kE4m3fn, &formats::kE4m3fn, e, Options{}, false});
  }
  {
    // kSequential and kFused (the float32 kernel where it applies).
    DotModel seq, fused;
    seq.accumulation = Accumulation::kSequential;
    fused.accumulation = Accumulation::kFused;
    Options rne, rtz, rdn, rup;
    rtz.rounding = Rounding::kTowardZero;
    rdn.rounding = Rounding::kDown;
    rup.rounding = Rounding::kUp;
    cases.push_back({"kSequential rne", &formats::kF16, &formats::kF16, seq, rne, false});
    cases.push_back({"kSequential rdn", &formats::kBf16, &formats::kBf16, seq, rdn, false});
    cases.push_back({"kFused rne", &formats::kBf16, &formats::kBf16, fused, rne, false});
    cases.push_back({"kFused rtz", &formats::kE4m3fn, &formats::kE4m3fn, fused, rtz, false});
    cases.push_back({"kFused rup", &formats::kF16, &formats::kF16, fused, rup, false});
    // The float64 kernel: narrow accumulators, and float32 under rna (inputs
    // near 1, so that the sums stay finite in f16).
    Options rna, sr;
    rna.rounding = Rounding::kNearestAway;
    sr.rounding = Rounding::kStochastic;
    cases.push_back({"kFused f16-acc rne", &formats::kF16, &formats::kF16, fused, rne, false, &formats::kF16, 2});
    cases.push_back({"kSequential f16-acc rne", &formats::kF16, &formats::kF16, seq, rne, false, &formats::kF16, 2});
    cases.push_back({"kFused bf16-acc sr", &formats::kBf16, &formats::kBf16, fused, sr, false, &formats::kBf16, 2});
    cases.push_back({"kSequential bf16-acc sr", &formats::kBf16, &formats::kBf16, seq, sr, false, &formats::kBf16, 2});
    cases.push_back({"kFused rna", &formats::kBf16, &formats::kBf16, fused, rna, false});
    cases.push_back({"kFused sr", &formats::kBf16, &formats::kBf16, fused, sr, false});
    cases.push_back({"kSequential sr", &formats::kBf16, &formats::kBf16, seq, sr, false});
    // kExact and kBlock (the fixed-point block kernel).
    DotModel exact, block32, block16;
    exact.accumulation = Accumulation::kExact;
    block32.accumulation = block16.accumulation = Accumulation::kBlock;
    block32.block = 32;
    block16.block = 16;
    cases.push_back({"kExact rne", &formats::kE4m3fn, &formats::kE4m3fn, exact, rne, false});
    cases.push_back({"kBlock 32 rne", &formats::kE4m3fn, &formats::kE4m3fn, block32, rne, false});
    cases.push_back({"kBlock 16 sr", &formats::kE4m3fn, &formats::kE4m3fn, block16, sr, false});
    // 16-bit inputs: the block kernel's wide variant (three limbs).
    cases.push_back({"kExact f16 rne", &formats::kF16, &formats::kF16, exact, rne, false});
    cases.push_back({"kBlock 32 bf16 rne", &formats::kBf16, &formats::kBf16, block32, rne, false});
    cases.push_back({"kBlock 16 bf16 sr", &formats::kBf16, &formats::kBf16, block16, sr, false});
  }
  if (!only.empty())
    std::erase_if(cases, [&](const Case& c) { return c.name.find(only) == std::string::npos; });

  cublasLtHandle_t lt;
  Check(cublasLtCreate(&lt), "cublasLtCreate");
  const size_t workspace_bytes = size_t{64} << 20;
  void* workspace = nullptr;
  Check(cudaMalloc(&workspace, workspace_bytes), "cudaMalloc");

  const size_t m = size, n = size, k = size;
  const double flop = 2.0 * double(m) * double(n) * double(k);
  std::printf("M = N = K = %zu, median of %d after a warm-up\n", size, reps);
  std::printf("%-40s %-24s %10s %10s %10s %10s %s\n", "model", "inputs", "emu ms", "emu TF/s", "cuBLAS ms",
              "cuBLAS TF/s", "check vs CPU");
  std::mt19937 pick(7);
  for (const Case& c : cases) {
    const std::vector<uint32_t> a = RandomCodes(*c.in_a, m * k, 11, c.spread),
                                b = RandomCodes(*c.in_b, k * n, 12, c.spread);
    const Format& acc = *c.acc;
    uint32_t* d_a = Upload(a);
    uint32_t* d_b = Upload(b);
    uint64_t* d_c = nullptr;
    uint8_t* d_flags = nullptr;
    Check(cudaMalloc(&d_c, m * n * sizeof(uint64_t)), "cudaMalloc");
    Check(cudaMalloc(&d_flags, m * n), "cudaMalloc");
    Check(cudaMemset(d_c, 0xff, m * n * sizeof(uint64_t)), "cudaMemset");
    const char* path = gpu::GemmFixedPointApplies(*c.in_a, *c.in_b, acc, c.model, m, n, k) ? "(fixed-point kernel)"
                       : gpu::GemmFloatApplies(*c.in_a, *c.in_b, acc, c.model, c.opt, m, n, k) ? "(float32 kernel)"
                       : gpu::GemmBlockFixedApplies(*c.in_a, *c.in_b, acc, c.model, m, n, k)   ? "(block kernel)"
                       : gpu::GemmFloat64Applies(*c.in_a, *c.in_b, acc, c.model, c.opt, m, n, k)
                           ? "(float64 kernel)"
                           : "(general kernel)";
    // cuBLAS on the same codes (B given as N x K, the layout it takes).
    double cublas_ms = -1;
    if (c.name.starts_with("h100")) {
      std::vector<uint32_t> bt(k * n);
      for (size_t kk = 0; kk < k; ++kk)
        for (size_t j = 0; j < n; ++j) bt[j * k + kk] = b[kk * n + j];
      void *da = nullptr, *db = nullptr;
      if (c.in_a->bits == 8) {
        da = Upload(Narrow8(a));
        db = Upload(Narrow8(bt));
      } else {
        da = Upload(Narrow16(a));
        db = Upload(Narrow16(bt));
      }
      cublas_ms = CublasMs(lt, *c.in_a, *c.in_b, da, db, m, n, k, c.fast_accum, reps, workspace, workspace_bytes);
      cudaFree(da);
      cudaFree(db);
    }
    const std::vector<uint64_t> a64(a.begin(), a.end()), b64(b.begin(), b.end());
    const uint64_t per = RoundingsPerDot(c.model, k);
    {
      Check(cudaMemset(d_c, 0xff, m * n * sizeof(uint64_t)), "cudaMemset");
      const double ms = MedianMs(reps, [&] {
        gpu::Gemm(*c.in_a, d_a, *c.in_b, d_b, m, n, k, acc, c.model, d_c, nullptr, c.opt, 0);
      });
      // A sample of C against the CPU, code and flags (a last run with
      // flags).
      gpu::Gemm(*c.in_a, d_a, *c.in_b, d_b, m, n, k, acc, c.model, d_c, d_flags, c.opt, 0);
      std::vector<uint64_t> got(m * n);
      std::vector<uint8_t> got_flags(m * n);
      Check(cudaMemcpy(got.data(), d_c, m * n * sizeof(uint64_t), cudaMemcpyDeviceToHost), "cudaMemcpy");
      Check(cudaMemcpy(got_flags.data(), d_flags, m * n, cudaMemcpyDeviceToHost), "cudaMemcpy");
      int agree = 0;
      for (int s = 0; s < check; ++s) {
        const size_t i = pick() % m, j = pick() % n;
        const Result r =
            Dot(*c.in_a, a64.data() + i * k, 1, *c.in_b, b64.data() + j, n, k, acc, c.model, c.opt, (i * n + j) * per);
        agree += r.code == got[i * n + j] && r.flags == got_flags[i * n + j];
      }
      const std::string inputs = std::string(c.in_a->name) + " x " + c.in_b->name + " -> " + acc.name;
      std::printf("%-40s %-24s %10.2f %10.3f %10.3f %10.1f %d/%d %s\n", c.name.c_str(), inputs.c_str(), ms,
                  flop / ms * 1e-9, cublas_ms, cublas_ms > 0 ? flop / cublas_ms * 1e-9 : 0.0, agree, check,
                  path);
      std::fflush(stdout);
    }
    cudaFree(d_a);
    cudaFree(d_b);
    cudaFree(d_c);
    cudaFree(d_flags);
  }

  // The general kernel (one thread per element, every model) at a smaller
  // size: how slow the fallback is, for a model of each kind.
  {
    const size_t g = general_size;
    const double gflop = 2.0 * double(g) * double(g) * double(g);
    const std::vector<uint32_t> a = RandomCodes(formats::kBf16, g * g, 21, 6), b = RandomCodes(formats::kBf16, g * g, 22, 6);
    uint32_t* d_a = Upload(a);
    uint32_t* d_b = Upload(b);
    uint64_t* d_c = nullptr;
    Check(cudaMalloc(&d_c, g * g * sizeof(uint64_t)), "cudaMalloc");
    std::printf("general kernel, bf16 x bf16 -> f32, M = N = K = %zu, median of 3\n", g);
    const H100TensorCoreModel* h = FindH100TensorCoreModel("h100-bf16");
    DotModel fused;
    fused.accumulation = Accumulation::kFused;
    DotModel block;
    block.accumulation = Accumulation::kBlock;
    block.block = 32;
    struct G {
      const char* name;
      DotModel model;
      Options opt;
      bool general;
    };
    const G gs[] = {{"h100-bf16 (general kernel)", h->model, h->options, true},
                    {"h100-bf16 (fast kernel)", h->model, h->options, false},
                    {"kFused", fused, Options{}, true},
                    {"kBlock 32", block, Options{}, true}};
    for (const G& x : gs) {
      const double ms = MedianMs(3, [&] {
        if (x.general) gpu::GemmGeneral(formats::kBf16, d_a, formats::kBf16, d_b, g, g, g, formats::kF32, x.model, d_c,
                                        nullptr, x.opt, 0);
        else gpu::Gemm(formats::kBf16, d_a, formats::kBf16, d_b, g, g, g, formats::kF32, x.model, d_c, nullptr, x.opt, 0);
      });
      std::printf("%-40s %10.2f ms %10.4f TFLOP/s\n", x.name, ms, gflop / ms * 1e-9);
    }
    cudaFree(d_a);
    cudaFree(d_b);
    cudaFree(d_c);
  }
  cudaFree(workspace);
  cublasLtDestroy(lt);
  return 0;
}
