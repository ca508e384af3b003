// The sampled sweep (suite 'sweep', in CI): for every named format of at
// most 16 bits, at least 2^24 float32 inputs, encoded by the core in every
// deterministic rounding mode, under the format's default overflow policy
// (and `saturate`, see below), compared (code and flags) with the table reference's
// Round, computed input by input.
//
// The inputs: every value of the format, every midpoint of neighbours
// (overflow thresholds included: the table goes one virtual step past max)
// and every point where tininess changes, each with the two float32
// neighbours either side; the specials (+-0, +-inf, NaNs with several
// payloads, float32's max, min normal, min subnormal); a few inputs in every
// float32 binade; then uniform random inputs (half over all 2^32 patterns,
// half over the format's range) up to 2^24 distinct ones. The same inputs
// also check the reference's pieces (what exhaustive_f32 compares against)
// against Round, so the exhaustive shortcut is checked here too.
//
// `saturate` changes only what overflows, and overflow happens around the
// breakpoints past max and at the infinities, so that run takes the
// structured inputs and one random input in 16 (~1.5 million), not all.
//
// Threads: FLOATSCOPE_TEST_THREADS (default 2); results do not depend on it.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tests/sweep/sweep_runner.h"

using namespace floatscope;
using namespace floatscope::sweep;

