// One float32 as a "vector" of one lane, in Highway's operation names, so
// that an algorithm written once against Highway's API (tags, Set, Shr,
// IfThenElse, masks) also runs one element at a time: in a CUDA thread,
// and in host tests that compare it with the scalar core. The rounding
// algorithms shared by emulate/simd and cuda/ (emulate/encode_lanes.h,
// emulate/fast_round.h) are written this way; Highway's own ops serve the
// vector side, these the one-lane side, picked by argument type (uint32_t,
// int32_t, float lanes; bool masks) and by tag (ScalarU, ScalarI, ScalarF
// for hn's DU, DI, DF). Such an algorithm's header is included once per
// Highway target, its templates in floatscope::lanes::HWY_NAMESPACE there
// (GCC gives a template the instruction set of where it is defined, and
// inlines Highway's ops only into functions of their target):
// emulate/encode_lanes.h shows the pattern.
//
// Only what the shared algorithms use, with Highway's semantics where C++'s
// differ: AndNot(a, b) is ~a & b; Shl/Shr take per-lane counts (0 for a
// count of 32 or more, as below); Min/Max/Gt/Lt compare as the lane type (unsigned
// for uint32_t, signed for int32_t); ConvertTo rounds int -> float to
// nearest even and float -> int toward zero.
#pragma once

#include <cstdint>

#include "formats/convert.h"
#include "formats/host_device.h"

// Force-inlined on the host too (Highway's HWY_INLINE), so that a shared
// algorithm compiles to what it would as Highway code written in place.
#if defined(__CUDACC__)
#define FS_LANES __host__ __device__ __forceinline__
#else
#define FS_LANES inline __attribute__((always_inline))
#endif

