// exhaustive_simd: every one of the 2^32 float32 inputs through the SIMD
// array kernels (encode and fused fake-quantization), on each Highway target
// this CPU runs, against
//   - the table reference (tests/sweep/table_reference.h) for the
//     deterministic modes; exhaustive_f32 proves the scalar core equal to
//     that reference on the same inputs, so equality here is equality with
//     the core;
//   - the scalar core itself, element by element, for sr and sr-eq (seed
//     fixed, element index = the input's position in value order; each
//     element uses word index mod 4 of the Philox call with counter
//     floor(index / 4), DESIGN.md "Rounding"). Stochastic chunks are also
//     run cut into calls that start at indices 1, 2 and 3 mod 4 and end
//     inside a batch of Philox words (CutsOf), so the kernels' heads and
//     partial batches are proven on all inputs too.
// Compared: every code, every fake-quantized float32 (against the core's
// decode of the expected code), and per chunk every ArrayStats count
// (elements, each flag, saturated, flushed and NaN results). Codes and
// fake-quantized values are computed twice, with statistics and without,
// and both checked (both run the fast path on the float32 pattern or F16C
// where the plan allows it, the one with statistics counting as it goes:
// emulate/simd/convert-inl.h FastCounts).
//
// The reference runs once per chunk of 2^16 inputs and every chosen target
// is checked against it while the chunk is in cache, so adding targets costs
// only their kernels.
//
//   exhaustive_simd [--format NAME[,NAME...]|all] [--round MODE[,MODE...]|all]
//                   [--target NAME[,NAME...]|all|best] [--threads N] [--seed S] [--json OUT]
//                   [--keys N [--from X]]
//
// Progress with ETA on stderr; per (target, format, mode) one line; ends with
// "N passed, N failed". --json is rewritten atomically after each (format,
// mode). --keys N checks only N inputs, in value order from -NaN on or, with
// --from X (a float32 value, decimal or hex float), from the chunk that holds
// X: a quick check of one range, e.g. --from 0x1p-9 --keys 67108864 covers
// e4m3fn's subnormal and first normal binades (the report then says
// "complete": false).
// docs/TESTING.md records the runs.
#include <fmt/format.h>
#include <hwy/targets.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
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
// Small chunks keep one chunk's buffers in L2 while every target runs on it.
constexpr uint64_t kChunk = uint64_t{1} << 16;
constexpr uint64_t kAllKeys = uint64_t{1} << 32;

[[noreturn]] void Fail(const std::string& message) {
  std::cerr << "exhaustive_simd: " << message << "\n";
  std::exit(2);
}

// Every ArrayStats count (flushed is 0 here: the runs use no flush option).
struct Counts {
  uint64_t elements = 0, inexact = 0, underflow = 0, overflow = 0, invalid = 0, saturated = 0, flushed = 0, nan = 0;
  bool operator==(const Counts&) const = default;
};

Counts CountsOf(const fs::ArrayStats& s) {
  return {s.elements, s.inexact, s.underflow, s.overflow, s.invalid, s.saturated, s.flushed, s.nan};
}

struct Mismatch {
  uint64_t key;
  std::string text;
};

struct Outcome {
  uint64_t code_mismatches = 0, fq_mismatches = 0, count_mismatches = 0;
  std::vector<Mismatch> first;  // the first few by key once merged

  void Note(uint64_t key, std::string text) {
    if (first.size() < 10) first.push_back({key, std::move(text)});
  }
  void Add(const Outcome& o) {
    code_mismatches += o.code_mismatches;
    fq_mismatches += o.fq_mismatches;
    count_mismatches += o.count_mismatches;
    first.insert(first.end(), o.first.begin(), o.first.end());
    std::sort(first.begin(), first.end(), [](const Mismatch& a, const Mismatch& b) { return a.key < b.key; });
    if (first.size() > 10) first.resize(10);
  }
  bool ok() const { return code_mismatches == 0 && fq_mismatches == 0 && count_mismatches == 0; }
};

struct Job {
  const sw::FormatDefinition* def;
  const fs::Format* format;
  fs::Rounding mode;
};

// One chunk's inputs and what the reference says of them, computed once and
// checked against every target.
struct Expected {
  std::vector<float> in = std::vector<float>(kChunk);
  std::vector<uint8_t> codes = std::vector<uint8_t>(kChunk * 2);  // in the array API's layout
  std::vector<uint32_t> fq = std::vector<uint32_t>(kChunk);        // float32 bits
  Counts counts;
};

