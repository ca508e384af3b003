// eval:   stdin lines of hex operands -> stdout "RESULT FLAGS"
// verify: stdin TestFloat lines "operands... result flags" -> mismatches,
//         then "N passed, N failed"; exit 1 when anything failed.
// Any malformed line stops the run with one error line naming it. Output
// streams: when line K is bad, stdout holds exactly the output of lines
// 1..K-1 (eval: their K-1 results; verify: their mismatch reports, and no
// "N passed" summary), then the error goes to stderr with status 2.
#include "cli/eval_verify.h"

#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli_error.h"
#include "cli/describe.h"
#include "cli/hex_codes.h"
#include "cli/npy_verify.h"
#include "cli/ops.h"
#include "cli/int_option.h"
#include "cli/rounding_options.h"
#include "cli/stdout_check.h"
#include "formats/names.h"

namespace floatscope::cli {

namespace {

uint64_t ParseOperand(const std::string& text, const Format& f, uint64_t line, const char* what) {
  uint64_t code = 0;
  std::string why;
  if (!ParseHexCode(text, f, &code, &why)) throw UsageError(fmt::format("line {}: {}: {}", line, what, why));
  return code;
}

struct Session {
  RoundingFlags flags;
  std::string op_name;
  bool check_nans = false;
  int max_report = 20;
  std::string in_path, out_path;  // verify: .npy dumps instead of stdin
  bool diagnose = false;          // verify --in/--out: search the kernel's semantics (cli/diagnose.h)
  std::string json_path;          // ... and write the search here
};

void RunEval(const Session& s) {
  const Op op = ResolveOp(s.op_name);
  const Options opt = ResolveOptions(s.flags, *op.result);
  LineReader reader{std::cin};
  std::vector<std::string> tokens;
  std::vector<uint64_t> x(op.operands.size());
  std::string out;  // results not yet written: only whole lines
  uint64_t index = 0;
  try {
    while (reader.Next(&tokens)) {
      if (tokens.size() != op.operands.size())
        throw UsageError(fmt::format("line {}: {} expects {} operand(s), got {}", reader.number,
                                     op.name, op.operands.size(), tokens.size()));
      for (size_t i = 0; i < x.size(); ++i)
        x[i] = ParseOperand(tokens[i], *op.operands[i], reader.number, "operand");
      const Result r = op.apply(x.data(), opt, index++);
      out += FormatHexCode(r.code, *op.result);
      out += fmt::format(" {:02x}\n", r.flags);
      if (out.size() > (1 << 16)) {
        WriteStdout(out);  // stops at the first write error, not after the whole input
        out.clear();
      }
    }
  } catch (const UsageError&) {
    std::cout << out;  // the results of every line before the bad one, no more, no fewer
    throw;
  }
  if (reader.number == 0) throw UsageError("no input: eval reads hex operands from stdin, one line each");
  WriteStdout(out);
  FlushStdout();
}

int RunVerify(const Session& s) {
  const Op op = ResolveOp(s.op_name);
  const Options opt = ResolveOptions(s.flags, *op.result);
  LineReader reader{std::cin};
  std::vector<std::string> tokens;
  std::vector<uint64_t> x(op.operands.size());
  uint64_t passed = 0, failed = 0, index = 0;
  const Format& rf = *op.result;
  while (reader.Next(&tokens)) {
    const size_t want = op.operands.size() + 2;
    if (tokens.size() != want)
      throw UsageError(fmt::format("line {}: {} expects {} operand(s), a result and flags ({} fields), got {}",
                                   reader.number, op.name, op.operands.size(), want, tokens.size()));
    for (size_t i = 0; i < x.size(); ++i)
      x[i] = ParseOperand(tokens[i], *op.operands[i], reader.number, "operand");
    const uint64_t expected = ParseOperand(tokens[x.size()], rf, reader.number, "expected result");
    const std::string& ftext = tokens[x.size() + 1];
    unsigned expected_flags = 0;
    {
      std::string why;
      uint64_t v = 0;
      static constexpr Format kFlagsFmt{"flags", Kind::kInteger, 5, 8, false, 0, 0, 0,
                                        InfCodes::kNone, NanCodes::kNone, false, true,
                                        Overflow::kSaturate, ""};
      if (!ParseHexCode(ftext, kFlagsFmt, &v, &why))
        throw UsageError(fmt::format("line {}: flags: {} (two hex digits, at most 1f)", reader.number, why));
      expected_flags = static_cast<unsigned>(v);
    }
    const Result r = op.apply(x.data(), opt, index++);
    const bool both_nan = !s.check_nans && IsNanCode(rf, r.code) && IsNanCode(rf, expected);
    if ((r.code == expected || both_nan) && r.flags == expected_flags) {
      ++passed;
      continue;
    }
    ++failed;
    if (failed <= static_cast<uint64_t>(s.max_report)) {
      std::string ops;
      for (size_t i = 0; i < x.size(); ++i) ops += (i ? " " : "") + FormatHexCode(x[i], *op.operands[i]);
      WriteStdout(fmt::format("line {}: {} {}: expected {} {:02x}, got {} {:02x}\n", reader.number,
                              op.name, ops, FormatHexCode(expected, rf), expected_flags,
                              FormatHexCode(r.code, rf), r.flags));
      WriteStdout(fmt::format("    expected {} [{}]\n    got      {} [{}]\n", DescribeCode(rf, expected),
                              FlagsNames(static_cast<uint8_t>(expected_flags)), DescribeCode(rf, r.code),
                              FlagsNames(r.flags)));
    }
  }
  if (reader.number == 0) throw UsageError("no input: verify reads TestFloat lines from stdin");
  if (failed > static_cast<uint64_t>(s.max_report))
    WriteStdout(fmt::format("({} more mismatches not shown)\n", failed - s.max_report));
  WriteStdout(fmt::format("{} passed, {} failed\n", passed, failed));
  FlushStdout();
  return failed ? 1 : 0;
}

}  // namespace

void RegisterEvalCommand(CLI::App& app) {
  auto s = std::make_shared<Session>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "Apply OP to hex operands read from stdin, one line each; print \"RESULT FLAGS\"");
  cmd->add_option("OP", s->op_name,
                  "<src>_to_<dst> or <fmt>_add|_sub|_mul|_div|_sqrt|_mulAdd (TestFloat names), e.g. f32_to_e4m3fn, f16_mulAdd")
      ->required();
  AddRoundingOptions(*cmd, s->flags);
  cmd->callback([s] { RunEval(*s); });
}

