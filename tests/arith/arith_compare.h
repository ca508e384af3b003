// Shared by the reference tests: run emulate/arith.h and the exact
// reference (exact_reference.h) on the same operands and report mismatches
// with the operands, both results in hex and their decoded values.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "emulate/arith.h"
#include "formats/catalog.h"
#include "formats/names.h"
#include "tests/arith/exact_reference.h"

namespace floatscope::arith_test {

using arith_ref::Op;
using arith_ref::RefResult;
using arith_ref::Reference;

inline constexpr Op kOps[] = {Op::kAdd, Op::kSub, Op::kMul, Op::kDiv, Op::kSqrt, Op::kMulAdd};
inline constexpr Rounding kDeterministicModes[] = {Rounding::kNearestEven, Rounding::kNearestAway,
                                                   Rounding::kTowardZero, Rounding::kDown,
                                                   Rounding::kUp, Rounding::kOdd};

inline ArithOp CoreOp(Op op) { return static_cast<ArithOp>(static_cast<int>(op)); }
inline int Arity(Op op) { return op == Op::kSqrt ? 1 : op == Op::kMulAdd ? 3 : 2; }

// A named format of at most 16 bits: the core's descriptor and the
// reference built from the retyped definition.
struct FormatPair {
  const Format* core;
  Reference ref;
  explicit FormatPair(const char* name)
      : core(FindNamedFormat(name)), ref(*sweep::FindDefinition(name)) {}
};

// Floats of at most 8 bits (the exhaustive sweep's list).
inline constexpr const char* kSmallFormats[] = {
    "e5m2",      "e4m3fn",    "e4m3",      "e4m3fnuz",  "e5m2fnuz",  "e4m3b11fnuz",
    "e3m4",      "binary8p1", "binary8p2", "binary8p3", "binary8p4", "binary8p5",
    "binary8p6", "binary8p7", "e2m3fn",    "e3m2fn",    "e2m1fn",    "e8m0fnu"};

struct Setting {
  Rounding mode = Rounding::kNearestEven;
  bool saturate = false;
  uint64_t seed = 0;
  uint8_t sr_bits = 32;
};

inline std::string Describe(const FormatPair& f, uint32_t code) {
  const sweep::DecodedCode d = sweep::DecodeByDefinition(f.ref.definition(), code);
  char buf[64];
  if (d.cls == sweep::CodeClass::kNan) std::snprintf(buf, sizeof buf, "%x (%sNaN)", code, d.negative ? "-" : "");
  else std::snprintf(buf, sizeof buf, "%x (%.17g)", code, d.value);
  return buf;
}

// Compares one operand tuple; on a mismatch appends a line to *report.
inline bool CompareOne(const FormatPair& f, Op op, const uint32_t* x, const Setting& s, uint64_t index,
                       std::string* report) {
  Options opt;
  opt.rounding = s.mode;
  if (s.saturate) opt.overflow = Overflow::kSaturate;
  opt.seed = s.seed;
  opt.sr_bits = s.sr_bits;
  const uint64_t xs[3] = {x[0], Arity(op) > 1 ? x[1] : 0, Arity(op) > 2 ? x[2] : 0};
  const Result got = ApplyArith(CoreOp(op), *f.core, xs, opt, index);
  const RefResult want = f.ref.Apply(op, x, s.mode, s.saturate, s.seed, s.sr_bits, index);
  if (got.code == want.code && got.flags == want.flags) return true;
  if (report) {
    char head[128];
    std::snprintf(head, sizeof head, "%s_%s [%s%s]", f.core->name, ArithOpName(CoreOp(op)),
                  RoundingNameOf(s.mode), s.saturate ? ", saturate" : "");
    std::string line = head;
    for (int i = 0; i < Arity(op); ++i) {
      line += ' ';
      line += Describe(f, x[i]);
    }
    char tail[96];
    std::snprintf(tail, sizeof tail, " (flags %02x vs %02x)\n", want.flags, got.flags);
    line += ": reference ";
    line += Describe(f, want.code);
    line += ", floatscope ";
    line += Describe(f, static_cast<uint32_t>(got.code));
    line += tail;
    *report += line;
  }
  return false;
}

// Runs `count` cases, case i's operands made by make(i, x), on `threads`
// threads; returns the number of mismatches and the first few in *report.
template <typename Make>
uint64_t CompareMany(const FormatPair& f, Op op, const Setting& s, uint64_t count, Make make,
                     std::string* report, unsigned threads = 2) {
  std::atomic<uint64_t> failed{0};
  std::mutex mu;
  auto work = [&](unsigned t) {
    for (uint64_t i = t; i < count; i += threads) {
      uint32_t x[3] = {0, 0, 0};
      make(i, x);
      std::string line;
      if (!CompareOne(f, op, x, s, i, &line)) {
        if (failed.fetch_add(1) < 10) {
          std::lock_guard<std::mutex> lock(mu);
          *report += line;
        }
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& th : pool) th.join();
  return failed.load();
}

inline unsigned TestThreads() {
  const char* s = std::getenv("FLOATSCOPE_TEST_THREADS");
  const long n = s ? std::strtol(s, nullptr, 10) : 2;
  return n < 1 ? 1u : static_cast<unsigned>(n);
}

inline uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A counter-based draw: the same (seed, i, k) always gives the same word,
// whatever the thread that asks.
inline uint64_t Draw(uint64_t seed, uint64_t i, uint64_t k) {
  uint64_t s = seed ^ (i * 0xD1B54A32D192ED03ull) ^ (k * 0x8CB92BA72F3D8DD7ull);
  return SplitMix64(s);
}

// The special codes of a format: zeros, infinities, NaNs (quiet and
// signaling where IEEE-style), the extreme subnormals and normals, one and
// its neighbours, both signs where there is a sign.
inline std::vector<uint32_t> SpecialCodes(const FormatPair& f) {
  const Format& c = *f.core;
  const uint32_t sign = static_cast<uint32_t>(SignBit(c));
  const uint32_t m = c.mantissa_bits;
  std::vector<uint32_t> mags = {0, 1, static_cast<uint32_t>(MantissaMask(c)), uint32_t{1} << m,
                                static_cast<uint32_t>(MaxFiniteMagnitude(c)),
                                static_cast<uint32_t>(MaxFiniteMagnitude(c)) - 1};
  const uint32_t one = static_cast<uint32_t>(c.bias) << m;
  mags.insert(mags.end(), {one, one + 1, one - 1});
  if (HasInf(c)) mags.push_back(static_cast<uint32_t>(PositiveInfCode(c)));
  if (c.nan == NanCodes::kIeee) {
    const uint32_t top = static_cast<uint32_t>(MaxExponentField(c)) << m;
    mags.insert(mags.end(), {top | (uint32_t{1} << (m - 1)), top | 1, top | static_cast<uint32_t>(MantissaMask(c))});
  } else if (HasNan(c)) {
    mags.push_back(static_cast<uint32_t>(CanonicalNanCode(c)));
  }
  std::vector<uint32_t> out;
  for (uint32_t mag : mags) {
    mag &= static_cast<uint32_t>(CodeMask(c));
    for (uint32_t s : {0u, sign}) {
      const uint32_t code = (mag | s) & static_cast<uint32_t>(CodeMask(c));
      if (std::find(out.begin(), out.end(), code) == out.end()) out.push_back(code);
    }
  }
  return out;
}

}  // namespace floatscope::arith_test
