// The SIMD array kernels (emulate/simd/) against the scalar core, element by
// element, on every Highway target this CPU runs: codes, fake-quantized
// values, decoded values and the per-array statistics (the flags counted).
//
// CI runs a sample of 2^20 float32 inputs per (format, mode, options) that
// holds every sign/exponent/top-7-mantissa-bits pattern with low halves on,
// beside and between the rounding boundaries of every format up to 16 bits
// (tests/simd/exhaustive_simd.cc runs all 2^32; docs/TESTING.md records it).
// A failure names the target, the format, the mode and the first input.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <hwy/targets.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "emulate/array_ops.h"
#include "emulate/simd/kernels.h"
#include "formats/catalog.h"
#include "formats/names.h"
#include "formats/spec_parser.h"

namespace fs = floatscope;

namespace {

constexpr fs::Rounding kAllModes[] = {
    fs::Rounding::kNearestEven, fs::Rounding::kNearestAway, fs::Rounding::kTowardZero,
    fs::Rounding::kDown,        fs::Rounding::kUp,          fs::Rounding::kOdd,
    fs::Rounding::kStochastic,  fs::Rounding::kStochasticEq,
};

// Every top-16-bit pattern (sign, exponent, top 7 mantissa bits) x
// `per_top` low halves: `fixed` first, then random ones (one generator
// across all tops, seeded).
std::vector<float> TopsTimesLows(const std::vector<uint32_t>& fixed, size_t per_top) {
  std::mt19937 rng(20261123);
  std::vector<float> v;
  v.reserve(per_top << 16);
  std::vector<uint32_t> lows;
  for (uint32_t top = 0; top < (1u << 16); ++top) {
    lows = fixed;
    while (lows.size() < per_top) lows.push_back(rng() & 0xffff);
    for (uint32_t low : lows) {
      const uint32_t bits = (top << 16) | low;
      float x;
      std::memcpy(&x, &bits, 4);
      v.push_back(x);
    }
  }
  return v;
}

// 2^20 inputs: every top-16-bit pattern x 16 low halves: 0, 1, 0xffff, the
// midpoint bit of formats with 10 (f16/tf32) and 7 (bf16) fraction bits
// and one past it, and random ones.
const std::vector<float>& SampleInputs() {
  static const std::vector<float> inputs =
      TopsTimesLows({0x0000, 0x0001, 0xffff, 0x1000, 0x1001, 0x0fff, 0x8000, 0x8001, 0x7fff, 0x3000}, 16);
  return inputs;
}

// 2^24 inputs: every top-16-bit pattern (every binade, every special) x 256
// low halves. The low halves hold every midpoint +-1 ulp of every format of
// at most 16 bits: such a format keeps at most 10 fraction bits, so its
// rounding boundary is float32 bit b >= 12 (b > 15: the top half,
// enumerated, with low halves 0, 1 and 0xffff on either side); for
// b = 12..15 every pattern of the bits above b with bit b set, minus one,
// exact and plus one. The rest are random.
const std::vector<float>& CoverageInputs() {
  static const std::vector<float> inputs = [] {
    std::vector<uint32_t> fixed = {0x0000, 0x0001, 0x0002, 0xfffe, 0xffff};
    for (int b = 12; b <= 15; ++b)
      for (uint32_t h = 0; h < (1u << (15 - b)); ++h) {
        const uint32_t mid = (h << (b + 1)) | (1u << b);
        for (uint32_t v : {mid - 1, mid, mid + 1}) fixed.push_back(v);
      }
    std::sort(fixed.begin(), fixed.end());
    fixed.erase(std::unique(fixed.begin(), fixed.end()), fixed.end());
    return TopsTimesLows(fixed, 256);
  }();
  return inputs;
}

// The formats under test: every named one but f64/f32 (nothing to round
// float32 into), plus custom specs that exercise the plan's corners.
std::vector<const fs::Format*> FormatsUnderTest() {
  static std::vector<fs::Format> customs;
  std::vector<const fs::Format*> out;
  for (const fs::Format& f : fs::formats::kAll)
    if (f.bits <= 24) out.push_back(&f);
  if (customs.empty()) {
    for (const char* spec : {"e5m6", "e4m3:bias=9,inf=no,nan=ones,subnormals=no", "e3m0:inf=no,nan=ones", "e6m9",
                             "e2m2:nan=no,inf=no", "e5m2:subnormals=no", "int6", "uint3", "e8m7:signed=no,zero=no",
                             // IEEE P3109 members: unsigned with a zero (negatives round or
                             // clamp to 0), the unsigned +inf 11..10, P = 1, K < 8.
                             "binary8p3ue", "binary8p1ue", "binary8p1uf", "binary6p2uf", "binary5p5ue",
                             "binary8p4sf", "binary8p1se", "binary4p2se"}) {
      std::string error;
      const fs::Format* f = fs::ResolveFormat(spec, &error);
      if (f == nullptr) {
        FAIL_CHECK("bad test spec " << std::string(spec) << ": " << error);
        continue;
      }
      customs.push_back(*f);
    }
  }
  for (const fs::Format& f : customs) out.push_back(&f);
  return out;
}

std::string Describe(const fs::Format& f, const fs::Options& o) {
  return fmt::format("{} {} overflow={} flush_in={} flush_out={} tininess={} seed={} sr_bits={} nan_payload={} p1={}",
                     f.name, fs::RoundingNameOf(o.rounding), fs::OverflowNameOf(o.overflow), o.flush_input,
                     o.flush_output, o.tininess == fs::Tininess::kAfterRounding ? "after" : "before", o.seed,
                     int{o.sr_bits}, static_cast<int>(o.nan_payload), static_cast<int>(o.tie_rule_p1));
}

std::string StatsText(const fs::ArrayStats& s) {
  return fmt::format("elements {} inexact {} underflow {} overflow {} invalid {} saturated {} flushed {} nan {}",
                     s.elements, s.inexact, s.underflow, s.overflow, s.invalid, s.saturated, s.flushed, s.nan);
}

uint64_t CodeAt(const std::vector<uint8_t>& buf, size_t bytes, size_t i) {
  uint64_t c = 0;
  std::memcpy(&c, buf.data() + i * bytes, bytes);
  return c;
}

uint32_t BitsOf(float x) {
  uint32_t b;
  std::memcpy(&b, &x, 4);
  return b;
}

struct Reference {
  std::vector<uint8_t> codes;
  std::vector<float> fq;
  fs::ArrayStats stats, fq_stats;
};

Reference ScalarReference(const fs::Format& f, const fs::Options& o, const std::vector<float>& in,
                          uint64_t first_index) {
  Reference r;
  r.codes.resize(in.size() * fs::CodeBytes(f));
  r.fq.resize(in.size());
  fs::scalar::EncodeF32Array(f, o, in.data(), r.codes.data(), in.size(), first_index, &r.stats);
  fs::scalar::FakeQuantF32Array(f, o, in.data(), r.fq.data(), in.size(), first_index, &r.fq_stats);
  return r;
}

// Checks encode and fake-quant of `in` on the current target against `ref`,
// with statistics and without (both on the fast path where the plan allows
// it, emulate/simd/convert-inl.h FastRoundLanes and FastCounts; the general
// kernel elsewhere and for the rare vectors' counts).
void CheckOnTarget(const fs::Format& f, const fs::Options& o, const std::vector<float>& in, const Reference& ref,
                   uint64_t first_index, unsigned threads, const std::string& where) {
  const size_t bytes = fs::CodeBytes(f);
  for (const bool with_stats : {true, false}) {
    const std::string path = where + (with_stats ? " (with stats)" : " (no stats)");
    std::vector<uint8_t> codes(in.size() * bytes);
    fs::ArrayStats stats;
    fs::EncodeF32Array(f, o, in.data(), codes.data(), in.size(), first_index, with_stats ? &stats : nullptr, threads);
    size_t bad = 0, first_bad = 0;
    if (codes != ref.codes)  // element by element only to describe a difference
      for (size_t i = 0; i < in.size(); ++i)
        if (CodeAt(codes, bytes, i) != CodeAt(ref.codes, bytes, i) && bad++ == 0) first_bad = i;
    if (bad) {
      FAIL_CHECK(path << ": encode: " << bad << " of " << in.size() << " codes differ; first: f32 "
                      << fmt::format("0x{:08x}", BitsOf(in[first_bad])) << " simd "
                      << fmt::format("0x{:x}", CodeAt(codes, bytes, first_bad)) << " core "
                      << fmt::format("0x{:x}", CodeAt(ref.codes, bytes, first_bad)));
    }
    if (with_stats && !(stats == ref.stats))
      FAIL_CHECK(path << ": encode stats differ:\n  simd " << StatsText(stats) << "\n  core " << StatsText(ref.stats));

    std::vector<float> fq(in.size());
    fs::ArrayStats fq_stats;
    fs::FakeQuantF32Array(f, o, in.data(), fq.data(), in.size(), first_index, with_stats ? &fq_stats : nullptr,
                          threads);
    bad = 0;
    if (std::memcmp(fq.data(), ref.fq.data(), 4 * in.size()) != 0)
      for (size_t i = 0; i < in.size(); ++i)
        if (BitsOf(fq[i]) != BitsOf(ref.fq[i]) && bad++ == 0) first_bad = i;
    if (bad) {
      FAIL_CHECK(path << ": fake-quant: " << bad << " of " << in.size() << " values differ; first: f32 "
                      << fmt::format("0x{:08x} simd 0x{:08x} core 0x{:08x}", BitsOf(in[first_bad]),
                                     BitsOf(fq[first_bad]), BitsOf(ref.fq[first_bad])));
    }
    if (with_stats && !(fq_stats == ref.fq_stats))
      FAIL_CHECK(path << ": fake-quant stats differ:\n  simd " << StatsText(fq_stats) << "\n  core "
                      << StatsText(ref.fq_stats));
  }
}

// Runs `fn` once per Highway target compiled in and supported here, with
// dispatch forced to it; restores the default afterwards.
template <class Fn>
void ForEachTarget(Fn fn) {
  const std::vector<int64_t> targets = fs::simd::CompiledTargets();
  REQUIRE(!targets.empty());
  for (const int64_t t : targets) {
    fs::simd::ForceTarget(t);
    fn(std::string(hwy::TargetName(t)));
  }
  fs::simd::ForceTarget(0);
}

void CheckConfig(const fs::Format& f, const fs::Options& o, const std::vector<float>& in) {
  const Reference ref = ScalarReference(f, o, in, 0);
  ForEachTarget([&](const std::string& target) { CheckOnTarget(f, o, in, ref, 0, 1, target + " " + Describe(f, o)); });
}

}  // namespace

