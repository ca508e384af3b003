// The compile-time specialised kernels (cuda/named_convert.h) as seen from
// the entry points of cuda/gpu.h: each call launches the specialised kernel
// and returns true, or launches nothing and returns false where no
// specialisation applies (the format is not a named one the fast path
// covers, or the options leave the fast path: flushed inputs or outputs,
// wrapping integers; stochastic rounding outside f16, bf16, e4m3fn, e5m2,
// e2m1fn, int8), and the caller takes the run-time-plan kernel.
#pragma once

#include <cstddef>
#include <cstdint>

#include "formats/catalog.h"
#include "formats/format.h"
#include "formats/policy.h"

namespace floatscope::gpu {

// Device memory of the per-tensor scaled quantization (TensorScaledWorkBytes).
struct ScaledWork {
  unsigned amax_bits;
  float scale, scale_inv;
};

// Index in formats::kAll of the named format whose fields equal f's, or -1.
inline int NamedIndex(const Format& f) {
  int i = 0;
  for (const Format& g : formats::kAll) {
    if (g.kind == f.kind && g.bits == f.bits && g.storage_bits == f.storage_bits && g.is_signed == f.is_signed &&
        g.exponent_bits == f.exponent_bits && g.mantissa_bits == f.mantissa_bits && g.bias == f.bias &&
        g.inf == f.inf && g.nan == f.nan && g.has_subnormals == f.has_subnormals && g.has_zero == f.has_zero &&
        g.default_overflow == f.default_overflow && g.storage_shift == f.storage_shift)
      return i;
    ++i;
  }
  return -1;
}

namespace named {

bool Encode(const Format& f, const Options& opt, const float* d_in, void* d_codes, size_t n, uint64_t first_index);
bool FakeQuant(const Format& f, const Options& opt, const float* d_in, float* d_out, size_t n, uint64_t first_index);
// Whether Encode/FakeQuant would take a specialised kernel.
bool Covers(const Format& f, const Options& opt);

// *d_amax_bits = bits of max |x| over non-NaN x (zeroes it first).
void Amax(const float* d_in, size_t n, unsigned* d_amax_bits);
// The cast pass of the per-tensor scaled quantization (opt already with
// its overflow default resolved), reading scale and scale_inv from d_work:
// e4m3fn, e5m2, f16, e3m4 in every mode, bf16 in every mode but sr.
// Element i has index first_index + i (0 for a whole tensor).
bool ScaledCast(const Format& f, const Options& opt, const float* d_in, void* d_codes, float* d_out, size_t n,
                uint64_t first_index, const ScaledWork* d_work);

}  // namespace named
}  // namespace floatscope::gpu