// Fills `e` for keys [begin, begin + kChunk): from the table reference's
// pieces (deterministic modes) or from the scalar core (stochastic ones).
void ComputeExpected(const Job& job, const fs::Options& opt, const std::vector<sw::Piece>* pieces,
                     const std::vector<uint32_t>& decode_lut, uint64_t begin, Expected* e) {
  const fs::Format& f = *job.format;
  const size_t bytes = fs::CodeBytes(f);
  if (bytes > 2) Fail("formats of more than 16 bits are outside the exhaustive set");
  const uint64_t mag_max = fs::MaxFiniteMagnitude(f);
  e->counts = {};
  for (uint64_t i = 0; i < kChunk; ++i) {
    const uint32_t bits = sw::F32BitsOfKey(static_cast<uint32_t>(begin + i));
    std::memcpy(&e->in[i], &bits, 4);
  }
  // Adds `count` elements with this result to the expected counts.
  auto tally = [&](uint32_t code, uint8_t flags, uint64_t count) {
    Counts& c = e->counts;
    c.elements += count;
    c.inexact += (flags & fs::kInexact) ? count : 0;
    c.underflow += (flags & fs::kUnderflow) ? count : 0;
    c.overflow += (flags & fs::kOverflow) ? count : 0;
    c.invalid += (flags & fs::kInvalid) ? count : 0;
    c.nan += fs::IsNanCode(f, code) ? count : 0;
    c.saturated += fs::IsFloat(f) && (flags & fs::kOverflow) && (code & fs::MagnitudeMask(f)) == mag_max ? count : 0;
  };
  auto store = [&](uint64_t i, uint32_t code) {
    if (bytes == 1) e->codes[i] = static_cast<uint8_t>(code);
    else {
      const uint16_t c16 = static_cast<uint16_t>(code);
      std::memcpy(&e->codes[2 * i], &c16, 2);
    }
    e->fq[i] = decode_lut[code];
  };
  if (pieces) {
    size_t p = sw::PieceIndexOf(*pieces, static_cast<uint32_t>(begin));
    for (uint64_t i = 0; i < kChunk; ++p) {
      const uint64_t next_key = p + 1 < pieces->size() ? (*pieces)[p + 1].first_key : kAllKeys;
      const uint64_t stop = std::min<uint64_t>(kChunk, next_key - begin);
      const uint32_t code = (*pieces)[p].result.code;
      tally(code, (*pieces)[p].result.flags, stop - i);
      for (; i < stop; ++i) store(i, code);
    }
  } else {
    for (uint64_t i = 0; i < kChunk; ++i) {
      const fs::Result r = fs::EncodeFromF32(f, e->in[i], opt, begin + i);
      const uint32_t code = static_cast<uint32_t>(r.code);
      tally(code, r.flags, 1);
      store(i, code);
    }
  }
}

// The array calls a chunk is checked with: one call over the whole chunk
// (every input through the kernels' whole vectors), and for the stochastic
// modes the chunk cut in three, so that calls start at element indices 1, 2
// or 3 mod 4 (a head, emulate/simd/convert-inl.h ForEachVector) and end
// inside a batch of Philox words; the cuts move from chunk to chunk.
std::vector<size_t> CutsOf(const Job& job, uint64_t chunk) {
  if (!fs::IsStochastic(job.mode)) return {0, kChunk};
  const size_t first = 1 + chunk % 3;                        // 1, 2 or 3 mod 4
  const size_t second = kChunk / 2 + 1 + (chunk / 3) % 131;  // any residue, any point in a batch
  return {0, first, second, kChunk};
}

