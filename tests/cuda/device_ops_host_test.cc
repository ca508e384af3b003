// The device code of cuda/ compiled for the host and compared with emulate/:
// the one-lane general conversion (emulate/encode_lanes.h with
// lanes::ScalarTags, what a thread of the "fast"/"plan" kernels runs) with
// the scalar core, the
// per-tensor / MX / NVFP4 kernels' sequence of emulate/quant's FS_HD steps
// (float32 amax, the MX element format a local copy) with emulate/quant's
// Quantize, and the GEMM kernel's call of emulate/dot.h (its
// GemmElement on uint32 codes, the model's sum format a local copy) with
// emulate/dot.h's Gemm. Needs no GPU and no nvcc: it runs in CI everywhere.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cfenv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include "cuda/device_ops.h"
#include "cuda/gemm_block_fixed.h"
#include "cuda/gemm_float_window.h"
#include "cuda/stochastic.h"
#include "emulate/array_ops.h"
#include "emulate/encode_lanes.h"
#include "emulate/quant/fp8_scaling.h"
#include "emulate/quant/mx.h"
#include "emulate/quant/nvfp4.h"
#include "formats/names.h"
#include "formats/spec_parser.h"
#include "tests/cuda/cases.h"

using namespace floatscope;
using namespace floatscope::cuda_test;

namespace {

// One element through the one-lane build of emulate/encode_lanes.h, as a
// thread of cuda/kernels.cu's FastEncodeOp/FastDecodeOp runs it (the mode a
// compile-time constant there too).
template <Rounding kMode>
lanes::Lanes<lanes::ScalarTags> LaneEncode(const EncodePlan& p, uint32_t bits, uint32_t random) {
  return lanes::EncodeLanes<lanes::ScalarTags>(p, bits, random, kMode);
}
uint32_t LaneDecode(const EncodePlan& p, uint32_t code) { return lanes::DecodeLanes<lanes::ScalarTags>(p, code); }

// The random word a stochastic mode reads for element `index`; any other
// mode gets a word too (it must ignore it).
uint32_t WordOf(const Options& opt, uint64_t index) {
  return IsStochastic(opt.rounding) ? StochasticBits(opt.seed, index)
                                    : static_cast<uint32_t>((index + 1) * 0x9E3779B97F4A7C15ull >> 32);
}

// What ArrayStats counts for one element, from the lanes' flags and masks.
void Tally(const lanes::Lanes<lanes::ScalarTags>& l, ArrayStats* st) {
  ++st->elements;
  st->inexact += (l.flags & kInexact) != 0;
  st->underflow += (l.flags & kUnderflow) != 0;
  st->overflow += (l.flags & kOverflow) != 0;
  st->invalid += (l.flags & kInvalid) != 0;
  st->saturated += l.saturated;
  st->flushed += l.flushed;
  st->nan += l.is_nan;
}

std::string StatsText(const ArrayStats& s) {
  return fmt::format("n {} inexact {} underflow {} overflow {} invalid {} saturated {} flushed {} nan {}", s.elements,
                     s.inexact, s.underflow, s.overflow, s.invalid, s.saturated, s.flushed, s.nan);
}

// The one-lane conversion of xs (element i has index first + i) against the
// core: codes, flags and fake quantization element by element, and the
// statistics of the lanes (saturated, flushed, NaN included) against the
// core's array statistics (scalar::EncodeF32Array). Decoding: every code
// with DAZ as the options say, where the format has at most 2^20 codes (once
// per policy: in the rne pass).
// Returns the number of mismatches (the first few reported).
template <Rounding kMode>
uint64_t CheckLanes(const Format& f, const Options& opt, const std::vector<float>& xs, uint64_t first) {
  REQUIRE(opt.rounding == kMode);
  const EncodePlan enc = MakeEncodePlan(f, opt);
  EncodePlan fq = enc;
  fq.decode.flush_subnormals = false;  // as FakeQuantF32Array (and cuda/kernels.cu)
  const Options fq_dec = gpu::FakeQuantDecodeOptions(opt);
  uint64_t bad = 0;
  ArrayStats mine;
  for (size_t i = 0; i < xs.size(); ++i) {
    const uint64_t index = first + i;
    const Result want = EncodeFromF32(f, xs[i], opt, index);
    const auto got = LaneEncode<kMode>(enc, Bits(xs[i]), WordOf(opt, index));
    Tally(got, &mine);
    const uint32_t got_fq = LaneDecode(fq, got.code);
    const uint32_t want_fq = Bits(DecodeToF32(f, want.code, fq_dec));
    if ((got.code != want.code || got.flags != want.flags || got_fq != want_fq) && bad++ < 3)
      FAIL_CHECK(fmt::format("{} {} input 0x{:08x} index {}: lanes 0x{:x}/flags {}/0x{:08x}, "
                             "core 0x{:x}/flags {}/0x{:08x}",
                             f.name, RoundingNameOf(kMode), Bits(xs[i]), index, got.code, got.flags, got_fq, want.code,
                             want.flags, want_fq));
  }
  ArrayStats want_stats;
  std::vector<uint8_t> codes(xs.size() * CodeBytes(f));
  scalar::EncodeF32Array(f, opt, xs.data(), codes.data(), xs.size(), first, &want_stats);
  if (!(mine == want_stats) && bad++ < 6)
    FAIL_CHECK(fmt::format("{} {} statistics: lanes {}, core {}", f.name, RoundingNameOf(kMode), StatsText(mine),
                           StatsText(want_stats)));
  if (kMode == Rounding::kNearestEven && f.bits <= 20) {
    const Options dec = gpu::DecodeOptions(opt);
    for (uint64_t c = 0; c < (uint64_t{1} << f.bits); ++c) {
      const uint32_t want = Bits(DecodeToF32(f, c, dec));
      const uint32_t got = LaneDecode(enc, static_cast<uint32_t>(c));
      if (got != want && bad++ < 6)
        FAIL_CHECK(fmt::format("{} decode 0x{:x}: lanes 0x{:08x}, core 0x{:08x}", f.name, c, got, want));
    }
  }
  return bad;
}

// The named formats of at most 19 bits the general conversion covers, and
// others: a wider mantissa, no infinities/subnormals, no mantissa bits,
// small integers, unsigned floats with and without a zero (negative tiny
// inputs under FTZ), the lowest quantum the general conversion takes
// (2^-149: m = 22, emin = -127), and IEEE P3109 members (unsigned with a
// zero, the unsigned +inf 11..10, P = 1, K < 8).
std::vector<const Format*> LaneFormats() {
  std::vector<const Format*> out;
  for (const Format& f : formats::kAll)
    if (f.bits <= 19 && SimdSupports(f)) out.push_back(&f);
  std::string why;
  for (const char* spec :
       {"e5m6", "e4m3:bias=9,inf=no,nan=ones,subnormals=no", "e3m2:subnormals=no", "e3m0:inf=no,nan=ones", "int6",
        "uint3", "e4m3:signed=no", "e5m2:signed=no,inf=no,subnormals=no", "e8m7:signed=no,zero=no",
        "e1m22:bias=128,inf=no,nan=none", "e2m22:signed=no,bias=128,inf=no,nan=ones", "binary8p3ue", "binary8p1ue",
        "binary8p1uf", "binary6p2uf", "binary5p5ue", "binary8p4sf", "binary8p1se", "binary4p2se"}) {
    const Format* f = ResolveFormat(spec, &why);
    CHECK_MESSAGE(f != nullptr, spec, ": ", why);
    if (f && SimdSupports(*f)) out.push_back(f);
    else CHECK_MESSAGE(false, spec, " is outside SimdSupports");
  }
  return out;
}

// The policy variants the one-lane conversion is checked under: the
// defaults, saturating (floats) or wrapping (integers) overflow, DAZ and FTZ,
// tininess before rounding with FTZ and 5 random bits, canonical NaNs with
// NaN overflow and another seed.
std::vector<Options> PolicyVariants(const Format& f) {
  std::vector<Options> variants(5);
  variants[1].overflow = IsFloat(f) ? Overflow::kSaturate : Overflow::kWrap;
  variants[2].flush_input = variants[2].flush_output = true;
  variants[3].tininess = Tininess::kBeforeRounding;
  variants[3].flush_output = true;
  variants[3].sr_bits = 5;
  variants[4].nan_payload = NanPayload::kCanonical;
  variants[4].seed = 0x123456789abcull;
  if (IsFloat(f) && HasNan(f)) variants[4].overflow = Overflow::kNan;
  return variants;
}

// Random float32 patterns per (format, policy, mode) in the named-format
// test, besides InterestingInputs' edges: FLOATSCOPE_LANES_SAMPLES, default
// 2^16.
size_t LaneSamples() {
  const char* s = std::getenv("FLOATSCOPE_LANES_SAMPLES");
  return s ? static_cast<size_t>(std::strtoull(s, nullptr, 0)) : size_t{1} << 16;
}

}  // namespace

