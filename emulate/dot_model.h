// What a dot product's accumulation model is (emulate/dot.h explains each
// one) and how many roundings it makes: plain data and FS_HD functions, so
// the CPU (emulate/dot.h, emulate/h100_tensor_core.h) and the CUDA kernels
// (cuda/gpu.h) take one and the same model.
#pragma once

#include <cstddef>
#include <cstdint>

#include "formats/format.h"
#include "formats/host_device.h"

namespace floatscope {

enum class Accumulation : uint8_t { kSequential, kFused, kPairwise, kBlock, kExact, kHardware };

// kHardware: the exponent each term is aligned by (see emulate/dot.h).
enum class Alignment : uint8_t { kLeadingBit, kExponentSum };

struct DotModel {
  Accumulation accumulation = Accumulation::kSequential;
  uint32_t block = 16;  // kBlock: products summed exactly per rounding (>= 1)
  // kHardware (see emulate/dot.h; the defaults are an example, not a
  // measured chip):
  uint32_t group = 4;               // G: products per aligned group (0 reads as 1)
  uint32_t fraction_bits = 24;      // F: bits kept below the group's largest exponent
  bool include_accumulator = true;  // A: s is aligned and cut with the products
  uint32_t promote_every = 0;       // N: groups per promotion into fp32 (0: never)
  Alignment alignment = Alignment::kLeadingBit;  // what "largest exponent" compares
  // Group sums and s are rounded into this (nullptr: acc). A kernel that
  // takes a model by value must point it at a copy in its own memory (see
  // cuda/kernels.cu, GemmKernel).
  const Format* sum_format = nullptr;
  bool promote_nearest_even = false;  // promotions round to nearest even (else opt.rounding)
  // A group sum beyond the sum format's range is +-infinity whatever the
  // rounding (IEEE's round toward zero would stop at +-max finite): the
  // H100's f16/bf16 tensor-core adder, measured on bf16 GEMMs whose sums
  // overflow float32 (cuda/RESULTS.md).
  bool overflow_to_infinity = false;
};

// How many roundings one dot product of length n makes: rounding t of it
// (t = 0, 1, ...) takes stochastic index first_index + t.
FS_HD constexpr uint64_t RoundingsPerDot(const DotModel& m, size_t n) {
  switch (m.accumulation) {
    case Accumulation::kSequential: return 2 * uint64_t{n};
    case Accumulation::kFused: return n;
    case Accumulation::kPairwise: return n == 0 ? 0 : 2 * uint64_t{n} - 1;
    case Accumulation::kBlock: return m.block == 0 ? 0 : (n + m.block - 1) / m.block;
    case Accumulation::kExact: return n == 0 ? 0 : 1;
    case Accumulation::kHardware: {
      if (n == 0) return 0;
      const uint64_t g = m.group ? m.group : 1;
      const uint64_t groups = (n + g - 1) / g;
      if (m.promote_every == 0) return groups + (m.sum_format ? 1 : 0);
      return groups + (groups + m.promote_every - 1) / m.promote_every + 1;
    }
  }
  return 0;
}

}  // namespace floatscope