void RegisterVerifyCommand(CLI::App& app) {
  auto s = std::make_shared<Session>();
  CLI::App* cmd = app.add_subcommand(
      "verify", "Check TestFloat lines (operands result flags) from stdin; print mismatches, then \"N passed, N failed\"");
  cmd->add_option("OP", s->op_name,
                  "<src>_to_<dst> or <fmt>_add|_sub|_mul|_div|_sqrt|_mulAdd (TestFloat names), e.g. f32_to_f16, f16_add")
      ->required();
  AddRoundingOptions(*cmd, s->flags);
  cmd->add_flag("--check-nans", s->check_nans,
                "compare NaN results bit for bit (default: any NaN matches any NaN, as testfloat_ver)");
  cmd->add_option("--max-report", s->max_report, "mismatches printed in full, 0..2^30 [default: 20]")
      ->check(IntegerIn(0, 1 << 30));
  cmd->add_option("--in", s->in_path,
                  "inputs of a kernel under test: float32 .npy (OP f32_to_<fmt>) or float64 .npy (f64_to_<fmt>); with --out");
  cmd->add_option("--out", s->out_path,
                  "its outputs: codes (uint8/uint16 .npy) or fake-quantized float32 .npy, checked against the CPU");
  cmd->add_flag("--diagnose", s->diagnose,
                "with --in/--out: when outputs differ, search the rounding/overflow/NaN/subnormal/double-rounding "
                "variants for the one the kernel follows and explain the differences");
  cmd->add_option("--json", s->json_path, "with --diagnose: write every candidate's mismatch count here");
  cmd->callback([s] {
    if (!s->json_path.empty() && !s->diagnose) throw UsageError("--json applies to --diagnose");
    if (s->diagnose && (s->in_path.empty() || s->out_path.empty()))
      throw UsageError("--diagnose needs --in and --out (it diagnoses a kernel's .npy dumps)");
    if (!s->in_path.empty() || !s->out_path.empty()) {
      const NpyVerifyRequest r{s->op_name, s->flags, s->in_path, s->out_path, s->json_path, s->max_report, s->diagnose};
      if (RunNpyVerifyCommand(r, std::cout) != 0) throw CLI::RuntimeError(1);
      return;
    }
    const int rc = RunVerify(*s);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace floatscope::cli
