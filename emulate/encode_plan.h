// Everything a kernel needs to round float32 values into one format,
// computed once per call from the Format and Options (MakeEncodePlan): the
// Highway kernels (emulate/simd/convert-inl.h) and the CUDA kernels
// (cuda/kernels.cu, cuda/named_convert.h) read it, the general conversion
// of both through emulate/encode_lanes.h. EncodePlan is a few
// named parts: the format's layout, the rounding rules, stochastic
// rounding's random words, the core's results for the special inputs, the
// decoding of codes, the fast path's constants and statistics, F16C.
//
// The results for special inputs (zeros, infinities, overflow, NaN,
// negative numbers into an unsigned format) are not re-derived here: they
// are asked of the scalar core itself, so the kernels cannot disagree with
// it about them.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

#include "formats/convert.h"

namespace floatscope {

// The format, as the kernels read it (formats/format.h).
struct FormatLayout {
  bool is_int = false;
  int32_t mantissa_bits = 0, bias = 0;
  int32_t emin = 0;  // floats: the exponent of the smallest normal value, 2^emin
  bool has_subnormals = false;  // and a zero at the bottom of their grid: f.has_subnormals && f.has_zero
  bool has_zero = true, is_signed = true, has_negative_zero = true;
  uint32_t max_magnitude = 0;      // floats: largest finite magnitude code; ints: largest positive
  uint32_t int_most_negative = 0;  // ints: magnitude of the most negative value
  uint32_t code_mask = 0, sign_bit = 0;
  int storage_shift = 0;  // tf32 codes are stored as float32 patterns
  // Which codes are NaN and infinity (formats/format.h IsNanCode, IsInfCode).
  NanCodes nan_codes = NanCodes::kNone;
  InfCodes inf_codes = InfCodes::kNone;
  uint32_t max_exponent_field = 0, magnitude_mask = 0;
  uint32_t inf_magnitude = 0;  // InfCodes::kMaxCode: the +inf code (all ones signed, 11..10 unsigned)

  constexpr bool operator==(const FormatLayout&) const = default;
};

// The options' rounding rules.
struct RoundingPlan {
  Rounding mode = Rounding::kNearestEven;
  bool flush_input = false;          // DAZ: float32 subnormal inputs read as zero
  bool flush_output = false;         // FTZ: tiny results flushed to zero
  bool tiny_after_rounding = true;   // Tininess::kAfterRounding
  bool p1_even_code = true;          // TieRuleP1::kEvenCode (formats with no mantissa bits)
  bool int_wraps = false;            // integers: overflow wraps (Overflow::kWrap)
};

// Stochastic rounding's random words (formats/philox.h).
struct StochasticPlan {
  uint32_t sr_bits = 32;              // random bits compared, 1..32
  uint32_t seed_lo = 0, seed_hi = 0;  // Philox's key (Options::seed), low and high word
  uint32_t round_key[10][2] = {};     // Philox's key before each round

