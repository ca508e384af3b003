// The IEEE P3109 family of binary formats, binaryKpP{s,u}{e,f}, generated
// from the working group's definition rather than typed in one by one.
//
// A P3109 format is named by four parameters (IEEE P3109 interim report
// v3, 2025, "Formats", as gfloat 0.5 implements it; the WG's public value
// tables Value Tables/HexStrings/K*/P*/Binary*.csv, 2026):
//   K  the width in bits, 3 <= K <= 16 in the published tables;
//   P  the precision: P - 1 trailing significand bits;
//   s | u  signed (a sign bit; 1 <= P <= K - 1) or unsigned (no sign bit;
//          1 <= P <= K);
//   e | f  extended (with infinities) or finite (none).
// The exponent field has W = K - P bits (signed) or K - P + 1 (unsigned),
// and the bias is 2^(W-1): 2^(K-P-1) signed, 2^(K-P) unsigned, for every P,
// P = 1 included (there the exponent field is the whole magnitude, field 0
// is zero, and there are no subnormals, since a subnormal needs a trailing
// significand bit). Special codes:
//   signed:   the code 100..0 (where -0 would be) is the only NaN; no -0;
//             extended: 011..1 = +inf and 111..1 = -inf; finite: those two
//             are the largest finite magnitudes.
//   unsigned: the all-ones code 11..1 is the only NaN; extended: 11..10 =
//             +inf; finite: 11..10 is the largest finite value.
// Negative inputs into an unsigned format clamp to +0 (P3109's Saturate,
// see Format::is_signed).
//
// floatscope holds a format exactly only if every value is a float64, i.e.
// W <= 11 (formats/spec_parser.h ValidateFormat): the members with a wider
// exponent field (signed P < K - 11, unsigned P < K - 10: e.g. binary16p1se
// with W = 15, values down to 2^-16383) are named by the family but not
// supported; ResolveFormat says so.
//
// Overflow: P3109 passes a saturation mode to each operation. For the
// finite members its three modes (SatFinite, SatPropagate, OvfInf) coincide
// and equal floatscope's `saturate`, which is their default overflow
// policy; extended members default to `ieee` (P3109's OvfInf); see
// docs/FORMATS.md for the mapping and its one gap.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "formats/format.h"

