// The random bits of stochastic rounding in the CUDA kernels. DESIGN.md's
// rule (formats/philox.h): element i uses word i mod 4 of the Philox4x32-10
// call with counter floor(i / 4), key = seed. The kernels give each thread
// whole groups of four elements whose indices are 4c .. 4c + 3 and call the
// core's StochasticCall(seed, c) once per group, so one call serves the
// four and no word crosses a thread (no shuffles, no repeated calls): the
// float4 loops from the first element whose index is a multiple of 4 where
// the pointers allow it there (VectorSplitOf: a slice of an aligned tensor
// peels at most 3 elements), the group loops (SrGroupsOf) for the peeled
// head, the tail, and everything when the pointers' misalignment does not
// match the index's.
//
// The kernels call the core's Philox, which takes its high words by
// __umulhi when compiled for the GPU (formats/philox.h says why). A copy of
// it in 32-bit operations had given the same bits and no measurable speed
// in the memory-bound fake-quant kernels (cuda/RESULTS.md, 2026-12-05).
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

// Where the float4 loops of a map kernel start: `peel` elements (0..3)
// first go through the group loop, so that in + peel is 16-byte aligned,
// out + peel is aligned for four outputs of `out_bytes` each and, when the
// elements share calls (stochastic modes), first_index + peel is a
// multiple of 4 (each float4 one group, one call). `vector` is false when
// no peel does all three (the pointers' misalignments differ from each
// other or from the index's): then the group loop takes every element.
// Slices of an aligned tensor always find their peel.
struct VectorSplit {
  bool vector = false;
  size_t peel = 0;
};
FS_HD constexpr VectorSplit VectorSplitOf(uintptr_t in, uintptr_t out, size_t out_bytes, size_t n,
                                          uint64_t first_index, bool shared_call) {
  if (in % 4 != 0 || out % out_bytes != 0) return VectorSplit{};
  const size_t peel = ((16 - in % 16) % 16) / 4;
  const bool ok = peel <= n && (out + peel * out_bytes) % (4 * out_bytes) == 0 &&
                  (!shared_call || (first_index + peel) % 4 == 0);
  return ok ? VectorSplit{true, peel} : VectorSplit{};
}

// What the group loop of a map kernel converts around the float4 loops
// (which cover [peel, peel + 4 n4)): the head [0, peel) and the tail
// [peel + 4 n4, n), as groups of four indices. One loop runs over both, so
// the element code is inlined once: its g < head.count are the head's
// groups. Without float4 loops (peel = n4 = 0) the tail is everything.
struct GroupRanges {
  SrGroups head, tail;
  size_t head_end = 0, tail_begin = 0;  // the head is [0, head_end), the tail [tail_begin, n)
};
FS_HD constexpr GroupRanges GroupRangesOf(uint64_t first_index, size_t peel, size_t n4, size_t n) {
  const size_t tail_begin = peel + 4 * n4;
  return GroupRanges{SrGroupsOf(first_index, 0, peel), SrGroupsOf(first_index, tail_begin, n), peel, tail_begin};
}

}  // namespace floatscope::gpu
