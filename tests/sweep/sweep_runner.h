// What the sampled and the exhaustive sweeps share: calling the core the way
// the reference is configured, walking float32 keys against the reference's
// pieces over several threads, and printing a mismatch so that it explains
// itself (input, both codes in hex, fields, values, flags).
//
// Threads take fixed chunks of keys and the tallies are merged in chunk
// order, so counts and the listed first mismatches never depend on the
// number of threads.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "formats/catalog.h"
#include "formats/convert.h"
#include "tests/sweep/table_reference.h"

namespace floatscope::sweep {

using Piece = TableReference::Piece;

inline constexpr Rounding kDeterministicModes[] = {
    Rounding::kNearestEven, Rounding::kNearestAway, Rounding::kTowardZero,
    Rounding::kDown,        Rounding::kUp,          Rounding::kOdd,
};

inline const char* ModeName(Rounding r) {
  switch (r) {
    case Rounding::kNearestEven: return "rne";
    case Rounding::kNearestAway: return "rna";
    case Rounding::kTowardZero: return "rtz";
    case Rounding::kDown: return "rdn";
    case Rounding::kUp: return "rup";
    case Rounding::kOdd: return "rto";
    default: return "sr";
  }
}

inline const char* OverflowName(RefOverflow o) {
  return o == RefOverflow::kSaturate ? "saturate" : "default";
}

// The core's options matching a reference configuration: everything else at
// its default (NaN payload kept, tininess after rounding, no flushing).
inline Options CoreOptions(Rounding mode, RefOverflow o) {
  Options opt;
  opt.rounding = mode;
  opt.overflow = o == RefOverflow::kSaturate ? Overflow::kSaturate : Overflow::kDefault;
  return opt;
}

// The core under test: float32 bits -> code and flags.
struct CoreEncoder {
  const Format* format;
  Options options;
  Result operator()(uint32_t f32_bits) const {
    return Convert(formats::kF32, f32_bits, *format, options);
  }
};

inline CoreEncoder CoreFor(const FormatDefinition& d, Rounding mode, RefOverflow o) {
  const Format* f = FindNamedFormat(d.name);
  if (f == nullptr) throw std::invalid_argument(std::string("the core has no format ") + d.name);
  return CoreEncoder{f, CoreOptions(mode, o)};
}

struct Mismatch {
  uint32_t f32_bits;
  RefResult expected;
  Result got;
};

inline constexpr size_t kKeptMismatches = 10;

struct Tally {
  uint64_t inputs = 0;
  uint64_t mismatches = 0;       // code or flags differ
  uint64_t code_mismatches = 0;  // the code differs
  std::vector<Mismatch> first;   // the first few, in key order

  void Record(uint32_t bits, RefResult want, Result got) {
    ++mismatches;
    if (got.code != want.code) ++code_mismatches;
    if (first.size() < kKeptMismatches) first.push_back({bits, want, got});
  }
  // Appends a tally of later keys.
  void Append(const Tally& t) {
    inputs += t.inputs;
    mismatches += t.mismatches;
    code_mismatches += t.code_mismatches;
    for (const Mismatch& m : t.first)
      if (first.size() < kKeptMismatches) first.push_back(m);
  }
};

// Index of the piece holding `key`.
inline size_t PieceIndexOf(const std::vector<Piece>& pieces, uint32_t key) {
  const auto it = std::upper_bound(pieces.begin(), pieces.end(), key,
                                   [](uint32_t k, const Piece& p) { return k < p.first_key; });
  return static_cast<size_t>(it - pieces.begin()) - 1;
}

// Compares the core with the pieces on every key in [begin, end).
template <class Core>
Tally SweepKeyRange(const Core& core, const std::vector<Piece>& pieces, uint64_t begin,
                    uint64_t end) {
  Tally t;
  size_t p = PieceIndexOf(pieces, static_cast<uint32_t>(begin));
  uint64_t next = p + 1 < pieces.size() ? pieces[p + 1].first_key : uint64_t{1} << 32;
  for (uint64_t key = begin; key < end; ++key) {
    while (key >= next) {
      ++p;
      next = p + 1 < pieces.size() ? pieces[p + 1].first_key : uint64_t{1} << 32;
    }
    const uint32_t bits = F32BitsOfKey(static_cast<uint32_t>(key));
    const Result got = core(bits);
    const RefResult& want = pieces[p].result;
    if (got.code != want.code || got.flags != want.flags) t.Record(bits, want, got);
  }
  t.inputs = end - begin;
  return t;
}

// Runs fn(i) for i in [0, n) on `threads` threads (chunks handed out in order).
inline void ForEachChunk(size_t n, unsigned threads, const std::function<void(size_t)>& fn) {
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) fn(i);
  };
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < std::max(1u, threads); ++i) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
}

// ---- printing ---------------------------------------------------------------

inline std::string FlagNames(uint8_t flags) {
  std::string s;
  const std::pair<uint8_t, const char*> names[] = {
      {kRefInvalid, "invalid"}, {8, "infinite"}, {kRefOverflow, "overflow"},
      {kRefUnderflow, "underflow"}, {kRefInexact, "inexact"}};
  for (const auto& [bit, name] : names)
    if (flags & bit) {
      if (!s.empty()) s += ',';
      s += name;
    }
  return s.empty() ? "none" : s;
}

inline std::string Binary(uint32_t v, int width) {
  std::string s;
  for (int i = width - 1; i >= 0; --i) s += ((v >> i) & 1) ? '1' : '0';
  return s;
}

// "0x3c01 (+0.01111.0000000001 = 1.0009765625)": code, fields, value by the
// definition.
inline std::string DescribeCode(const FormatDefinition& d, uint32_t code) {
  const int digits = (d.bits + 3) / 4 < 2 ? 2 : (d.bits + 3) / 4;
  std::string fields;
  if (HasSignBit(d)) {
    const int e = d.exponent_bits, m = d.mantissa_bits;
    fields = fmt::format("{}.{}{}{}", (code >> (d.bits - 1)) & 1 ? '-' : '+',
                         Binary((code >> m) & ((1u << e) - 1), e), m ? "." : "",
                         m ? Binary(code & ((1u << m) - 1), m) : "");
  } else {
    fields = Binary(code & ((1u << d.bits) - 1), d.bits);
  }
  const DecodedCode dc = DecodeByDefinition(d, code);
  std::string value;
  if (dc.cls == CodeClass::kNan) value = "NaN";
  else if (dc.cls == CodeClass::kInf) value = dc.negative ? "-inf" : "+inf";
  else value = fmt::format("{} = {:a}", dc.value, dc.value);
  return fmt::format("0x{:0{}x} ({} = {})", code, digits, fields, value);
}

inline std::string DescribeMismatch(const FormatDefinition& d, const Mismatch& m) {
  const uint32_t b = m.f32_bits;
  std::string input;
  if (((b >> 23) & 0xFF) == 0xFF) input = (b & 0x7FFFFF) ? "NaN" : ((b >> 31) ? "-inf" : "+inf");
  else input = fmt::format("{} = {:a}", F32Value(b), F32Value(b));
  return fmt::format("f32 0x{:08x} ({}): core {} flags {}; reference {} flags {}", b, input,
                     DescribeCode(d, static_cast<uint32_t>(m.got.code)), FlagNames(m.got.flags),
                     DescribeCode(d, m.expected.code), FlagNames(m.expected.flags));
}

}  // namespace floatscope::sweep
