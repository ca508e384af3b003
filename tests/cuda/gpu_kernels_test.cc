// Every CUDA kernel (cuda/gpu.h) on the GPU against the CPU emulator, bit
// for bit: encode / decode / fake-quantization against the scalar core
// (the fast, core and plan kernel variants, every named format of at most
// 32 bits, every mode, policy variants, unaligned pointers, odd lengths and,
// for stochastic rounding, first indices of every residue mod 4),
// per-tensor FP8 scaling, MX, NVFP4 and the emulated GEMM (against
// emulate/quant and emulate/dot.h with the core's casts; the GEMM kernel
// runs emulate/dot.h's own code, every model and the H100 presets). Without a CUDA
// device: one line "skipped: no CUDA device", exit 77 (meson counts a skip).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "cuda/gpu.h"
#include "emulate/array_ops.h"
#include "formats/names.h"
#include "tests/cuda/cases.h"

using namespace floatscope;
using namespace floatscope::cuda_test;

namespace {

template <class T>
std::vector<T> Download(const gpu::DeviceArray<T>& d, size_t n) {
  std::vector<T> out(n);
  gpu::Synchronize();
  d.Download(out.data(), n);
  return out;
}

// Compares n elements of `bytes` width; reports the first few.
uint64_t CountDiff(const void* got, const void* want, size_t n, size_t bytes, const char* what, const Format& f,
                   Rounding r, const std::vector<float>* inputs, size_t offset) {
  uint64_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t g = 0, w = 0;
    std::memcpy(&g, static_cast<const uint8_t*>(got) + i * bytes, bytes);
    std::memcpy(&w, static_cast<const uint8_t*>(want) + i * bytes, bytes);
    if (g != w && bad++ < 3)
      FAIL_CHECK(fmt::format("{} {} {} element {} (input 0x{:08x}): gpu 0x{:x}, cpu 0x{:x}", what, f.name,
                             RoundingNameOf(r), i, inputs ? Bits((*inputs)[offset + i]) : 0u, g, w));
  }
  return bad;
}

}  // namespace

// Where a slice of the inputs starts in device memory (element offset: 1
// leaves the 16-byte alignment), its first element's index, and how many
// elements are left off its end.
struct Slice {
  size_t offset;
  uint64_t first;
  size_t trim;
};

// The deterministic modes see only the alignment; the stochastic ones also
// the index: one Philox call per four indices 4c .. 4c + 3, so slices that
// start at every index mod 4, on aligned and unaligned pointers, with
// partial groups at both ends, and one whose counters cross 2^32 (the
// call's second counter word). Offset 1, 2, 3 with first index 1001,
// 1002, 1003 (the misalignments match: the kernels peel 3, 2, 1 elements
// and run the float4 loops from there); offset 1 with index 1000 and
// offset 0 with 1001..1003 (they do not: the group loop takes everything).
const std::vector<Slice>& SlicesFor(Rounding r) {
  static const std::vector<Slice> deterministic = {{0, 1000, 0}, {1, 1001, 2}, {3, 1000, 1}};
  static const std::vector<Slice> stochastic = {{0, 1000, 0}, {1, 1001, 2}, {2, 1002, 1}, {3, 1003, 2},
                                                {0, 1001, 1}, {0, 1002, 3}, {0, 1003, 0}, {1, 1000, 1},
                                                {0, (uint64_t{1} << 34) - 6, 5}};
  return IsStochastic(r) ? stochastic : deterministic;
}

// The scalar core's encode, fake-quantization and decode of n inputs, on
// all hardware threads.
void CoreReference(const Format& f, const Options& opt, const float* x, size_t n, uint64_t first,
                   std::vector<uint8_t>* codes, std::vector<float>* fq, std::vector<float>* dec) {
  const size_t bytes = CodeBytes(f);
  codes->assign(n * bytes, 0);
  fq->assign(n, 0.0f);
  dec->assign(n, 0.0f);
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  const size_t chunk = (n + threads - 1) / threads;
  std::vector<std::thread> pool;
  for (size_t b = 0; b < n; b += chunk) {
    pool.emplace_back([&, b] {
      const size_t m = std::min(chunk, n - b);
      scalar::EncodeF32Array(f, opt, x + b, codes->data() + b * bytes, m, first + b);
      scalar::FakeQuantF32Array(f, opt, x + b, fq->data() + b, m, first + b);
      scalar::DecodeToF32Array(f, opt, codes->data() + b * bytes, dec->data() + b, m);
    });
  }
  for (std::thread& t : pool) t.join();
}

