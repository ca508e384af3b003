// Stochastic rounding, checked by counting outcomes (as cpfloat does).
//
// sr with R random bits rounds a value at fraction f of the way from its
// lower neighbour up with probability floor(f * 2^R) / 2^R (the top R bits
// of the discarded fraction plus R random bits carry out): that is f when f
// is a multiple of 2^-R, and for other f a little less, so few-bit sr is
// biased toward zero by 2^-(R+1) ulp on average over uniform fractions --
// pinned below, not hidden. sr-eq rounds an inexact value up with
// probability 1/2. The random bits of element i are word i mod 4 of Philox(seed, counter floor(i/4)), so the
// result cannot depend on how the index range is split among threads.
//
// Counts are judged by a binomial test at 5 standard deviations; the seed
// is fixed, so each check is deterministic and a failure reproduces.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <thread>
#include <vector>

#include "formats/convert.h"
#include "python/floatscope_capi.h"

using namespace floatscope;

namespace {

constexpr uint64_t kSeed = 0x5EED5EED12345678ull;
constexpr int kTrials = 1 << 18;  // resolves p to ~0.005 at 5 sigma

Options Sr(uint8_t bits, uint64_t seed = kSeed, Rounding mode = Rounding::kStochastic) {
  Options opt;
  opt.rounding = mode;
  opt.seed = seed;
  opt.sr_bits = bits;
  return opt;
}

// How often x (between the values of magnitude codes c and c + 1 of f)
// rounds to the larger magnitude, over kTrials element indices.
int CountUp(const Format& f, double x, uint64_t c, const Options& opt) {
  const uint64_t sign = std::signbit(x) ? SignBit(f) : 0;
  int up = 0, neither = 0;
  uint64_t stray = 0;
  for (int i = 0; i < kTrials; ++i) {
    const uint64_t code = EncodeFromF64(f, x, opt, static_cast<uint64_t>(i)).code;
    if (code == (sign | (c + 1))) {
      ++up;
    } else if (code != (sign | c)) {
      ++neither;
      stray = code;
    }
  }
  CHECK_MESSAGE(neither == 0, fmt::format("x={:a} rounded to 0x{:x}, not a neighbour", x, stray));
  return up;
}

// |count - n p| <= 5 sqrt(n p (1 - p)); exact at p = 0 and p = 1.
bool BinomialOk(int count, double p, int n = kTrials) {
  const double mean = n * p;
  const double sd = std::sqrt(n * p * (1 - p));
  return std::fabs(count - mean) <= 5 * sd;
}

// The value at fraction `frac` from magnitude code c to c + 1 (exact: frac
// has at most 20 bits and the formats' values at most 24).
double At(const Format& f, uint64_t c, double frac, bool negative = false) {
  const double lo = DecodeToF64(f, c), hi = DecodeToF64(f, c + 1);
  const double x = lo + frac * (hi - lo);
  REQUIRE((x - lo) / (hi - lo) == frac);
  return negative ? -x : x;
}

struct Where {
  const Format* f;
  uint64_t code;  // magnitude code of the lower neighbour
  const char* what;
};

const Where kPlaces[] = {
    {&formats::kF16, 0x3C00, "f16 above 1.0"},
    {&formats::kF16, 0x0005, "f16 subnormal 5 * 2^-24"},
    {&formats::kBf16, 0x4049, "bf16 above 3.14"},
    {&formats::kE4m3fn, 0x38, "e4m3fn above 1.0"},
    {&formats::kE4m3fn, 0x7D, "e4m3fn below its max 448"},
    {&formats::kE5m2, 0x01, "e5m2 smallest subnormal"},
    {&formats::kE2m1fn, 0x04, "e2m1fn between 2 and 3"},
    {&formats::kF32, 0x3F800000, "f32 above 1.0"},
};

}  // namespace

