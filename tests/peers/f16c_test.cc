// The CPU's F16C instructions as an oracle for f32 <-> f16 (x86 only).
//
// _mm_cvtps_ph with each explicit rounding immediate against the core with
// default options and the matching mode, bit for bit -- NaNs included: F16C
// quiets a NaN and keeps the top 10 payload bits, which is what
// NanPayload::kPreserve (the default) does. _mm_cvtph_ps on all 2^16 codes
// against DecodeToF32.
//
// Built twice from this file: f16c_test (CI: 2^24 inputs, every top-16-bit
// pattern with 256 low halves each) and f16c_sweep (FLOATSCOPE_F16C_ALL_INPUTS:
// all 2^32 inputs, every core, progress with ETA on stderr). Run the sweep as
//     build/tests/peers/f16c_sweep
//
// The F16C code lives only in functions marked target("f16c") rather than in
// a file compiled with -mf16c: with -mf16c (which implies AVX) the compiler
// may use VEX instructions anywhere in the file, static initializers
// included, i.e. before main() could check the CPU. Without F16C, main
// prints "skipped: no F16C" and exits with 77, meson's code for a skip.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "formats/convert.h"
#include "formats/names.h"

using namespace floatscope;

namespace {

#ifdef FLOATSCOPE_F16C_ALL_INPUTS
constexpr uint64_t kInputs = uint64_t{1} << 32;
#else
constexpr uint64_t kInputs = uint64_t{1} << 24;
#endif
constexpr uint64_t kBlock = uint64_t{1} << 16;

// ---- the hardware ----------------------------------------------------------

template <int kImm>
__attribute__((target("f16c"))) void F16cEncode(const uint32_t* in, uint16_t* out, size_t n) {
  for (size_t i = 0; i < n; i += 4) {  // n is a multiple of 4
    const __m128 v = _mm_castsi128_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i)));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), _mm_cvtps_ph(v, kImm));
  }
}

__attribute__((target("f16c"))) void F16cDecode(const uint16_t* in, uint32_t* out, size_t n) {
  for (size_t i = 0; i < n; i += 4) {
    const __m128i h = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(in + i));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm_castps_si128(_mm_cvtph_ps(h)));
  }
}

struct Mode {
  Rounding rounding;
  void (*encode)(const uint32_t*, uint16_t*, size_t);
  const char* immediate;
};

const Mode kModes[] = {
    {Rounding::kNearestEven, F16cEncode<_MM_FROUND_TO_NEAREST_INT>, "_MM_FROUND_TO_NEAREST_INT"},
    {Rounding::kTowardZero, F16cEncode<_MM_FROUND_TO_ZERO>, "_MM_FROUND_TO_ZERO"},
    {Rounding::kUp, F16cEncode<_MM_FROUND_TO_POS_INF>, "_MM_FROUND_TO_POS_INF"},
    {Rounding::kDown, F16cEncode<_MM_FROUND_TO_NEG_INF>, "_MM_FROUND_TO_NEG_INF"},
};

// ---- the inputs ------------------------------------------------------------

// Low halves of the CI sample: on, just above and just below every f16
// rounding boundary (the half-ulp bit of f16 is bit 12 of a float32), plus
// pseudo-random ones. With all 2^16 top halves this hits every binade,
// every special value and every midpoint +-1 ulp.
struct LowHalves {
  uint16_t v[256];
  LowHalves() {
    int n = 0;
    for (int k = 0; k < 16; ++k)
      for (int d : {0, 1, -1}) v[n++] = static_cast<uint16_t>((k << 12) + d);
    for (int k = 0; k < 32; ++k)
      for (int d : {0, 1, -1}) v[n++] = static_cast<uint16_t>((k << 11) + d);
    uint64_t state = 0xF16C;
    while (n < 256) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      v[n++] = static_cast<uint16_t>(state >> 48);
    }
  }
};

uint32_t InputAt(uint64_t i) {
  if (kInputs == (uint64_t{1} << 32)) return static_cast<uint32_t>(i);
  static const LowHalves low;
  return static_cast<uint32_t>((i >> 8) << 16) | low.v[i & 255];
}

// ---- the comparison --------------------------------------------------------

struct Tally {
  std::atomic<uint64_t> mismatches[4] = {};
  std::mutex mu;
  std::vector<std::string> examples;
};

