// wgmma_probe: Hopper's warpgroup instruction wgmma.mma_async itself, as
// mma_probe.cu probes mma.sync.
//
//   wgmma_probe IN.bin OUT.bin
//   wgmma_probe --self-check [--emulate FAULT]
//
// Reads a probe file (probe.py's format, tc_data.h; probe.py --dry-run
// writes one without a GPU) and recomputes every dot product of it with
// one warpgroup-level PTX instruction per K step, chained through the
// float32 accumulator exactly as mma_probe chains mma.sync:
//
//   f16 x f16       wgmma.mma_async.sync.aligned.m64n16k16.f32.f16.f16
//   bf16 x bf16     wgmma.mma_async.sync.aligned.m64n16k16.f32.bf16.bf16
//   e4m3 x e4m3     wgmma.mma_async.sync.aligned.m64n16k32.f32.e4m3.e4m3
//   e5m2 x e4m3     wgmma.mma_async.sync.aligned.m64n16k32.f32.e5m2.e4m3
//
// D = A·B + C with C = 0 for the first K step and the previous D after
// (scale-d = 1, the accumulator registers start at +0): no split-K, no
// software promotion, no epilogue. K is padded with zero codes to a whole
// step (16 or 32), as GEMM kernels pad it. Both operands come from shared
// memory through matrix descriptors, K-major, no swizzle (wgmma_layout.h:
// the layout, the descriptor and the accumulator fragment). One warpgroup
// (128 threads) per 64 x 16 tile; each K step the block writes the 64 + 16
// rows' 32 bytes into shared memory, fences them to the async proxy, and
// issues fence, mma, commit and wait in one asm statement, so nothing runs
// between the instruction and its result. OUT.bin is IN.bin with the
// float32 results replaced: `tc_fit fit OUT.bin` fits emulate/dot.h's
// kHardware model to the instruction and `tc_fit verify OUT.bin --preset
// NAME` says whether a preset describes it; the data are directly comparable
// with mma_probe's (same files, same K chaining).
//
// Before any probe the operand and accumulator layouts are checked with
// exact dot products (LayoutSelfCheck; a single nonzero product, or small
// integers whose every partial sum is an integer below 2^13): a mismatch
// prints which row, column and K position went wrong and the program stops
// (exit 3) without writing OUT.bin. --self-check runs the check for all four
// instructions and nothing else; with --emulate it runs on the host against
// an emulation of the instruction, correct or with one mapping broken
// (tests/tensor_core/meson.build: the check passes, and catches each fault).
//
// Exit status: 0 done, 1 error, 2 usage, 3 layout check failed, 77 no
// Hopper GPU (skipped).
//
// The host side shared with mma_probe.cu: instr_probe.h.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "experiments/tensor_core_probe/instr_probe.h"
#include "experiments/tensor_core_probe/tc_data.h"
#include "experiments/tensor_core_probe/wgmma_layout.h"

// wgmma exists only on the architecture-specific target (meson builds this
// file with nvcc_sm90a_args: sm_90a machine code, no portable PTX).
#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
#error "wgmma_probe: wgmma needs -gencode=arch=compute_90a,code=sm_90a"
#endif

