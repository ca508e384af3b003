// What a student sees:
//
//   0.1 -> e4m3fn  (rounding rne, overflow ieee)
//     format      e4m3fn: OCP 8-bit Floating Point Specification v1.0, E4M3
//     code        1d
//     fields      sign 0 | exponent 0011 (3 - bias 7 = -4) | mantissa 101 (5/8)
//     value       +1.625 x 2^-4 = 0.1015625
//     error       abs +0.0015625   rel +0.015625
//     ulp here    0.0078125 (2^-7)
//     neighbours  below 1c [0 0011 100] = 0.09375   above 1d [0 0011 101] = 0.1015625
//     decided by  round to nearest: the above neighbour is closer
//     flags       01 (inexact)
#include "cli/explain.h"

#include <fmt/format.h>

#include <cmath>
#include <iostream>
#include <limits>
#include <memory>
#include <string>

#include "cli/cli_error.h"
#include "cli/describe.h"
#include "cli/exact_input.h"
#include "cli/hex_codes.h"
#include "cli/int_option.h"
#include "cli/rounding_options.h"
#include "formats/convert.h"
#include "formats/names.h"
#include "formats/spec_parser.h"

namespace floatscope::cli {

namespace {

struct State {
  std::string value, format, code;
  RoundingFlags flags;
  uint64_t index = 0;
  CLI::Option* index_opt = nullptr;
};

std::string Pow2Text(int e) { return fmt::format("2^{}", e); }

// Weight of the last mantissa bit at this code (its ulp), or 0 if none.
double UlpAt(const Format& f, uint64_t code) {
  const Unpacked u = Unpack(f, code);
  if (u.cls != Class::kFinite && u.cls != Class::kZero) return 0;
  if (!IsFloat(f)) return 1;
  const uint64_t field = ExponentFieldOf(f, code);
  const int e = (field == 0 && f.has_zero) ? MinNormalExponent(f) : static_cast<int>(field) - f.bias;
  return std::ldexp(1.0, e - f.mantissa_bits);
}

void PrintFields(const Format& f, uint64_t code) {
  if (!IsFloat(f)) {
    std::cout << fmt::format("  fields      {} ({})\n", FieldBits(f, code),
                             f.is_signed ? "two's complement" : "unsigned binary");
    return;
  }
  const uint64_t field = ExponentFieldOf(f, code);
  const uint64_t mant = code & MantissaMask(f);
  std::string exp_bits, mant_bits;
  for (int i = f.exponent_bits - 1; i >= 0; --i) exp_bits += ((field >> i) & 1) ? '1' : '0';
  for (int i = f.mantissa_bits - 1; i >= 0; --i) mant_bits += ((mant >> i) & 1) ? '1' : '0';
  std::string exp_note;
  if (IsNanCode(f, code) || IsInfCode(f, code)) exp_note = "special";
  else if (field == 0 && f.has_zero) exp_note = fmt::format("0: zero/subnormal, scale 2^{}", MinNormalExponent(f));
  else exp_note = fmt::format("{} - bias {} = {}", field, f.bias, static_cast<int>(field) - f.bias);
  std::string s = "  fields      ";
  if (f.is_signed) s += fmt::format("sign {} | ", (code >> (f.bits - 1)) & 1);
  s += fmt::format("exponent {} ({})", exp_bits, exp_note);
  if (f.mantissa_bits > 0) s += fmt::format(" | mantissa {} ({}/{})", mant_bits, mant, uint64_t{1} << f.mantissa_bits);
  std::cout << s << "\n";
}

void ExplainCode(const Format& f, uint64_t code) {
  std::cout << fmt::format("code {} in {}  ({})\n", FormatHexCode(code, f), f.name, f.source);
  PrintFields(f, code);
  std::cout << fmt::format("  value       {} = {}\n", ScientificText(f, code), ExactValueText(f, code));
  if (const double ulp = UlpAt(f, code); ulp > 0)
    std::cout << fmt::format("  ulp here    {} ({})\n", NumberText(ulp), Pow2Text(std::ilogb(ulp)));
  const double v = DecodeToF64(f, code);
  if (std::isfinite(v)) {
    Options down, up;
    down.rounding = Rounding::kDown;
    up.rounding = Rounding::kUp;
    down.overflow = up.overflow = Overflow::kSaturate;
    // The neighbours are the values just below and just above v.
    const double below = std::nextafter(v, -INFINITY), above = std::nextafter(v, INFINITY);
    const Result lo = EncodeFromF64(f, below, down), hi = EncodeFromF64(f, above, up);
    // Saturation turns "nothing beyond" into the code itself: say so.
    const std::string lo_text = DecodeToF64(f, lo.code) < v ? DescribeCode(f, lo.code) : "none (the lowest finite value)";
    const std::string hi_text = DecodeToF64(f, hi.code) > v ? DescribeCode(f, hi.code) : "none (the largest finite value)";
    std::cout << fmt::format("  neighbours  below {}   above {}\n", lo_text, hi_text);
  }
}

void ExplainValue(const State& s, const Format& f) {
  const Options opt = ResolveOptions(s.flags, f);
  if (s.index_opt->count() > 0 && !IsStochastic(opt.rounding))
    throw UsageError("--index applies to --round sr and sr-eq only (it would change nothing)");
  const Unpacked x = ParseExactValue(s.value);
  const Result r = RoundPack(f, x, opt, s.index);
  const Overflow ov = EffectiveOverflow(f, opt.overflow);
  std::cout << fmt::format("{} -> {}  (rounding {}, overflow {}{})\n", s.value, f.name, RoundingNameOf(opt.rounding),
                           OverflowNameOf(ov), opt.flush_output ? ", flush subnormal results" : "");
  std::cout << fmt::format("  format      {}: {}\n", f.name, f.source);
  std::cout << fmt::format("  code        {}\n", FormatHexCode(r.code, f));
  PrintFields(f, r.code);
  std::cout << fmt::format("  value       {} = {}\n", ScientificText(f, r.code), ExactValueText(f, r.code));
  const double result = DecodeToF64(f, r.code);
  const ErrorText err = ErrorOf(s.value, result);
  std::cout << fmt::format("  error       abs {}   rel {}\n", err.abs, err.rel);
  if (const double ulp = UlpAt(f, r.code); ulp > 0)
    std::cout << fmt::format("  ulp here    {} ({})\n", NumberText(ulp), Pow2Text(std::ilogb(ulp)));

  // The two candidates around the exact input: rounded down and up.
  Options down = opt, up = opt;
  down.rounding = Rounding::kDown;
  up.rounding = Rounding::kUp;
  down.overflow = up.overflow = Overflow::kSaturate;
  down.flush_output = up.flush_output = false;
  const Result lo = RoundPack(f, x, down, s.index), hi = RoundPack(f, x, up, s.index);
  // The rule is decided before any flush of a subnormal result.
  Options keep = opt;
  keep.flush_output = false;
  const Result pre = RoundPack(f, x, keep, s.index);
  std::string decided;
  if (x.cls == Class::kNan) {
    decided = HasNan(f) ? "NaN stays NaN" : "the format has no NaN: replaced (see the NaN options)";
  } else if (x.cls == Class::kInf) {
    decided = HasInf(f) ? "infinity stays infinity"
                        : fmt::format("the format has no infinity: overflow policy {}", OverflowNameOf(ov));
  } else if (r.flags & kOverflow) {
    decided = fmt::format("beyond the largest finite value {}: overflow policy {} gives {}", NumberText(MaxFinite(f)),
                          OverflowNameOf(ov), ExactValueText(f, r.code));
  } else if (r.flags & kInvalid) {
    decided = "not representable (invalid)";
  } else if (!(r.flags & kInexact)) {
    decided = "exact: the value is representable";
  } else {
    double vlo = DecodeToF64(f, lo.code), vhi = DecodeToF64(f, hi.code);
    std::string lo_text = DescribeCode(f, lo.code), hi_text = DescribeCode(f, hi.code);
    // Just beyond max finite, the upper candidate is the grid point one step
    // past max: not representable, but it is what rne compares against.
    if (lo.code == hi.code) {
      const double step = UlpAt(f, lo.code);
      if (vlo > 0) {
        vhi = vlo + step;
        hi_text = fmt::format("{} (one step beyond max: overflow)", NumberText(vhi));
      } else {
        vlo = vhi - step;
        lo_text = fmt::format("{} (one step beyond -max: overflow)", NumberText(vlo));
      }
    }
    std::cout << fmt::format("  neighbours  below {}   above {}\n", lo_text, hi_text);
    const bool took_hi = pre.code == hi.code && !(lo.code == hi.code && vlo > 0);
    const char* name = took_hi ? "above" : "below";
    switch (opt.rounding) {
      case Rounding::kNearestEven:
      case Rounding::kNearestAway: {
        const int c = CompareDistances(s.value, vlo, vhi);
        if (c == 0)
          decided = fmt::format("a tie, exactly halfway: {} picks the {} one, {} ({})",
                                opt.rounding == Rounding::kNearestEven ? "ties-to-even" : "ties-away-from-zero",
                                opt.rounding == Rounding::kNearestEven ? "even" : "larger-magnitude", name,
                                ExactValueText(f, r.code));
        else
          decided = fmt::format("round to nearest: the {} neighbour is closer", name);
        break;
      }
      case Rounding::kTowardZero: decided = fmt::format("toward zero: the {} neighbour", name); break;
      case Rounding::kDown: decided = "toward -infinity: the neighbour below"; break;
      case Rounding::kUp: decided = "toward +infinity: the neighbour above"; break;
      case Rounding::kOdd: decided = fmt::format("to odd: the neighbour with an odd last bit ({})", name); break;
      case Rounding::kStochastic:
        decided = fmt::format("stochastic (seed {}, element {}): went {}; the chance of going up is the distance fraction",
                              opt.seed, s.index, took_hi ? "up" : "down");
        break;
      case Rounding::kStochasticEq:
        decided = fmt::format("stochastic, equal chances (seed {}, element {}): went {}", opt.seed, s.index,
                              took_hi ? "up" : "down");
        break;
    }
    if (pre.code != r.code)
      decided += fmt::format("; that result, {}, is subnormal: flushed to zero (--subnormals flush)",
                             ExactValueText(f, pre.code));
  }
  std::cout << fmt::format("  decided by  {}\n", decided);
  std::cout << fmt::format("  flags       {:02x} ({})\n", r.flags, FlagsNames(r.flags));
}

bool LooksLikeNegativeValue(std::string_view arg) {
  if (arg.size() < 2 || arg[0] != '-' || arg[1] == '-') return false;
  std::string rest;
  for (const char c : arg.substr(1)) rest += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return rest == "inf" || rest == "infinity" || rest == "nan" || (rest.rfind("nan(", 0) == 0 && rest.back() == ')');
}

}  // namespace

void ExplainValueArguments(std::vector<std::string>& args) {
  // args[0] is the program; the rewrite applies after "explain" and before "--".
  bool in_explain = false;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--") break;
    if (!in_explain) {
      in_explain = args[i] == "explain";
      if (args[i][0] != '-' && !in_explain) return;  // another command
      continue;
    }
    if (LooksLikeNegativeValue(args[i])) args[i] = "--value=" + args[i];
  }
}

