// Everything a SIMD kernel needs to round float32 lanes into one format,
// computed once per call from the Format and Options. The results for
// special inputs (zeros, infinities, overflow, NaN, negative numbers into an
// unsigned format) are not re-derived here: they are asked of the scalar
// core itself, so the kernels cannot disagree with it about them.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

#include "formats/convert.h"

namespace floatscope::simd {

struct SpecialResult {
  uint32_t code[2];  // by input sign
  uint8_t flags[2];
};

struct EncodePlan {
  // The format.
  bool is_int = false;
  int32_t m = 0, bias = 0, emin = 0;
  bool has_sub = false, has_zero = true, is_signed = true, neg_zero = true;
  uint32_t max_mag = 0;      // floats: largest finite magnitude code; ints: largest positive
  uint32_t int_max_neg = 0;  // ints: magnitude of the most negative value
  uint32_t code_mask = 0, sign_bit = 0;
  int storage_shift = 0;  // tf32 codes are stored as float32 patterns
  bool int_wrap = false;

  // The rounding.
  Rounding mode = Rounding::kNearestEven;
  uint32_t sr_bits = 32, key0 = 0, key1 = 0;
  uint32_t round_key[10][2] = {};  // Philox's key before each round (formats/philox.h)
  bool flush_in = false, flush_out = false, tiny_after = true, p1_even_code = true;

  // Specials, from the scalar core.
  SpecialResult zero, inf, overflow, nan_quiet, nan_signaling, negative;
  // IEEE-style NaNs with payload kept: code = sign | nan_base | payload bits.
  bool nan_from_payload = false;
  uint32_t nan_base = 0;

  // Decoding codes back to float32 (fake quantization, DecodeToF32Array).
  bool decode_nan_payload = false;  // IEEE-style source NaNs keep their payload
  bool decode_flush = false;        // DAZ on the codes
  NanCodes nan_kind = NanCodes::kNone;
  InfCodes inf_kind = InfCodes::kNone;
  uint32_t max_field = 0, mag_mask = 0;
  uint32_t inf_mag = 0;  // InfCodes::kMaxCode: the +inf code (all ones signed, 11..10 unsigned)
  uint32_t dec_nan[2] = {0, 0}, dec_inf[2] = {0, 0};  // float32 bits, by code sign

  // The fast path (FastRoundLanes in convert-inl.h): rounding done on the
  // float32 bit pattern itself, for the common formats and options, with
  // statistics too where fast_stats (below). `fast` says whether it applies; the rest are
  // its constants. Rounding |x| to a multiple of the quantum drops
  // d = max(fast_dmin, fast_k - max(f32 exponent field, 1)) low bits of the
  // pattern (every name below is a float32 bit pattern unless it says code).
  bool fast = false;
  int32_t fast_dmin = 0, fast_k = 0;
  uint32_t fast_limit[2] = {0, 0};  // largest finite result magnitude, by sign
  uint32_t fast_min_pos = 0;        // smallest nonzero magnitude: 2^(emin - m), or 1 for integers
  uint32_t fast_half_min = 0;       // half of that (2^-149 where that would be 2^-150)
  uint32_t fast_min_normal = 0;     // floats: 2^emin
  uint32_t fast_ef_floor = 0;       // patterns below this one have d >= 23: max(2^-126, 2^(emin - m))
  uint32_t fast_any_limit = 0;      // min of fast_limit: beyond it a lane may overflow
  bool fast_zero_sign = true;       // a zero result keeps the input's sign (floats with -0)
  uint32_t fast_code_sub = 0;       // floats: (127 - bias) << m
  // Fake quantization of the specials (the core's decode of the codes above).
  uint32_t fq_overflow[2] = {0, 0}, fq_inf[2] = {0, 0}, fq_nan_quiet[2] = {0, 0}, fq_nan_signaling[2] = {0, 0};
  // d is the same for every input (fast_k - 1 <= fast_dmin: bf16, tf32):
  // no lane is "deep", the rounding is the textbook bias-and-clear.
  bool fast_fixed_d = false;
  // Stochastic fake quantization's shortcut (FastSrShallow) takes the
  // format's subnormal binades too: where 2^emin >= 2^-10, i.e. where data
  // of unit scale often reaches below it (FP8 E4M3, FP6, FP4, binary8p4 and
  // up); elsewhere (f16, e5m2) the normal binades alone, one shift cheaper.
  bool fast_sr_subnormal = false;
  // ... and every lane below the largest finite, the "deep" ones below the
  // smallest nonzero 2^q included, where 2^q >= 2^-6: data of unit scale
  // has lanes below it in most vectors (FP4, FP6, integers; e4m3fn's 2^-9
  // in one 16-lane vector in forty, where kSubnormal's branch is cheaper).
  // Not with DAZ (float32 subnormals are deep lanes there).
  bool fast_sr_deep = false;
  float fast_deep_scale = 0;  // 2^(32 - q), q = log2(fast_min_pos): DeepFraction

