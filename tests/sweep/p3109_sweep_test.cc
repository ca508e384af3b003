// The CI-sampled sweep of the IEEE P3109 family (suite 'sweep'): every
// member binaryKpP{s,u}{e,f} floatscope holds (454 of them, K = 3..16),
// float32 inputs encoded by the core in every deterministic rounding mode,
// under the member's default overflow policy and, for the extended members,
// `saturate` too, compared (code and flags) with the table reference's
// Round (table_reference.h, from the definitions in format_definitions.h,
// written from the WG's value tables and not from formats/p3109.h).
//
// The inputs per member: the float32 neighbours (+-1, +-2 ulps) of every
// breakpoint (table value, midpoint of neighbours, tininess point; members
// with more than 2^14 breakpoints, K >= 13, take every one of the 512 at
// each end of the line, where zero, min normal, max and overflow are, and a
// stride through the rest), the specials, a few inputs per float32 binade,
// and 2^12 random patterns plus 2^12 random inputs within the member's
// range. That is ~25 million (member, mode, policy, input) comparisons; the
// exhaustive form, all 2^32 inputs, is exhaustive_f32 --format NAME.
//
// Threads: FLOATSCOPE_TEST_THREADS (default 2); results do not depend on it.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/sweep/sweep_runner.h"

using namespace floatscope;
using namespace floatscope::sweep;