void RegisterExplainCommand(CLI::App& app) {
  auto s = std::make_shared<State>();
  CLI::App* cmd = app.add_subcommand(
      "explain", "Show how VALUE is stored in a format: fields, bits, value, error, neighbours, ulp, the rule that decided");
  // "--value" lets main() pass -inf and -nan, which CLI11 would take for
  // short options (see ExplainValueArguments).
  cmd->add_option("VALUE,--value", s->value, "a decimal (0.1, -3e-5), a hex float (0x1.8p3), inf or nan (-inf, -nan)");
  cmd->add_option("--format,-f", s->format, "format name or custom spec")->required();
  cmd->add_option("--code", s->code, "explain this code (hex) instead of rounding a VALUE");
  s->index_opt = cmd->add_option("--index", s->index, "element index for stochastic rounding (sr, sr-eq)")
                     ->check(UnsignedIn(0, std::numeric_limits<uint64_t>::max()));
  AddRoundingOptions(*cmd, s->flags);
  cmd->callback([s] {
    std::string error;
    const Format* f = ResolveFormat(s->format, &error);
    if (!f) throw UsageError(error);
    if (!s->code.empty()) {
      if (!s->value.empty()) throw UsageError("give either VALUE or --code, not both");
      // A code is decoded, never rounded: rounding options would do nothing.
      if (const std::string given = s->flags.AnyGiven(); !given.empty())
        throw UsageError(given + " does not apply to --code (a code is decoded, not rounded)");
      if (s->index_opt->count() > 0) throw UsageError("--index does not apply to --code (a code is decoded, not rounded)");
      uint64_t code = 0;
      std::string why;
      if (!ParseHexCode(s->code, *f, &code, &why)) throw UsageError("--code: " + why);
      ExplainCode(*f, code);
      return;
    }
    if (s->value.empty()) throw UsageError("explain needs a VALUE or --code");
    ExplainValue(*s, *f);
  });
}

}  // namespace floatscope::cli