TEST_CASE("the one-lane general conversion (emulate/encode_lanes.h) equals the core: formats, modes, policy variants") {
  const std::vector<float> xs = InterestingInputs(1 << 12, 7);
  for (const Format* f : LaneFormats()) {
    for (Options opt : PolicyVariants(*f)) {
      ForEachMode([&](auto mode) {
        opt.rounding = decltype(mode)::value;
        CHECK(CheckLanes<decltype(mode)::value>(*f, opt, xs, 1000) == 0);
      });
    }
  }
}

TEST_CASE("the one-lane general conversion equals the core: every named format x mode x policy, a large sample") {
  // Every format of formats::kAll the general conversion covers (all but
  // f32 and f64: SimdSupports), the ones the compile-time kernels of
  // cuda/named_convert.h do not cover included. Stochastic modes read each
  // element's word from a random index.
  const size_t samples = LaneSamples();
  std::mt19937_64 rng(20261207);
  uint64_t bad = 0, checked = 0;
  std::vector<std::string> outside;
  for (const Format& f : formats::kAll) {
    if (!SimdSupports(f)) {
      outside.push_back(f.name);
      continue;
    }
    const std::vector<float> xs = InterestingInputs(samples, static_cast<uint32_t>(rng()));
    for (Options opt : PolicyVariants(f)) {
      ForEachMode([&](auto mode) {
        CAPTURE(f.name);
        opt.rounding = decltype(mode)::value;
        opt.seed = rng();
        bad += CheckLanes<decltype(mode)::value>(f, opt, xs, rng());
        checked += xs.size();
      });
    }
  }
  MESSAGE(fmt::format("{} conversions checked; outside the general conversion: {}", checked,
                      fmt::join(outside, ", ")));
  CHECK(outside == std::vector<std::string>{"f64", "f32"});
  CHECK(bad == 0);
}

namespace {

// Checks the one-lane conversion on all 2^32 float32 inputs (input bits b
// has index b) against `reference`: "core", the scalar core element by
// element (code, flags, fake quantization; NaN and saturation from the
// code, nothing flushed), or "simd", the Highway kernels (EncodeF32Array
// and FakeQuantF32Array, themselves proven equal to the core on all inputs:
// exhaustive_simd), codes and fake quantization element by element and the
// statistics. Returns the number of mismatches.
template <Rounding kMode>
uint64_t CheckLanesExhaustive(const Format& f, const Options& opt, bool core, unsigned threads) {
  const EncodePlan enc = MakeEncodePlan(f, opt);
  EncodePlan fq = enc;
  fq.decode.flush_subnormals = false;
  const Options fq_dec = gpu::FakeQuantDecodeOptions(opt);
  constexpr uint64_t kChunk = uint64_t{1} << 20;
  std::atomic<uint64_t> next{0}, bad{0};
  std::mutex report;
  ArrayStats mine_all, ref_all;
  auto worker = [&] {
    std::vector<float> in(kChunk), out(kChunk);
    std::vector<uint8_t> codes(kChunk * CodeBytes(f));
    ArrayStats mine, ref;
    auto fail = [&](const std::string& what) {
      if (bad++ < 5) {
        std::lock_guard<std::mutex> lock(report);
        FAIL_CHECK(what);
      }
    };
    for (uint64_t base; (base = next.fetch_add(kChunk)) < (uint64_t{1} << 32);) {
      for (uint64_t i = 0; i < kChunk; ++i) in[i] = F32FromBits(static_cast<uint32_t>(base + i));
      if (!core) {
        EncodeF32Array(f, opt, in.data(), codes.data(), kChunk, base, &ref, 1);
        FakeQuantF32Array(f, opt, in.data(), out.data(), kChunk, base, nullptr, 1);
      }
      for (uint64_t i = 0; i < kChunk; ++i) {
        const uint32_t bits = static_cast<uint32_t>(base + i);
        const auto got = LaneEncode<kMode>(enc, bits, WordOf(opt, base + i));
        Tally(got, &mine);
        const uint32_t got_fq = LaneDecode(fq, got.code);
        if (core) {
          const Result want = EncodeFromF32(f, in[i], opt, base + i);
          const uint32_t want_fq = Bits(DecodeToF32(f, want.code, fq_dec));
          const bool saturated = IsFloat(f) && (want.flags & kOverflow) &&
                                 (want.code & MagnitudeMask(f)) == MaxFiniteMagnitude(f);
          if (got.code != want.code || got.flags != want.flags || got_fq != want_fq ||
              got.is_nan != IsNanCode(f, want.code) || got.saturated != saturated ||
              (got.flushed && !opt.flush_output))
            fail(fmt::format("{} {} input 0x{:08x}: lanes 0x{:x}/flags {}/0x{:08x}, core 0x{:x}/flags {}/0x{:08x}",
                             f.name, RoundingNameOf(kMode), bits, got.code, got.flags, got_fq, want.code, want.flags,
                             want_fq));
        } else {
          uint64_t stored = 0;
          switch (CodeBytes(f)) {
            case 1: stored = codes[i]; break;
            case 2: stored = reinterpret_cast<const uint16_t*>(codes.data())[i]; break;
            default: stored = reinterpret_cast<const uint32_t*>(codes.data())[i]; break;
          }
          const uint64_t got_stored = uint64_t{got.code} << f.storage_shift;
          if (got_stored != stored || got_fq != Bits(out[i]))
            fail(fmt::format("{} {} input 0x{:08x}: lanes 0x{:x}/0x{:08x}, simd 0x{:x}/0x{:08x}", f.name,
                             RoundingNameOf(kMode), bits, got_stored, got_fq, stored, Bits(out[i])));
        }
      }
    }
    std::lock_guard<std::mutex> lock(report);
    mine_all += mine;
    ref_all += ref;
  };
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (std::thread& t : pool) t.join();
  CHECK(mine_all.elements == uint64_t{1} << 32);
  if (!core && !(mine_all == ref_all)) {
    ++bad;
    FAIL_CHECK(fmt::format("{} {} statistics: lanes {}, simd {}", f.name, RoundingNameOf(kMode), StatsText(mine_all),
                           StatsText(ref_all)));
  }
  MESSAGE(fmt::format("{} {}: {}", f.name, RoundingNameOf(kMode), StatsText(mine_all)));
  return bad;
}

}  // namespace