TEST_CASE("encode, decode and fake-quantization kernels equal the core") {
  const std::vector<float> xs = InterestingInputs(1 << 18, 5);
  gpu::DeviceArray<float> d_in(xs.size() + 1), d_fq(xs.size() + 1), d_dec(xs.size() + 1);
  gpu::DeviceArray<uint8_t> d_codes(4 * (xs.size() + 1));
  for (const Format& f : formats::kAll) {
    if (f.bits > 32 || CodeBytes(f) > 4) continue;
    const size_t bytes = CodeBytes(f);
    std::vector<Options> variants(3);
    variants[1].overflow = IsFloat(f) ? Overflow::kSaturate : Overflow::kWrap;
    variants[2].flush_input = variants[2].flush_output = true;
    variants[2].seed = 77;
    for (Options opt : variants)
      for (const Rounding r : {Rounding::kNearestEven, Rounding::kNearestAway, Rounding::kTowardZero,
                               Rounding::kDown, Rounding::kUp, Rounding::kOdd, Rounding::kStochastic,
                               Rounding::kStochasticEq}) {
        opt.rounding = r;
        for (const Slice& slice : SlicesFor(r)) {
          CAPTURE(slice.offset);
          CAPTURE(slice.first);
          // The slice holds xs[0, n), from device element `offset` on.
          const size_t n = xs.size() - slice.offset - slice.trim;
          const float* x = xs.data();
          gpu::CopyToDevice(d_in.get() + slice.offset, x, 4 * n);
          std::vector<uint8_t> want;
          std::vector<float> want_fq, want_dec;
          CoreReference(f, opt, x, n, slice.first, &want, &want_fq, &want_dec);
          for (const gpu::Variant v : {gpu::Variant::kFast, gpu::Variant::kCore, gpu::Variant::kPlan}) {
            if (!gpu::VariantSupports(v, f)) continue;
            CAPTURE(gpu::VariantName(v));
            uint8_t* codes = d_codes.get() + slice.offset * bytes;
            gpu::Encode(f, opt, d_in.get() + slice.offset, codes, n, slice.first, v);
            gpu::FakeQuant(f, opt, d_in.get() + slice.offset, d_fq.get() + slice.offset, n, slice.first, v);
            gpu::Decode(f, opt, codes, d_dec.get() + slice.offset, n, v);
            gpu::Synchronize();
            std::vector<uint8_t> got(n * bytes);
            std::vector<float> got_fq(n), got_dec(n);
            gpu::CopyToHost(got.data(), codes, n * bytes);
            gpu::CopyToHost(got_fq.data(), d_fq.get() + slice.offset, 4 * n);
            gpu::CopyToHost(got_dec.data(), d_dec.get() + slice.offset, 4 * n);
            CHECK(CountDiff(got.data(), want.data(), n, bytes, "encode", f, r, &xs, 0) == 0);
            CHECK(CountDiff(got_fq.data(), want_fq.data(), n, 4, "fake-quant", f, r, &xs, 0) == 0);
            CHECK(CountDiff(got_dec.data(), want_dec.data(), n, 4, "decode", f, r, nullptr, 0) == 0);
          }
        }
      }
  }
}

TEST_CASE("short slices: the peel, partial groups and the group loop alone") {
  // n = 0..13 elements from every offset 0..3 and first index mod 4: the
  // peel longer than the slice, a peel and a tail with no float4 between,
  // one or two float4 with head and tail.
  const std::vector<float> xs = InterestingInputs(64, 9);
  gpu::DeviceArray<float> d_in(32), d_fq(32), d_dec(32);
  gpu::DeviceArray<uint8_t> d_codes(4 * 32);
  for (const char* name : {"e4m3fn", "int8", "bf16", "e3m4", "e2m3fn", "f32"})
    for (const Rounding r : {Rounding::kNearestEven, Rounding::kStochastic, Rounding::kStochasticEq}) {
      const Format& f = *FindNamedFormat(name);
      const size_t bytes = CodeBytes(f);
      Options opt;
      opt.rounding = r;
      opt.seed = 31;
      for (size_t offset = 0; offset < 4; ++offset)
        for (uint64_t first = 4000; first < 4004; ++first)
          for (size_t n = 0; n <= 13; ++n) {
            CAPTURE(name);
            CAPTURE(offset);
            CAPTURE(first);
            CAPTURE(n);
            const float* x = xs.data() + 3 * n;
            gpu::CopyToDevice(d_in.get() + offset, x, 4 * n);
            std::vector<uint8_t> want;
            std::vector<float> want_fq, want_dec;
            CoreReference(f, opt, x, n, first, &want, &want_fq, &want_dec);
            for (const gpu::Variant v : {gpu::Variant::kFast, gpu::Variant::kCore, gpu::Variant::kPlan}) {
              if (!gpu::VariantSupports(v, f)) continue;
              CAPTURE(gpu::VariantName(v));
              uint8_t* codes = d_codes.get() + offset * bytes;
              gpu::Encode(f, opt, d_in.get() + offset, codes, n, first, v);
              gpu::FakeQuant(f, opt, d_in.get() + offset, d_fq.get() + offset, n, first, v);
              gpu::Synchronize();
              std::vector<uint8_t> got(n * bytes + 1);
              std::vector<float> got_fq(n + 1);
              gpu::CopyToHost(got.data(), codes, n * bytes);
              gpu::CopyToHost(got_fq.data(), d_fq.get() + offset, 4 * n);
              CHECK(CountDiff(got.data(), want.data(), n, bytes, "encode", f, r, nullptr, 0) == 0);
              CHECK(CountDiff(got_fq.data(), want_fq.data(), n, 4, "fake-quant", f, r, nullptr, 0) == 0);
            }
          }
    }
}

TEST_CASE("per-tensor scaled fake-quantization equals emulate/quant scheme tensor") {
  for (const Format* f : {&formats::kE4m3fn, &formats::kE5m2, &formats::kF16, &formats::kE3m4, &formats::kBf16})
    for (const bool specials : {false, true})
      for (const auto& [margin, pow2] : std::vector<std::pair<int, bool>>{{0, false}, {1, true}})
        for (const Rounding r : {Rounding::kNearestEven, Rounding::kStochastic, Rounding::kTowardZero,
                                 Rounding::kStochasticEq}) {
          CAPTURE(f->name);
          CAPTURE(specials);
          Options opt;
          opt.rounding = r;
          opt.seed = 5;
          const size_t n = (1 << 20) + 3;
          const std::vector<float> x = TensorInputs(n, 21, specials, 0.5f);
          const quant::QuantResult cpu = CpuQuantize(*f, quant::Scheme::kTensor, opt, {n}, x, margin, pow2);
          gpu::DeviceArray<float> d_in(n), d_out(n);
          gpu::DeviceArray<uint8_t> d_codes(2 * n), d_work(gpu::TensorScaledWorkBytes());
          d_in.Upload(x.data(), n);
          gpu::TensorScaledFakeQuant(*f, opt, gpu::ScaledRecipe{margin, pow2}, d_in.get(), d_codes.get(),
                                     d_out.get(), n, d_work.get());
          const gpu::TensorScales s = gpu::TensorScaledScales(d_work.get());
          CHECK(Bits(s.scale_inv) == Bits(cpu.scales[0]));
          const std::vector<float> y = Download(d_out, n);
          const std::vector<uint8_t> codes = Download(d_codes, 2 * n);
          const size_t bytes = CodeBytes(*f);
          std::vector<uint8_t> want(n * bytes);
          for (size_t i = 0; i < n; ++i) {
            const uint64_t code = cpu.codes[i];  // little-endian: its low `bytes` bytes
            std::memcpy(want.data() + i * bytes, &code, bytes);
          }
          CHECK(CountDiff(codes.data(), want.data(), n, bytes, "scaled codes", *f, r, &x, 0) == 0);
          CHECK(CountDiff(y.data(), cpu.dequantized.data(), n, 4, "scaled fake-quant", *f, r, &x, 0) == 0);
        }
}

