// Dot products and GEMM over scaled low-precision inputs: the element codes
// are multiplied and accumulated by one of emulate/dot.h's accumulation
// models, and the scale factors are applied the way the FP8 and
// microscaling recipes apply them. Every rounding goes through the core.
//
// An operand is a matrix of element codes of the format `in` with its
// decode scales: the real number an element stands for is
//
//   x = value(code) * b * t
//
// b = the block scale of the element's block along K (1 without blocks),
// t = its tensor scale (one per tensor, or one per row of A / column of B).
// Both are decode scales (what the dequantized value is multiplied by), as
// torch._scaled_mm's scale_a/scale_b and emulate/quant's QuantResult hold
// them. For C = A * B (A: M x K, B: K x N), with D = emulate/dot.h's Dot
// under the `inner` model into the accumulator format `acc`, and round_f
// one rounding into f with the caller's Options:
//
// Per-tensor / per-row scaling (ScaleBlocks{} with block = 0: the FP8 recipe
// of torch._scaled_mm, TransformerEngine and cuBLASLt, where the scales are
// applied to the accumulated sum in the epilogue). The codes are summed as
// they are, the product of the two fp32 scales is taken exactly, and the
// scaled sum is rounded once into the output format `out`:
//
//   C(i, j) = round_out( (t_a(i) * t_b(j)) * D(a_i, b_j) )
//
// Per-block scaling (block = k > 0; ScaleBlocks::Mx(): k = 32 and E8M0
// scales, OCP MX v1.0 section 6.2; ScaleBlocks::Nvfp4(): k = 16 and E4M3
// scales). K is cut into blocks J_0, J_1, ... of k consecutive indices (the
// last one shorter when k does not divide K); block j of row i of A has the
// scale code xa(i, j), block j of column j' of B the code xb(j, j'), each
// decoded in `block_format` (e8m0fnu: 2^(code - 127), code 0xFF NaN). The
// spec's dot product of two MX vectors is
//
//   Dot(A, B) = sum over blocks j of  X_A(j) X_B(j) sum_{i in J_j} P_A(i) P_B(i)
//
// with the internal precision left to the implementation. floatscope fixes
// it as follows: each block's product sum is one `inner` dot product into
// `acc` (s starting from +0, as in dot.h), the exact product of the two
// block scales multiplies it with one rounding, and the scaled block sums
// are added in order into an accumulator s of format `acc` (from +0):
//
//   D_j  = Dot_inner( a_i[J_j], b_j'[J_j] )                   (in acc)
//   B_j  = round_acc( (xa(i, j) * xb(j, j')) * D_j )
//   s    = round_acc( s + B_j ),   j = 0, 1, ...
//   C    = round_out( (t_a(i) * t_b(j')) * s )
//
// With power-of-two block scales (MX) B_j is exact unless it leaves `acc`'s
// normal range; NVFP4's E4M3 scales have 4 significant bits and may round.
// NVFP4 = E2M1 codes in blocks of 16, E4M3 block scales, and the fp32
// global decode scale of each tensor as t (cuBLASLt's alpha): blocks scaled
// inside the sum, the global scales once at the end, unlike
// TransformerEngine's dequantization, which rounds s_b * S_dec to fp32 per
// element first (emulate/quant/nvfp4.h).
//
// Exactness: a product of two scales is computed exactly (in float64: two
// fp32 values, or two scales of at most 8 bits: both fit), and it enters
// the rounding as an exact operand (MulExactOperands), so each line above
// is one rounding. Specials follow IEEE 754 through those roundings: a NaN
// scale (E8M0 0xFF) gives a NaN block and so a NaN result; 0 * inf is
// invalid. DAZ (flush_input) applies to the element codes only, FTZ
// (flush_output) to every rounding. Flags are the OR of every rounding's.
// The scaled sum's roundings use element indices after the inner ones:
// ScaledRoundingsPerDot counts them, in the order of the formulas above;
// ScaledGemm gives C(i, j) first_index + (i * N + j) * that count.
//
// A and B share the element format `in` (a Dot of dot.h has one input
// format), and with it the MX element type.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "emulate/dot.h"
#include "emulate/quant/quantize.h"
#include "formats/catalog.h"
#include "formats/convert.h"

namespace floatscope {

// How K is cut into blocks that share a scale.
struct ScaleBlocks {
  size_t block = 0;                      // elements per block along K (0: no block scales)
  const Format* block_format = nullptr;  // format of the block scale codes (at most 8 bits)