namespace {

using floatscope::tc::Record;
using floatscope::tc::RowCol;
using floatscope::tc::WgmmaAccumulatorRowCol;
using floatscope::tc::WgmmaDescriptor;
using floatscope::tc::WgmmaOperandOffset;
using floatscope::tc::kWgmmaLbo;
using floatscope::tc::kWgmmaSbo;
using floatscope::tc::kWgmmaStepBytes;
using floatscope::tc::probe::AsFloat;
using floatscope::tc::probe::EmptyRecord;
using floatscope::tc::probe::FormatA;
using floatscope::tc::probe::FormatB;
using floatscope::tc::probe::Instr;
using floatscope::tc::probe::StepOf;
using floatscope::tc::probe::Wide;

const char* InstrName(Instr i) {
  switch (i) {
    case Instr::kF16: return "wgmma.m64n16k16.f32.f16.f16";
    case Instr::kBf16: return "wgmma.m64n16k16.f32.bf16.bf16";
    case Instr::kE4m3: return "wgmma.m64n16k32.f32.e4m3.e4m3";
    case Instr::kE5m2xE4m3: return "wgmma.m64n16k32.f32.e5m2.e4m3";
  }
  return "?";
}

Instr InstrOf(uint32_t fa, uint32_t fb) { return floatscope::tc::probe::InstrOf(fa, fb, "wgmma"); }

constexpr uint32_t kM = 64, kN = 16;  // m64n16
constexpr uint32_t kTile = kM * kN;   // float32 results per tile

// One warpgroup per tile: rows a0 .. a0+63 of A with rows b0 .. b0+15 of B^T
// (rows past ms / ns and columns past K read as code 0), the 64 x 16
// float32 results to out[tile * 1024 + row * 16 + col].
template <Instr I>
__global__ void __launch_bounds__(128) WgmmaTiles(const void* a_codes, const void* b_codes, uint32_t K, uint32_t ms,
                                                  uint32_t ns, const uint32_t* tile_a, const uint32_t* tile_b,
                                                  float* out) {
  static_assert(kN == 16, "the asm below names 8 accumulator registers (m64n16)");
  __shared__ __align__(128) uint8_t sa[kM * kWgmmaStepBytes];
  __shared__ __align__(128) uint8_t sb[kN * kWgmmaStepBytes];
  constexpr uint32_t kBytes = Wide(I) ? 2 : 1, kStep = StepOf(I), kPiece = 16 / kBytes;  // codes per 16 bytes
  const uint32_t tile = blockIdx.x, tid = threadIdx.x;
  const uint32_t a0 = tile_a[tile], b0 = tile_b[tile];
  auto code = [&](const void* codes, uint32_t rows, uint32_t row, uint32_t k) -> uint32_t {
    if (row >= rows || k >= K) return 0;
    return Wide(I) ? static_cast<const uint16_t*>(codes)[size_t{row} * K + k]
                   : static_cast<const uint8_t*>(codes)[size_t{row} * K + k];
  };
  // Piece p (K bytes 16p .. 16p+15 of the step at k0) of local row r of an
  // operand to its place in the core-matrix layout.
  auto store_piece = [&](uint8_t* smem, const void* codes, uint32_t rows, uint32_t row0, uint32_t r, uint32_t p,
                         uint32_t k0) {
    uint32_t w[4] = {0, 0, 0, 0};
    for (uint32_t e = 0; e < kPiece; ++e) {
      const uint32_t byte = e * kBytes;  // the lower-indexed code in the lower bytes
      w[byte / 4] |= code(codes, rows, row0 + r, k0 + p * kPiece + e) << (8 * (byte % 4));
    }
    *reinterpret_cast<uint4*>(smem + WgmmaOperandOffset(r, 16 * p, kWgmmaLbo, kWgmmaSbo)) =
        make_uint4(w[0], w[1], w[2], w[3]);
  };
  const uint64_t desc_a =
      WgmmaDescriptor(static_cast<uint32_t>(__cvta_generic_to_shared(sa)), kWgmmaLbo, kWgmmaSbo);
  const uint64_t desc_b =
      WgmmaDescriptor(static_cast<uint32_t>(__cvta_generic_to_shared(sb)), kWgmmaLbo, kWgmmaSbo);
  const uint32_t accumulate = 1;  // scale-d: D = A·B + D
  float d[kN / 2] = {};
  for (uint32_t k0 = 0; k0 < K; k0 += kStep) {
    __syncthreads();  // every thread has waited for the previous instruction: sa, sb are free
    store_piece(sa, a_codes, ms, a0, tid / 2, tid % 2, k0);  // 64 rows x 2 pieces, one per thread
    if (tid < 2 * kN) store_piece(sb, b_codes, ns, b0, tid / 2, tid % 2, k0);
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");  // the stores, to wgmma's async proxy
    __syncthreads();
    // One instruction per K step, D = A·B + D, waited for at once.
#define FS_WGMMA(SHAPE_TYPES, TRANSPOSE)                                                                   \
  asm volatile(                                                                                            \
      "{\n"                                                                                                \
      ".reg .pred p;\n"                                                                                    \
      "setp.ne.b32 p, %10, 0;\n"                                                                           \
      "wgmma.fence.sync.aligned;\n"                                                                        \
      "wgmma.mma_async.sync.aligned." SHAPE_TYPES " {%0, %1, %2, %3, %4, %5, %6, %7}, %8, %9, p, 1, 1" TRANSPOSE \
      ";\n"                                                                                                \
      "wgmma.commit_group.sync.aligned;\n"                                                                 \
      "wgmma.wait_group.sync.aligned 0;\n"                                                                 \
      "}\n"                                                                                                \
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7])     \
      : "l"(desc_a), "l"(desc_b), "r"(accumulate)                                                          \
      : "memory")
    // imm-scale-a, imm-scale-b = 1 (no negation); f16/bf16 imm-trans-a,
    // imm-trans-b = 0 (both K-major; FP8 has no transpose operands).
    if constexpr (I == Instr::kF16) FS_WGMMA("m64n16k16.f32.f16.f16", ", 0, 0");
    else if constexpr (I == Instr::kBf16) FS_WGMMA("m64n16k16.f32.bf16.bf16", ", 0, 0");
    else if constexpr (I == Instr::kE4m3) FS_WGMMA("m64n16k32.f32.e4m3.e4m3", "");
    else FS_WGMMA("m64n16k32.f32.e5m2.e4m3", "");
#undef FS_WGMMA
  }
  for (uint32_t i = 0; i < kN / 2; ++i) {
    const RowCol rc = WgmmaAccumulatorRowCol(tid, i);
    out[size_t{tile} * kTile + rc.row * kN + rc.col] = d[i];
  }
}