// The scaled cast's stochastic rounding rounds the exact product x * scale
// from its float32 truncation and the 32 bits below it: scales from
// subnormal (a large amax and margin 64) to FLT_MAX (a tiny amax: the
// scale overflows), products that are float32 subnormals or overflow the
// format (margin -64), inputs that are subnormals, sr_bits 1, 7, 11, 32;
// unaligned pointers (the group loop) and odd lengths (partial groups).
// (The recipe takes margins in -64..64.)
TEST_CASE("per-tensor scaled stochastic rounding: extreme scales and products") {
  struct Case {
    float sigma;
    int margin;
    bool pow2;
    uint8_t sr_bits;
  };
  const Case cases[] = {{0.5f, 0, false, 32},  {3.7e-3f, 0, false, 32}, {1e-30f, 0, false, 32},
                        {1e-42f, 0, false, 32}, {3e-39f, 0, false, 32},  {2e30f, 0, false, 32},
                        {1e24f, 64, false, 32}, {0.5f, 64, false, 32},   {0.5f, -64, false, 32},
                        {0.7f, 0, true, 32},    {0.5f, 0, false, 7},     {0.5f, 0, false, 1},
                        {1e-30f, 0, false, 11}};
  const size_t n = (1 << 18) + 5;
  for (const Format* f : {&formats::kE4m3fn, &formats::kE5m2, &formats::kF16, &formats::kE3m4, &formats::kBf16})
    for (const Case& c : cases)
      for (const size_t offset : {size_t{0}, size_t{1}})
        for (const Rounding r : {Rounding::kStochastic, Rounding::kStochasticEq}) {
          CAPTURE(f->name);
          CAPTURE(c.sigma);
          CAPTURE(c.margin);
          CAPTURE(static_cast<int>(c.sr_bits));
          CAPTURE(offset);
          Options opt;
          opt.rounding = r;
          opt.seed = 0x1234567890ull + c.margin;
          opt.sr_bits = c.sr_bits;
          std::vector<float> x = TensorInputs(n, 23 + c.margin, false, c.sigma);
          // Mantissas with every bit set (long products) and subnormals.
          for (size_t i = 40; i < n; i += 97) x[i] = F32FromBits((Bits(x[i]) | 0x7fffffu) ^ (i & 0x40u));
          for (size_t i = 41; i < n; i += 89) x[i] = F32FromBits((Bits(x[i]) & 0x807fffffu) | 1u);
          const quant::QuantResult cpu = CpuQuantize(*f, quant::Scheme::kTensor, opt, {n}, x, c.margin, c.pow2);
          gpu::DeviceArray<float> d_in(n + 1), d_out(n + 1);
          gpu::DeviceArray<uint8_t> d_codes(2 * (n + 1)), d_work(gpu::TensorScaledWorkBytes());
          const size_t bytes = CodeBytes(*f);
          gpu::CopyToDevice(d_in.get() + offset, x.data(), 4 * n);
          gpu::TensorScaledFakeQuant(*f, opt, gpu::ScaledRecipe{c.margin, c.pow2}, d_in.get() + offset,
                                     d_codes.get() + offset * bytes, d_out.get() + offset, n, d_work.get());
          const gpu::TensorScales s = gpu::TensorScaledScales(d_work.get());
          CAPTURE(s.scale);
          CHECK(Bits(s.scale_inv) == Bits(cpu.scales[0]));
          std::vector<float> y(n);
          std::vector<uint8_t> codes(n * bytes);
          gpu::CopyToHost(y.data(), d_out.get() + offset, 4 * n);
          gpu::CopyToHost(codes.data(), d_codes.get() + offset * bytes, n * bytes);
          std::vector<uint8_t> want(n * bytes);
          for (size_t i = 0; i < n; ++i) {
            const uint64_t code = cpu.codes[i];
            std::memcpy(want.data() + i * bytes, &code, bytes);
          }
          CHECK(CountDiff(codes.data(), want.data(), n, bytes, "scaled codes", *f, r, &x, 0) == 0);
          CHECK(CountDiff(y.data(), cpu.dequantized.data(), n, 4, "scaled fake-quant", *f, r, &x, 0) == 0);
        }
}

