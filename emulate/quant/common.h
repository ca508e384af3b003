// What every quantization scheme shares: how a C-order tensor is cut into
// units that share one scale (the whole tensor, the channels along an axis,
// groups/blocks of consecutive elements along an axis), and the two exact
// power-of-two helpers the block formats use. No rounding lives here: every
// cast goes through the core (formats/round_pack.h).
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
inline Result EncodeScaledPow2(const Format& f, double x, int shift, const Options& opt, uint64_t index) {
  constexpr Format kSrc = formats::kF64;
  Unpacked u = Unpack(kSrc, BitsOf(x), opt.flush_input);
  if (u.cls == Class::kFinite) u.exp += shift;
  return RoundPack(f, u, opt, index);
}

// value(code of f) * 2^shift as float32, through the core (exact whenever
// the product is a float32; otherwise rounded to nearest even).
inline float DecodeScaledPow2ToF32(const Format& f, uint64_t code, int shift) {
  constexpr Format kDst = formats::kF32;
  Unpacked u = Unpack(f, code);
  if (u.cls == Class::kFinite) u.exp += shift;
  return F32FromBits(static_cast<uint32_t>(RoundPack(kDst, u, Options{}, 0).code));
}

// float64 -> float32 by the core, round to nearest even, IEEE overflow.
inline float RoundToF32(double x) {
  constexpr Format kDst = formats::kF32;
  return F32FromBits(static_cast<uint32_t>(EncodeFromF64(kDst, x).code));
}

}  // namespace floatscope::quant