void CheckBlock(uint64_t first, Tally& tally) {
  std::vector<uint32_t> in(kBlock);
  std::vector<uint16_t> hw(kBlock);
  for (uint64_t i = 0; i < kBlock; ++i) in[i] = InputAt(first + i);
  for (int m = 0; m < 4; ++m) {
    kModes[m].encode(in.data(), hw.data(), kBlock);
    Options opt;
    opt.rounding = kModes[m].rounding;
    uint64_t bad = 0;
    for (uint64_t i = 0; i < kBlock; ++i) {
      const uint64_t core = Convert(formats::kF32, in[i], formats::kF16, opt).code;
      if (core == hw[i]) continue;
      ++bad;
      std::lock_guard<std::mutex> lock(tally.mu);
      if (tally.examples.size() < 20)
        tally.examples.push_back(fmt::format("f32 0x{:08x} {}: F16C 0x{:04x}, core 0x{:04x}", in[i],
                                             RoundingNameOf(kModes[m].rounding), hw[i], core));
    }
    tally.mismatches[m] += bad;
  }
}

// Runs every block on `threads` threads; progress with ETA on stderr when
// the run is long.
void RunAll(Tally& tally, unsigned threads) {
  const uint64_t blocks = kInputs / kBlock;
  std::atomic<uint64_t> next{0}, done{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (uint64_t b; (b = next++) < blocks;) {
        CheckBlock(b * kBlock, tally);
        const uint64_t d = ++done;
        if (blocks >= 4096 && d % 512 == 0) {
          const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          std::fprintf(stderr, "f16c sweep: %llu/%llu blocks, %.1f min elapsed, ETA %.1f min\n",
                       static_cast<unsigned long long>(d), static_cast<unsigned long long>(blocks),
                       s / 60, s / d * (blocks - d) / 60);
        }
      }
    });
  for (std::thread& th : pool) th.join();
}

}  // namespace

TEST_CASE("_mm_cvtps_ph with each rounding immediate equals the core, NaN payloads included") {
  Tally tally;
  const unsigned threads =
      kInputs > (uint64_t{1} << 24) ? std::max(1u, std::thread::hardware_concurrency()) : 1u;
  RunAll(tally, threads);
  for (const std::string& e : tally.examples) MESSAGE(e);
  for (int m = 0; m < 4; ++m)
    CHECK_MESSAGE(tally.mismatches[m].load() == 0,
                  fmt::format("{} ({}): {} of {} inputs differ", RoundingNameOf(kModes[m].rounding),
                              kModes[m].immediate, tally.mismatches[m].load(), kInputs));
  MESSAGE(fmt::format("{} float32 inputs x 4 rounding immediates compared", kInputs));
}

TEST_CASE("the inputs reach signaling NaNs, subnormal results and every midpoint of f16") {
  // So the test above cannot pass by never meeting the hard cases.
  bool snan = false, sub = false, tie = false, tie_above = false, tie_below = false;
  for (uint64_t i = 0; i < kInputs && !(snan && sub && tie && tie_above && tie_below); ++i) {
    const uint32_t x = InputAt(i);
    snan |= (x & 0x7FC00000u) == 0x7F800000u && (x & 0x3FFFFF) != 0;
    sub |= x == 0x33000001u;  // 2^-25 (1 + 2^-23): just above half the smallest f16 subnormal
    tie |= x == 0x3F801000u;  // 1 + 2^-11: the midpoint of 1 and 1 + 2^-10
    tie_above |= x == 0x3F801001u;
    tie_below |= x == 0x3F800FFFu;
  }
  CHECK(snan);
  CHECK(sub);
  CHECK(tie);
  CHECK(tie_above);
  CHECK(tie_below);
}

TEST_CASE("_mm_cvtph_ps on all 2^16 codes equals DecodeToF32") {
  std::vector<uint16_t> codes(1 << 16);
  std::vector<uint32_t> hw(1 << 16);
  for (uint32_t c = 0; c < (1u << 16); ++c) codes[c] = static_cast<uint16_t>(c);
  F16cDecode(codes.data(), hw.data(), codes.size());
  int bad = 0;
  for (uint32_t c = 0; c < (1u << 16); ++c) {
    const uint32_t core = BitsOf(DecodeToF32(formats::kF16, c));
    if (core != hw[c] && ++bad <= 10)
      MESSAGE(fmt::format("f16 0x{:04x}: F16C 0x{:08x}, core 0x{:08x}", c, hw[c], core));
  }
  CHECK(bad == 0);
}

int main(int argc, char** argv) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("f16c")) {
    std::printf("skipped: no F16C\n");
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