TEST_CASE("MX and NVFP4 kernels equal emulate/quant schemes mx and nvfp4") {
  for (const auto& [rows, cols] : std::vector<std::pair<size_t, size_t>>{{64, 1024}, {7, 70}}) {
    for (const bool specials : {false, true}) {
      const std::vector<float> x = TensorInputs(rows * cols, 17, specials, 2.0f);
      gpu::DeviceArray<float> d_in(x.size()), d_out(x.size());
      gpu::DeviceArray<uint8_t> d_codes(x.size()), d_scales(x.size()), d_work(gpu::Nvfp4WorkBytes());
      d_in.Upload(x.data(), x.size());
      for (const Rounding r : {Rounding::kNearestEven, Rounding::kStochastic}) {
        Options opt;
        opt.rounding = r;
        for (const char* name : {"e4m3fn", "e5m2", "e2m3fn", "e3m2fn", "e2m1fn", "int8"}) {
          CAPTURE(name);
          const Format& f = *FindNamedFormat(name);
          const quant::QuantResult cpu = CpuQuantize(f, quant::Scheme::kMx, opt, {rows, cols}, x);
          gpu::MxQuantize(f, opt, d_in.get(), rows, cols, d_codes.get(), d_scales.get(), d_out.get());
          const std::vector<uint8_t> codes = Download(d_codes, x.size());
          const std::vector<uint8_t> scales = Download(d_scales, cpu.scale_codes.size());
          const std::vector<float> y = Download(d_out, x.size());
          std::vector<uint8_t> want(x.size());
          for (size_t i = 0; i < x.size(); ++i) want[i] = static_cast<uint8_t>(cpu.codes[i]);
          CHECK(CountDiff(codes.data(), want.data(), x.size(), 1, "mx codes", f, r, &x, 0) == 0);
          CHECK(CountDiff(scales.data(), cpu.scale_codes.data(), scales.size(), 1, "mx scales", f, r, nullptr, 0) == 0);
          CHECK(CountDiff(y.data(), cpu.dequantized.data(), x.size(), 4, "mx values", f, r, &x, 0) == 0);
        }
        const quant::QuantResult cpu = CpuQuantize(formats::kE2m1fn, quant::Scheme::kNvfp4, opt, {rows, cols}, x);
        gpu::Nvfp4Quantize(opt, d_in.get(), rows, cols, d_codes.get(), d_scales.get(), d_out.get(), d_work.get());
        CHECK(Bits(gpu::Nvfp4GlobalDecodeScale(d_work.get())) == Bits(*cpu.global_decode_scale));
        const std::vector<uint8_t> codes = Download(d_codes, x.size());
        const std::vector<uint8_t> scales = Download(d_scales, cpu.scale_codes.size());
        const std::vector<float> y = Download(d_out, x.size());
        std::vector<uint8_t> want(x.size());
        for (size_t i = 0; i < x.size(); ++i) want[i] = static_cast<uint8_t>(cpu.codes[i]);
        CHECK(CountDiff(codes.data(), want.data(), x.size(), 1, "nvfp4 codes", formats::kE2m1fn, r, &x, 0) == 0);
        CHECK(CountDiff(scales.data(), cpu.scale_codes.data(), scales.size(), 1, "nvfp4 scales", formats::kE2m1fn, r,
                        nullptr, 0) == 0);
        CHECK(CountDiff(y.data(), cpu.dequantized.data(), x.size(), 4, "nvfp4 values", formats::kE2m1fn, r, &x, 0) == 0);
      }
    }
  }
}

namespace {

// C = A * B (codes a, b) on the GPU and by emulate/dot.h's Dot on the CPU,
// compared code by code and flag by flag; the first differences are
// reported. Returns the number of elements that differ.
int CompareGemmCodes(const Format& in_a, const std::vector<uint64_t>& a, const Format& in_b,
                     const std::vector<uint64_t>& b, const Format& acc, const DotModel& model, const Options& opt,
                     size_t m, size_t n, size_t k, uint64_t first) {
  std::vector<uint64_t> want(m * n);
  std::vector<uint8_t> want_flags(m * n);
  const uint64_t per = RoundingsPerDot(model, k);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) {
      const Result r = Dot(in_a, a.data() + i * k, 1, in_b, b.data() + j, n, k, acc, model, opt,
                           first + (i * n + j) * per);
      want[i * n + j] = r.code;
      want_flags[i * n + j] = r.flags;
    }
  std::vector<uint32_t> a32(a.begin(), a.end()), b32(b.begin(), b.end());
  gpu::DeviceArray<uint32_t> d_a(a32.size()), d_b(b32.size());
  gpu::DeviceArray<uint64_t> d_c(want.size());
  gpu::DeviceArray<uint8_t> d_flags(want.size());
  d_a.Upload(a32.data(), a32.size());
  d_b.Upload(b32.data(), b32.size());
  gpu::Gemm(in_a, d_a.get(), in_b, d_b.get(), m, n, k, acc, model, d_c.get(), d_flags.get(), opt, first);
  const std::vector<uint64_t> got = Download(d_c, want.size());
  const std::vector<uint8_t> got_flags = Download(d_flags, want.size());
  int bad = 0;
  for (size_t e = 0; e < want.size(); ++e)
    if ((got[e] != want[e] || got_flags[e] != want_flags[e]) && bad++ < 3)
      FAIL_CHECK(fmt::format("gemm {} x {} -> {} {}, {}, k {}: C[{}][{}] gpu 0x{:x}/{}, cpu 0x{:x}/{}", in_a.name,
                             in_b.name, acc.name, DescribeModel(model), RoundingNameOf(opt.rounding), k, e / n, e % n,
                             got[e], got_flags[e], want[e], want_flags[e]));
  return bad;
}

// CompareGemmCodes on random codes (specials in A where asked).
int CompareGemm(const Format& in_a, const Format& in_b, const Format& acc, const DotModel& model, const Options& opt,
                size_t m, size_t n, size_t k, uint32_t seed, bool specials) {
  return CompareGemmCodes(in_a, RandomCodes(in_a, m * k, seed, specials), in_b, RandomCodes(in_b, k * n, seed + 1, false),
                          acc, model, opt, m, n, k, 5);
}

}  // namespace

TEST_CASE("the emulated GEMM equals emulate/dot.h Gemm: every model") {
  struct Shape {
    size_t m, n, k;
  };
  const Shape shapes[] = {{17, 9, 1}, {33, 20, 40}, {8, 64, 100}};
  struct Formats {
    const Format *in_a, *in_b, *acc;
  };
  const Formats cases[] = {{&formats::kE4m3fn, &formats::kE4m3fn, &formats::kF32},
                           {&formats::kE5m2, &formats::kE4m3fn, &formats::kF32},
                           {&formats::kBf16, &formats::kBf16, &formats::kF32},
                           {&formats::kF16, &formats::kF16, &formats::kF16}};
  uint32_t seed = 3;
  int bad = 0;
  for (const auto& [in_a, in_b, acc] : cases)
    for (const DotModel& model : DotModels())
      for (const Rounding r : {Rounding::kNearestEven, Rounding::kStochastic})
        for (const Shape& s : shapes) {
          Options opt;
          opt.rounding = r;
          bad += CompareGemm(*in_a, *in_b, *acc, model, opt, s.m, s.n, s.k, seed, seed % 4 == 0);
          seed += 2;
        }
  CHECK(bad == 0);
}