  FS_HD constexpr uint64_t Seed() const { return uint64_t{seed_hi} << 32 | seed_lo; }
  // The random word's top sr_bits bits as a mask: the bits stochastic
  // rounding compares (the rest are dropped).
  FS_HD constexpr uint32_t TopMask() const { return sr_bits >= 32 ? 0xffffffffu : ~(0xffffffffu >> sr_bits); }
};

// The core's code and flags for one float32 input, by input sign.
struct SpecialResult {
  uint32_t code[2];
  uint8_t flags[2];
};

// The special inputs' results, from the scalar core.
struct CoreSpecials {
  SpecialResult zero, inf, overflow, nan_quiet, nan_signaling, negative;
  // IEEE-style NaNs with payload kept: code = sign | nan_base | payload bits.
  bool nan_from_payload = false;
  uint32_t nan_base = 0;
  // Fake quantization of the specials (the core's decode of the codes
  // above): float32 bits, by input sign.
  uint32_t fq_overflow[2] = {0, 0}, fq_inf[2] = {0, 0}, fq_nan_quiet[2] = {0, 0}, fq_nan_signaling[2] = {0, 0};
};

// Decoding codes back to float32 (fake quantization, DecodeToF32Array).
struct DecodePlan {
  bool keep_nan_payload = false;  // IEEE-style source NaNs keep their payload
  bool flush_subnormals = false;  // DAZ on the codes
  uint32_t nan_bits[2] = {0, 0}, inf_bits[2] = {0, 0};  // float32 bits, by code sign
};

// The fast path (FastRoundLanes in emulate/fast_round.h, shared by the
// Highway and CUDA kernels): rounding done on the float32 bit pattern
// itself, for the common formats and options, with statistics too where
// FastStatistics::applies. `applies` says whether it applies; the rest are
// its constants (cuda/named_convert.h computes them at compile time for
// the named formats with the same MakeFastRounding). Rounding |x| to a
// multiple of the quantum drops
// d = max(min_dropped_bits, quantum_field - max(f32 exponent field, 1))
// low bits of the pattern (every name below is a float32 bit pattern unless
// it says code or bits).
struct FastRounding {
  bool applies = false;
  int32_t min_dropped_bits = 0;  // d in the normal binades: 23 - m (integers: 1)
  int32_t quantum_field = 0;     // the f32 exponent field whose ulp is 2^(emin - m): 150 + emin - m (integers: 150)
  uint32_t max_finite[2] = {0, 0};     // largest finite result magnitude, by sign
  uint32_t min_positive = 0;           // smallest nonzero magnitude: 2^(emin - m), or 1 for integers
  uint32_t half_min_positive = 0;      // half of that (2^-149 where that would be 2^-150)
  uint32_t min_normal = 0;             // floats: 2^emin
  uint32_t field_floor = 0;            // patterns below this one have d >= 23: max(2^-126, 2^(emin - m))
  uint32_t max_finite_both_signs = 0;  // min of max_finite: beyond it a lane may overflow
  bool zero_keeps_sign = true;         // a zero result keeps the input's sign (floats with -0)
  uint32_t code_rebias = 0;            // floats: (127 - bias) << m; a normal pattern >> (23 - m), minus it: the code
  // d is the same for every input (quantum_field - 1 <= min_dropped_bits:
  // bf16, tf32): no lane is "deep", the rounding is the textbook
  // bias-and-clear.
  bool fixed_drop = false;
  // Stochastic fake quantization's shortcut (FastSrShallow) takes the
  // format's subnormal binades too: where 2^emin >= 2^-10, i.e. where data
  // of unit scale often reaches below it (FP8 E4M3, FP6, FP4, binary8p4 and
  // up); elsewhere (f16, e5m2) the normal binades alone, one shift cheaper.
  bool sr_shortcut_subnormal = false;
  // ... and every lane below the largest finite, the "deep" ones below the
  // smallest nonzero 2^q included, where 2^q >= 2^-6: data of unit scale
  // has lanes below it in most vectors (FP4, FP6, integers; e4m3fn's 2^-9
  // in one 16-lane vector in forty, where kSubnormal's branch is cheaper).
  // Not with DAZ (float32 subnormals are deep lanes there).
  bool sr_shortcut_deep = false;
  float deep_fraction_scale = 0;  // 2^(32 - q), q = log2(min_positive): DeepFraction

