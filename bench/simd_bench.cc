// simd_bench: the array kernels (emulate/array_ops.h) beside their ceiling
// and peers, in one run (Google Benchmark; bench/run_simd_bench.py adds
// numpy and ml_dtypes and prints the ratios).
//
// Per size (2^24 float32 = 64 MiB, past every cache; 2^16 = 256 KiB, L2):
//   copy           memcpy of the bytes fake-quant reads+writes: the ceiling
//   scale          out[i] = 2 * in[i], a STREAM-like loop
//   f16c           float32 -> f16 -> float32 with F16C instructions
//   fakequant/F/M/T  floatscope FakeQuantF32Array, format F, mode M, T threads
//   fakequant-stats/F/M/1  the same with ArrayStats counted, one thread
//   encode/F/M     floatscope EncodeF32Array to codes, one thread
//   core/F/M       the scalar core element by element (what SIMD replaces)
//   quantize/S/F/P whole emulate/quant schemes (float64 in, codes, scales,
//                  dequantized values and error statistics out), 2^20
//                  elements, P = simd (element casts through the kernels
//                  where that is the core's cast) or core (QuantConfig::simd
//                  off): what the kernels buy inside `floatscope quantize`
// Counters: items_per_second (elements per second, so "1.1G/s" is 1.1 per ns)
// and bytes_per_second (bytes read + written).
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench_build_info.h"  // FS_BUILD_INFO (bench/meson.build)
#include "emulate/array_ops.h"
#include "emulate/quant/quantize.h"
#include "emulate/simd/kernels.h"
#include "formats/catalog.h"
#include "formats/names.h"

namespace fs = floatscope;

namespace {

const std::vector<float>& Input(size_t n) {
  static std::vector<float> data = [] {
    std::vector<float> v(size_t{1} << 24);
    std::mt19937 rng(7);
    std::normal_distribution<float> d(0.f, 1.f);
    for (float& x : v) x = d(rng);
    return v;
  }();
  (void)n;
  return data;
}

void SetCounters(benchmark::State& st, size_t n, size_t bytes_per_elem) {
  // items_per_second is elements per second: "1.1G/s" reads as 1.1 elements per ns.
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(n));
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * static_cast<int64_t>(n * bytes_per_elem));
}

void BM_Copy(benchmark::State& st) {
  const size_t n = static_cast<size_t>(st.range(0));
  const float* in = Input(n).data();
  std::vector<float> out(n);
  for (auto _ : st) {
    std::memcpy(out.data(), in, n * 4);
    benchmark::ClobberMemory();
  }
  SetCounters(st, n, 8);
}

void BM_Scale(benchmark::State& st) {
  const size_t n = static_cast<size_t>(st.range(0));
  const float* in = Input(n).data();
  std::vector<float> out(n);
  for (auto _ : st) {
    for (size_t i = 0; i < n; ++i) out[i] = 2.0f * in[i];
    benchmark::ClobberMemory();
  }
  SetCounters(st, n, 8);
}

__attribute__((target("avx2,f16c"))) void F16cRoundTrip(const float* in, float* out, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT);
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; ++i) out[i] = _cvtsh_ss(_cvtss_sh(in[i], _MM_FROUND_TO_NEAREST_INT));
}

void BM_F16c(benchmark::State& st) {
  if (!__builtin_cpu_supports("f16c")) {
    st.SkipWithError("no F16C on this CPU");
    return;
  }
  const size_t n = static_cast<size_t>(st.range(0));
  const float* in = Input(n).data();
  std::vector<float> out(n);
  for (auto _ : st) {
    F16cRoundTrip(in, out.data(), n);
    benchmark::ClobberMemory();
  }
  SetCounters(st, n, 8);
}

fs::Options OptionsFor(const std::string& mode) {
  fs::Options o;
  o.rounding = *fs::ParseRounding(mode);
  o.seed = 1234;
  return o;
}

