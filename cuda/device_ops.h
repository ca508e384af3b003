// The per-element steps of the CUDA kernels that are not emulate/'s own
// functions, as FS_HD functions: the decode options of the conversion
// kernels, the stored form of codes, and the digests of the exhaustive
// verification. The same code runs in the kernels (cuda/kernels.cu) and on
// the host, where tests/cuda/device_ops_host_test.cc checks the kernels'
// element code against emulate/. The quantization recipes'
// steps (per-tensor FP8 scaling, MX, NVFP4) are not here: the kernels call
// emulate/quant's FS_HD functions themselves, and the GEMM calls
// emulate/dot.h. Nothing here rounds.
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
