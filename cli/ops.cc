#include "cli/ops.h"

#include "cli/cli_error.h"
#include "cli/quoted.h"
#include "emulate/arith.h"
#include "formats/convert.h"
#include "formats/spec_parser.h"

namespace floatscope::cli {

namespace {

const Format& FormatOrThrow(std::string_view spec) {
  std::string error;
  const Format* f = ResolveFormat(spec, &error);
  if (!f) throw UsageError(error);
  return *f;
}

// "<fmt>_add", "<fmt>_mulAdd", ...: the arithmetic of emulate/arith.h
// (TestFloat's names; "fma" is accepted for "mulAdd").
bool ResolveArithOp(std::string_view name, Op* op) {
  struct Suffix {
    const char* text;
    ArithOp op;
  };
  static constexpr Suffix kSuffixes[] = {
      {"_add", ArithOp::kAdd},   {"_sub", ArithOp::kSub},       {"_mul", ArithOp::kMul},
      {"_div", ArithOp::kDiv},   {"_sqrt", ArithOp::kSqrt},     {"_mulAdd", ArithOp::kMulAdd},
      {"_fma", ArithOp::kMulAdd},
  };
  for (const Suffix& s : kSuffixes) {
    const std::string_view suffix = s.text;
    if (name.size() <= suffix.size() || name.substr(name.size() - suffix.size()) != suffix) continue;
    const Format& f = FormatOrThrow(name.substr(0, name.size() - suffix.size()));
    if (!IsFloat(f))
      throw UsageError(std::string("arithmetic needs a floating-point format, not the integer format ") + f.name);
    const ArithOp kind = s.op;
    op->name = std::string(name);
    op->operands.assign(OperandCount(kind), &f);
    op->result = &f;
    op->apply = [kind, &f](const uint64_t* x, const Options& opt, uint64_t index) {
      return ApplyArith(kind, f, x, opt, index);
    };
    return true;
  }
  return false;
}

}  // namespace

Op ResolveOp(std::string_view name) {
  const size_t to = name.find("_to_");
  if (to != std::string_view::npos) {
    const Format& src = FormatOrThrow(name.substr(0, to));
    const Format& dst = FormatOrThrow(name.substr(to + 4));
    Op op;
    op.name = std::string(name);
    op.operands = {&src};
    op.result = &dst;
    op.apply = [&src, &dst](const uint64_t* x, const Options& opt, uint64_t index) {
      return Convert(src, x[0], dst, opt, index);
    };
    return op;
  }
  if (Op op; ResolveArithOp(name, &op)) return op;
  throw UsageError("unknown op " + Quoted(std::string(name)) +
                   " (conversions are <src>_to_<dst>, e.g. f32_to_e4m3fn; arithmetic is "
                   "<fmt>_add|_sub|_mul|_div|_sqrt|_mulAdd|_fma, e.g. f16_mulAdd)");
}

}  // namespace floatscope::cli
