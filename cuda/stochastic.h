// The random bits of stochastic rounding in the CUDA kernels. DESIGN.md's
// rule (formats/philox.h): element i uses word i mod 4 of the Philox4x32-10
// call with counter floor(i / 4), key = seed. The kernels give each thread
// whole groups of four elements whose indices are 4c .. 4c + 3 and call the
// core's StochasticCall(seed, c) once per group, so one call serves the
// four and no word crosses a thread (no shuffles, no repeated calls): the
// float4 loops when first_index is a multiple of 4, the group loops
// (SrGroupsOf) otherwise and for the tails.
//
// A copy of Philox in 32-bit operations (__umulhi instead of the core's
// 64-bit products) gave the same bits and no measurable speed on an H100
// (cuda/RESULTS.md, 2026-12-05), so the kernels call the core's.
#pragma once

#include <cstddef>
#include <cstdint>

#include "formats/host_device.h"
#include "formats/philox.h"

namespace floatscope::gpu {

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
