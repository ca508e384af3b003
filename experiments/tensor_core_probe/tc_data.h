// Reading the tensor-core probe's files (experiments/tensor_core_probe/
// probe.py writes them; gunzip the .bin.gz first) and replaying their dot
// products through emulate/dot.h.
//
// A file is a sequence of records (little-endian):
//   uint32[10]  magic 0x31504354 ('TCP1'), kind (0 designed, 1 random),
//               distribution, M, N, K of the GEMM that ran, ms, ns (rows of A
//               and of B^T stored), format id of A, format id of B
//               (0 f16, 1 bf16, 2 e4m3fn, 3 e5m2)
//   A codes     ms x K (1 or 2 bytes each)
//   B^T codes   ns x K
//   C           designed: ms float32 (C[i][i]); random: ms x ns float32
//   tags        designed only: ms x 4 int32 (family, k, position, sign)
// Dot product (i, j) is row i of A with row j of B^T; a designed record holds
// only i == j.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "emulate/dot.h"
#include "emulate/h100_tensor_core.h"
#include "formats/catalog.h"

namespace floatscope::tc {

inline constexpr uint32_t kMagic = 0x31504354;

// probe.py's distributions 0-3; gemm_cases.h adds 4-7.
inline const char* const kDistNames[] = {"normal", "uniform", "wide", "cancel", "positive", "heavy", "codes", "sparse"};
inline const char* DistName(uint32_t d) { return d < std::size(kDistNames) ? kDistNames[d] : "?"; }

// Probe families of designed records (tags[0]), as probe.py names them.
inline const char* const kFamilyNames[] = {"pad", "cut", "cut_sig", "round", "group", "tail", "sparse"};

inline const Format& FormatOfId(uint32_t id) {
  switch (id) {
    case 0: return formats::kF16;
    case 1: return formats::kBf16;
    case 2: return formats::kE4m3fn;
    case 3: return formats::kE5m2;
  }
  throw std::runtime_error("unknown format id " + std::to_string(id));
}

struct Record {
  uint32_t kind = 0, dist = 0, M = 0, N = 0, K = 0, ms = 0, ns = 0, fa = 0, fb = 0;
  std::vector<uint64_t> a, b;    // ms x K and ns x K codes
  std::vector<uint32_t> c;       // float32 bits: ms (designed) or ms x ns
  std::vector<int32_t> tags;     // designed: ms x 4

  bool designed() const { return kind == 0; }
  size_t dots() const { return c.size(); }
  // Row of A and of B^T of dot product d.
  uint32_t row_a(size_t d) const { return designed() ? static_cast<uint32_t>(d) : static_cast<uint32_t>(d / ns); }
  uint32_t row_b(size_t d) const { return designed() ? static_cast<uint32_t>(d) : static_cast<uint32_t>(d % ns); }
  std::string shape() const { return std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K); }
};

// Reads every record of a file; throws std::runtime_error naming the file
// and the byte offset on a short or malformed file.
inline std::vector<Record> ReadRecords(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t off = 0;
  auto take = [&](void* dst, size_t n) {
    if (bytes.size() - off < n)
      throw std::runtime_error(path + ": truncated at byte " + std::to_string(off) + " (need " + std::to_string(n) +
                               " more)");
    std::memcpy(dst, bytes.data() + off, n);
    off += n;
  };
  auto codes = [&](std::vector<uint64_t>& dst, size_t count, uint32_t fmt) {
    const size_t size = FormatOfId(fmt).bits <= 8 ? 1 : 2;
    dst.resize(count);
    for (size_t i = 0; i < count; ++i) {
      uint16_t v = 0;
      take(&v, size);  // little-endian host assumed (x86-64, aarch64)
      dst[i] = v;
    }
  };
  std::vector<Record> out;
  while (off < bytes.size()) {
    const size_t at = off;
    uint32_t h[10];
    take(h, sizeof h);
    if (h[0] != kMagic) throw std::runtime_error(path + ": bad record magic at byte " + std::to_string(at));
    Record r;
    r.kind = h[1], r.dist = h[2], r.M = h[3], r.N = h[4], r.K = h[5], r.ms = h[6], r.ns = h[7], r.fa = h[8],
    r.fb = h[9];
    if (r.kind > 1 || r.K == 0 || r.ms == 0 || r.ns == 0 || (r.kind == 0 && r.ms != r.ns) || r.K > (1u << 20) ||
        r.ms > (1u << 16) || r.ns > (1u << 16))
      throw std::runtime_error(path + ": implausible record header at byte " + std::to_string(at));
    codes(r.a, size_t{r.ms} * r.K, r.fa);
    codes(r.b, size_t{r.ns} * r.K, r.fb);
    r.c.resize(r.designed() ? r.ms : size_t{r.ms} * r.ns);
    take(r.c.data(), r.c.size() * 4);
    if (r.designed()) {
      r.tags.resize(size_t{r.ms} * 4);
      take(r.tags.data(), r.tags.size() * 4);
    }
    out.push_back(std::move(r));
  }
  return out;
}