// ---------------------------------------------------------------- host emulation
//
// --self-check --emulate FAULT runs the check without a GPU against the
// instruction's exact arithmetic on the host (sums in double: exact for the
// check's inputs), either as wgmma_layout.h describes it (none) or with one
// mapping broken, to show that the check catches it (exit 3):
//   a-rows       the instruction reads rows 0 and 1 of A swapped
//   b-cols       it reads columns 8 and 9 of B swapped
//   k-pairing    it pairs A's K positions 0 and 1 of every step with B's 1 and 0
//   accumulator  the kernel stores registers as if bits 1 and 2 of their
//                index were swapped (rows 8 apart for columns 8 apart)
// It exercises the host side (tiling, the diagonal of designed records, the
// check's markers and sums); the shared-memory layout itself is
// tests/tensor_core/wgmma_layout_test's, and the hardware's word on both is
// the check on the GPU.
enum class Fault { kNone, kARows, kBCols, kKPairing, kAccumulator };
struct Emulation {
  bool on = false;
  Fault fault = Fault::kNone;
};
Emulation g_emulation;

std::vector<float> EmulateTiles(const Record& r, const std::vector<uint32_t>& a0, const std::vector<uint32_t>& b0) {
  const uint32_t step = StepOf(InstrOf(r.fa, r.fb)), padded = (r.K + step - 1) / step * step;
  const floatscope::Format &fa = floatscope::tc::FormatOfId(r.fa), &fb = floatscope::tc::FormatOfId(r.fb);
  auto value = [&](const std::vector<uint64_t>& codes, const floatscope::Format& f, uint32_t rows, uint32_t row,
                   uint32_t k) {
    return row < rows && k < r.K ? floatscope::DecodeToF64(f, codes[size_t{row} * r.K + k]) : 0.0;
  };
  const Fault fault = g_emulation.fault;
  std::vector<float> out(a0.size() * kTile, std::numeric_limits<float>::quiet_NaN());
  for (size_t t = 0; t < a0.size(); ++t)
    for (uint32_t thread = 0; thread < 128; ++thread)
      for (uint32_t i = 0; i < kN / 2; ++i) {
        const RowCol rc = WgmmaAccumulatorRowCol(thread, i);  // the dot product the instruction puts in register i
        RowCol src = rc;
        if (fault == Fault::kARows && src.row < 2) src.row ^= 1;
        if (fault == Fault::kBCols && (src.col == 8 || src.col == 9)) src.col ^= 1;
        double sum = 0;
        for (uint32_t k = 0; k < padded; ++k) {
          const uint32_t ka = fault == Fault::kKPairing && k % step < 2 ? k ^ 1 : k;
          sum += value(r.a, fa, r.ms, a0[t] + src.row, ka) * value(r.b, fb, r.ns, b0[t] + src.col, k);
        }
        const uint32_t stored = fault == Fault::kAccumulator ? (i & 1) | ((i >> 2) & 1) << 1 | ((i >> 1) & 1) << 2 : i;
        const RowCol dst = WgmmaAccumulatorRowCol(thread, stored);  // where the kernel writes it
        out[t * kTile + dst.row * kN + dst.col] = static_cast<float>(sum);
      }
  return out;
}