TEST_CASE("the targets under test include the best one this CPU supports") {
  const std::vector<int64_t> targets = fs::simd::CompiledTargets();
  REQUIRE(!targets.empty());
  std::string names;
  for (int64_t t : targets) names += std::string(" ") + hwy::TargetName(t);
  MESSAGE("Highway targets checked:" << names << "; default dispatch: " << std::string(fs::SimdTargetName()));
  CHECK(std::string(fs::SimdTargetName()) == hwy::TargetName(targets.front()));
}

TEST_CASE("on a CPU without a proven target the array API runs the core") {
  // Forcing Highway down to its baseline (the scalar/EMU128 fallback, never
  // proven exhaustively) must leave every element to the core.
  fs::simd::ForceTarget(HWY_STATIC_TARGET);
  CHECK(std::string(fs::SimdTargetName()) == "none (scalar core)");
  const std::vector<float>& in = SampleInputs();
  const fs::Format& f = *fs::FindNamedFormat("e5m2");
  fs::Options o;
  o.rounding = fs::Rounding::kStochastic;
  fs::EncodePlan plan = fs::MakeEncodePlan(f, o);
  std::vector<uint8_t> codes(in.size());
  CHECK(fs::simd::EncodeF32Vectors(plan, in.data(), codes.data(), 1, nullptr, in.size(), 0, nullptr) == 0);
  const Reference ref = ScalarReference(f, o, in, 0);
  CheckOnTarget(f, o, in, ref, 0, 1, "fallback e5m2 sr");
  fs::simd::ForceTarget(0);
  CHECK(std::string(fs::SimdTargetName()) != "none (scalar core)");
}