// Writes records in the same format, atomically (a temporary file, then
// rename): mma_probe and gemm_assemble make files tc_fit reads.
inline void WriteRecords(const std::string& path, const std::vector<Record>& records) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    auto codes = [&](const std::vector<uint64_t>& v, uint32_t fmt) {
      const size_t size = FormatOfId(fmt).bits <= 8 ? 1 : 2;
      for (uint64_t c : v) {
        const uint16_t w = static_cast<uint16_t>(c);
        out.write(reinterpret_cast<const char*>(&w), static_cast<std::streamsize>(size));
      }
    };
    for (const Record& r : records) {
      const uint32_t h[10] = {kMagic, r.kind, r.dist, r.M, r.N, r.K, r.ms, r.ns, r.fa, r.fb};
      out.write(reinterpret_cast<const char*>(h), sizeof h);
      codes(r.a, r.fa);
      codes(r.b, r.fb);
      out.write(reinterpret_cast<const char*>(r.c.data()), static_cast<std::streamsize>(r.c.size() * 4));
      if (r.designed())
        out.write(reinterpret_cast<const char*>(r.tags.data()), static_cast<std::streamsize>(r.tags.size() * 4));
    }
    if (!out.flush()) throw std::runtime_error(tmp + ": write failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error(path + ": rename failed");
}

// How the GEMM's dot products are formed from the model: `split` > 1 is
// cuBLAS split-K, the K axis cut into `split` equal chunks, each a dot
// product of the model, their float32 results summed in order with
// round-to-nearest-even (the reduction kernel).
struct Replay {
  DotModel model;
  Options opt;
  uint32_t split = 1;
  uint32_t split_align = 1;  // chunk length rounded up to a multiple of this (the kernel's K tile)
  // > 1: the kernel runs a K not a multiple of this tile with the partial
  // tile first (CUTLASS's "residue first"): as if the dot product had
  // leading zero terms up to a whole number of tiles.
  uint32_t residue_first = 1;
  // > 1: "sliced K": each K tile of slice_tile elements is cut into
  // `slices` equal slices, slice w of every tile accumulated by its own warp
  // (a dot product of the model over those elements, in order), the warps'
  // float32 results summed in order with RNE at the end.
  uint32_t slices = 1, slice_tile = 0;
  // > 1: CUTLASS 2.x's predicated K loop (the partial tile first, masked at
  // its end): a K (or split-K chunk) not a multiple of this K tile runs its
  // first K mod tile elements as the first tile, zero-filled after them,
  // then the whole tiles from there; the model's groups of G restart at
  // that boundary. Measured for cuBLASLt's algorithms 23 and 24
  // (cuda/RESULTS.md, "Algorithm 23 (issue 16), 2026-12-07"). A chunk with
  // a partial tile takes this path alone (residue_first and slices are the
  // other, rejected, structures and are not combined with it).
  uint32_t residue_tile = 1;
  // Not empty: the order in which one instruction takes the elements of
  // each block of k_perm.size() consecutive K (K zero-padded to whole
  // blocks): element k_perm[j] of a block goes j-th into the model's
  // groups. Any permutation, for trying orders (tc_fit --k-perm) that the
  // model's own instruction K order (DotModel::instruction_k, substeps,
  // substep_run: the hopper-mma-fp8 preset's) cannot state; applied before
  // it. The operand conversion is the model's (DotModel::operand_format).
  std::vector<uint32_t> k_perm;
  // > 0: the kernel's MMA instruction takes this many K per step, so the
  // model's groups are this long instead of model.group (cuBLASLt's
  // algorithm 24 with stages id 0 runs mma.sync m16n8k8: 8; cuda/RESULTS.md,
  // "Held-out GEMMs (issue 16), 2026-12-07").
  uint32_t mma_k = 0;
};

