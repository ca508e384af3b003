// Conversions: every one is Unpack (exact) followed by the one RoundPack.
// float32/float64 inputs are read through their bit patterns, so no host
// floating-point operation can round anything on the way.
#pragma once

#include <cstdint>

#include "formats/catalog.h"
#include "formats/round_pack.h"

namespace floatscope {

FS_HD constexpr uint32_t BitsOf(float x) { return __builtin_bit_cast(uint32_t, x); }
FS_HD constexpr uint64_t BitsOf(double x) { return __builtin_bit_cast(uint64_t, x); }
FS_HD constexpr float F32FromBits(uint32_t b) { return __builtin_bit_cast(float, b); }
FS_HD constexpr double F64FromBits(uint64_t b) { return __builtin_bit_cast(double, b); }

// Code of `src` -> code of `dst`. `index` is the element index that keys
// stochastic rounding (see formats/philox.h).
FS_HD constexpr Result Convert(const Format& src, uint64_t code, const Format& dst,
                               const Options& opt = {}, uint64_t index = 0) {
  return RoundPack(dst, Unpack(src, code, opt.flush_input), opt, index);
}

FS_HD constexpr Result EncodeFromF32(const Format& dst, float x, const Options& opt = {},
                                     uint64_t index = 0) {
  // A local copy: CUDA device code may read a host constexpr's value but
  // not take its address.
  constexpr Format kSrc = formats::kF32;
  return Convert(kSrc, BitsOf(x), dst, opt, index);
}

FS_HD constexpr Result EncodeFromF64(const Format& dst, double x, const Options& opt = {},
                                     uint64_t index = 0) {
  constexpr Format kSrc = formats::kF64;
  return Convert(kSrc, BitsOf(x), dst, opt, index);
}

// Exact for every format of at most 53 significant bits, i.e. all but none:
// every named format's values are doubles. NaN payloads follow `opt`.
FS_HD constexpr double DecodeToF64(const Format& src, uint64_t code, const Options& opt = {}) {
  constexpr Format kDst = formats::kF64;
  return F64FromBits(Convert(src, code, kDst, opt).code);
}

// Exact for every named format except f64 (which rounds by `opt`).
FS_HD constexpr float DecodeToF32(const Format& src, uint64_t code, const Options& opt = {}) {
  constexpr Format kDst = formats::kF32;
  return F32FromBits(static_cast<uint32_t>(Convert(src, code, kDst, opt).code));
}

}  // namespace floatscope