TEST_CASE("sr with 32 bits rounds up with probability equal to the fraction") {
  for (const Where& w : kPlaces) {
    for (double frac : {0x1p-20, 0.0625, 0.25, 0.3 - std::fmod(0.3, 0x1p-20), 0.5, 0.75, 0.9375}) {
      for (bool negative : {false, true}) {
        const int up = CountUp(*w.f, At(*w.f, w.code, frac, negative), w.code, Sr(32));
        CHECK_MESSAGE(BinomialOk(up, frac),
                      fmt::format("{}{} at fraction {}: {} of {} rounded up", negative ? "-" : "",
                                  w.what, frac, up, kTrials));
      }
    }
  }
}

TEST_CASE("sr with 4 bits: probability floor(16 f) / 16, which is f on the 1/16 grid") {
  for (const Where& w : kPlaces) {
    for (double frac : {0.0625, 0.25, 0.5, 0.9375, 0.3 - std::fmod(0.3, 0x1p-20), 0.03125, 0.99}) {
      const double frac20 = frac - std::fmod(frac, 0x1p-20);
      const double p = std::floor(frac20 * 16) / 16;
      const int up = CountUp(*w.f, At(*w.f, w.code, frac20), w.code, Sr(4));
      CHECK_MESSAGE(BinomialOk(up, p), fmt::format("{} at fraction {}: {} of {} up, expected p = {}",
                                                   w.what, frac20, up, kTrials, p));
    }
  }
  // The smallest sr_bits: one random bit, so only the half bit of the fraction counts.
  const int up = CountUp(formats::kF16, At(formats::kF16, 0x3C00, 0.75), 0x3C00, Sr(1));
  CHECK(BinomialOk(up, 0.5));
  CHECK(CountUp(formats::kF16, At(formats::kF16, 0x3C00, 0.4375), 0x3C00, Sr(1)) == 0);
}

TEST_CASE("sr-eq rounds every inexact value up with probability 1/2; exact values stay") {
  for (const Where& w : kPlaces) {
    for (double frac : {0x1p-20, 0.25, 0.9375}) {
      const int up = CountUp(*w.f, At(*w.f, w.code, frac), w.code,
                             Sr(32, kSeed, Rounding::kStochasticEq));
      CHECK_MESSAGE(BinomialOk(up, 0.5), fmt::format("{} at {}: {} up", w.what, frac, up));
    }
    CHECK(CountUp(*w.f, At(*w.f, w.code, 0.0), w.code, Sr(32, kSeed, Rounding::kStochasticEq)) == 0);
    CHECK(CountUp(*w.f, At(*w.f, w.code, 0.0), w.code, Sr(32)) == 0);
  }
}

namespace {

struct ErrorStats {
  double mean;  // mean rounding error in ulps of the interval
  double se;    // its standard error
};

// Rounds kTrials values spread over [1, 2) x 2^e (uniform fractions of the
// f16 grid there) and measures the mean error in ulps.
ErrorStats MeanError(const Options& opt) {
  uint64_t state = 99;
  double sum = 0, sum2 = 0;
  for (int i = 0; i < kTrials; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const int e = static_cast<int>(state >> 60) - 8;              // 2^-8 .. 2^7
    const double frac = static_cast<double>(state >> 24 & 0xFFFFFFFFFull) * 0x1p-36;  // [1, 2)
    const double x = std::ldexp(1.0 + frac, e);
    const double ulp = std::ldexp(1.0, e - 10);
    const double y = DecodeToF64(formats::kF16, EncodeFromF64(formats::kF16, x, opt, i).code);
    const double err = (y - x) / ulp;
    sum += err;
    sum2 += err * err;
  }
  const double mean = sum / kTrials;
  const double var = sum2 / kTrials - mean * mean;
  return ErrorStats{mean, std::sqrt(var / kTrials)};
}

}  // namespace