TEST_CASE("a thread pin picks the same kernels as Highway's own dispatch") {
  // exhaustive_simd pins threads to different targets at once
  // (simd::ThreadTarget); this proves a pin calls the entry that
  // ForceTarget (Highway's ChosenTarget) calls, and gives the same bits.
  const std::vector<float>& in = SampleInputs();
  const fs::Format& f = *fs::FindNamedFormat("e4m3fn");
  fs::Options o;
  o.rounding = fs::Rounding::kStochastic;
  std::vector<uint8_t> forced(in.size()), pinned(in.size());
  for (const int64_t t : fs::simd::CompiledTargets()) {
    CAPTURE(hwy::TargetName(t));
    fs::simd::ForceTarget(t);
    const size_t chosen = fs::simd::DispatchIndexForTest(0);
    fs::EncodeF32Array(f, o, in.data(), forced.data(), in.size(), 7, nullptr, 1);
    fs::simd::ForceTarget(0);
    fs::simd::ThreadTarget pin(t);
    CHECK(fs::simd::DispatchIndexForTest(0) == chosen);
    CHECK(fs::simd::DispatchIndexForTest(t) == chosen);
    fs::EncodeF32Array(f, o, in.data(), pinned.data(), in.size(), 7, nullptr, 1);
    CHECK(forced == pinned);
  }
  // Distinct targets have distinct entries (a pin is not a no-op).
  std::vector<size_t> entries;
  for (const int64_t t : fs::simd::CompiledTargets()) entries.push_back(fs::simd::DispatchIndexForTest(t));
  std::sort(entries.begin(), entries.end());
  CHECK(std::adjacent_find(entries.begin(), entries.end()) == entries.end());
}

// The named formats of at most 16 bits: the ones CI checks on 2^24 inputs
// (and exhaustive_simd on all 2^32).
bool IsNamedUpTo16Bits(const fs::Format& f) {
  return f.bits <= 16 && fs::FindNamedFormat(f.name) == &f;
}

// ScalarReference for big inputs: the core's encode on two threads, and the
// fake-quant reference from the codes (what scalar::FakeQuantF32Array does:
// encode, count, decode the code exactly).
Reference FastScalarReference(const fs::Format& f, const fs::Options& o, const std::vector<float>& in) {
  Reference r;
  const size_t bytes = fs::CodeBytes(f);
  r.codes.resize(in.size() * bytes);
  r.fq.resize(in.size());
  const size_t half = in.size() / 2;
  fs::ArrayStats second;
  std::thread t([&] {
    fs::scalar::EncodeF32Array(f, o, in.data() + half, r.codes.data() + half * bytes, in.size() - half, half, &second);
  });
  fs::scalar::EncodeF32Array(f, o, in.data(), r.codes.data(), half, 0, &r.stats);
  t.join();
  r.stats += second;
  std::vector<float> lut(size_t{1} << f.bits);
  for (size_t c = 0; c < lut.size(); ++c) lut[c] = fs::DecodeToF32(f, c, fs::Options{});
  for (size_t i = 0; i < in.size(); ++i) r.fq[i] = lut[CodeAt(r.codes, bytes, i)];
  r.fq_stats = r.stats;
  return r;
}