TEST_CASE("the one-lane general conversion on all 2^32 float32 inputs (on demand)") {
  // FLOATSCOPE_LANES_EXHAUSTIVE=e8m0fnu,binary8p1:sr,... (format or
  // format:mode, every mode where none is given), default options with seed
  // 42; FLOATSCOPE_LANES_REFERENCE=core (default) or simd;
  // FLOATSCOPE_TEST_THREADS threads (default 2). About 2^32 core
  // conversions per entry: minutes per entry and thread.
  const char* list = std::getenv("FLOATSCOPE_LANES_EXHAUSTIVE");
  if (!list) {
    MESSAGE("skipped: set FLOATSCOPE_LANES_EXHAUSTIVE to run");
    return;
  }
  const char* ref = std::getenv("FLOATSCOPE_LANES_REFERENCE");
  const bool core = !ref || std::string(ref) == "core";
  REQUIRE((core || std::string(ref) == "simd"));
  const char* t = std::getenv("FLOATSCOPE_TEST_THREADS");
  const unsigned threads = t ? static_cast<unsigned>(std::max(1L, std::strtol(t, nullptr, 10))) : 2u;
  std::string_view rest = list;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view entry = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    const size_t colon = entry.find(':');
    std::string why;
    const Format* f = ResolveFormat(std::string(entry.substr(0, colon)), &why);
    REQUIRE_MESSAGE(f != nullptr, why);
    REQUIRE(SimdSupports(*f));
    std::optional<Rounding> only;
    if (colon != std::string_view::npos) {
      only = ParseRounding(entry.substr(colon + 1));
      REQUIRE_MESSAGE(only.has_value(), entry);
    }
    ForEachMode([&](auto mode) {
      constexpr Rounding kMode = decltype(mode)::value;
      if (only && *only != kMode) return;
      Options opt;
      opt.rounding = kMode;
      opt.seed = 42;
      const auto start = std::chrono::steady_clock::now();
      CHECK(CheckLanesExhaustive<kMode>(*f, opt, core, threads) == 0);
      MESSAGE(fmt::format("{} {} against the {}: all 2^32 inputs in {:.0f} s ({} threads)", f->name,
                          RoundingNameOf(kMode), core ? "core" : "Highway kernels",
                          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), threads));
    });
  }
}

TEST_CASE("SrGroupsOf: the groups of four indices that a slice of an array touches") {
  // Each element's group is the counter of its index, and every group in
  // the span holds at least one element of [begin, n).
  for (const uint64_t first : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{3}, uint64_t{1000}, uint64_t{1001},
                               (uint64_t{1} << 34) - 5, ~uint64_t{0} - 40})
    for (size_t n = 0; n < 14; ++n)
      for (size_t begin = 0; begin <= n + 1; ++begin) {
        const gpu::SrGroups g = gpu::SrGroupsOf(first, begin, n);
        if (begin >= n) {
          CHECK(g.count == 0);
          continue;
        }
        for (size_t j = begin; j < n; ++j) {
          const uint64_t c = StochasticCounter(first + j);
          CHECK(c >= g.first);
          CHECK(c < g.first + g.count);
        }
        for (uint64_t c = g.first; c < g.first + g.count; ++c) {
          bool any = false;
          for (uint64_t k = 0; k < 4; ++k) {
            const uint64_t j = 4 * c + k - first;
            any |= j >= begin && j < n;
          }
          CHECK(any);
        }
      }
}

