// The named formats of DESIGN.md. Each entry cites its definition; the
// static_asserts at the bottom pin the limits to the published tables, so a
// wrong field cannot compile.
#pragma once

#include <cstddef>
#include <string_view>

#include "formats/format.h"
#include "formats/p3109.h"

namespace floatscope {
namespace formats {

using O = Overflow;

// Field order: name, kind, bits, storage_bits, signed, exponent_bits,
// mantissa_bits, bias, inf, nan, subnormals, has_zero, default_overflow, source.

// ---- IEEE 754-2019 binary formats and their truncated cousins --------------
inline constexpr Format kF64{"f64", Kind::kFloat, 64, 64, true, 11, 52, 1023, InfCodes::kIeee,
                             NanCodes::kIeee, true, true, O::kIeee, "IEEE 754-2019 binary64"};
inline constexpr Format kF32{"f32", Kind::kFloat, 32, 32, true, 8, 23, 127, InfCodes::kIeee,
                             NanCodes::kIeee, true, true, O::kIeee, "IEEE 754-2019 binary32"};
// TensorFloat-32: float32's range with 10 fraction bits. It lives in a 32-bit
// register with the low 13 bits zero, so its hex text is the float32 pattern.
inline constexpr Format kTf32{"tf32", Kind::kFloat, 19, 32, true, 8, 10, 127, InfCodes::kIeee,
                              NanCodes::kIeee, true, true, O::kIeee,
                              "NVIDIA A100 whitepaper (2020), TensorFloat-32", 13};
inline constexpr Format kF16{"f16", Kind::kFloat, 16, 16, true, 5, 10, 15, InfCodes::kIeee,
                             NanCodes::kIeee, true, true, O::kIeee, "IEEE 754-2019 binary16"};
inline constexpr Format kBf16{"bf16", Kind::kFloat, 16, 16, true, 8, 7, 127, InfCodes::kIeee,
                              NanCodes::kIeee, true, true, O::kIeee,
                              "Google brain float16 (float32 with 7 fraction bits)"};

// ---- OCP 8-bit floating point v1.0 (2023) ----------------------------------
// E5M2: IEEE-style, max 0b0'11110'11 = 1.75 * 2^15 = 57344.
inline constexpr Format kE5m2{"e5m2", Kind::kFloat, 8, 8, true, 5, 2, 15, InfCodes::kIeee,
                              NanCodes::kIeee, true, true, O::kIeee,
                              "OCP 8-bit Floating Point Specification v1.0, E5M2"};
// E4M3 (ml_dtypes float8_e4m3fn): no infinities, NaN only S.1111.111,
// max 0b0'1111'110 = 1.75 * 2^8 = 448.
inline constexpr Format kE4m3fn{"e4m3fn", Kind::kFloat, 8, 8, true, 4, 3, 7, InfCodes::kNone,
                                NanCodes::kAllOnes, true, true, O::kIeee,
                                "OCP 8-bit Floating Point Specification v1.0, E4M3"};
// IEEE-like E4M3 with infinities (ml_dtypes float8_e4m3):
// max 0b0'1110'111 = 1.875 * 2^7 = 240.
inline constexpr Format kE4m3{"e4m3", Kind::kFloat, 8, 8, true, 4, 3, 7, InfCodes::kIeee,
                              NanCodes::kIeee, true, true, O::kIeee,
                              "ml_dtypes float8_e4m3 (IEEE 754 conventions, 4/3 bits)"};
// "fnuz": finite, no negative zero; the single NaN sits at 0x80
// (Graphcore/AMD, arXiv:2206.02915). Bias one larger than the OCP type.
inline constexpr Format kE4m3fnuz{"e4m3fnuz", Kind::kFloat, 8, 8, true, 4, 3, 8, InfCodes::kNone,
                                  NanCodes::kNegativeZero, true, true, O::kIeee,
                                  "ml_dtypes float8_e4m3fnuz; Noune et al. arXiv:2206.02915"};
inline constexpr Format kE5m2fnuz{"e5m2fnuz", Kind::kFloat, 8, 8, true, 5, 2, 16, InfCodes::kNone,
                                  NanCodes::kNegativeZero, true, true, O::kIeee,
                                  "ml_dtypes float8_e5m2fnuz; Noune et al. arXiv:2206.02915"};
// Bias 11: max 0b0'1111'111 = 1.875 * 2^4 = 30 (Wang et al., NeurIPS 2018 "hybrid FP8").
inline constexpr Format kE4m3b11fnuz{"e4m3b11fnuz", Kind::kFloat, 8, 8, true, 4, 3, 11,
                                     InfCodes::kNone, NanCodes::kNegativeZero, true, true, O::kIeee,
                                     "ml_dtypes float8_e4m3b11fnuz (TPU; bias 11, fnuz)"};
// IEEE-like E3M4: max 0b0'110'1111 = 1.9375 * 2^3 = 15.5.
inline constexpr Format kE3m4{"e3m4", Kind::kFloat, 8, 8, true, 3, 4, 3, InfCodes::kIeee,
                              NanCodes::kIeee, true, true, O::kIeee,
                              "ml_dtypes float8_e3m4 (IEEE 754 conventions, 3/4 bits)"};

// ---- IEEE P3109: binary8pP = binary8pPse, P = precision = mantissa + 1 ----
// Exponent bits 8-P, bias 2^(7-P) for every P (the family's 2^(K-P-1),
// formats/p3109.h); 0x00 = 0, 0x80 = the only NaN, 0x7F/0xFF = +-infinity,
// no negative zero; subnormals (none exist for P = 1: no trailing bit).
// P = 1: 0x01 = 2^-63, 0x40 = 1, 0x7E = 2^62, as the WG's value tables
// (Binary8p1se) and gfloat 0.5 (interim report v3) give it; the first
// interim report (2023, gfloat 0.1-0.3) had bias 63 (0x3F = 1, max 2^63),
// which floatscope followed until issue 15 (spell that one
// e7m0:bias=63,inf=maxcode).
#define FS_P3109(P)                                                                      \
  Format {                                                                               \
    "binary8p" #P, Kind::kFloat, 8, 8, true, 8 - (P), (P)-1, 1 << (7 - (P)),             \
        InfCodes::kMaxCode, NanCodes::kNegativeZero, true, true, O::kIeee,               \
        "IEEE P3109 interim report v3 (2025), WG value table Binary8p" #P "se"           \
  }
inline constexpr Format kBinary8p1 = FS_P3109(1);
inline constexpr Format kBinary8p2 = FS_P3109(2);
inline constexpr Format kBinary8p3 = FS_P3109(3);
inline constexpr Format kBinary8p4 = FS_P3109(4);
inline constexpr Format kBinary8p5 = FS_P3109(5);
inline constexpr Format kBinary8p6 = FS_P3109(6);
inline constexpr Format kBinary8p7 = FS_P3109(7);
#undef FS_P3109

// ---- OCP Microscaling Formats (MX) v1.0 (2023) -----------------------------
// Element types: no infinities, no NaN; conversions saturate (spec 5.3).
// FP6 E2M3: max 0b0'11'111 = 1.875 * 2^2 = 7.5.
inline constexpr Format kE2m3fn{"e2m3fn", Kind::kFloat, 6, 8, true, 2, 3, 1, InfCodes::kNone,
                                NanCodes::kNone, true, true, O::kSaturate,
                                "OCP MX v1.0, FP6 E2M3"};
// FP6 E3M2: max 0b0'111'11 = 1.75 * 2^4 = 28.
inline constexpr Format kE3m2fn{"e3m2fn", Kind::kFloat, 6, 8, true, 3, 2, 3, InfCodes::kNone,
                                NanCodes::kNone, true, true, O::kSaturate,
                                "OCP MX v1.0, FP6 E3M2"};
// FP4 E2M1: values 0, 0.5, 1, 1.5, 2, 3, 4, 6.
inline constexpr Format kE2m1fn{"e2m1fn", Kind::kFloat, 4, 8, true, 2, 1, 1, InfCodes::kNone,
                                NanCodes::kNone, true, true, O::kSaturate,
                                "OCP MX v1.0, FP4 E2M1"};
// Scale E8M0: unsigned powers of two 2^-127 .. 2^127, 0xFF = NaN, no zero.
inline constexpr Format kE8m0fnu{"e8m0fnu", Kind::kFloat, 8, 8, false, 8, 0, 127,
                                 InfCodes::kNone, NanCodes::kAllOnes, false, false, O::kIeee,
                                 "OCP MX v1.0, E8M0 scale"};

// ---- integers (two's complement / plain binary) ----------------------------
inline constexpr Format kInt8{"int8", Kind::kInteger, 8, 8, true, 0, 0, 0, InfCodes::kNone,
                              NanCodes::kNone, false, true, O::kSaturate, "two's complement"};
inline constexpr Format kUint8{"uint8", Kind::kInteger, 8, 8, false, 0, 0, 0, InfCodes::kNone,
                               NanCodes::kNone, false, true, O::kSaturate, "unsigned binary"};
inline constexpr Format kInt4{"int4", Kind::kInteger, 4, 8, true, 0, 0, 0, InfCodes::kNone,
                              NanCodes::kNone, false, true, O::kSaturate, "two's complement"};
inline constexpr Format kUint4{"uint4", Kind::kInteger, 4, 8, false, 0, 0, 0, InfCodes::kNone,
                               NanCodes::kNone, false, true, O::kSaturate, "unsigned binary"};

inline constexpr Format kAll[] = {
    kF64,       kF32,       kTf32,      kF16,       kBf16,        kE5m2,      kE4m3fn,
    kE4m3,      kE4m3fnuz,  kE5m2fnuz,  kE4m3b11fnuz, kE3m4,      kBinary8p1, kBinary8p2,
    kBinary8p3, kBinary8p4, kBinary8p5, kBinary8p6, kBinary8p7,   kE2m3fn,    kE3m2fn,
    kE2m1fn,    kE8m0fnu,   kInt8,      kUint8,     kInt4,        kUint4,
};

// ---- the published numbers, checked at compile time ------------------------
static_assert(MaxFinite(kF16) == 65504.0);
static_assert(MinNormal(kF16) == 0x1p-14 && MinPositive(kF16) == 0x1p-24);
static_assert(MaxFinite(kBf16) == 0x1.FEp127);
static_assert(MaxFinite(kF32) == 0x1.FFFFFEp127 && MinPositive(kF32) == 0x1p-149);
static_assert(MaxFinite(kF64) == 0x1.FFFFFFFFFFFFFp1023 && MinPositive(kF64) == 0x1p-1074);
static_assert(MaxFinite(kTf32) == 0x1.FFCp127 && MinPositive(kTf32) == 0x1p-136);
static_assert(MaxFinite(kE5m2) == 57344.0 && MinNormal(kE5m2) == 0x1p-14 &&
              MinPositive(kE5m2) == 0x1p-16);
static_assert(MaxFinite(kE4m3fn) == 448.0 && MinNormal(kE4m3fn) == 0x1p-6 &&
              MinPositive(kE4m3fn) == 0x1p-9);
static_assert(MaxFinite(kE4m3) == 240.0 && MinPositive(kE4m3) == 0x1p-9);
static_assert(MaxFinite(kE4m3fnuz) == 240.0 && MinPositive(kE4m3fnuz) == 0x1p-10);
static_assert(MaxFinite(kE5m2fnuz) == 57344.0 && MinPositive(kE5m2fnuz) == 0x1p-17);
static_assert(MaxFinite(kE4m3b11fnuz) == 30.0 && MinPositive(kE4m3b11fnuz) == 0x1p-13);
static_assert(MaxFinite(kE3m4) == 15.5 && MinNormal(kE3m4) == 0.25 && MinPositive(kE3m4) == 0x1p-6);
static_assert(MaxFinite(kBinary8p1) == 0x1p62 && MinPositive(kBinary8p1) == 0x1p-63);
static_assert(MagnitudeValue(kBinary8p1, 0x40) == 1.0 && MagnitudeValue(kBinary8p1, 0x01) == 0x1p-63);
static_assert(MaxFinite(kBinary8p2) == 0x1p31 && MinPositive(kBinary8p2) == 0x1p-32);
static_assert(MaxFinite(kBinary8p5) == 15.0 && MaxFinite(kBinary8p6) == 3.875);
static_assert(MaxFinite(kBinary8p3) == 49152.0 && MinPositive(kBinary8p3) == 0x1p-17);
static_assert(MaxFinite(kBinary8p4) == 224.0 && MinPositive(kBinary8p4) == 0x1p-10);
static_assert(MaxFinite(kBinary8p7) == 1.96875 && MinPositive(kBinary8p7) == 0x1p-6);
static_assert(MaxFinite(kE2m3fn) == 7.5 && MinNormal(kE2m3fn) == 1.0 && MinPositive(kE2m3fn) == 0.125);
static_assert(MaxFinite(kE3m2fn) == 28.0 && MinNormal(kE3m2fn) == 0.25 &&
              MinPositive(kE3m2fn) == 0.0625);
static_assert(MaxFinite(kE2m1fn) == 6.0 && MinPositive(kE2m1fn) == 0.5);
static_assert(MaxFinite(kE8m0fnu) == 0x1p127 && MinPositive(kE8m0fnu) == 0x1p-127);
static_assert(MaxFinite(kInt8) == 127.0 && MaxFinite(kUint4) == 15.0);
static_assert(IsNanCode(kE4m3fn, 0x7F) && IsNanCode(kE4m3fn, 0xFF) && !IsNanCode(kE4m3fn, 0x7E));
static_assert(IsNanCode(kE4m3fnuz, 0x80) && !HasNegativeZero(kE4m3fnuz));
static_assert(IsInfCode(kBinary8p4, 0x7F) && IsInfCode(kBinary8p4, 0xFF) &&
              IsNanCode(kBinary8p4, 0x80));
static_assert(IsNanCode(kE8m0fnu, 0xFF) && !IsNanCode(kE8m0fnu, 0x7F));
static_assert(CanonicalNanCode(kF16) == 0x7E00 && CanonicalNanCode(kBf16) == 0x7FC0);

}  // namespace formats

// Looks a named format up: the catalog above, then the P3109 family
// (formats/p3109.h); nullptr when there is none. Custom formats come from
// ResolveFormat (formats/spec_parser.h), which also accepts names.
constexpr const Format* FindNamedFormat(std::string_view name) {
  for (const Format& f : formats::kAll)
    if (name == f.name) return &f;
  return p3109::Find(name);
}

// binary8pP is binary8pPse: the same fields, two names.
static_assert(FindNamedFormat("binary8p3se")->bias == formats::kBinary8p3.bias &&
              FindNamedFormat("binary8p1se")->bias == formats::kBinary8p1.bias);

}  // namespace floatscope
