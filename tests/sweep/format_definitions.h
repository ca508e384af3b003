// The named formats of at most 16 bits, written down a second time from the
// documents that define them, and decoded by the textbook formula.
//
// This file deliberately does not include formats/: the sweeps compare the
// rounding core against a reference built from these definitions, so a wrong
// field in formats/catalog.h (a bias, a NaN rule) shows up as a mismatch
// instead of being copied into the reference. The core's descriptors are
// only looked up by name, to call the core.
#pragma once

#include <cmath>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace floatscope::sweep {

// Which codes are not ordinary numbers, family by family.
enum class Specials : uint8_t {
  kIeee,     // IEEE 754: exponent field all ones is +-inf (fraction 0) or NaN
             // (fraction != 0); +0 and -0
  kOcpE4m3,  // OCP FP8 E4M3: S.1111.111 is NaN (both signs); no infinity; +-0
  kFnuz,     // "fnuz": 0x80, where -0 would be, is the only NaN; no infinity,
             // no -0 (Graphcore/AMD, arXiv:2206.02915)
  kP3109,    // IEEE P3109 signed extended (binary8pP = binary8pPse,
             // binaryKpPse): 100..0 the only NaN, 011..1 +inf, 111..1 -inf,
             // no -0
  kP3109SignedFinite,    // binaryKpPsf: 100..0 the only NaN, no infinity
  kP3109UnsignedExtended,  // binaryKpPue: 11..1 the only NaN, 11..10 +inf
  kP3109UnsignedFinite,    // binaryKpPuf: 11..1 the only NaN, no infinity
  kNone,     // OCP MX FP6/FP4 elements: every code is a finite number; +-0
  kE8m0,     // OCP MX E8M0 scale: unsigned, code c is 2^(c-127), 0xFF NaN, no
             // zero
  kTwosComplement,  // signed integers
  kUnsigned,        // unsigned integers
};

struct FormatDefinition {
  const char* name;
  int bits;
  Specials specials;
  int exponent_bits;  // floats only
  int mantissa_bits;  // stored fraction bits; floats only
  int bias;           // floats only
  bool saturates_by_default;  // OCP MX elements (spec 5.3) and integers
  const char* document;
};

// Field order: name, bits, specials, exponent bits, mantissa bits, bias,
// saturates by default, document.
inline constexpr FormatDefinition kDefinitions[] = {
    {"f16", 16, Specials::kIeee, 5, 10, 15, false, "IEEE 754-2019 binary16"},
    {"bf16", 16, Specials::kIeee, 8, 7, 127, false, "bfloat16: binary32 with 7 fraction bits"},
    {"e5m2", 8, Specials::kIeee, 5, 2, 15, false, "OCP FP8 v1.0 E5M2"},
    {"e4m3fn", 8, Specials::kOcpE4m3, 4, 3, 7, false, "OCP FP8 v1.0 E4M3"},
    {"e4m3", 8, Specials::kIeee, 4, 3, 7, false, "ml_dtypes float8_e4m3 (IEEE rules)"},
    {"e4m3fnuz", 8, Specials::kFnuz, 4, 3, 8, false, "ml_dtypes float8_e4m3fnuz"},
    {"e5m2fnuz", 8, Specials::kFnuz, 5, 2, 16, false, "ml_dtypes float8_e5m2fnuz"},
    {"e4m3b11fnuz", 8, Specials::kFnuz, 4, 3, 11, false, "ml_dtypes float8_e4m3b11fnuz"},
    {"e3m4", 8, Specials::kIeee, 3, 4, 3, false, "ml_dtypes float8_e3m4 (IEEE rules)"},
    // P3109: precision P, 8-P exponent bits, 1.0 = 0x40 for every P (the WG
    // value tables Binary8pPse), so bias 64 >> (P-1) = 2^(7-P); P = 1 too
    // (0x01 = 2^-63, 0x7E = 2^62; bias 63 was the 2023 report's first table).
    {"binary8p1", 8, Specials::kP3109, 7, 0, 64, false, "IEEE P3109 WG value tables, Binary8p1se"},
    {"binary8p2", 8, Specials::kP3109, 6, 1, 32, false, "IEEE P3109 interim, binary8p2"},
    {"binary8p3", 8, Specials::kP3109, 5, 2, 16, false, "IEEE P3109 interim, binary8p3"},
    {"binary8p4", 8, Specials::kP3109, 4, 3, 8, false, "IEEE P3109 interim, binary8p4"},
    {"binary8p5", 8, Specials::kP3109, 3, 4, 4, false, "IEEE P3109 interim, binary8p5"},
    {"binary8p6", 8, Specials::kP3109, 2, 5, 2, false, "IEEE P3109 interim, binary8p6"},
    {"binary8p7", 8, Specials::kP3109, 1, 6, 1, false, "IEEE P3109 interim, binary8p7"},
    {"e2m3fn", 6, Specials::kNone, 2, 3, 1, true, "OCP MX v1.0 FP6 E2M3"},
    {"e3m2fn", 6, Specials::kNone, 3, 2, 3, true, "OCP MX v1.0 FP6 E3M2"},
    {"e2m1fn", 4, Specials::kNone, 2, 1, 1, true, "OCP MX v1.0 FP4 E2M1"},
    {"e8m0fnu", 8, Specials::kE8m0, 8, 0, 127, false, "OCP MX v1.0 E8M0 scale"},
    {"int8", 8, Specials::kTwosComplement, 0, 0, 0, true, "two's complement"},
    {"uint8", 8, Specials::kUnsigned, 0, 0, 0, true, "unsigned binary"},
    {"int4", 4, Specials::kTwosComplement, 0, 0, 0, true, "two's complement"},
    {"uint4", 4, Specials::kUnsigned, 0, 0, 0, true, "unsigned binary"},
};

