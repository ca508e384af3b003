// The specialised GPU kernels' element functions (cuda/named_convert.h: the
// shared fast-path rounding of emulate/fast_round-inl.h on one lane, with
// each named format's constants folded in at compile time) run on the host
// against the scalar core: every named format they cover x every rounding
// mode x option variants that keep them (PlanMatches), codes and
// fake-quantized values. gpu-verify --exhaustive proves the kernels on the
// GPU for all 2^32 inputs; this catches a wrong transcription in CI, where
// there is no GPU and no nvcc.
#include <doctest/doctest.h>

#include <string>
#include <type_traits>
#include <utility>

#include "cuda/device_ops.h"
#include "cuda/named_convert.h"
#include "formats/names.h"
#include "emulate/quant/fp8_scaling.h"
#include "formats/philox.h"
#include "tests/cuda/cases.h"

using namespace floatscope;
using namespace floatscope::cuda_test;

namespace {

constexpr int kFormats = static_cast<int>(sizeof(formats::kAll) / sizeof(formats::kAll[0]));

template <int kIdx, Rounding kMode>
uint64_t CheckNamed(const Options& opt, const std::vector<float>& xs) {
  const Format& f = formats::kAll[kIdx];
  const EncodePlan plan = MakeEncodePlan(f, opt);
  if (!gpu::PlanMatches(gpu::kNamedPlan<kIdx>, plan)) return 0;  // the plan kernel's case
  const gpu::NamedParams p = gpu::MakeNamedParams(plan);
  const Options fq_dec = gpu::FakeQuantDecodeOptions(opt);
  uint64_t bad = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const uint64_t index = 977 + i;
    const uint32_t bits = Bits(xs[i]);
    const uint32_t random = IsStochastic(kMode) ? StochasticBits(opt.seed, index) : 0u;
    const lanes::FastLanes<uint32_t> l = gpu::NamedRound<kIdx, kMode>(p, bits, random);
    const uint32_t code = gpu::NamedCodeOf<kIdx>(p, l), fq = gpu::NamedFakeQuantOf<kIdx>(p, l);
    const uint64_t want = EncodeFromF32(f, xs[i], opt, index).code;
    const uint32_t want_fq = Bits(DecodeToF32(f, want, fq_dec));
    if ((code != want || fq != want_fq) && bad++ < 3)
      FAIL_CHECK(fmt::format("{} {} input 0x{:08x}: named 0x{:x}/0x{:08x}, core 0x{:x}/0x{:08x}", f.name,
                             RoundingNameOf(kMode), bits, code, fq, want, want_fq));
    if constexpr (kMode == Rounding::kStochastic) {
      // The fraction form that the scaled cast uses, from the float32 itself.
      const uint32_t a = bits & 0x7fffffffu;
      const uint32_t sig = a < 0x800000u ? a : (a & 0x7fffffu) | 0x800000u;
      const int32_t dd = lanes::FastSrDropBits<gpu::kNamedPlan<kIdx>.kind>(gpu::kNamedPlan<kIdx>.fast, a);
      const uint32_t frac = dd < 56 ? static_cast<uint32_t>((uint64_t{sig} << 32) >> dd) : 0u;
      const lanes::FastLanes<uint32_t> w = gpu::NamedRoundSrFraction<kIdx>(p, bits, dd, frac, random);
      if ((w.mag != l.mag || w.any != l.any) && bad++ < 3)
        FAIL_CHECK(fmt::format("{} sr fraction input 0x{:08x}: 0x{:08x} vs 0x{:08x}", f.name, bits, w.mag, l.mag));
    }
  }
  return 1;
}

template <int... kIdx>
void ForEachNamed(std::integer_sequence<int, kIdx...>, const std::vector<float>& xs, size_t* formats_run,
                  size_t* checks) {
  auto one = [&](auto index) {
    constexpr int kI = decltype(index)::value;
    if constexpr (gpu::kNamedPlan<kI>.ok) {
      ++*formats_run;
      const Format& f = formats::kAll[kI];
      std::vector<Options> variants(4);
      variants[1].seed = 0x123456789abcull;
      variants[1].sr_bits = 5;
      variants[2].nan_payload = NanPayload::kCanonical;
      variants[3].overflow = IsFloat(f) ? Overflow::kSaturate : Overflow::kDefault;
      if (IsFloat(f) && HasNan(f)) variants[3].overflow = Overflow::kNan;
      for (Options opt : variants)
        ForEachMode([&](auto mode) {
          opt.rounding = decltype(mode)::value;
          *checks += CheckNamed<kI, decltype(mode)::value>(opt, xs);
        });
    }
  };
  (one(std::integral_constant<int, kIdx>{}), ...);
}

}  // namespace

