// The compile-time specialised fake-quantization kernels (float32 ->
// named format -> float32), every named format the fast path covers x
// every rounding mode: cuda/named_kernels.cuh, cuda/named_convert.h.
#include "cuda/named_kernels.cuh"

namespace floatscope::gpu::named {

bool FakeQuant(const Format& f, const Options& opt, const float* in, float* out, size_t n, uint64_t first_index) {
  using namespace named_detail;
  bool done = false;
  WithIndex(NamedIndex(f), [&](auto index) {
    done = LaunchNamedMap<decltype(index)::value, float>(opt, false, in, out, n, first_index);
  });
  return done;
}

bool Covers(const Format& f, const Options& opt) {
  using namespace named_detail;
  bool ok = false;
  WithIndex(NamedIndex(f), [&](auto index) {
    ok = PlanMatches(kNamedPlan<decltype(index)::value>, MakeEncodePlan(f, opt));
  });
  return ok;
}

}  // namespace floatscope::gpu::named