TEST_CASE("encode and fake-quant equal the core on 2^24 inputs: every named format <= 16 bits, every mode") {
  // Every binade, every midpoint +-1 ulp, every special (CoverageInputs).
  const std::vector<float>& in = CoverageInputs();
  for (const fs::Format& f : fs::formats::kAll) {
    if (!IsNamedUpTo16Bits(f)) continue;
    for (fs::Rounding mode : kAllModes) {
      fs::Options o;
      o.rounding = mode;
      o.seed = 0x0123456789abcdefull;
      const Reference ref = FastScalarReference(f, o, in);
      ForEachTarget([&](const std::string& target) { CheckOnTarget(f, o, in, ref, 0, 1, target + " " + Describe(f, o)); });
    }
  }
}

TEST_CASE("with statistics the common formats run the fast path, whose counts the cases above check") {
  // CheckOnTarget compares the statistics of every call "with stats": this
  // proves those calls run the fast path (FastStatistics::applies) and the
  // F16C loop where the plan says so, not the general kernel, so their
  // counts are checked too. The general kernel keeps the options the fast
  // path does not take (flush to zero on output here).
  const std::vector<float> in(SampleInputs().begin(), SampleInputs().begin() + 4096);
  std::vector<float> fq(in.size());
  std::vector<uint8_t> codes(in.size() * 2);
  using Path = fs::simd::EncodePath;
  auto name = [](Path p) {
    return p == Path::kF16c ? "F16C" : p == Path::kFast ? "fast" : p == Path::kGeneral ? "general" : "none";
  };
  ForEachTarget([&](const std::string& target) {
    size_t fast_formats = 0;
    for (const fs::Format& f : fs::formats::kAll) {
      if (!IsNamedUpTo16Bits(f)) continue;
      for (fs::Rounding mode : kAllModes) {
        fs::Options o;
        o.rounding = mode;
        const fs::EncodePlan plan = fs::MakeEncodePlan(f, o);
        if (!plan.fast.applies) continue;
        fast_formats += mode == fs::Rounding::kNearestEven;
        const Path want = plan.f16c.round_imm >= 0 ? Path::kF16c : Path::kFast;
        for (const bool with_stats : {true, false}) {
          fs::ArrayStats stats;
          fs::FakeQuantF32Array(f, o, in.data(), fq.data(), in.size(), 0, with_stats ? &stats : nullptr, 1);
          CHECK_MESSAGE(fs::simd::LastEncodePath() == want, target << " " << Describe(f, o) << " fake-quant"
                        << (with_stats ? " with" : " without") << " stats ran " << name(fs::simd::LastEncodePath()));
          fs::EncodeF32Array(f, o, in.data(), codes.data(), in.size(), 0, with_stats ? &stats : nullptr, 1);
          CHECK_MESSAGE(fs::simd::LastEncodePath() == want, target << " " << Describe(f, o) << " encode"
                        << (with_stats ? " with" : " without") << " stats ran " << name(fs::simd::LastEncodePath()));
        }
      }
    }
    // f16, bf16, tf32, e5m2, e4m3fn, e4m3, e4m3fnuz, e5m2fnuz, e4m3b11fnuz,
    // e3m4, e2m3fn, e3m2fn, e2m1fn, int8, uint8, int4, uint4 at least.
    CHECK(fast_formats >= 12);
    const fs::Format& f16 = *fs::FindNamedFormat("f16");
    CHECK(fs::MakeEncodePlan(f16, fs::Options{}).f16c.round_imm == 0);
    fs::Options ftz;
    ftz.flush_output = true;
    fs::ArrayStats stats;
    fs::FakeQuantF32Array(f16, ftz, in.data(), fq.data(), in.size(), 0, &stats, 1);
    CHECK(fs::simd::LastEncodePath() == Path::kGeneral);
  });
}

TEST_CASE("encode and fake-quant equal the core: the other formats, every mode, default options") {
  const std::vector<float>& in = SampleInputs();
  for (const fs::Format* f : FormatsUnderTest()) {
    if (IsNamedUpTo16Bits(*f)) continue;  // the 2^24-input case above
    for (fs::Rounding mode : kAllModes) {
      fs::Options o;
      o.rounding = mode;
      o.seed = 0x0123456789abcdefull;
      CheckConfig(*f, o, in);
    }
  }
}

TEST_CASE("encode and fake-quant equal the core under every option") {
  // A 2^18 subset (every 4th input) keeps the many variants quick.
  std::vector<float> in;
  const std::vector<float>& all = SampleInputs();
  for (size_t i = 0; i < all.size(); i += 4) in.push_back(all[i]);
  std::vector<fs::Options> variants;
  for (fs::Rounding mode : kAllModes) {
    fs::Options o;
    o.rounding = mode;
    for (fs::Overflow ov : {fs::Overflow::kIeee, fs::Overflow::kSaturate, fs::Overflow::kNan}) {
      fs::Options v = o;
      v.overflow = ov;
      variants.push_back(v);
    }
    fs::Options v = o;
    v.flush_input = true;
    variants.push_back(v);
    v = o;
    v.flush_output = true;
    variants.push_back(v);
    v = o;
    v.tininess = fs::Tininess::kBeforeRounding;
    variants.push_back(v);
    v = o;
    v.nan_payload = fs::NanPayload::kCanonical;
    v.nan_to_no_nan = fs::NanToNoNan::kZeroOppositeSign;
    variants.push_back(v);
    v = o;
    v.tie_rule_p1 = fs::TieRuleP1::kAway;
    variants.push_back(v);
  }
  for (uint8_t bits : {1, 3, 8, 16, 31}) {
    fs::Options o;
    o.rounding = fs::Rounding::kStochastic;
    o.sr_bits = bits;
    o.seed = 977u * bits;
    variants.push_back(o);
  }
  for (const fs::Format* f : FormatsUnderTest()) {
    if (!fs::IsFloat(*f) && f->bits > 8) continue;  // integers: int8/uint8 and the customs suffice
    for (const fs::Options& o : variants) {
      if (!fs::CheckOptionsFor(*f, o).empty()) continue;  // e.g. wrap on a float format
      CheckConfig(*f, o, in);
    }
  }
  // Integers wrap on request.
  for (const char* name : {"int8", "uint8", "int4", "uint4"}) {
    fs::Options o;
    o.overflow = fs::Overflow::kWrap;
    CheckConfig(*fs::FindNamedFormat(name), o, in);
  }
}