TEST_CASE("the specialised kernels' element functions equal the core: every covered named format, mode, option") {
  const std::vector<float> xs = InterestingInputs(1 << 12, 11);
  size_t formats_run = 0, checks = 0;
  ForEachNamed(std::make_integer_sequence<int, kFormats>{}, xs, &formats_run, &checks);
  // f16, bf16, the FP8s, FP6s, FP4, P3109 with subnormals, the integers.
  CHECK(formats_run >= 20);
  CHECK(checks >= formats_run * 8 * 3);
}

namespace {

// The scaled cast's element (cuda/named_convert.h ScaledElement: the exact
// product's truncation and rounding-to-odd, stochastic rounding from the
// significand product) against the CPU recipe: quant::Fp8Encode (the
// product in float64, one rounding by the core) and Fp8Decode.
template <int kIdx, Rounding kMode>
uint64_t CheckScaled(const Options& opt, const std::vector<float>& xs, const std::vector<float>& scales) {
  const Format& f = formats::kAll[kIdx];
  const EncodePlan plan = MakeEncodePlan(f, opt);
  if (!gpu::PlanMatches(gpu::kNamedPlan<kIdx>, plan)) return 0;
  const gpu::NamedParams p = gpu::MakeNamedParams(plan);
  uint64_t bad = 0, checks = 0;
  for (const float scale : scales) {
    const gpu::ScaleParts sp = gpu::ScalePartsOf(scale);
    const float inv = quant::Fp8ScaleInverse(scale);
    for (size_t i = 0; i < xs.size(); ++i) {
      const uint64_t index = 4 * 1000 + i;
      const uint32_t bits = Bits(xs[i]);
      const uint32_t random = IsStochastic(kMode) ? StochasticBits(opt.seed, index) : 0u;
      uint32_t code = 0;
      const uint32_t fq = gpu::ScaledElement<kIdx, kMode>(p, sp, inv, bits, random, true, &code);
      const uint64_t want = quant::Fp8Encode(f, opt, static_cast<double>(xs[i]), scale, index).code;
      const uint32_t want_fq = Bits(quant::Fp8Decode(f, want, inv));
      ++checks;
      if ((code != want || fq != want_fq) && bad++ < 3)
        FAIL_CHECK(fmt::format("{} {} scale {:a} input 0x{:08x}: named 0x{:x}/0x{:08x}, core 0x{:x}/0x{:08x}",
                               f.name, RoundingNameOf(kMode), scale, bits, code, fq, want, want_fq));
    }
  }
  return checks;
}

}  // namespace

TEST_CASE("the scaled cast's element equals quant::Fp8Encode/Fp8Decode: its formats, every mode, wide scales") {
  const std::vector<float> xs = InterestingInputs(1 << 11, 12);
  // Scales of every kind: 1, powers of two, odd significands, near the
  // float32 range's ends, subnormal (quant's recipe allows any finite
  // scale > 0).
  std::vector<float> scales = {1.0f, 2.0f, 0.5f, 448.0f / 3.0f, 0x1.fffffep127f, 0x1p-126f, 0x1p-149f, 0x1.8p-140f,
                               0x1.000002p0f, 0x1.7ffffep100f, 0x1.234568p-60f, 3.0f};
  std::mt19937 rng(5);
  std::uniform_int_distribution<uint32_t> pattern(1, 0x7f7fffffu);
  for (int i = 0; i < 8; ++i) scales.push_back(F32FromBits(pattern(rng)));
  size_t formats_run = 0;
  uint64_t checks = 0;
  auto one = [&](auto index) {
    constexpr int kI = decltype(index)::value;
    if constexpr (gpu::kNamedPlan<kI>.ok && !gpu::kNamedPlan<kI>.layout.is_int) {
      if (!gpu::ScaledSpecialised(formats::kAll[kI])) return;
      ++formats_run;
      std::vector<Options> variants(2);
      variants[0].overflow = Overflow::kSaturate;  // the recipe's default
      variants[1].seed = 0xfeedbeefcafeull;
      variants[1].sr_bits = 7;
      for (Options opt : variants)
        ForEachMode([&](auto mode) {
          opt.rounding = decltype(mode)::value;
          checks += CheckScaled<kI, decltype(mode)::value>(opt, xs, scales);
        });
    }
  };
  [&]<int... kIdx>(std::integer_sequence<int, kIdx...>) {
    (one(std::integral_constant<int, kIdx>{}), ...);
  }(std::make_integer_sequence<int, kFormats>{});
  CHECK(formats_run == 5);  // e4m3fn, e5m2, f16, bf16, e3m4
  CHECK(checks >= uint64_t{5} * 2 * 8 * scales.size() * xs.size());
}
