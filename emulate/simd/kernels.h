// The dispatched Highway kernels (emulate/simd/convert-inl.h). They process
// whole vectors and return how many elements they handled; the callers in
// emulate/array_ops.cc run the scalar core on the rest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "emulate/array_ops.h"
#include "emulate/simd/encode_plan.h"

namespace floatscope::simd {

size_t EncodeF32Vectors(const EncodePlan& p, const float* in, void* codes, int code_bytes, float* fq_out,
                        size_t n, uint64_t first_index, ArrayStats* stats);
size_t DecodeToF32Vectors(const EncodePlan& p, const void* codes, int code_bytes, float* out, size_t n);
const char* DispatchedTargetName();

// For tests: every Highway target compiled in and supported by this CPU,
// and a way to make dispatch use one of them (0 restores the default).
std::vector<int64_t> CompiledTargets();
void ForceTarget(int64_t target);

}  // namespace floatscope::simd
