// The quantization schemes, described once: what shares a scale (the unit),
// how the scale is chosen (the scale rule), which element formats and which
// options each one takes. The library's configuration check, the command
// line's option check and its help all read this table, so a new scheme or
// option is one row here and one case in the pipeline (quantize.cc), not a
// switch and a check in every file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "formats/format.h"

namespace floatscope::quant {

enum class Scheme : uint8_t {
  kTensor,   // one scale for the tensor (FP8 current scaling / integer)
  kChannel,  // one scale per index along the axis
  kGroup,    // one scale per `group` consecutive elements along the axis
  kDelayed,  // FP8 delayed scaling; axis 0 counts the steps
  kMx,       // OCP MX blocks of 32 along the axis, E8M0 scales
  kNvfp4,    // NVFP4: E2M1 blocks of 16 along the axis, E4M3 + FP32 scales
  kP3109,    // IEEE P3109 scaled blocks: power-of-two scales in binary8p1u*
};

// Which elements share a scale.
enum class Unit : uint8_t {
  kTensor,   // all of them
  kChannel,  // one index along the axis (all other indices)
  kGroup,    // a run of consecutive indices along the axis, for each other index
  kStep,     // one index along axis 0 (a training step): kChannel on axis 0
};

// How a unit's scale is chosen (docs/QUANTIZATION.md has the formulas).
enum class ScaleRule : uint8_t {
  kRange,    // from the unit's calibrated range: fmt_max / amax for float
             // formats (TransformerEngine's FP8 recipe), the affine map of
             // the range onto the integer grid for integer formats
  kHistory,  // FP8 delayed scaling: from the amax history of earlier steps
  kE8m0,     // OCP MX: a shared power of two, floor(log2 amax) - emax_elem
  kNvfp4,    // an E4M3 block scale under a float32 tensor scale (recipe te or torchao)
  kP3109,    // P3109: a power of two from the block's largest finite |x| (p3109_block.h)
};

// The options a scheme may take (bits of SchemeInfo::float_options and
// int_options). Each is one command-line flag and one QuantConfig field.
enum SchemeOption : uint32_t {
  kOptAxis = 1u << 0,         // --axis         QuantConfig::axis
  kOptGroup = 1u << 1,        // --group        ::group
  kOptBlock = 1u << 2,        // --block        ::block
  kOptCalib = 1u << 3,        // --calib        ::calib
  kOptAsymmetric = 1u << 4,   // --asymmetric   ::int_mode
  kOptMargin = 1u << 5,       // --margin       ::fp8.margin
  kOptPow2 = 1u << 6,         // --pow2-scale   ::fp8.pow2
  kOptHistory = 1u << 7,      // --history      ::history
  kOptAmaxReduce = 1u << 8,   // --amax-reduce  ::reduce
  kOptRecipe = 1u << 9,       // --recipe       ::nvfp4_recipe
  kOptScaleFormat = 1u << 10, // --scale-format ::scale_format
};

struct OptionName {
  SchemeOption option;
  const char* flag;
};

inline constexpr OptionName kOptionNames[] = {
    {kOptAxis, "--axis"},       {kOptGroup, "--group"},         {kOptBlock, "--block"},
    {kOptCalib, "--calib"},     {kOptAsymmetric, "--asymmetric"}, {kOptMargin, "--margin"},
    {kOptPow2, "--pow2-scale"}, {kOptHistory, "--history"},     {kOptAmaxReduce, "--amax-reduce"},
    {kOptRecipe, "--recipe"},   {kOptScaleFormat, "--scale-format"},
};

struct SchemeInfo {
  Scheme scheme;
  const char* name;
  Unit unit;
  ScaleRule rule;
  size_t block;       // elements per unit along the axis when fixed (nvfp4: 16), else 0
  // Options taken with a float element format and with an integer one;
  // takes_float / takes_int say whether that kind of format is taken at all.
  bool takes_float, takes_int;
  uint32_t float_options, int_options;
  // nullptr: any float or integer format (of at most 16 bits); else the
  // element formats taken, by name, space separated, and how to say them.
  const char* elements;
  const char* elements_help;
};

inline constexpr uint32_t kRangeFloat = kOptCalib | kOptMargin | kOptPow2;
inline constexpr uint32_t kRangeInt = kOptCalib | kOptAsymmetric;

inline constexpr SchemeInfo kSchemes[] = {
    {Scheme::kTensor, "tensor", Unit::kTensor, ScaleRule::kRange, 0, true, true, kRangeFloat, kRangeInt, nullptr,
     nullptr},
    {Scheme::kChannel, "channel", Unit::kChannel, ScaleRule::kRange, 0, true, true, kOptAxis | kRangeFloat,
     kOptAxis | kRangeInt, nullptr, nullptr},
    {Scheme::kGroup, "group", Unit::kGroup, ScaleRule::kRange, 0, true, true, kOptAxis | kOptGroup | kRangeFloat,
     kOptAxis | kOptGroup | kRangeInt, nullptr, nullptr},
    {Scheme::kDelayed, "delayed", Unit::kStep, ScaleRule::kHistory, 0, true, false,
     kOptMargin | kOptPow2 | kOptHistory | kOptAmaxReduce, 0, nullptr, nullptr},
    {Scheme::kMx, "mx", Unit::kGroup, ScaleRule::kE8m0, 0, true, true, kOptAxis | kOptBlock, kOptAxis | kOptBlock,
     "e4m3fn e5m2 e2m3fn e3m2fn e2m1fn int8",
     "MXFP8: e4m3fn e5m2, MXFP6: e2m3fn e3m2fn, MXFP4: e2m1fn, MXINT8: int8"},
    {Scheme::kNvfp4, "nvfp4", Unit::kGroup, ScaleRule::kNvfp4, 16, true, false, kOptAxis | kOptRecipe, 0, "e2m1fn",
     "NVFP4: e2m1fn"},
    {Scheme::kP3109, "p3109", Unit::kGroup, ScaleRule::kP3109, 0, true, false,
     kOptAxis | kOptBlock | kOptScaleFormat, 0, nullptr, nullptr},
};

// Names: tensor, channel, group, delayed, mx, nvfp4, p3109.
inline constexpr const char* kSchemeNames = "tensor, channel, group, delayed, mx, nvfp4, p3109";

inline const SchemeInfo& InfoOf(Scheme s) {
  for (const SchemeInfo& i : kSchemes)
    if (i.scheme == s) return i;
  return kSchemes[0];
}

inline std::optional<Scheme> ParseScheme(std::string_view name) {
  for (const SchemeInfo& i : kSchemes)
    if (name == i.name) return i.scheme;
  return std::nullopt;
}

inline const char* SchemeName(Scheme s) { return InfoOf(s).name; }

struct QuantError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Whether `element` is one of the space-separated names in `list`.
inline bool NameListed(std::string_view list, std::string_view element) {
  while (!list.empty()) {
    const size_t sp = list.find(' ');
    if (list.substr(0, sp) == element) return true;
    if (sp == std::string_view::npos) break;
    list.remove_prefix(sp + 1);
  }
  return false;
}

// Throws QuantError unless scheme `s` takes element format `f`.
inline void CheckElementFormat(const SchemeInfo& s, const Format& f) {
  const bool is_float = IsFloat(f);
  if (s.elements && !NameListed(s.elements, f.name))
    throw QuantError(std::string("scheme ") + s.name + " has no element format " + f.name + " (" +
                     s.elements_help + ")");
  if (is_float ? !s.takes_float : !s.takes_int)
    throw QuantError(std::string("scheme ") + s.name + " needs " + (is_float ? "an integer" : "a float") +
                     " format" + (s.rule == ScaleRule::kHistory ? " (it is an FP8 recipe)" : ""));
}

// Throws QuantError naming the first option in `given` (SchemeOption bits)
// that scheme `s` does not take with format `f`: "--pow2-scale applies to
// --scheme tensor, channel, group, delayed with a float format, not to
// --scheme mx".
inline void CheckSchemeOptions(const SchemeInfo& s, const Format& f, uint32_t given) {
  const bool is_float = IsFloat(f);
  const uint32_t taken = is_float ? s.float_options : s.int_options;
  for (const OptionName& o : kOptionNames) {
    if (!(given & o.option) || (taken & o.option)) continue;
    // The schemes that take it, and the kind of format it needs where some
    // of them take both kinds but the option with one only.
    std::string list;
    bool with_float = false, with_int = false, takes_other = false;
    for (const SchemeInfo& k : kSchemes) {
      const bool f_ok = (k.float_options & o.option) != 0, i_ok = (k.int_options & o.option) != 0;
      if (!f_ok && !i_ok) continue;
      list += std::string(list.empty() ? "" : ", ") + k.name;
      with_float |= f_ok;
      with_int |= i_ok;
      takes_other |= f_ok ? k.takes_int : k.takes_float;
    }
    std::string where = "--scheme " + list;
    if (with_float != with_int && takes_other) where += with_float ? " with a float format" : " with an integer format";
    const bool by_kind = (s.float_options & o.option) || (s.int_options & o.option);
    throw QuantError(std::string(o.flag) + " applies to " + where + ", not to --scheme " + s.name +
                     (by_kind ? std::string(" with ") + f.name : std::string()));
  }
}

}  // namespace floatscope::quant
