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
      // The scaled cast's form with no bits below the float32 (ext = 0).
      const lanes::FastLanes<uint32_t> w = gpu::NamedRoundSrWide<kIdx>(p, bits, 0, random);
      if ((w.mag != l.mag || w.any != l.any) && bad++ < 3)
        FAIL_CHECK(fmt::format("{} sr wide input 0x{:08x}: 0x{:08x} vs 0x{:08x}", f.name, bits, w.mag, l.mag));
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
