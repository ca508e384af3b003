// The steps of cuda/gemm_block_kernel.cu (kBlock / kExact in fixed point, a
// float32 accumulator: narrow inputs in one int64, 16-bit ones in three
// int64 limbs), shared with the host test that runs them against
// emulate/dot.h (tests/cuda/device_ops_host_test.cc). Why they are exact:
// that file's top comment.
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


// The wide variant (16-bit inputs: f16, bf16, and any float up to 32 bits
// with at most 15 mantissa bits that BlockFixedFits does not take). A row
// of A (column of B) is an integer vector A' * 2^q with q the lowest set
// bit among its values and |A'| < 2^40 (BlockWideRowFits; rows that do not
// fit go to GemmElement). A' splits into a1 * 2^20 + a0, a0 in [0, 2^20),
// a1 in [-2^20, 2^20), and a product into three limbs that each take K <=
// 2^21 products below 2^62 in an int64: a1 b1 (weight 2^40), a1 b0 + a0 b1
// (2^20), a0 b0 (1).
inline bool BlockWideFits(const Format& in_a, const Format& in_b, const Format& acc, size_t k) {
  if (!SameArithmetic(acc, formats::kF32) || k == 0 || k > (size_t{1} << 21)) return false;
  for (const Format* f : {&in_a, &in_b})
    if (!IsFloat(*f) || f->bits > 32 || f->mantissa_bits > 15) return false;
  return true;
}

constexpr int32_t kBlockWideBits = 40;  // |A'| < 2^40
constexpr int32_t kBlockLimbBits = 20;

__extension__ typedef __int128 BlockWideInt;

// The exponents of a finite nonzero value's lowest and highest set bits.
FS_HD constexpr int32_t LowestSetBit(const Unpacked& u) {
  int32_t z = 0;
  while (((u.sig >> z) & 1) == 0) ++z;  // sig != 0 for a finite value
  return u.exp + z;
}
FS_HD constexpr int32_t HighestSetBit(const Unpacked& u) { return u.exp + detail::BitLength(u.sig) - 1; }

// Whether a row whose values' set bits span [lowest, highest] fits A' < 2^40.
FS_HD constexpr bool BlockWideRowFits(int32_t lowest, int32_t highest) {
  return int64_t{highest} - lowest < kBlockWideBits;
}

// A value as the integer x / 2^q (0 for zeros, NaN and infinities; the
// row fits: its lowest set bit at least q, the value below 2^(q + 40); sig
// may have zeros below its lowest set bit, so exp may be below q).
FS_HD constexpr int64_t BlockWideInteger(const Unpacked& u, int32_t q) {
  if (u.cls != Class::kFinite) return 0;
  const int64_t v = static_cast<int64_t>(u.exp >= q ? u.sig << (u.exp - q) : u.sig >> (q - u.exp));
  return u.sign ? -v : v;
}

// The limbs' value hi * 2^40 + mid * 2^20 + lo, and back (lo, mid in
// [0, 2^20), hi signed).
FS_HD constexpr BlockWideInt BlockWideValue(int64_t hi, int64_t mid, int64_t lo) {
  return (BlockWideInt{hi} << (2 * kBlockLimbBits)) + (BlockWideInt{mid} << kBlockLimbBits) + lo;
}
FS_HD constexpr void BlockWideLimbs(BlockWideInt v, int64_t& hi, int64_t& mid, int64_t& lo) {
  constexpr int64_t kMask = (int64_t{1} << kBlockLimbBits) - 1;
  lo = static_cast<int64_t>(v) & kMask;
  mid = static_cast<int64_t>(v >> kBlockLimbBits) & kMask;
  hi = static_cast<int64_t>(v >> (2 * kBlockLimbBits));  // arithmetic: the sign stays in hi
}

// The float32 code s as an integer multiple of 2^g (exact: s is one).
FS_HD constexpr BlockWideInt BlockF32AsWide(uint32_t s, int32_t g) {
  constexpr Format kF32 = formats::kF32;
  const Unpacked u = Unpack(kF32, s);
  if (u.cls != Class::kFinite) return 0;
  const BlockWideInt mag = u.exp >= g ? BlockWideInt{static_cast<int64_t>(u.sig)} << (u.exp - g)
                                      : BlockWideInt{static_cast<int64_t>(u.sig >> (g - u.exp))};
  return u.sign ? -mag : mag;
}

// A block's rounding of v * 2^g into float32 (BlockRound's): a magnitude of
// 65 bits or more is cut to its top 64 with the rest jammed into the last
// bit, which every mode rounds alike (float32 keeps 24 bits; nearest reads
// one bit and the sticky ones below, sr at most 32 more, so 57 of the 64).
FS_HD constexpr bool BlockRoundWide(BlockWideInt v, int32_t g, const Options& opt, uint64_t index, Result& r) {
  constexpr Format kF32 = formats::kF32;
  if (v == 0) return false;
  const detail::ArithU128 mag = v < 0 ? detail::ArithU128{0} - static_cast<detail::ArithU128>(v)
                                      : static_cast<detail::ArithU128>(v);
  const int32_t shift = detail::BitLength128(mag) > 64 ? detail::BitLength128(mag) - 64 : 0;
  uint64_t m64 = static_cast<uint64_t>(mag >> shift);
  if (shift > 0 && (mag & ((detail::ArithU128{1} << shift) - 1)) != 0) m64 |= 1;
  return detail::RoundNormalFast(kF32, v < 0, m64, g + shift, opt, index, r);
}

}  // namespace floatscope::gpu
