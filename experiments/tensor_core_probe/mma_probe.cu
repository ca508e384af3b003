// mma_probe: the tensor-core *instruction* itself, not a library's GEMM.
//
//   mma_probe IN.bin OUT.bin
//
// Reads a probe file (probe.py's format, tc_data.h; probe.py --dry-run
// writes one without a GPU) and recomputes every dot product of it with
// one warp-level PTX instruction per K step, chained through the float32
// accumulator exactly as a GEMM's main loop chains them:
//
//   f16 x f16       mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
//   bf16 x bf16     mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
//   e4m3 x e4m3     mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32
//   e5m2 x e4m3     mma.sync.aligned.m16n8k32.row.col.f32.e5m2.e4m3.f32
//
// D = A·B + C with C = 0 for the first K step and the previous D after:
// no split-K, no software promotion, no epilogue. K is padded with zero
// codes to a whole step (16 or 32), as GEMM kernels pad it. OUT.bin is IN.bin
// with the float32 results replaced, so `tc_fit fit OUT.bin` fits
// emulate/dot.h's kHardware model to the instruction and `tc_fit verify
// OUT.bin --preset NAME` says whether a preset fitted on cuBLAS GEMMs
// describes the instruction.
//
// Before any probe the fragment layouts are checked: small-integer inputs
// whose every partial sum is exact must give the exact dot products, or the
// program stops (exit 3) without writing OUT.bin. (wgmma, Hopper's
// warpgroup instruction: wgmma_probe.cu.)
//
// The host side shared with wgmma_probe.cu: instr_probe.h.
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "experiments/tensor_core_probe/instr_probe.h"
#include "experiments/tensor_core_probe/tc_data.h"

namespace {

using floatscope::tc::Record;
using floatscope::tc::probe::Instr;
using floatscope::tc::probe::Wide;

const char* InstrName(Instr i) {
  switch (i) {
    case Instr::kF16: return "mma.sync.m16n8k16.f32.f16.f16.f32";
    case Instr::kBf16: return "mma.sync.m16n8k16.f32.bf16.bf16.f32";
    case Instr::kE4m3: return "mma.sync.m16n8k32.f32.e4m3.e4m3.f32";
    case Instr::kE5m2xE4m3: return "mma.sync.m16n8k32.f32.e5m2.e4m3.f32";
  }
  return "?";
}

constexpr uint32_t kM = 16, kN = 8;  // m16n8

// One warp per tile: rows a0 .. a0+15 of A with rows b0 .. b0+7 of B^T
// (rows past ms / ns and columns past K read as code 0), the 16 x 8 float32
// results to out[tile * 128 + row * 8 + col].
//
// Fragment layouts (PTX ISA, "Matrix fragments for mma.m16n8k16 / m16n8k32"),
// g = lane / 4, t = lane % 4:
//   16-bit A: reg r holds (row g + 8·(r&1), cols 2t + 8·(r>>1) + {0, 1})
//   16-bit B: reg r holds (k 2t + 8r + {0, 1}, col g)
//   8-bit A:  reg r holds (row g + 8·(r&1), cols 4t + 16·(r>>1) + {0..3})
//   8-bit B:  reg r holds (k 4t + 16r + {0..3}, col g)
//   C/D:      c[i] is (row g + 8·(i>>1), col 2t + (i&1))
// with the lower-indexed element in the lower bits of a register.
template <Instr I>
__global__ void MmaTiles(const void* a_codes, const void* b_codes, uint32_t K, uint32_t ms, uint32_t ns,
                         const uint32_t* tile_a, const uint32_t* tile_b, float* out) {
  const uint32_t tile = blockIdx.x, lane = threadIdx.x, g = lane / 4, t = lane % 4;
  const uint32_t a0 = tile_a[tile], b0 = tile_b[tile];
  auto a_at = [&](uint32_t row, uint32_t k) -> uint32_t {
    const uint32_t r = a0 + row;
    if (r >= ms || k >= K) return 0;
    return Wide(I) ? static_cast<const uint16_t*>(a_codes)[size_t{r} * K + k]
                   : static_cast<const uint8_t*>(a_codes)[size_t{r} * K + k];
  };
  auto b_at = [&](uint32_t k, uint32_t col) -> uint32_t {
    const uint32_t r = b0 + col;
    if (r >= ns || k >= K) return 0;
    return Wide(I) ? static_cast<const uint16_t*>(b_codes)[size_t{r} * K + k]
                   : static_cast<const uint8_t*>(b_codes)[size_t{r} * K + k];
  };
  float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  constexpr uint32_t kStep = Wide(I) ? 16 : 32;
  for (uint32_t k0 = 0; k0 < K; k0 += kStep) {
    uint32_t a[4], b[2];
    for (uint32_t r = 0; r < 4; ++r) {
      const uint32_t row = g + 8 * (r & 1);
      if constexpr (Wide(I)) {
        const uint32_t col = k0 + 2 * t + 8 * (r >> 1);
        a[r] = a_at(row, col) | a_at(row, col + 1) << 16;
      } else {
        const uint32_t col = k0 + 4 * t + 16 * (r >> 1);
        a[r] = a_at(row, col) | a_at(row, col + 1) << 8 | a_at(row, col + 2) << 16 | a_at(row, col + 3) << 24;
      }
    }
    for (uint32_t r = 0; r < 2; ++r) {
      if constexpr (Wide(I)) {
        const uint32_t k = k0 + 2 * t + 8 * r;
        b[r] = b_at(k, g) | b_at(k + 1, g) << 16;
      } else {
        const uint32_t k = k0 + 4 * t + 16 * r;
        b[r] = b_at(k, g) | b_at(k + 1, g) << 8 | b_at(k + 2, g) << 16 | b_at(k + 3, g) << 24;
      }
    }
    // One instruction per K step, D = A·B + D (the accumulator chained).
#define FS_MMA(SHAPE_TYPES)                                                                           \
  asm volatile("mma.sync.aligned." SHAPE_TYPES " {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};" \
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])                                      \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]))
    if constexpr (I == Instr::kF16) FS_MMA("m16n8k16.row.col.f32.f16.f16.f32");
    else if constexpr (I == Instr::kBf16) FS_MMA("m16n8k16.row.col.f32.bf16.bf16.f32");
    else if constexpr (I == Instr::kE4m3) FS_MMA("m16n8k32.row.col.f32.e4m3.e4m3.f32");
    else FS_MMA("m16n8k32.row.col.f32.e5m2.e4m3.f32");
