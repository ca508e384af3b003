// The exponent windows of cuda/gemm_float_kernel.cu (kSequential / kFused
// on the GPU's float32 FMA): the values of A and B for which one FMA per
// step in the model's mode is the model exactly (that file's top comment
// says why). Plain C++, shared with the host test that checks the argument
// with the host's FMA (tests/cuda/device_ops_host_test.cc).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "emulate/dot_exact_sum.h"
#include "formats/format.h"

namespace floatscope::gpu {

// The values of one input allowed: zeros, and finite x = sig * 2^exp (the
// core's Unpack) with exp >= lo and leading bit exponent
// exp + BitLength(sig) - 1 <= hi.
struct FloatWindow {
  int32_t lo = 0, hi = 0;
};

// The windows, or false when there are none: every product a multiple of
// 2^-149 (lo_a + lo_b >= -149), K products of magnitude below
// 2^(hi_a + hi_b + 2) summing below 2^126, so that no partial sum reaches
// 2^127 after the roundings' growth (at most 2x for K <= 2^22). The natural
// range of a format where it fits (f16, FP8: no value is ever excluded),
// else windows around 1.
inline bool FloatWindows(const Format& in_a, const Format& in_b, size_t k, FloatWindow& wa, FloatWindow& wb) {
  if (k > (size_t{1} << 22)) return false;
  int32_t log2k = 0;
  while ((size_t{1} << log2k) < k) ++log2k;
  const int32_t top = 124 - log2k;  // hi_a + hi_b at most
  const int32_t ta = detail::TopBit(in_a) - 1, tb = detail::TopBit(in_b) - 1;
  const int32_t la = detail::LowestBit(in_a), lb = detail::LowestBit(in_b);
  wa = {la, ta};
  wb = {lb, tb};
  if (ta + tb > top) {  // split top between them
    wa.hi = std::min(ta, std::max(top / 2, top - tb));
    wb.hi = std::min(tb, top - wa.hi);
  }
  if (la + lb < -149) {  // and -149
    wa.lo = std::max(la, std::min(-75, -149 - lb));
    wb.lo = std::max(lb, -149 - wa.lo);
  }
  return wa.lo <= 0 && wb.lo <= 0 && wa.hi >= 0 && wb.hi >= 0 && wa.lo + wb.lo >= -149 && wa.hi + wb.hi <= top;
}

// Whether a value is in its window (zeros are; NaN and infinities are not).
FS_HD constexpr bool InFloatWindow(const Unpacked& u, FloatWindow w) {
  if (u.cls == Class::kZero) return true;
  if (u.cls != Class::kFinite) return false;
  return u.exp >= w.lo && u.exp + detail::BitLength(u.sig) - 1 <= w.hi;
}

}  // namespace floatscope::gpu