namespace {

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

unsigned TestThreads() {
  const char* env = std::getenv("FLOATSCOPE_TEST_THREADS");
  const int n = env ? std::atoi(env) : 2;
  return n >= 1 ? static_cast<unsigned>(n) : 1u;
}

constexpr size_t kAllBreakpoints = size_t{1} << 14;  // above this, sample them
constexpr size_t kEndBreakpoints = 512;              // kept at each end when sampling

std::vector<uint32_t> SampleBits(const TableReference& ref, uint64_t seed) {
  std::vector<uint32_t> keys;
  auto add_key = [&](int64_t k) {
    if (k >= 0 && k <= 0xFFFFFFFFll) keys.push_back(static_cast<uint32_t>(k));
  };
  const std::vector<double> b = ref.Breakpoints();
  const size_t stride = b.size() > kAllBreakpoints ? b.size() / (kAllBreakpoints - 2 * kEndBreakpoints) + 1 : 1;
  for (size_t i = 0; i < b.size(); ++i) {
    const bool end = i < kEndBreakpoints || i + kEndBreakpoints >= b.size();
    if (!end && i % stride != 0) continue;
    const int64_t at = TableReference::FirstKeyWhere(b[i], /*strictly_above=*/false);
    for (int d = -2; d <= 2; ++d) add_key(at + d);
  }
  for (uint32_t sign : {0u, 0x80000000u}) {
    for (uint32_t bits : {0x00000000u, 0x7F800000u, 0x7F7FFFFFu, 0x00800000u, 0x00000001u, 0x3F800000u,
                          0x7FC00000u, 0x7F800001u, 0x7FA00000u, 0x7FFFFFFFu})
      keys.push_back(KeyOfF32Bits(sign | bits));
    for (uint32_t field = 0; field < 256; ++field)
      for (uint32_t frac : {0u, 1u, 0x400000u, 0x7FFFFFu}) keys.push_back(KeyOfF32Bits(sign | field << 23 | frac));
  }
  uint64_t state = seed;
  const uint32_t lo = TableReference::FirstKeyWhere(2 * b.front(), false);
  const uint32_t hi = TableReference::FirstKeyWhere(2 * b.back(), false);
  for (int i = 0; i < 4096; ++i) {
    keys.push_back(static_cast<uint32_t>(SplitMix64(state)));
    keys.push_back(lo + static_cast<uint32_t>((SplitMix64(state) >> 32) % (uint64_t{hi} - lo + 1)));
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  for (uint32_t& k : keys) k = F32BitsOfKey(k);
  return keys;
}

struct MemberOutcome {
  uint64_t comparisons = 0;
  std::vector<std::string> failures;  // one line per (mode, policy) that differs
};

MemberOutcome SweepMember(const FormatDefinition& d) {
  MemberOutcome out;
  const std::vector<uint32_t> inputs =
      SampleBits(TableReference(d, Rounding::kNearestEven, RefOverflow::kFormatDefault), 0x3109);
  for (RefOverflow o : {RefOverflow::kFormatDefault, RefOverflow::kSaturate}) {
    if (o == RefOverflow::kSaturate && d.saturates_by_default) continue;  // the same run
    for (Rounding mode : kDeterministicModes) {
      const TableReference ref(d, mode, o);
      const CoreEncoder core = CoreFor(d, mode, o);
      Tally t;
      for (uint32_t bits : inputs) {
        const RefResult want = ref.Round(bits);
        const Result got = core(bits);
        if (got.code != want.code || got.flags != want.flags) t.Record(bits, want, got);
      }
      out.comparisons += inputs.size();
      if (t.mismatches != 0)
        out.failures.push_back(fmt::format("{} {} {}: {} of {} inputs differ; first: {}", d.name, ModeName(mode),
                                           OverflowName(o), t.mismatches, inputs.size(),
                                           DescribeMismatch(d, t.first.front())));
    }
  }
  return out;
}

}  // namespace

TEST_CASE("the family reference on hand-worked cases of the WG's tables") {
  auto round = [](const char* name, float x, Rounding mode = Rounding::kNearestEven) {
    return TableReference(*FindDefinition(name), mode, RefOverflow::kFormatDefault).Round(BitsOf(x));
  };
  const uint8_t ox = kRefOverflow | kRefInexact, ux = kRefUnderflow | kRefInexact;
  // binary3p2se: 0 | 0.5 | 1 | inf (0x3); 0.75 is the tie 0.5 (0x1, odd) | 1 (0x2),
  // and tiny (below 1, exact at 2 bits of precision).
  CHECK(round("binary3p2se", 0.75f) == RefResult{0x2, ux});
  CHECK(round("binary3p2se", 1.25f) == RefResult{0x2, kRefInexact});  // tie 1 | past 1.5: even code 0x2
  CHECK(round("binary3p2se", 1.3f) == RefResult{0x3, ox});
  CHECK(round("binary3p2se", -1.3f) == RefResult{0x7, ox});
  CHECK(round("binary3p2sf", 1.3f) == RefResult{0x3, kRefInexact});   // 1.5 is finite here
  CHECK(round("binary3p2sf", 100.0f) == RefResult{0x3, ox});          // saturates
  // binary4p4uf: 1 exponent bit, bias 1: 0.125 steps up to 1.75 (0xe), 0xf NaN.
  CHECK(round("binary4p4uf", 1.8f) == RefResult{0xe, kRefInexact});  // below the midpoint 1.8125
  CHECK(round("binary4p4uf", 1.85f) == RefResult{0xe, ox});          // saturates
  CHECK(round("binary4p4uf", 0.0625f) == RefResult{0x0, ux});         // tie 0 | 0.125: even
  CHECK(round("binary4p4uf", -0.0625f, Rounding::kDown) == RefResult{0x0, kRefInvalid});
  CHECK(round("binary4p4uf", -0.0625f, Rounding::kUp) == RefResult{0x0, ux});
}

TEST_CASE("the family sweep catches a wrong core: rna against the rne reference") {
  const FormatDefinition& d = *FindDefinition("binary6p3ue");
  const TableReference rne(d, Rounding::kNearestEven, RefOverflow::kFormatDefault);
  const CoreEncoder rna = CoreFor(d, Rounding::kNearestAway, RefOverflow::kFormatDefault);
  int differ = 0;
  for (uint32_t bits : SampleBits(rne, 1)) {
    const RefResult want = rne.Round(bits);
    const Result got = rna(bits);
    differ += got.code != want.code;
  }
  CHECK(differ > 0);
}

TEST_CASE("sampled sweep: every P3109 family member against the table reference") {
  const std::vector<FormatDefinition>& defs = P3109Definitions().defs;
  REQUIRE(defs.size() == 454);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<MemberOutcome> outcomes(defs.size());
  // Widest members first, so the threads finish together.
  std::vector<size_t> order(defs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return defs[a].bits > defs[b].bits; });
  ForEachChunk(defs.size(), TestThreads(), [&](size_t i) { outcomes[order[i]] = SweepMember(defs[order[i]]); });
  uint64_t comparisons = 0;
  size_t failed = 0;
  for (size_t i = 0; i < defs.size(); ++i) {
    comparisons += outcomes[i].comparisons;
    for (const std::string& f : outcomes[i].failures) {
      if (++failed <= 40) MESSAGE(f);
    }
  }
  CHECK(failed == 0);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("P3109 family: {} members, {} comparisons, {:.1f} s\n", defs.size(), comparisons, s);
}