// ---- the IEEE P3109 family binaryKpP{s,u}{e,f} -------------------------------
// Written from the WG's value tables (Value Tables/HexStrings/K*/P*/), not
// from formats/p3109.h: a K-bit code with precision P has P-1 trailing
// significand bits, one sign bit if signed, and the rest exponent; the
// tables put 1.0 at the middle code of the positive half, 0x40 signed and
// 0x80 unsigned for K = 8 (2^(K-2) / 2^(K-1) in general) for every P, and
// the bias is what that makes it: (code of 1.0) >> (P-1). The tables exist
// for K = 3..16, signed P = 1..K-1, unsigned P = 1..K; floatscope holds the
// members whose values are float64s (at most 11 exponent bits).
struct P3109Family {
  std::deque<std::string> names;  // stable addresses for FormatDefinition::name
  std::vector<FormatDefinition> defs;
};

inline const P3109Family& P3109Definitions() {
  static const P3109Family family = [] {
    P3109Family f;
    for (int k = 3; k <= 16; ++k)
      for (bool is_signed : {true, false})
        for (int p = 1; p <= (is_signed ? k - 1 : k); ++p)
          for (bool extended : {true, false}) {
            const int exponent_bits = k - (p - 1) - (is_signed ? 1 : 0);
            if (exponent_bits > 11) continue;
            const int one_code = 1 << (k - (is_signed ? 2 : 1));
            const Specials sp = is_signed ? (extended ? Specials::kP3109 : Specials::kP3109SignedFinite)
                                          : (extended ? Specials::kP3109UnsignedExtended
                                                      : Specials::kP3109UnsignedFinite);
            f.names.push_back("binary" + std::to_string(k) + "p" + std::to_string(p) +
                              (is_signed ? "s" : "u") + (extended ? "e" : "f"));
            // Finite members saturate: P3109's three overflow modes agree there.
            f.defs.push_back({f.names.back().c_str(), k, sp, exponent_bits, p - 1, one_code >> (p - 1),
                              !extended, "IEEE P3109 WG value tables"});
          }
    return f;
  }();
  return family;
}

inline const FormatDefinition* FindDefinition(std::string_view name) {
  for (const FormatDefinition& d : kDefinitions)
    if (name == d.name) return &d;
  for (const FormatDefinition& d : P3109Definitions().defs)
    if (name == d.name) return &d;
  return nullptr;
}

inline bool IsIntegerDefinition(const FormatDefinition& d) {
  return d.specials == Specials::kTwosComplement || d.specials == Specials::kUnsigned;
}

inline bool IsUnsignedP3109(const FormatDefinition& d) {
  return d.specials == Specials::kP3109UnsignedExtended || d.specials == Specials::kP3109UnsignedFinite;
}