TEST_CASE("VectorSplitOf and GroupRangesOf: the peel, the float4 loops and the group loop cover each element once") {
  // Every element of [0, n) is converted exactly once: by the group loop
  // (head or tail, each element in its own index's group) or by a float4
  // whose four elements are one group (stochastic) and whose input and
  // output addresses are aligned for 16-byte and 4-output accesses.
  for (const size_t out_bytes : {size_t{1}, size_t{2}, size_t{4}})
    for (const bool shared : {false, true})
      for (uintptr_t in = 4096; in < 4096 + 16; in += 4)
        for (uintptr_t out = 8192; out < 8192 + 4 * out_bytes; out += out_bytes)
          for (const uint64_t first : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{3}, uint64_t{1001},
                                       (uint64_t{1} << 34) - 6})
            for (size_t n = 0; n < 14; ++n) {
              CAPTURE(out_bytes);
              CAPTURE(shared);
              CAPTURE(in % 16);
              CAPTURE(out % (4 * out_bytes));
              CAPTURE(first);
              CAPTURE(n);
              const gpu::VectorSplit split = gpu::VectorSplitOf(in, out, out_bytes, n, first, shared);
              const size_t peel = split.vector ? split.peel : 0;
              CHECK(peel < 4);
              const size_t n4 = split.vector ? (n - peel) / 4 : 0;
              std::vector<int> seen(n, 0);
              for (size_t v = 0; v < n4; ++v) {
                const size_t j = peel + 4 * v;
                CHECK((in + 4 * j) % 16 == 0);
                CHECK((out + out_bytes * j) % (4 * out_bytes) == 0);
                if (shared) CHECK((first + j) % 4 == 0);
                for (size_t k = 0; k < 4; ++k) ++seen[j + k];
              }
              const gpu::GroupRanges rest = gpu::GroupRangesOf(first, peel, n4, n);
              for (uint64_t g = 0; g < rest.head.count + rest.tail.count; ++g) {
                const bool head = g < rest.head.count;
                const uint64_t counter = head ? rest.head.first + g : rest.tail.first + (g - rest.head.count);
                const size_t lo = head ? 0 : rest.tail_begin, hi = head ? rest.head_end : n;
                for (uint64_t k = 0; k < 4; ++k) {
                  const size_t j = static_cast<size_t>(4 * counter + k - first);
                  if (j < lo || j >= hi) continue;
                  CHECK(StochasticCounter(first + j) == counter);
                  ++seen[j];
                }
              }
              for (size_t j = 0; j < n; ++j) CHECK(seen[j] == 1);
              // Matching misalignment always finds its peel: the pointers
              // of a slice of an aligned tensor.
              if (n >= 4 && (in % 16) / 4 == (out % (4 * out_bytes)) / out_bytes &&
                  (!shared || (first + (4 - (in % 16) / 4) % 4) % 4 == 0))
                CHECK(split.vector);
            }
}

TEST_CASE("the per-tensor FP8 kernel's steps equal emulate/quant's Quantize (scheme tensor)") {
  for (const Format* f : {&formats::kE4m3fn, &formats::kE5m2, &formats::kF16, &formats::kE3m4}) {
    for (const bool specials : {false, true})
      for (const auto& [margin, pow2] : std::vector<std::pair<int, bool>>{{0, false}, {2, true}, {-3, false}})
        for (const Rounding r : {Rounding::kNearestEven, Rounding::kTowardZero, Rounding::kStochastic}) {
          CAPTURE(f->name);
          CAPTURE(specials);
          CAPTURE(margin);
          Options opt;
          opt.rounding = r;
          opt.seed = 42;
          const std::vector<float> x = TensorInputs(4099, 3, specials, 0.02f);
          const quant::QuantResult cpu = CpuQuantize(*f, quant::Scheme::kTensor, opt, {x.size()}, x, margin, pow2);
          float amax = 0.0f;
          for (const float v : x) amax = quant::FmaxF32(amax, quant::AbsF32(v));
          // TensorScaleKernel
          const float scale = quant::Fp8ScaleFromAmax(*f, static_cast<double>(amax), {margin, pow2}, 1.0f);
          const float scale_inv = quant::Fp8ScaleInverse(scale);
          REQUIRE(cpu.scales.size() == 1);
          CHECK(Bits(cpu.scales[0]) == Bits(scale_inv));
          Options eopt = opt;
          eopt.overflow = Overflow::kSaturate;
          int bad = 0;
          for (size_t i = 0; i < x.size(); ++i) {
            const uint64_t code = quant::Fp8Encode(*f, eopt, static_cast<double>(x[i]), scale, i).code;
            const float y = quant::Fp8Decode(*f, code, scale_inv);
            if ((code != cpu.codes[i] || Bits(y) != Bits(cpu.dequantized[i])) && bad++ < 3)
              FAIL_CHECK(fmt::format("element {} x 0x{:08x}: 0x{:x} / 0x{:08x}, cpu 0x{:x} / 0x{:08x}", i, Bits(x[i]),
                                     code, Bits(y), cpu.codes[i], Bits(cpu.dequantized[i])));
          }
        }
  }
}

TEST_CASE("the MX and NVFP4 kernels' steps equal emulate/quant's Quantize (schemes mx and nvfp4, last axis)") {
  const size_t rows = 5, cols = 70;  // blocks of 32 and 16 with a short last block
  for (const bool specials : {false, true}) {
    const std::vector<float> x = TensorInputs(rows * cols, 11, specials, 3.0f);
    for (const char* name : {"e4m3fn", "e5m2", "e2m3fn", "e3m2fn", "e2m1fn", "int8"}) {
      const Format& f = *FindNamedFormat(name);
      for (const Rounding r : {Rounding::kNearestEven, Rounding::kStochastic}) {
        CAPTURE(name);
        CAPTURE(specials);
        Options opt;
        opt.rounding = r;
        const quant::QuantResult cpu = CpuQuantize(f, quant::Scheme::kMx, opt, {rows, cols}, x);
        // MxKernel: the type found by name, its element format a local copy.
        const Format elem = f;
        quant::MxType t = *quant::FindMxType(name);
        t.elem = &elem;
        Options eopt = opt;
        eopt.overflow = Overflow::kSaturate;
        const size_t per_row = (cols + 31) / 32;
        int bad = 0;
        for (size_t row = 0; row < rows; ++row)
          for (size_t b = 0; b < per_row; ++b) {
            float amax = 0;
            bool special = false;
            for (size_t c = b * 32; c < std::min(cols, b * 32 + 32); ++c) {
              const float v = x[row * cols + c];
              if (quant::IsNanF32(v) || quant::IsInfF32(v)) special = true;
              else amax = quant::FmaxF32(amax, quant::AbsF32(v));
            }
            const quant::MxScale sc = quant::MxSharedScale(t, static_cast<double>(amax), special);
            CHECK(sc.code == cpu.scale_codes[row * per_row + b]);
            for (size_t c = b * 32; c < std::min(cols, b * 32 + 32); ++c) {
              const size_t e = row * cols + c;
              const uint64_t code = quant::MxEncodeElement(t, eopt, static_cast<double>(x[e]), sc, e).code;
              const float y = quant::MxDecodeElement(t, code, sc);
              if ((code != cpu.codes[e] || Bits(y) != Bits(cpu.dequantized[e])) && bad++ < 3)
                FAIL_CHECK(fmt::format("element {}: 0x{:x}/0x{:08x}, cpu 0x{:x}/0x{:08x}", e, code, Bits(y),
                                       cpu.codes[e], Bits(cpu.dequantized[e])));
            }
          }
      }
    }
    // NVFP4
    for (const Rounding r : {Rounding::kNearestEven, Rounding::kStochastic}) {
      Options opt;
      opt.rounding = r;
      const quant::QuantResult cpu = CpuQuantize(formats::kE2m1fn, quant::Scheme::kNvfp4, opt, {rows, cols}, x);
      float amax = 0;
      for (const float v : x) amax = quant::FmaxF32(amax, quant::AbsF32(v));
      const float s_enc = quant::Nvfp4GlobalEncodeScale(amax), s_dec = quant::Nvfp4GlobalDecodeScale(s_enc);
      REQUIRE(cpu.global_decode_scale.has_value());
      CHECK(Bits(*cpu.global_decode_scale) == Bits(s_dec));
      Options eopt = opt;
      eopt.overflow = Overflow::kSaturate;
      const size_t per_row = (cols + 15) / 16;
      int bad = 0;
      for (size_t row = 0; row < rows; ++row)
        for (size_t b = 0; b < per_row; ++b) {
          float bmax = 0;
          for (size_t c = b * 16; c < std::min(cols, b * 16 + 16); ++c)
            bmax = quant::FmaxF32(bmax, quant::AbsF32(x[row * cols + c]));
          const uint8_t sc = quant::Nvfp4BlockScaleCode(bmax, s_enc);
          CHECK(sc == cpu.scale_codes[row * per_row + b]);
          const float k = quant::Nvfp4BlockEncodeScale(sc, s_dec);
          for (size_t c = b * 16; c < std::min(cols, b * 16 + 16); ++c) {
            const size_t e = row * cols + c;
            const uint64_t code = quant::Nvfp4EncodeElement(eopt, x[e], k, e).code;
            const float y = quant::Nvfp4DecodeElement(code, sc, s_dec);
            if ((code != cpu.codes[e] || Bits(y) != Bits(cpu.dequantized[e])) && bad++ < 3)
              FAIL_CHECK(fmt::format("nvfp4 element {}: 0x{:x}/0x{:08x}, cpu 0x{:x}/0x{:08x}", e, code, Bits(y),
                                     cpu.codes[e], Bits(cpu.dequantized[e])));
          }
        }
    }
  }
}

