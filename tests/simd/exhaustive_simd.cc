// exhaustive_simd: every one of the 2^32 float32 inputs through the SIMD
// array kernels (encode and fused fake-quantization), on each Highway target
// this CPU runs, against
//   - the table reference (tests/sweep/table_reference.h) for the
//     deterministic modes; exhaustive_f32 proves the scalar core equal to
//     that reference on the same inputs, so equality here is equality with
//     the core;
//   - the scalar core itself, element by element, for sr and sr-eq (seed
//     fixed, element index = the input's position in value order).
// Compared: every code, every fake-quantized float32 (against the core's
// decode of the expected code), and per chunk the counts of each flag, of
// saturated results and of NaN results. Codes and fake-quantized values are
// computed twice, with statistics (the general kernel) and without (the fast
// path on the float32 pattern, where the plan allows it), and both checked.
//
//   exhaustive_simd [--format NAME[,NAME...]|all] [--round MODE[,MODE...]|all]
//                   [--target NAME[,NAME...]|all|best] [--threads N] [--seed S] [--json OUT]
//
// Progress with ETA on stderr; per (target, format, mode) one line; ends with
// "N passed, N failed". --json is rewritten atomically after each triple.
// docs/TESTING.md records the runs.
#include <fmt/format.h>
#include <hwy/targets.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "emulate/array_ops.h"
#include "emulate/simd/kernels.h"
#include "formats/names.h"
#include "tests/sweep/sweep_runner.h"
#include "tests/sweep/tool_util.h"

namespace fs = floatscope;
namespace sw = floatscope::sweep;

namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kChunk = uint64_t{1} << 20;
constexpr uint64_t kChunks = (uint64_t{1} << 32) / kChunk;

[[noreturn]] void Fail(const std::string& message) {
  std::cerr << "exhaustive_simd: " << message << "\n";
  std::exit(2);
}

struct Counts {
  uint64_t inexact = 0, underflow = 0, overflow = 0, invalid = 0, saturated = 0, nan = 0;
  bool operator==(const Counts&) const = default;
};

Counts CountsOf(const fs::ArrayStats& s) {
  return {s.inexact, s.underflow, s.overflow, s.invalid, s.saturated, s.nan};
}

struct Outcome {
  uint64_t code_mismatches = 0, fq_mismatches = 0, count_mismatches = 0;
  std::vector<std::string> first;  // a few, in key order
};

struct Job {
  const sw::FormatDefinition* def;
  const fs::Format* format;
  fs::Rounding mode;
};

