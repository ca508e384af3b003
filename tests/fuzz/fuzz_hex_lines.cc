// libFuzzer target: the line reader and hex operands of eval/verify
// (cli/hex_codes.h), run through real operations (cli/ops.h).
// Input: byte 0 picks the op, byte 1 the rounding; the rest is stdin.
// Property: only UsageError (one line, printable) comes out; never a crash,
// another exception, or an operand the format cannot hold.
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli_error.h"
#include "cli/hex_codes.h"
#include "cli/ops.h"
#include "formats/names.h"

using namespace floatscope;
using namespace floatscope::cli;

namespace {

const char* const kOps[] = {"f16_to_f32",      "f32_to_e4m3fn", "f64_to_e2m1fn", "e5m2_to_bf16",    "bf16_to_int8",
                            "tf32_to_e3m4",    "f16_add",       "bf16_mulAdd",   "e4m3fn_div",      "f32_sqrt",
                            "e5m6_to_f16",     "int12_to_e8m0fnu", "f64_mul",   "e2m3fn_sub",      "uint4_to_f16",
                            "e4m3:bias=9,inf=no,nan=ones,subnormals=no_to_f32"};
const Rounding kModes[] = {Rounding::kNearestEven, Rounding::kNearestAway, Rounding::kTowardZero, Rounding::kDown,
                           Rounding::kUp,          Rounding::kOdd,         Rounding::kStochastic,  Rounding::kStochasticEq};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static std::vector<Op> ops = [] {
    std::vector<Op> v;
    for (const char* name : kOps) v.push_back(ResolveOp(name));
    return v;
  }();
  const Op& op = ops[data[0] % ops.size()];
  Options opt;
  opt.rounding = kModes[data[1] % 8];
  opt.overflow = (data[1] & 8) ? Overflow::kSaturate : Overflow::kDefault;
  opt.flush_input = opt.flush_output = (data[1] & 16) != 0;
  opt.seed = data[1];
  std::istringstream in(std::string(reinterpret_cast<const char*>(data + 2), size - 2));
  LineReader reader{in};
  std::vector<std::string> tokens;
  std::vector<uint64_t> x(op.operands.size());
  try {
    while (reader.Next(&tokens)) {
      if (tokens.size() != x.size()) continue;
      bool ok = true;
      for (size_t i = 0; i < x.size() && ok; ++i) {
        std::string why;
        ok = ParseHexCode(tokens[i], *op.operands[i], &x[i], &why);
        if (!ok && why.empty()) std::abort();  // a refusal says why
        if (ok && (x[i] & ~CodeMask(*op.operands[i]))) std::abort();
      }
      if (!ok) continue;
      const Result r = op.apply(x.data(), opt, reader.number);
      if (r.code & ~CodeMask(*op.result)) std::abort();
      const std::string hex = FormatHexCode(r.code, *op.result);
      uint64_t again = 0;
      std::string why;
      if (!ParseHexCode(hex, *op.result, &again, &why) || again != r.code) std::abort();  // output reads back
    }
  } catch (const UsageError& e) {
    for (const char* p = e.what(); *p; ++p)
      if (*p == '\n') std::abort();
  }
  return 0;
}