// The results of tiles (a0[t], b0[t]) of record r, 1024 float32 per tile
// (row-major 64 x 16); a result the kernel did not write reads as NaN.
std::vector<float> RunTiles(const Record& r, const std::vector<uint32_t>& a0, const std::vector<uint32_t>& b0) {
  if (g_emulation.on) return EmulateTiles(r, a0, b0);
  const Instr instr = InstrOf(r.fa, r.fb);
  return floatscope::tc::probe::RunTilesOnDevice(
      r, instr, a0, b0, kTile, [&](const void* a, const void* b, const uint32_t* ta, const uint32_t* tb, float* out) {
        floatscope::tc::probe::WithInstr(instr, [&](auto i) {
          WgmmaTiles<decltype(i)::value><<<static_cast<unsigned>(a0.size()), 128>>>(a, b, r.K, r.ms, r.ns, ta, tb, out);
        });
      });
}

// Every dot product of r through the instruction, as float32 bits (r.c's
// layout: the diagonal for designed records, ms x ns for random ones).
// Designed records: tile t is rows 16t .. 16t+63 of A with rows 16t ..
// 16t+15 of B^T, keeping D[l][l].
std::vector<uint32_t> Recompute(const Record& r) { return floatscope::tc::probe::RecomputeTiles<kM, kN>(r, RunTiles); }

// ---------------------------------------------------------------- the self-check

constexpr uint16_t kOne[4] = {0x3c00, 0x3f80, 0x38, 0x3c};

// Marker s (0 .. 63): the code kOne + s, a distinct positive finite value in
// every format (f16 1 + s/1024, bf16 1 + s/128, e4m3fn up to 240, e5m2 up to
// 57344). A product marker x 1 and a sum of it with zeros are exact.
uint16_t MarkerCode(uint32_t fmt, uint32_t s) { return static_cast<uint16_t>(kOne[fmt] + s); }
double MarkerValue(uint32_t fmt, uint32_t s) {
  switch (fmt) {
    case 0: return 1.0 + s / 1024.0;
    case 1: return 1.0 + s / 128.0;
    case 2: return std::ldexp(1.0 + (s % 8) / 8.0, static_cast<int>(s / 8));
    default: return std::ldexp(1.0 + (s % 4) / 4.0, static_cast<int>(s / 4));
  }
}
// The marker whose value is v, or -1.
int MarkerOf(uint32_t fmt, float v) {
  for (uint32_t s = 0; s < 64; ++s)
    if (static_cast<double>(v) == MarkerValue(fmt, s)) return static_cast<int>(s);
  return -1;
}
std::string MarkerText(uint32_t fmt, float v) {
  const int s = MarkerOf(fmt, v);
  char buf[96];
  if (s >= 0) std::snprintf(buf, sizeof buf, "%g (marker %d)", static_cast<double>(v), s);
  else std::snprintf(buf, sizeof buf, "%g (no single marker)", static_cast<double>(v));
  return buf;
}

