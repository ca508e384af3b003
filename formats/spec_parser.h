// Format names and custom format specs (host only).
//
// Grammar (also printed by `floatscope formats --help`):
//   NAME                    a named format (f32, e4m3fn, binary8p3, int4, ...)
//                           or a member of the IEEE P3109 family
//                           binaryKpP{s,u}{e,f} (formats/p3109.h)
//   eEmM[:KEY=VALUE,...]    a custom float with E exponent and M mantissa bits
//   intN | uintN            a custom integer, 2 <= N <= 32
// A bare eEmM is IEEE-like: bias 2^(E-1)-1, infinities and NaNs in the top
// exponent field, subnormals, signed. Keys:
//   bias=INT                exponent bias
//   inf=ieee|maxcode|no     infinities: top exponent field with mantissa 0 /
//                           the largest magnitude that is not NaN (P3109:
//                           0x7F..,0xFF.. signed, 0xFE.. below the all-ones
//                           NaN unsigned) / none
//   nan=ieee|ones|negzero|none
//                           NaNs: top exponent field with mantissa != 0 /
//                           only the all-ones magnitude (OCP E4M3) / the
//                           single code 1000..0 (fnuz, P3109) / none
//   subnormals=yes|no       whether exponent field 0 holds subnormals
//   zero=yes|no             no: exponent field 0 is an ordinary binade and
//                           there is no zero (like e8m0fnu)
//   signed=yes|no           whether there is a sign bit
//   overflow=ieee|saturate|nan
//                           the format's default overflow policy
// Impossible combinations are rejected with a message saying why.
#pragma once

#include <charconv>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "formats/catalog.h"

