#include "cuda/verify.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "cuda/device_ops.h"
#include "emulate/array_ops.h"
#include "emulate/quant/fp8_scaling.h"
#include "formats/convert.h"

namespace floatscope::gpu {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kBlock = size_t{1} << kLog2DigestBlock;
constexpr size_t kGpuChunk = size_t{1} << 28;

uint32_t LoadStored(const uint8_t* codes, size_t bytes, size_t i) {
  switch (bytes) {
    case 1: return codes[i];
    case 2: {
      uint16_t v;
      std::memcpy(&v, codes + 2 * i, 2);
      return v;
    }
    default: {
      uint32_t v;
      std::memcpy(&v, codes + 4 * i, 4);
      return v;
    }
  }
}

// Fake-quantized float32 bits of every core code.
std::vector<uint32_t> FakeQuantTable(const Format& f, const Options& opt) {
  const Options dec = FakeQuantDecodeOptions(opt);
  std::vector<uint32_t> lut(size_t{1} << f.bits);
  for (size_t c = 0; c < lut.size(); ++c) lut[c] = BitsOf(DecodeToF32(f, c, dec));
  return lut;
}

void CheckSupported(const Format& f) {
  if (f.bits > 24 || CodeBytes(f) > 4)
    throw GpuError(std::string("exhaustive verification covers formats of at most 24 bits, not ") + f.name);
}

}  // namespace

std::string ExplainCode(const Format& f, uint64_t code) {
  const double v = DecodeToF64(f, code);
  const int hex_digits = (f.storage_bits + 3) / 4;
  if (!IsFloat(f)) return fmt::format("0x{:0{}x} {}", code, hex_digits, v);
  const std::string bits = fmt::format("{:0{}b}", code, f.bits);
  const int s = f.is_signed ? 1 : 0;
  std::string fields = s ? fmt::format("s={} ", bits.substr(0, 1)) : "";
  fields += fmt::format("e={}", bits.substr(s, f.exponent_bits));
  if (f.mantissa_bits) fields += fmt::format(" m={}", bits.substr(s + f.exponent_bits));
  return fmt::format("0x{:0{}x} [{}] {}", code, hex_digits, fields, v);
}

const char* CpuReferenceName(CpuReference r) { return r == CpuReference::kCore ? "core" : "simd"; }

// Scaled mode: the recipe's options (overflow kDefault = saturate).
static Options ScaledOptions(Options o) {
  if (o.overflow == Overflow::kDefault) o.overflow = Overflow::kSaturate;
  return o;
}

