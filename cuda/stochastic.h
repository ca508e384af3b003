// The random bits of stochastic rounding in the CUDA kernels. DESIGN.md's
// rule (formats/philox.h): element i uses word i mod 4 of the Philox4x32-10
// call with counter floor(i / 4), key = seed. The kernels give each thread
// whole groups of four elements whose indices are 4c .. 4c + 3 and call the
// core's StochasticCall(seed, c) once per group, so one call serves the
// four and no word crosses a thread (no shuffles, no repeated calls): the
// float4 loops when first_index is a multiple of 4, the group loops
// (SrGroupsOf) otherwise and for the tails.
//
// SrCallDevice is the same call in 32-bit operations only (__umulhi and a
// 32-bit multiply per product instead of the core's 64-bit products). It
// is not used by the kernels: gpu_bench times it beside the core's to
// measure what such a copy would save (cuda/RESULTS.md), and
// tests/cuda/device_ops_host_test.cc proves it equal to StochasticCall.
#pragma once

#include <cstdint>

#include "formats/host_device.h"
#include "formats/philox.h"

namespace floatscope::gpu {

// High 32 bits of a * b (one IMAD.HI on the GPU).
FS_HD constexpr uint32_t MulHi32(uint32_t a, uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __umulhi(a, b);
#else
  return static_cast<uint32_t>((uint64_t{a} * b) >> 32);
#endif
}

// The seed as Philox's key words (formats/philox.h: low half first).
struct SrKey {
  uint32_t k0 = 0, k1 = 0;
};
FS_HD constexpr SrKey SrKeyOf(uint64_t seed) {
  return SrKey{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
}

// StochasticCall(seed, counter): Philox4x32-10 of (counter low, counter
// high, 0, 0). Round 0 multiplies c2 = 0 (no product); each later round
// bumps the key by the Weyl constants (k + r * W: constants the compiler
// folds into uniform registers).
FS_HD constexpr Philox4x32 SrCallDevice(SrKey key, uint64_t counter) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  uint32_t c0 = static_cast<uint32_t>(counter);
  uint32_t c1 = static_cast<uint32_t>(counter >> 32);
  // Round 0: (c0, c1, 0, 0) -> (c1 ^ k0, 0, hi(M0 c0) ^ k1, lo(M0 c0)).
  uint32_t c2 = MulHi32(c0, kM0) ^ key.k1;
  uint32_t c3 = c0 * kM0;
  c0 = c1 ^ key.k0;
  c1 = 0;
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (uint32_t round = 1; round < 10; ++round) {
    const uint32_t hi0 = MulHi32(c0, kM0), lo0 = c0 * kM0;
    const uint32_t hi1 = MulHi32(c2, kM1), lo1 = c2 * kM1;
    const uint32_t n0 = hi1 ^ c1 ^ (key.k0 + round * kW0);
    const uint32_t n2 = hi0 ^ c3 ^ (key.k1 + round * kW1);
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  return Philox4x32{{c0, c1, c2, c3}};
}

// The groups of four (DESIGN.md's calls) that elements [begin, n) of an
// array whose element 0 has index first_index touch: counters first ..
// first + count - 1. Group c holds the array positions 4c + k - first_index
// (k = 0..3) that lie in [begin, n); the first and last group may be
// partial.
struct SrGroups {
  uint64_t first = 0, count = 0;
};
FS_HD constexpr SrGroups SrGroupsOf(uint64_t first_index, size_t begin, size_t n) {
  if (begin >= n) return SrGroups{};
  const uint64_t lo = StochasticCounter(first_index + begin);
  const uint64_t hi = StochasticCounter(first_index + (n - 1));
  return SrGroups{lo, hi - lo + 1};
}

}  // namespace floatscope::gpu
