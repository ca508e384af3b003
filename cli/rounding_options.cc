#include "cli/rounding_options.h"

#include "cli/cli_error.h"
#include "cli/quoted.h"
#include "formats/names.h"

namespace floatscope::cli {

void AddRoundingOptions(CLI::App& cmd, RoundingFlags& f) {
  cmd.add_option("--round,-r", f.round,
                 "rounding: rne rna rtz rdn rup rto sr sr-eq (TestFloat names near_even "
                 "near_maxMag minMag min max odd also accepted) [default: rne]");
  cmd.add_option("--overflow", f.overflow,
                 "overflow policy: ieee saturate nan wrap(integers) [default: the format's]");
  cmd.add_option("--subnormals", f.subnormals,
                 "keep | flush (inputs and results) | flush-input | flush-output");
  cmd.add_option("--tininess", f.tininess, "underflow detection: after | before rounding");
  // strtoull would quietly read "-1" as 2^64-1.
  const CLI::Validator non_negative(
      [](std::string& v) { return v.find('-') == std::string::npos ? std::string() : "must not be negative"; },
      "UINT64");
  cmd.add_option("--seed", f.seed, "stochastic rounding seed (Philox4x32-10 key)")->check(non_negative);
  cmd.add_option("--sr-bits", f.sr_bits, "random bits compared by sr, 1..32");
  cmd.add_option("--compat", f.compat,
                 "peer preset: none | ml_dtypes | cuda | cuda-satfinite (explicit options override it)");
}

Options ResolveOptions(const RoundingFlags& f, const Format& dst) {
  Options opt;
  const auto compat = ParseCompat(f.compat);
  if (!compat) throw UsageError("unknown --compat " + Quoted(f.compat) + " (none, ml_dtypes, cuda, cuda-satfinite)");
  if (const char* why = CheckCompat(*compat, dst); *why) throw UsageError(why);
  opt = ApplyCompat(*compat, dst, opt);
  if (!f.round.empty()) {
    const auto r = ParseRounding(f.round);
    if (!r) throw UsageError("unknown rounding mode " + Quoted(f.round) + " (rne rna rtz rdn rup rto sr sr-eq)");
    opt.rounding = *r;
  }
  if (!f.overflow.empty()) {
    const auto o = ParseOverflow(f.overflow);
    if (!o) throw UsageError("unknown overflow policy " + Quoted(f.overflow) + " (ieee saturate nan wrap)");
    opt.overflow = *o;
  }
  if (f.subnormals == "keep") {
    opt.flush_input = opt.flush_output = false;
  } else if (f.subnormals == "flush") {
    opt.flush_input = opt.flush_output = true;
  } else if (f.subnormals == "flush-input") {
    opt.flush_input = true;
  } else if (f.subnormals == "flush-output") {
    opt.flush_output = true;
  } else {
    throw UsageError("unknown --subnormals " + Quoted(f.subnormals) + " (keep, flush, flush-input, flush-output)");
  }
  if (f.tininess == "after") opt.tininess = Tininess::kAfterRounding;
  else if (f.tininess == "before") opt.tininess = Tininess::kBeforeRounding;
  else throw UsageError("unknown --tininess " + Quoted(f.tininess) + " (after, before)");
  if (f.sr_bits < 1 || f.sr_bits > 32) throw UsageError("--sr-bits must be between 1 and 32");
  opt.sr_bits = static_cast<uint8_t>(f.sr_bits);
  opt.seed = f.seed;
  if (const std::string why = CheckOptionsFor(dst, opt); !why.empty()) throw UsageError(why);
  return opt;
}

}  // namespace floatscope::cli
