// Fake quantization and encoding for the named formats with every format
// constant known at compile time: the fast path of emulate/simd (the
// rounding done on the float32 bit pattern: add a bias, clear the low d
// bits; inputs below the smallest nonzero result ("deep") by compare;
// overflow and specials by select; see FastRoundLanes in
// emulate/simd/convert-inl.h), written for one float32 per thread with the
// format's fields as constants, so that the compiler folds everything the
// format fixes (for bf16, d is the constant 16; for integers no subnormal
// code path exists at all).
//
// What stays a run-time parameter (NamedParams) is what the options decide
// and what the scalar core answers for the special inputs: the codes and
// fake-quantized values of overflow, infinity and NaN, the seed, the number
// of random bits. They are copied from the run-time plan
// (emulate/encode_plan.h, MakeEncodePlan), and the host checks that
// the plan's fast-path constants equal this file's compile-time ones before
// it launches a specialised kernel (cuda/named_kernels.cu), so the two can
// never drift apart silently. `floatscope gpu-verify --exhaustive` proves
// the specialised kernels equal to the core on all 2^32 float32 inputs
// (cuda/RESULTS.md).
#pragma once

#include <cstdint>

#include "emulate/encode_plan.h"
#include "formats/catalog.h"
#include "formats/convert.h"

