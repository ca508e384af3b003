// The GEMMs of the generalisation probe (issue 16): fresh shapes and data
// distributions the H100 presets were not fitted on, generated the same
// way on the GPU machine (gemm_probe runs them through cuBLASLt) and here
// (gemm_assemble rebuilds the inputs and writes tc_data.h records for
// tc_fit verify). Every input code is a pure function of (seed, config,
// distribution, matrix, row, k) through integer hashing and IEEE + - * /
// only (no libm), so both machines make the same bits; a checksum of the
// codes travels with the results to prove it.
//
// A GEMM C = A·B of shape M x N x K stores `kStored` rows of A (M x K,
// row-major) and of B^T (N x K, row-major); rows beyond repeat them
// (row r is stored row r mod kStored), so the whole GEMM is known from the
// stored rows, and its top-left kStored x kStored corner of C is kept.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "experiments/keyed_random.h"
#include "formats/catalog.h"
#include "formats/convert.h"

namespace floatscope::tc {

inline constexpr uint32_t kStored = 16;

struct GemmConfig {
  const char* name;   // as probe.py names it
  uint32_t fa, fb;    // format ids (tc_data.h FormatOfId)
  bool fp8, fast_accum;
  const char* preset; // the emulate/h100_tensor_core.h preset it is compared with
};

inline constexpr GemmConfig kGemmConfigs[] = {
    {"f16", 0, 0, false, false, "h100-f16"},         {"bf16", 1, 1, false, false, "h100-bf16"},
    {"e4m3", 2, 2, true, false, "h100-e4m3"},        {"e4m3_fast", 2, 2, true, true, "h100-e4m3-fast"},
    {"e5m2", 3, 2, true, false, "h100-e5m2xe4m3"},  {"e5m2_fast", 3, 2, true, true, "h100-e5m2xe4m3-fast"},
};

struct GemmShape {
  uint32_t M, N, K;
};

// K from 16 to 65536, multiples of 16/32 and not; M, N from 16 to 4096.
inline constexpr GemmShape kGemmShapes[] = {
    {16, 16, 16},       {64, 64, 48},        {128, 96, 100},       {256, 256, 1000},
    {512, 512, 2032},   {256, 256, 4000},    {1024, 1024, 4096},   {2048, 2048, 8192},
    {4096, 4096, 16384}, {16, 4096, 8190},   {4096, 16, 30000},    {64, 64, 65536},
    {4096, 4096, 65536},
};

// A second set for a held-out check of the models fitted on the first
// (gemm_probe --shapes 2): K odd, K = 8n + 4, K one past a tile, K just
// below and above powers of two, M and N not multiples of the tiles.
inline constexpr GemmShape kGemmShapesHeldOut[] = {
    {32, 32, 24},      {96, 80, 72},       {200, 120, 300},     {64, 192, 517},
    {512, 256, 1111},  {1000, 24, 2049},   {32, 2048, 6007},    {2048, 64, 12289},
    {256, 256, 24577}, {128, 4096, 40000}, {3000, 3000, 8200},  {48, 48, 131072},
};

// Distribution ids continue tc_data.h's kDistNames (0 normal, 3 cancel).
enum GemmDist : uint32_t { kNormal = 0, kCancel = 3, kPositive = 4, kHeavy = 5, kCodes = 6, kSparse = 7 };
inline constexpr uint32_t kGemmDists[] = {kNormal, kPositive, kHeavy, kCodes, kSparse, kCancel};

inline uint64_t Key(uint64_t seed, uint32_t config, uint32_t dist, uint32_t matrix, uint32_t row, uint64_t k) {
  return experiments::Mix(seed ^ experiments::Mix((uint64_t{config} << 48) ^ (uint64_t{dist} << 40) ^
                                                  (uint64_t{matrix} << 32) ^ row) ^ (k * 0x9E3779B97F4A7C15ull));
}

// About N(0, 1): the Irwin-Hall sum of four uniforms, rescaled (no libm).
inline double Bell(uint64_t key) {
  double s = 0;
  for (uint64_t i = 0; i < 4; ++i) s += experiments::Uniform(key + i * 0x632BE59BD9B4E019ull);
  return (s - 2.0) * 1.7320508075688772;  // variance 4/12 -> 1
}

// The code of element k of stored row `row` of `matrix` (0 = A, 1 = B^T).
inline uint64_t GemmCode(const Format& f, uint64_t seed, uint32_t config, uint32_t dist, uint32_t matrix,
                         uint32_t row, uint64_t k) {
  const uint64_t key = Key(seed, config, dist, matrix, row, k);
  const double scale = f.bits <= 8 ? 8.0 : 1.0;  // FP8: spread over more binades
  Options opt;
  opt.overflow = Overflow::kSaturate;
  auto code = [&](double v) { return EncodeFromF64(f, v, opt).code; };
  switch (dist) {
    case kPositive: return code(scale * (experiments::Uniform(key) + 0.5 * (Bell(key ^ 1) < 0 ? -Bell(key ^ 1) : Bell(key ^ 1))));
    case kHeavy: {  // log-uniform magnitudes over 2^-12 .. 2^12, random sign
      const uint64_t h = experiments::Mix(key ^ 2);
      const int e = static_cast<int>(h % 25) - 12;
      double v = (1.0 + experiments::Uniform(key)) * (e >= 0 ? double(uint64_t{1} << e) : 1.0 / double(uint64_t{1} << -e));
      return code((h >> 32) & 1 ? -v : v);
    }
    case kCodes: {  // any finite code, uniformly
      for (uint64_t i = 0;; ++i) {
        const uint64_t c = experiments::Mix(key + i) & CodeMask(f);
        if (!IsNanCode(f, c) && !IsInfCode(f, c)) return c;
      }
    }
    case kSparse: {  // 95 % zeros, the rest normal, one in 1000 an outlier 2^8 larger
      const uint64_t h = experiments::Mix(key ^ 3) % 1000;
      if (h < 950) return 0;
      return code(Bell(key) * scale * (h == 999 ? 256.0 : 1.0));
    }
    case kCancel: {
      // A: pairs of equal values (k = 2i, 2i + 1) shared by every row, one
      // element in 64 changed per row; B^T: pairs (h, -h). So A·B's long
      // runs of products cancel exactly and leave the changed elements.
      const uint64_t pair = k / 2;
      if (matrix == 0) {
        const uint64_t own = Key(seed, config, dist, matrix, row, k);
        if (experiments::Mix(own ^ 4) % 64 == 0) return code(Bell(own) * scale);
        return code(Bell(Key(seed, config, dist, matrix, 0xFFFFFFFFu, pair)) * scale);
      }
      const uint64_t h = code(Bell(Key(seed, config, dist, matrix, row, pair)) * scale);
      return k % 2 ? h ^ SignBit(f) : h;
    }
    default: return code(Bell(key) * scale);
  }
}

// The stored rows of one matrix: kStored x K codes.
inline std::vector<uint64_t> GemmRows(const Format& f, uint64_t seed, uint32_t config, uint32_t dist, uint32_t matrix,
                                      uint32_t K) {
  std::vector<uint64_t> codes(size_t{kStored} * K);
  for (uint32_t r = 0; r < kStored; ++r)
    for (uint32_t k = 0; k < K; ++k) codes[size_t{r} * K + k] = GemmCode(f, seed, config, dist, matrix, r, k);
  return codes;
}

// FNV-1a over the codes: travels with the results, so the assembler can
// prove it rebuilt the same inputs.
inline uint64_t Checksum(const std::vector<uint64_t>& codes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint64_t c : codes) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

}  // namespace floatscope::tc
