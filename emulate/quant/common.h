// What every quantization scheme shares: how a C-order tensor is cut into
// units that share one scale (the whole tensor, the channels along an axis,
// groups/blocks of consecutive elements along an axis), the two exact
// power-of-two helpers the block formats use, and the float32 operations
// of the recipes with the semantics of <cmath> and of x86 (FS_HD, like
// every per-element and per-scale step of the recipes in fp8_scaling.h,
// mx.h and nvfp4.h: the CUDA kernels of cuda/kernels.cu call these very
// functions). No rounding lives here: every cast goes through the core
// (formats/round_pack.h).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "formats/convert.h"

namespace floatscope::quant {

// A C-order tensor seen around one axis as [outer][len][inner]: element
// (o, k, i) sits at flat index (o * len + k) * inner + i.
struct AxisView {
  size_t outer = 1, len = 1, inner = 1;
};

// `axis` may count from the end (-1 = last); nullopt when out of range. A
// 0-d tensor is treated as shape (1,).
inline std::optional<size_t> NormalizeAxis(long axis, size_t rank) {
  const long r = static_cast<long>(rank == 0 ? 1 : rank);
  if (axis < -r || axis >= r) return std::nullopt;
  return static_cast<size_t>(axis < 0 ? axis + r : axis);
}

inline AxisView ViewAround(const std::vector<size_t>& shape, size_t axis) {
  AxisView v;
  if (shape.empty()) return v;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (d < axis) v.outer *= shape[d];
    else if (d == axis) v.len = shape[d];
    else v.inner *= shape[d];
  }
  return v;
}

// Which elements share a scale.
enum class Granularity : uint8_t {
  kTensor,   // one unit: every element
  kChannel,  // one unit per index k along the axis (all o, i)
  kGroup,    // one unit per run of `group` consecutive k along the axis, for
             // each (o, i); the last run of an axis whose length is not a
             // multiple of `group` is shorter (as if padded with zeros,
             // which change no amax)
};

struct Partition {
  Granularity kind = Granularity::kTensor;
  AxisView view;
  size_t group = 1;

  size_t GroupsAlong() const { return (view.len + group - 1) / group; }

  size_t Units() const {
    switch (kind) {
      case Granularity::kTensor: return 1;
      case Granularity::kChannel: return view.len;
      case Granularity::kGroup: return view.outer * GroupsAlong() * view.inner;
    }
    return 1;
  }

  // Unit of flat element index `e`. Group units are numbered in C order of
  // the tensor whose axis is shortened to GroupsAlong(): (o, k / group, i).
  size_t UnitOf(size_t e) const {
    switch (kind) {
      case Granularity::kTensor: return 0;
      case Granularity::kChannel: return (e / view.inner) % view.len;
      case Granularity::kGroup: {
        const size_t i = e % view.inner;
        const size_t k = (e / view.inner) % view.len;
        const size_t o = e / (view.inner * view.len);
        return (o * GroupsAlong() + k / group) * view.inner + i;
      }
    }
    return 0;
  }

  // Calls fn(e) for every element of unit `u`, in increasing e.
  template <class Fn>
  void ForEachIn(size_t u, Fn&& fn) const {
    const size_t len = view.len, inner = view.inner;
    switch (kind) {
      case Granularity::kTensor:
        for (size_t e = 0, n = view.outer * len * inner; e < n; ++e) fn(e);
        return;
      case Granularity::kChannel:
        for (size_t o = 0; o < view.outer; ++o)
          for (size_t i = 0; i < inner; ++i) fn((o * len + u) * inner + i);
        return;
      case Granularity::kGroup: {
        const size_t i = u % inner, g = (u / inner) % GroupsAlong(), o = u / (inner * GroupsAlong());
        const size_t k_end = std::min(len, (g + 1) * group);
        for (size_t k = g * group; k < k_end; ++k) fn((o * len + k) * inner + i);
        return;
      }
    }
  }

  // Shape of the array holding one scale per unit.
  std::vector<size_t> UnitShape(const std::vector<size_t>& shape, size_t axis) const {
    switch (kind) {
      case Granularity::kTensor: return {};
      case Granularity::kChannel: return {view.len};
      case Granularity::kGroup: {
        std::vector<size_t> s = shape.empty() ? std::vector<size_t>{1} : shape;
        s[axis] = GroupsAlong();
        return s;
      }
    }
    return {};
  }
};

// x * 2^shift rounded into `f` by the core, with ONE rounding: the shift is
// applied to the exact unpacked exponent, so no float64 operation can round
// (or underflow) on the way. `opt.flush_input` applies to x itself.
FS_HD Result EncodeScaledPow2(const Format& f, double x, int shift, const Options& opt, uint64_t index) {
  constexpr Format kSrc = formats::kF64;
  Unpacked u = Unpack(kSrc, BitsOf(x), opt.flush_input);
  if (u.cls == Class::kFinite) u.exp += shift;
  return RoundPack(f, u, opt, index);
}