  // Statistics from the fast path (FastCounts in convert-inl.h): it counts
  // inexact (rounded magnitude != input magnitude) and, for floats,
  // underflow (inexact and tiny) itself, and hands every vector that holds
  // an overflow or a special input to the general kernel's flags. Tiny is
  // |x| < fast_tiny_limit[sign]: 2^emin before rounding; after rounding
  // (rounded with an unbounded exponent, still below 2^emin) the lanes
  // whose rounding to the grid one binade wider carries into 2^emin are
  // not tiny: from the midpoint 2^emin - 2^(emin-2-m) on for rne and rna
  // (the grid's top value 2^emin - 2^(emin-1-m) has an odd significand, so
  // the tie goes up), above that top value for rup (positive) and rdn
  // (negative), never for rtz and rto. Stochastic modes decide that carry
  // with the random word, lane by lane (fast_edge): the grid one binade
  // wider has spacing 2^fast_edge_d in patterns (2^(emin-1-m): the distance
  // from its top value fast_edge_lo to 2^emin), and a lane is tiny exactly
  // where its pattern plus the mode's bias for that spacing stays below
  // 2^emin's (below fast_edge_lo it always does; at or above 2^emin it never
  // does; in between that is the wider rounding not carrying into 2^emin).
  // Needs the core to raise nothing for a zero input (the fast path's zero
  // and DAZ'd lanes count as exact).
  bool fast_stats = false;
  uint32_t fast_tiny_limit[2] = {0, 0};  // float32 bits, by sign
  bool fast_edge = false;                // stochastic, tininess after rounding, edge zone not empty
  uint32_t fast_edge_lo = 0;             // float32 bits of 2^emin - 2^(emin-1-m)
  int32_t fast_edge_d = 0;               // log2(fast_min_normal - fast_edge_lo), 1..22