TEST_CASE("decode equals the core on every code") {
  for (const fs::Format* f : FormatsUnderTest()) {
    if (f->bits > 16) continue;
    const size_t n = size_t{1} << f->bits, bytes = fs::CodeBytes(*f);
    std::vector<uint8_t> codes(n * bytes);
    for (size_t i = 0; i < n; ++i) {
      const uint64_t c = i << (bytes == 4 ? f->storage_shift : 0);
      std::memcpy(codes.data() + i * bytes, &c, bytes);
    }
    for (int variant = 0; variant < 3; ++variant) {
      fs::Options o;
      if (variant == 1) o.flush_input = true;
      if (variant == 2) o.nan_payload = fs::NanPayload::kCanonical;
      std::vector<float> want(n);
      fs::scalar::DecodeToF32Array(*f, o, codes.data(), want.data(), n);
      ForEachTarget([&](const std::string& target) {
        std::vector<float> got(n);
        fs::DecodeToF32Array(*f, o, codes.data(), got.data(), n);
        for (size_t i = 0; i < n; ++i)
          if (BitsOf(got[i]) != BitsOf(want[i])) {
            FAIL_CHECK(target << " " << Describe(*f, o) << ": decode of code " << fmt::format("0x{:x}", i)
                              << fmt::format(": simd 0x{:08x} core 0x{:08x}", BitsOf(got[i]), BitsOf(want[i])));
            break;
          }
      });
    }
  }
}

TEST_CASE("array lengths, unaligned pointers, in place, element index offsets") {
  const std::vector<float>& all = SampleInputs();
  const fs::Format& f = *fs::FindNamedFormat("e4m3fn");
  fs::Options o;
  o.rounding = fs::Rounding::kStochastic;
  o.seed = 42;
  ForEachTarget([&](const std::string& target) {
    const size_t lanes = 64;  // beyond any target's lane count
    for (size_t n : {size_t{0}, size_t{1}, size_t{3}, size_t{4}, size_t{5}, size_t{7}, size_t{8}, size_t{9},
                     size_t{15}, size_t{16}, size_t{17}, lanes - 1, lanes, lanes + 1, size_t{1000}}) {
      for (size_t offset : {size_t{0}, size_t{1}, size_t{3}}) {
        // Unaligned: start `offset` floats into the buffer; stochastic index
        // starts at 12345 so a kernel that used the array position would fail.
        std::vector<float> in(all.begin() + 777, all.begin() + 777 + n + offset);
        const std::vector<float> piece(in.begin() + offset, in.end());
        const Reference ref = ScalarReference(f, o, piece, 12345);
        CheckOnTarget(f, o, std::vector<float>(piece), ref, 12345, 1,
                      fmt::format("{} n={} offset={}", target, n, offset));
        std::vector<uint8_t> codes(n + 1, 0xAB);
        fs::EncodeF32Array(f, o, in.data() + offset, codes.data() + 1, n, 12345);
        CHECK_MESSAGE(codes[0] == 0xAB, target << " n=" << n << ": wrote before the output");
        // In place.
        std::vector<float> inplace = in;
        fs::FakeQuantF32Array(f, o, inplace.data() + offset, inplace.data() + offset, n, 12345);
        for (size_t i = 0; i < n; ++i)
          if (BitsOf(inplace[offset + i]) != BitsOf(ref.fq[i])) {
            FAIL_CHECK(target << " n=" << n << " offset=" << offset << ": in-place fake-quant differs at " << i);
            break;
          }
      }
    }
  });
}

TEST_CASE("results do not depend on the thread count") {
  // 3 * 2^20 + 5 elements: several pieces per thread, none a multiple of a
  // vector; stochastic rounding keyed by element index.
  const std::vector<float>& all = SampleInputs();
  std::vector<float> in(3 * all.size() + 5);
  for (size_t i = 0; i < in.size(); ++i) in[i] = all[(i * 7919) % all.size()];
  for (const char* name : {"e4m3fn", "bf16", "int4", "e8m0fnu"}) {
    const fs::Format& f = *fs::FindNamedFormat(name);
    for (fs::Rounding mode : {fs::Rounding::kNearestEven, fs::Rounding::kStochastic}) {
      fs::Options o;
      o.rounding = mode;
      o.seed = 7;
      const Reference ref = ScalarReference(f, o, in, 99);
      for (unsigned threads : {1u, 2u, 3u, 8u, 0u})
        CheckOnTarget(f, o, in, ref, 99, threads, fmt::format("{} {} threads={}", name, fs::RoundingNameOf(mode), threads));
    }
  }
}

