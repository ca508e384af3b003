#include "cli/ops.h"

#include "cli/cli_error.h"
#include "cli/quoted.h"
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
  throw UsageError("unknown op " + Quoted(std::string(name)) + " (conversions are <src>_to_<dst>, e.g. f32_to_e4m3fn)");
}

}  // namespace floatscope::cli
