// The device code of cuda/ compiled for the host and compared with emulate/:
// the fast conversion (cuda/fast_convert.h) with the scalar core, the
// per-tensor / MX / NVFP4 element steps (cuda/device_ops.h) with
// emulate/quant's Quantize, and the GPU port of Dot (cuda/dot_device.h)
// with emulate/dot.h. Needs no GPU and no nvcc: it runs in CI everywhere.
#include <doctest/doctest.h>

#include <algorithm>

#include "cuda/device_ops.h"
#include "cuda/dot_device.h"
#include "cuda/fast_convert.h"
#include "cuda/stochastic.h"
#include "emulate/array_ops.h"
#include "emulate/quant/mx.h"
#include "formats/names.h"
#include "formats/spec_parser.h"
#include "tests/cuda/cases.h"

using namespace floatscope;
using namespace floatscope::cuda_test;

namespace {

template <Rounding kMode>
void CheckFast(const Format& f, const Options& opt, const std::vector<float>& xs) {
  simd::EncodePlan enc = simd::MakeEncodePlan(f, opt);
  simd::EncodePlan fq = enc;
  fq.decode_flush = false;
  const Options fq_dec = gpu::FakeQuantDecodeOptions(opt);
  uint64_t bad = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const uint64_t index = 1000 + i;
    const uint64_t want = EncodeFromF32(f, xs[i], opt, index).code;
    const uint32_t random = IsStochastic(kMode) ? StochasticBits(opt.seed, index) : 0u;
    const uint32_t got = gpu::FastEncode<kMode>(enc, Bits(xs[i]), random);
    const uint32_t got_fq = gpu::FastDecode(fq, got);
    const uint32_t want_fq = Bits(DecodeToF32(f, want, fq_dec));
    if ((got != want || got_fq != want_fq) && bad++ < 3)
      FAIL_CHECK(fmt::format("{} {} input 0x{:08x}: fast 0x{:x}/0x{:08x}, core 0x{:x}/0x{:08x}", f.name,
                             RoundingNameOf(kMode), Bits(xs[i]), got, got_fq, want, want_fq));
  }
  // Decode of every code with DAZ as the options say.
  const Options dec = gpu::DecodeOptions(opt);
  for (uint64_t c = 0; c < (uint64_t{1} << f.bits); ++c) {
    const uint32_t want = Bits(DecodeToF32(f, c, dec));
    const uint32_t got = gpu::FastDecode(enc, static_cast<uint32_t>(c));
    if (got != want && bad++ < 6)
      FAIL_CHECK(fmt::format("{} decode 0x{:x}: fast 0x{:08x}, core 0x{:08x}", f.name, c, got, want));
  }
  CHECK(bad == 0);
}

template <class Fn>
void ForEachMode(Fn&& fn) {
  fn(std::integral_constant<Rounding, Rounding::kNearestEven>{});
  fn(std::integral_constant<Rounding, Rounding::kNearestAway>{});
  fn(std::integral_constant<Rounding, Rounding::kTowardZero>{});
  fn(std::integral_constant<Rounding, Rounding::kDown>{});
  fn(std::integral_constant<Rounding, Rounding::kUp>{});
  fn(std::integral_constant<Rounding, Rounding::kOdd>{});
  fn(std::integral_constant<Rounding, Rounding::kStochastic>{});
  fn(std::integral_constant<Rounding, Rounding::kStochasticEq>{});
}

std::vector<const Format*> FastFormats() {
  std::vector<const Format*> out;
  for (const Format& f : formats::kAll)
    if (f.bits <= 19 && SimdSupports(f)) out.push_back(&f);
  std::string why;
  for (const char* spec : {"e5m6", "e4m3:bias=9,inf=no,nan=ones,subnormals=no", "e3m2:subnormals=no", "int6"})
    if (const Format* f = ResolveFormat(spec, &why)) out.push_back(f);
  return out;
}

}  // namespace

TEST_CASE("fast conversion (cuda/fast_convert.h) equals the core: every format, mode and policy variant") {
  const std::vector<float> xs = InterestingInputs(1 << 12, 7);
  for (const Format* f : FastFormats()) {
    std::vector<Options> variants(5);
    variants[1].overflow = IsFloat(*f) ? Overflow::kSaturate : Overflow::kWrap;
    variants[2].flush_input = variants[2].flush_output = true;
    variants[3].tininess = Tininess::kBeforeRounding;
    variants[3].flush_output = true;
    variants[3].sr_bits = 5;
    variants[4].nan_payload = NanPayload::kCanonical;
    variants[4].seed = 0x123456789abcull;
    if (IsFloat(*f) && HasNan(*f)) variants[4].overflow = Overflow::kNan;
    for (Options opt : variants) {
      ForEachMode([&](auto mode) {
        opt.rounding = decltype(mode)::value;
        CheckFast<decltype(mode)::value>(*f, opt, xs);
      });
    }
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

TEST_CASE("per-tensor FP8 scaling steps equal emulate/quant (scheme tensor)") {
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
          for (const float v : x) amax = gpu::FmaxF32(amax, gpu::AbsF32(v));
          const gpu::ScaledPair s = gpu::Fp8ScaleFromAmaxF32(*f, amax, margin, pow2);
          REQUIRE(cpu.scales.size() == 1);
          CHECK(Bits(cpu.scales[0]) == Bits(s.scale_inv));
          Options eopt = opt;
          eopt.overflow = Overflow::kSaturate;
          int bad = 0;
          for (size_t i = 0; i < x.size(); ++i) {
            const uint64_t code = gpu::Fp8ScaledEncode(*f, eopt, x[i], s.scale, i).code;
            const float y = gpu::Fp8ScaledDecode(*f, code, s.scale_inv);
            if ((code != cpu.codes[i] || Bits(y) != Bits(cpu.dequantized[i])) && bad++ < 3)
              FAIL_CHECK(fmt::format("element {} x 0x{:08x}: 0x{:x} / 0x{:08x}, cpu 0x{:x} / 0x{:08x}", i, Bits(x[i]),
                                     code, Bits(y), cpu.codes[i], Bits(cpu.dequantized[i])));
          }
        }
  }
}

