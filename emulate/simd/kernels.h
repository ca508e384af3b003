// The dispatched Highway kernels (emulate/simd/convert-inl.h). They process
// a prefix of the array (whole vectors, and for stochastic rounding from an
// index that is not a multiple of 4 a head of up to three elements before
// them) and return how many elements they handled (0 on a CPU without a
// proven target: see kernels.cc); the callers in emulate/array_ops.cc run
// the scalar core on the rest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "emulate/array_ops.h"
#include "emulate/encode_plan.h"

namespace floatscope::simd {

size_t EncodeF32Vectors(const EncodePlan& p, const float* in, void* codes, int code_bytes, float* fq_out,
                        size_t n, uint64_t first_index, ArrayStats* stats);
size_t DecodeToF32Vectors(const EncodePlan& p, const void* codes, int code_bytes, float* out, size_t n);

// The name of the target the array API runs on this CPU (the best proven
// one), or "none (scalar core)" where no proven target runs here.
const char* DispatchedTargetName();

// For tests: every target the array API may run on this CPU (compiled in,
// supported, proven: AVX3 and AVX2), best first, and a way to make
// dispatch use one of them (0 restores the default). ForceTarget is
// process-wide; call it only while no kernel runs.
std::vector<int64_t> CompiledTargets();
void ForceTarget(int64_t target);

// For tests: which loop the last EncodeF32Vectors call on this thread ran
// (so a test can prove that its "with statistics" calls take the fast path
// it means to check, and not the general kernel).
enum class EncodePath { kNone, kGeneral, kFast, kF16c };
EncodePath LastEncodePath();
void NoteEncodePath(EncodePath path);  // the kernels' side

// Streaming (non-temporal) stores for the fast path's fake-quantized
// output: used where a call's input and output together (8 bytes per
// element) reach StreamMinBytes, so the stores skip the read for ownership
// and leave the cache alone. Off by default (SIZE_MAX: measured no faster,
// see kernels.cc); tests and the bench set a threshold (0 restores the
// default), e.g. LastLevelCacheBytesForBench() (read from /sys, else
// sysconf, else 32 MiB).
size_t StreamMinBytes();
void SetStreamMinBytesForTest(size_t bytes);
size_t LastLevelCacheBytesForBench();

// For tests: pins the kernels called from this thread to one target while
// it lives (0: no pin), so threads can check different targets at once.
// Only for kernels called on this thread: array calls with threads > 1 run
// their pieces on other threads, which keep the process-wide choice.
class ThreadTarget {
 public:
  explicit ThreadTarget(int64_t target);
  ~ThreadTarget();
  ThreadTarget(const ThreadTarget&) = delete;
  ThreadTarget& operator=(const ThreadTarget&) = delete;

 private:
  int64_t previous_;
};

// For tests: the dispatch-table entry a call from this thread would use
// with `target` pinned (0: as things stand), to prove the pin picks the
// entry that ForceTarget (Highway's own choice) picks.
size_t DispatchIndexForTest(int64_t target);

}  // namespace floatscope::simd