// value(code of f) * 2^shift as float32, through the core (exact whenever
// the product is a float32; otherwise rounded to nearest even).
FS_HD float DecodeScaledPow2ToF32(const Format& f, uint64_t code, int shift) {
  constexpr Format kDst = formats::kF32;
  Unpacked u = Unpack(f, code);
  if (u.cls == Class::kFinite) u.exp += shift;
  return F32FromBits(static_cast<uint32_t>(RoundPack(kDst, u, Options{}, 0).code));
}

// float64 -> float32 by the core, round to nearest even, IEEE overflow.
FS_HD float RoundToF32(double x) {
  constexpr Format kDst = formats::kF32;
  return F32FromBits(static_cast<uint32_t>(EncodeFromF64(kDst, x).code));
}

// ---- float32 and float64 steps with <cmath>'s and x86's semantics ----------
// The recipes are defined by what the CPU computes; a GPU differs where
// <cmath> is not available in device code and where its NaN rule is not
// x86's, so these spell both out once, for both.

inline constexpr float kFltMax = 0x1.fffffep127f;        // FLT_MAX
inline constexpr uint32_t kQuietNanF32 = 0x7FC00000u;    // NAN as <cmath> spells it
inline constexpr uint64_t kQuietNanF64 = 0x7FF8000000000000ull;

FS_HD constexpr bool IsNanF32(float x) { return (BitsOf(x) & 0x7FFFFFFFu) > 0x7F800000u; }
FS_HD constexpr bool IsInfF32(float x) { return (BitsOf(x) & 0x7FFFFFFFu) == 0x7F800000u; }
FS_HD constexpr bool IsNanF64(double x) { return (BitsOf(x) & ~(uint64_t{1} << 63)) > 0x7FF0000000000000ull; }
FS_HD constexpr bool IsInfF64(double x) { return (BitsOf(x) & ~(uint64_t{1} << 63)) == 0x7FF0000000000000ull; }
FS_HD constexpr float AbsF32(float x) { return F32FromBits(BitsOf(x) & 0x7FFFFFFFu); }

// std::fmin / std::fmax: a NaN operand is ignored.
FS_HD constexpr float FminF32(float a, float b) {
  if (IsNanF32(a)) return b;
  if (IsNanF32(b)) return a;
  return b < a ? b : a;
}
FS_HD constexpr float FmaxF32(float a, float b) {
  if (IsNanF32(a)) return b;
  if (IsNanF32(b)) return a;
  return b > a ? b : a;
}

// std::ldexp(x, e) for float32: x * 2^e rounded once (nearest even), by
// the core on the exact exponent.
FS_HD float LdexpF32(float x, int e) {
  constexpr Format kF32 = formats::kF32;
  Unpacked u = Unpack(kF32, BitsOf(x));
  if (u.cls != Class::kFinite) return x;
  u.exp += e;
  return F32FromBits(static_cast<uint32_t>(RoundPack(kF32, u, Options{}, 0).code));
}

// The exponent std::frexp stores: x = m * 2^e with 0.5 <= |m| < 1 for a
// finite nonzero x (subnormals included), so e = floor(log2 |x|) + 1; 0
// for zeros, infinities and NaNs (glibc's choice where the standard leaves
// it unspecified).
FS_HD constexpr int FrexpExponentF64(double x) {
  const uint64_t b = BitsOf(x) & ~(uint64_t{1} << 63);
  const int field = static_cast<int>(b >> 52);
  if (b == 0 || field == 0x7FF) return 0;
  if (field != 0) return field - 1022;
  return floatscope::detail::BitLength(b) - 1074;  // subnormal: the leading bit's exponent + 1
}
FS_HD constexpr int FrexpExponentF32(float x) { return FrexpExponentF64(static_cast<double>(x)); }

// x86 multiplication (SSE mulss/mulsd) where an operand may be NaN or the
// product may be invalid: a NaN first operand comes back quieted (sign and
// payload kept) and 0 * inf gives x86's default NaN (sign set, quiet bit
// only: 0xffc00000), where a GPU gives its canonical NaN 0x7fffffff in both
// cases; the second operand is never NaN here (it may be infinite: the
// inverse of a subnormal scale). The recipes are the CPU's, so the kernels
// must give these bits too.
FS_HD constexpr float MulF32AsX86(float maybe_nan, float y) {
  if (IsNanF32(maybe_nan)) return F32FromBits(BitsOf(maybe_nan) | 0x400000u);
  const float p = maybe_nan * y;
  return IsNanF32(p) ? F32FromBits(0xffc00000u) : p;
}
FS_HD constexpr double MulF64AsX86(double maybe_nan, double y) {
  if (IsNanF64(maybe_nan)) return F64FromBits(BitsOf(maybe_nan) | (uint64_t{1} << 51));
  const double p = maybe_nan * y;
  return IsNanF64(p) ? F64FromBits(0xfff8000000000000ull) : p;
}

}  // namespace floatscope::quant