TEST_CASE("the H100 tensor-core presets run on the GPU as on the CPU") {
  // k = 300 and 1024: several groups of 32 and promotions every 128
  // products (FP8 without fast accumulation), with a short last group.
  uint32_t seed = 101;
  int bad = 0;
  for (const PresetCase& c : H100PresetCases())
    for (const size_t k : {size_t{300}, size_t{1024}}) {
      CAPTURE(c.preset->name);
      bad += CompareGemm(*c.in_a, *c.in_b, formats::kF32, c.preset->model, c.preset->options, 24, 40, k, seed, false);
      seed += 2;
    }
  CHECK(bad == 0);
}

// The float32 and block kernels take kSequential/kFused and kBlock/kExact,
// but not with an operand conversion or an instruction K order
// (DotModel::operand_format, instruction_k: GemmElement's, as for the
// fixed-point kernel). Host-side dispatch only: no device needed.
TEST_CASE("the float32 and block GEMM kernels decline operand conversions and K orders") {
  const size_t m = 64, n = 64, k = 256;
  const Format& e4m3 = formats::kE4m3fn;
  DotModel fused;
  fused.accumulation = Accumulation::kFused;
  CHECK(gpu::GemmFloatApplies(e4m3, e4m3, formats::kF32, fused, Options{}, m, n, k));
  DotModel converted = fused;
  converted.operand_format = &formats::kF16;
  CHECK_FALSE(gpu::GemmFloatApplies(e4m3, e4m3, formats::kF32, converted, Options{}, m, n, k));
  DotModel block;
  block.accumulation = Accumulation::kBlock;
  block.block = 16;
  CHECK(gpu::GemmBlockFixedApplies(e4m3, e4m3, formats::kF32, block, m, n, k));
  DotModel ordered = block;
  ordered.instruction_k = 32;
  ordered.substeps = 2;
  ordered.substep_run = 2;
  CHECK_FALSE(gpu::GemmBlockFixedApplies(e4m3, e4m3, formats::kF32, ordered, m, n, k));
  DotModel exact_converted;
  exact_converted.accumulation = Accumulation::kExact;
  exact_converted.operand_format = &formats::kF16;
  CHECK_FALSE(gpu::GemmBlockFixedApplies(e4m3, e4m3, formats::kF32, exact_converted, m, n, k));
}

// The fast kernel (cuda/gemm_kernel.cu, emulate/dot_hardware.h's fixed-point
// steps) at K = 4096 against emulate/dot.h's Dot on the CPU, code and flags
// of every element: every H100 preset (hopper-mma-fp8's operand conversion
// and K order included; K = 4000, not a multiple of its 32, pads its last
// instruction) and generic kHardware models (both alignments; sum formats
// of every kind: float32, f32p14, the IEEE-like bf16, f16 and tf32 with
// widths read at run time, and e4m3fn on the wholly run-time variant;
// promotions; every rounding mode, the constant ones and those read at run
// time), with NaN and infinite inputs in a few rows of A and columns of B
// (those dot products go to GemmElement), a row of the largest finite
// inputs (the adder's overflow) and rows and columns of -0 (the sign of
// zero sums).
TEST_CASE("the fast GEMM kernel equals emulate/dot.h at K = 4096: H100 presets, generic models, specials") {
  const size_t m = 80, n = 72;
  struct FastCase {
    const Format *in_a, *in_b;
    DotModel model;
    Options opt;
    size_t k = 4096;
  };
  std::vector<FastCase> cases;
  for (const PresetCase& c : H100PresetCases()) {
    cases.push_back({c.in_a, c.in_b, c.preset->model, c.preset->options});
    if (c.preset->model.instruction_k != 0) cases.push_back({c.in_a, c.in_b, c.preset->model, c.preset->options, 4000});
  }
  DotModel g;  // G 4, F 24, leading-bit alignment
  g.accumulation = Accumulation::kHardware;
  cases.push_back({&formats::kBf16, &formats::kBf16, g, Options{}});
  DotModel h = g;
  h.group = 16;
  h.fraction_bits = 12;
  h.promote_every = 2;
  h.alignment = Alignment::kExponentSum;
  Options sr;
  sr.rounding = Rounding::kStochastic;
  cases.push_back({&formats::kF16, &formats::kF16, h, sr});
  DotModel f = g;
  f.group = 8;
  f.fraction_bits = 20;
  f.sum_format = &kH100Fp8SumFormat;
  Options rdn;
  rdn.rounding = Rounding::kDown;
  cases.push_back({&formats::kE5m2, &formats::kE4m3fn, f, rdn});
  // The float32 sum under each mode with a kernel of its own (rtz, rdn,
  // rup, rne; sr above; the f32p14 sum's rdn above), both alignments.
  for (const Rounding r : {Rounding::kTowardZero, Rounding::kDown, Rounding::kUp}) {
    Options o;
    o.rounding = r;
    cases.push_back({&formats::kBf16, &formats::kBf16, g, o});
  }
  cases.push_back({&formats::kF16, &formats::kF16, h, Options{}});
  // The narrow sum formats with a kernel of their own: bf16 (rne), f16
  // (sr; FP8 inputs, exponent-sum alignment, promotions). The run-time
  // path: a bf16 sum and a float32 sum under rna.
  DotModel bs = g;
  bs.sum_format = &formats::kBf16;
  cases.push_back({&formats::kBf16, &formats::kBf16, bs, Options{}});
  DotModel hs = h;
  hs.sum_format = &formats::kF16;
  cases.push_back({&formats::kE4m3fn, &formats::kE4m3fn, hs, sr});
  Options rna;
  rna.rounding = Rounding::kNearestAway;
  cases.push_back({&formats::kBf16, &formats::kBf16, bs, rna});
  cases.push_back({&formats::kBf16, &formats::kBf16, g, rna});
  // The modes read at run time in the unrolled step (rdn above; rup, rto,
  // sr-eq), a tf32 sum (the IEEE-like kind), and the wholly run-time
  // variant (an e4m3fn sum: no infinities, one NaN code).
  for (const Rounding r : {Rounding::kUp, Rounding::kOdd, Rounding::kStochasticEq}) {
    Options o;
    o.rounding = r;
    cases.push_back({&formats::kBf16, &formats::kBf16, g, o});
    cases.push_back({&formats::kF16, &formats::kF16, h, o});
  }
  DotModel ts = g;
  ts.sum_format = &formats::kTf32;
  cases.push_back({&formats::kBf16, &formats::kBf16, ts, Options{}});
  cases.push_back({&formats::kF16, &formats::kF16, ts, sr});
  DotModel es = g;
  es.fraction_bits = 12;
  es.sum_format = &formats::kE4m3fn;
  cases.push_back({&formats::kE4m3fn, &formats::kE4m3fn, es, Options{}});
  cases.push_back({&formats::kE4m3fn, &formats::kE4m3fn, es, rna});
  uint32_t seed = 901;
  int bad = 0;
  for (const FastCase& c : cases) {
    const size_t k = c.k;
    CAPTURE(DescribeModel(c.model));
    CAPTURE(k);
    REQUIRE(gpu::GemmFixedPointApplies(*c.in_a, *c.in_b, formats::kF32, c.model, m, n, k));
    std::vector<uint64_t> a = RandomCodes(*c.in_a, m * k, seed, false), b = RandomCodes(*c.in_b, k * n, seed + 1, false);
    seed += 2;
    const uint64_t nan_a = CanonicalNanCode(*c.in_a), nan_b = CanonicalNanCode(*c.in_b);
    const uint64_t inf_a = HasInf(*c.in_a) ? PositiveInfCode(*c.in_a) : nan_a;
    const uint64_t inf_b = HasInf(*c.in_b) ? PositiveInfCode(*c.in_b) : nan_b;
    a[3 * k + 100] = nan_a;
    a[7 * k + 4000] = inf_a;
    a[7 * k + 4001] = inf_a | SignBit(*c.in_a);  // inf - inf in one row
    b[200 * n + 9] = inf_b | SignBit(*c.in_b);
    b[3000 * n + 50] = nan_b;
    for (size_t kk = 0; kk < k; ++kk) {
      a[5 * k + kk] = MaxFiniteMagnitude(*c.in_a) | (kk % 7 == 3 ? SignBit(*c.in_a) : 0);
      a[11 * k + kk] = SignBit(*c.in_a);  // -0
      b[kk * n + 13] = 0;                 // +0
    }
    bad += CompareGemmCodes(*c.in_a, a, *c.in_b, b, formats::kF32, c.model, c.opt, m, n, k, 3);
  }
  CHECK(bad == 0);
}