// Runs the kernels of the target pinned to this thread on one chunk, with
// statistics and without (both on the fast path where the plan allows it),
// in one call and, for the stochastic modes, cut into pieces
// (CutsOf), and compares codes, fake-quantized bits and counts.
void CheckChunk(const Job& job, const fs::Options& opt, const Expected& e, uint64_t begin, Outcome* out) {
  const fs::Format& f = *job.format;
  const size_t bytes = fs::CodeBytes(f);
  thread_local std::vector<uint8_t> codes[2];
  thread_local std::vector<float> fq[2];
  const std::vector<size_t> cut = CutsOf(job, begin / kChunk);
  for (int layout = 0; layout < (cut.size() > 2 ? 2 : 1); ++layout) {
    const std::vector<size_t> bounds = layout == 0 ? std::vector<size_t>{0, kChunk} : cut;
    const std::string where = layout == 0 ? "" : fmt::format(", calls from {} and {}", bounds[1], bounds[2]);
    fs::ArrayStats enc_stats, fq_stats;
    for (int run = 0; run < 2; ++run) {
      codes[run].resize(kChunk * bytes);
      fq[run].resize(kChunk);
      for (size_t p = 0; p + 1 < bounds.size(); ++p) {
        const size_t b = bounds[p], n = bounds[p + 1] - b;
        fs::EncodeF32Array(f, opt, e.in.data() + b, codes[run].data() + b * bytes, n, begin + b,
                           run ? nullptr : &enc_stats, 1);
        fs::FakeQuantF32Array(f, opt, e.in.data() + b, fq[run].data() + b, n, begin + b, run ? nullptr : &fq_stats, 1);
      }
    }
    for (int run = 0; run < 2; ++run) {
      const std::string how = std::string(run ? " (no stats" : " (stats") + where + ")";
      if (std::memcmp(codes[run].data(), e.codes.data(), kChunk * bytes) != 0) {
        for (uint64_t i = 0; i < kChunk; ++i) {
          uint32_t got = 0, want = 0;
          std::memcpy(&got, codes[run].data() + i * bytes, bytes);
          std::memcpy(&want, e.codes.data() + i * bytes, bytes);
          if (got != want && out->code_mismatches++ < 5)
            out->Note(begin + i, fmt::format("encode{} f32 0x{:08x}: simd 0x{:x}, expected 0x{:x}", how,
                                             sw::F32BitsOfKey(static_cast<uint32_t>(begin + i)), got, want));
        }
      }
      if (std::memcmp(fq[run].data(), e.fq.data(), kChunk * 4) != 0) {
        for (uint64_t i = 0; i < kChunk; ++i) {
          uint32_t got;
          std::memcpy(&got, &fq[run][i], 4);
          if (got != e.fq[i] && out->fq_mismatches++ < 5)
            out->Note(begin + i, fmt::format("fake-quant{} f32 0x{:08x}: simd 0x{:08x}, expected 0x{:08x}", how,
                                             sw::F32BitsOfKey(static_cast<uint32_t>(begin + i)), got, e.fq[i]));
        }
      }
    }
    if (!(CountsOf(enc_stats) == e.counts) || !(CountsOf(fq_stats) == e.counts)) {
      if (out->count_mismatches++ < 5)
        out->Note(begin, fmt::format("chunk at key 0x{:08x}{}: counts differ", begin, where));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string format_arg = "all", round_arg = "all", target_arg = "all", json_path;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  uint64_t seed = 0x5eed5eed5eedull;
  uint64_t keys = kAllKeys, first_chunk = 0;
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
    else if (a == "--from") {
      const std::string v = value();
      char* end = nullptr;
      const float x = std::strtof(v.c_str(), &end);
      if (v.empty() || *end != '\0' || std::isnan(x)) Fail("--from wants a float32 value, got '" + v + "'");
      uint32_t bits;
      std::memcpy(&bits, &x, 4);
      first_chunk = sw::KeyOfF32Bits(bits) / kChunk;
    }
    else if (a == "--threads" || a == "--seed" || a == "--keys") {
      const std::string v = value();
      char* end = nullptr;
      const unsigned long long n = std::strtoull(v.c_str(), &end, 0);
      if (v.empty() || v[0] == '-' || *end != '\0') Fail(a + " wants a non-negative number, got '" + v + "'");
      if (a == "--seed") seed = n;
      else if (a == "--keys") {
        if (n == 0 || n > kAllKeys || n % kChunk != 0) Fail("--keys wants a multiple of 65536 up to 2^32");
        keys = n;
      }
      else if (n < 1 || n > 1024) Fail("--threads wants 1..1024");
      else threads = static_cast<unsigned>(n);
    } else if (a == "--help" || a == "-h") {
      std::cout << "usage: exhaustive_simd [--format NAME[,NAME...]|all] [--round MODE[,MODE...]|all]\n"
                   "                       [--target NAME[,NAME...]|all|best] [--threads N] [--seed S] [--json OUT]\n"
                   "                       [--keys N [--from X]]  (only N keys in value order, from -NaN or\n"
                   "                       from X's chunk: quick checks of one range)\n";
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
      if (!d) Fail("unknown format '" + n + "' (the named formats of at most 16 bits, a P3109 family member binaryKpP{s,u}{e,f} floatscope holds, or all)");
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
  std::string target_names;
  for (int64_t t : targets) target_names += std::string(target_names.empty() ? "" : ",") + hwy::TargetName(t);
  // The reference runs once per chunk; every target is checked against it
  // before the next chunk (each thread pins its kernel calls to one target
  // at a time, simd::ThreadTarget).
  const uint64_t chunks = std::min(keys / kChunk, kAllKeys / kChunk - first_chunk);

  nlohmann::json report = {{"tool", "exhaustive_simd"}, {"command", command}, {"threads", threads},
                           {"targets", target_names}, {"seed", seed}, {"keys", keys}, {"first_key", first_chunk * kChunk},
                           {"results", nlohmann::json::array()}};
  report["started"] = sw::UtcNow();
  report["machine"] = sw::CpuModel();
  const auto t0 = Clock::now();
  size_t passed = 0, failed = 0, done_jobs = 0;
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
    std::vector<Outcome> outcomes(targets.size());
    std::atomic<uint64_t> next{0};
    std::mutex mutex;
    auto worker = [&] {
      Expected expected;
      std::vector<Outcome> mine(targets.size());
      for (uint64_t c; (c = next.fetch_add(1)) < chunks;) {
        const uint64_t begin = (first_chunk + c) * kChunk;
        ComputeExpected(job, opt, stochastic ? nullptr : &pieces, lut, begin, &expected);
        for (size_t t = 0; t < targets.size(); ++t) {
          fs::simd::ThreadTarget pin(targets[t]);
          CheckChunk(job, opt, expected, begin, &mine[t]);
        }
        if (c % 2048 == 2047) {
          std::lock_guard<std::mutex> lock(mutex);
          const double el = std::chrono::duration<double>(Clock::now() - t0).count();
          const double frac = (done_jobs + static_cast<double>(c + 1) / chunks) / jobs.size();
          std::cerr << fmt::format("[{}/{} {} {}, {} targets] {:5.1f}%, elapsed {}, ETA {}\n", done_jobs + 1,
                                   jobs.size(), job.def->name, fs::RoundingNameOf(job.mode), targets.size(),
                                   100 * frac, sw::Hms(el), sw::Hms(el / frac * (1 - frac)));
        }
      }
      std::lock_guard<std::mutex> lock(mutex);
      for (size_t t = 0; t < targets.size(); ++t) outcomes[t].Add(mine[t]);
    };
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads; ++i) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
    const double secs = std::chrono::duration<double>(Clock::now() - tj).count();
    ++done_jobs;
    for (size_t t = 0; t < targets.size(); ++t) {
      const Outcome& all = outcomes[t];
      (all.ok() ? passed : failed)++;
      const char* target = hwy::TargetName(targets[t]);
      std::cout << fmt::format("{} {} {}: {} inputs against the {}: code mismatches {}, fake-quant "
                               "mismatches {}, chunks with other counts {}\n",
                               target, job.def->name, fs::RoundingNameOf(job.mode),
                               keys == kAllKeys ? std::string("2^32") : std::to_string(chunks * kChunk),
                               stochastic ? "scalar core" : "table reference", all.code_mismatches,
                               all.fq_mismatches, all.count_mismatches);
      nlohmann::json first = nlohmann::json::array();
      for (const Mismatch& m : all.first) {
        std::cout << "  " << m.text << "\n";
        first.push_back(m.text);
      }
      report["results"].push_back({{"target", target}, {"format", job.def->name},
                                   {"round", fs::RoundingNameOf(job.mode)},
                                   {"against", stochastic ? "core" : "table"},
                                   {"code_mismatches", all.code_mismatches},
                                   {"fake_quant_mismatches", all.fq_mismatches},
                                   {"chunks_with_count_mismatch", all.count_mismatches}, {"first", first}});
    }
    std::cout << fmt::format("  ({} {}: {:.1f} s for {} target{})\n", job.def->name, fs::RoundingNameOf(job.mode),
                             secs, targets.size(), targets.size() == 1 ? "" : "s");
    std::cout.flush();
    report["job_seconds"][std::string(job.def->name) + " " + fs::RoundingNameOf(job.mode)] = secs;
    report["passed"] = passed;
    report["failed"] = failed;
    report["complete"] = done_jobs == jobs.size() && keys == kAllKeys;
    if (!json_path.empty())
      if (const std::string e = sw::WriteJsonAtomically(json_path, report); !e.empty()) Fail(e);
  }

  fs::simd::ForceTarget(0);
  std::cout << passed << " passed, " << failed << " failed\n";
  return failed ? 1 : 0;
}