namespace floatscope {
namespace p3109 {

inline constexpr int kMinBits = 3, kMaxBits = 16;

// Exponent field width W of binaryKpP{s,u}.
constexpr int ExponentBits(int k, int p, bool is_signed) { return k - p + (is_signed ? 0 : 1); }

// Whether P3109 defines binaryKpP{s,u}{e,f} (the published tables' range).
constexpr bool Defined(int k, int p, bool is_signed) {
  return k >= kMinBits && k <= kMaxBits && p >= 1 && p <= (is_signed ? k - 1 : k);
}

// Whether floatscope holds it: every value a float64 (W <= 11).
constexpr bool Supported(int k, int p, bool is_signed) {
  return Defined(k, p, is_signed) && ExponentBits(k, p, is_signed) <= 11;
}

// The descriptor; `name` and `source` must outlive it.
constexpr Format Make(int k, int p, bool is_signed, bool extended, const char* name, const char* source) {
  const int w = ExponentBits(k, p, is_signed);
  return Format{name,
                Kind::kFloat,
                static_cast<uint8_t>(k),
                static_cast<uint8_t>(k <= 8 ? 8 : 16),
                is_signed,
                static_cast<uint8_t>(w),
                static_cast<uint8_t>(p - 1),
                int32_t{1} << (w - 1),
                extended ? InfCodes::kMaxCode : InfCodes::kNone,
                is_signed ? NanCodes::kNegativeZero : NanCodes::kAllOnes,
                /*has_subnormals=*/true,
                /*has_zero=*/true,
                extended ? Overflow::kIeee : Overflow::kSaturate,
                source};
}

// ---- the family, generated at compile time ----------------------------------

constexpr int CountSupported() {
  int n = 0;
  for (int k = kMinBits; k <= kMaxBits; ++k)
    for (int s = 0; s < 2; ++s)
      for (int p = 1; p <= k; ++p)
        if (Supported(k, p, s == 0)) n += 2;
  return n;
}

inline constexpr int kCount = CountSupported();

// "binary16p11ue" is the longest name: 13 characters. `source` cites the
// definition with the WG's table file name (Binary16p11ue).
inline constexpr std::string_view kSourcePrefix = "IEEE P3109 interim report v3 (2025), WG value table ";
struct Names {
  char text[kCount][16];
  char source[kCount][kSourcePrefix.size() + 16];
};

constexpr void Append(char* out, int& at, int v) {
  if (v >= 10) out[at++] = static_cast<char>('0' + v / 10);
  out[at++] = static_cast<char>('0' + v % 10);
}

// Members in the order K, then signed before unsigned, then P, then e
// before f.
template <class Fn>
constexpr void ForEachMember(Fn fn) {
  int i = 0;
  for (int k = kMinBits; k <= kMaxBits; ++k)
    for (int s = 0; s < 2; ++s)
      for (int p = 1; p <= k; ++p)
        if (Supported(k, p, s == 0))
          for (int e = 0; e < 2; ++e) fn(i++, k, p, s == 0, e == 0);
}

constexpr Names MakeNames() {
  Names n{};
  ForEachMember([&](int i, int k, int p, bool is_signed, bool extended) {
    char* out = n.text[i];
    int at = 0;
    for (char c : std::string_view("binary")) out[at++] = c;
    Append(out, at, k);
    out[at++] = 'p';
    Append(out, at, p);
    out[at++] = is_signed ? 's' : 'u';
    out[at++] = extended ? 'e' : 'f';
    char* src = n.source[i];
    int s = 0;
    for (char c : kSourcePrefix) src[s++] = c;
    for (int j = 0; j < at; ++j) src[s++] = j == 0 ? 'B' : out[j];
  });
  return n;
}

inline constexpr Names kNames = MakeNames();

constexpr std::array<Format, kCount> MakeFamily() {
  std::array<Format, kCount> all{};
  ForEachMember([&](int i, int k, int p, bool is_signed, bool extended) {
    all[i] = Make(k, p, is_signed, extended, kNames.text[i], kNames.source[i]);
  });
  return all;
}

inline constexpr std::array<Format, kCount> kFamily = MakeFamily();

// The parameters a name spells, whether or not the member is supported.
struct Parsed {
  bool ok = false;
  int k = 0, p = 0;
  bool is_signed = true, extended = true;
};

constexpr Parsed Parse(std::string_view name) {
  Parsed r;
  if (name.substr(0, 6) != "binary") return r;
  size_t i = 6;
  auto number = [&](int& v) {
    const size_t start = i;
    v = 0;
    while (i < name.size() && name[i] >= '0' && name[i] <= '9' && i - start < 3)
      v = v * 10 + (name[i++] - '0');
    return i > start && name[start] != '0';
  };
  if (!number(r.k) || i >= name.size() || name[i++] != 'p' || !number(r.p)) return r;
  if (name.size() != i + 2) return r;
  if (name[i] != 's' && name[i] != 'u') return r;
  if (name[i + 1] != 'e' && name[i + 1] != 'f') return r;
  r.is_signed = name[i] == 's';
  r.extended = name[i + 1] == 'e';
  r.ok = true;
  return r;
}

// The member named `name`, or nullptr (not a family name, or not supported).
constexpr const Format* Find(std::string_view name) {
  const Parsed q = Parse(name);
  if (!q.ok || !Supported(q.k, q.p, q.is_signed)) return nullptr;
  for (const Format& f : kFamily)
    if (name == f.name) return &f;
  return nullptr;
}

// Why a well-formed family name has no format, or "" (for ResolveFormat's
// one-line error).
constexpr const char* WhyUnsupported(std::string_view name) {
  const Parsed q = Parse(name);
  if (!q.ok) return "";
  if (!Defined(q.k, q.p, q.is_signed))
    return q.is_signed ? "IEEE P3109 defines binaryKpPs* for 3 <= K <= 16 and 1 <= P <= K-1"
                       : "IEEE P3109 defines binaryKpPu* for 3 <= K <= 16 and 1 <= P <= K";
  if (!Supported(q.k, q.p, q.is_signed))
    return "its exponent field is wider than 11 bits: values beyond float64's range, which "
           "floatscope does not hold (signed needs P >= K-11, unsigned P >= K-10)";
  return "";
}

// ---- the published numbers, checked at compile time --------------------------
// WG value tables: Binary8p3ue 0x80 = 1.0 (bias 32), 0x01 = 2^-33, 0xFD =
// 1.25 * 2^31 (0xFE inf, 0xFF NaN); Binary3p1uf 0x01 = 2^-3, 0x06 = 4;
// Binary3p2sf 0x03 = 1.5, 0x04 NaN; Binary8p1se 0x01 = 2^-63, 0x7E = 2^62.
static_assert(kCount == 454);
static_assert(MagnitudeValue(*Find("binary8p3ue"), 0x80) == 1.0);
static_assert(MinPositive(*Find("binary8p3ue")) == 0x1p-33);
static_assert(MaxFinite(*Find("binary8p3ue")) == 0x1.4p31 && MaxFiniteMagnitude(*Find("binary8p3ue")) == 0xFD);
static_assert(IsInfCode(*Find("binary8p3ue"), 0xFE) && IsNanCode(*Find("binary8p3ue"), 0xFF));
static_assert(MinPositive(*Find("binary3p1uf")) == 0.125 && MaxFinite(*Find("binary3p1uf")) == 4.0);
static_assert(MaxFinite(*Find("binary3p2sf")) == 1.5 && IsNanCode(*Find("binary3p2sf"), 0x4));
static_assert(MinPositive(*Find("binary8p1se")) == 0x1p-63 && MaxFinite(*Find("binary8p1se")) == 0x1p62);
static_assert(Find("binary16p4se") == nullptr && Find("binary16p5se") != nullptr);
static_assert(Find("binary12p1ue") == nullptr && Find("binary11p1ue") != nullptr);
static_assert(Find("binary8p8se") == nullptr && Find("binary8p8ue") != nullptr);
static_assert(Find("binary08p3se") == nullptr && Find("binary8p3") == nullptr);

}  // namespace p3109
}  // namespace floatscope