  static ScaleBlocks None() { return {}; }
  static ScaleBlocks Mx() { return {32, &formats::kE8m0fnu}; }     // OCP MX: 32, E8M0
  static ScaleBlocks Nvfp4() { return {16, &formats::kE4m3fn}; }   // NVFP4: 16, E4M3
};

// An operand of a scaled GEMM.
struct ScaledMatrix {
  std::vector<uint64_t> codes;        // row-major element codes of `in`
  std::vector<float> scales{1.0f};    // t: 1 (per tensor), or M for A (per row) / N for B (per column)
  std::vector<uint64_t> block_scales; // A: M x nb row-major; B: nb x N row-major (nb = ceil(K / block))
};

// An operand from emulate/quant's Quantize: A (M x K) quantized along its
// last axis (mx, nvfp4) or with per-tensor / per-row (axis 0 channel)
// scales, B (K x N) along axis 0 (mx, nvfp4) or per tensor / per column
// (axis 1 channel). QuantResult's scales are decode scales already; nvfp4's
// global decode scale becomes the tensor scale.
inline ScaledMatrix FromQuantized(const quant::QuantResult& q) {
  ScaledMatrix s;
  s.codes.assign(q.codes.begin(), q.codes.end());
  if (q.global_decode_scale) s.scales = {*q.global_decode_scale};
  else if (!q.scales.empty()) s.scales = q.scales;
  s.block_scales.assign(q.scale_codes.begin(), q.scale_codes.end());
  return s;
}

inline uint64_t ScaledRoundingsPerDot(const DotModel& inner, const ScaleBlocks& blocks, size_t k) {
  if (blocks.block == 0) return RoundingsPerDot(inner, k) + 1;
  uint64_t t = 0;
  for (size_t start = 0; start < k; start += blocks.block)
    t += RoundingsPerDot(inner, std::min(blocks.block, k - start)) + 2;
  return t + 1;
}

namespace detail {

// The exact product of two scales (see the top: exact in float64) as an
// operand of the core.
inline Unpacked ScaleProduct(double x, double y) {
  constexpr Format kF64 = formats::kF64;
  return Unpack(kF64, BitsOf(x * y));
}

}  // namespace detail

// One element of a scaled GEMM: a[i * a_stride] (i < n) against
// b[i * b_stride]; block scale codes of block j at a_blocks[j * a_block_stride]
// and b_blocks[j * b_block_stride] (unused without blocks); t_a, t_b the
// tensor (row / column) scales.
inline Result ScaledDot(const Format& in, const uint64_t* a, size_t a_stride, const uint64_t* b, size_t b_stride,
                        size_t n, const uint64_t* a_blocks, size_t a_block_stride, const uint64_t* b_blocks,
                        size_t b_block_stride, float t_a, float t_b, const Format& acc, const DotModel& inner,
                        const ScaleBlocks& blocks, const Format& out, const Options& opt = {},
                        uint64_t first_index = 0) {
  Options scaled = opt;
  scaled.flush_input = false;  // DAZ is for the element codes; the rest are results and scales
  uint64_t t = first_index;
  uint8_t flags = 0;
  Unpacked s;  // the accumulated sum, +0
  if (blocks.block == 0) {
    const Result d = Dot(in, a, a_stride, b, b_stride, n, acc, inner, opt, t);
    t += RoundingsPerDot(inner, n);
    flags |= d.flags;
    s = Unpack(acc, d.code);
  } else {
    const Format& bf = *blocks.block_format;
    uint64_t code = RoundPack(acc, Unpacked{}, scaled, 0).code;
    for (size_t start = 0, j = 0; start < n; start += blocks.block, ++j) {
      const size_t len = std::min(blocks.block, n - start);
      const Result d = Dot(in, a + start * a_stride, a_stride, b + start * b_stride, b_stride, len, acc, inner, opt, t);
      t += RoundingsPerDot(inner, len);
      const Unpacked x = detail::ScaleProduct(DecodeToF64(bf, a_blocks[j * a_block_stride]),
                                              DecodeToF64(bf, b_blocks[j * b_block_stride]));
      const Result bj = MulExactOperands(acc, x, Unpack(acc, d.code), scaled, t++);
      const Result sum = AddExactOperands(acc, Unpack(acc, code), Unpack(acc, bj.code), scaled, t++);
      flags |= d.flags | bj.flags | sum.flags;
      code = sum.code;
    }
    s = Unpack(acc, code);
  }
  Result c = MulExactOperands(out, detail::ScaleProduct(t_a, t_b), s, scaled, t++);
  c.flags |= flags;
  return c;
}

// C = A * B over scaled operands (see the top): A is M x K, B is K x N, C
// M x N row-major codes of `out`. Returns the OR of all flags. Throws
// std::invalid_argument when the operands' sizes do not fit M, N, K and the
// blocks.
inline uint8_t ScaledGemm(const Format& in, const ScaledMatrix& a, const ScaledMatrix& b, size_t m, size_t n,
                          size_t k, const Format& acc, const DotModel& inner, const ScaleBlocks& blocks,
                          const Format& out, uint64_t* c, const Options& opt = {}, uint64_t first_index = 0) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("ScaledGemm: " + what); };
  if (a.codes.size() != m * k) fail("A has " + std::to_string(a.codes.size()) + " codes, M * K is " + std::to_string(m * k));
  if (b.codes.size() != k * n) fail("B has " + std::to_string(b.codes.size()) + " codes, K * N is " + std::to_string(k * n));
  if (a.scales.size() != 1 && a.scales.size() != m) fail("A needs 1 or M scales");
  if (b.scales.size() != 1 && b.scales.size() != n) fail("B needs 1 or N scales");
  size_t nb = 0;
  if (blocks.block != 0) {
    if (!blocks.block_format || blocks.block_format->bits > 8 || !IsFloat(*blocks.block_format))
      fail("block scales need a float format of at most 8 bits");
    nb = (k + blocks.block - 1) / blocks.block;
    if (a.block_scales.size() != m * nb) fail("A needs M * ceil(K / block) block scales");
    if (b.block_scales.size() != nb * n) fail("B needs ceil(K / block) * N block scales");
  }
  const uint64_t per = ScaledRoundingsPerDot(inner, blocks, k);
  uint8_t flags = 0;
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) {
      const Result r = ScaledDot(in, a.codes.data() + i * k, 1, b.codes.data() + j, n, k,
                                 nb ? a.block_scales.data() + i * nb : nullptr, 1,
                                 nb ? b.block_scales.data() + j : nullptr, n, a.scales[a.scales.size() == 1 ? 0 : i],
                                 b.scales[b.scales.size() == 1 ? 0 : j], acc, inner, blocks, out, opt,
                                 first_index + (i * n + j) * per);
      c[i * n + j] = r.code;
      flags |= r.flags;
    }
  return flags;
}

}  // namespace floatscope
