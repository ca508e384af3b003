// Exhaustive check of NVIDIA's conversion intrinsics against floatscope's
// presets: every one of the 2^32 float32 inputs goes through the intrinsic
// and through the shared formats/ core (compiled for the device from the
// very same headers), and every difference is counted.
//
//   nvcc -std=c++20 -O3 -arch=sm_90a --expt-relaxed-constexpr -I. cuda/intrinsics_check.cu -o intrinsics_check
//   ./intrinsics_check
//
// Prints one line per check: name, the preset it is compared with, the
// number of mismatches, and the first few mismatching inputs. Exit status 1
// when any check has mismatches, 2 when no CUDA device is present.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <chrono>
#include <cstdint>
#include <cstdio>

#include "formats/compat.h"
#include "formats/convert.h"

using namespace floatscope;

namespace {

enum Check : int {
  kE4m3Satfinite,
  kE5m2Satfinite,
  kE4m3NoSat,
  kE5m2NoSat,
  kHalfRn,
  kBf16Rn,
  kNumChecks
};

const char* const kNames[kNumChecks] = {
    "__nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3)",
    "__nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E5M2)",
    "__nv_cvt_float_to_fp8(x, __NV_NOSAT, __NV_E4M3)",
    "__nv_cvt_float_to_fp8(x, __NV_NOSAT, __NV_E5M2)",
    "__float2half_rn(x)",
    "__float2bfloat16_rn(x)",
};
const char* const kPresets[kNumChecks] = {
    "e4m3fn --compat cuda-satfinite", "e5m2 --compat cuda-satfinite",
    "e4m3fn --compat cuda", "e5m2 --compat cuda", "f16 --compat cuda", "bf16 --compat cuda",
};

constexpr int kMaxRecorded = 8;

struct Mismatches {
  unsigned long long count[kNumChecks];
  unsigned int input[kNumChecks][kMaxRecorded];
  unsigned int got[kNumChecks][kMaxRecorded];
  unsigned int want[kNumChecks][kMaxRecorded];
};

__device__ void Record(Mismatches* m, int check, uint32_t x, uint32_t got, uint32_t want) {
  const unsigned long long slot = atomicAdd(&m->count[check], 1ull);
  if (slot < kMaxRecorded) {
    m->input[check][slot] = x;
    m->got[check][slot] = got;
    m->want[check][slot] = want;
  }
}

__global__ void CheckAll(uint64_t begin, uint64_t end, Mismatches* m) {
  // Local copies: device code may read host constexpr values, not their address.
  constexpr Format kF32 = formats::kF32, kE4m3fn = formats::kE4m3fn, kE5m2 = formats::kE5m2,
                   kF16 = formats::kF16, kBf16 = formats::kBf16;
  Options sat = ApplyCompat(Compat::kCudaSatfinite, kE4m3fn, Options{});
  Options nosat = ApplyCompat(Compat::kCuda, kE4m3fn, Options{});
  for (uint64_t i = begin + blockIdx.x * uint64_t{blockDim.x} + threadIdx.x; i < end;
       i += uint64_t{gridDim.x} * blockDim.x) {
    const uint32_t bits = static_cast<uint32_t>(i);
    const float x = __uint_as_float(bits);
    const uint32_t hw[kNumChecks] = {
        __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3),
        __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E5M2),
        __nv_cvt_float_to_fp8(x, __NV_NOSAT, __NV_E4M3),
        __nv_cvt_float_to_fp8(x, __NV_NOSAT, __NV_E5M2),
        __half_as_ushort(__float2half_rn(x)),
        __bfloat16_as_ushort(__float2bfloat16_rn(x)),
    };
    const uint32_t core[kNumChecks] = {
        static_cast<uint32_t>(Convert(kF32, bits, kE4m3fn, sat).code),
        static_cast<uint32_t>(Convert(kF32, bits, kE5m2, sat).code),
        static_cast<uint32_t>(Convert(kF32, bits, kE4m3fn, nosat).code),
        static_cast<uint32_t>(Convert(kF32, bits, kE5m2, nosat).code),
        static_cast<uint32_t>(Convert(kF32, bits, kF16, nosat).code),
        static_cast<uint32_t>(Convert(kF32, bits, kBf16, nosat).code),
    };
    for (int c = 0; c < kNumChecks; ++c)
      if (hw[c] != core[c]) Record(m, c, bits, hw[c], core[c]);
  }
}

