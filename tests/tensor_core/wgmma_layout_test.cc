// experiments/tensor_core_probe/wgmma_layout.h, the index arithmetic of
// wgmma_probe (operand layout in shared memory, matrix descriptor,
// accumulator fragment), against the PTX ISA's own statements written
// differently: the ISA's CuTe layouts ((shape):(stride), evaluated by a
// generic coordinate decomposition), its worked K-major no-swizzle example,
// and CUTLASS's accumulator layout CLayout_64xN. No GPU needed; the probe's
// self-check is the hardware's word on the same mapping.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "experiments/tensor_core_probe/wgmma_layout.h"

using namespace floatscope::tc;

namespace {

// One mode of a flat CuTe layout.
struct Mode {
  uint32_t shape, stride;
};

// The offset of `index` in a layout of `modes`: the index decomposed with
// the first mode fastest (CuTe's colexicographic order), each coordinate
// times its stride.
uint32_t Evaluate(const std::vector<Mode>& modes, uint32_t index) {
  uint32_t offset = 0;
  for (const Mode& m : modes) {
    offset += (index % m.shape) * m.stride;
    index /= m.shape;
  }
  return offset;
}

// The ISA's canonical K-major layout without swizzle, in elements,
//   ((8, m), (T, 2k)) : ((T, SBO), (1, LBO)),
// as the byte offset of byte `kbyte` of row `row` (elements of `bytes`
// bytes, T = 16 / bytes, LBO and SBO in bytes).
uint32_t CanonicalKMajorByte(uint32_t row, uint32_t kbyte, uint32_t bytes, uint32_t rows, uint32_t k_cores,
                             uint32_t lbo, uint32_t sbo) {
  const uint32_t T = 16 / bytes;
  const uint32_t element = Evaluate({{8, T}, {rows / 8, sbo / bytes}}, row) +
                           Evaluate({{T, 1}, {k_cores, lbo / bytes}}, kbyte / bytes);
  return element * bytes + kbyte % bytes;
}

uint64_t Field(uint64_t desc, int lo, int hi) { return (desc >> lo) & ((uint64_t{1} << (hi - lo + 1)) - 1); }

}  // namespace

TEST_CASE("wgmma operand layout: the ISA's canonical K-major layout without swizzle") {
  static_assert(kWgmmaLbo != kWgmmaSbo, "LBO and SBO must differ, or a swapped descriptor passes the self-check");
  for (uint32_t bytes : {1u, 2u})       // FP8 (k32) and f16/bf16 (k16): 32 bytes a row per instruction
    for (uint32_t rows : {64u, 16u}) {  // A (m64) and B^T (n16)
      CAPTURE(bytes);
      CAPTURE(rows);
      std::vector<int> hit(rows * kWgmmaStepBytes, 0);
      for (uint32_t row = 0; row < rows; ++row)
        for (uint32_t kbyte = 0; kbyte < kWgmmaStepBytes; ++kbyte) {
          const uint32_t off = WgmmaOperandOffset(row, kbyte, kWgmmaLbo, kWgmmaSbo);
          CHECK(off == CanonicalKMajorByte(row, kbyte, bytes, rows, 2, kWgmmaLbo, kWgmmaSbo));
          REQUIRE(off < hit.size());  // wgmma_probe's shared arrays are rows x 32 bytes
          ++hit[off];
        }
      for (int h : hit) CHECK(h == 1);  // one-to-one: no two codes share a byte
    }
}

TEST_CASE("wgmma operand layout: the ISA's worked example, K-major, no swizzle, tf32") {
  // "Exact layout: Swizzle<0,4,3> o ((8,2),(4,4)):((4,32),(1,64))", LBO 64
  // tf32 = 256 bytes, SBO 32 tf32 = 128 bytes, 16 x 16 elements.
  for (uint32_t row = 0; row < 16; ++row)
    for (uint32_t col = 0; col < 16; ++col) {
      const uint32_t element = Evaluate({{8, 4}, {2, 32}}, row) + Evaluate({{4, 1}, {4, 64}}, col);
      CHECK(WgmmaOperandOffset(row, 4 * col, 256, 128) == 4 * element);
    }
  // "Encoding of LBO in descriptor: (LBO) >> 4 = 16", "of SBO: 8".
  const uint64_t desc = WgmmaDescriptor(0, 256, 128);
  CHECK(Field(desc, 16, 29) == 16);
  CHECK(Field(desc, 32, 45) == 8);
}

TEST_CASE("wgmma matrix descriptor fields") {
  const uint64_t desc = WgmmaDescriptor(0x1230, kWgmmaLbo, kWgmmaSbo);
  CHECK(Field(desc, 0, 13) == 0x123);              // start address >> 4
  CHECK(Field(desc, 14, 15) == 0);
  CHECK(Field(desc, 16, 29) == kWgmmaLbo >> 4);    // leading dimension byte offset
  CHECK(Field(desc, 30, 31) == 0);
  CHECK(Field(desc, 32, 45) == kWgmmaSbo >> 4);    // stride dimension byte offset
  CHECK(Field(desc, 46, 63) == 0);                 // base offset 0, swizzle mode 0 (none)
  // matrix-descriptor-encode(x) = (x & 0x3FFFF) >> 4: 18 address bits.
  CHECK(Field(WgmmaDescriptor(0x40010, 0, 0), 0, 13) == 1);
  CHECK(WgmmaDescriptor(0x3FFF0, 0x3FFF0, 0x3FFF0) == (0x3FFFull | 0x3FFFull << 16 | 0x3FFFull << 32));
}

TEST_CASE("wgmma accumulator fragment, m64nN .f32: CUTLASS's CLayout_64xN") {
  // ((4,8,4),(2,2,N/8)):((128,1,16),(64,8,512)): (thread, register) -> the
  // column-major offset row + 64 col of the 64 x N tile.
  for (uint32_t n = 8; n <= 256; n += 8) {
    CAPTURE(n);
    std::vector<int> hit(64 * n, 0);
    for (uint32_t t = 0; t < 128; ++t)
      for (uint32_t i = 0; i < n / 2; ++i) {
        const RowCol rc = WgmmaAccumulatorRowCol(t, i);
        REQUIRE(rc.row < 64);
        REQUIRE(rc.col < n);
        CHECK(rc.row + 64 * rc.col == Evaluate({{4, 128}, {8, 1}, {4, 16}}, t) +
                                          Evaluate({{2, 64}, {2, 8}, {n / 8, 512}}, i));
        ++hit[rc.row * n + rc.col];
      }
    for (int h : hit) CHECK(h == 1);
  }
}

TEST_CASE("wgmma accumulator fragment: each warp's 16 rows as mma.sync m16n8's C fragment") {
  // mma_probe.cu: c[i] is (row g + 8 (i >> 1), col 2t + (i & 1)), g = lane / 4,
  // t = lane % 4; wgmma repeats it every 8 columns, warp w at rows 16w.
  for (uint32_t thread = 0; thread < 128; ++thread)
    for (uint32_t i = 0; i < 8; ++i) {
      const uint32_t w = thread / 32, lane = thread % 32, c = i % 4;
      const RowCol rc = WgmmaAccumulatorRowCol(thread, i);
      CHECK(rc.row == 16 * w + lane / 4 + 8 * (c >> 1));
      CHECK(rc.col == 8 * (i / 4) + 2 * (lane % 4) + (c & 1));
    }
}