namespace {

// Inputs for the stochastic cases below: magnitudes 2^-10 … 2^9 with random
// significands and signs, inexact in every format these cases use and in
// range of most of them (int4 saturates the larger ones), so that their
// rounding depends on the random word (SeedSensitive checks it per case).
// (A slice of SampleInputs shares its top 16 bits: it can be all overflow,
// or all far below the smallest subnormal, where sr rounds the same way
// whatever the word.)
std::vector<float> StochasticInputs(size_t n) {
  std::mt19937 rng(20261205);
  std::vector<float> v(n);
  for (float& x : v) {
    const int e = static_cast<int>(rng() % 19) - 10;
    const float sig = 1.0f + static_cast<float>(rng() & 0x7fffff) * 0x1p-23f;
    x = std::ldexp(sig, e) * ((rng() & 1) ? -1.0f : 1.0f);
  }
  return v;
}

// How many elements of `in` round differently under another seed: a
// stochastic case whose inputs leave this small cannot see a wrong word.
size_t SeedSensitive(const fs::Format& f, fs::Options o, const std::vector<float>& in, uint64_t first) {
  std::vector<uint8_t> a(in.size() * fs::CodeBytes(f)), b(a.size());
  fs::scalar::EncodeF32Array(f, o, in.data(), a.data(), in.size(), first);
  o.seed ^= 0x9e3779b97f4a7c15ull;
  fs::scalar::EncodeF32Array(f, o, in.data(), b.data(), in.size(), first);
  const size_t bytes = fs::CodeBytes(f);
  size_t differ = 0;
  for (size_t i = 0; i < in.size(); ++i) differ += CodeAt(a, bytes, i) != CodeAt(b, bytes, i);
  return differ;
}

}  // namespace

TEST_CASE("stochastic rounding past element index 2^32 (huge arrays and offsets)") {
  // The kernels carry Philox counters as two 32-bit halves; a batch whose
  // counters straddle 2^32 (or 2^33, or sit far above) must take the carry
  // into the high half exactly as the core's 64-bit counter does.
  const std::vector<float> in = StochasticInputs(1000);
  for (const char* name : {"e4m3fn", "bf16", "int8"}) {
    const fs::Format& f = *fs::FindNamedFormat(name);
    for (fs::Rounding mode : {fs::Rounding::kStochastic, fs::Rounding::kStochasticEq}) {
      fs::Options o;
      o.rounding = mode;
      o.seed = 0x1234567890abcdefull;
      for (uint64_t first : {(uint64_t{1} << 32) - 3, (uint64_t{1} << 32) - 500, (uint64_t{1} << 33) - 1,
                             (uint64_t{1} << 40) + 7, ~uint64_t{0} - 2000}) {
        const Reference ref = ScalarReference(f, o, in, first);
        ForEachTarget([&](const std::string& target) {
          CheckOnTarget(f, o, in, ref, first, 1,
                        fmt::format("{} {} {} first index {:#x}", target, name, fs::RoundingNameOf(mode), first));
        });
      }
    }
  }
}

// The December rule (DESIGN.md "Rounding"): element i uses word i mod 4 of
// the Philox call with counter floor(i / 4). The kernels evaluate Philox for
// batches of elements that start at multiples of 4 (4N elements per
// evaluation of N lanes; AVX3 evaluates two at once, 128 elements, AVX2 one,
// 32), run a first index that is not a multiple of 4 as a head of up to
// three elements, and use the last batch of an array in part. Every such
// start and end, on every target, with statistics and without (the fast
// path both ways: its counts of a staged head's lanes included).
TEST_CASE("stochastic rounding: every start index mod 4, every length up to two batches and more") {
  // Lengths 0..300 cover a head alone, whole batches, partial batches and
  // tails on both targets.
  const std::vector<float> pool = StochasticInputs(310);
  const std::vector<uint64_t> firsts = {0, 1, 2, 3, 5, 6, 7, 33, 62};
  // Codes of 1, 2 and 4 bytes (tf32: stored shifted), the fast path and the
  // general kernel alone (e8m0fnu has no fast path).
  for (const char* name : {"e4m3fn", "bf16", "tf32", "int8", "e8m0fnu"}) {
    const fs::Format& f = *fs::FindNamedFormat(name);
    for (fs::Rounding mode : {fs::Rounding::kStochastic, fs::Rounding::kStochasticEq}) {
      fs::Options o;
      o.rounding = mode;
      o.seed = 0xfeedface12345678ull;
      REQUIRE_MESSAGE(SeedSensitive(f, o, pool, 0) > pool.size() / 10, std::string(name));
      for (const uint64_t first : firsts) {
        for (size_t n = 0; n <= 300; ++n) {
          const std::vector<float> in(pool.begin() + static_cast<ptrdiff_t>(first % 8), pool.begin() + static_cast<ptrdiff_t>(first % 8 + n));
          const Reference ref = ScalarReference(f, o, in, first);
          ForEachTarget([&](const std::string& target) {
            CheckOnTarget(f, o, in, ref, first, 1,
                          fmt::format("{} {} {} first index {} n={}", target, name, fs::RoundingNameOf(mode), first, n));
          });
        }
      }
    }
  }
}

