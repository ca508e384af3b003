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
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "experiments/tensor_core_probe/tc_data.h"

namespace {

enum class Instr : int { kF16, kBf16, kE4m3, kE5m2xE4m3 };

const char* InstrName(Instr i) {
  switch (i) {
    case Instr::kF16: return "mma.sync.m16n8k16.f32.f16.f16.f32";
    case Instr::kBf16: return "mma.sync.m16n8k16.f32.bf16.bf16.f32";
    case Instr::kE4m3: return "mma.sync.m16n8k32.f32.e4m3.e4m3.f32";
    case Instr::kE5m2xE4m3: return "mma.sync.m16n8k32.f32.e5m2.e4m3.f32";
  }
  return "?";
}

// The instruction for a record's (format of A, format of B).
Instr InstrOf(uint32_t fa, uint32_t fb) {
  if (fa == 0 && fb == 0) return Instr::kF16;
  if (fa == 1 && fb == 1) return Instr::kBf16;
  if (fa == 2 && fb == 2) return Instr::kE4m3;
  if (fa == 3 && fb == 2) return Instr::kE5m2xE4m3;
  throw std::runtime_error("no mma instruction for format ids " + std::to_string(fa) + " x " + std::to_string(fb));
}

constexpr bool Wide(Instr i) { return i == Instr::kF16 || i == Instr::kBf16; }

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

void Check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

template <class T>
T* ToDevice(const std::vector<T>& v) {
  T* p = nullptr;
  Check(cudaMalloc(&p, sizeof(T) * (v.empty() ? 1 : v.size())), "cudaMalloc");
  if (!v.empty()) Check(cudaMemcpy(p, v.data(), sizeof(T) * v.size(), cudaMemcpyHostToDevice), "cudaMemcpy");
  return p;
}

// The results of tiles (a0[t], b0[t]) of record r, 128 float32 per tile.
std::vector<float> RunTiles(const floatscope::tc::Record& r, const std::vector<uint32_t>& a0,
                            const std::vector<uint32_t>& b0) {
  const Instr instr = InstrOf(r.fa, r.fb);
  void *a = nullptr, *b = nullptr;
  if (Wide(instr)) {
    a = ToDevice(std::vector<uint16_t>(r.a.begin(), r.a.end()));
    b = ToDevice(std::vector<uint16_t>(r.b.begin(), r.b.end()));
  } else {
    a = ToDevice(std::vector<uint8_t>(r.a.begin(), r.a.end()));
    b = ToDevice(std::vector<uint8_t>(r.b.begin(), r.b.end()));
  }
  uint32_t* ta = ToDevice(a0);
  uint32_t* tb = ToDevice(b0);
  float* out = nullptr;
  const size_t tiles = a0.size();
  Check(cudaMalloc(&out, tiles * 128 * sizeof(float)), "cudaMalloc");
  const dim3 grid(static_cast<unsigned>(tiles)), block(32);
  switch (instr) {
    case Instr::kF16: MmaTiles<Instr::kF16><<<grid, block>>>(a, b, r.K, r.ms, r.ns, ta, tb, out); break;
    case Instr::kBf16: MmaTiles<Instr::kBf16><<<grid, block>>>(a, b, r.K, r.ms, r.ns, ta, tb, out); break;
    case Instr::kE4m3: MmaTiles<Instr::kE4m3><<<grid, block>>>(a, b, r.K, r.ms, r.ns, ta, tb, out); break;
    case Instr::kE5m2xE4m3: MmaTiles<Instr::kE5m2xE4m3><<<grid, block>>>(a, b, r.K, r.ms, r.ns, ta, tb, out); break;
  }
  Check(cudaGetLastError(), "kernel launch");
  std::vector<float> host(tiles * 128);
  Check(cudaMemcpy(host.data(), out, host.size() * sizeof(float), cudaMemcpyDeviceToHost), "cudaMemcpy");
  for (void* p : {a, b, static_cast<void*>(ta), static_cast<void*>(tb), static_cast<void*>(out)}) cudaFree(p);
  return host;
}

// Every dot product of r through the instruction, as float32 bits (r.c's
// layout: the diagonal for designed records, ms x ns for random ones).
std::vector<uint32_t> Recompute(const floatscope::tc::Record& r) {
  std::vector<uint32_t> a0, b0;
  std::vector<uint32_t> bits(r.c.size());
  if (r.designed()) {
    // Tile t: rows 8t .. 8t+15 of A with rows 8t .. 8t+7 of B^T; keeps D[l][l].
    for (uint32_t i = 0; i < r.ms; i += 8) a0.push_back(i), b0.push_back(i);
    const std::vector<float> d = RunTiles(r, a0, b0);
    for (size_t t = 0; t < a0.size(); ++t)
      for (uint32_t l = 0; l < 8 && a0[t] + l < r.ms; ++l) std::memcpy(&bits[a0[t] + l], &d[t * 128 + l * 8 + l], 4);
  } else {
    for (uint32_t i = 0; i < r.ms; i += 16)
      for (uint32_t j = 0; j < r.ns; j += 8) a0.push_back(i), b0.push_back(j);
    const std::vector<float> d = RunTiles(r, a0, b0);
    for (size_t t = 0; t < a0.size(); ++t)
      for (uint32_t l = 0; l < 16 && a0[t] + l < r.ms; ++l)
        for (uint32_t c = 0; c < 8 && b0[t] + c < r.ns; ++c)
          std::memcpy(&bits[size_t{a0[t] + l} * r.ns + b0[t] + c], &d[t * 128 + l * 8 + c], 4);
  }
  return bits;
}

// Small integers in every format (|v| <= 4, so every product and every
// partial sum of K = 256 terms is an integer below 2^13: exact in float32
// whatever the instruction's alignment and rounding): a wrong fragment
// layout gives a wrong sum.
bool LayoutSelfCheck(uint32_t fa, uint32_t fb) {
  // Codes of -4 .. 4 per format id (f16, bf16, e4m3fn, e5m2).
  static const uint16_t kCodes[4][9] = {
      {0xc400, 0xc200, 0xc000, 0xbc00, 0x0000, 0x3c00, 0x4000, 0x4200, 0x4400},
      {0xc080, 0xc040, 0xc000, 0xbf80, 0x0000, 0x3f80, 0x4000, 0x4040, 0x4080},
      {0xc8, 0xc4, 0xc0, 0xb8, 0x00, 0x38, 0x40, 0x44, 0x48},
      {0xc4, 0xc2, 0xc0, 0xbc, 0x00, 0x3c, 0x40, 0x42, 0x44},
  };
  floatscope::tc::Record r;
  r.kind = 1;
  r.fa = fa, r.fb = fb;
  r.K = 256 + 8;  // not a multiple of the step: the padding is checked too
  r.ms = 40, r.ns = 24;
  r.M = r.ms, r.N = r.ns;
  std::mt19937 rng(fa * 7 + fb);
  std::vector<int> va(size_t{r.ms} * r.K), vb(size_t{r.ns} * r.K);
  for (size_t i = 0; i < va.size(); ++i) va[i] = static_cast<int>(rng() % 9) - 4, r.a.push_back(kCodes[fa][va[i] + 4]);
  for (size_t i = 0; i < vb.size(); ++i) vb[i] = static_cast<int>(rng() % 9) - 4, r.b.push_back(kCodes[fb][vb[i] + 4]);
  r.c.resize(size_t{r.ms} * r.ns);
  const std::vector<uint32_t> got = Recompute(r);
  size_t bad = 0;
  for (uint32_t i = 0; i < r.ms; ++i)
    for (uint32_t j = 0; j < r.ns; ++j) {
      long s = 0;
      for (uint32_t k = 0; k < r.K; ++k) s += long{va[size_t{i} * r.K + k]} * vb[size_t{j} * r.K + k];
      float f;
      std::memcpy(&f, &got[size_t{i} * r.ns + j], 4);
      if (f != static_cast<float>(s) && bad++ < 3)
        std::fprintf(stderr, "layout check %s: dot (%u, %u) = %g, exact %ld\n", InstrName(InstrOf(fa, fb)), i, j, f, s);
    }
  return bad == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: mma_probe IN.bin OUT.bin\n");
    return 2;
  }
  try {
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
      std::fprintf(stderr, "mma_probe: skipped: no CUDA device\n");
      return 77;
    }
    cudaDeviceProp prop{};
    Check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    std::vector<floatscope::tc::Record> records = floatscope::tc::ReadRecords(argv[1]);
    if (records.empty()) throw std::runtime_error(std::string(argv[1]) + ": no records");
    const Instr instr = InstrOf(records[0].fa, records[0].fb);
    if (!LayoutSelfCheck(records[0].fa, records[0].fb)) {
      std::fprintf(stderr, "mma_probe: the fragment layout check failed for %s: nothing written\n", InstrName(instr));
      return 3;
    }
    size_t dots = 0;
    for (floatscope::tc::Record& r : records) {
      r.c = Recompute(r);
      dots += r.c.size();
    }
    floatscope::tc::WriteRecords(argv[2], records);
    std::printf("%s: %zu records, %zu dot products through %s on %s (sm_%d%d); layout check passed\n", argv[2],
                records.size(), dots, InstrName(instr), prop.name, prop.major, prop.minor);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mma_probe: %s\n", e.what());
    return 1;
  }
  return 0;
}
