// Compiles emulate/simd/convert-inl.h once per Highway target and exports
// the entry points through dynamic dispatch (the Highway per-target pattern).
//
// Only the x86 targets AVX3 (AVX-512) and AVX2 are compiled and used: each
// is proven equal to the core on all 2^32 float32 inputs for every format
// and mode (tests/simd/exhaustive_simd.cc, docs/TESTING.md), a proof that
// costs hours of CPU per target. On any other CPU (no AVX2, or not x86) the
// kernels report no work done and the array API runs the core itself, which
// is what Highway's scalar fallback would be worth anyway.
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_AVX3_DL | HWY_SSE4 | HWY_SSSE3)
#endif
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "emulate/simd/kernels.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include "emulate/simd/convert-inl.h"
#include <hwy/highway.h>

#if HWY_ONCE
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "emulate/simd/kernels.h"

namespace floatscope::simd {

HWY_EXPORT(EncodeF32Vectors);
HWY_EXPORT(DecodeToF32Vectors);

namespace {

// The targets with an exhaustive proof on record.
constexpr int64_t kProvenTargets = HWY_AVX3 | HWY_AVX2;

// The target this thread's calls are pinned to (ThreadTarget), 0 for none.
thread_local int64_t pinned_target = 0;

// hwy::SupportedTargets() runs CPUID on every call (Highway 1.0.3), which
// costs microseconds in a virtual machine: measured at 56 % of a small
// training step's time, more than the kernels. The answer is cached here and
// dropped by ForceTarget, the only thing that changes it.
std::atomic<int64_t> supported_cache{0};

// The best target compiled here and supported by this CPU (or the pin).
int64_t ActiveTarget() {
  if (pinned_target != 0) return pinned_target;
  int64_t t = supported_cache.load(std::memory_order_relaxed);
  if (t == 0) {
    t = hwy::SupportedTargets() & HWY_TARGETS;
    supported_cache.store(t, std::memory_order_relaxed);
  }
  return t & (~t + 1);  // lower bits are better targets
}

// The dispatch-table entry Highway itself would call if `target` were the
// only supported target: the same computation as ChosenTarget::Update
// followed by GetIndex (hwy/targets.h). The tests check the two agree.
size_t TableIndexOf(int64_t target) {
  const int64_t mask = (HWY_CHOSEN_TARGET_SHIFT(target) | HWY_CHOSEN_TARGET_MASK_SCALAR) & HWY_CHOSEN_TARGET_MASK_TARGETS;
  return hwy::Num0BitsBelowLS1Bit_Nonzero64(static_cast<uint64_t>(mask));
}

}  // namespace

size_t EncodeF32Vectors(const EncodePlan& p, const float* in, void* codes, int code_bytes, float* fq_out,
                        size_t n, uint64_t first_index, ArrayStats* stats) {
  const int64_t target = ActiveTarget();
  if ((target & kProvenTargets) == 0) return 0;
  if (pinned_target != 0)
    return HWY_DISPATCH_TABLE(EncodeF32Vectors)[TableIndexOf(target)](p, in, codes, code_bytes, fq_out, n,
                                                                       first_index, stats);
  return HWY_DYNAMIC_DISPATCH(EncodeF32Vectors)(p, in, codes, code_bytes, fq_out, n, first_index, stats);
}

size_t DecodeToF32Vectors(const EncodePlan& p, const void* codes, int code_bytes, float* out, size_t n) {
  const int64_t target = ActiveTarget();
  if ((target & kProvenTargets) == 0) return 0;
  if (pinned_target != 0)
    return HWY_DISPATCH_TABLE(DecodeToF32Vectors)[TableIndexOf(target)](p, codes, code_bytes, out, n);
  return HWY_DYNAMIC_DISPATCH(DecodeToF32Vectors)(p, codes, code_bytes, out, n);
}

const char* DispatchedTargetName() {
  const int64_t t = ActiveTarget();
  return (t & kProvenTargets) ? hwy::TargetName(t) : "none (scalar core)";
}

std::vector<int64_t> CompiledTargets() {
  std::vector<int64_t> proven;
  for (int64_t t : hwy::SupportedAndGeneratedTargets())
    if (t & kProvenTargets) proven.push_back(t);
  return proven;
}

void ForceTarget(int64_t target) {
  hwy::SetSupportedTargetsForTest(target);
  hwy::GetChosenTarget().Update(hwy::SupportedTargets());
  supported_cache.store(0, std::memory_order_relaxed);
}

namespace {
thread_local EncodePath last_encode_path = EncodePath::kNone;

size_t LastLevelCacheBytes() {
  // The highest cache level cpu0 lists (a virtual machine's sysconf may
  // report the host's total instead of the slice this core sees).
  size_t best = 0;
  int best_level = 0;
  for (int i = 0; i < 8; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    std::ifstream level_file(dir + "level"), size_file(dir + "size");
    int level = 0;
    std::string size;
    if (!(level_file >> level) || !(size_file >> size) || size.empty()) continue;
    size_t bytes = std::strtoull(size.c_str(), nullptr, 10);
    if (size.back() == 'K') bytes <<= 10;
    else if (size.back() == 'M') bytes <<= 20;
    if (level >= best_level && bytes > 0) best_level = level, best = bytes;
  }
#ifdef _SC_LEVEL3_CACHE_SIZE
  if (best == 0) {
    const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (l3 > 0) best = static_cast<size_t>(l3);
  }
#endif
  return best ? best : size_t{32} << 20;
}

std::atomic<size_t> stream_min_bytes_override{0};
}  // namespace

size_t StreamMinBytes() {
  const size_t o = stream_min_bytes_override.load(std::memory_order_relaxed);
  if (o) return o;
  // Off by default: measured on AMD EPYC (AVX3, 2^24 float32, 1 thread,
  // interleaved runs, docs/runs/simd_bench_issue17_sr.md) streaming gave
  // the compute-bound stochastic loops nothing (f16 sr 0.66x F16C with,
  // 0.65x without) or lost (int8 sr 0.38x against 0.42x). The last-level
  // cache size stays the threshold a caller or the bench can opt into.
  static const size_t never = ~size_t{0};
  return never;
}

size_t LastLevelCacheBytesForBench() { return LastLevelCacheBytes(); }
void SetStreamMinBytesForTest(size_t bytes) { stream_min_bytes_override.store(bytes, std::memory_order_relaxed); }

EncodePath LastEncodePath() { return last_encode_path; }
void NoteEncodePath(EncodePath path) { last_encode_path = path; }

ThreadTarget::ThreadTarget(int64_t target) : previous_(pinned_target) { pinned_target = target; }
ThreadTarget::~ThreadTarget() { pinned_target = previous_; }

size_t DispatchIndexForTest(int64_t target) {
  if (target != 0) return TableIndexOf(target);
  return pinned_target != 0 ? TableIndexOf(pinned_target) : hwy::GetChosenTarget().GetIndex();
}

}  // namespace floatscope::simd
#endif  // HWY_ONCE