TEST_CASE("sr is unbiased over many elements with 32 bits; 4 bits are biased by -1/32 ulp") {
  const ErrorStats full = MeanError(Sr(32));
  MESSAGE(fmt::format("sr-bits 32: mean error {:.3g} ulp, standard error {:.3g}", full.mean, full.se));
  CHECK(std::fabs(full.mean) <= 5 * full.se);
  // Few-bit sr drops the fraction below 2^-R: E[floor(16 f)/16 - f] = -1/32.
  const ErrorStats four = MeanError(Sr(4));
  MESSAGE(fmt::format("sr-bits 4: mean error {:.4g} ulp, standard error {:.3g}", four.mean, four.se));
  CHECK(std::fabs(four.mean - (-1.0 / 32)) <= 5 * four.se);
  CHECK(std::fabs(four.mean) > 20 * four.se);  // the bias is real, not noise
  // Round to nearest, for scale: its error has mean ~0 too but it is not random.
  const ErrorStats rne = MeanError(Options{});
  CHECK(std::fabs(rne.mean) <= 5 * rne.se);
}

namespace {

constexpr size_t kElements = size_t{1} << 20;

std::vector<float> RandomFloats() {
  std::vector<float> x(kElements);
  uint64_t state = 7;
  for (float& v : x) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    // Random signs, binades 2^-20 .. 2^11 (f16's range and its subnormals).
    const uint32_t bits = static_cast<uint32_t>(state >> 32);
    v = std::ldexp(1.0f + static_cast<float>(bits & 0x7FFFFF) * 0x1p-23f,
                   static_cast<int>((bits >> 23) % 32) - 20) * ((bits >> 31) ? -1.0f : 1.0f);
  }
  return x;
}

// Piece boundaries for `threads` pieces of deliberately unequal sizes.
std::vector<size_t> Boundaries(int threads) {
  std::vector<size_t> b{0};
  for (int t = 1; t < threads; ++t) b.push_back(kElements * t * t / (threads * threads) + 13 * t);
  b.push_back(kElements);
  return b;
}

}  // namespace

TEST_CASE("same seed, same bits, whatever the number of threads (core and C API)") {
  const std::vector<float> x = RandomFloats();
  const Options opt = Sr(32);
  std::vector<uint16_t> reference(kElements);
  for (size_t i = 0; i < kElements; ++i)
    reference[i] = static_cast<uint16_t>(EncodeFromF32(formats::kF16, x[i], opt, i).code);
  // The test must be able to fail: sr really is random here, and the seed matters.
  size_t differs_from_rne = 0, differs_by_seed = 0;
  for (size_t i = 0; i < kElements; i += 64) {
    differs_from_rne += reference[i] != EncodeFromF32(formats::kF16, x[i]).code;
    differs_by_seed += reference[i] != EncodeFromF32(formats::kF16, x[i], Sr(32, kSeed + 1), i).code;
  }
  CHECK(differs_from_rne > 1000);
  CHECK(differs_by_seed > 1000);

  for (int threads : {1, 2, 3, 8}) {
    const std::vector<size_t> b = Boundaries(threads);
    std::vector<uint16_t> core(kElements), capi(kElements);
    std::vector<std::string> errors(threads);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        // Core: this thread walks its piece backwards, to show order does not matter.
        for (size_t i = b[t + 1]; i-- > b[t];)
          core[i] = static_cast<uint16_t>(EncodeFromF32(formats::kF16, x[i], opt, i).code);
        // C API: the piece as one array, keyed by its first global index.
        char err[256] = "";
        if (fs_convert_array("f32", "f16", "sr", nullptr, nullptr, kSeed, 32, x.data() + b[t],
                             capi.data() + b[t], b[t + 1] - b[t], b[t], nullptr, err, sizeof err))
          errors[t] = err;
      });
    }
    for (std::thread& th : pool) th.join();
    for (const std::string& e : errors) CHECK_MESSAGE(e.empty(), e);
    CHECK_MESSAGE(core == reference, threads << " threads (core)");
    CHECK_MESSAGE(capi == reference, threads << " threads (C API)");
  }
}