TEST_CASE("stochastic rounding: heads and tails near 2^32, 2^33, 2^40 and across the wrap at 2^64") {
  // Counters are 64-bit numbers in two 32-bit halves: a batch whose counters
  // straddle 2^32 carries into the high half; element indices wrap at 2^64
  // (0 mod 4), so counters wrap at 2^62 and index 2^64 - 1 is followed by 0.
  const std::vector<float> in = StochasticInputs(523);  // not a multiple of any batch
  const uint64_t wrap = 0;  // 2^64 as an index
  std::vector<uint64_t> firsts;
  for (const uint64_t edge : {uint64_t{1} << 32, uint64_t{1} << 34, uint64_t{1} << 33, uint64_t{1} << 40, wrap})
    for (const uint64_t back : {1, 2, 3, 4, 5, 64, 67, 130, 261})
      firsts.push_back(edge - back);
  firsts.push_back((uint64_t{1} << 40) + 7);
  for (const char* name : {"e4m3fn", "bf16", "int8"}) {
    const fs::Format& f = *fs::FindNamedFormat(name);
    for (fs::Rounding mode : {fs::Rounding::kStochastic, fs::Rounding::kStochasticEq}) {
      fs::Options o;
      o.rounding = mode;
      o.seed = 0x1234567890abcdefull;
      REQUIRE_MESSAGE(SeedSensitive(f, o, in, 0) > in.size() / 10, std::string(name));
      for (const uint64_t first : firsts) {
        const Reference ref = ScalarReference(f, o, in, first);
        ForEachTarget([&](const std::string& target) {
          CheckOnTarget(f, o, in, ref, first, 1,
                        fmt::format("{} {} {} first index {:#x}", target, name, fs::RoundingNameOf(mode), first));
        });
      }
    }
  }
}

TEST_CASE("stochastic rounding: an array cut into pieces anywhere gives the bits of one call") {
  // Pieces keep their global element indices (first_index), as callers that
  // block or chunk an array do; cuts fall at every residue mod 4 and inside
  // batches. Threads cut at multiples of 64 (emulate/array_ops.cc): the
  // thread-count case above.
  const std::vector<float> in = StochasticInputs(4099);
  const uint64_t first = 1000003;  // 3 mod 4
  std::mt19937 rng(17);
  for (const char* name : {"e4m3fn", "f16", "int4"}) {
    const fs::Format& f = *fs::FindNamedFormat(name);
    const size_t bytes = fs::CodeBytes(f);
    for (fs::Rounding mode : {fs::Rounding::kStochastic, fs::Rounding::kStochasticEq}) {
      fs::Options o;
      o.rounding = mode;
      o.seed = 5;
      REQUIRE_MESSAGE(SeedSensitive(f, o, in, first) > in.size() / 10, std::string(name));
      ForEachTarget([&](const std::string& target) {
        std::vector<uint8_t> whole(in.size() * bytes);
        std::vector<float> whole_fq(in.size());
        fs::EncodeF32Array(f, o, in.data(), whole.data(), in.size(), first);
        fs::FakeQuantF32Array(f, o, in.data(), whole_fq.data(), in.size(), first);
        for (int cutting = 0; cutting < 20; ++cutting) {
          std::vector<uint8_t> cut(in.size() * bytes);
          std::vector<float> cut_fq(in.size());
          for (size_t b = 0; b < in.size();) {
            const size_t len = std::min<size_t>(in.size() - b, 1 + rng() % (cutting < 10 ? 13 : 300));
            fs::EncodeF32Array(f, o, in.data() + b, cut.data() + b * bytes, len, first + b);
            fs::FakeQuantF32Array(f, o, in.data() + b, cut_fq.data() + b, len, first + b);
            b += len;
          }
          const std::string what = fmt::format("{} {} {} cutting {}", target, name, fs::RoundingNameOf(mode), cutting);
          CHECK_MESSAGE(cut == whole, (what + ": encode"));
          CHECK_MESSAGE(std::memcmp(cut_fq.data(), whole_fq.data(), 4 * in.size()) == 0, (what + ": fake-quant"));
        }
      });
    }
  }
}