  constexpr bool operator==(const FastRounding&) const = default;
};

// Statistics from the fast path (FastCounts in emulate/simd/convert-inl.h):
// it counts inexact (rounded magnitude != input magnitude) and, for floats,
// underflow (inexact and tiny) itself, and hands every vector that holds an
// overflow or a special input to the general kernel's flags. Tiny is
// |x| < tiny_limit[sign]: 2^emin before rounding; after rounding (rounded
// with an unbounded exponent, still below 2^emin) the lanes whose rounding
// to the grid one binade wider carries into 2^emin are not tiny: from the
// midpoint 2^emin - 2^(emin-2-m) on for rne and rna (the grid's top value
// 2^emin - 2^(emin-1-m) has an odd significand, so the tie goes up), above
// that top value for rup (positive) and rdn (negative), never for rtz and
// rto. Stochastic modes decide that carry with the random word, lane by
// lane (random_edge): the grid one binade wider has spacing
// 2^edge_spacing_log2 in patterns (2^(emin-1-m): the distance from its top
// value edge_low to 2^emin), and a lane is tiny exactly where its pattern
// plus the mode's bias for that spacing stays below 2^emin's (below
// edge_low it always does; at or above 2^emin it never does; in between
// that is the wider rounding not carrying into 2^emin). Needs the core to
// raise nothing for a zero input (the fast path's zero and DAZ'd lanes
// count as exact).
struct FastStatistics {
  bool applies = false;
  uint32_t tiny_limit[2] = {0, 0};  // float32 bits, by sign
  bool random_edge = false;         // stochastic, tininess after rounding, edge zone not empty
  uint32_t edge_low = 0;            // float32 bits of 2^emin - 2^(emin-1-m)
  int32_t edge_spacing_log2 = 0;    // log2(FastRounding::min_normal - edge_low), 1..22
};

// f16 through the CPU's F16C conversion (VCVTPS2PH with the rounding in its
// immediate, VCVTPH2PS back): the format is IEEE binary16 and the options
// are ones where that instruction gives the core's bits (rne, rdn, rup,
// rtz; IEEE overflow; no DAZ/FTZ options; NaN payload kept, which is what
// F16C does: sign, quiet bit, top 9 payload bits). exhaustive_simd proves
// it on all 2^32 inputs.
struct F16cPath {
  int round_imm = -1;  // -1: not used; else the VCVTPS2PH rounding immediate (0 rne, 1 rdn, 2 rup, 3 rtz)
};

struct EncodePlan {
  FormatLayout layout;        // the format
  RoundingPlan rounding;      // the options' rounding rules
  StochasticPlan random;      // sr and sr-eq: Philox's key and random bits
  CoreSpecials special;       // the core's results for zeros, infinities, overflow, NaN, negatives
  DecodePlan decode;          // codes back to float32
  FastRounding fast;          // the pattern fast path
  FastStatistics fast_stats;  // its statistics
  F16cPath f16c;              // f16 through F16C
};

namespace encode_plan_detail {

// Asks the core for the code and flags of one float32 input.
inline SpecialResult CoreOnBothSigns(const Format& f, const Options& opt, uint32_t positive_bits) {
  SpecialResult r{};
  for (int s = 0; s < 2; ++s) {
    const Result x = Convert(formats::kF32, positive_bits | (s ? 0x80000000u : 0u), f, opt, 0);
    r.code[s] = static_cast<uint32_t>(x.code);
    r.flags[s] = x.flags;
  }
  return r;
}

// float32 bits of a code, decoded as FakeQuantF32Array decodes it (no
// flushing: the decode reads the code's value exactly).
inline uint32_t ExactF32Bits(const Format& f, const Options& opt, uint64_t code) {
  Options exact = opt;
  exact.flush_input = false;
  exact.flush_output = false;
  return static_cast<uint32_t>(Convert(f, code, formats::kF32, exact).code);
}

FS_HD constexpr FormatLayout MakeFormatLayout(const Format& f) {
  FormatLayout l;
  l.is_int = !IsFloat(f);
  l.mantissa_bits = f.mantissa_bits;
  l.bias = f.bias;
  l.emin = MinNormalExponent(f);
  l.has_subnormals = f.has_subnormals && f.has_zero;
  l.has_zero = f.has_zero;
  l.is_signed = f.is_signed;
  l.has_negative_zero = HasNegativeZero(f);
  l.max_magnitude = static_cast<uint32_t>(MaxFiniteMagnitude(f));
  l.int_most_negative = f.is_signed ? l.max_magnitude + 1 : 0;
  l.code_mask = static_cast<uint32_t>(CodeMask(f));
  l.sign_bit = static_cast<uint32_t>(SignBit(f));
  l.storage_shift = f.storage_shift;
  l.nan_codes = f.nan;
  l.inf_codes = f.inf;
  l.max_exponent_field = MaxExponentField(f);
  l.magnitude_mask = static_cast<uint32_t>(MagnitudeMask(f));
  if (HasInf(f)) l.inf_magnitude = static_cast<uint32_t>(PositiveInfCode(f) & MagnitudeMask(f));
  return l;
}

FS_HD constexpr RoundingPlan MakeRoundingPlan(const Format& f, const Options& opt) {
  RoundingPlan r;
  r.mode = opt.rounding;
  r.flush_input = opt.flush_input;
  r.flush_output = opt.flush_output;
  r.tiny_after_rounding = opt.tininess == Tininess::kAfterRounding;
  r.p1_even_code = opt.tie_rule_p1 == TieRuleP1::kEvenCode;
  r.int_wraps = EffectiveOverflow(f, opt.overflow) == Overflow::kWrap;
  return r;
}

inline StochasticPlan MakeStochasticPlan(const Options& opt) {
  StochasticPlan s;
  s.sr_bits = opt.sr_bits < 1 ? 1 : (opt.sr_bits > 32 ? 32 : opt.sr_bits);
  s.seed_lo = static_cast<uint32_t>(opt.seed);
  s.seed_hi = static_cast<uint32_t>(opt.seed >> 32);
  for (int r = 0; r < 10; ++r) {
    s.round_key[r][0] = s.seed_lo + static_cast<uint32_t>(r) * 0x9E3779B9u;
    s.round_key[r][1] = s.seed_hi + static_cast<uint32_t>(r) * 0xBB67AE85u;
  }
  return s;
}

inline CoreSpecials MakeCoreSpecials(const Format& f, const Options& opt) {
  CoreSpecials c;
  // Overflow results depend only on sign, mode and policy: ask with the
  // largest float32 (every supported format overflows on it or represents
  // it; in the latter case the kernel never takes this path). Stochastic
  // modes overflow like rounding away: use rna for the query.
  Options det = opt;
  if (IsStochastic(det.rounding)) det.rounding = Rounding::kNearestAway;
  c.zero = CoreOnBothSigns(f, opt, 0x00000000u);
  c.inf = CoreOnBothSigns(f, opt, 0x7f800000u);
  c.overflow = CoreOnBothSigns(f, det, 0x7f7fffffu);
  c.nan_quiet = CoreOnBothSigns(f, opt, 0x7fc00000u);
  c.nan_signaling = CoreOnBothSigns(f, opt, 0x7fa00000u);
  c.negative = CoreOnBothSigns(f, opt, 0x3f800000u);  // [1] = -1.0: unsigned floats give NaN
  c.nan_from_payload = f.nan == NanCodes::kIeee && opt.nan_payload == NanPayload::kPreserve;
  if (c.nan_from_payload)
    c.nan_base = (MaxExponentField(f) << f.mantissa_bits) | (1u << (f.mantissa_bits - 1));
  for (int s = 0; s < 2; ++s) {
    c.fq_overflow[s] = ExactF32Bits(f, opt, c.overflow.code[s]);
    c.fq_inf[s] = ExactF32Bits(f, opt, c.inf.code[s]);
    c.fq_nan_quiet[s] = ExactF32Bits(f, opt, c.nan_quiet.code[s]);
    c.fq_nan_signaling[s] = ExactF32Bits(f, opt, c.nan_signaling.code[s]);
  }
  return c;
}

inline DecodePlan MakeDecodePlan(const Format& f, const Options& opt) {
  DecodePlan d;
  d.keep_nan_payload = f.nan == NanCodes::kIeee && opt.nan_payload == NanPayload::kPreserve;
  d.flush_subnormals = opt.flush_input;
  constexpr Format kF32 = formats::kF32;
  for (int s = 0; s < 2; ++s) {
    const uint64_t sign = s ? SignBit(f) : 0;
    if (HasNan(f)) d.nan_bits[s] = static_cast<uint32_t>(Convert(f, CanonicalNanCode(f) | sign, kF32, opt).code);
    if (HasInf(f)) d.inf_bits[s] = static_cast<uint32_t>(Convert(f, PositiveInfCode(f) | sign, kF32, opt).code);
  }
  return d;
}

// float32 bits of sig * 2^e (exact: a value of a format the fast path
// covers), in constexpr arithmetic that also compiles for the device.
FS_HD constexpr uint32_t F32OfSigExp(uint32_t sig, int32_t e) {
  if (sig == 0) return 0;
  int32_t length = 0;
  while (length < 32 && (sig >> length) != 0) ++length;
  const int32_t top = e + length - 1;
  if (top >= -126) return static_cast<uint32_t>(top + 127) << 23 | ((sig << (24 - length)) & 0x7fffffu);
  return sig << (e + 149);  // a float32 subnormal: the value in units of 2^-149
}

// float32 bits of a finite positive code of a float format with subnormals
// whose values are float32 values (as the core's exact decode gives them).
FS_HD constexpr uint32_t F32OfPositiveCode(const FormatLayout& l, uint32_t code) {
  const int32_t m = l.mantissa_bits;
  const uint32_t field = code >> m;
  const uint32_t mant = code & ((1u << m) - 1u);
  if (field == 0) return F32OfSigExp(mant, l.emin - m);
  return F32OfSigExp((1u << m) | mant, static_cast<int32_t>(field) - l.bias - m);
}

// The fast path's constants, from the layout and the rounding rules alone
// and constexpr, so that cuda/named_convert.h folds them into kernels
// specialised per format: the run-time plan and the compile-time one are
// the same function's results.
FS_HD constexpr FastRounding MakeFastRounding(const FormatLayout& l, const RoundingPlan& r) {
  FastRounding fast;
  // Floats: signed, with zero and subnormals, at least one mantissa bit
  // (with none, rne's parity is the exponent field's, not the pattern's).
  // Integers: anything but wrapping. Not for flush-to-zero output (that
  // needs tininess).
  const int32_t m = l.mantissa_bits;
  fast.applies = !r.flush_output &&
                 (l.is_int ? !r.int_wraps : (l.is_signed && l.has_zero && l.has_subnormals && m >= 1));
  if (l.is_int) {
    // kept = |x| rounded to an integer; d = 150 - exponent field (>= 1).
    fast.min_dropped_bits = 1;
    fast.quantum_field = 150;
    fast.max_finite[0] = BitsOf(static_cast<float>(l.max_magnitude));
    fast.max_finite[1] = BitsOf(static_cast<float>(l.int_most_negative));
    fast.min_positive = 0x3f800000u;  // 1.0
  } else if (fast.applies) {
    // Quantum 2^(E - m) for normal binades, 2^(emin - m) below: d = 23 - m,
    // or (150 + emin - m) - exponent field where that is larger.
    fast.min_dropped_bits = 23 - m;
    fast.quantum_field = 150 + l.emin - m;
    fast.max_finite[0] = fast.max_finite[1] = F32OfPositiveCode(l, l.max_magnitude);
    fast.min_positive = F32OfPositiveCode(l, 1);
    fast.min_normal = F32OfPositiveCode(l, 1u << m);
    fast.code_rebias = static_cast<uint32_t>(127 - l.bias) << m;
  }
  if (!fast.applies) return fast;
  const int32_t field = fast.quantum_field - 23;  // exponent field of 2^(emin - m) (<= 0: a float32 subnormal)
  fast.field_floor = field > 1 ? static_cast<uint32_t>(field) << 23 : 0x800000u;
  fast.max_finite_both_signs = fast.max_finite[0] < fast.max_finite[1] ? fast.max_finite[0] : fast.max_finite[1];
  fast.zero_keeps_sign = !l.is_int && l.has_negative_zero;
  // Half of the power of two min_positive, in integers (a constant
  // expression may not underflow): one exponent down, or half the pattern
  // from 2^-126 down; 2^-150 -> 2^-149.
  const uint32_t half = fast.min_positive >= 0x1000000u ? fast.min_positive - 0x800000u : fast.min_positive >> 1;
  fast.half_min_positive = half == 0 ? 1u : half;
  fast.fixed_drop = !l.is_int && fast.quantum_field - 1 <= fast.min_dropped_bits && fast.zero_keeps_sign;
  fast.sr_shortcut_subnormal = !l.is_int && l.emin >= -10 && fast.field_floor > 0x800000u;
  fast.sr_shortcut_deep = !r.flush_input && !fast.fixed_drop && fast.min_positive >= 0x3c800000u &&  // 2^-6
                          fast.max_finite_both_signs > fast.min_positive;  // not unsigned integers (max_finite[1] 0)
  // 2^(32 - q), q = log2(min_positive) (a power of two); infinity past float32's range.
  int32_t q = static_cast<int32_t>(fast.min_positive >> 23) - 127;
  if (fast.min_positive < 0x800000u) {  // a float32 subnormal 2^(-149 + bit)
    q = -149;
    while ((fast.min_positive >> (q + 150)) != 0) ++q;
  }
  fast.deep_fraction_scale = F32FromBits(32 - q + 127 >= 255 ? 0x7f800000u : static_cast<uint32_t>(32 - q + 127) << 23);
  return fast;
}

inline FastStatistics MakeFastStatistics(const FormatLayout& l, const RoundingPlan& r, const CoreSpecials& c,
                                         const FastRounding& fast) {
  FastStatistics s;
  if (!fast.applies) return s;
  s.applies = c.zero.flags[0] == 0 && c.zero.flags[1] == 0;
  s.tiny_limit[0] = s.tiny_limit[1] = fast.min_normal;
  if (l.is_int || !r.tiny_after_rounding) return s;
  const int32_t emin = l.emin, m = l.mantissa_bits;
  // Exact: m + 1 significant bits, a multiple of 2^(emin - m - 1) >= 2^-149 (SimdSupports).
  const double top = std::ldexp(1.0, emin) - std::ldexp(1.0, emin - 1 - m);
  s.edge_low = BitsOf(static_cast<float>(top));
  // The midpoint, or the first float32 above it where it is none (2^-150).
  const double mid =
      std::ldexp(std::ceil(std::ldexp(std::ldexp(1.0, emin) - std::ldexp(1.0, emin - 2 - m), 149)), -149);
  const uint32_t from_mid = BitsOf(static_cast<float>(mid)), above_top = s.edge_low + 1;
  switch (r.mode) {
    case Rounding::kNearestEven:
    case Rounding::kNearestAway: s.tiny_limit[0] = s.tiny_limit[1] = from_mid; break;
    case Rounding::kUp: s.tiny_limit[0] = above_top; break;
    case Rounding::kDown: s.tiny_limit[1] = above_top; break;
    case Rounding::kTowardZero:
    case Rounding::kOdd: break;
    case Rounding::kStochastic:
    case Rounding::kStochasticEq: {
      // The edge zone's spacing in patterns: a power of two (both ends
      // are multiples of 2^(emin-1-m) in one binade or across the
      // float32 subnormal boundary, where patterns stay linear). With a
      // spacing of one pattern the zone holds no float32: nothing to do.
      const uint32_t spacing = fast.min_normal - s.edge_low;
      s.edge_spacing_log2 = std::countr_zero(spacing);
      s.random_edge = spacing > 1;
      if (!std::has_single_bit(spacing)) s.applies = false;  // not expected: the general kernel counts
      break;
    }
  }
  return s;
}

inline F16cPath MakeF16cPath(const Format& f, const Options& opt, const FormatLayout& l) {
  F16cPath path;
  const bool binary16 = !l.is_int && f.exponent_bits == 5 && l.mantissa_bits == 10 && l.bias == 15 && f.bits == 16 &&
                        f.storage_bits == 16 && f.storage_shift == 0 && f.inf == InfCodes::kIeee &&
                        f.nan == NanCodes::kIeee && l.is_signed && l.has_subnormals && l.has_negative_zero;
  if (binary16 && EffectiveOverflow(f, opt.overflow) == Overflow::kIeee && !opt.flush_input && !opt.flush_output &&
      opt.nan_payload == NanPayload::kPreserve) {
    switch (opt.rounding) {
      case Rounding::kNearestEven: path.round_imm = 0; break;
      case Rounding::kDown: path.round_imm = 1; break;
      case Rounding::kUp: path.round_imm = 2; break;
      case Rounding::kTowardZero: path.round_imm = 3; break;
      default: break;
    }
  }
  return path;
}

}  // namespace encode_plan_detail

inline EncodePlan MakeEncodePlan(const Format& f, const Options& opt) {
  using namespace encode_plan_detail;
  EncodePlan p;
  p.layout = MakeFormatLayout(f);
  p.rounding = MakeRoundingPlan(f, opt);
  p.random = MakeStochasticPlan(opt);
  p.special = MakeCoreSpecials(f, opt);
  p.decode = MakeDecodePlan(f, opt);
  p.fast = MakeFastRounding(p.layout, p.rounding);
  p.fast_stats = MakeFastStatistics(p.layout, p.rounding, p.special, p.fast);
  p.f16c = MakeF16cPath(f, opt, p.layout);
  return p;
}

}  // namespace floatscope