namespace {

constexpr size_t kSamples = size_t{1} << 24;

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Sorts and removes duplicates: two 16-bit LSD radix passes (std::sort of
// 2^24 keys per format would cost more than the sweep of a small format).
void SortUnique(std::vector<uint32_t>& v) {
  std::vector<uint32_t> tmp(v.size());
  for (int shift : {0, 16}) {
    std::vector<size_t> count(65537, 0);
    for (uint32_t x : v) ++count[((x >> shift) & 0xFFFF) + 1];
    for (size_t i = 1; i < count.size(); ++i) count[i] += count[i - 1];
    for (uint32_t x : v) tmp[count[(x >> shift) & 0xFFFF]++] = x;
    v.swap(tmp);
  }
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

unsigned TestThreads() {
  const char* env = std::getenv("FLOATSCOPE_TEST_THREADS");
  const int n = env ? std::atoi(env) : 2;
  return n >= 1 ? static_cast<unsigned>(n) : 1u;
}

// The inputs for one format, as sorted distinct keys (the same for every
// mode: the breakpoints do not depend on it).
struct Samples {
  std::vector<uint32_t> all;         // >= 2^24 keys
  std::vector<uint32_t> round_keys;  // those also checked against Round itself
};

Samples SampleKeys(const TableReference& ref, uint64_t seed) {
  std::vector<uint32_t> keys;
  keys.reserve(kSamples + kSamples / 8);
  auto add_key = [&](int64_t k) {
    if (k >= 0 && k <= 0xFFFFFFFFll) keys.push_back(static_cast<uint32_t>(k));
  };
  auto add_bits = [&](uint32_t bits) { keys.push_back(KeyOfF32Bits(bits)); };

  // 1. Values, midpoints, tininess points, and +-1, +-2 float32 ulps.
  const std::vector<double> breakpoints = ref.Breakpoints();
  for (double b : breakpoints) {
    const int64_t at = TableReference::FirstKeyWhere(b, /*strictly_above=*/false);
    for (int d = -2; d <= 2; ++d) add_key(at + d);
  }
  // 2. Specials.
  for (uint32_t sign : {0u, 0x80000000u}) {
    for (uint32_t b : {0x00000000u, 0x7F800000u, 0x7F7FFFFFu, 0x00800000u, 0x00000001u,
                       0x007FFFFFu, 0x3F800000u, 0x7FC00000u, 0x7F800001u, 0x7FFFFFFFu,
                       0x7FBFFFFFu, 0x7FA00000u, 0x7FC00001u, 0x7FE00000u})
      add_bits(sign | b);
    for (int k = 0; k < 23; ++k) add_bits(sign | 0x7F800000u | (1u << k));  // one payload bit
  }
  // 3. Every binade (exponent field 255 too: infinities and NaNs).
  uint64_t state = seed;
  for (uint32_t sign : {0u, 0x80000000u})
    for (uint32_t field = 0; field < 256; ++field) {
      for (uint32_t frac : {0u, 1u, 2u, 0x3FFFFFu, 0x400000u, 0x400001u, 0x7FFFFEu, 0x7FFFFFu})
        add_bits(sign | field << 23 | frac);
      for (int i = 0; i < 16; ++i) add_bits(sign | field << 23 | (SplitMix64(state) & 0x7FFFFF));
    }
  SortUnique(keys);
  Samples s;
  s.round_keys = keys;
  // 4. Random fill: half over all patterns, half over twice the format's range.
  const uint32_t range_lo = TableReference::FirstKeyWhere(2 * breakpoints.front(), false);
  const uint32_t range_hi = TableReference::FirstKeyWhere(2 * breakpoints.back(), false);
  while (keys.size() < kSamples) {
    const size_t more = (kSamples - keys.size()) + (kSamples - keys.size()) / 16 + 1024;
    for (size_t i = 0; i < more; ++i) {
      const uint64_t r = SplitMix64(state);
      if (i % 2) keys.push_back(static_cast<uint32_t>(r));
      else keys.push_back(range_lo + static_cast<uint32_t>((r >> 32) % (uint64_t{range_hi} - range_lo + 1)));
    }
    SortUnique(keys);
  }
  // Round itself (~50 ns an input) is asked on the structured inputs and
  // one random input in 16; the pieces answer for the rest.
  for (size_t i = 0; i < keys.size(); i += 16) s.round_keys.push_back(keys[i]);
  SortUnique(s.round_keys);
  s.all = std::move(keys);
  return s;
}

struct Outcome {
  Tally core;    // core vs the reference (its pieces)
  Tally pieces;  // the pieces vs Round
};

// Splits sorted `keys` into chunks and runs fn(key, piece) on each key with
// the piece holding it, over the test's threads; returns the tallies merged
// in key order.
template <class Fn>
Tally ForEachKey(const std::vector<uint32_t>& keys, const std::vector<Piece>& pieces, Fn fn) {
  constexpr size_t kChunks = 64;
  std::vector<Tally> parts(kChunks);
  ForEachChunk(kChunks, TestThreads(), [&](size_t c) {
    const size_t begin = keys.size() * c / kChunks, end = keys.size() * (c + 1) / kChunks;
    if (begin == end) return;
    size_t p = PieceIndexOf(pieces, keys[begin]);
    for (size_t i = begin; i < end; ++i) {
      while (p + 1 < pieces.size() && pieces[p + 1].first_key <= keys[i]) ++p;
      fn(parts[c], F32BitsOfKey(keys[i]), pieces[p].result);
    }
    parts[c].inputs = end - begin;
  });
  Tally total;
  for (const Tally& t : parts) total.Append(t);
  return total;
}

// The core against the reference on all samples (on the round_keys only
// unless `all_inputs`), and the reference's pieces against its Round on the
// round_keys.
Outcome SweepSamples(const TableReference& ref, const CoreEncoder& core, const Samples& samples,
                     bool all_inputs = true) {
  const std::vector<Piece> pieces = ref.Pieces();
  Outcome out;
  out.core = ForEachKey(all_inputs ? samples.all : samples.round_keys, pieces, [&](Tally& t, uint32_t bits, const RefResult& want) {
    const Result got = core(bits);
    if (got.code != want.code || got.flags != want.flags) t.Record(bits, want, got);
  });
  out.pieces = ForEachKey(samples.round_keys, pieces, [&](Tally& t, uint32_t bits, const RefResult& piece) {
    const RefResult want = ref.Round(bits);
    if (!(piece == want)) t.Record(bits, want, Result{piece.code, piece.flags});
  });
  return out;
}

void SweepFormat(const char* name) {
  const FormatDefinition* d = FindDefinition(name);
  REQUIRE(d != nullptr);
  const auto t0 = std::chrono::steady_clock::now();
  const Samples samples =
      SampleKeys(TableReference(*d, Rounding::kNearestEven, RefOverflow::kFormatDefault), 0x5eed);
  CHECK(samples.all.size() >= kSamples);
  uint64_t compared = 0;
  for (RefOverflow o : {RefOverflow::kFormatDefault, RefOverflow::kSaturate}) {
    if (o == RefOverflow::kSaturate && d->saturates_by_default) continue;  // the same run
    for (Rounding mode : kDeterministicModes) {
      const TableReference ref(*d, mode, o);
      const Outcome out = SweepSamples(ref, CoreFor(*d, mode, o), samples,
                                       /*all_inputs=*/o == RefOverflow::kFormatDefault);
      compared += out.core.inputs;
      const std::string label = fmt::format("{} {} {}", name, ModeName(mode), OverflowName(o));
      for (const Mismatch& m : out.core.first) MESSAGE(label, ": ", DescribeMismatch(*d, m));
      for (const Mismatch& m : out.pieces.first)
        MESSAGE(label, " (pieces vs Round, a reference bug): ", DescribeMismatch(*d, m));
      CHECK_MESSAGE(out.core.mismatches == 0, label, ": ", out.core.mismatches, " of ",
                    out.core.inputs, " inputs differ (", out.core.code_mismatches, " in the code)");
      CHECK_MESSAGE(out.pieces.mismatches == 0, label, ": pieces differ from Round on ",
                    out.pieces.mismatches, " of ", out.pieces.inputs, " inputs");
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("{}: {} distinct inputs ({} also against Round), {} comparisons, {:.1f} s\n", name,
             samples.all.size(), samples.round_keys.size(), compared, s);
}

}  // namespace

TEST_CASE("the reference on hand-worked cases (independent of the core)") {
  auto round = [](const char* name, float x, Rounding mode = Rounding::kNearestEven,
                  RefOverflow o = RefOverflow::kFormatDefault) {
    uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    return TableReference(*FindDefinition(name), mode, o).Round(bits);
  };
  auto round_bits = [](const char* name, uint32_t bits) {
    return TableReference(*FindDefinition(name), Rounding::kNearestEven, RefOverflow::kFormatDefault)
        .Round(bits);
  };
  const uint8_t ox = kRefOverflow | kRefInexact, ux = kRefUnderflow | kRefInexact;
  // f16: 65520 is the tie between max 0x7bff (odd) and the virtual 2^16 (even).
  CHECK(round("f16", 65519.0f) == RefResult{0x7bff, kRefInexact});
  CHECK(round("f16", 65520.0f) == RefResult{0x7c00, ox});
  CHECK(round("f16", 65520.0f, Rounding::kTowardZero) == RefResult{0x7bff, kRefInexact});
  CHECK(round("f16", 1e10f, Rounding::kOdd) == RefResult{0x7bff, ox});
  CHECK(round("f16", -1e10f, Rounding::kUp) == RefResult{0xfbff, ox});
  CHECK(round("f16", -1e10f, Rounding::kDown) == RefResult{0xfc00, ox});
  CHECK(round("f16", 0x1p-25f) == RefResult{0x0000, ux});  // tie with 0: even
  CHECK(round("f16", -0x1p-25f) == RefResult{0x8000, ux});
  CHECK(round("f16", 0x1p-25f, Rounding::kNearestAway) == RefResult{0x0001, ux});
  CHECK(round("f16", 0x1p-14f - 0x1p-26f) == RefResult{0x0400, kRefInexact});  // not tiny after rounding
  // The tie 0x3ff | 0x400 goes to even 0x400, but with an unbounded exponent
  // range the input is exact and below 2^-14: tiny.
  CHECK(round("f16", 0x1p-14f - 0x1p-25f) == RefResult{0x0400, ux});
  CHECK(round("f16", 0x1p-24f) == RefResult{0x0001, 0});
  CHECK(round_bits("f16", 0xffc00123u) == RefResult{0xfe00, 0});
  CHECK(round_bits("f16", 0x7fa00000u) == RefResult{0x7f00, kRefInvalid});
  CHECK(round_bits("bf16", 0x7fa00001u) == RefResult{0x7fe0, kRefInvalid});
  // e4m3fn: 464 is the tie between max 448 (0x7e, even) and the virtual 480.
  CHECK(round("e4m3fn", 464.0f) == RefResult{0x7e, kRefInexact});
  CHECK(round("e4m3fn", 465.0f) == RefResult{0x7f, ox});  // no infinity: NaN
  CHECK(round("e4m3fn", 465.0f, Rounding::kNearestEven, RefOverflow::kSaturate) ==
        RefResult{0x7e, ox});
  CHECK(round("e4m3fn", 449.0f, Rounding::kOdd) == RefResult{0x7e, ox});  // odd neighbour is 480
  CHECK(round_bits("e4m3fn", 0xff800000u) == RefResult{0xff, kRefInvalid});
  // e2m1fn: 5 is the tie 4 (0b0'11'0) | 6 (0b0'11'1); saturates.
  CHECK(round("e2m1fn", 5.0f) == RefResult{0x6, kRefInexact});
  CHECK(round("e2m1fn", 100.0f) == RefResult{0x7, ox});
  CHECK(round_bits("e2m1fn", 0x7fc00000u) == RefResult{0x0, kRefInvalid});
  // e8m0fnu: ties to the even code, nothing below 2^-127, no zero, no sign.
  CHECK(round("e8m0fnu", 3.0f) == RefResult{0x80, kRefInexact});
  CHECK(round("e8m0fnu", 6.0f) == RefResult{0x82, kRefInexact});
  CHECK(round("e8m0fnu", 1e-40f, Rounding::kTowardZero) == RefResult{0x00, ux});
  CHECK(round("e8m0fnu", 0.0f) == RefResult{0xff, kRefInvalid});
  CHECK(round("e8m0fnu", -1.0f) == RefResult{0xff, kRefInvalid});
  CHECK(round("e8m0fnu", 0x1.8p127f) == RefResult{0xfe, kRefInexact});  // tie 0xfe | 0xff: even
  CHECK(round("e8m0fnu", 0x1.8p127f, Rounding::kUp) == RefResult{0xff, ox});
  // binary8p1: one significand bit; ties go to the even code.
  CHECK(round("binary8p1", 3.0f) == RefResult{0x42, kRefInexact});  // 2 = 0x41, 4 = 0x42
  CHECK(round("binary8p1", 6.0f) == RefResult{0x42, kRefInexact});  // 4 = 0x42, 8 = 0x43
  CHECK(round("binary8p1", 0x1p-64f) == RefResult{0x00, ux});        // tie 0 | 2^-63
  CHECK(round("binary8p1", 0x1.8p62f) == RefResult{0x7e, kRefInexact});  // tie 2^62 (0x7e, even) | 2^63 (past)
  CHECK(round("binary8p1", 0x1.9p62f) == RefResult{0x7f, ox});
  // Unsigned P3109: NaN at 0xff, +inf at 0xfe; negatives clamp to +0.
  CHECK(round("binary8p3ue", 1.0f) == RefResult{0x80, 0});
  CHECK(round("binary8p3ue", 1e30f) == RefResult{0xfe, ox});
  CHECK(round("binary8p3ue", -1.0f) == RefResult{0x00, kRefInvalid});
  CHECK(round("binary8p3ue", -0x1p-40f) == RefResult{0x00, ux});     // rounds to zero first
  CHECK(round("binary8p3ue", -0x1p-40f, Rounding::kDown) == RefResult{0x00, kRefInvalid});
  CHECK(round_bits("binary8p3ue", 0xff800000u) == RefResult{0x00, kRefInvalid});
  CHECK(round_bits("binary8p3ue", 0xffc00000u) == RefResult{0xff, 0});
  CHECK(round("binary8p3uf", 1e30f) == RefResult{0xfe, ox});         // finite: saturates
  CHECK(round("binary8p3sf", -1e30f) == RefResult{0xff, ox});
  CHECK(round_bits("binary8p3sf", 0x7f800000u) == RefResult{0x7f, ox});
  // P3109: no -0, one NaN, infinities at 0x7f/0xff.
  CHECK(round("binary8p4", -1e-9f) == RefResult{0x00, ux});
  CHECK(round("binary8p4", 1e6f) == RefResult{0x7f, ox});
  CHECK(round_bits("binary8p4", 0xffc00000u) == RefResult{0x80, 0});
  CHECK(round_bits("binary8p4", 0xff800000u) == RefResult{0xff, 0});
  CHECK(round("e4m3fnuz", -0.0f) == RefResult{0x00, 0});
  // Integers: round by the mode, clamp with invalid.
  CHECK(round("int8", 2.5f) == RefResult{2, kRefInexact});
  CHECK(round("int8", -2.5f) == RefResult{0xfe, kRefInexact});
  CHECK(round("int8", 2.5f, Rounding::kNearestAway) == RefResult{3, kRefInexact});
  CHECK(round("int8", 300.0f) == RefResult{0x7f, kRefInvalid});
  CHECK(round("int8", -128.4f) == RefResult{0x80, kRefInexact});
  CHECK(round("int8", -128.5f) == RefResult{0x80, kRefInexact});  // tie -129 | -128: even
  CHECK(round("int8", -128.5f, Rounding::kNearestAway) == RefResult{0x80, kRefInvalid});
  CHECK(round("uint8", -0.4f) == RefResult{0, kRefInexact});
  CHECK(round("uint8", -0.6f) == RefResult{0, kRefInvalid});
  CHECK(round("int4", 7.5f, Rounding::kOdd) == RefResult{7, kRefInexact});
  CHECK(round("uint4", 15.5f) == RefResult{15, kRefInvalid});  // tie 15 | 16: even 16, out of range
}

TEST_CASE("the sweep catches a wrong core: rna against the rne reference") {
  const FormatDefinition& d = *FindDefinition("e4m3fn");
  const TableReference rne(d, Rounding::kNearestEven, RefOverflow::kFormatDefault);
  const Samples samples = SampleKeys(rne, 1);
  const Outcome out = SweepSamples(rne, CoreFor(d, Rounding::kNearestAway, RefOverflow::kFormatDefault), samples);
  REQUIRE(out.core.mismatches > 0);
  CHECK(out.pieces.mismatches == 0);
  // Every difference listed is one the modes explain: the rna reference
  // agrees with the core, and the input is a tie: one float32 step toward
  // zero rne gives the rtz result, one step away the away-from-zero result.
  const TableReference rna(d, Rounding::kNearestAway, RefOverflow::kFormatDefault);
  const TableReference rtz(d, Rounding::kTowardZero, RefOverflow::kFormatDefault);
  const TableReference up(d, Rounding::kUp, RefOverflow::kFormatDefault);
  const TableReference down(d, Rounding::kDown, RefOverflow::kFormatDefault);
  for (const Mismatch& m : out.core.first) {
    const bool negative = (m.f32_bits >> 31) != 0;
    const TableReference& away = negative ? down : up;
    const uint32_t key = KeyOfF32Bits(m.f32_bits);  // keys follow the value
    const uint32_t toward_zero = F32BitsOfKey(negative ? key + 1 : key - 1);
    const uint32_t away_from_zero = F32BitsOfKey(negative ? key - 1 : key + 1);
    CHECK(rna.Round(m.f32_bits) == RefResult{static_cast<uint32_t>(m.got.code), m.got.flags});
    CHECK(rne.Round(toward_zero).code == rtz.Round(m.f32_bits).code);
    CHECK(rne.Round(away_from_zero).code == away.Round(m.f32_bits).code);
  }
  MESSAGE("as a failing sweep prints it: ", DescribeMismatch(d, out.core.first.front()));
}

#define SWEEP_CASE(NAME) \
  TEST_CASE("sampled sweep: " NAME " against the table reference") { SweepFormat(NAME); }

SWEEP_CASE("f16")
SWEEP_CASE("bf16")
SWEEP_CASE("e5m2")
SWEEP_CASE("e4m3fn")
SWEEP_CASE("e4m3")
SWEEP_CASE("e4m3fnuz")
SWEEP_CASE("e5m2fnuz")
SWEEP_CASE("e4m3b11fnuz")
SWEEP_CASE("e3m4")
SWEEP_CASE("binary8p1")
SWEEP_CASE("binary8p2")
SWEEP_CASE("binary8p3")
SWEEP_CASE("binary8p4")
SWEEP_CASE("binary8p5")
SWEEP_CASE("binary8p6")
SWEEP_CASE("binary8p7")
SWEEP_CASE("e2m3fn")
SWEEP_CASE("e3m2fn")
SWEEP_CASE("e2m1fn")
SWEEP_CASE("e8m0fnu")
SWEEP_CASE("int8")
SWEEP_CASE("uint8")
SWEEP_CASE("int4")
SWEEP_CASE("uint4")

TEST_CASE("every definition has its sampled sweep case above") {
  CHECK(std::size(kDefinitions) == 24);
}
