// The per-element steps of the CUDA kernels, as FS_HD functions: the same
// code runs in the kernels (cuda/kernels.cu) and on the host, where
// tests/cuda/device_ops_host_test.cc proves it equal to emulate/ (array
// ops, quant/). Nothing here rounds: every rounding is the core's RoundPack
// (formats/), and the few float32 operations are the ones the CPU recipes
// in emulate/quant/ perform, in the same order, each an IEEE float32
// operation rounded to nearest even (the CUDA build uses -fmad=false and
// IEEE division; the host build -ffp-contract=off).
#pragma once

#include <cstdint>

#include "formats/catalog.h"
#include "formats/convert.h"

namespace floatscope::gpu {

// ---- plain conversions (emulate/array_ops.h) --------------------------------

// Decode options of DecodeToF32Array: flush_output is about rounding into
// a format, not about float32.
FS_HD constexpr Options DecodeOptions(Options o) {
  o.flush_output = false;
  return o;
}

// Decode options of FakeQuantF32Array: the decode reads the code's value
// exactly and a float32 subnormal stays one.
FS_HD constexpr Options FakeQuantDecodeOptions(Options o) {
  o.flush_input = false;
  o.flush_output = false;
  return o;
}

// A core code -> the word stored in memory (tf32 sits 13 bits up).
FS_HD constexpr uint32_t StoredCode(const Format& f, uint64_t code) {
  return static_cast<uint32_t>(code << f.storage_shift);
}
FS_HD constexpr uint64_t CoreCode(const Format& f, uint32_t stored) {
  return stored >> f.storage_shift;
}

// ---- float32 helpers with std:: semantics -----------------------------------

FS_HD constexpr bool IsNanF32(float x) { return (BitsOf(x) & 0x7FFFFFFFu) > 0x7F800000u; }
FS_HD constexpr bool IsInfF32(float x) { return (BitsOf(x) & 0x7FFFFFFFu) == 0x7F800000u; }
FS_HD constexpr float AbsF32(float x) { return F32FromBits(BitsOf(x) & 0x7FFFFFFFu); }

// std::fmin / std::fmax: a NaN operand is ignored.
FS_HD constexpr float FminF32(float a, float b) {
  if (IsNanF32(a)) return b;
  if (IsNanF32(b)) return a;
  return b < a ? b : a;
}
FS_HD constexpr float FmaxF32(float a, float b) {
  if (IsNanF32(a)) return b;
  if (IsNanF32(b)) return a;
  return b > a ? b : a;
}

inline constexpr float kFltMax = 0x1.fffffep127f;
inline constexpr uint32_t kQuietNanF32 = 0x7FC00000u;          // NAN as <cmath> spells it
inline constexpr uint64_t kQuietNanF64 = 0x7FF8000000000000ull;

// std::ldexp(x, e) for float32: x * 2^e rounded once (nearest even), by
// the core on the exact exponent.
FS_HD constexpr float LdexpF32(float x, int e) {
  constexpr Format kF32 = formats::kF32;
  Unpacked u = Unpack(kF32, BitsOf(x));
  if (u.cls != Class::kFinite) return x;
  u.exp += e;
  return F32FromBits(static_cast<uint32_t>(RoundPack(kF32, u, Options{}, 0).code));
}

// floor(log2(x)) for finite x > 0 (float32 subnormals included), as
// frexp's exponent minus one.
FS_HD constexpr int FloorLog2F32(float x) {
  const uint32_t b = BitsOf(x) & 0x7FFFFFFFu;
  const uint32_t field = b >> 23;
  if (field != 0) return static_cast<int>(field) - 127;
  return detail::BitLength(b) - 1 - 149;
}

// ---- per-tensor FP8 current scaling (emulate/quant/fp8_scaling.h) -----------

struct ScaledPair {
  float scale;      // x is multiplied by this before the cast
  float scale_inv;  // the decode scale
};

// quant::Fp8ScaleFromAmax for a float32 amax and previous = 1, then
// quant::Fp8ScaleInverse.
FS_HD constexpr ScaledPair Fp8ScaleFromAmaxF32(const Format& f, float amax, int margin, bool pow2) {
  float s = 1.0f;
  if (amax > 0 && !IsInfF32(amax)) {
    constexpr Format kF32 = formats::kF32;
    const float fmt_max = F32FromBits(static_cast<uint32_t>(EncodeFromF64(kF32, MaxFinite(f)).code));
    float t = fmt_max / amax;
    t = LdexpF32(t, -margin);
    if (IsInfF32(t)) t = kFltMax;
    if (pow2) {
      // frexp then ldexp(1, e - 1): the largest power of two <= t.
      const int e = FloorLog2F32(t);
      t = e >= -126 ? F32FromBits(static_cast<uint32_t>(e + 127) << 23)
                    : F32FromBits(uint32_t{1} << (e + 149));
    }
    if (t > 0) s = t;
  }
  return ScaledPair{s, 1.0f / s};
}

// quant::Fp8Encode: cast(x * scale) with one rounding. The CPU forms the
// product in float64 (exact: 24 x 24 bits, never a float64 subnormal, so
// opt.flush_input has no effect on it); here it is formed on the unpacked
// values, which gives the same value without trusting the device's float64
// NaN rules: x86 returns a NaN operand quieted, payload and sign kept, and
// so does this (the GPU would give its canonical NaN).
FS_HD constexpr Result Fp8ScaledEncode(const Format& f, const Options& opt, float x, float scale,
                                       uint64_t index) {
  constexpr Format kF32 = formats::kF32;
  Unpacked u = Unpack(kF32, BitsOf(x));
  if (u.cls == Class::kNan) {
    u.signaling = false;
    u.nan_payload |= uint64_t{1} << 63;  // the quiet bit
  } else if (u.cls == Class::kFinite) {
    const Unpacked s = Unpack(kF32, BitsOf(scale));  // finite, > 0
    u.sig *= s.sig;
    u.exp += s.exp;
  }
  return RoundPack(f, u, opt, index);
}

// x86 float32 multiplication when an operand may be NaN: the NaN operand
// comes back quieted (sign and payload kept), where a GPU would give its
// canonical NaN 0x7FFFFFFF. The CPU recipes multiply on x86; the kernels
// must give the same bits.
FS_HD constexpr float MulF32AsX86(float nan_candidate, float finite) {
  if (IsNanF32(nan_candidate)) return F32FromBits(BitsOf(nan_candidate) | 0x400000u);
  return nan_candidate * finite;
}

// quant::Fp8Decode.
FS_HD constexpr float Fp8ScaledDecode(const Format& f, uint64_t code, float scale_inv) {
  return MulF32AsX86(DecodeToF32(f, code), scale_inv);
}

// ---- OCP MX (emulate/quant/mx.h) ---------------------------------------------

struct MxElement {
  Format elem;
  int emax_elem;
  int implied_shift;
};

// quant::MxSharedScale for a float32 block: E8M0 code and shared exponent.
struct MxScaleCode {
  uint8_t code;
  int shared_exp;
};

FS_HD constexpr MxScaleCode MxSharedScaleF32(const MxElement& t, float amax, bool special) {
  if (special) return {0xFF, 0};
  if (!(amax > 0)) return {0, -127};
  int s = FloorLog2F32(amax) - t.emax_elem;
  if (s > 127) return {0xFF, 0};
  if (s < -127) s = -127;
  return {static_cast<uint8_t>(s + 127), s};
}

// quant::MxEncodeElement (through quant::EncodeScaledPow2: the float64 value
// of v, its exponent shifted, one rounding).
FS_HD constexpr Result MxEncodeElementF32(const MxElement& t, const Options& opt, float v,
                                          const MxScaleCode& x, uint64_t index) {
  constexpr Format kF64 = formats::kF64;
  if (x.code == 0xFF) return RoundPack(t.elem, Unpack(kF64, kQuietNanF64, opt.flush_input), opt, index);
  Unpacked u = Unpack(kF64, BitsOf(static_cast<double>(v)), opt.flush_input);
  if (u.cls == Class::kFinite) u.exp += t.implied_shift - x.shared_exp;
  Result r = RoundPack(t.elem, u, opt, index);
  if (t.implied_shift != 0 && r.code == 0x80) {  // MXINT8: -128 -> -127
    r.code = 0x81;
    r.flags |= kInvalid;
  }
  return r;
}

// quant::MxDecodeElement (through quant::DecodeScaledPow2ToF32).
FS_HD constexpr float MxDecodeElementF32(const MxElement& t, uint64_t code, const MxScaleCode& x) {
  if (x.code == 0xFF) return F32FromBits(kQuietNanF32);
  constexpr Format kF32 = formats::kF32;
  Unpacked u = Unpack(t.elem, code);
  if (u.cls == Class::kFinite) u.exp += x.shared_exp - t.implied_shift;
  return F32FromBits(static_cast<uint32_t>(RoundPack(kF32, u, Options{}, 0).code));
}

// ---- NVFP4 (emulate/quant/nvfp4.h) ---------------------------------------------

FS_HD constexpr float Nvfp4GlobalEncodeScaleF32(float amax_tensor) {
  float s = 448.0f * 6.0f / amax_tensor;
  s = FminF32(s, kFltMax);
  if (amax_tensor == 0.0f || s == 0.0f) return 1.0f;
  return s;
}

FS_HD constexpr uint8_t Nvfp4BlockScaleCodeF32(float amax_block, float s_enc) {
  const float s = FminF32(amax_block / 6.0f * s_enc, kFltMax);
  constexpr Format kE4m3fn = formats::kE4m3fn;
  Options opt;
  opt.overflow = Overflow::kSaturate;
  return static_cast<uint8_t>(EncodeFromF32(kE4m3fn, s, opt).code);
}

FS_HD constexpr float Nvfp4BlockEncodeScaleF32(uint8_t scale_code, float s_dec) {
  constexpr Format kE4m3fn = formats::kE4m3fn;
  return FminF32(1.0f / (DecodeToF32(kE4m3fn, scale_code) * s_dec), kFltMax);
}

FS_HD constexpr Result Nvfp4EncodeElementF32(const Options& opt, float x, float k, uint64_t index) {
  constexpr Format kE2m1fn = formats::kE2m1fn;
  return EncodeFromF32(kE2m1fn, MulF32AsX86(x, k), opt, index);
}

FS_HD constexpr float Nvfp4DecodeElementF32(uint64_t code, uint8_t scale_code, float s_dec) {
  constexpr Format kE2m1fn = formats::kE2m1fn, kE4m3fn = formats::kE4m3fn;
  return DecodeToF32(kE2m1fn, code) * (DecodeToF32(kE4m3fn, scale_code) * s_dec);
}

// ---- digests of the exhaustive verification -------------------------------

// MurmurHash3's 64-bit finalizer: a bijection, so a block digest (the sum
// mod 2^64 of Mix64(index << 32 | value) over the block) changes whenever a
// single element differs.
FS_HD constexpr uint64_t Mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

inline constexpr uint64_t kFakeQuantSalt = 0x9E3779B97F4A7C15ull;

FS_HD constexpr uint64_t CodeTerm(uint32_t index, uint32_t code) {
  return Mix64((uint64_t{index} << 32) | code);
}
FS_HD constexpr uint64_t FakeQuantTerm(uint32_t index, uint32_t f32_bits) {
  return Mix64(((uint64_t{index} << 32) | f32_bits) ^ kFakeQuantSalt);
}

}  // namespace floatscope::gpu