namespace {

// What GemmKernel (cuda/kernels.cu) does for C(i, j), on the host: the
// codes as uint32 words, the model's sum and operand formats replaced by
// copies of them.
Result KernelElement(const Format& in_a, const std::vector<uint32_t>& a, const Format& in_b,
                     const std::vector<uint32_t>& b, size_t i, size_t j, size_t n, size_t k, const Format& acc,
                     DotModel model, const Options& opt, uint64_t first_index) {
  const Format sum_format = model.sum_format ? *model.sum_format : acc;
  if (model.sum_format) model.sum_format = &sum_format;
  const Format operand_format = model.operand_format ? *model.operand_format : in_a;
  if (model.operand_format) model.operand_format = &operand_format;
  return GemmElement(in_a, a.data(), in_b, b.data(), i, j, n, k, acc, model, opt, first_index,
                     RoundingsPerDot(model, k));
}

}  // namespace

TEST_CASE("the GEMM kernel's dot products (emulate/dot.h on uint32 codes) equal emulate/dot.h Gemm") {
  struct Shape {
    size_t m, n, k;
  };
  const Shape shapes[] = {{2, 3, 0}, {3, 2, 1}, {2, 2, 7}, {2, 3, 33}, {1, 2, 100}, {1, 1, 300}};
  struct Formats {
    const Format *in_a, *in_b, *acc;
  };
  const Formats cases[] = {{&formats::kE4m3fn, &formats::kE4m3fn, &formats::kF32},
                           {&formats::kE5m2, &formats::kE4m3fn, &formats::kF32},
                           {&formats::kBf16, &formats::kBf16, &formats::kF32},
                           {&formats::kF16, &formats::kF16, &formats::kF16},
                           {&formats::kE5m2, &formats::kE5m2, &formats::kBf16},
                           {&formats::kF32, &formats::kF32, &formats::kF64}};
  int bad = 0;
  uint32_t seed = 1;
  for (const auto& [in_a, in_b, acc] : cases)
    for (const DotModel& model : DotModels())
      for (const Rounding r : {Rounding::kNearestEven, Rounding::kTowardZero, Rounding::kStochastic})
        for (const Shape& s : shapes) {
          Options opt;
          opt.rounding = r;
          opt.seed = 9;
          const bool specials = (seed % 5) == 0;
          const std::vector<uint64_t> a = RandomCodes(*in_a, s.m * s.k, seed++, specials);
          const std::vector<uint64_t> b = RandomCodes(*in_b, s.k * s.n, seed++, specials);
          std::vector<uint64_t> want(s.m * s.n);
          Gemm(*in_a, a.data(), *in_b, b.data(), s.m, s.n, s.k, *acc, model, want.data(), opt, 77);
          const std::vector<uint32_t> a32(a.begin(), a.end()), b32(b.begin(), b.end());
          for (size_t i = 0; i < s.m; ++i)
            for (size_t j = 0; j < s.n; ++j) {
              const Result got = KernelElement(*in_a, a32, *in_b, b32, i, j, s.n, s.k, *acc, model, opt, 77);
              const Result ref = Dot(*in_a, a.data() + i * s.k, 1, *in_b, b.data() + j, s.n, s.k, *acc, model, opt,
                                     77 + (i * s.n + j) * RoundingsPerDot(model, s.k));
              if ((got.code != want[i * s.n + j] || got.flags != ref.flags || ref.code != want[i * s.n + j]) &&
                  bad++ < 5)
                FAIL_CHECK(fmt::format("{} x {} -> {}, {}, {}, k {}: kernel 0x{:x}/{}, Gemm 0x{:x}, Dot 0x{:x}/{}",
                                       in_a->name, in_b->name, acc->name, DescribeModel(model), RoundingNameOf(r),
                                       s.k, got.code, got.flags, want[i * s.n + j], ref.code, ref.flags));
            }
        }
  CHECK(bad == 0);
}

namespace {

// fma(a, b, c) rounded in the host's mode `mode` (FE_*): the float32 FMA a
// GPU thread of cuda/gemm_float_kernel.cu runs with the mode in the
// instruction. The asm barriers keep the compiler from moving the FMA
// across the mode changes.
float FmaIn(int mode, float a, float b, float c) {
  std::fesetround(mode);
  asm volatile("" : "+x"(a), "+x"(b), "+x"(c));
  float r = std::fma(a, b, c);
  asm volatile("" : "+x"(r));
  std::fesetround(FE_TONEAREST);
  return r;
}

}  // namespace

