// The steps of cuda/gemm_block_kernel.cu (kBlock / kExact of narrow inputs
// in int64 fixed point, a float32 accumulator), shared with the host test
// that runs them against emulate/dot.h (tests/cuda/device_ops_host_test.cc).
// Why they are exact: that file's top comment.
#pragma once

#include <cstddef>
#include <cstdint>

#include "emulate/dot_exact_sum.h"
#include "emulate/dot_hardware.h"
#include "emulate/dot_model.h"
#include "formats/catalog.h"

namespace floatscope::gpu {

// Whether the block kernel runs these formats at this K: float inputs whose
// values are integers A' * 2^LowestBit with |A'| < 2^31, K products and the
// accumulator below 2^62 in units of 2^(qa + qb), every nonzero sum at
// least 2^-126 (never tiny in float32), a float32 accumulator.
inline bool BlockFixedFits(const Format& in_a, const Format& in_b, const Format& acc, size_t k) {
  if (!SameArithmetic(acc, formats::kF32) || k == 0 || k > (size_t{1} << 22)) return false;
  if (!IsFloat(in_a) || !IsFloat(in_b) || in_a.bits > 32 || in_b.bits > 32) return false;
  int32_t log2k = 0;
  while ((size_t{1} << log2k) < k) ++log2k;
  const int32_t wa = detail::TopBit(in_a) - detail::LowestBit(in_a), wb = detail::TopBit(in_b) - detail::LowestBit(in_b);
  if (wa > 31 || wb > 31 || wa + wb + log2k + 1 > 62) return false;
  return detail::LowestBit(in_a) + detail::LowestBit(in_b) >= -126;
}

// A value as the integer x / 2^q (0 for zeros, NaN and infinities).
FS_HD constexpr int32_t BlockFixedInteger(const Unpacked& u, int32_t q) {
  if (u.cls != Class::kFinite) return 0;
  const int32_t v = static_cast<int32_t>(u.sig << (u.exp - q));  // exp >= q = LowestBit
  return u.sign ? -v : v;
}

// The float32 code s as an integer multiple of 2^g (exact: s is one).
FS_HD constexpr int64_t BlockF32AsFixed(uint32_t s, int32_t g) {
  constexpr Format kF32 = formats::kF32;  // a local copy (device code)
  const Unpacked u = Unpack(kF32, s);
  if (u.cls != Class::kFinite) return 0;
  const int64_t mag = static_cast<int64_t>(u.exp >= g ? u.sig << (u.exp - g) : u.sig >> (g - u.exp));
  return u.sign ? -mag : mag;
}

// A block's rounding: the sum v * 2^g into float32 by the core's
// RoundNormalFast (every mode; sr by `index`). False for v == 0 (the sign
// of a zero sum needs the terms': GemmElement does that dot product).
FS_HD constexpr bool BlockRound(int64_t v, int32_t g, const Options& opt, uint64_t index, Result& r) {
  constexpr Format kF32 = formats::kF32;
  if (v == 0) return false;
  const uint64_t mag = v < 0 ? 0u - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  return detail::RoundNormalFast(kF32, v < 0, mag, g, opt, index, r);
}

}  // namespace floatscope::gpu