Digests CpuDigests(const Format& f, const Options& opt, unsigned threads, CpuReference reference,
                   const std::function<void(size_t, size_t)>& progress, float scale) {
  CheckSupported(f);
  const Options scaled_opt = ScaledOptions(opt);
  const float inv = scale > 0 ? quant::Fp8ScaleInverse(scale) : 0.0f;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  const std::vector<uint32_t> lut = FakeQuantTable(f, opt);
  const size_t bytes = CodeBytes(f);
  Digests d;
  d.codes.assign(kDigestBlocks, 0);
  d.fake_quant.assign(kDigestBlocks, 0);
  std::atomic<size_t> next{0}, done{0};
  auto worker = [&] {
    std::vector<float> in(kBlock);
    std::vector<uint8_t> codes(kBlock * bytes);
    for (size_t b; (b = next.fetch_add(1)) < kDigestBlocks;) {
      const uint32_t first = static_cast<uint32_t>(b << kLog2DigestBlock);
      for (size_t i = 0; i < kBlock; ++i) in[i] = F32FromBits(first + static_cast<uint32_t>(i));
      uint64_t hc = 0, hq = 0;
      if (scale > 0) {
        for (size_t i = 0; i < kBlock; ++i) {
          const uint32_t index = first + static_cast<uint32_t>(i);
          const uint64_t code = quant::Fp8Encode(f, scaled_opt, static_cast<double>(in[i]), scale, index).code;
          hc += CodeTerm(index, StoredCode(f, code));
          hq += FakeQuantTerm(index, BitsOf(quant::Fp8Decode(f, code, inv)));
        }
      } else {
        if (reference == CpuReference::kCore) scalar::EncodeF32Array(f, opt, in.data(), codes.data(), kBlock, first);
        else EncodeF32Array(f, opt, in.data(), codes.data(), kBlock, first, nullptr, 1);
        for (size_t i = 0; i < kBlock; ++i) {
          const uint32_t index = first + static_cast<uint32_t>(i);
          const uint32_t stored = LoadStored(codes.data(), bytes, i);
          hc += CodeTerm(index, stored);
          hq += FakeQuantTerm(index, lut[stored >> f.storage_shift]);
        }
      }
      d.codes[b] = hc;
      d.fake_quant[b] = hq;
      done.fetch_add(1);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back(worker);
  if (progress) {
    while (done.load() < kDigestBlocks) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      progress(done.load(), kDigestBlocks);
    }
  }
  for (auto& t : pool) t.join();
  return d;
}

namespace {

// Encode and FakeQuant of n inputs from device element 0 (index first) in
// one call each, or in two split at element `split`; scaled mode: the
// scaled cast (codes and fake-quantized values in one call), `work` its
// device memory.
void RunKernels(const Format& f, const Options& opt, Variant v, uint32_t split, const float* in, uint8_t* codes,
                float* fq, size_t n, uint32_t first, float scale, void* work) {
  const size_t bytes = CodeBytes(f);
  const size_t s = split < n ? split : 0;
  auto run = [&](size_t at, size_t count) {
    if (scale > 0) {
      TensorScaledCast(f, opt, scale, in + at, codes + at * bytes, fq + at, count, first + at, work, v);
    } else {
      Encode(f, opt, in + at, codes + at * bytes, count, first + at, v);
      FakeQuant(f, opt, in + at, fq + at, count, first + at, v);
    }
  };
  if (s) run(0, s);
  run(s, n - s);
}

}  // namespace

Digests GpuDigests(const Format& f, const Options& opt, Variant v, uint32_t split, double* gpu_seconds,
                   float scale) {
  CheckSupported(f);
  const size_t bytes = CodeBytes(f);
  const size_t shift = split == kShiftedLayout ? 1 : 0;
  if (shift) split = 0;
  DeviceArray<float> in(kGpuChunk + 1), fq(kGpuChunk + 1);
  DeviceArray<uint8_t> codes((kGpuChunk + 1) * bytes), work(64);
  DeviceArray<uint64_t> dc(kDigestBlocks), dq(kDigestBlocks);
  Synchronize();
  const auto t0 = Clock::now();
  Zero(dc.get(), kDigestBlocks * 8);
  Zero(dq.get(), kDigestBlocks * 8);
  const size_t per_chunk = kGpuChunk >> kLog2DigestBlock;
  for (uint64_t c = 0; c < (uint64_t{1} << 32) / kGpuChunk; ++c) {
    const uint32_t first = static_cast<uint32_t>(c * kGpuChunk);
    FillIota(in.get() + shift, first, kGpuChunk);
    RunKernels(f, opt, v, split, in.get() + shift, codes.get() + shift * bytes, fq.get() + shift, kGpuChunk, first,
               scale, work.get());
    BlockDigests(codes.get() + shift * bytes, static_cast<int>(bytes), false, first, kGpuChunk, kLog2DigestBlock,
                 dc.get() + c * per_chunk);
    BlockDigests(fq.get() + shift, 4, true, first, kGpuChunk, kLog2DigestBlock, dq.get() + c * per_chunk);
  }
  Digests d;
  d.codes.resize(kDigestBlocks);
  d.fake_quant.resize(kDigestBlocks);
  dc.Download(d.codes.data(), kDigestBlocks);
  dq.Download(d.fake_quant.data(), kDigestBlocks);
  Synchronize();
  if (gpu_seconds) *gpu_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return d;
}

namespace {

// Reruns block b on the GPU (split as the outcome's layout, so through the
// same loops) and compares each element with the scalar core.
void LocalizeBlock(const Format& f, const Options& opt, Variant v, size_t b, int max_report, VariantOutcome* out,
                   float scale) {
  const size_t bytes = CodeBytes(f);
  const uint32_t first = static_cast<uint32_t>(b << kLog2DigestBlock);
  const size_t shift = out->split == kShiftedLayout ? 1 : 0;
  const uint32_t split = shift ? 0 : out->split;
  DeviceArray<float> in(kBlock + 1), fq(kBlock + 1);
  DeviceArray<uint8_t> codes((kBlock + 1) * bytes), work(64);
  FillIota(in.get() + shift, first, kBlock);
  RunKernels(f, opt, v, split, in.get() + shift, codes.get() + shift * bytes, fq.get() + shift, kBlock, first, scale,
             work.get());
  Synchronize();
  std::vector<uint8_t> got_codes(kBlock * bytes);
  std::vector<float> got_fq(kBlock);
  CopyToHost(got_codes.data(), codes.get() + shift * bytes, got_codes.size());
  CopyToHost(got_fq.data(), fq.get() + shift, 4 * kBlock);
  const Options dec = FakeQuantDecodeOptions(opt);
  for (size_t i = 0; i < kBlock; ++i) {
    const uint32_t bits = first + static_cast<uint32_t>(i);
    const Result want = scale > 0 ? quant::Fp8Encode(f, ScaledOptions(opt), F32FromBits(bits), scale, bits)
                                  : EncodeFromF32(f, F32FromBits(bits), opt, bits);
    const uint64_t got = LoadStored(got_codes.data(), bytes, i) >> f.storage_shift;
    const uint32_t want_fq = scale > 0 ? BitsOf(quant::Fp8Decode(f, want.code, quant::Fp8ScaleInverse(scale)))
                                       : BitsOf(DecodeToF32(f, want.code, dec));
    const uint32_t fq_bits = BitsOf(got_fq[i]);
    if (got != want.code) {
      if (out->code_mismatches++ < static_cast<uint64_t>(max_report))
        out->first.push_back(fmt::format("encode   f32 0x{:08x} ({}): gpu {}, core {}", bits, F32FromBits(bits),
                                         ExplainCode(f, got), ExplainCode(f, want.code)));
    }
    if (fq_bits != want_fq) {
      if (out->fake_quant_mismatches++ < static_cast<uint64_t>(max_report))
        out->first.push_back(fmt::format("fakequant f32 0x{:08x} ({}): gpu 0x{:08x} ({}), core 0x{:08x} ({}) from {}",
                                         bits, F32FromBits(bits), fq_bits, got_fq[i], want_fq, F32FromBits(want_fq),
                                         ExplainCode(f, want.code)));
    }
  }
}

uint64_t CheckDecodes(const Format& f, const Options& opt, Variant v, int max_report, VariantOutcome* out) {
  const size_t n = size_t{1} << f.bits, bytes = CodeBytes(f);
  std::vector<uint8_t> codes(n * bytes);
  for (size_t c = 0; c < n; ++c) {
    const uint32_t stored = static_cast<uint32_t>(c << f.storage_shift);
    std::memcpy(codes.data() + c * bytes, &stored, bytes);  // little-endian
  }
  DeviceArray<uint8_t> d_codes(codes.size());
  DeviceArray<float> d_out(n);
  d_codes.Upload(codes.data(), codes.size());
  Decode(f, opt, d_codes.get(), d_out.get(), n, v);
  std::vector<float> got(n);
  d_out.Download(got.data(), n);
  Options dec = opt;
  dec.flush_output = false;
  uint64_t bad = 0;
  for (size_t c = 0; c < n; ++c) {
    const uint32_t want = BitsOf(DecodeToF32(f, c, dec));
    if (BitsOf(got[c]) != want && bad++ < static_cast<uint64_t>(max_report))
      out->first.push_back(fmt::format("decode   {}: gpu 0x{:08x}, core 0x{:08x}", ExplainCode(f, c),
                                       BitsOf(got[c]), want));
  }
  return bad;
}

}  // namespace

ExhaustiveOutcome VerifyExhaustive(const Format& f, const Options& opt, const std::vector<Variant>& variants,
                                   unsigned threads, int max_report, CpuReference reference, bool unaligned,
                                   const std::function<void(size_t, size_t)>& progress, float scale) {
  CheckSupported(f);
  for (Variant v : variants)
    if (!VariantSupports(v, f))
      throw GpuError(fmt::format("the {} kernels do not cover format {}", VariantName(v), f.name));
  ExhaustiveOutcome out;
  Digests cpu;
  std::exception_ptr cpu_error;
  const auto t0 = Clock::now();
  std::atomic<bool> cpu_done{false};
  std::thread cpu_thread([&] {
    try {
      cpu = CpuDigests(f, opt, threads, reference, {}, scale);
    } catch (...) {
      cpu_error = std::current_exception();
    }
    out.cpu_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    cpu_done = true;
  });
  std::vector<Digests> gpu;
  try {
    for (const Variant v : variants) {
      for (const uint32_t split : {uint32_t{0}, kUnalignedSplit, kShiftedLayout}) {
        if (split && !unaligned) continue;
        VariantOutcome vo;
        vo.variant = v;
        vo.split = split;
        gpu.push_back(GpuDigests(f, opt, v, split, &vo.gpu_seconds, scale));
        vo.decode_mismatches = CheckDecodes(f, opt, v, max_report, &vo);
        out.variants.push_back(vo);
      }
    }
  } catch (...) {
    cpu_thread.join();
    throw;
  }
  if (progress) {
    while (!cpu_done.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      progress(static_cast<size_t>(std::chrono::duration<double>(Clock::now() - t0).count()), 0);
    }
  }
  cpu_thread.join();
  if (cpu_error) std::rethrow_exception(cpu_error);
  for (size_t k = 0; k < out.variants.size(); ++k) {
    VariantOutcome& vo = out.variants[k];
    for (size_t b = 0; b < kDigestBlocks; ++b) {
      const bool code_bad = gpu[k].codes[b] != cpu.codes[b];
      const bool fq_bad = gpu[k].fake_quant[b] != cpu.fake_quant[b];
      vo.code_blocks_differing += code_bad;
      vo.fake_quant_blocks_differing += fq_bad;
      if (code_bad || fq_bad) LocalizeBlock(f, opt, vo.variant, b, max_report, &vo, scale);
    }
  }
  return out;
}

}  // namespace floatscope::gpu