// The K depth of a tile, in elements, that a cuBLASLt stages id
// (cublasLtMatmulStages_t, CUBLASLT_ALGO_CONFIG_STAGES_ID) names: 1..24 are
// 16x1..16x6, 32x1..32x6, 64x1..64x6, 128x1..128x6 (depth x stages); then
// 25 32x10, 26 8x4, 27 16x10, 28 8x5, 29 16x80, 30 64x80, 31 8x3 and the
// AUTO ones 32..36 (8, 16, 32, 64, 128). 0 for an id it does not know.
inline uint32_t StagesKDepth(uint32_t id) {
  if (id >= 1 && id <= 24) return 16u << ((id - 1) / 6);
  switch (id) {
    case 26: case 28: case 31: case 32: return 8;
    case 27: case 29: case 33: return 16;
    case 25: case 34: return 32;
    case 30: case 35: return 64;
    case 36: return 128;
  }
  return 0;
}

// How a cuBLASLt kernel runs K, from its recorded configuration (algorithm
// id, split-K number, stages id) and the input format (measured on the
// 2026-12-06 GEMMs and the held-out 2026-12-07 ones, cuda/RESULTS.md):
//   algorithm 66 (the nvjet kernels): split-K chunks of ceil(K/S) rounded up
//       to 128 bytes of K; K runs in order (no K here leaves a partial group
//       of 16 inside a chunk, so a partial tile's place is not measured).
//   any other algorithm (23 and 24 here, CUTLASS 2.x-style kernels): chunks
//       of ceil(K/S) rounded up to 16 bytes of K (CUTLASS's kAlignK = 128
//       bits), and each chunk's partial K tile first (Replay::residue_tile):
//     - a stages id that names a K depth (the multistage kernels): that K
//       tile, and the model's instruction (mma.sync m16n8k16 for f16/bf16);
//     - stages id 0 (CUBLASLT_MATMUL_STAGES_UNDEFINED; algorithm 24 in the
//       held-out run, f16/bf16, tiles 64x64 and 128x128): groups of 8, as
//       the Turing-style kernels' mma.sync m16n8k8 would give (inferred
//       from the arithmetic; Replay::mma_k = 8: nothing else of the model
//       changes), and a K tile of kStagesUndefinedKTile = 32 elements.
inline constexpr uint32_t kStagesUndefinedKTile = 32;
inline constexpr uint32_t kStagesUndefinedMmaK = 8;

inline void ApplyKernel(Replay& rp, uint32_t algo, uint32_t splitk, uint32_t stages, const Format& in) {
  const uint32_t bytes = in.bits <= 8 ? 1 : 2;
  rp.split = splitk;
  rp.mma_k = 0;
  if (algo == 66) {
    rp.split_align = 128 / bytes;
    rp.residue_tile = 1;
  } else if (stages == 0) {
    rp.split_align = 16 / bytes;
    rp.residue_tile = kStagesUndefinedKTile;
    rp.mma_k = kStagesUndefinedMmaK;
  } else {
    rp.split_align = 16 / bytes;
    rp.residue_tile = StagesKDepth(stages);
  }
}

