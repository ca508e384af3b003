#include "cli/exact_input.h"

#include <fmt/format.h>
#include <gmp.h>
#include <mpfr.h>

#include <cmath>
#include <cstring>

#include "cli/cli_error.h"
#include "cli/quoted.h"

namespace floatscope::cli {

namespace {

constexpr mpfr_prec_t kWide = 4096;  // enough to hold any double difference exactly

struct Mpfr {
  mpfr_t v;
  explicit Mpfr(mpfr_prec_t p) { mpfr_init2(v, p); }
  ~Mpfr() { mpfr_clear(v); }
  Mpfr(const Mpfr&) = delete;
  Mpfr& operator=(const Mpfr&) = delete;
};

// Parses the whole of `text` at precision `prec` with rounding `rnd`.
// Returns the MPFR ternary value.
int ParseInto(mpfr_t out, const std::string& text, mpfr_rnd_t rnd) {
  // MPFR's default exponent range ends near 2^-2^30: "1e-99999999999"
  // would read as 0 and look exact. Widen it once to the largest range.
  static const bool widened = [] {
    mpfr_set_emin(mpfr_get_emin_min());
    mpfr_set_emax(mpfr_get_emax_max());
    return true;
  }();
  (void)widened;
  if (text.empty()) throw UsageError("empty VALUE");
  char* end = nullptr;
  const int t = mpfr_strtofr(out, text.c_str(), &end, 0, rnd);
  if (end == text.c_str() || *end != '\0')
    throw UsageError(fmt::format("malformed VALUE {} (a decimal like 0.1 or -3e-5, a hex float like 0x1.8p3, inf or nan)", Quoted(text)));
  return t;
}

// "-x" for the text of x: the error of a result 0 (or of any finite result
// for an x beyond every exponent range) to far more than six digits.
std::string NegatedText(const std::string& text) {
  const size_t start = text.find_first_not_of(" \t\n\v\f\r");
  const std::string t = start == std::string::npos ? text : text.substr(start);
  // (append, not "+" + ...: GCC 12 -Wrestrict false positive, PR 105329)
  const bool signed_text = !t.empty() && (t[0] == '-' || t[0] == '+');
  std::string out(1, !t.empty() && t[0] == '-' ? '+' : '-');
  out.append(t, signed_text ? 1 : 0, std::string::npos);
  return out;
}

}  // namespace

Unpacked ParseExactValue(const std::string& text) {
  Mpfr x(64);
  const int ternary = ParseInto(x.v, text, MPFR_RNDZ);
  Unpacked u;
  u.sign = mpfr_signbit(x.v) != 0;
  if (mpfr_nan_p(x.v)) {
    u.cls = Class::kNan;
    u.sign = text[0] == '-';
    u.nan_payload = uint64_t{1} << 63;  // quiet, empty payload
    return u;
  }
  if (mpfr_inf_p(x.v)) {
    u.cls = Class::kInf;
    return u;
  }
  if (mpfr_zero_p(x.v)) {
    if (ternary != 0) {  // below MPFR's exponent range: still not zero
      u.cls = Class::kFinite;
      u.sig = 1;
      u.exp = -(1 << 30);
      u.sticky = true;
      return u;
    }
    u.cls = Class::kZero;
    return u;
  }
  mpz_t z;
  mpz_init(z);
  const mpfr_exp_t e = mpfr_get_z_2exp(z, x.v);  // x = z * 2^e, |z| < 2^64
  mpz_abs(z, z);
  uint64_t sig = 0;
  mpz_export(&sig, nullptr, -1, sizeof(sig), 0, 0, z);
  mpz_clear(z);
  if (e > (1 << 28) || e < -(1 << 28)) {
    // Far beyond every format: keep the sign and magnitude class.
    u.cls = Class::kFinite;
    u.sig = 1;
    u.exp = e > 0 ? (1 << 28) : -(1 << 28);
    u.sticky = e < 0;
    return u;
  }
  u.cls = Class::kFinite;
  u.sig = sig;
  u.exp = static_cast<int32_t>(e);
  u.sticky = ternary != 0;
  return u;
}

ErrorText ErrorOf(const std::string& text, double approx, int digits) {
  Mpfr exact(kWide), diff(kWide), rel(kWide), a(kWide);
  const int ternary = ParseInto(exact.v, text, MPFR_RNDN);
  if (std::isnan(approx) || std::isinf(approx)) return {"-", "-"};
  // Beyond MPFR's widest exponent range (|x| < 2^-2^62 or > 2^2^62) the
  // value reads as 0 or infinity with a nonzero ternary; it is neither.
  const bool underflow = mpfr_zero_p(exact.v) && ternary != 0;
  const bool overflow = mpfr_inf_p(exact.v) && ternary != 0;
  if (!mpfr_number_p(exact.v) && !overflow) return {"-", "-"};
  char buf[128];
  if (overflow || (underflow && approx == 0)) return {NegatedText(text), "-1"};  // approx is nothing beside x
  if (underflow) {
    // approx - x with x far below approx's last bit: any value strictly
    // between approx and approx - sign(x) * ulp/2 rounds to the same digits,
    // so x stands in as 2^(exponent of approx - 4000). The relative error
    // is beyond every exponent range: "-".
    mpfr_set_d(a.v, approx, MPFR_RNDN);
    mpfr_set_ui_2exp(diff.v, 1, mpfr_get_exp(a.v) - 4000, MPFR_RNDN);
    if (mpfr_signbit(exact.v)) mpfr_neg(diff.v, diff.v, MPFR_RNDN);  // the zero keeps x's sign
    mpfr_sub(diff.v, a.v, diff.v, MPFR_RNDN);
    mpfr_snprintf(buf, sizeof buf, "%+.*Rg", digits, diff.v);
    return {buf, "-"};
  }
  mpfr_set_d(a.v, approx, MPFR_RNDN);
  mpfr_sub(diff.v, a.v, exact.v, MPFR_RNDN);
  mpfr_snprintf(buf, sizeof buf, "%+.*Rg", digits, diff.v);
  ErrorText t;
  t.abs = buf;
  if (mpfr_zero_p(exact.v)) {
    t.rel = std::string(1, '-');  // (not = "-": GCC 12 -Wrestrict false positive, PR 105329)
  } else {
    mpfr_div(rel.v, diff.v, exact.v, MPFR_RNDN);
    mpfr_snprintf(buf, sizeof buf, "%+.*Rg", digits, rel.v);
    t.rel = buf;
  }
  return t;
}

int CompareDistances(const std::string& text, double a, double b) {
  Mpfr exact(kWide), da(kWide), db(kWide);
  const int ternary = ParseInto(exact.v, text, MPFR_RNDN);
  if (mpfr_inf_p(exact.v) && ternary != 0) {
    // Beyond every exponent range: the candidate further out is nearer.
    const bool positive = mpfr_sgn(exact.v) > 0;
    return a == b ? 0 : ((a > b) == positive ? -1 : 1);
  }
  mpfr_set_d(da.v, a, MPFR_RNDN);
  mpfr_set_d(db.v, b, MPFR_RNDN);
  mpfr_sub(da.v, da.v, exact.v, MPFR_RNDN);
  mpfr_sub(db.v, db.v, exact.v, MPFR_RNDN);
  return mpfr_cmpabs(da.v, db.v);
}

}  // namespace floatscope::cli
