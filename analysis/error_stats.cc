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
// What Add counts, for n pairs, with the sums in kLanes interleaved lanes
// (see AddArray in the header). Every pair takes the same branch-free path:
// a pair that is not compared (ref or out not finite) adds +0.0 to each
// sum, which leaves a lane as it is (a lane starts at +0.0 and, in
// round-to-nearest, a sum is never -0.0 unless both terms are), and its
// maxima and counts are selected away. So the lanes vectorize, and the
// result is what Add gives a lane's pairs in element order. The maxima and
// counts do not depend on the order at all.
constexpr size_t kLanes = 8;

// ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)).
double LaneSum(const double* l) { return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7])); }

#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
// Compiled for AVX-512 and AVX2 too (the loader picks one): IEEE
// arithmetic only, no contraction (-ffp-contract=off), so every version
// gives the same bits.
#define FS_STATS_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FS_STATS_CLONES
#endif

template <class R>
inline void AddLanes(ErrorStats& s, const R* ref, const float* out, size_t n) {
  double sq_err[kLanes] = {}, sq_ref[kLanes] = {}, sq_out[kLanes] = {}, ref_out[kLanes] = {}, sq_fl[kLanes] = {};
  double max_abs[kLanes] = {}, max_rel[kLanes] = {};
  uint64_t nan_in[kLanes] = {}, inf_in[kLanes] = {}, nan_out[kLanes] = {}, inf_out[kLanes] = {}, nonzero[kLanes] = {},
           overflowed[kLanes] = {}, compared[kLanes] = {}, flushed[kLanes] = {};
  auto one = [&](size_t k, double r, double o) {
    const bool r_nan = r != r, o_nan = o != o;
    const bool r_fin = std::fabs(r) <= DBL_MAX, o_fin = std::fabs(o) <= DBL_MAX;
    nan_in[k] += r_nan;
    inf_in[k] += !r_fin && !r_nan;
    nan_out[k] += o_nan;
    inf_out[k] += !o_fin && !o_nan;
    nonzero[k] += r_fin && r != 0;
    overflowed[k] += r_fin && !o_fin;
    const bool both = r_fin && o_fin;
    compared[k] += both;
    const bool fl = both && r != 0 && o == 0;
    flushed[k] += fl;
    const double d = std::fabs(o - r);
    const double rr = r * r;
    sq_fl[k] += fl ? rr : 0.0;
    max_abs[k] = both && d > max_abs[k] ? d : max_abs[k];
    const double q = d / std::fabs(r);  // RelError(r, o)
    max_rel[k] = both && r != 0 && q > max_rel[k] ? q : max_rel[k];
    sq_err[k] += both ? d * d : 0.0;
    sq_ref[k] += both ? rr : 0.0;
    sq_out[k] += both ? o * o : 0.0;
    ref_out[k] += both ? r * o : 0.0;
  };
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (size_t k = 0; k < kLanes; ++k) one(k, static_cast<double>(ref[i + k]), static_cast<double>(out[i + k]));
  for (size_t k = 0; i + k < n; ++k) one(k, static_cast<double>(ref[i + k]), static_cast<double>(out[i + k]));
  s.elements += n;
  for (size_t k = 0; k < kLanes; ++k) {
    s.nan_inputs += nan_in[k];
    s.inf_inputs += inf_in[k];
    s.nan_outputs += nan_out[k];
    s.inf_outputs += inf_out[k];
    s.nonzero += nonzero[k];
    s.overflowed += overflowed[k];
    s.compared += compared[k];
    s.flushed += flushed[k];
    s.max_abs_err = std::max(s.max_abs_err, max_abs[k]);
    s.max_rel_err = std::max(s.max_rel_err, max_rel[k]);
  }
  s.sum_sq_err += LaneSum(sq_err);
  s.sum_sq_ref += LaneSum(sq_ref);
  s.sum_sq_out += LaneSum(sq_out);
  s.sum_ref_out += LaneSum(ref_out);
  s.sum_sq_flushed += LaneSum(sq_fl);
}

FS_STATS_CLONES void AddLanesF32(ErrorStats& s, const float* ref, const float* out, size_t n) {
  AddLanes(s, ref, out, n);
}
FS_STATS_CLONES void AddLanesF64(ErrorStats& s, const double* ref, const float* out, size_t n) {
  AddLanes(s, ref, out, n);
}
}  // namespace

void ErrorStats::AddArray(const float* ref, const float* out, size_t n) { AddLanesF32(*this, ref, out, n); }
void ErrorStats::AddArray(const double* ref, const float* out, size_t n) { AddLanesF64(*this, ref, out, n); }

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