// Values of A and B whose leading bit is beyond 2^+-limit become values
// near 1 (their sign and mantissa kept): sums of moderate size.
void ClampExponents(const Format& f, std::vector<uint64_t>& v, int limit) {
  const uint64_t one = EncodeFromF64(f, 1.0).code;
  for (uint64_t& x : v) {
    const Unpacked u = Unpack(f, x);
    if (u.cls == Class::kFinite && std::abs(u.exp + static_cast<int>(detail::BitLength(u.sig)) - 1) > limit)
      x = (one & ~MantissaMask(f)) | (x & (MantissaMask(f) | SignBit(f)));
  }
}

// The edge rows and columns of the float GEMM kernels' tests (A: m x k, B:
// k x n, m >= 18, n >= 41): rows of the largest finite values with mixed
// signs (5), of -0 (11), of the smallest subnormal (13), of +1, -1, ...
// (17); columns of +0 (13), +-0 (21), and 40 made of pairs of equal
// values, which row 17 cancels to an exact zero.
void PlantEdgeRowsAndColumns(const Format& in_a, std::vector<uint64_t>& a, const Format& in_b,
                             std::vector<uint64_t>& b, size_t n, size_t k) {
  const uint64_t one_a = EncodeFromF64(in_a, 1.0).code;
  for (size_t kk = 0; kk < k; ++kk) {
    a[5 * k + kk] = MaxFiniteMagnitude(in_a) | (kk % 7 == 3 ? SignBit(in_a) : 0);
    a[11 * k + kk] = SignBit(in_a);                          // -0
    a[13 * k + kk] = 1 | (kk % 3 == 0 ? SignBit(in_a) : 0);  // the smallest subnormal
    a[17 * k + kk] = one_a | (kk % 2 ? SignBit(in_a) : 0);   // +1, -1, ...
    b[kk * n + 13] = 0;                                      // +0
    b[kk * n + 21] = kk % 5 == 0 ? SignBit(in_b) : 0;        // +-0
  }
  for (size_t kk = 0; kk + 1 < k; kk += 2) b[(kk + 1) * n + 40] = b[kk * n + 40];  // row 17: exact zero
}

