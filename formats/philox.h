// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
// 3", SC'11): a counter-based generator. Stochastic rounding of element i
// draws word (i mod 4) of Philox(key = seed, counter = floor(i / 4))
// (DESIGN.md, "Rounding"), so the scalar core, SIMD lanes and GPU threads
// produce the same bits whatever the thread count or order, and one call
// serves four consecutive elements.
#pragma once

#include <cstdint>

#include "formats/host_device.h"

namespace floatscope {

struct Philox4x32 {
  uint32_t v[4];
};

FS_HD constexpr Philox4x32 Philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                                         uint32_t k0, uint32_t k1) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {  // the key is bumped between rounds
      k0 += kW0;
      k1 += kW1;
    }
#if defined(__CUDA_ARCH__)
    // The same words. From the 64-bit product ptxas (nvcc 13.0, sm_90a)
    // emits IMAD.WIDE.U32 plus a needless VIADD of the high word and a zero
    // register; from a high-word intrinsic and a 32-bit multiply it emits
    // one IMAD.WIDE.U32 in a kernel of Philox alone (120 -> 104
    // instructions a call) and IMAD.HI + IMAD, as many as before, in the
    // scaled cast. Measured on an H100 beside the previous build: no loss,
    // the memory-bound sr kernels 0-2 points of copy faster (cuda/RESULTS.md,
    // 2026-12-07 19:34).
    const uint32_t hi0 = __umulhi(kM0, c0), lo0 = kM0 * c0;
    const uint32_t hi1 = __umulhi(kM1, c2), lo1 = kM1 * c2;
#else
    const uint64_t p0 = uint64_t{kM0} * c0;
    const uint64_t p1 = uint64_t{kM1} * c2;
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
#endif
    const uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  return Philox4x32{{c0, c1, c2, c3}};
}

// Stochastic rounding compares at most 32 random bits (Options::sr_bits),
// so each Philox call serves kSrElementsPerCall = 4 elements, one word
// each. (DESIGN.md's rule for more than 32 bits, two elements per call,
// has no user in floatscope: no path draws more than 32 bits.)
inline constexpr uint64_t kSrElementsPerCall = 4;

// The Philox counter (c0, c1) = (low, high 32 bits of floor(index / 4))
// and the word of its output that element `index` uses.
FS_HD constexpr uint64_t StochasticCounter(uint64_t index) { return index / kSrElementsPerCall; }
FS_HD constexpr unsigned StochasticWord(uint64_t index) { return static_cast<unsigned>(index % kSrElementsPerCall); }

// The four words of the call with counter `counter` under `seed`: the
// random bits of elements 4·counter … 4·counter + 3, in that order.
FS_HD constexpr Philox4x32 StochasticCall(uint64_t seed, uint64_t counter) {
  return Philox4x32_10(static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32), 0, 0,
                       static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// The 32 random bits used to round element `index` under `seed`: word
// index mod 4 of the call with counter floor(index / 4), key = seed split
// into 32-bit halves, low half first.
FS_HD constexpr uint32_t StochasticBits(uint64_t seed, uint64_t index) {
  const Philox4x32 r = StochasticCall(seed, StochasticCounter(index));
  // Selects, not r.v[word]: a GPU thread keeps r in registers, which a
  // run-time index cannot address, so the indexed read went through local
  // memory (the fixed-point GEMM's sr group step, cuda/RESULTS.md
  // 2026-12-07 evening).
  const unsigned word = StochasticWord(index);
  return word == 0 ? r.v[0] : word == 1 ? r.v[1] : word == 2 ? r.v[2] : r.v[3];
}

}  // namespace floatscope