// The model's float32 bits for dot product d of record r.
inline uint32_t Emulate(const Record& r, size_t d, const Replay& rp) {
  const Format& fa = FormatOfId(r.fa);
  const Format& fb = FormatOfId(r.fb);
  const uint64_t* a = r.a.data() + size_t{r.row_a(d)} * r.K;
  const uint64_t* b = r.b.data() + size_t{r.row_b(d)} * r.K;
  Options reduce;  // round to nearest even; a NaN is the GPU's 0x7fffffff (inf - inf in the reduction)
  reduce.nan_payload = NanPayload::kAllOnes;
  DotModel model = rp.model;
  if (rp.mma_k > 0) model.group = rp.mma_k;
  // The K sequence the instructions see for a chunk of n elements: each
  // entry an element of the chunk or -1, a zero term (one of k_perm,
  // residue_tile, residue_first, which are not combined; empty: in order).
  auto sequence = [&](size_t n) {
    std::vector<int64_t> seq;
    auto run = [&](size_t from, size_t to) {
      for (size_t k = from; k < to; ++k) seq.push_back(static_cast<int64_t>(k));
    };
    const size_t residue = rp.residue_tile > 1 ? n % rp.residue_tile : 0;
    if (!rp.k_perm.empty()) {  // each block in the instruction's order, K zero-padded to whole blocks
      const size_t blk = rp.k_perm.size();
      for (size_t k0 = 0; k0 < n; k0 += blk)
        for (size_t j = 0; j < blk; ++j) seq.push_back(k0 + rp.k_perm[j] < n ? static_cast<int64_t>(k0 + rp.k_perm[j]) : -1);
    } else if (residue != 0) {  // the partial tile first, zero-filled to a whole tile
      run(0, residue);
      seq.insert(seq.end(), rp.residue_tile - residue, -1);
      run(residue, n);
    } else if (rp.residue_first > 1 && n % rp.residue_first != 0) {  // leading zero terms
      seq.assign(rp.residue_first - n % rp.residue_first, -1);
      run(0, n);
    }
    return seq;
  };
  auto dot = [&](const uint64_t* x, const uint64_t* y, size_t n) -> uint64_t {
    const std::vector<int64_t> seq = sequence(n);
    std::vector<uint64_t> px, py;
    if (!seq.empty()) {
      for (const int64_t k : seq) px.push_back(k < 0 ? 0 : x[k]), py.push_back(k < 0 ? 0 : y[k]);
      x = px.data(), y = py.data(), n = px.size();
    }
    if (rp.slices <= 1) return Dot(fa, x, 1, fb, y, 1, n, formats::kF32, model, rp.opt).code;
    const size_t width = rp.slice_tile / rp.slices;
    uint64_t total = 0;
    for (uint32_t w = 0; w < rp.slices; ++w) {
      std::vector<uint64_t> sx, sy;
      for (size_t k = 0; k < n; ++k)
        if ((k % rp.slice_tile) / width == w) sx.push_back(x[k]), sy.push_back(y[k]);
      const uint64_t part = Dot(fa, sx.data(), 1, fb, sy.data(), 1, sx.size(), formats::kF32, model, rp.opt).code;
      total = w == 0 ? part : Add(formats::kF32, total, part, reduce).code;
    }
    return total;
  };
  if (rp.split <= 1) return static_cast<uint32_t>(dot(a, b, r.K));
  size_t chunk = (r.K + rp.split - 1) / rp.split;
  if (rp.split_align > 1) chunk = (chunk + rp.split_align - 1) / rp.split_align * rp.split_align;
  uint64_t sum = 0;
  for (size_t k0 = 0; k0 < r.K; k0 += chunk) {
    const size_t n = std::min<size_t>(chunk, r.K - k0);
    const uint64_t part = dot(a + k0, b + k0, n);
    sum = k0 == 0 ? part : Add(formats::kF32, sum, part, reduce).code;
  }
  return static_cast<uint32_t>(sum);
}

// The exact dot product rounded once to float64, for readable mismatch
// reports.
inline double ExactF64(const Record& r, size_t d) {
  const Format& fa = FormatOfId(r.fa);
  const Format& fb = FormatOfId(r.fb);
  DotModel exact;
  exact.accumulation = Accumulation::kExact;
  const uint64_t code = Dot(fa, r.a.data() + size_t{r.row_a(d)} * r.K, 1, fb, r.b.data() + size_t{r.row_b(d)} * r.K,
                            1, r.K, formats::kF64, exact)
                            .code;
  double v;
  std::memcpy(&v, &code, 8);
  return v;
}

}  // namespace floatscope::tc