namespace floatscope {

namespace detail {

inline bool ParseInt(std::string_view s, int& out) {
  if (s.empty()) return false;
  const char* b = s.data();
  const char* e = s.data() + s.size();
  if (*b == '+') ++b;
  auto [p, ec] = std::from_chars(b, e, out);
  return ec == std::errc() && p == e;
}

inline std::optional<bool> ParseYesNo(std::string_view v) {
  if (v == "yes" || v == "true" || v == "1") return true;
  if (v == "no" || v == "false" || v == "0") return false;
  return std::nullopt;
}

// Strings of custom formats live as long as the program: Format holds
// `const char*` so that it stays a plain constexpr-friendly struct.
inline const char* Intern(const std::string& s) {
  static std::mutex mu;
  static std::set<std::string> pool;
  std::lock_guard<std::mutex> lock(mu);
  return pool.insert(s).first->c_str();
}

inline const Format* Keep(const Format& f) {
  static std::mutex mu;
  static std::deque<Format> kept;
  std::lock_guard<std::mutex> lock(mu);
  kept.push_back(f);
  return &kept.back();
}

}  // namespace detail

// Checks that a descriptor describes a coherent format; returns "" if so,
// else why not. Used for custom specs and, in tests, for the catalog.
inline std::string ValidateFormat(const Format& f) {
  if (f.kind == Kind::kInteger) {
    if (f.bits < 2 || f.bits > 32) return "integer formats have 2 to 32 bits";
    return "";
  }
  const int e = f.exponent_bits, m = f.mantissa_bits;
  if (e < 1 || e > 11) return "exponent bits must be between 1 and 11";
  if (m > 52) return "mantissa bits must be at most 52";
  if (f.bits != (f.is_signed ? 1 : 0) + e + m) return "bits must equal sign + exponent + mantissa";
  if (f.inf == InfCodes::kIeee && f.nan != NanCodes::kIeee)
    return "inf=ieee needs nan=ieee (the top exponent field is then all specials)";
  if (f.nan == NanCodes::kIeee && f.inf != InfCodes::kIeee)
    return "nan=ieee needs inf=ieee (the top exponent field is then all specials)";
  if (f.nan == NanCodes::kIeee && m == 0) return "nan=ieee needs at least one mantissa bit";
  if (f.inf == InfCodes::kMaxCode && f.nan == NanCodes::kAllOnes && MagnitudeMask(f) < 2)
    return "inf=maxcode and nan=ones leave no room for a finite nonzero value";
  if (f.nan == NanCodes::kNegativeZero && !f.is_signed) return "nan=negzero needs a sign bit";
  if (f.inf == InfCodes::kIeee && e < 2) return "inf=ieee needs at least 2 exponent bits";
  if (!f.has_zero && f.has_subnormals) return "zero=no needs subnormals=no";
  if (f.default_overflow == Overflow::kNan && !HasNan(f)) return "overflow=nan needs a NaN";
  if (f.default_overflow == Overflow::kWrap) return "overflow=wrap is for integers";
  if (MaxFiniteMagnitude(f) == 0 && !(f.nan == NanCodes::kNegativeZero))
    return "the format has no finite nonzero value";
  // Every value must be a double so that decode is exact.
  const int emax = static_cast<int>(MaxFiniteMagnitude(f) >> m) - f.bias;
  const int emin_sub = MinNormalExponent(f) - (f.has_subnormals ? m : 0);
  if (emax > 1023) return "bias too small: values beyond float64's range";
  if (emin_sub < -1074) return "bias too large: values below float64's range";
  return "";
}

// Resolves a name or spec to a descriptor that lives for the whole program.
// On failure returns nullptr and sets *error to one line saying why.
inline const Format* ResolveFormat(std::string_view spec, std::string* error) {
  auto fail = [&](const std::string& why) -> const Format* {
    if (error) *error = "bad format '" + std::string(spec) + "': " + why;
    return nullptr;
  };
  if (const Format* named = FindNamedFormat(spec)) return named;
  if (spec.empty()) return fail("empty format name");
  if (const std::string_view why = p3109::WhyUnsupported(spec); !why.empty())
    return fail(std::string(why));

  const size_t colon = spec.find(':');
  const std::string_view head = spec.substr(0, colon);
  Format f{};
  f.source = "custom spec";

  int n = 0;
  if ((head.rfind("int", 0) == 0 && detail::ParseInt(head.substr(3), n)) ||
      (head.rfind("uint", 0) == 0 && detail::ParseInt(head.substr(4), n))) {
    if (colon != std::string_view::npos) return fail("integer formats take no options");
    f.kind = Kind::kInteger;
    f.is_signed = head[0] == 'i';
    if (n < 2 || n > 32) return fail("integer formats have 2 to 32 bits");
    f.bits = static_cast<uint8_t>(n);
    f.storage_bits = static_cast<uint8_t>(((n + 7) / 8) * 8);
    f.has_zero = true;
    f.default_overflow = Overflow::kSaturate;
    f.name = detail::Intern(std::string(spec));
    return detail::Keep(f);
  }

  const size_t mpos = head.find('m');
  int e = 0, m = 0;
  if (head.size() < 4 || head[0] != 'e' || mpos == std::string_view::npos ||
      !detail::ParseInt(head.substr(1, mpos - 1), e) ||
      !detail::ParseInt(head.substr(mpos + 1), m))
    return fail("unknown format (see `floatscope formats` for names; custom: eEmM[:key=value,...])");
  if (e < 1 || e > 11) return fail("exponent bits must be between 1 and 11");
  if (m < 0 || m > 52) return fail("mantissa bits must be between 0 and 52");
  f.kind = Kind::kFloat;
  f.is_signed = true;
  f.exponent_bits = static_cast<uint8_t>(e);
  f.mantissa_bits = static_cast<uint8_t>(m);
  f.bias = (1 << (e - 1)) - 1;
  f.inf = InfCodes::kIeee;
  f.nan = NanCodes::kIeee;
  f.has_subnormals = true;
  f.has_zero = true;
  f.default_overflow = Overflow::kIeee;
  bool inf_set = false, nan_set = false;

  std::set<std::string> seen;
  if (colon != std::string_view::npos) {
    std::string_view rest = spec.substr(colon + 1);
    if (rest.empty()) return fail("nothing after ':'");
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      const std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      if (comma != std::string_view::npos && rest.empty()) return fail("trailing ','");
      const size_t eq = item.find('=');
      if (eq == std::string_view::npos) return fail("option '" + std::string(item) + "' needs KEY=VALUE");
      const std::string key(item.substr(0, eq));
      const std::string_view val = item.substr(eq + 1);
      if (!seen.insert(key).second) return fail("option '" + key + "' given twice");
      if (key == "bias") {
        int b = 0;
        if (!detail::ParseInt(val, b) || b < -2048 || b > 2048)
          return fail("bias must be an integer between -2048 and 2048");
        f.bias = b;
      } else if (key == "inf") {
        inf_set = true;
        if (val == "ieee" || val == "yes") f.inf = InfCodes::kIeee;
        else if (val == "maxcode") f.inf = InfCodes::kMaxCode;
        else if (val == "no" || val == "none") f.inf = InfCodes::kNone;
        else return fail("inf must be ieee, maxcode or no");
      } else if (key == "nan") {
        nan_set = true;
        if (val == "ieee") f.nan = NanCodes::kIeee;
        else if (val == "ones") f.nan = NanCodes::kAllOnes;
        else if (val == "negzero") f.nan = NanCodes::kNegativeZero;
        else if (val == "none" || val == "no") f.nan = NanCodes::kNone;
        else return fail("nan must be ieee, ones, negzero or none");
      } else if (key == "subnormals" || key == "zero" || key == "signed") {
        const auto yn = detail::ParseYesNo(val);
        if (!yn) return fail(key + " must be yes or no");
        if (key == "subnormals") f.has_subnormals = *yn;
        else if (key == "zero") f.has_zero = *yn;
        else f.is_signed = *yn;
      } else if (key == "overflow") {
        if (val == "ieee") f.default_overflow = Overflow::kIeee;
        else if (val == "saturate") f.default_overflow = Overflow::kSaturate;
        else if (val == "nan") f.default_overflow = Overflow::kNan;
        else return fail("overflow must be ieee, saturate or nan");
      } else {
        return fail("unknown option '" + key +
                    "' (known: bias, inf, nan, subnormals, zero, signed, overflow)");
      }
    }
  }
  // Giving up infinities alone frees the top exponent field; the NaN then
  // defaults to the all-ones code, as in OCP E4M3 (and the other way round).
  if (inf_set && !nan_set && f.inf != InfCodes::kIeee) f.nan = NanCodes::kAllOnes;
  // P3109's pairs: maxcode infinities with the NaN at 100..0 (signed) or
  // at the all-ones code just above +inf (unsigned).
  if (inf_set && !nan_set && f.inf == InfCodes::kMaxCode)
    f.nan = f.is_signed ? NanCodes::kNegativeZero : NanCodes::kAllOnes;
  if (nan_set && !inf_set && f.nan != NanCodes::kIeee) f.inf = InfCodes::kNone;
  if (!f.has_zero && f.has_subnormals && !seen.count("subnormals")) f.has_subnormals = false;
  f.bits = static_cast<uint8_t>((f.is_signed ? 1 : 0) + e + m);
  if (f.bits > 64) return fail("more than 64 bits");
  f.storage_bits = static_cast<uint8_t>(((f.bits + 7) / 8) * 8);
  if (f.default_overflow == Overflow::kIeee && !HasNan(f) && !HasInf(f))
    f.default_overflow = Overflow::kSaturate;
  if (const std::string why = ValidateFormat(f); !why.empty()) return fail(why);
  f.name = detail::Intern(std::string(spec));
  return detail::Keep(f);
}

}  // namespace floatscope