// The float32 kernel (cuda/gemm_float_kernel.cu: kSequential and kFused on
// the GPU's FMA) at K = 4096 against emulate/dot.h's Dot on the CPU, code
// and flags of every element: both models, the four modes it runs, f16,
// bf16 and FP8 inputs, with NaN and infinite inputs, values outside the
// kernel's exponent windows (bf16: huge and tiny; those rows and columns go
// to GemmElement), the largest finite values (f16: sums near 2^44),
// subnormals, rows and columns of -0 and +0, and a row that cancels to an
// exact zero with each column.
TEST_CASE("the float32 GEMM kernel equals emulate/dot.h at K = 4096: kSequential, kFused, specials") {
  const size_t m = 40, n = 136, k = 4096;  // n: two column tiles, the second partial
  struct FloatCase {
    const Format *in_a, *in_b;
  };
  const FloatCase formats_[] = {{&formats::kF16, &formats::kF16},
                                {&formats::kBf16, &formats::kBf16},
                                {&formats::kE4m3fn, &formats::kE4m3fn},
                                {&formats::kE5m2, &formats::kE4m3fn}};
  uint32_t seed = 1201;
  int bad = 0, cases = 0;
  for (const Accumulation acc : {Accumulation::kSequential, Accumulation::kFused})
    for (const Rounding r : {Rounding::kNearestEven, Rounding::kTowardZero, Rounding::kDown, Rounding::kUp})
      for (const FloatCase& c : formats_) {
        DotModel model;
        model.accumulation = acc;
        Options opt;
        opt.rounding = r;
        CAPTURE(DescribeModel(model));
        CAPTURE(RoundingNameOf(r));
        CAPTURE(c.in_a->name);
        REQUIRE(gpu::GemmFloatApplies(*c.in_a, *c.in_b, formats::kF32, model, opt, m, n, k));
        std::vector<uint64_t> a = RandomCodes(*c.in_a, m * k, seed, false),
                              b = RandomCodes(*c.in_b, k * n, seed + 1, false);
        seed += 2;
        const uint64_t nan_a = CanonicalNanCode(*c.in_a), nan_b = CanonicalNanCode(*c.in_b);
        const uint64_t inf_a = HasInf(*c.in_a) ? PositiveInfCode(*c.in_a) : nan_a;
        const uint64_t inf_b = HasInf(*c.in_b) ? PositiveInfCode(*c.in_b) : nan_b;
        // Random codes of bf16 have any exponent: all but a few rows would
        // leave the kernel's window. Values beyond 2^+-20 become near 1.
        ClampExponents(*c.in_a, a, 20);
        ClampExponents(*c.in_b, b, 20);
        a[3 * k + 100] = nan_a;
        a[7 * k + 4000] = inf_a;
        a[7 * k + 4001] = inf_a | SignBit(*c.in_a);  // inf - inf in one row
        b[200 * n + 9] = inf_b | SignBit(*c.in_b);
        b[3000 * n + 130] = nan_b;
        PlantEdgeRowsAndColumns(*c.in_a, a, *c.in_b, b, n, k);
        a[19 * k + 77] = EncodeFromF64(*c.in_a, 0x1p100).code;  // bf16: outside the window (f16, FP8: the max)
        b[9 * n + 51] = EncodeFromF64(*c.in_b, 0x1p-100).code;  // bf16: outside; the others: 0
        bad += CompareGemmCodes(*c.in_a, a, *c.in_b, b, formats::kF32, model, opt, m, n, k, 3);
        ++cases;
      }
  CHECK(cases == 32);
  CHECK(bad == 0);
}

// The float64 kernel (cuda/gemm_f64_kernel.cu: kSequential and kFused in
// float64 round-to-odd, then the core's rounding) at K = 1000 against
// emulate/dot.h's Dot on the CPU, code and flags of every element:
// accumulators f16, bf16 (every rounding mode, sr and sr-eq included),
// e4m3fn (no infinity: overflow saturates or gives NaN), float32 under
// rna, rto, sr-eq and sr (sr: the exact-pair sums), and f16 with FTZ; inputs of moderate size, with
// rows of the largest finite values (the accumulator overflows: those dot
// products go to GemmElement), of the smallest subnormals (tiny products
// and sums, underflow), of -0, +-1 (exact cancellation), NaN and infinite
// inputs.
TEST_CASE("the float64 GEMM kernel equals emulate/dot.h: narrow accumulators, every mode, specials") {
  const size_t m = 40, n = 72, k = 1000;  // n: two column tiles, the second partial; K: a partial K tile
  struct F64Case {
    const Format *in_a, *in_b, *acc;
    Rounding rounding;
    bool ftz = false;
  };
  std::vector<F64Case> cases;
  const Rounding all[] = {Rounding::kNearestEven, Rounding::kNearestAway, Rounding::kTowardZero, Rounding::kDown,
                          Rounding::kUp,          Rounding::kOdd,         Rounding::kStochastic, Rounding::kStochasticEq};
  for (const Rounding r : all) {
    cases.push_back({&formats::kF16, &formats::kF16, &formats::kF16, r});
    cases.push_back({&formats::kBf16, &formats::kBf16, &formats::kBf16, r});
  }
  cases.push_back({&formats::kE5m2, &formats::kE4m3fn, &formats::kE4m3fn, Rounding::kNearestEven});
  for (const Rounding r : {Rounding::kNearestAway, Rounding::kOdd, Rounding::kStochasticEq, Rounding::kStochastic})
    cases.push_back({&formats::kE4m3fn, &formats::kE4m3fn, &formats::kF32, r});
  cases.push_back({&formats::kBf16, &formats::kBf16, &formats::kF32, Rounding::kStochastic});
  cases.push_back({&formats::kF16, &formats::kF16, &formats::kF16, Rounding::kNearestEven, true});
  uint32_t seed = 1301;
  int bad = 0, ran = 0;
  for (const Accumulation accumulation : {Accumulation::kSequential, Accumulation::kFused})
    for (const F64Case& c : cases) {
      DotModel model;
      model.accumulation = accumulation;
      Options opt;
      opt.rounding = c.rounding;
      opt.flush_output = c.ftz;
      CAPTURE(DescribeModel(model));
      CAPTURE(RoundingNameOf(c.rounding));
      CAPTURE(c.in_a->name);
      CAPTURE(c.acc->name);
      CAPTURE(c.ftz);
      REQUIRE(gpu::GemmFloat64Applies(*c.in_a, *c.in_b, *c.acc, model, opt, m, n, k));
      REQUIRE_FALSE(gpu::GemmFloatApplies(*c.in_a, *c.in_b, *c.acc, model, opt, m, n, k));
      std::vector<uint64_t> a = RandomCodes(*c.in_a, m * k, seed, false), b = RandomCodes(*c.in_b, k * n, seed + 1, false);
      seed += 2;
      // Values near 1 (|exponent| <= 3), so that most sums stay finite in a
      // narrow accumulator and the kernel's own path is what is compared.
      ClampExponents(*c.in_a, a, 3);
      ClampExponents(*c.in_b, b, 3);
      const uint64_t nan_a = CanonicalNanCode(*c.in_a), nan_b = CanonicalNanCode(*c.in_b);
      a[3 * k + 100] = nan_a;
      a[7 * k + 900] = HasInf(*c.in_a) ? PositiveInfCode(*c.in_a) : nan_a;
      b[200 * n + 9] = nan_b;
      PlantEdgeRowsAndColumns(*c.in_a, a, *c.in_b, b, n, k);
      bad += CompareGemmCodes(*c.in_a, a, *c.in_b, b, *c.acc, model, opt, m, n, k, 3);
      ++ran;
    }
  CHECK(ran == 46);
  CHECK(bad == 0);
}

