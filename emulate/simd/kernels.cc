// Compiles emulate/simd/convert-inl.h once per Highway target and exports
// the entry points through dynamic dispatch (the Highway per-target pattern).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "emulate/simd/kernels.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include "emulate/simd/convert-inl.h"
#include <hwy/highway.h>

#if HWY_ONCE
#include <vector>

#include "emulate/simd/kernels.h"

namespace floatscope::simd {

HWY_EXPORT(EncodeF32Vectors);
HWY_EXPORT(DecodeToF32Vectors);

size_t EncodeF32Vectors(const EncodePlan& p, const float* in, void* codes, int code_bytes, float* fq_out,
                        size_t n, uint64_t first_index, ArrayStats* stats) {
  return HWY_DYNAMIC_DISPATCH(EncodeF32Vectors)(p, in, codes, code_bytes, fq_out, n, first_index, stats);
}

size_t DecodeToF32Vectors(const EncodePlan& p, const void* codes, int code_bytes, float* out, size_t n) {
  return HWY_DYNAMIC_DISPATCH(DecodeToF32Vectors)(p, codes, code_bytes, out, n);
}

const char* DispatchedTargetName() {
  // Lower bits are better targets: the best one compiled and supported.
  const int64_t t = hwy::SupportedTargets() & HWY_TARGETS;
  return hwy::TargetName(t & (~t + 1));
}

std::vector<int64_t> CompiledTargets() { return hwy::SupportedAndGeneratedTargets(); }

void ForceTarget(int64_t target) {
  hwy::SetSupportedTargetsForTest(target);
  hwy::GetChosenTarget().Update(hwy::SupportedTargets());
}

}  // namespace floatscope::simd
#endif  // HWY_ONCE
