// The exhaustive arithmetic sweep (suite 'exhaustive', on demand): for every
// float format of at most 8 bits (FP8 incl. P3109, FP6, FP4, e8m0fnu),
// every operand pair of add, sub, mul and div and every code of sqrt, in
// every deterministic rounding mode, under the format's default overflow
// and under saturate, emulate/arith.h against the exact reference
// (exact_reference.h), codes and flags. mulAdd: every triple for FP4/FP6,
// --fma-samples random triples per (format, mode, overflow) for 8-bit
// formats (0 = all 2^24).
//
//   exhaustive_arith [--format all|NAME,...] [--round all|MODE,...]
//                    [--threads N] [--fma-samples N]
//
// Progress with an ETA goes to stderr; stdout ends with "N passed, N failed"
// (exit status 1 when anything failed, 2 on bad arguments).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/arith/arith_compare.h"

using namespace floatscope;
using namespace floatscope::arith_test;

namespace {

struct Job {
  const FormatPair* f;
  Op op;
  Setting s;
  uint64_t count;
  bool random_triples;
};

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr, "exhaustive_arith: %s\n", why.c_str());
  std::exit(2);
}

std::string Duration(double s) {
  char buf[32];
  const long t = static_cast<long>(s + 0.5);
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::string format_arg = "all", round_arg = "all";
  unsigned threads = 2;
  uint64_t fma_samples = uint64_t{1} << 20;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--format") format_arg = value();
    else if (a == "--round") round_arg = value();
    else if (a == "--threads") threads = static_cast<unsigned>(std::strtoul(value().c_str(), nullptr, 10));
    else if (a == "--fma-samples") fma_samples = std::strtoull(value().c_str(), nullptr, 10);
    else Usage("unknown argument '" + a + "' (--format, --round, --threads, --fma-samples)");
  }
  if (threads < 1) Usage("--threads must be at least 1");

  std::vector<const char*> names;
  if (format_arg == "all") {
    names.assign(std::begin(kSmallFormats), std::end(kSmallFormats));
  } else {
    for (const std::string& n : Split(format_arg)) {
      const char* found = nullptr;
      for (const char* k : kSmallFormats)
        if (n == k) found = k;
      if (!found) Usage("--format: '" + n + "' is not a float format of at most 8 bits");
      names.push_back(found);
    }
  }
  std::vector<Rounding> modes;
  if (round_arg == "all") {
    modes.assign(std::begin(kDeterministicModes), std::end(kDeterministicModes));
  } else {
    for (const std::string& n : Split(round_arg)) {
      const auto r = ParseRounding(n);
      if (!r || IsStochastic(*r)) Usage("--round: '" + n + "' is not a deterministic rounding mode");
      modes.push_back(*r);
    }
  }

  std::vector<std::unique_ptr<FormatPair>> pairs;
  std::vector<Job> jobs;
  uint64_t total = 0;
  for (const char* n : names) {
    pairs.push_back(std::make_unique<FormatPair>(n));
    const FormatPair* f = pairs.back().get();
    const uint64_t codes = uint64_t{1} << f->core->bits;
    for (Rounding mode : modes) {
      for (bool saturate : {false, true}) {
        const Setting s{mode, saturate};
        for (Op op : kOps) {
          Job j{f, op, s, 0, false};
          if (op == Op::kSqrt) j.count = codes;
          else if (op != Op::kMulAdd) j.count = codes * codes;
          else if (f->core->bits <= 6 || fma_samples == 0) j.count = codes * codes * codes;
          else {
            j.count = fma_samples;
            j.random_triples = true;
          }
          jobs.push_back(j);
          total += j.count;
        }
      }
    }
  }
  std::fprintf(stderr, "exhaustive_arith: %zu formats x %zu modes x 2 overflow policies, %llu cases, %u threads\n",
               names.size(), modes.size(), static_cast<unsigned long long>(total), threads);

  const auto t0 = std::chrono::steady_clock::now();
  auto last = t0;
  uint64_t done = 0, failed = 0;
  std::string report, dropped;  // the first mismatches are listed, the rest counted
  for (const Job& j : jobs) {
    const int bits = j.f->core->bits;
    const uint32_t mask = (uint32_t{1} << bits) - 1;
    const uint64_t seed = 0xE8A1 + static_cast<uint64_t>(j.s.mode) * 7 + (j.s.saturate ? 1 : 0);
    const uint64_t fails = CompareMany(
        *j.f, j.op, j.s, j.count,
        [&](uint64_t i, uint32_t x[3]) {
          if (j.random_triples) {
            const uint64_t r = Draw(seed, i, 0);
            x[0] = static_cast<uint32_t>(r) & mask;
            x[1] = static_cast<uint32_t>(r >> 16) & mask;
            x[2] = static_cast<uint32_t>(r >> 32) & mask;
          } else {
            x[0] = static_cast<uint32_t>(i) & mask;
            x[1] = static_cast<uint32_t>(i >> bits) & mask;
            x[2] = static_cast<uint32_t>(i >> (2 * bits)) & mask;
          }
        },
        report.size() < 20000 ? &report : &dropped, threads);
    dropped.clear();
    failed += fails;
    done += j.count;
    const auto now = std::chrono::steady_clock::now();
    if (now - last > std::chrono::seconds(2) || done == total) {
      last = now;
      const double el = std::chrono::duration<double>(now - t0).count();
      const double eta = done ? el * static_cast<double>(total - done) / static_cast<double>(done) : 0;
      std::fprintf(stderr, "[%5.1f%%] %s_%s [%s%s]  %llu failed  elapsed %s  ETA %s\n",
                   100.0 * static_cast<double>(done) / static_cast<double>(total), j.f->core->name,
                   ArithOpName(CoreOp(j.op)), RoundingNameOf(j.s.mode), j.s.saturate ? ", saturate" : "",
                   static_cast<unsigned long long>(failed), Duration(el).c_str(), Duration(eta).c_str());
    }
  }
  if (!report.empty()) std::fputs(report.c_str(), stdout);
  std::printf("%llu passed, %llu failed\n", static_cast<unsigned long long>(total - failed),
              static_cast<unsigned long long>(failed));
  return failed ? 1 : 0;
}
