// The operations of `eval` and `verify`, named as TestFloat names them.
// An Op is data: operand formats, result format, and one function. Adding
// arithmetic (emulate/) means adding entries to ResolveOp, nothing else.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "formats/format.h"
#include "formats/policy.h"

namespace floatscope::cli {

struct Op {
  std::string name;
  std::vector<const Format*> operands;
  const Format* result = nullptr;
  // Computes the result code and flags from the operand codes. `index` is
  // the element (line) index that keys stochastic rounding.
  std::function<Result(const uint64_t* operands, const Options&, uint64_t index)> apply;
};

// Resolves conversions "f32_to_e4m3fn", "e5m2_to_f32", "e4m3:bias=9_to_f16",
// ... and arithmetic "f16_add", "e4m3fn_mulAdd" (a b c -> a*b+c), "bf16_fma",
// "e5m6_sqrt", ... (TestFloat's operand order). Throws UsageError for an
// unknown op or format, or arithmetic on an integer format.
Op ResolveOp(std::string_view name);

}  // namespace floatscope::cli
