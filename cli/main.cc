// floatscope: the command-line front door (DESIGN.md, "The CLI contract").
// Thin by design: parse, call the library, print. Every failure is one line
// on stderr and exit status 2 (verify uses 1 for "ran, found mismatches").
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/cli_error.h"
#include "cli/eval_verify.h"
#include "cli/explain.h"
#include "cli/format_table.h"
#include "cli/gen.h"
#include "cli/gpu_verify.h"
#include "cli/quantize.h"
#include "cli/quoted.h"
#include "cli/stdout_check.h"
#include "cli/train.h"

namespace {

// An error line as printed: control bytes (a newline from a JSON key, an
// escape sequence) as \xNN, so that it stays one line and reaches the
// terminal inert. Bytes from 128 up (UTF-8 in paths) are kept.
std::string OneLine(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 32 || c == 127) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

bool HasSubcommand(const CLI::App& app, const std::string& name) {
  for (const CLI::App* sub : app.get_subcommands({}))
    if (sub->check_name(name)) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  floatscope::cli::InstallStdoutCheck();
  CLI::App app{"floatscope: bit-exact emulation of low-precision number formats"};
  app.require_subcommand(1);
  floatscope::cli::RegisterFormatsCommand(app);
  floatscope::cli::RegisterExplainCommand(app);
  floatscope::cli::RegisterEvalCommand(app);
  floatscope::cli::RegisterVerifyCommand(app);
  floatscope::cli::RegisterGenCommand(app);
  floatscope::cli::RegisterQuantizeCommand(app);
  floatscope::cli::RegisterGpuVerifyCommand(app);
  floatscope::cli::RegisterTrainCommand(app);
  // CLI11 reports an unknown first word as "a subcommand is required";
  // name it instead.
  if (argc > 1 && argv[1][0] != '-' && !HasSubcommand(app, argv[1])) {
    std::string known;
    for (const CLI::App* sub : app.get_subcommands({})) known += (known.empty() ? "" : ", ") + sub->get_name();
    std::cerr << "floatscope: unknown command " << floatscope::cli::Quoted(argv[1]) << " (commands: " << known
              << ")\n";
    return 2;
  }
  std::vector<std::string> args(argv, argv + argc);
  floatscope::cli::ExplainValueArguments(args);
  std::vector<const char*> arg_ptrs;
  for (const std::string& a : args) arg_ptrs.push_back(a.c_str());
  int rc = 0;
  try {
    app.parse(static_cast<int>(arg_ptrs.size()), arg_ptrs.data());
  } catch (const CLI::RuntimeError& e) {
    rc = e.get_exit_code();  // verify: 1 = ran, found mismatches
  } catch (const CLI::CallForHelp& e) {
    rc = app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    rc = app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "floatscope: " << OneLine(e.what()) << " (see --help)\n";
    return 2;
  } catch (const floatscope::cli::UsageError& e) {
    std::cerr << "floatscope: " << OneLine(e.what()) << "\n";
    rc = 2;
  } catch (const std::exception& e) {
    std::cerr << "floatscope: " << OneLine(e.what()) << "\n";
    rc = 2;
  }
  // What was printed must have arrived; after an error (status 2, its line
  // already on stderr) the output is incomplete anyway.
  try {
    floatscope::cli::FlushStdout();
  } catch (const floatscope::cli::UsageError& e) {
    if (rc == 2) return 2;
    std::cerr << "floatscope: " << e.what() << "\n";
    return 2;
  }
  return rc;
}