// cuda/gemm_float_kernel.cu's argument, on the host's IEEE float32 FMA:
// for inputs within gpu::FloatWindows, kSequential and kFused with a
// float32 accumulator are one FMA per step in the model's mode, s starting
// at +0, and the only flag, inexact, is "some step's fma.rm and fma.rp
// differ beyond the sign bit" (what the kernel ORs). Random vectors of
// every kind the windows allow: values near 1, the largest and smallest the
// window takes (sums near the overflow bound, tiny partial sums), zeros of
// both signs, exact cancellations; both models, four modes, f16, bf16, FP8.
TEST_CASE("kSequential/kFused within the float32 kernel's windows are FMAs in the model's mode") {
  struct Pair {
    const Format *a, *b;
  };
  const Pair pairs[] = {{&formats::kF16, &formats::kF16},
                        {&formats::kBf16, &formats::kBf16},
                        {&formats::kE4m3fn, &formats::kE4m3fn},
                        {&formats::kE5m2, &formats::kE4m3fn}};
  struct Mode {
    Rounding r;
    int fe;
  };
  const Mode modes[] = {{Rounding::kNearestEven, FE_TONEAREST},
                        {Rounding::kTowardZero, FE_TOWARDZERO},
                        {Rounding::kDown, FE_DOWNWARD},
                        {Rounding::kUp, FE_UPWARD}};
  const size_t k = 4096;  // the windows' K
  std::mt19937_64 rng(2026);
  int compared = 0, failed = 0;
  for (const Pair& pr : pairs) {
    gpu::FloatWindow wa, wb;
    REQUIRE(gpu::FloatWindows(*pr.a, *pr.b, k, wa, wb));
    // A random code of f within w: near 1, the window's largest or
    // smallest binade, a zero, or anything (redrawn until in the window).
    auto draw = [&](const Format& f, gpu::FloatWindow w, int kind) {
      for (;;) {
        uint64_t c = rng() & CodeMask(f);
        const double mag = kind == 1 ? std::ldexp(1.5, w.hi) : kind == 2 ? std::ldexp(1.0, w.lo + f.mantissa_bits) : 1.0;
        if (kind <= 2) c = EncodeFromF64(f, mag * (1.0 + double(rng() % 64) / 64)).code + (rng() % 3) - 1;  // kind 4: any
        if (kind == 3) c = 0;
        c = (c & CodeMask(f)) ^ ((rng() & 1) ? SignBit(f) : 0);
        if (gpu::InFloatWindow(Unpack(f, c), w)) return c;
      }
    };
    for (const Accumulation acc : {Accumulation::kSequential, Accumulation::kFused})
      for (const Mode& md : modes)
        for (int trial = 0; trial < 60; ++trial) {
          const size_t n = 1 + rng() % 200;
          const int style = trial % 6;  // 0: near 1; 1: any; 2: large; 3: small; 4: zeros; 5: cancelling pairs
          std::vector<uint64_t> a(n), b(n);
          for (size_t i = 0; i < n; ++i) {
            auto kind = [&] {
              switch (style) {
                case 1: return 4;
                case 2: return rng() % 2 ? 1 : 0;
                case 3: return rng() % 2 ? 2 : 0;
                case 4: return rng() % 3 == 0 ? 3 : 0;
                default: return 0;
              }
            };
            const int kind_a = kind(), kind_b = kind();
            a[i] = draw(*pr.a, wa, kind_a);
            b[i] = draw(*pr.b, wb, kind_b);
            if (style == 5 && i % 2 == 1) {
              a[i] = a[i - 1] ^ SignBit(*pr.a);
              b[i] = b[i - 1];
            }
          }
          DotModel model;
          model.accumulation = acc;
          Options opt;
          opt.rounding = md.r;
          const Result want = Dot(*pr.a, a.data(), 1, *pr.b, b.data(), 1, n, formats::kF32, model, opt);
          float s = 0.0f;
          uint32_t x = 0;
          for (size_t i = 0; i < n; ++i) {
            const float fa = F32FromBits(static_cast<uint32_t>(Convert(*pr.a, a[i], formats::kF32).code));
            const float fb = F32FromBits(static_cast<uint32_t>(Convert(*pr.b, b[i], formats::kF32).code));
            const float lo = FmaIn(FE_DOWNWARD, fa, fb, s), hi = FmaIn(FE_UPWARD, fa, fb, s);
            x |= BitsOf(lo) ^ BitsOf(hi);
            s = FmaIn(md.fe, fa, fb, s);
          }
          const uint8_t flags = (x & 0x7fffffffu) != 0 ? kInexact : 0;
          ++compared;
          if ((BitsOf(s) != want.code || flags != want.flags) && ++failed <= 5)
            FAIL_CHECK(fmt::format("{} x {} model {} {} style {} n {}: fma 0x{:x}/{}, Dot 0x{:x}/{}", pr.a->name,
                                   pr.b->name, static_cast<int>(acc), RoundingNameOf(md.r), style, n, BitsOf(s),
                                   flags, want.code, want.flags));
        }
  }
  CHECK(failed == 0);
  CHECK(compared == 4 * 2 * 4 * 60);
}

namespace {

// The block kernel's loop for one output (cuda/gemm_block_kernel.cu): n
// products in blocks of `block`; add(i) takes product i into the sum,
// round(index, r) rounds it by the stochastic index (false: the dot
// product is GemmElement's) and sets the sum to r's value.
struct BlockRun {
  uint32_t s = 0;  // the last rounding's code
  uint8_t flags = 0;
  bool redo = false;
};
template <class Add, class Round>
BlockRun RunBlocks(size_t n, uint64_t block, uint64_t first, Add&& add, Round&& round) {
  BlockRun run;
  uint64_t block_no = 0, left = block;
  for (size_t i = 0; i < n; ++i) {
    add(i);
    if (--left == 0 || i + 1 == n) {
      Result r{0, 0};
      if (!round(first + block_no, r)) run.redo = true;
      run.flags |= r.flags;
      run.s = static_cast<uint32_t>(r.code);
      left = block;
      ++block_no;
    }
  }
  return run;
}

// A run against Dot's result: counted as compared or GemmElement's, the
// first five differences reported (describe() names the case).
template <class Describe>
void CountBlockRun(const BlockRun& run, const Result& want, int& compared, int& to_element, int& failed,
                   Describe&& describe) {
  if (run.redo) {
    ++to_element;
    return;
  }
  ++compared;
  if ((run.s != want.code || run.flags != want.flags) && ++failed <= 5)
    FAIL_CHECK(fmt::format("{}: kernel 0x{:x}/{}, Dot 0x{:x}/{}", describe(), run.s, run.flags, want.code,
                           want.flags));
}

}  // namespace

