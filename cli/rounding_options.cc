#include "cli/rounding_options.h"

#include <limits>

#include "cli/cli_error.h"
#include "cli/int_option.h"
#include "cli/quoted.h"
#include "formats/names.h"

namespace floatscope::cli {

std::string RoundingFlags::AnyGiven() const {
  for (const CLI::Option* o : {round_opt, overflow_opt, subnormals_opt, tininess_opt, compat_opt, seed_opt, sr_bits_opt})
    if (Given(o)) return o->get_name();
  return "";
}

CLI::Validator SeedCheck() { return UnsignedIn(0, std::numeric_limits<uint64_t>::max()); }
CLI::Validator SrBitsCheck() { return IntegerIn(1, 32); }

void AddRoundingOptions(CLI::App& cmd, RoundingFlags& f) {
  f.round_opt = cmd.add_option("--round,-r", f.round,
                 "rounding: rne rna rtz rdn rup rto sr sr-eq (TestFloat names near_even "
                 "near_maxMag minMag min max odd also accepted) [default: rne]");
  f.overflow_opt = cmd.add_option("--overflow", f.overflow,
                 "overflow policy: ieee saturate nan wrap(integers) [default: the format's]");
  f.subnormals_opt = cmd.add_option("--subnormals", f.subnormals,
                 "keep | flush (inputs and results) | flush-input | flush-output");
  f.tininess_opt = cmd.add_option("--tininess", f.tininess, "underflow detection: after | before rounding");
  f.seed_opt = cmd.add_option("--seed", f.seed, "stochastic rounding seed (Philox4x32-10 key), sr and sr-eq only")
                   ->check(SeedCheck());
  f.sr_bits_opt = cmd.add_option("--sr-bits", f.sr_bits, "random bits compared by sr, 1..32")->check(SrBitsCheck());
  f.compat_opt = cmd.add_option("--compat", f.compat,
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
  const bool stochastic = opt.rounding == Rounding::kStochastic || opt.rounding == Rounding::kStochasticEq;
  if (f.Given(f.seed_opt) && !stochastic)
    throw UsageError("--seed applies to --round sr and sr-eq only (it would change nothing)");
  if (f.Given(f.sr_bits_opt) && opt.rounding != Rounding::kStochastic)
    throw UsageError("--sr-bits applies to --round sr only (it would change nothing)");
  if (const std::string why = CheckOptionsFor(dst, opt); !why.empty()) throw UsageError(why);
  return opt;
}

}  // namespace floatscope::cli