// The fixed-point kBlock / kExact kernel (cuda/gemm_block_kernel.cu) at
// K = 4096 against emulate/dot.h's Dot on the CPU, code and flags of every
// element: kExact, kBlock with blocks dividing the K tile and not, E4M3 /
// FP6 / FP4 inputs and (the wide variant) f16 / bf16 / mixed ones, every
// mode (stochastic rounding by the rounding's
// index), with NaN and infinite inputs, the largest finite values, rows of
// -0 and columns of +0 (zero block sums: GemmElement) and a row whose
// blocks cancel.
TEST_CASE("the fixed-point kBlock/kExact GEMM kernel equals emulate/dot.h at K = 4096") {
  const size_t m = 40, n = 72, k = 4096;
  struct BlockCase {
    const Format *in_a, *in_b;
    Accumulation acc;
    uint32_t block;
    Rounding r;
  };
  const BlockCase cases[] = {
      {&formats::kE4m3fn, &formats::kE4m3fn, Accumulation::kExact, 0, Rounding::kNearestEven},
      {&formats::kE4m3fn, &formats::kE4m3fn, Accumulation::kExact, 0, Rounding::kStochastic},
      {&formats::kE4m3fn, &formats::kE4m3fn, Accumulation::kBlock, 32, Rounding::kNearestEven},
      {&formats::kE4m3fn, &formats::kE4m3fn, Accumulation::kBlock, 32, Rounding::kDown},
      {&formats::kE4m3fn, &formats::kE4m3fn, Accumulation::kBlock, 7, Rounding::kStochastic},
      {&formats::kE4m3fn, &formats::kE4m3fn, Accumulation::kBlock, 1, Rounding::kTowardZero},
      {&formats::kE3m2fn, &formats::kE2m1fn, Accumulation::kBlock, 48, Rounding::kUp},
      {&formats::kE2m3fn, &formats::kE2m3fn, Accumulation::kBlock, 16, Rounding::kNearestAway},
      // The wide variant (16-bit inputs, three limbs, q per row and column).
      {&formats::kF16, &formats::kF16, Accumulation::kExact, 0, Rounding::kNearestEven},
      {&formats::kF16, &formats::kF16, Accumulation::kBlock, 32, Rounding::kStochastic},
      {&formats::kBf16, &formats::kBf16, Accumulation::kExact, 0, Rounding::kTowardZero},
      {&formats::kBf16, &formats::kBf16, Accumulation::kBlock, 16, Rounding::kUp},
      {&formats::kBf16, &formats::kF16, Accumulation::kBlock, 64, Rounding::kStochasticEq},
      {&formats::kF16, &formats::kE4m3fn, Accumulation::kBlock, 8, Rounding::kNearestAway}};
  uint32_t seed = 1501;
  int bad = 0;
  for (const BlockCase& c : cases) {
    DotModel model;
    model.accumulation = c.acc;
    model.block = c.block;
    Options opt;
    opt.rounding = c.r;
    opt.seed = seed;
    CAPTURE(DescribeModel(model));
    CAPTURE(model.block);
    CAPTURE(RoundingNameOf(c.r));
    CAPTURE(c.in_a->name);
    REQUIRE(gpu::GemmBlockFixedApplies(*c.in_a, *c.in_b, formats::kF32, model, m, n, k));
    std::vector<uint64_t> a = RandomCodes(*c.in_a, m * k, seed, false), b = RandomCodes(*c.in_b, k * n, seed + 1, false);
    seed += 2;
    if (c.in_a->exponent_bits == 8) {  // bf16: rows that fit 40 bits but row 19, column 51 and the planted ones
      ClampExponents(*c.in_a, a, 12);
      a[19 * k + 77] = EncodeFromF64(*c.in_a, 0x1p100).code;
    }
    if (c.in_b->exponent_bits == 8) {
      ClampExponents(*c.in_b, b, 12);
      b[9 * n + 51] = EncodeFromF64(*c.in_b, 0x1p-100).code;
    }
    const uint64_t one_a = EncodeFromF64(*c.in_a, 1.0).code;
    if (HasNan(*c.in_a)) a[3 * k + 100] = CanonicalNanCode(*c.in_a);
    if (HasNan(*c.in_b)) b[3000 * n + 50] = CanonicalNanCode(*c.in_b);
    for (size_t kk = 0; kk < k; ++kk) {
      a[5 * k + kk] = MaxFiniteMagnitude(*c.in_a) | (kk % 7 == 3 ? SignBit(*c.in_a) : 0);
      a[11 * k + kk] = SignBit(*c.in_a);                         // -0
      a[17 * k + kk] = one_a | (kk % 2 ? SignBit(*c.in_a) : 0);  // +1, -1, ...
      b[kk * n + 13] = 0;                                        // +0
    }
    for (size_t kk = 0; kk < k; kk += 2) b[(kk + 1) * n + 40] = b[kk * n + 40];  // row 17: cancels in pairs
    bad += CompareGemmCodes(*c.in_a, a, *c.in_b, b, formats::kF32, model, opt, m, n, k, 3);
  }
  CHECK(bad == 0);
}

int main(int argc, char** argv) {
  std::string why;
  if (!gpu::DeviceAvailable(&why)) {
    std::printf("skipped: no CUDA device\n");
    return 77;
  }
  std::printf("device: %s\n", gpu::DeviceDescription().c_str());
  doctest::Context context(argc, argv);
  return context.run();
}