#undef FS_MMA
  }
  for (uint32_t i = 0; i < 4; ++i) out[size_t{tile} * 128 + (g + 8 * (i >> 1)) * 8 + 2 * t + (i & 1)] = d[i];
}

// The results of tiles (a0[t], b0[t]) of record r, 128 float32 per tile
// (row-major 16 x 8).
std::vector<float> RunTiles(const Record& r, const std::vector<uint32_t>& a0, const std::vector<uint32_t>& b0) {
  const Instr instr = floatscope::tc::probe::InstrOf(r.fa, r.fb, "mma");
  return floatscope::tc::probe::RunTilesOnDevice(
      r, instr, a0, b0, kM * kN, [&](const void* a, const void* b, const uint32_t* ta, const uint32_t* tb, float* out) {
        floatscope::tc::probe::WithInstr(instr, [&](auto i) {
          MmaTiles<decltype(i)::value><<<static_cast<unsigned>(a0.size()), 32>>>(a, b, r.K, r.ms, r.ns, ta, tb, out);
        });
      });
}

// Every dot product of r through the instruction, as float32 bits (r.c's
// layout: the diagonal for designed records, ms x ns for random ones).
std::vector<uint32_t> Recompute(const Record& r) { return floatscope::tc::probe::RecomputeTiles<kM, kN>(r, RunTiles); }

// Small integers in every format (instr_probe.h's SmallIntegerRecord), K =
// 256 + 8, not a multiple of the step: the padding is checked too. A wrong
// fragment layout gives a wrong sum.
bool LayoutSelfCheck(Instr instr) {
  const floatscope::tc::probe::SmallIntegers s = floatscope::tc::probe::SmallIntegerRecord(instr, 256 + 8, 40, 24);
  const Record& r = s.r;
  const std::vector<uint32_t> got = Recompute(r);
  size_t bad = 0;
  for (uint32_t i = 0; i < r.ms; ++i)
    for (uint32_t j = 0; j < r.ns; ++j) {
      const long e = s.Exact(i, j);
      const float f = floatscope::tc::probe::AsFloat(got[size_t{i} * r.ns + j]);
      if (f != static_cast<float>(e) && bad++ < 3)
        std::fprintf(stderr, "layout check %s: dot (%u, %u) = %g, exact %ld\n", InstrName(instr), i, j, f, e);
    }
  return bad == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: mma_probe IN.bin OUT.bin\n");
    return 2;
  }
  return floatscope::tc::probe::RunMain("mma_probe", [&] {
    cudaDeviceProp prop;
    if (const int skipped = floatscope::tc::probe::FirstDevice("mma_probe", &prop)) return skipped;
    return floatscope::tc::probe::ProbeFile("mma_probe", "mma", "fragment layout check", argv[1], argv[2], prop,
                                            /*one_instr=*/false, InstrName, LayoutSelfCheck, Recompute);
  });
}
