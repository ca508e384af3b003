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

  // What an MMA instruction does before its adder (every accumulation;
  // emulate/dot.h, "Operand conversion and K order"):
  //
  // The operands' format inside the unit (nullptr: in_a and in_b as they
  // are). Not null: every a[i] and b[i] is first converted to this format,
  // rounding to nearest even (exact when every value of the input format
  // is one of it, as e4m3fn/e5m2 -> f16), and the model runs on the
  // converted values: their exponent fields, their subnormals. Hopper runs
  // the FP8 mma.sync this way, on its f16 path. A kernel that takes a model
  // by value must point it at a copy in its own memory, as sum_format.
  const Format* operand_format = nullptr;
  // The K order of one instruction: the products are taken in blocks of
  // instruction_k consecutive K (one instruction each; K padded with +0
  // products to whole blocks), and a block enters the model in `substeps`
  // sub-steps, one after another: K position p of the block belongs to
  // sub-step (p / substep_run) mod substeps (runs of substep_run
  // consecutive positions dealt round-robin), each sub-step's positions in
  // ascending order. instruction_k = 0: the products in K order, no
  // padding; substeps or substep_run of 0 read as 1; substeps = 1: each
  // block in K order (only the padding). Hopper's FP8 mma.sync.m16n8k32:
  // 32, 2 sub-steps, runs of 2 (positions 0, 1, 4, 5, ..., 29, then 2, 3,
  // 6, 7, ..., 31).
  uint32_t instruction_k = 0;
  uint32_t substeps = 1;
  uint32_t substep_run = 1;
};

// The sequence of K positions a model sums (DotModel::instruction_k,
// substeps, substep_run): term j of the sequence is the product at K
// position Position(j); a position >= n (the padding of the last block) is
// a +0 product.
struct KOrder {
  uint64_t block = 0;     // instruction_k (0: no blocks)
  uint64_t substeps = 1;  // S
  uint64_t run = 1;       // r

  FS_HD constexpr explicit KOrder(const DotModel& m)
      : block(m.instruction_k), substeps(m.substeps ? m.substeps : 1), run(m.substep_run ? m.substep_run : 1) {}

  // Whether the sequence is K itself (no padding, no reordering).
  FS_HD constexpr bool InOrder() const { return block <= 1; }

  // The sequence's length for a dot product of n products: n rounded up to
  // whole blocks.
  FS_HD constexpr uint64_t Length(uint64_t n) const { return InOrder() ? n : (n + block - 1) / block * block; }

  // How many positions of a block sub-step `sub` takes: whole cycles of S
  // runs, then what is left of the last, partial cycle.
  FS_HD constexpr uint64_t SubstepSize(uint64_t sub) const {
    const uint64_t cycle = substeps * run;
    const uint64_t rest = block % cycle;
    const uint64_t tail = rest > sub * run ? rest - sub * run : 0;
    return block / cycle * run + (tail < run ? tail : run);
  }

  // The K position of term j of the sequence.
  FS_HD constexpr uint64_t Position(uint64_t j) const {
    if (InOrder() || substeps == 1) return j;
    const uint64_t base = j - j % block;
    uint64_t u = j % block;  // u-th position fed of this block
    uint64_t sub = 0;
    for (; sub + 1 < substeps; ++sub) {
      const uint64_t size = SubstepSize(sub);
      if (u < size) break;
      u -= size;
    }
    // Sub-step `sub` holds runs sub, sub + S, sub + 2S, ... of the block;
    // only the block's last run can be short, and it is its sub-step's last.
    return base + (u / run * substeps + sub) * run + u % run;
  }
};

// How many roundings one dot product of k products makes: rounding t of it
// (t = 0, 1, ...) takes stochastic index first_index + t.
FS_HD constexpr uint64_t RoundingsPerDot(const DotModel& m, size_t k) {
  const uint64_t n = KOrder(m).Length(k);  // the terms summed, padding included
  switch (m.accumulation) {
    case Accumulation::kSequential: return 2 * n;
    case Accumulation::kFused: return n;
    case Accumulation::kPairwise: return n == 0 ? 0 : 2 * n - 1;
    case Accumulation::kBlock: {  // block 0 sums one product per rounding, as Dot does
      const uint64_t b = m.block ? m.block : 1;
      return (n + b - 1) / b;
    }
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
