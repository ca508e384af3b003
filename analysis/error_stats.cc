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
// four doubles, the same IEEE operations element for element whatever
// registers the compiler uses.
typedef double V4d __attribute__((vector_size(32)));
typedef float V4f __attribute__((vector_size(16)));
typedef int64_t V4i __attribute__((vector_size(32)));

// Also compiled for x86-64-v3 (AVX2) and v4 (AVX-512), the loader picking
// the one the CPU runs (IEEE operations only and -ffp-contract=off: the
// same bits from every version). Not where the build targets AVX2 already
// (-march=native and the like: nothing to gain, and GCC 12 fails on the
// clones there).
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && \
    !defined(__AVX2__)
#define FS_STATS_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FS_STATS_CLONES
#endif

template <class R>
FS_STATS_CLONES void AddLanes(ErrorStats& s, const R* ref, const float* out, size_t n) {
  V4d sq_err = {}, sq_ref = {}, sq_out = {}, ref_out = {}, sq_fl = {}, max_abs = {}, max_rel = {};
  V4i nan_in = {}, inf_in = {}, nan_out = {}, inf_out = {}, nonzero = {}, overflowed = {}, compared = {}, flushed = {};
  const V4i abs_bits = V4i{} + INT64_MAX, inf_bits = V4i{} + INT64_C(0x7FF0000000000000), zero_bits = {};
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    V4d r;
    if constexpr (sizeof(R) == 4) {
      V4f r32;
      std::memcpy(&r32, ref + i, sizeof r32);
      r = __builtin_convertvector(r32, V4d);
    } else {
      std::memcpy(&r, ref + i, sizeof r);
    }
    V4f o32;
    std::memcpy(&o32, out + i, sizeof o32);
    const V4d o = __builtin_convertvector(o32, V4d);
    // Classified by their bits (integer compares; -1 where true): |x| below
    // inf's bits is finite, above them NaN; |x| of 0 is a zero.
    const V4i ir = reinterpret_cast<V4i>(r) & abs_bits, io = reinterpret_cast<V4i>(o) & abs_bits;
    const V4i r_fin = ir < inf_bits, o_fin = io < inf_bits;
    nan_in -= ir > inf_bits;
    inf_in -= ir == inf_bits;
    nan_out -= io > inf_bits;
    inf_out -= io == inf_bits;
    const V4i r_nz = ir != zero_bits;
    nonzero -= r_fin & r_nz;
    overflowed -= r_fin & ~o_fin;
    const V4i both = r_fin & o_fin;
    compared -= both;
    const V4i fl = both & r_nz & (io == zero_bits);
    flushed -= fl;
    const V4d d = reinterpret_cast<V4d>(reinterpret_cast<V4i>(o - r) & abs_bits);  // |out - ref|
    const V4d rr = r * r;
    // bits & mask: the value where the mask is set, +0.0 elsewhere.
    sq_fl += reinterpret_cast<V4d>(reinterpret_cast<V4i>(rr) & fl);
    const V4i up_abs = both & (d > max_abs);
    max_abs = reinterpret_cast<V4d>((reinterpret_cast<V4i>(d) & up_abs) | (reinterpret_cast<V4i>(max_abs) & ~up_abs));
    const V4d q = d / reinterpret_cast<V4d>(ir);  // RelError(ref, out)
    const V4i up_rel = both & r_nz & (q > max_rel);
    max_rel = reinterpret_cast<V4d>((reinterpret_cast<V4i>(q) & up_rel) | (reinterpret_cast<V4i>(max_rel) & ~up_rel));
    sq_err += reinterpret_cast<V4d>(reinterpret_cast<V4i>(d * d) & both);
    sq_ref += reinterpret_cast<V4d>(reinterpret_cast<V4i>(rr) & both);
    sq_out += reinterpret_cast<V4d>(reinterpret_cast<V4i>(o * o) & both);
    ref_out += reinterpret_cast<V4d>(reinterpret_cast<V4i>(r * o) & both);
  }
  double l_err[4], l_ref[4], l_out[4], l_ro[4], l_fl[4];
  for (int k = 0; k < 4; ++k) {
    l_err[k] = sq_err[k];
    l_ref[k] = sq_ref[k];
    l_out[k] = sq_out[k];
    l_ro[k] = ref_out[k];
    l_fl[k] = sq_fl[k];
    s.nan_inputs += static_cast<uint64_t>(nan_in[k]);
    s.inf_inputs += static_cast<uint64_t>(inf_in[k]);
    s.nan_outputs += static_cast<uint64_t>(nan_out[k]);
    s.inf_outputs += static_cast<uint64_t>(inf_out[k]);
    s.nonzero += static_cast<uint64_t>(nonzero[k]);
    s.overflowed += static_cast<uint64_t>(overflowed[k]);
    s.compared += static_cast<uint64_t>(compared[k]);
    s.flushed += static_cast<uint64_t>(flushed[k]);
    s.max_abs_err = std::max(s.max_abs_err, max_abs[k]);
    s.max_rel_err = std::max(s.max_rel_err, max_rel[k]);
  }
  s.elements += i;
  // The last n mod 4 pairs (lanes 0, 1, 2): Add's steps on one lane.
  for (int k = 0; i < n; ++i, ++k) {
    const double r = static_cast<double>(ref[i]), o = static_cast<double>(out[i]);
    ErrorStats one;
    one.Add(r, o);
    s.AddCounts(one);
    if (one.compared) {
      const double d = std::fabs(o - r);
      l_err[k] += d * d;
      l_ref[k] += r * r;
      l_out[k] += o * o;
      l_ro[k] += r * o;
      if (one.flushed) l_fl[k] += r * r;
    }
  }
  auto lanes = [](const double* l) { return (l[0] + l[1]) + (l[2] + l[3]); };
  s.sum_sq_err += lanes(l_err);
  s.sum_sq_ref += lanes(l_ref);
  s.sum_sq_out += lanes(l_out);
  s.sum_ref_out += lanes(l_ro);
  s.sum_sq_flushed += lanes(l_fl);
}
}  // namespace

void ErrorStats::AddArray(const float* ref, const float* out, size_t n) { AddLanes<float>(*this, ref, out, n); }
void ErrorStats::AddArray(const double* ref, const float* out, size_t n) { AddLanes<double>(*this, ref, out, n); }

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
