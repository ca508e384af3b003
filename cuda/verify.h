// The GPU verification harness (`floatscope gpu-verify`): runs the CUDA
// kernels and the CPU emulator on the same inputs and says whether they are
// equal, bit for bit.
//
// Exhaustive mode: all 2^32 float32 bit patterns x = bits i (element index
// i, which keys stochastic rounding), for one format and one set of
// options. The GPU encodes and fake-quantizes them (each kernel variant
// asked for), and reduces each block of 2^20 consecutive inputs to two
// 64-bit digests: sum mod 2^64 of Mix64(i << 32 | stored code) and of
// Mix64((i << 32 | fake-quantized float32 bits) ^ salt) (cuda/device_ops.h).
// The CPU computes the same digests from emulate/array_ops.h (the Highway
// kernels, proven equal to the core on all inputs; the scalar core where
// they do not apply) or, when asked, from the scalar core itself, on all
// hardware threads. Mix64 is a bijection, so a
// block with a single differing element always gets a different digest;
// every block whose digests differ is then rerun element by element against
// the scalar core and its first mismatches printed with decoded fields.
// Every code is also decoded on the GPU and compared with the core.
//
// Scaled mode (scale > 0): the cast pass of the per-tensor scaled
// quantization with that scale instead of the plain conversion: codes =
// quant::Fp8Encode(f, opt, x, scale, i) and fake-quantized values =
// quant::Fp8Decode(f, code, 1 / scale) (emulate/quant/fp8_scaling.h, the
// scalar core), opt's overflow kDefault meaning saturate as in the recipe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cuda/gpu.h"
#include "formats/format.h"
#include "formats/policy.h"

namespace floatscope::gpu {

inline constexpr int kLog2DigestBlock = 20;
inline constexpr size_t kDigestBlocks = size_t{1} << (32 - kLog2DigestBlock);  // 4096

// Both digest streams, kDigestBlocks each.
struct Digests {
  std::vector<uint64_t> codes, fake_quant;
};

// Where the CPU digests come from: emulate/array_ops.h (kArrays: the
// Highway kernels, a few seconds per check) or the scalar core element by
// element (kCore: the reference itself, independent of the SIMD path;
// slower, most of all in the stochastic modes, where each element costs a
// whole Philox call).
enum class CpuReference : uint8_t { kArrays, kCore };
const char* CpuReferenceName(CpuReference r);

// The CPU side: `threads` 0 = all hardware threads. progress(done, total)
// is called from the calling thread now and then.
Digests CpuDigests(const Format& f, const Options& opt, unsigned threads, CpuReference reference,
                   const std::function<void(size_t, size_t)>& progress = {}, float scale = 0);

// The GPU side for one kernel variant; *gpu_seconds = wall time of the GPU
// work (kernels and the digest download). split 0: each chunk of 2^28
// inputs in one call (16-byte aligned, first index a multiple of 4: the
// float4 loops); split s in 1..3: each chunk in two calls, its first s
// elements (fewer than a float4) and the rest (16-byte misaligned, first
// index not a multiple of 4, misaligned alike: the kernels peel 4 - s
// elements, then run their float4 loops); split kShiftedLayout: each
// chunk in one call from one element past the 16-byte alignment, first
// index a multiple of 4 (the misalignments differ: the stochastic modes'
// scalar group loops convert every input, the deterministic modes peel).
Digests GpuDigests(const Format& f, const Options& opt, Variant v, uint32_t split, double* gpu_seconds,
                   float scale = 0);

// The layouts that VerifyExhaustive adds when asked for unaligned ones.
inline constexpr uint32_t kUnalignedSplit = 3;
inline constexpr uint32_t kShiftedLayout = 4;

struct VariantOutcome {
  Variant variant = Variant::kAuto;
  uint32_t split = 0;  // GpuDigests' layout
  double gpu_seconds = 0;
  uint64_t code_blocks_differing = 0;
  uint64_t fake_quant_blocks_differing = 0;
  uint64_t code_mismatches = 0;        // counted in the differing blocks
  uint64_t fake_quant_mismatches = 0;  // (localized against the scalar core)
  uint64_t decode_mismatches = 0;      // of the 2^bits codes
  std::vector<std::string> first;      // the first few mismatches, explained
  bool ok() const {
    return code_blocks_differing == 0 && fake_quant_blocks_differing == 0 && code_mismatches == 0 &&
           fake_quant_mismatches == 0 && decode_mismatches == 0;
  }
};

struct ExhaustiveOutcome {
  double cpu_seconds = 0;
  std::vector<VariantOutcome> variants;
  bool ok() const {
    for (const auto& v : variants)
      if (!v.ok()) return false;
    return true;
  }
};

// Runs the GPU variants while the CPU digests are computed (each variant
// must support f). max_report: mismatches kept per variant. unaligned:
// each variant also with split kUnalignedSplit and kShiftedLayout (three
// outcomes each).
ExhaustiveOutcome VerifyExhaustive(const Format& f, const Options& opt, const std::vector<Variant>& variants,
                                   unsigned threads, int max_report, CpuReference reference = CpuReference::kArrays,
                                   bool unaligned = false, const std::function<void(size_t, size_t)>& progress = {},
                                   float scale = 0);

// The cast pass of TensorScaledFakeQuant with a given scale (cuda/kernels.cu;
// scaled mode): element i with index first_index + i, d_work as there
// (TensorScaledWorkBytes), v as there (kCore: the core's cast).
void TensorScaledCast(const Format& f, const Options& opt, float scale, const float* d_in, void* d_codes,
                      float* d_out, size_t n, uint64_t first_index, void* d_work, Variant v);

// "0x39 [s=0 e=0111 m=001] 1.125": a code with its fields and value.
std::string ExplainCode(const Format& f, uint64_t code);

}  // namespace floatscope::gpu