// cuda/gemm_block_kernel.cu's steps (cuda/gemm_block_fixed.h) in the
// kernel's order on the host against emulate/dot.h's Dot: kBlock (block
// sizes 1 to 40) and kExact of E4M3 / FP6 / FP4 inputs into float32, every
// rounding mode (stochastic ones by the rounding's index), values near 1,
// the largest, zeros, cancelling pairs; dot products with a zero block sum
// are GemmElement's (counted, not compared).
TEST_CASE("the block kernel's fixed-point steps equal emulate/dot.h (kBlock, kExact)") {
  struct Pair {
    const Format *a, *b;
  };
  const Pair pairs[] = {{&formats::kE4m3fn, &formats::kE4m3fn},
                        {&formats::kE3m2fn, &formats::kE2m1fn},
                        {&formats::kE2m3fn, &formats::kE2m3fn}};
  const Rounding modes[] = {Rounding::kNearestEven, Rounding::kNearestAway, Rounding::kTowardZero,
                            Rounding::kDown,        Rounding::kUp,          Rounding::kOdd,
                            Rounding::kStochastic,  Rounding::kStochasticEq};
  std::mt19937_64 rng(1607);
  int compared = 0, to_element = 0, failed = 0;
  for (const Pair& pr : pairs) {
    REQUIRE(gpu::BlockFixedFits(*pr.a, *pr.b, formats::kF32, 4096));
    const int32_t qa = detail::LowestBit(*pr.a), qb = detail::LowestBit(*pr.b);
    for (int trial = 0; trial < 400; ++trial) {
      const size_t n = 1 + rng() % 300;
      DotModel model;
      model.accumulation = trial % 5 == 0 ? Accumulation::kExact : Accumulation::kBlock;
      model.block = static_cast<uint32_t>(1 + rng() % 40);
      Options opt;
      opt.rounding = modes[trial % 8];
      opt.seed = rng();
      opt.sr_bits = trial % 3 == 0 ? 5 : 32;
      const int style = trial % 4;  // 0: near 1; 1: any; 2: the largest; 3: cancelling pairs
      std::vector<uint64_t> a(n), b(n);
      for (size_t i = 0; i < n; ++i) {
        for (const auto& [v, f] : {std::pair{&a, pr.a}, std::pair{&b, pr.b}}) {
          uint64_t c = rng() & CodeMask(*f);
          if (style == 0 || (style == 3 && rng() % 2))
            c = (EncodeFromF64(*f, 1.0).code + rng() % 8) & CodeMask(*f);
          if (style == 2 && rng() % 2) c = MaxFiniteMagnitude(*f);
          if (IsNanCode(*f, c) || IsInfCode(*f, c)) c = 0;  // those go to GemmElement on the GPU
          (*v)[i] = c ^ ((rng() & 1) ? SignBit(*f) : 0);
        }
        if (style == 3 && i % 2 == 1) {
          a[i] = a[i - 1] ^ SignBit(*pr.a);
          b[i] = b[i - 1];
        }
      }
      const uint64_t first = rng() % 1000;
      const Result want = Dot(*pr.a, a.data(), 1, *pr.b, b.data(), 1, n, formats::kF32, model, opt, first);
      // The kernel's loop for one output.
      const uint64_t block = model.accumulation == Accumulation::kExact ? n : model.block;
      const int32_t g = qa + qb;
      int64_t v = 0;
      const BlockRun run = RunBlocks(
          n, block, first,
          [&](size_t i) {
            v += int64_t{gpu::BlockFixedInteger(Unpack(*pr.a, a[i]), qa)} *
                 gpu::BlockFixedInteger(Unpack(*pr.b, b[i]), qb);
          },
          [&](uint64_t index, Result& r) {
            const bool ok = gpu::BlockRound(v, g, opt, index, r);
            v = gpu::BlockF32AsFixed(static_cast<uint32_t>(r.code), g);
            return ok;
          });
      CountBlockRun(run, want, compared, to_element, failed, [&] {
        return fmt::format("{} x {} {} block {} {} sr_bits {} style {} n {}", pr.a->name, pr.b->name,
                           static_cast<int>(model.accumulation), model.block, RoundingNameOf(opt.rounding),
                           opt.sr_bits, style, n);
      });
    }
  }
  CHECK(failed == 0);
  CHECK(compared > 900);
  MESSAGE(compared << " compared, " << to_element << " with a zero block sum (GemmElement's)");
}

