#include "analysis/error_stats.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
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
// AddArray: what Add counts, for n pairs, with the sums in four interleaved
// lanes (pair i in lane i mod 4, each lane in element order from +0.0,
// then ((l0 + l1) + (l2 + l3)) added to the running sum). Every pair takes
// the same branch-free path: a pair that is not compared (ref or out not
// finite) adds +0.0 to each sum, which leaves a lane as it is (a lane
// starts at +0.0, and in round-to-nearest a sum is -0.0 only when both
// terms are), and its maxima and counts are masked away. The maxima and
// counts do not depend on the order. The lanes are GCC's generic vectors:
// the same IEEE operations element for element whatever registers the
// compiler uses.
//
// The loop takes eight pairs at a time: everything but the sums is done on
// all eight at once (counts and maxima per vector lane, merged at the end:
// their order does not matter), and each sum adds the four terms of pairs
// i..i+3 and then those of i+4..i+7 to its four lanes, which is the lanes'
// element order. The last n mod 8 pairs take Add's steps one by one.

typedef double V8d __attribute__((vector_size(64)));
typedef float V8f __attribute__((vector_size(32)));
typedef int64_t V8i __attribute__((vector_size(64)));
typedef double V4d __attribute__((vector_size(32)));

// Also compiled for x86-64-v3 (AVX2) and v4 (AVX-512) and picked at run
// time for the CPU (IEEE operations only and -ffp-contract=off: the same
// bits from every version). Not where the build targets AVX2 already
// (-march=native and the like: nothing to gain). Not target_clones nor an
// always_inline body in target functions: GCC then lowered the 8-wide
// generic vectors for the baseline target (the x86-64-v4 version ran
// element by element); the loop's file included in a `#pragma GCC
// target` region is compiled for that target from the start.
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && \
    !defined(__AVX2__)
#define FS_STATS_VERSIONS 1
#else
#define FS_STATS_VERSIONS 0
#endif

// The versions: the loop compiled for each target in a namespace of its
// own, and the best one this CPU runs picked once.
#if FS_STATS_VERSIONS
#pragma GCC push_options
#pragma GCC target("arch=x86-64-v4")
namespace v4 {
#include "analysis/error_lanes-inl.h"
}  // namespace v4
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("arch=x86-64-v3")
namespace v3 {
#include "analysis/error_lanes-inl.h"
}  // namespace v3
#pragma GCC pop_options
#endif
namespace baseline {
#include "analysis/error_lanes-inl.h"
}  // namespace baseline

template <class R>
using AddLanesFn = void (*)(ErrorStats&, const R*, const float*, size_t);

template <class R>
AddLanesFn<R> PickAddLanes() {
#if FS_STATS_VERSIONS
  __builtin_cpu_init();
  if (__builtin_cpu_supports("x86-64-v4")) return &v4::AddLanes<R>;
  if (__builtin_cpu_supports("x86-64-v3")) return &v3::AddLanes<R>;
#endif
  return &baseline::AddLanes<R>;
}

template <class R>
void AddLanesOf(ErrorStats& s, const R* ref, const float* out, size_t n) {
  static const AddLanesFn<R> fn = PickAddLanes<R>();
  fn(s, ref, out, n);
}
}  // namespace

void ErrorStats::AddArray(const float* ref, const float* out, size_t n) { AddLanesOf<float>(*this, ref, out, n); }
void ErrorStats::AddArray(const double* ref, const float* out, size_t n) { AddLanesOf<double>(*this, ref, out, n); }

void ErrorStats::AddCounts(const ErrorStats& o) {
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
}

ErrorStats& ErrorStats::operator+=(const ErrorStats& o) {
  AddCounts(o);
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