namespace floatscope::lanes {

struct ScalarU {};  // hn::ScalableTag<uint32_t>
struct ScalarI {};  // hn::RebindToSigned
struct ScalarF {};  // hn::RebindToFloat

// The tags of one lane, as an algorithm takes them (Highway's: HwyTags in
// emulate/simd/convert-inl.h).
struct ScalarTags {
  using DU = ScalarU;
  using DI = ScalarI;
  using DF = ScalarF;
};

// Whether DU is one lane (an algorithm may choose a branch-free form there).
template <class DU>
inline constexpr bool kOneLane = false;
template <>
inline constexpr bool kOneLane<ScalarU> = true;

FS_LANES constexpr uint32_t Set(ScalarU, uint32_t x) { return x; }
FS_LANES constexpr int32_t Set(ScalarI, int32_t x) { return x; }
FS_LANES constexpr float Set(ScalarF, float x) { return x; }
FS_LANES constexpr uint32_t Zero(ScalarU) { return 0; }
FS_LANES constexpr int32_t Zero(ScalarI) { return 0; }

FS_LANES constexpr uint32_t BitCast(ScalarU, uint32_t x) { return x; }
FS_LANES constexpr uint32_t BitCast(ScalarU, int32_t x) { return static_cast<uint32_t>(x); }
FS_LANES constexpr uint32_t BitCast(ScalarU, float x) { return BitsOf(x); }
FS_LANES constexpr int32_t BitCast(ScalarI, uint32_t x) { return static_cast<int32_t>(x); }
FS_LANES constexpr int32_t BitCast(ScalarI, int32_t x) { return x; }
FS_LANES constexpr float BitCast(ScalarF, uint32_t x) { return F32FromBits(x); }
FS_LANES constexpr bool RebindMask(ScalarU, bool m) { return m; }
FS_LANES constexpr bool RebindMask(ScalarI, bool m) { return m; }

// Integer lanes.
#define FS_LANES_BOTH(T)                                                                             \
  FS_LANES constexpr T Add(T a, T b) { return static_cast<T>(a + b); }                               \
  FS_LANES constexpr T Sub(T a, T b) { return static_cast<T>(a - b); }                               \
  FS_LANES constexpr T Min(T a, T b) { return a < b ? a : b; }                                       \
  FS_LANES constexpr T Max(T a, T b) { return a > b ? a : b; }                                       \
  FS_LANES constexpr bool Eq(T a, T b) { return a == b; }                                            \
  FS_LANES constexpr bool Ne(T a, T b) { return a != b; }                                            \
  FS_LANES constexpr bool Lt(T a, T b) { return a < b; }                                             \
  FS_LANES constexpr bool Gt(T a, T b) { return a > b; }                                             \
  FS_LANES constexpr T IfThenElse(bool m, T yes, T no) { return m ? yes : no; }                      \
  FS_LANES constexpr T IfThenElseZero(bool m, T yes) { return m ? yes : T{0}; }                      \
  FS_LANES constexpr T IfThenZeroElse(bool m, T no) { return m ? T{0} : no; }
FS_LANES_BOTH(uint32_t)
FS_LANES_BOTH(int32_t)
#undef FS_LANES_BOTH

FS_LANES constexpr uint32_t And(uint32_t a, uint32_t b) { return a & b; }
FS_LANES constexpr uint32_t Or(uint32_t a, uint32_t b) { return a | b; }
FS_LANES constexpr uint32_t Xor(uint32_t a, uint32_t b) { return a ^ b; }
FS_LANES constexpr uint32_t AndNot(uint32_t not_a, uint32_t b) { return ~not_a & b; }
// A count of 32 or more gives 0 on the host, as AVX2's VPSLLVD/VPSRLVD do,
// where a plain C++ shift would be undefined: DecodeLanes shifts by more in
// the lanes whose result a select discards (the subnormal scale of normal
// codes), and RoundLanes' half bit is 1 << (0 - 1) = 0 for a shift of 0
// (the custom formats whose quantum reaches 2^-149, e.g. m = 22 with
// emin = -127, at every float32 subnormal). The device keeps the plain
// shift, one instruction: PTX's shl/shr give 0 there too, and the counts
// come from the run-time plan (making it total costs 7-10 % more PTX in
// cuda/kernels.cu's plan kernels).
FS_LANES constexpr uint32_t Shl(uint32_t a, uint32_t count) {
#ifdef __CUDA_ARCH__
  return a << count;
#else
  return count < 32 ? a << count : 0u;
#endif
}
FS_LANES constexpr uint32_t Shr(uint32_t a, uint32_t count) {
#ifdef __CUDA_ARCH__
  return a >> count;
#else
  return count < 32 ? a >> count : 0u;
#endif
}
template <int kBits>
FS_LANES constexpr uint32_t ShiftLeft(uint32_t a) { return a << kBits; }
template <int kBits>
FS_LANES constexpr uint32_t ShiftRight(uint32_t a) { return a >> kBits; }
template <int kBits>
FS_LANES constexpr int32_t ShiftLeft(int32_t a) { return static_cast<int32_t>(static_cast<uint32_t>(a) << kBits); }
template <int kBits>
FS_LANES constexpr int32_t ShiftRight(int32_t a) { return a >> kBits; }  // arithmetic, as Highway's
FS_LANES constexpr int32_t Neg(int32_t a) { return static_cast<int32_t>(0u - static_cast<uint32_t>(a)); }

// Masks.
FS_LANES constexpr bool And(bool a, bool b) { return a && b; }
FS_LANES constexpr bool Or(bool a, bool b) { return a || b; }
FS_LANES constexpr bool AndNot(bool not_a, bool b) { return !not_a && b; }
FS_LANES constexpr bool Not(bool a) { return !a; }
FS_LANES constexpr bool AllFalse(ScalarU, bool m) { return !m; }
FS_LANES constexpr bool AllTrue(ScalarU, bool m) { return m; }

// Float lanes: exact conversions and one exact product (the decoders' power
// of two scaling), rounded to nearest even as the vector units do; on the
// device by the _rn intrinsics, which no contraction can fuse.
FS_LANES float ConvertTo(ScalarF, int32_t x) {
#ifdef __CUDA_ARCH__
  return __int2float_rn(x);
#else
  return static_cast<float>(x);
#endif
}
FS_LANES int32_t ConvertTo(ScalarI, float x) {  // toward zero; x an integer in range
#ifdef __CUDA_ARCH__
  return __float2int_rz(x);
#else
  return static_cast<int32_t>(x);
#endif
}
FS_LANES float Mul(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

}  // namespace floatscope::lanes