namespace floatscope::gpu {

// The fast path's constants of one format (the FastRounding fields of the
// same names, and FormatLayout's is_int, mantissa_bits, code_mask and
// sign_bit), derived as MakeEncodePlan derives them.
struct NamedDesc {
  bool ok = false;  // the fast path covers the format (with default-like options)
  bool is_int = false;
  bool zero_keeps_sign = false;  // floats with -0: a zero result keeps the input's sign
  int32_t mantissa_bits = 0, min_dropped_bits = 0, quantum_field = 0;
  uint32_t max_finite[2] = {0, 0}, max_finite_both_signs = 0;
  uint32_t min_positive = 0, half_min_positive = 0, min_normal = 0, field_floor = 0, code_rebias = 0;
  uint32_t code_mask = 0, sign_bit = 0;
};

// float32 bits of sig * 2^e (exact: a value of a format the fast path
// covers). Written out rather than asked of the core, whose bit counting is
// not constexpr in device compilation; PlanMatches compares the results
// with the core's.
FS_HD constexpr uint32_t F32OfSigExp(uint32_t sig, int32_t e) {
  if (sig == 0) return 0;
  int32_t length = 0;
  while (length < 32 && (sig >> length) != 0) ++length;
  const int32_t top = e + length - 1;
  if (top >= -126) return static_cast<uint32_t>(top + 127) << 23 | ((sig << (24 - length)) & 0x7fffffu);
  return sig << (e + 149);  // a float32 subnormal: the value in units of 2^-149
}

// float32 bits of a finite positive code of a float format with subnormals.
FS_HD constexpr uint32_t F32OfCode(const Format& f, uint64_t code) {
  const int32_t m = f.mantissa_bits;
  const uint32_t field = static_cast<uint32_t>(code >> m);
  const uint32_t mant = static_cast<uint32_t>(code) & ((1u << m) - 1u);
  if (field == 0) return F32OfSigExp(mant, MinNormalExponent(f) - m);
  return F32OfSigExp((1u << m) | mant, static_cast<int32_t>(field) - f.bias - m);
}

FS_HD constexpr NamedDesc MakeNamedDesc(const Format& f) {
  NamedDesc d;
  d.is_int = !IsFloat(f);
  const int32_t emin = MinNormalExponent(f);
  // cuda/kernels.cu's FastSupports, and FastRounding::applies for the default
  // options (integers: wrapping overflow is checked at run time).
  const bool supported =
      f.storage_shift == 0 && f.storage_bits <= 16 &&
      (d.is_int ? f.bits <= 16
                : (f.mantissa_bits <= 21 && f.exponent_bits <= 8 && emin >= -126 && emin - f.mantissa_bits >= -147 &&
                   static_cast<int>(MaxFiniteMagnitude(f) >> f.mantissa_bits) - f.bias <= 127));
  const bool fast = d.is_int || (f.is_signed && f.has_zero && f.has_subnormals && f.mantissa_bits >= 1);
  d.ok = supported && fast;
  if (!d.ok) return d;
  d.mantissa_bits = f.mantissa_bits;
  d.zero_keeps_sign = !d.is_int && HasNegativeZero(f);
  d.code_mask = static_cast<uint32_t>(CodeMask(f));
  d.sign_bit = static_cast<uint32_t>(SignBit(f));
  const uint32_t max_mag = static_cast<uint32_t>(MaxFiniteMagnitude(f));
  if (d.is_int) {
    d.min_dropped_bits = 1;
    d.quantum_field = 150;
    d.max_finite[0] = BitsOf(static_cast<float>(max_mag));
    d.max_finite[1] = BitsOf(static_cast<float>(f.is_signed ? max_mag + 1 : 0));
    d.min_positive = 0x3f800000u;  // 1.0
  } else {
    d.min_dropped_bits = 23 - d.mantissa_bits;
    d.quantum_field = 150 + emin - d.mantissa_bits;
    d.max_finite[0] = d.max_finite[1] = F32OfCode(f, max_mag);
    d.min_positive = F32OfCode(f, 1);
    d.min_normal = F32OfCode(f, uint64_t{1} << d.mantissa_bits);
    d.code_rebias = static_cast<uint32_t>(127 - f.bias) << d.mantissa_bits;
  }
  const int32_t field = d.quantum_field - 23;
  d.field_floor = field > 1 ? static_cast<uint32_t>(field) << 23 : 0x800000u;
  d.max_finite_both_signs = d.max_finite[0] < d.max_finite[1] ? d.max_finite[0] : d.max_finite[1];
  const float half = F32FromBits(d.min_positive) * 0.5f;
  d.half_min_positive = half == 0.0f ? 1u : BitsOf(half);
  return d;
}

template <int kIndex>
inline constexpr NamedDesc kNamedDesc = MakeNamedDesc(formats::kAll[kIndex]);

// Whether the run-time plan has exactly these constants (and the options
// leave the fast path on without input flushing).
inline bool PlanMatches(const NamedDesc& d, const EncodePlan& p) {
  const FormatLayout& l = p.layout;
  const FastRounding& fast = p.fast;
  return d.ok && fast.applies && !p.rounding.flush_input && l.storage_shift == 0 && l.is_int == d.is_int &&
         l.mantissa_bits == d.mantissa_bits && fast.min_dropped_bits == d.min_dropped_bits &&
         fast.quantum_field == d.quantum_field && fast.max_finite[0] == d.max_finite[0] &&
         fast.max_finite[1] == d.max_finite[1] && fast.max_finite_both_signs == d.max_finite_both_signs &&
         fast.min_positive == d.min_positive && fast.half_min_positive == d.half_min_positive &&
         fast.field_floor == d.field_floor && fast.zero_keeps_sign == d.zero_keeps_sign &&
         l.code_mask == d.code_mask && l.sign_bit == d.sign_bit &&
         (d.is_int || (fast.min_normal == d.min_normal && fast.code_rebias == d.code_rebias));
}

// The options' part: special results from the scalar core (by input sign),
// the seed and the random bits.
struct NamedParams {
  uint32_t fq_overflow[2], fq_inf[2], fq_nan_quiet[2], fq_nan_signaling[2];
  uint32_t code_overflow[2], code_inf[2], code_nan_quiet[2], code_nan_signaling[2];
  uint32_t nan_base;
  uint64_t seed;   // Philox's key (formats/philox.h)
  uint32_t top_r;  // the sr_bits top bits
  bool nan_from_payload;
};

inline NamedParams MakeNamedParams(const EncodePlan& p) {
  NamedParams q{};
  const CoreSpecials& c = p.special;
  for (int s = 0; s < 2; ++s) {
    q.fq_overflow[s] = c.fq_overflow[s];
    q.fq_inf[s] = c.fq_inf[s];
    q.fq_nan_quiet[s] = c.fq_nan_quiet[s];
    q.fq_nan_signaling[s] = c.fq_nan_signaling[s];
    q.code_overflow[s] = c.overflow.code[s];
    q.code_inf[s] = c.inf.code[s];
    q.code_nan_quiet[s] = c.nan_quiet.code[s];
    q.code_nan_signaling[s] = c.nan_signaling.code[s];
  }
  q.nan_base = c.nan_base;
  q.seed = p.random.Seed();
  q.top_r = p.random.TopMask();
  q.nan_from_payload = c.nan_from_payload;
  return q;
}

#ifdef __CUDACC__

__device__ __forceinline__ uint32_t UMaxD(uint32_t a, uint32_t b) { return a > b ? a : b; }
__device__ __forceinline__ uint32_t UMinD(uint32_t a, uint32_t b) { return a < b ? a : b; }
__device__ __forceinline__ int32_t IMaxD(int32_t a, int32_t b) { return a > b ? a : b; }
__device__ __forceinline__ int32_t IMinD(int32_t a, int32_t b) { return a < b ? a : b; }
__device__ __forceinline__ uint32_t MaxS(uint32_t a, uint32_t b) {  // as signed 32-bit values
  return static_cast<int32_t>(a) > static_cast<int32_t>(b) ? a : b;
}
__device__ __forceinline__ bool GtS(uint32_t a, uint32_t b) { return static_cast<int32_t>(a) > static_cast<int32_t>(b); }

// Stochastic rounding (kStochastic) of a value that a float32 does not
// hold: v = z + t, z its float32 truncation (bits `bits`, t >= 0 below
// z's last bit) and `ext` = floor(t / ulp(z) * 2^32), the 32 bits below
// z's last bit. Returns |v| rounded as NamedRoundMag returns |x| rounded:
// the core rounds up when the top sr_bits of the discarded fraction f
// plus as many random bits carry out, and F = floor(f * 2^32) is the 32
// bits of sig(z):ext just below the quantum (deep inputs: of the
// smallest quantum, D >= 24 bits below z's last bit). Exact as long as
// ulp(z) * 2^-32 divides the quantum * 2^-32, i.e. wherever z is a normal
// float32 or t = 0: cuda/named_encode.cu's scaled cast guarantees it.
// NamedRoundMag's kStochastic is this with ext = 0 (one computation of F
// for shallow and deep inputs: 14-16 fewer instructions per element than
// FastRoundLanes' two, in an sm_90a test kernel).
template <int kIdx>
__device__ __forceinline__ uint32_t NamedRoundMagSrWide(uint32_t bits, uint32_t ext, uint32_t random,
                                                        uint32_t top_r) {
  constexpr NamedDesc D = kNamedDesc<kIdx>;
  constexpr uint32_t kImplicit = 0x800000u;
  const uint32_t a = bits & 0x7fffffffu;
  const int32_t ef1 = static_cast<int32_t>(UMaxD(a, kImplicit) >> 23);
  const int32_t dd = IMaxD(D.min_dropped_bits, D.quantum_field - ef1);  // bits of z below the quantum
  const uint32_t sig = (a & 0x7fffffu) | (UMinD(a, kImplicit) & kImplicit);
  // The low 32 bits of (sig:ext) >> dd (sig < 2^24: 0 from dd = 56 on).
  const uint64_t wide = (uint64_t{sig} << 32) | ext;
  const uint32_t f = static_cast<uint32_t>(wide >> IMinD(dd, 63));
  const uint32_t u = random & top_r;
  const bool up = (f & top_r) + u < u;  // carry out of 32 bits
  const uint32_t keep = 0xffffffffu << IMinD(dd, 31);  // shallow: dd <= 23
  const uint32_t shallow = (a & keep) + (up ? 0u - keep : 0u);
  const bool deep = static_cast<int32_t>(a) < static_cast<int32_t>(D.min_positive);
  return deep ? (up ? D.min_positive : 0u) : shallow;
}

// |x| rounded to the format, as a float32 pattern (meaningless where the
// result overflows or x is NaN or infinite): FastRoundLanes.
template <int kIdx, Rounding kMode>
__device__ __forceinline__ uint32_t NamedRoundMag(uint32_t bits, uint32_t random, uint32_t top_r) {
  if constexpr (kMode == Rounding::kStochastic) return NamedRoundMagSrWide<kIdx>(bits, 0, random, top_r);
  constexpr NamedDesc D = kNamedDesc<kIdx>;
  const uint32_t a = bits & 0x7fffffffu;
  [[maybe_unused]] const bool neg = bits >> 31;
  constexpr uint32_t kImplicit = 0x800000u;
  // d <= 23: fields below field_floor's occur only in deep inputs (another
  // route) and float32 subnormals (field 1). Where quantum_field - 1 <=
  // min_dropped_bits, d is min_dropped_bits.
  uint32_t d;
  if constexpr (D.quantum_field - 1 <= D.min_dropped_bits) {
    d = static_cast<uint32_t>(D.min_dropped_bits);
  } else {
    const int32_t ef = static_cast<int32_t>(UMaxD(a, D.field_floor) >> 23);
    d = static_cast<uint32_t>(IMaxD(D.min_dropped_bits, D.quantum_field - ef));
  }
  const uint32_t mask = (1u << d) - 1u;
  [[maybe_unused]] auto odd = [&] { return ((a | UMinD(a, kImplicit)) >> d) & 1u; };
  const bool deep = static_cast<int32_t>(a) < static_cast<int32_t>(D.min_positive);
  [[maybe_unused]] const bool nonzero = a != 0;
  uint32_t bias = 0;
  bool up_deep = false;
  if constexpr (kMode == Rounding::kNearestEven) {
    bias = (mask >> 1) + odd();
    up_deep = GtS(a, D.half_min_positive);
  } else if constexpr (kMode == Rounding::kNearestAway) {
    bias = (mask >> 1) + 1u;
    up_deep = GtS(a, D.half_min_positive - 1);
  } else if constexpr (kMode == Rounding::kTowardZero) {
    bias = 0;
    up_deep = false;
  } else if constexpr (kMode == Rounding::kDown) {
    bias = neg ? mask : 0u;
    up_deep = nonzero && neg;
  } else if constexpr (kMode == Rounding::kUp) {
    bias = neg ? 0u : mask;
    up_deep = nonzero && !neg;
  } else if constexpr (kMode == Rounding::kOdd) {
    bias = odd() ? 0u : mask;
    up_deep = nonzero;
  } else {  // kStochasticEq (kStochastic returned above)
    const bool coin = static_cast<int32_t>(random) < 0;
    bias = coin ? mask : 0u;
    up_deep = nonzero && coin;
  }
  const uint32_t shallow = (a + bias) & ~mask;
  return deep ? (up_deep ? D.min_positive : 0u) : shallow;
}

template <int kIdx>
__device__ __forceinline__ bool NamedOverflow(uint32_t mag, bool neg) {
  constexpr NamedDesc D = kNamedDesc<kIdx>;
  if constexpr (D.is_int) return GtS(mag, neg ? D.max_finite[1] : D.max_finite[0]);
  else return GtS(mag, D.max_finite[0]);
}

// Fake quantization: FastFakeQuantLanes.
template <int kIdx>
__device__ __forceinline__ uint32_t NamedFakeQuantOf(const NamedParams& p, uint32_t bits, uint32_t mag) {
  constexpr NamedDesc D = kNamedDesc<kIdx>;
  const uint32_t abs = bits & 0x7fffffffu;
  const uint32_t sign = bits ^ abs;
  const bool neg = sign != 0;
  uint32_t r = mag | (D.zero_keeps_sign ? sign : (mag == 0 ? 0u : sign));
  if (GtS(MaxS(mag, abs), D.max_finite_both_signs)) {  // rare: overflow, infinity, NaN
    if (NamedOverflow<kIdx>(mag, neg)) r = neg ? p.fq_overflow[1] : p.fq_overflow[0];
    if (abs == 0x7f800000u) r = neg ? p.fq_inf[1] : p.fq_inf[0];
    if (abs > 0x7f800000u) {
      if (p.nan_from_payload) {
        r = (bits | 0x7fc00000u) & ~((1u << (23 - D.mantissa_bits)) - 1u);
      } else {
        const bool quiet = (bits & 0x400000u) != 0;
        r = quiet ? (neg ? p.fq_nan_quiet[1] : p.fq_nan_quiet[0]) : (neg ? p.fq_nan_signaling[1] : p.fq_nan_signaling[0]);
      }
    }
  }
  return r;
}

// Encoding: FastCodeLanes.
template <int kIdx>
__device__ __forceinline__ uint32_t NamedCodeOf(const NamedParams& p, uint32_t bits, uint32_t mag) {
  constexpr NamedDesc D = kNamedDesc<kIdx>;
  const uint32_t abs = bits & 0x7fffffffu;
  const bool neg = (bits >> 31) != 0;
  uint32_t code;
  if constexpr (D.is_int) {
    // mag is an integer below 2^24 as a float32: adding 2^23 puts it in
    // the low mantissa bits (exact).
    const uint32_t kept = __float_as_uint(__fadd_rn(__uint_as_float(mag), 8388608.0f)) - 0x4b000000u;
    code = (neg ? 0u - kept : kept) & D.code_mask;
  } else {
    const uint32_t normal_code = (mag >> (23 - D.mantissa_bits)) - D.code_rebias;
    const int32_t fe = static_cast<int32_t>(mag >> 23);
    const uint32_t sig = (mag & 0x7fffffu) | (fe > 0 ? 0x800000u : 0u);
    const int32_t shift = IMinD(D.quantum_field - IMaxD(fe, 1), 31);
    const uint32_t sub_code = sig >> IMaxD(shift, 0);
    const uint32_t mag_code = static_cast<int32_t>(mag) < static_cast<int32_t>(D.min_normal) ? sub_code : normal_code;
    const bool signed_code = D.zero_keeps_sign ? neg : (neg && mag_code != 0);
    code = mag_code | (signed_code ? D.sign_bit : 0u);
  }
  if (GtS(MaxS(mag, abs), D.max_finite_both_signs)) {
    if (NamedOverflow<kIdx>(mag, neg)) code = neg ? p.code_overflow[1] : p.code_overflow[0];
    if (abs == 0x7f800000u) code = neg ? p.code_inf[1] : p.code_inf[0];
    if (abs > 0x7f800000u) {
      if (p.nan_from_payload) {
        code = p.nan_base | ((bits & 0x7fffffu) >> (23 - D.mantissa_bits)) | (neg ? D.sign_bit : 0u);
      } else {
        const bool quiet = (bits & 0x400000u) != 0;
        code = quiet ? (neg ? p.code_nan_quiet[1] : p.code_nan_quiet[0])
                     : (neg ? p.code_nan_signaling[1] : p.code_nan_signaling[0]);
      }
    }
  }
  return code;
}

#endif  // __CUDACC__

}  // namespace floatscope::gpu
