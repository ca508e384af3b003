// Where Hopper's wgmma.mma_async finds its operands and puts its results:
// the pure index arithmetic of experiments/tensor_core_probe/wgmma_probe.cu,
// host and device (FS_HD), so tests/tensor_core/wgmma_layout_test.cc checks
// it without a GPU.
//
// PTX ISA, "Asynchronous Warpgroup Level Matrix Multiply-Accumulate
// Instructions" (9.7.15), sections "Matrix Descriptor Format", "Shared
// Memory Matrix Layout" (K-major, no swizzle: the "interleaved" canonical
// layout) and "Register Fragments" (accumulator D of m64nNk16 / m64nNk32).
//
// Operands. A (64 x K-step) and B (K-step x N, stored as B^T: N rows) are
// both K-major: each row's K-step of one instruction is 32 bytes (k16 of
// 16-bit codes, k32 of 8-bit codes), cut into two 16-byte pieces. A "core
// matrix" is 8 rows x 16 bytes, stored contiguously (row r of it at byte
// 16 r). The canonical K-major layout without swizzle, in the ISA's CuTe
// notation in elements of T = 16 bytes / element size:
//     ((8, m), (T, 2k)) : ((T, SBO), (1, LBO))
// i.e. the leading dimension byte offset (LBO) is the distance between the
// two core matrices adjacent in K, the stride dimension byte offset (SBO)
// the distance between core matrices adjacent in M (A) or N (B).
// wgmma_probe stores the two K core matrices of each 8-row block side by
// side (LBO 128) and the 8-row blocks one after another (SBO 256): LBO and
// SBO differ, so a descriptor with the two swapped reads other rows' data
// and fails the probe's self-check.
//
// Descriptor (64 bits): bits 0-13 start address, 16-29 LBO, 32-45 SBO, each
// encoded as (x & 0x3FFFF) >> 4; bits 49-51 base offset (0: unused without
// swizzle); bits 62-63 swizzle mode (0: none).
//
// Accumulator D of m64nN with .f32 (N/2 registers per thread; CUTLASS's
// CLayout_64xN): thread t of the warpgroup, w = t / 32 its warp, g = (t % 32)
// / 4, q = t % 4; register i holds
//     row 16 w + g + 8 ((i >> 1) & 1),   column 8 (i >> 2) + 2 q + (i & 1)
// (each warp's 16 rows as mma.sync's m16n8 C fragment, repeated every 8
// columns).
#pragma once

#include <cstdint>

#include "formats/host_device.h"

namespace floatscope::tc {

// Bytes of one row of A or B^T per instruction (k16 x 2 bytes, k32 x 1).
inline constexpr uint32_t kWgmmaStepBytes = 32;
// The probe's layout: the two K core matrices of a block side by side.
inline constexpr uint32_t kWgmmaLbo = 128;
inline constexpr uint32_t kWgmmaSbo = 256;

// The matrix descriptor of a K-major operand at shared-memory byte address
// `start` (16-byte aligned), no swizzle, base offset 0.
FS_HD constexpr uint64_t WgmmaDescriptor(uint32_t start, uint32_t lbo, uint32_t sbo) {
  return uint64_t{(start & 0x3FFFFu) >> 4} | uint64_t{(lbo & 0x3FFFFu) >> 4} << 16 |
         uint64_t{(sbo & 0x3FFFFu) >> 4} << 32;
}

// Byte offset, from the operand's start, of byte `kbyte` (0 .. 31) of the
// instruction's K-step of row `row` (of A: 0 .. 63; of B^T: 0 .. N-1) in the
// canonical K-major layout without swizzle.
FS_HD constexpr uint32_t WgmmaOperandOffset(uint32_t row, uint32_t kbyte, uint32_t lbo, uint32_t sbo) {
  return (row / 8) * sbo + (kbyte / 16) * lbo + (row % 8) * 16 + kbyte % 16;
}

struct RowCol {
  uint32_t row, col;
};

// (row, column) of D of register `i` (0 .. N/2-1) of thread `thread`
// (0 .. 127) of the warpgroup, m64nN with a .f32 accumulator.
FS_HD constexpr RowCol WgmmaAccumulatorRowCol(uint32_t thread, uint32_t i) {
  const uint32_t warp = thread / 32, lane = thread % 32;
  return {16 * warp + lane / 4 + 8 * ((i >> 1) & 1), 8 * (i >> 2) + 2 * (lane % 4) + (i & 1)};
}

}  // namespace floatscope::tc
