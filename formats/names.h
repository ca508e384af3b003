// The CLI names of rounding modes and policies (DESIGN.md), TestFloat's
// aliases, and the check that a set of options makes sense for a format.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "formats/policy.h"

namespace floatscope {

struct RoundingName {
  Rounding mode;
  const char* name;          // floatscope's name
  const char* testfloat;     // TestFloat's -r name, "" if none
};

inline constexpr RoundingName kRoundingNames[] = {
    {Rounding::kNearestEven, "rne", "near_even"}, {Rounding::kNearestAway, "rna", "near_maxMag"},
    {Rounding::kTowardZero, "rtz", "minMag"},     {Rounding::kDown, "rdn", "min"},
    {Rounding::kUp, "rup", "max"},                {Rounding::kOdd, "rto", "odd"},
    {Rounding::kStochastic, "sr", ""},            {Rounding::kStochasticEq, "sr-eq", ""},
};

inline std::optional<Rounding> ParseRounding(std::string_view s) {
  for (const auto& r : kRoundingNames)
    if (s == r.name || (*r.testfloat && s == r.testfloat)) return r.mode;
  return std::nullopt;
}

inline const char* RoundingNameOf(Rounding r) {
  for (const auto& n : kRoundingNames)
    if (n.mode == r) return n.name;
  return "?";
}

inline std::optional<Overflow> ParseOverflow(std::string_view s) {
  if (s == "ieee") return Overflow::kIeee;
  if (s == "saturate" || s == "satfinite") return Overflow::kSaturate;
  if (s == "nan") return Overflow::kNan;
  if (s == "wrap") return Overflow::kWrap;
  return std::nullopt;
}

inline const char* OverflowNameOf(Overflow o) {
  switch (o) {
    case Overflow::kDefault: return "default";
    case Overflow::kIeee: return "ieee";
    case Overflow::kSaturate: return "saturate";
    case Overflow::kNan: return "nan";
    case Overflow::kWrap: return "wrap";
  }
  return "?";
}

// "" when `opt` can be used to round into `f`, else one line saying why not.
inline std::string CheckOptionsFor(const Format& f, const Options& opt) {
  const Overflow o = EffectiveOverflow(f, opt.overflow);
  if (o == Overflow::kWrap && IsFloat(f))
    return std::string("--overflow wrap is for integer formats, not ") + f.name;
  if (o == Overflow::kNan && !HasNan(f))
    return std::string("--overflow nan: format ") + f.name + " has no NaN";
  if (opt.sr_bits < 1 || opt.sr_bits > 32) return "--sr-bits must be between 1 and 32";
  return "";
}

// Flags as TestFloat prints them: two hex digits.
inline std::string FlagsNames(uint8_t flags) {
  std::string s;
  auto add = [&](uint8_t bit, const char* name) {
    if (flags & bit) s += s.empty() ? name : std::string(",") + name;
  };
  add(kInvalid, "invalid");
  add(kInfinite, "infinite");
  add(kOverflow, "overflow");
  add(kUnderflow, "underflow");
  add(kInexact, "inexact");
  return s.empty() ? "none" : s;
}

}  // namespace floatscope