// One chunk of keys [begin, begin + kChunk) on the current target.
void CheckChunk(const Job& job, const fs::Options& opt, const std::vector<sw::Piece>* pieces,
                const std::vector<uint32_t>& decode_lut, uint64_t begin, Outcome* out) {
  const fs::Format& f = *job.format;
  const size_t bytes = fs::CodeBytes(f);
  // Per-thread buffers: fresh pages per chunk would cost more than the check.
  thread_local std::vector<float> in(kChunk), fq(kChunk), fq_fast(kChunk);
  thread_local std::vector<uint8_t> codes(kChunk * 8), codes_fast(kChunk * 8);
  for (uint64_t i = 0; i < kChunk; ++i) {
    const uint32_t bits = sw::F32BitsOfKey(static_cast<uint32_t>(begin + i));
    std::memcpy(&in[i], &bits, 4);
  }
  fs::ArrayStats enc_stats, fq_stats;
  fs::EncodeF32Array(f, opt, in.data(), codes.data(), kChunk, begin, &enc_stats, 1);
  fs::FakeQuantF32Array(f, opt, in.data(), fq.data(), kChunk, begin, &fq_stats, 1);
  // Without statistics: the fast path where the plan allows it.
  fs::EncodeF32Array(f, opt, in.data(), codes_fast.data(), kChunk, begin, nullptr, 1);
  fs::FakeQuantF32Array(f, opt, in.data(), fq_fast.data(), kChunk, begin, nullptr, 1);

  Counts want;
  const uint64_t mag_max = fs::MaxFiniteMagnitude(f);
  // Run 0: with statistics; run 1: without (the fast path).
  auto code_at = [&](int run, uint64_t i) {
    uint64_t got = 0;
    std::memcpy(&got, (run ? codes_fast : codes).data() + i * bytes, bytes);
    return bytes == 4 ? got >> f.storage_shift : got;
  };
  auto fq_at = [&](int run, uint64_t i) {
    uint32_t b;
    std::memcpy(&b, &(run ? fq_fast : fq)[i], 4);
    return b;
  };
  auto note = [&](uint64_t i, uint32_t expect_code) {
    const uint32_t in_bits = sw::F32BitsOfKey(static_cast<uint32_t>(begin + i));
    for (int run = 0; run < 2; ++run) {
      const char* how = run ? " (no stats)" : "";
      if (code_at(run, i) != expect_code && out->code_mismatches++ < 5 && out->first.size() < 10)
        out->first.push_back(fmt::format("encode{} f32 0x{:08x}: simd 0x{:x}, expected 0x{:x}", how, in_bits,
                                         code_at(run, i), expect_code));
      if (fq_at(run, i) != decode_lut[expect_code] && out->fq_mismatches++ < 5 && out->first.size() < 10)
        out->first.push_back(fmt::format("fake-quant{} f32 0x{:08x}: simd 0x{:08x}, expected 0x{:08x}", how, in_bits,
                                         fq_at(run, i), decode_lut[expect_code]));
    }
  };
  // Adds `count` elements with this result to the expected counts.
  auto tally = [&](uint32_t code, uint8_t flags, uint64_t count) {
    want.inexact += (flags & fs::kInexact) ? count : 0;
    want.underflow += (flags & fs::kUnderflow) ? count : 0;
    want.overflow += (flags & fs::kOverflow) ? count : 0;
    want.invalid += (flags & fs::kInvalid) ? count : 0;
    want.nan += fs::IsNanCode(f, code) ? count : 0;
    want.saturated +=
        fs::IsFloat(f) && (flags & fs::kOverflow) && (code & fs::MagnitudeMask(f)) == mag_max ? count : 0;
  };
  if (pieces) {
    // Piece by piece: one expected code over a run of keys, compared in a
    // tight loop (the slow path only where something differs).
    size_t p = sw::PieceIndexOf(*pieces, static_cast<uint32_t>(begin));
    for (uint64_t i = 0; i < kChunk;) {
      const uint64_t next_key = p + 1 < pieces->size() ? (*pieces)[p + 1].first_key : uint64_t{1} << 32;
      const uint64_t stop = std::min<uint64_t>(kChunk, next_key - begin);
      const uint32_t code = (*pieces)[p].result.code;
      const uint32_t fq_want = decode_lut[code];
      tally(code, (*pieces)[p].result.flags, stop - i);
      bool same = true;
      if (bytes == 1) {
        for (uint64_t k = i; k < stop; ++k) same &= codes[k] == code && codes_fast[k] == code;
      } else {
        for (uint64_t k = i; k < stop; ++k) same &= code_at(0, k) == code && code_at(1, k) == code;
      }
      for (uint64_t k = i; k < stop; ++k) same &= fq_at(0, k) == fq_want && fq_at(1, k) == fq_want;
      if (!same)
        for (uint64_t k = i; k < stop; ++k) note(k, code);
      i = stop;
      ++p;
    }
  } else {
    for (uint64_t i = 0; i < kChunk; ++i) {
      const fs::Result r = fs::EncodeFromF32(f, in[i], opt, begin + i);
      const uint32_t code = static_cast<uint32_t>(r.code);
      tally(code, r.flags, 1);
      if (code_at(0, i) != code || fq_at(0, i) != decode_lut[code] || code_at(1, i) != code ||
          fq_at(1, i) != decode_lut[code])
        note(i, code);
    }
  }
  if (!(CountsOf(enc_stats) == want) || !(CountsOf(fq_stats) == want)) {
    if (out->count_mismatches++ < 5 && out->first.size() < 10)
      out->first.push_back(fmt::format("chunk at key 0x{:08x}: flag/saturation/NaN counts differ", begin));
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string format_arg = "all", round_arg = "all", target_arg = "all", json_path;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  uint64_t seed = 0x5eed5eed5eedull;
  std::string command = "exhaustive_simd";
  for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Fail(a + " needs a value");
      return argv[++i];
    };
    if (a == "--format") format_arg = value();
    else if (a == "--round") round_arg = value();
    else if (a == "--target") target_arg = value();
    else if (a == "--json") json_path = value();
    else if (a == "--threads" || a == "--seed") {
      const std::string v = value();
      char* end = nullptr;
      const unsigned long long n = std::strtoull(v.c_str(), &end, 0);
      if (v.empty() || v[0] == '-' || *end != '\0') Fail(a + " wants a non-negative number, got '" + v + "'");
      if (a == "--seed") seed = n;
      else if (n < 1 || n > 1024) Fail("--threads wants 1..1024");
      else threads = static_cast<unsigned>(n);
    } else if (a == "--help" || a == "-h") {
      std::cout << "usage: exhaustive_simd [--format NAME[,NAME...]|all] [--round MODE[,MODE...]|all]\n"
                   "                       [--target NAME[,NAME...]|all|best] [--threads N] [--seed S] [--json OUT]\n";
      return 0;
    } else {
      Fail("unknown argument '" + a + "' (try --help)");
    }
  }

  std::vector<const sw::FormatDefinition*> defs;
  if (format_arg == "all") {
    for (const sw::FormatDefinition& d : sw::kDefinitions) defs.push_back(&d);
  } else {
    for (const std::string& n : sw::SplitCommas(format_arg)) {
      const sw::FormatDefinition* d = sw::FindDefinition(n);
      if (!d) Fail("unknown format '" + n + "' (the named formats of at most 16 bits)");
      defs.push_back(d);
    }
  }
  std::vector<fs::Rounding> modes;
  if (round_arg == "all") {
    modes.assign(std::begin(sw::kDeterministicModes), std::end(sw::kDeterministicModes));
    modes.push_back(fs::Rounding::kStochastic);
    modes.push_back(fs::Rounding::kStochasticEq);
  } else {
    for (const std::string& n : sw::SplitCommas(round_arg)) {
      const auto r = fs::ParseRounding(n);
      if (!r) Fail("unknown rounding mode '" + n + "'");
      modes.push_back(*r);
    }
  }
  std::vector<int64_t> targets = fs::simd::CompiledTargets();
  if (target_arg == "best") {
    targets.resize(1);
  } else if (target_arg != "all") {
    std::vector<int64_t> chosen;
    for (const std::string& n : sw::SplitCommas(target_arg)) {
      bool found = false;
      for (int64_t t : targets)
        if (n == hwy::TargetName(t)) chosen.push_back(t), found = true;
      if (!found) Fail("target '" + n + "' is not compiled in or not supported by this CPU");
    }
    targets = chosen;
  }

  std::vector<Job> jobs;
  for (const auto* d : defs)
    for (fs::Rounding m : modes) jobs.push_back({d, fs::FindNamedFormat(d->name), m});
  const size_t total = jobs.size() * targets.size();
  std::string target_names;
  for (int64_t t : targets) target_names += std::string(target_names.empty() ? "" : ",") + hwy::TargetName(t);

  nlohmann::json report = {{"tool", "exhaustive_simd"}, {"command", command}, {"threads", threads},
                           {"targets", target_names}, {"seed", seed}, {"results", nlohmann::json::array()}};
  report["started"] = sw::UtcNow();
  report["machine"] = sw::CpuModel();
  const auto t0 = Clock::now();
  size_t passed = 0, failed = 0, done = 0;
  for (int64_t target : targets) {
    fs::simd::ForceTarget(target);
    for (const Job& job : jobs) {
      const auto tj = Clock::now();
      fs::Options opt;
      opt.rounding = job.mode;
      opt.seed = seed;
      const bool stochastic = fs::IsStochastic(job.mode);
      std::vector<sw::Piece> pieces;
      if (!stochastic) pieces = sw::TableReference(*job.def, job.mode, sw::RefOverflow::kFormatDefault).Pieces();
      std::vector<uint32_t> lut(size_t{1} << job.format->bits);
      for (size_t c = 0; c < lut.size(); ++c) {
        const float v = fs::DecodeToF32(*job.format, c, fs::Options{});
        std::memcpy(&lut[c], &v, 4);
      }
      std::vector<Outcome> outcomes(kChunks);
      std::atomic<uint64_t> next{0};
      std::mutex progress_mutex;
      auto worker = [&] {
        for (uint64_t c; (c = next.fetch_add(1)) < kChunks;) {
          CheckChunk(job, opt, stochastic ? nullptr : &pieces, lut, c * kChunk, &outcomes[c]);
          if (c % 256 == 255) {
            std::lock_guard<std::mutex> lock(progress_mutex);
            const double el = std::chrono::duration<double>(Clock::now() - t0).count();
            const double frac = (done + static_cast<double>(c + 1) / kChunks) / total;
            std::cerr << fmt::format("[{}/{} {} {} {}] {:5.1f}%, elapsed {}, ETA {}\n", done + 1, total,
                                     hwy::TargetName(target), job.def->name, fs::RoundingNameOf(job.mode),
                                     100 * frac, sw::Hms(el), sw::Hms(el / frac * (1 - frac)));
          }
        }
      };
      std::vector<std::thread> pool;
      for (unsigned i = 1; i < threads; ++i) pool.emplace_back(worker);
      worker();
      for (auto& t : pool) t.join();
      Outcome all;
      for (const Outcome& o : outcomes) {
        all.code_mismatches += o.code_mismatches;
        all.fq_mismatches += o.fq_mismatches;
        all.count_mismatches += o.count_mismatches;
        for (const std::string& s : o.first)
          if (all.first.size() < 10) all.first.push_back(s);
      }
      const double secs = std::chrono::duration<double>(Clock::now() - tj).count();
      const bool ok = all.code_mismatches == 0 && all.fq_mismatches == 0 && all.count_mismatches == 0;
      (ok ? passed : failed)++;
      ++done;
      std::cout << fmt::format("{} {} {}: 2^32 inputs in {:.1f} s against the {}: code mismatches {}, fake-quant "
                               "mismatches {}, chunks with other counts {}\n",
                               hwy::TargetName(target), job.def->name, fs::RoundingNameOf(job.mode), secs,
                               stochastic ? "scalar core" : "table reference", all.code_mismatches,
                               all.fq_mismatches, all.count_mismatches);
      for (const std::string& s : all.first) std::cout << "  " << s << "\n";
      std::cout.flush();
      report["results"].push_back({{"target", hwy::TargetName(target)}, {"format", job.def->name},
                                   {"round", fs::RoundingNameOf(job.mode)}, {"seconds", secs},
                                   {"against", stochastic ? "core" : "table"},
                                   {"code_mismatches", all.code_mismatches},
                                   {"fake_quant_mismatches", all.fq_mismatches},
                                   {"chunks_with_count_mismatch", all.count_mismatches}, {"first", all.first}});
      report["passed"] = passed;
      report["failed"] = failed;
      report["complete"] = done == total;
      if (!json_path.empty())
        if (const std::string e = sw::WriteJsonAtomically(json_path, report); !e.empty()) Fail(e);
    }
  }
  fs::simd::ForceTarget(0);
  std::cout << passed << " passed, " << failed << " failed\n";
  return failed ? 1 : 0;
}
