// exhaustive_f32: every one of the 2^32 float32 inputs, encoded by the core
// into a format of at most 16 bits (the named ones, or any member of the IEEE
// P3109 family floatscope holds: --format binary8p3ue), against the table reference
// (table_reference.h), for a chosen set of (format, rounding mode).
//
//   exhaustive_f32 [--format NAME[,NAME...]|all] [--round MODE[,MODE...]|all]
//                  [--overflow default|saturate|both] [--threads N] [--json OUT]
//
// Prints per (format, mode) the runtime and "mismatches: N" (with the first
// mismatches explained), a progress line with ETA on stderr, and ends with
// "N passed, N failed" (a pass is one (format, mode) with every input equal,
// code and flags). --json writes a summary, rewritten atomically after each
// pair so an interrupted run still leaves a valid file. docs/EXHAUSTIVE.md
// records the runs.
#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "tests/sweep/sweep_runner.h"
#include "tests/sweep/tool_util.h"

namespace fs = floatscope;
namespace sw = floatscope::sweep;

namespace {

using Clock = std::chrono::steady_clock;

struct Job {
  const sw::FormatDefinition* def;
  fs::Rounding mode;
  sw::RefOverflow overflow;
};

[[noreturn]] void Fail(const std::string& message) {
  std::cerr << "exhaustive_f32: " << message << "\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string format_arg = "all", round_arg = "all", overflow_arg = "default", json_path;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::string command = "exhaustive_f32";
  for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Fail("option " + a + " needs a value");
      return argv[++i];
    };
    if (a == "--format") format_arg = value();
    else if (a == "--round") round_arg = value();
    else if (a == "--overflow") overflow_arg = value();
    else if (a == "--json") json_path = value();
    else if (a == "--threads") {
      const std::string v = value();
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 1 || n > 1024) Fail("--threads wants a number 1..1024, got '" + v + "'");
      threads = static_cast<unsigned>(n);
    } else if (a == "--help" || a == "-h") {
      std::cout << "usage: exhaustive_f32 [--format NAME[,NAME...]|all] [--round MODE[,MODE...]|all]\n"
                   "                      [--overflow default|saturate|both] [--threads N] [--json OUT]\n";
      return 0;
    } else {
      Fail("unknown argument '" + a + "' (try --help)");
    }
  }

  std::vector<const sw::FormatDefinition*> defs;
  for (const std::string& name : sw::SplitCommas(format_arg)) {
    if (name == "all") {
      for (const sw::FormatDefinition& d : sw::kDefinitions) defs.push_back(&d);
    } else if (const sw::FormatDefinition* d = sw::FindDefinition(name)) {
      defs.push_back(d);
    } else {
      Fail("unknown format '" + name + "' (the named formats of at most 16 bits, a P3109 family member binaryKpP{s,u}{e,f} floatscope holds, or all)");
    }
  }
  std::vector<fs::Rounding> modes;
  for (const std::string& name : sw::SplitCommas(round_arg)) {
    bool found = false;
    for (fs::Rounding r : sw::kDeterministicModes)
      if (name == "all" || name == sw::ModeName(r)) {
        modes.push_back(r);
        found = true;
      }
    if (!found) Fail("unknown rounding mode '" + name + "' (rne rna rtz rdn rup rto, or all)");
  }
  std::vector<sw::RefOverflow> overflows;
  if (overflow_arg == "default" || overflow_arg == "both") overflows.push_back(sw::RefOverflow::kFormatDefault);
  if (overflow_arg == "saturate" || overflow_arg == "both") overflows.push_back(sw::RefOverflow::kSaturate);
  if (overflows.empty()) Fail("--overflow wants default, saturate or both, got '" + overflow_arg + "'");
  if (defs.empty() || modes.empty()) Fail("nothing to do");

  std::vector<Job> jobs;
  for (const sw::FormatDefinition* d : defs)
    for (fs::Rounding m : modes)
      for (sw::RefOverflow o : overflows) {
        // Formats that saturate by default: `saturate` is the same run.
        if (o == sw::RefOverflow::kSaturate && d->saturates_by_default &&
            overflows.size() > 1)
          continue;
        jobs.push_back({d, m, o});
      }

  nlohmann::json summary = {
      {"tool", "exhaustive_f32"}, {"command", command},  {"started", sw::UtcNow()},
      {"machine", sw::CpuModel()},    {"threads", threads},  {"complete", false},
      {"results", nlohmann::json::array()},
  };
  const uint64_t kAll = uint64_t{1} << 32;
  const uint64_t kChunk = uint64_t{1} << 24;
  const size_t kChunks = kAll / kChunk;
  std::atomic<uint64_t> done_total{0};
  const double total_inputs = static_cast<double>(kAll) * jobs.size();
  const auto t_start = Clock::now();
  int passed = 0, failed = 0;

  // Progress on stderr: a rewritten line on a terminal, a line every 30 s
  // in a log.
  const bool tty = isatty(2);
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  std::string current;
  std::thread progress([&] {
    std::unique_lock<std::mutex> lock(mu);
    while (!cv.wait_for(lock, std::chrono::seconds(tty ? 1 : 30), [&] { return finished; })) {
      const double done = static_cast<double>(done_total.load());
      const double elapsed = std::chrono::duration<double>(Clock::now() - t_start).count();
      const double eta = done > 0 ? elapsed * (total_inputs - done) / done : 0;
      const std::string line =
          fmt::format("[{}] {:5.1f}% of {} pairs, elapsed {}, ETA {}", current,
                      100.0 * done / total_inputs, jobs.size(), sw::Hms(elapsed), done > 0 ? sw::Hms(eta) : "?");
      std::cerr << (tty ? "\r" + line + "   " : line + "\n") << std::flush;
    }
  });

  for (size_t j = 0; j < jobs.size(); ++j) {
    const Job& job = jobs[j];
    const std::string label = fmt::format("{} {} {}", job.def->name, sw::ModeName(job.mode),
                                          sw::OverflowName(job.overflow));
    {
      std::lock_guard<std::mutex> lock(mu);
      current = fmt::format("{}/{} {}", j + 1, jobs.size(), label);
    }
    const auto t0 = Clock::now();
    const sw::TableReference ref(*job.def, job.mode, job.overflow);
    const std::vector<sw::Piece> pieces = ref.Pieces();
    const double ref_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const sw::CoreEncoder core = sw::CoreFor(*job.def, job.mode, job.overflow);
    std::vector<sw::Tally> tallies(kChunks);
    sw::ForEachChunk(kChunks, threads, [&](size_t c) {
      tallies[c] = sw::SweepKeyRange(core, pieces, c * kChunk, (c + 1) * kChunk);
      done_total += kChunk;
    });
    sw::Tally total;
    for (const sw::Tally& t : tallies) total.Append(t);
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const bool ok = total.mismatches == 0 && total.inputs == kAll;
    (ok ? passed : failed)++;
    std::vector<std::string> firsts;
    for (const sw::Mismatch& m : total.first) firsts.push_back(sw::DescribeMismatch(*job.def, m));
    {
      std::lock_guard<std::mutex> lock(mu);
      if (tty) std::cerr << "\r" << std::string(100, ' ') << "\r" << std::flush;
      std::cout << fmt::format("{}: {} inputs in {:.1f} s (reference {} pieces, {:.2f} s), mismatches: {} (codes {})\n",
                               label, total.inputs, seconds, pieces.size(), ref_seconds,
                               total.mismatches, total.code_mismatches);
      for (const std::string& s : firsts) std::cout << "  " << s << "\n";
      std::cout << std::flush;
    }
    summary["results"].push_back({{"format", job.def->name},
                                  {"round", sw::ModeName(job.mode)},
                                  {"overflow", sw::OverflowName(job.overflow)},
                                  {"inputs", total.inputs},
                                  {"mismatches", total.mismatches},
                                  {"code_mismatches", total.code_mismatches},
                                  {"seconds", std::round(seconds * 10) / 10},
                                  {"first_mismatches", firsts}});
    summary["passed"] = passed;
    summary["failed"] = failed;
    if (!json_path.empty()) if (const std::string e = sw::WriteJsonAtomically(json_path, summary); !e.empty()) Fail(e);
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    finished = true;
  }
  cv.notify_all();
  progress.join();
  if (tty) std::cerr << "\n";
  summary["complete"] = true;
  summary["finished"] = sw::UtcNow();
  summary["seconds"] = std::round(std::chrono::duration<double>(Clock::now() - t_start).count());
  if (!json_path.empty()) if (const std::string e = sw::WriteJsonAtomically(json_path, summary); !e.empty()) Fail(e);
  std::cout << passed << " passed, " << failed << " failed\n";
  return failed == 0 ? 0 : 1;
}