TEST_CASE("the stochastic checks fail for a kernel that draws the wrong words") {
  // Mutants of the rule, each written as the core's rule at another element
  // index (index j uses word j mod 4 of call floor(j / 4)): words swapped in
  // pairs (i ^ 1), in reverse (i ^ 3), the old rule (one call per element,
  // word 0 of counter i: index 4i), and words shifted by one call (i + 4).
  // The kernels must equal the rule and differ from every mutant in many
  // elements, so the comparisons above can catch each of these mistakes.
  const std::vector<float> in = StochasticInputs(4096);
  const fs::Format& f = *fs::FindNamedFormat("bf16");
  const uint64_t first = 4098;  // a head of two
  struct Mutant {
    const char* what;
    uint64_t (*index)(uint64_t);
  };
  const Mutant mutants[] = {
      {"words swapped in pairs", [](uint64_t i) { return i ^ 1; }},
      {"words reversed", [](uint64_t i) { return i ^ 3; }},
      {"the old rule (counter i, word 0)", [](uint64_t i) { return 4 * i; }},
      {"the next call's words", [](uint64_t i) { return i + 4; }},
  };
  for (fs::Rounding mode : {fs::Rounding::kStochastic, fs::Rounding::kStochasticEq}) {
    fs::Options o;
    o.rounding = mode;
    o.seed = 77;
    std::vector<float> want(in.size());
    fs::scalar::FakeQuantF32Array(f, o, in.data(), want.data(), in.size(), first);
    size_t inexact = 0;
    for (size_t i = 0; i < in.size(); ++i) inexact += fs::EncodeFromF32(f, in[i], o, first + i).flags & fs::kInexact ? 1 : 0;
    REQUIRE(inexact > 1000);
    ForEachTarget([&](const std::string& target) {
      for (const bool with_stats : {false, true}) {
        std::vector<float> got(in.size());
        fs::ArrayStats stats;
        fs::FakeQuantF32Array(f, o, in.data(), got.data(), in.size(), first, with_stats ? &stats : nullptr);
        CHECK_MESSAGE(std::memcmp(got.data(), want.data(), 4 * in.size()) == 0,
                      fmt::format("{} {} with stats {}", target, fs::RoundingNameOf(mode), with_stats));
        for (const Mutant& m : mutants) {
          size_t differ = 0;
          for (size_t i = 0; i < in.size(); ++i) {
            const fs::Result r = fs::EncodeFromF32(f, in[i], o, m.index(first + i));
            differ += BitsOf(fs::DecodeToF32(f, r.code, fs::Options{})) != BitsOf(got[i]);
          }
          // Under a mutant an inexact element rounds the other way with
          // probability 2p(1 - p) (independent words, p its chance to round
          // up): 1/2 for sr-eq, a third for sr over uniform fractions.
          CHECK_MESSAGE(differ > inexact / 8, fmt::format("{} {}: {} differs in {} of {} inexact elements", target,
                                                          fs::RoundingNameOf(mode), m.what, differ, inexact));
        }
      }
    });
  }
}

TEST_CASE("streaming stores (outputs past the last-level cache): every output alignment and start index") {
  // The threshold lowered to one byte, so these small arrays take the
  // streaming fake-quant loop wherever their alignment allows it (the head
  // up to the first aligned output element must end on a multiple of 4 for
  // stochastic rounding), and the plain loop elsewhere.
  struct Restore {
    ~Restore() { fs::simd::SetStreamMinBytesForTest(0); }
  } restore;
  fs::simd::SetStreamMinBytesForTest(1);
  std::vector<float> pool = StochasticInputs(1200);
  const std::vector<float>& sample = SampleInputs();
  pool.insert(pool.end(), sample.begin() + 300000, sample.begin() + 301200);  // specials, subnormals, overflow
  for (const char* name : {"e4m3fn", "f16", "bf16", "e2m1fn", "int8"}) {
    const fs::Format& f = *fs::FindNamedFormat(name);
    for (fs::Rounding mode : {fs::Rounding::kNearestEven, fs::Rounding::kTowardZero, fs::Rounding::kStochastic,
                              fs::Rounding::kStochasticEq}) {
      fs::Options o;
      o.rounding = mode;
      o.seed = 77;
      for (const uint64_t first : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{3}, uint64_t{6}}) {
        for (const size_t n : {size_t{5}, size_t{16}, size_t{17}, size_t{100}, size_t{2400}}) {
          const std::vector<float> in(pool.begin() + static_cast<ptrdiff_t>(first), pool.begin() + static_cast<ptrdiff_t>(first + n));
          const Reference ref = ScalarReference(f, o, in, first);
          ForEachTarget([&](const std::string& target) {
            for (size_t shift = 0; shift < 16; ++shift) {
              // out = a 64-byte aligned buffer + shift floats, guarded on both sides.
              std::vector<float> buf(n + 64, -7.0f);
              float* base = buf.data();
              while (reinterpret_cast<uintptr_t>(base) % 64 != 0) ++base;
              float* out = base + shift;
              const float* end = buf.data() + buf.size();
              REQUIRE(out + n + 1 <= end);
              for (const bool with_stats : {true, false}) {
                std::fill(buf.begin(), buf.end(), -7.0f);
                fs::ArrayStats st;
                fs::FakeQuantF32Array(f, o, in.data(), out, n, first, with_stats ? &st : nullptr, 1);
                const std::string where = fmt::format("{} {} {} first {} n={} shift={}{}", target, name,
                                                      fs::RoundingNameOf(mode), first, n, shift,
                                                      with_stats ? " (stats)" : "");
                for (size_t i = 0; i < n; ++i)
                  if (BitsOf(out[i]) != BitsOf(ref.fq[i])) {
                    FAIL_CHECK(where << ": differs at " << i);
                    break;
                  }
                for (const float* q = buf.data(); q < end; ++q)
                  if ((q < out || q >= out + n) && BitsOf(*q) != BitsOf(-7.0f)) {
                    FAIL_CHECK(where << ": wrote outside the output at " << (q - out));
                    break;
                  }
                if (with_stats && !(st == ref.fq_stats))
                  FAIL_CHECK(where << ": stats differ:\n  simd " << StatsText(st) << "\n  core " << StatsText(ref.fq_stats));
              }
            }
          });
        }
      }
    }
  }
}
