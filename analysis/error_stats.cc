#include "analysis/error_stats.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>

#include "formats/policy.h"

namespace floatscope::analysis {

void ErrorStats::Add(double ref, double out) {
  ++elements;
  const bool ref_nan = std::isnan(ref);
  nan_inputs += ref_nan;
  inf_inputs += std::isinf(ref);
  nan_outputs += std::isnan(out);
  inf_outputs += std::isinf(out);
  if (!std::isfinite(ref)) return;
  nonzero += ref != 0;
  if (!std::isfinite(out)) {
    ++overflowed;
    return;
  }
  if (ref != 0 && out == 0) {
    ++flushed;
    sum_sq_flushed += ref * ref;
  }
  ++compared;
  const double d = std::fabs(out - ref);
  max_abs_err = std::max(max_abs_err, d);
  if (ref != 0) max_rel_err = std::max(max_rel_err, RelError(ref, out));
  sum_sq_err += d * d;
  sum_sq_ref += ref * ref;
  sum_sq_out += out * out;
  sum_ref_out += ref * out;
}

void ErrorStats::Add(double ref, double out, uint8_t flags) {
  Add(ref, out);
  saturated += !std::isnan(ref) && (flags & (kOverflow | kInvalid)) != 0;
}

namespace {
// Add(ref[i], out[i]) for each i: the pairs where both are finite (nearly
// all) take a straight path with Add's operations in Add's order; the rest
// go through Add itself.
template <class R>
void AddArrayImpl(ErrorStats& s, const R* ref, const float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const double r = static_cast<double>(ref[i]), o = static_cast<double>(out[i]);
    if (!(std::fabs(r) <= DBL_MAX) || !(std::fabs(o) <= DBL_MAX)) {  // not both finite
      s.Add(r, o);
      continue;
    }
    ++s.elements;
    s.nonzero += r != 0;
    // Without a branch (flushed elements come and go unpredictably): adding
    // +0.0 to the sum, which is never -0.0, leaves it as it is.
    const bool flushed = r != 0 && o == 0;
    s.flushed += flushed;
    s.sum_sq_flushed += flushed ? r * r : 0.0;
    ++s.compared;
    const double d = std::fabs(o - r);
    s.max_abs_err = std::max(s.max_abs_err, d);
    // The division only where it may raise the maximum: q = d / |r| > m
    // needs d > m * |r| exactly, so d >= fl(m * |r|) * (1 - 2^-50) (which
    // also holds where m * |r| is below the normal range).
    const double bound = s.max_rel_err * std::fabs(r);
    if (r != 0 && (d >= bound * (1 - 0x1p-50) || bound < 0x1p-1000))
      s.max_rel_err = std::max(s.max_rel_err, RelError(r, o));
    s.sum_sq_err += d * d;
    s.sum_sq_ref += r * r;
    s.sum_sq_out += o * o;
    s.sum_ref_out += r * o;
  }
}
}  // namespace

void ErrorStats::AddArray(const float* ref, const float* out, size_t n) { AddArrayImpl(*this, ref, out, n); }
void ErrorStats::AddArray(const double* ref, const float* out, size_t n) { AddArrayImpl(*this, ref, out, n); }

ErrorStats& ErrorStats::operator+=(const ErrorStats& o) {
  elements += o.elements;
  compared += o.compared;
  nan_inputs += o.nan_inputs;
  inf_inputs += o.inf_inputs;
  nan_outputs += o.nan_outputs;
  inf_outputs += o.inf_outputs;
  overflowed += o.overflowed;
  saturated += o.saturated;
  nonzero += o.nonzero;
  flushed += o.flushed;
  max_abs_err = std::max(max_abs_err, o.max_abs_err);
  max_rel_err = std::max(max_rel_err, o.max_rel_err);
  sum_sq_err += o.sum_sq_err;
  sum_sq_ref += o.sum_sq_ref;
  sum_sq_out += o.sum_sq_out;
  sum_ref_out += o.sum_ref_out;
  sum_sq_flushed += o.sum_sq_flushed;
  return *this;
}

double ErrorStats::Rmse() const { return compared ? std::sqrt(sum_sq_err / static_cast<double>(compared)) : 0.0; }

double ErrorStats::SqnrDb() const {
  if (sum_sq_err == 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(sum_sq_ref / sum_sq_err);
}

double ErrorStats::RelL2() const { return sum_sq_ref > 0 ? std::sqrt(sum_sq_err / sum_sq_ref) : 0.0; }

double ErrorStats::Cosine() const {
  if (sum_sq_ref == 0 && sum_sq_out == 0) return 1.0;
  if (sum_sq_ref == 0 || sum_sq_out == 0) return 0.0;
  return sum_ref_out / (std::sqrt(sum_sq_ref) * std::sqrt(sum_sq_out));
}

double ErrorStats::FlushedFrac() const { return nonzero ? static_cast<double>(flushed) / static_cast<double>(nonzero) : 0.0; }

double ErrorStats::EnergyLost() const { return sum_sq_ref > 0 ? sum_sq_flushed / sum_sq_ref : 0.0; }

double ErrorStats::OverflowFrac() const {
  return elements ? static_cast<double>(overflowed) / static_cast<double>(elements) : 0.0;
}

double Median(std::vector<double>& values) {
  if (values.empty()) return 0.0;
  const size_t h = values.size() / 2;
  const auto mid = values.begin() + static_cast<std::ptrdiff_t>(h);
  std::nth_element(values.begin(), mid, values.end());
  if (values.size() % 2 != 0) return *mid;
  return 0.5 * (*std::max_element(values.begin(), mid) + *mid);
}

namespace {
template <class R, class O>
ErrorStats CompareImpl(const R* ref, const O* out, size_t n) {
  ErrorStats s;
  for (size_t i = 0; i < n; ++i) s.Add(static_cast<double>(ref[i]), static_cast<double>(out[i]));
  return s;
}
}  // namespace

ErrorStats Compare(const double* ref, const double* out, size_t n) { return CompareImpl(ref, out, n); }
ErrorStats Compare(const float* ref, const float* out, size_t n) { return CompareImpl(ref, out, n); }
ErrorStats Compare(const double* ref, const float* out, size_t n) { return CompareImpl(ref, out, n); }

}  // namespace floatscope::analysis