  // f16 through the CPU's F16C conversion (VCVTPS2PH with the rounding in
  // its immediate, VCVTPH2PS back): the format is IEEE binary16 and the
  // options are ones where that instruction gives the core's bits (rne,
  // rdn, rup, rtz; IEEE overflow; no DAZ/FTZ options; NaN payload kept,
  // which is what F16C does: sign, quiet bit, top 9 payload bits).
  // exhaustive_simd proves it on all 2^32 inputs. -1: not used; else the
  // VCVTPS2PH rounding immediate (0 rne, 1 rdn, 2 rup, 3 rtz).
  int f16c_round = -1;
};

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

inline EncodePlan MakeEncodePlan(const Format& f, const Options& opt) {
  EncodePlan p;
  p.is_int = !IsFloat(f);
  p.m = f.mantissa_bits;
  p.bias = f.bias;
  p.emin = MinNormalExponent(f);
  p.has_sub = f.has_subnormals && f.has_zero;
  p.has_zero = f.has_zero;
  p.is_signed = f.is_signed;
  p.neg_zero = HasNegativeZero(f);
  p.max_mag = static_cast<uint32_t>(MaxFiniteMagnitude(f));
  p.int_max_neg = f.is_signed ? p.max_mag + 1 : 0;
  p.code_mask = static_cast<uint32_t>(CodeMask(f));
  p.sign_bit = static_cast<uint32_t>(SignBit(f));
  p.storage_shift = f.storage_shift;
  p.int_wrap = EffectiveOverflow(f, opt.overflow) == Overflow::kWrap;
  p.mode = opt.rounding;
  p.sr_bits = opt.sr_bits < 1 ? 1 : (opt.sr_bits > 32 ? 32 : opt.sr_bits);
  p.key0 = static_cast<uint32_t>(opt.seed);
  p.key1 = static_cast<uint32_t>(opt.seed >> 32);
  for (int r = 0; r < 10; ++r) {
    p.round_key[r][0] = p.key0 + static_cast<uint32_t>(r) * 0x9E3779B9u;
    p.round_key[r][1] = p.key1 + static_cast<uint32_t>(r) * 0xBB67AE85u;
  }
  p.flush_in = opt.flush_input;
  p.flush_out = opt.flush_output;
  p.tiny_after = opt.tininess == Tininess::kAfterRounding;
  p.p1_even_code = opt.tie_rule_p1 == TieRuleP1::kEvenCode;

  // Specials. Overflow results depend only on sign, mode and policy: ask
  // with the largest float32 (every supported format overflows on it or
  // represents it; in the latter case the kernel never takes this path).
  // Stochastic modes overflow like rounding away: use rna for the query.
  Options det = opt;
  if (IsStochastic(det.rounding)) det.rounding = Rounding::kNearestAway;
  p.zero = CoreOnBothSigns(f, opt, 0x00000000u);
  p.inf = CoreOnBothSigns(f, opt, 0x7f800000u);
  p.overflow = CoreOnBothSigns(f, det, 0x7f7fffffu);
  p.nan_quiet = CoreOnBothSigns(f, opt, 0x7fc00000u);
  p.nan_signaling = CoreOnBothSigns(f, opt, 0x7fa00000u);
  p.negative = CoreOnBothSigns(f, opt, 0x3f800000u);  // [1] = -1.0: unsigned floats give NaN
  p.nan_from_payload = f.nan == NanCodes::kIeee && opt.nan_payload == NanPayload::kPreserve;
  if (p.nan_from_payload)
    p.nan_base = (MaxExponentField(f) << f.mantissa_bits) | (1u << (f.mantissa_bits - 1));
  p.decode_nan_payload = f.nan == NanCodes::kIeee && opt.nan_payload == NanPayload::kPreserve;
  p.decode_flush = opt.flush_input;
  p.nan_kind = f.nan;
  p.inf_kind = f.inf;
  p.max_field = MaxExponentField(f);
  p.mag_mask = static_cast<uint32_t>(MagnitudeMask(f));
  if (HasInf(f)) p.inf_mag = static_cast<uint32_t>(PositiveInfCode(f) & MagnitudeMask(f));
  constexpr Format kF32 = formats::kF32;
  for (int s = 0; s < 2; ++s) {
    const uint64_t sign = s ? SignBit(f) : 0;
    if (HasNan(f)) p.dec_nan[s] = static_cast<uint32_t>(Convert(f, CanonicalNanCode(f) | sign, kF32, opt).code);
    if (HasInf(f)) p.dec_inf[s] = static_cast<uint32_t>(Convert(f, PositiveInfCode(f) | sign, kF32, opt).code);
  }

  // The fast path. Floats: signed, with zero and subnormals, at least one
  // mantissa bit (with none, rne's parity is the exponent field's, not the
  // pattern's). Integers: anything but wrapping. Not for flush-to-zero
  // output (that needs tininess).
  p.fast = !opt.flush_output && (p.is_int ? !p.int_wrap : (p.is_signed && p.has_zero && p.has_sub && p.m >= 1));
  Options exact = opt;  // what FakeQuantF32Array decodes with
  exact.flush_input = false;
  exact.flush_output = false;
  auto f32_of = [&](uint64_t code) { return static_cast<uint32_t>(Convert(f, code, kF32, exact).code); };
  if (p.is_int) {
    // kept = |x| rounded to an integer; d = 150 - exponent field (>= 1).
    p.fast_dmin = 1;
    p.fast_k = 150;
    p.fast_limit[0] = BitsOf(static_cast<float>(p.max_mag));
    p.fast_limit[1] = BitsOf(static_cast<float>(p.int_max_neg));
    p.fast_min_pos = 0x3f800000u;  // 1.0
  } else if (p.fast) {
    // Quantum 2^(E - m) for normal binades, 2^(emin - m) below: d = 23 - m,
    // or (150 + emin - m) - exponent field where that is larger.
    p.fast_dmin = 23 - p.m;
    p.fast_k = 150 + p.emin - p.m;
    p.fast_limit[0] = p.fast_limit[1] = f32_of(p.max_mag);
    p.fast_min_pos = f32_of(1);
    p.fast_min_normal = f32_of(uint64_t{1} << p.m);
    p.fast_code_sub = static_cast<uint32_t>(127 - p.bias) << p.m;
  }
  if (p.fast) {
    const int32_t field = p.fast_k - 23;  // exponent field of 2^(emin - m) (<= 0: a float32 subnormal)
    p.fast_ef_floor = field > 1 ? static_cast<uint32_t>(field) << 23 : 0x800000u;
    p.fast_any_limit = p.fast_limit[0] < p.fast_limit[1] ? p.fast_limit[0] : p.fast_limit[1];
    p.fast_zero_sign = !p.is_int && p.neg_zero;
    const float half = F32FromBits(p.fast_min_pos) * 0.5f;  // exact, or 2^-150 -> 0
    p.fast_half_min = half == 0.0f ? 1u : BitsOf(half);
  }
  if (p.fast) {
    p.fast_fixed_d = !p.is_int && p.fast_k - 1 <= p.fast_dmin && p.fast_zero_sign;
    p.fast_sr_subnormal = !p.is_int && p.emin >= -10 && p.fast_ef_floor > 0x800000u;
    p.fast_sr_deep = !p.flush_in && !p.fast_fixed_d && p.fast_min_pos >= 0x3c800000u &&  // 2^-6
                     p.fast_any_limit > p.fast_min_pos;  // not unsigned integers (limit 0 for x < 0)
    p.fast_deep_scale = std::ldexp(1.0f, 32 - std::ilogb(F32FromBits(p.fast_min_pos)));
    p.fast_stats = p.zero.flags[0] == 0 && p.zero.flags[1] == 0;
    p.fast_tiny_limit[0] = p.fast_tiny_limit[1] = p.fast_min_normal;
    if (!p.is_int && p.tiny_after) {
      // Exact: m + 1 significant bits, a multiple of 2^(emin - m - 1) >= 2^-149 (SimdSupports).
      const double top = std::ldexp(1.0, p.emin) - std::ldexp(1.0, p.emin - 1 - p.m);
      p.fast_edge_lo = BitsOf(static_cast<float>(top));
      // The midpoint, or the first float32 above it where it is none (2^-150).
      const double mid = std::ldexp(std::ceil(std::ldexp(std::ldexp(1.0, p.emin) - std::ldexp(1.0, p.emin - 2 - p.m), 149)), -149);
      const uint32_t from_mid = BitsOf(static_cast<float>(mid)), above_top = p.fast_edge_lo + 1;
      switch (opt.rounding) {
        case Rounding::kNearestEven:
        case Rounding::kNearestAway: p.fast_tiny_limit[0] = p.fast_tiny_limit[1] = from_mid; break;
        case Rounding::kUp: p.fast_tiny_limit[0] = above_top; break;
        case Rounding::kDown: p.fast_tiny_limit[1] = above_top; break;
        case Rounding::kTowardZero:
        case Rounding::kOdd: break;
        case Rounding::kStochastic:
        case Rounding::kStochasticEq: {
          // The edge zone's spacing in patterns: a power of two (both ends
          // are multiples of 2^(emin-1-m) in one binade or across the
          // float32 subnormal boundary, where patterns stay linear). With a
          // spacing of one pattern the zone holds no float32: nothing to do.
          const uint32_t spacing = p.fast_min_normal - p.fast_edge_lo;
          p.fast_edge_d = std::countr_zero(spacing);
          p.fast_edge = spacing > 1;
          if (!std::has_single_bit(spacing)) p.fast_stats = false;  // not expected: the general kernel counts
          break;
        }
      }
    }
  }
  const bool binary16 = !p.is_int && f.exponent_bits == 5 && p.m == 10 && p.bias == 15 && f.bits == 16 &&
                        f.storage_bits == 16 && f.storage_shift == 0 && f.inf == InfCodes::kIeee &&
                        f.nan == NanCodes::kIeee && p.is_signed && p.has_sub && p.neg_zero;
  if (binary16 && EffectiveOverflow(f, opt.overflow) == Overflow::kIeee && !opt.flush_input && !opt.flush_output &&
      opt.nan_payload == NanPayload::kPreserve) {
    switch (opt.rounding) {
      case Rounding::kNearestEven: p.f16c_round = 0; break;
      case Rounding::kDown: p.f16c_round = 1; break;
      case Rounding::kUp: p.f16c_round = 2; break;
      case Rounding::kTowardZero: p.f16c_round = 3; break;
      default: break;
    }
  }
  for (int s = 0; s < 2; ++s) {
    p.fq_overflow[s] = f32_of(p.overflow.code[s]);
    p.fq_inf[s] = f32_of(p.inf.code[s]);
    p.fq_nan_quiet[s] = f32_of(p.nan_quiet.code[s]);
    p.fq_nan_signaling[s] = f32_of(p.nan_signaling.code[s]);
  }
  return p;
}

}  // namespace floatscope::simd