// The fp8 -> f16 decodes, all 256 codes each.
__global__ void CheckDecodes(Mismatches* m, unsigned long long* decode_mismatch) {
  constexpr Format kE4m3fn = formats::kE4m3fn, kE5m2 = formats::kE5m2, kF16 = formats::kF16;
  const Options nan_ones = ApplyCompat(Compat::kCuda, kF16, Options{});
  const uint32_t code = threadIdx.x;
  const __half_raw h4 = __nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(code), __NV_E4M3);
  const __half_raw h5 = __nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(code), __NV_E5M2);
  const uint32_t w4 = static_cast<uint32_t>(Convert(kE4m3fn, code, kF16, nan_ones).code);
  const uint32_t w5 = static_cast<uint32_t>(Convert(kE5m2, code, kF16, nan_ones).code);
  if (h4.x != w4) atomicAdd(&decode_mismatch[0], 1ull);
  if (h5.x != w5) atomicAdd(&decode_mismatch[1], 1ull);
  (void)m;
}

}  // namespace

int main() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("skipped: no CUDA device\n");
    return 2;
  }
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("device: %s (sm_%d%d), CUDA runtime %d\n", prop.name, prop.major, prop.minor, CUDART_VERSION);

  Mismatches* m = nullptr;
  unsigned long long* dec = nullptr;
  cudaMalloc(&m, sizeof(Mismatches));
  cudaMemset(m, 0, sizeof(Mismatches));
  cudaMalloc(&dec, 2 * sizeof(unsigned long long));
  cudaMemset(dec, 0, 2 * sizeof(unsigned long long));

  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t total = uint64_t{1} << 32, chunk = uint64_t{1} << 30;
  for (uint64_t b = 0; b < total; b += chunk) {
    CheckAll<<<prop.multiProcessorCount * 16, 256>>>(b, b + chunk, m);
    cudaDeviceSynchronize();
    std::fprintf(stderr, "  %llu/4 Gi inputs\n", static_cast<unsigned long long>((b + chunk) >> 30));
  }
  CheckDecodes<<<1, 256>>>(m, dec);
  const cudaError_t err = cudaDeviceSynchronize();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (err != cudaSuccess) {
    std::printf("CUDA error: %s\n", cudaGetErrorString(err));
    return 3;
  }
  Mismatches h{};
  unsigned long long hdec[2] = {0, 0};
  cudaMemcpy(&h, m, sizeof h, cudaMemcpyDeviceToHost);
  cudaMemcpy(hdec, dec, sizeof hdec, cudaMemcpyDeviceToHost);

  std::printf("all 2^32 float32 inputs, %.2f s on the GPU\n", secs);
  int failed = 0, passed = 0;
  for (int c = 0; c < kNumChecks; ++c) {
    std::printf("%-55s vs %-42s mismatches %llu\n", kNames[c], kPresets[c], h.count[c]);
    for (int k = 0; k < kMaxRecorded && k < static_cast<int>(h.count[c]); ++k)
      std::printf("    input %08x: intrinsic %04x, floatscope %04x\n", h.input[c][k], h.got[c][k], h.want[c][k]);
    (h.count[c] ? failed : passed)++;
  }
  std::printf("%-55s vs %-42s mismatches %llu (of 256)\n", "__nv_cvt_fp8_to_halfraw(c, __NV_E4M3)",
              "e4m3fn -> f16 --compat cuda", hdec[0]);
  std::printf("%-55s vs %-42s mismatches %llu (of 256)\n", "__nv_cvt_fp8_to_halfraw(c, __NV_E5M2)",
              "e5m2 -> f16 --compat cuda", hdec[1]);
  (hdec[0] ? failed : passed)++;
  (hdec[1] ? failed : passed)++;
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