TEST_CASE("MX and NVFP4 block steps equal emulate/quant (schemes mx and nvfp4, last axis)") {
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
        gpu::MxElement t{f, IsFloat(f) ? quant::EmaxOf(f) : 0, IsFloat(f) ? 0 : 6};
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
              if (gpu::IsNanF32(v) || gpu::IsInfF32(v)) special = true;
              else amax = std::max(amax, gpu::AbsF32(v));
            }
            const gpu::MxScaleCode sc = gpu::MxSharedScaleF32(t, amax, special);
            CHECK(sc.code == cpu.scale_codes[row * per_row + b]);
            for (size_t c = b * 32; c < std::min(cols, b * 32 + 32); ++c) {
              const size_t e = row * cols + c;
              const uint64_t code = gpu::MxEncodeElementF32(t, eopt, x[e], sc, e).code;
              const float y = gpu::MxDecodeElementF32(t, code, sc);
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
      for (const float v : x) amax = gpu::FmaxF32(amax, gpu::AbsF32(v));
      const float s_enc = gpu::Nvfp4GlobalEncodeScaleF32(amax), s_dec = 1.0f / s_enc;
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
            bmax = gpu::FmaxF32(bmax, gpu::AbsF32(x[row * cols + c]));
          const uint8_t sc = gpu::Nvfp4BlockScaleCodeF32(bmax, s_enc);
          CHECK(sc == cpu.scale_codes[row * per_row + b]);
          const float k = gpu::Nvfp4BlockEncodeScaleF32(sc, s_dec);
          for (size_t c = b * 16; c < std::min(cols, b * 16 + 16); ++c) {
            const size_t e = row * cols + c;
            const uint64_t code = gpu::Nvfp4EncodeElementF32(eopt, x[e], k, e).code;
            const float y = gpu::Nvfp4DecodeElementF32(code, sc, s_dec);
            if ((code != cpu.codes[e] || Bits(y) != Bits(cpu.dequantized[e])) && bad++ < 3)
              FAIL_CHECK(fmt::format("nvfp4 element {}: 0x{:x}/0x{:08x}, cpu 0x{:x}/0x{:08x}", e, code, Bits(y),
                                     cpu.codes[e], Bits(cpu.dequantized[e])));
          }
        }
    }
  }
}

TEST_CASE("the GPU port of Dot equals emulate/dot.h: every model, several shapes, formats and modes") {
  struct Shape {
    size_t m, n, k;
  };
  const Shape shapes[] = {{2, 3, 0}, {3, 2, 1}, {2, 2, 7}, {2, 3, 33}, {1, 2, 100}};
  const std::pair<const Format*, const Format*> pairs[] = {{&formats::kE4m3fn, &formats::kF32},
                                                           {&formats::kBf16, &formats::kF32},
                                                           {&formats::kF16, &formats::kF16},
                                                           {&formats::kE5m2, &formats::kBf16},
                                                           {&formats::kF32, &formats::kF64}};
  int bad = 0;
  uint32_t seed = 1;
  for (const auto& [in, acc] : pairs)
    for (const DotModel& model : DotModels())
      for (const Rounding r : {Rounding::kNearestEven, Rounding::kTowardZero, Rounding::kStochastic})
        for (const Shape& s : shapes) {
          Options opt;
          opt.rounding = r;
          opt.seed = 9;
          const bool specials = (seed % 5) == 0;
          const std::vector<uint64_t> a = RandomCodes(*in, s.m * s.k, seed++, specials);
          const std::vector<uint64_t> b = RandomCodes(*in, s.k * s.n, seed++, specials);
          std::vector<uint64_t> want(s.m * s.n);
          Gemm(*in, a.data(), b.data(), s.m, s.n, s.k, *acc, model, want.data(), opt, 77);
          const uint64_t per = RoundingsPerDot(model, s.k);
          const gpu::DotParams p = ParamsOf(model);
          for (size_t i = 0; i < s.m; ++i)
            for (size_t j = 0; j < s.n; ++j) {
              const Result got = gpu::Dot(*in, a.data() + i * s.k, 1, b.data() + j, s.n, s.k, *acc, p, opt,
                                          77 + (i * s.n + j) * per);
              const Result ref = Dot(*in, a.data() + i * s.k, 1, b.data() + j, s.n, s.k, *acc, model, opt,
                                     77 + (i * s.n + j) * per);
              if ((got.code != want[i * s.n + j] || got.flags != ref.flags) && bad++ < 5)
                FAIL_CHECK(fmt::format("{} x {} -> {}, model {} G{} F{} A{} N{}, {}, k {}: port 0x{:x}/{}, dot.h "
                                       "0x{:x}/{}",
                                       in->name, in->name, acc->name, static_cast<int>(model.accumulation),
                                       model.group, model.fraction_bits, model.include_accumulator,
                                       model.promote_every, RoundingNameOf(r), s.k, got.code, got.flags,
                                       want[i * s.n + j], ref.flags));
            }
        }
  CHECK(bad == 0);
  CHECK(gpu::DotFits(formats::kF32, formats::kF64));
  CHECK(!gpu::DotFits(formats::kF64, formats::kF64));
}