// Sign-magnitude float formats: the top bit is a sign.
inline bool HasSignBit(const FormatDefinition& d) {
  return !IsIntegerDefinition(d) && d.specials != Specials::kE8m0 && !IsUnsignedP3109(d);
}

// The textbook value of a magnitude (code without its sign) of a float
// format: 0.m * 2^(1-bias) in the zero exponent field, 1.m * 2^(e-bias)
// elsewhere. The exponent field is read without an upper limit, so
// magnitude 2^(bits-1) (one past the all-ones magnitude) gives the value the
// grid would continue with; the sweeps use that for overflow.
inline double FormulaValue(const FormatDefinition& d, uint32_t magnitude) {
  const int m = d.mantissa_bits;
  const uint32_t field = magnitude >> m;
  const uint32_t fraction = magnitude & ((uint32_t{1} << m) - 1);
  if (d.specials == Specials::kE8m0) return std::ldexp(1.0, static_cast<int>(magnitude) - d.bias);
  if (field == 0) return std::ldexp(static_cast<double>(fraction), 1 - d.bias - m);
  return std::ldexp(static_cast<double>((uint32_t{1} << m) + fraction),
                    static_cast<int>(field) - d.bias - m);
}

enum class CodeClass : uint8_t { kFinite, kInf, kNan };

struct DecodedCode {
  CodeClass cls;
  double value;   // finite: the exact value (with the sign, -0.0 for -0); inf: +-inf
  bool negative;  // the code's sign bit (for NaN, the sign it carries)
};

// What `code` means by the definition.
inline DecodedCode DecodeByDefinition(const FormatDefinition& d, uint32_t code) {
  const uint32_t all = (uint32_t{1} << d.bits) - 1;
  code &= all;
  switch (d.specials) {
    case Specials::kTwosComplement: {
      const bool neg = (code >> (d.bits - 1)) != 0;
      const double v = neg ? static_cast<double>(code) - std::ldexp(1.0, d.bits) : code;
      return {CodeClass::kFinite, v, neg};
    }
    case Specials::kUnsigned: return {CodeClass::kFinite, static_cast<double>(code), false};
    case Specials::kE8m0:
      if (code == 0xFF) return {CodeClass::kNan, NAN, false};
      return {CodeClass::kFinite, FormulaValue(d, code), false};
    case Specials::kP3109UnsignedExtended:
    case Specials::kP3109UnsignedFinite:
      if (code == all) return {CodeClass::kNan, NAN, false};
      if (code == all - 1 && d.specials == Specials::kP3109UnsignedExtended)
        return {CodeClass::kInf, INFINITY, false};
      return {CodeClass::kFinite, FormulaValue(d, code), false};
    default: break;
  }
  const uint32_t sign_bit = uint32_t{1} << (d.bits - 1);
  const bool neg = (code & sign_bit) != 0;
  const uint32_t mag = code & ~sign_bit;
  const uint32_t field_ones = (uint32_t{1} << d.exponent_bits) - 1;
  const uint32_t field = mag >> d.mantissa_bits;
  const uint32_t fraction = mag & ((uint32_t{1} << d.mantissa_bits) - 1);
  const uint32_t mag_ones = sign_bit - 1;
  switch (d.specials) {
    case Specials::kIeee:
      if (field == field_ones && fraction == 0) return {CodeClass::kInf, neg ? -INFINITY : INFINITY, neg};
      if (field == field_ones) return {CodeClass::kNan, NAN, neg};
      break;
    case Specials::kOcpE4m3:
      if (mag == mag_ones) return {CodeClass::kNan, NAN, neg};
      break;
    case Specials::kFnuz:
      if (code == sign_bit) return {CodeClass::kNan, NAN, true};
      break;
    case Specials::kP3109:
      if (code == sign_bit) return {CodeClass::kNan, NAN, true};
      if (mag == mag_ones) return {CodeClass::kInf, neg ? -INFINITY : INFINITY, neg};
      break;
    case Specials::kP3109SignedFinite:
      if (code == sign_bit) return {CodeClass::kNan, NAN, true};
      break;
    default: break;
  }
  const double v = FormulaValue(d, mag);
  return {CodeClass::kFinite, neg ? -v : v, neg};
}

}  // namespace floatscope::sweep