__attribute__((format(printf, 1, 2))) std::string Printf(const char* fmt, ...) {
  char buf[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  return buf;
}

// The failures of one part of the check: the first 4 printed, all counted.
struct Failures {
  const char* instr;
  const char* part;
  size_t count = 0;
  void Add(const std::string& what) {
    if (count++ < 4) std::fprintf(stderr, "layout check %s, %s: %s\n", instr, part, what.c_str());
  }
  bool Report() const {
    if (count > 4) std::fprintf(stderr, "layout check %s, %s: ... %zu failures in all\n", instr, part, count);
    return count == 0;
  }
};

// One instruction (K = one step, one 64 x 16 tile) per K position kk, a
// single nonzero product per dot product, each side's element carrying a
// marker that the result names:
//   rows of A:     A[i][kk] = marker i, B = 1 over the step: D[i][j] = marker i
//                  (a wrong A row or D row mapping names the row it came from);
//   columns of B:  B[j][kk] = marker j, A = 1: D[i][j] = marker j;
//   K pairing:     A[i][kk] = 1, B[j][k] = marker k for every k: D[i][j] =
//                  marker kk (names the position of B that A's kk met).
// Then, as mma_probe: integers -4 .. 4 over K = 264 (chained steps, K not a
// multiple of the step: the zero padding), 104 x 40 (partial tiles), every
// dot product against the exact sum; and the same inputs as a designed
// record (the diagonal tiles of Recompute).
bool LayoutSelfCheck(Instr instr) {
  const uint32_t fa = FormatA(instr), fb = FormatB(instr), step = StepOf(instr);
  bool ok = true;
  {
    Failures f{InstrName(instr), "rows of A"};
    for (uint32_t kk = 0; kk < step; ++kk) {
      Record r = EmptyRecord(instr, 1, step, kM, kN);
      for (uint32_t i = 0; i < kM; ++i) r.a[size_t{i} * step + kk] = MarkerCode(fa, i);
      for (uint32_t j = 0; j < kN; ++j)
        for (uint32_t k = 0; k < step; ++k) r.b[size_t{j} * step + k] = kOne[fb];
      const std::vector<uint32_t> got = Recompute(r);
      for (uint32_t i = 0; i < kM; ++i)
        for (uint32_t j = 0; j < kN; ++j) {
          const float v = AsFloat(got[size_t{i} * kN + j]);
          if (MarkerOf(fa, v) != static_cast<int>(i))
            f.Add(Printf("A(row %u, k %u) x B(col %u, every k): D(%u, %u) = %s, want marker %u", i, kk, j, i, j,
                         MarkerText(fa, v).c_str(), i));
        }
    }
    ok &= f.Report();
  }
  {
    Failures f{InstrName(instr), "columns of B"};
    for (uint32_t kk = 0; kk < step; ++kk) {
      Record r = EmptyRecord(instr, 1, step, kM, kN);
      for (uint32_t i = 0; i < kM; ++i)
        for (uint32_t k = 0; k < step; ++k) r.a[size_t{i} * step + k] = kOne[fa];
      for (uint32_t j = 0; j < kN; ++j) r.b[size_t{j} * step + kk] = MarkerCode(fb, j);
      const std::vector<uint32_t> got = Recompute(r);
      for (uint32_t i = 0; i < kM; ++i)
        for (uint32_t j = 0; j < kN; ++j) {
          const float v = AsFloat(got[size_t{i} * kN + j]);
          if (MarkerOf(fb, v) != static_cast<int>(j))
            f.Add(Printf("A(row %u, every k) x B(col %u, k %u): D(%u, %u) = %s, want marker %u", i, j, kk, i, j,
                         MarkerText(fb, v).c_str(), j));
        }
    }
    ok &= f.Report();
  }
  {
    Failures f{InstrName(instr), "K pairing"};
    for (uint32_t kk = 0; kk < step; ++kk) {
      Record r = EmptyRecord(instr, 1, step, kM, kN);
      for (uint32_t i = 0; i < kM; ++i) r.a[size_t{i} * step + kk] = kOne[fa];
      for (uint32_t j = 0; j < kN; ++j)
        for (uint32_t k = 0; k < step; ++k) r.b[size_t{j} * step + k] = MarkerCode(fb, k);
      const std::vector<uint32_t> got = Recompute(r);
      for (uint32_t i = 0; i < kM; ++i)
        for (uint32_t j = 0; j < kN; ++j) {
          const float v = AsFloat(got[size_t{i} * kN + j]);
          if (MarkerOf(fb, v) != static_cast<int>(kk))
            f.Add(Printf("A(row %u, k %u) x B(col %u, k s = marker s): D(%u, %u) = %s, want marker %u (a marker s "
                         "says A's k %u met B's k s)",
                         i, kk, j, i, j, MarkerText(fb, v).c_str(), kk, kk));
        }
    }
    ok &= f.Report();
  }
  {
    // |v| <= 4 (instr_probe.h's SmallIntegerRecord): every sum exact.
    Failures f{InstrName(instr), "small integers, K 264, 104 x 40"};
    const uint32_t K = 264, ms = 104, ns = 40;
    const floatscope::tc::probe::SmallIntegers s = floatscope::tc::probe::SmallIntegerRecord(instr, K, ms, ns);
    const Record& r = s.r;
    const std::vector<uint32_t> got = Recompute(r);
    for (uint32_t i = 0; i < ms; ++i)
      for (uint32_t j = 0; j < ns; ++j) {
        const float v = AsFloat(got[size_t{i} * ns + j]), want = static_cast<float>(s.Exact(i, j));
        if (!(v == want))
          f.Add(Printf("dot (%u, %u) = %g, exact %g", i, j, static_cast<double>(v), static_cast<double>(want)));
      }
    ok &= f.Report();
    // The designed-record path: the first 40 rows of A with the 40 of B^T,
    // the diagonal kept.
    Failures fd{InstrName(instr), "small integers as a designed record, diagonal of 40 x 40"};
    Record dr = EmptyRecord(instr, 0, K, ns, ns);
    std::copy(r.a.begin(), r.a.begin() + static_cast<std::ptrdiff_t>(size_t{ns} * K), dr.a.begin());
    dr.b = r.b;
    const std::vector<uint32_t> diag = Recompute(dr);
    for (uint32_t i = 0; i < ns; ++i) {
      const float v = AsFloat(diag[i]), want = static_cast<float>(s.Exact(i, i));
      if (!(v == want))
        fd.Add(Printf("dot (%u, %u) = %g, exact %g", i, i, static_cast<double>(v), static_cast<double>(want)));
    }
    ok &= fd.Report();
  }
  return ok;
}

int SelfCheck(const char* device) {
  bool ok = true;
  for (Instr i : floatscope::tc::probe::kInstrs) {
    const bool passed = LayoutSelfCheck(i);
    std::printf("layout check %s on %s: %s\n", InstrName(i), device, passed ? "passed" : "FAILED");
    ok &= passed;
  }
  return ok ? 0 : 3;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string first = argc > 1 ? argv[1] : "";
  const bool self_check = first == "--self-check" && (argc == 2 || (argc == 4 && std::string(argv[2]) == "--emulate"));
  if (!self_check && (argc != 3 || first.rfind("--", 0) == 0)) {
    std::fprintf(stderr,
                 "usage: wgmma_probe IN.bin OUT.bin\n"
                 "       wgmma_probe --self-check [--emulate none|a-rows|b-cols|k-pairing|accumulator]\n");
    return 2;
  }
  return floatscope::tc::probe::RunMain("wgmma_probe", [&] {
    if (argc == 4) {  // --self-check --emulate FAULT: no GPU
      const std::string f = argv[3];
      g_emulation.on = true;
      if (f == "none") g_emulation.fault = Fault::kNone;
      else if (f == "a-rows") g_emulation.fault = Fault::kARows;
      else if (f == "b-cols") g_emulation.fault = Fault::kBCols;
      else if (f == "k-pairing") g_emulation.fault = Fault::kKPairing;
      else if (f == "accumulator") g_emulation.fault = Fault::kAccumulator;
      else {
        std::fprintf(stderr, "wgmma_probe: --emulate: none, a-rows, b-cols, k-pairing or accumulator, not '%s'\n",
                     f.c_str());
        return 2;
      }
      return SelfCheck(("the host emulation, fault " + f).c_str());
    }
    cudaDeviceProp prop;
    if (const int skipped = floatscope::tc::probe::FirstDevice("wgmma_probe", &prop)) return skipped;
    if (prop.major != 9 || prop.minor != 0) {
      std::fprintf(stderr, "wgmma_probe: skipped: %s is sm_%d%d; wgmma needs sm_90 (built for sm_90a)\n", prop.name,
                   prop.major, prop.minor);
      return 77;
    }
    if (self_check) return SelfCheck((std::string(prop.name) + " (sm_90)").c_str());
    return floatscope::tc::probe::ProbeFile("wgmma_probe", "wgmma", "layout check", argv[1], argv[2], prop,
                                            /*one_instr=*/true, InstrName, LayoutSelfCheck, Recompute);
  });
}