void RegisterAll() {
  for (int64_t n : {int64_t{1} << 24, int64_t{1} << 16}) {
    benchmark::RegisterBenchmark("copy", BM_Copy)->Arg(n)->UseRealTime();
    benchmark::RegisterBenchmark("scale", BM_Scale)->Arg(n)->UseRealTime();
    benchmark::RegisterBenchmark("f16c", BM_F16c)->Arg(n)->UseRealTime();
    const unsigned all = std::max(1u, std::thread::hardware_concurrency());
    for (const char* name : {"f16", "bf16", "e4m3fn", "e5m2", "e2m1fn", "int8"}) {
      const fs::Format* f = fs::FindNamedFormat(name);
      for (const char* mode : {"rne", "sr", "sr-eq"}) {
        for (unsigned threads : {1u, all}) {
          benchmark::RegisterBenchmark(
              (std::string("fakequant/") + name + "/" + mode + "/" + std::to_string(threads)).c_str(),
              [f, mode, threads](benchmark::State& st) {
                const size_t n = static_cast<size_t>(st.range(0));
                const float* in = Input(n).data();
                std::vector<float> out(n);
                const fs::Options o = OptionsFor(mode);
                for (auto _ : st) {
                  fs::FakeQuantF32Array(*f, o, in, out.data(), n, 0, nullptr, threads);
                  benchmark::ClobberMemory();
                }
                SetCounters(st, n, 8);
              })
              ->Arg(n)
              ->UseRealTime();
          if (all == 1) break;
        }
        // The same with statistics (ArrayStats counted in the same pass).
        benchmark::RegisterBenchmark((std::string("fakequant-stats/") + name + "/" + mode + "/1").c_str(),
                                     [f, mode](benchmark::State& st) {
                                       const size_t n = static_cast<size_t>(st.range(0));
                                       const float* in = Input(n).data();
                                       std::vector<float> out(n);
                                       const fs::Options o = OptionsFor(mode);
                                       fs::ArrayStats stats;
                                       for (auto _ : st) {
                                         fs::FakeQuantF32Array(*f, o, in, out.data(), n, 0, &stats, 1);
                                         benchmark::ClobberMemory();
                                       }
                                       benchmark::DoNotOptimize(stats);
                                       SetCounters(st, n, 8);
                                     })
            ->Arg(n)
            ->UseRealTime();
        benchmark::RegisterBenchmark((std::string("encode/") + name + "/" + mode).c_str(),
                                     [f, mode](benchmark::State& st) {
                                       const size_t n = static_cast<size_t>(st.range(0));
                                       const float* in = Input(n).data();
                                       std::vector<uint8_t> codes(n * fs::CodeBytes(*f));
                                       const fs::Options o = OptionsFor(mode);
                                       for (auto _ : st) {
                                         fs::EncodeF32Array(*f, o, in, codes.data(), n, 0, nullptr, 1);
                                         benchmark::ClobberMemory();
                                       }
                                       SetCounters(st, n, 4 + fs::CodeBytes(*f));
                                     })
            ->Arg(n)
            ->UseRealTime();
        benchmark::RegisterBenchmark((std::string("core/") + name + "/" + mode).c_str(),
                                     [f, mode](benchmark::State& st) {
                                       const size_t n = static_cast<size_t>(st.range(0));
                                       const float* in = Input(n).data();
                                       std::vector<float> out(n);
                                       const fs::Options o = OptionsFor(mode);
                                       for (auto _ : st) {
                                         fs::scalar::FakeQuantF32Array(*f, o, in, out.data(), n, 0, nullptr);
                                         benchmark::ClobberMemory();
                                       }
                                       SetCounters(st, n, 8);
                                     })
            ->Arg(n)
            ->UseRealTime()
            ->Iterations(n > (1 << 20) ? 1 : 20);
      }
    }
  }
}

void RegisterQuantize() {
  namespace q = fs::quant;
  const size_t n = size_t{1} << 20;
  struct Case {
    const char* name;
    q::Scheme scheme;
    const char* format;
    bool pow2;
  };
  for (const Case& c : {Case{"tensor-pow2", q::Scheme::kTensor, "e4m3fn", true},
                        Case{"mx", q::Scheme::kMx, "e4m3fn", false}, Case{"nvfp4", q::Scheme::kNvfp4, "e2m1fn", false}}) {
    for (bool simd : {true, false}) {
      benchmark::RegisterBenchmark(
          (std::string("quantize/") + c.name + "/" + c.format + "/" + (simd ? "simd" : "core")).c_str(),
          [c, simd, n](benchmark::State& st) {
            const float* in = Input(n).data();
            const std::vector<double> x(in, in + n);
            q::QuantConfig cfg;
            cfg.format = fs::FindNamedFormat(c.format);
            cfg.scheme = c.scheme;
            cfg.fp8.pow2 = c.pow2;
            cfg.threads = 1;
            cfg.simd = simd;
            for (auto _ : st) {
              q::QuantResult r = q::Quantize(cfg, {n}, x);
              benchmark::DoNotOptimize(r.dequantized.data());
            }
            SetCounters(st, n, 8 + 2 + 4);  // float64 in; code and float32 out
          })
          ->Arg(static_cast<int64_t>(n))
          ->UseRealTime();
    }
  }
}

}  // namespace

// The core clock in GHz, estimated from a chain of dependent integer adds
// (one cycle each on every x86 core since the P6): 8 adds per iteration,
// the best of 5 timings of 2^22 iterations. Printed before and after the
// benchmarks, it shows turbo, throttling or a busy neighbour (a shared
// machine's core runs at a fraction of its clock for us).
double EstimateGHz() {
#if defined(__x86_64__)
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    uint64_t x = 0;
    const uint64_t y = 1, iters = uint64_t{1} << 22;
    const auto t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < iters; ++i) {
      asm volatile(
          "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
          "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0"
          : "+r"(x)
          : "r"(y));
    }
    const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 8.0 * static_cast<double>(iters) / ns);
    benchmark::DoNotOptimize(x);
  }
  return best;
#else
  return 0;
#endif
}

int main(int argc, char** argv) {
  RegisterAll();
  RegisterQuantize();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::AddCustomContext("simd_target", fs::SimdTargetName());
  benchmark::AddCustomContext("build", FS_BUILD_INFO);
  // FS_STREAM_MIN_BYTES sets the streaming-store threshold (off by default;
  // "llc" = the last-level cache's size), to compare the two store paths.
  if (const char* s = std::getenv("FS_STREAM_MIN_BYTES"))
    fs::simd::SetStreamMinBytesForTest(std::string(s) == "llc" ? fs::simd::LastLevelCacheBytesForBench()
                                                               : std::strtoull(s, nullptr, 10));
  if (fs::simd::StreamMinBytes() != ~size_t{0})
    benchmark::AddCustomContext("stream_min_bytes", std::to_string(fs::simd::StreamMinBytes()));
  benchmark::AddCustomContext("ghz_before", std::to_string(EstimateGHz()));
  benchmark::RunSpecifiedBenchmarks();
  // Google Benchmark prints its context first, so the clock after the run
  // goes to stderr (run_simd_bench.py reads it from there).
  std::fprintf(stderr, "ghz_after %.3f\n", EstimateGHz());
  benchmark::Shutdown();
  return 0;
}