// The wide variant's steps (16-bit inputs: q per row and column, three
// int64 limbs, the 128-bit rounding) in the kernel's order against
// emulate/dot.h's Dot: f16, bf16, mixed with FP8, every mode, values near
// 1, any (bf16: exponents within +-12 but now and then unclamped, a row
// that does not fit), the largest (float32 overflow: GemmElement),
// subnormals (tiny sums: GemmElement), cancelling pairs.
TEST_CASE("the block kernel's wide steps equal emulate/dot.h (kBlock, kExact of 16-bit inputs)") {
  struct Pair {
    const Format *a, *b;
  };
  const Pair pairs[] = {{&formats::kF16, &formats::kF16},
                        {&formats::kBf16, &formats::kBf16},
                        {&formats::kBf16, &formats::kF16},
                        {&formats::kF16, &formats::kE4m3fn}};
  const Rounding modes[] = {Rounding::kNearestEven, Rounding::kNearestAway, Rounding::kTowardZero,
                            Rounding::kDown,        Rounding::kUp,          Rounding::kOdd,
                            Rounding::kStochastic,  Rounding::kStochasticEq};
  std::mt19937_64 rng(1609);
  int compared = 0, to_element = 0, not_fitting = 0, failed = 0;
  for (const Pair& pr : pairs) {
    REQUIRE(gpu::BlockWideFits(*pr.a, *pr.b, formats::kF32, 4096));
    REQUIRE_FALSE(gpu::BlockFixedFits(*pr.a, *pr.b, formats::kF32, 4096));
    for (int trial = 0; trial < 500; ++trial) {
      const size_t n = 1 + rng() % 300;
      DotModel model;
      model.accumulation = trial % 5 == 0 ? Accumulation::kExact : Accumulation::kBlock;
      model.block = static_cast<uint32_t>(1 + rng() % 40);
      Options opt;
      opt.rounding = modes[trial % 8];
      opt.seed = rng();
      opt.sr_bits = trial % 3 == 0 ? 5 : 32;
      const int style = trial % 5;  // 0: near 1; 1: any; 2: the largest; 3: cancelling pairs; 4: subnormals
      const bool unclamped = trial % 25 == 6;  // bf16: any exponent (rows that do not fit)
      std::vector<uint64_t> a(n), b(n);
      for (size_t i = 0; i < n; ++i) {
        for (const auto& [v, f] : {std::pair{&a, pr.a}, std::pair{&b, pr.b}}) {
          uint64_t c = rng() & CodeMask(*f);
          if (f->exponent_bits == 8 && !unclamped) {  // bf16: within 2^+-12
            const Unpacked u = Unpack(*f, c);
            if (u.cls == Class::kFinite && std::abs(gpu::HighestSetBit(u)) > 12)
              c = (EncodeFromF64(*f, 1.0).code & ~MantissaMask(*f)) | (c & MantissaMask(*f));
          }
          if (style == 0 || (style == 3 && rng() % 2)) c = (EncodeFromF64(*f, 1.0).code + rng() % 64) & CodeMask(*f);
          if (style == 2 && rng() % 2) c = MaxFiniteMagnitude(*f);
          if (style == 4 && rng() % 2) c = rng() % 8;  // subnormals and zeros
          if (IsNanCode(*f, c) || IsInfCode(*f, c)) c = 0;  // those go to GemmElement on the GPU
          (*v)[i] = c ^ ((rng() & 1) ? SignBit(*f) : 0);
        }
        if (style == 3 && i % 2 == 1) {
          a[i] = a[i - 1] ^ SignBit(*pr.a);
          b[i] = b[i - 1];
        }
      }
      // The range kernel's q and fit for the row (a) and the column (b).
      auto range = [](const Format& f, const std::vector<uint64_t>& v, int32_t& q) {
        int32_t lowest = INT32_MAX, highest = INT32_MIN;
        for (const uint64_t c : v) {
          const Unpacked u = Unpack(f, c);
          if (u.cls == Class::kFinite)
            lowest = std::min(lowest, gpu::LowestSetBit(u)), highest = std::max(highest, gpu::HighestSetBit(u));
        }
        q = lowest == INT32_MAX ? 0 : lowest;
        return lowest == INT32_MAX || gpu::BlockWideRowFits(lowest, highest);
      };
      int32_t qa = 0, qb = 0;
      const bool fits_a = range(*pr.a, a, qa), fits_b = range(*pr.b, b, qb);
      if (!fits_a || !fits_b) {
        ++not_fitting;
        continue;
      }
      const uint64_t first = rng() % 1000;
      const Result want = Dot(*pr.a, a.data(), 1, *pr.b, b.data(), 1, n, formats::kF32, model, opt, first);
      // The kernel's loop for one output.
      const uint64_t block = model.accumulation == Accumulation::kExact ? n : model.block;
      const int32_t g = qa + qb;
      constexpr int64_t kMask = (int64_t{1} << gpu::kBlockLimbBits) - 1;
      int64_t hi = 0, mid = 0, lo = 0;
      const BlockRun run = RunBlocks(
          n, block, first,
          [&](size_t i) {
            const int64_t x = gpu::BlockWideInteger(Unpack(*pr.a, a[i]), qa);
            const int64_t y = gpu::BlockWideInteger(Unpack(*pr.b, b[i]), qb);
            const int64_t x0 = x & kMask, x1 = x >> gpu::kBlockLimbBits, y0 = y & kMask,
                          y1 = y >> gpu::kBlockLimbBits;
            hi += x1 * y1;
            mid += x1 * y0 + x0 * y1;
            lo += x0 * y0;
          },
          [&](uint64_t index, Result& r) {
            const bool ok = gpu::BlockRoundWide(gpu::BlockWideValue(hi, mid, lo), g, opt, index, r);
            gpu::BlockWideLimbs(gpu::BlockF32AsWide(static_cast<uint32_t>(r.code), g), hi, mid, lo);
            return ok;
          });
      CountBlockRun(run, want, compared, to_element, failed, [&] {
        return fmt::format("{} x {} {} block {} {} sr_bits {} style {} n {} (wide)", pr.a->name, pr.b->name,
                           static_cast<int>(model.accumulation), model.block, RoundingNameOf(opt.rounding),
                           opt.sr_bits, style, n);
      });
    }
  }
  CHECK(failed == 0);
  CHECK(compared > 1000);
  CHECK(not_fitting > 0);  // the unclamped bf16 rows: the check above ran on rows that fit
  MESSAGE(compared << " compared, " << to_element << " to GemmElement, " << not_fitting << " not fitting 40 bits");
}

TEST_CASE("emulate/quant/common.h's FS_HD stand-ins equal <cmath> and x86 arithmetic") {
  // The recipes ran on <cmath> and on x86's NaN rule before they became
  // FS_HD; the stand-ins must give the same bits on every float32 class.
  const std::vector<float> xs = InterestingInputs(1 << 14, 23);
  int bad = 0;
  auto check = [&](bool ok, const std::string& what) {
    if (!ok && bad++ < 5) FAIL_CHECK(what);
  };
  for (const float x : xs) {
    int e = 0;
    std::frexp(x, &e);
    check(quant::FrexpExponentF32(x) == e,
          fmt::format("frexp 0x{:08x}: {} vs {}", Bits(x), quant::FrexpExponentF32(x), e));
    const double d = static_cast<double>(x) * 0x1p-900;  // float64 subnormals too
    std::frexp(d, &e);
    check(quant::FrexpExponentF64(d) == e, fmt::format("frexp f64 from 0x{:08x}", Bits(x)));
    for (const int k : {-300, -150, -127, -24, -1, 0, 1, 24, 127, 254, 300}) {
      const float want = std::ldexp(x, k);
      check(Bits(quant::LdexpF32(x, k)) == Bits(want) || (std::isnan(x) && std::isnan(want)),
            fmt::format("ldexp 0x{:08x} {}", Bits(x), k));
    }
    for (const float y : {1.0f, -0.0f, 3.5f, quant::kFltMax, 1e-40f, INFINITY, -INFINITY, xs[Bits(x) % xs.size()]}) {
      // fmin/fmax: the recipes' operands are results of arithmetic, never
      // signaling NaNs (which glibc's fmin turns into NaN, not ignores).
      auto is_snan = [](float v) { return std::isnan(v) && (Bits(v) & 0x400000u) == 0; };
      const bool signaling = is_snan(x) || is_snan(y);
      check(signaling || x == y || Bits(quant::FminF32(x, y)) == Bits(std::fmin(x, y)),
            fmt::format("fmin 0x{:08x} 0x{:08x}", Bits(x), Bits(y)));
      check(signaling || x == y || Bits(quant::FmaxF32(x, y)) == Bits(std::fmax(x, y)),
            fmt::format("fmax 0x{:08x} 0x{:08x}", Bits(x), Bits(y)));
      if (std::isnan(y)) continue;  // the stand-ins' second operand is never NaN
      volatile float vx = x, vy = y;  // x86 multiplication, not folded
      check(Bits(quant::MulF32AsX86(x, y)) == Bits(vx * vy), fmt::format("mul 0x{:08x} x 0x{:08x}", Bits(x), Bits(y)));
      volatile double dx = x, dy = y;
      check(BitsOf(quant::MulF64AsX86(x, y)) == BitsOf(dx * dy), fmt::format("mul f64 0x{:08x}", Bits(x)));
    }
  }
  check(quant::kQuietNanF32 == Bits(NAN), "NAN");
  CHECK(bad == 0);
}
