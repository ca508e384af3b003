// Calibration: the clipping range [lo, hi] of one unit (tensor, channel or
// group) from its values. NaNs are ignored everywhere; infinities count.
//
//   max            lo = min x, hi = max x (symmetric schemes use
//                  c = max(|lo|, |hi|) = amax)
//   percentile:P   nearest rank (numpy's method='inverted_cdf'): of n sorted
//                  values the r-th smallest, r = max(1, ceil(P/100 * n)).
//                  Symmetric: c = that percentile of |x|; asymmetric:
//                  hi = percentile P of x, lo = -(percentile P of -x).
//   mse            the range alpha * (max range) for alpha = k/K, k = 1..K
//                  (K = 100) whose quantize-dequantize round trip has the
//                  smallest sum of squared errors over the unit's finite
//                  values (an evenly strided sample of 65536 of them when
//                  the unit is larger: element j * m / 65536 for m values);
//                  ties go to the larger alpha (less clipping).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace floatscope::quant {

enum class CalibMethod : uint8_t { kMax, kPercentile, kMse };

struct Calibration {
  CalibMethod method = CalibMethod::kMax;
  double percentile = 99.9;  // 0 < P <= 100
};

inline constexpr int kMseCandidates = 100;
inline constexpr size_t kMseSample = 65536;

struct Range {
  double lo = 0, hi = 0;
  double Amax() const { return std::fmax(std::fabs(lo), std::fabs(hi)); }
};

inline Range RangeMax(const std::vector<double>& v) {
  Range r;
  bool any = false;
  for (const double x : v) {
    if (std::isnan(x)) continue;
    if (!any) r.lo = r.hi = x;
    r.lo = std::min(r.lo, x);
    r.hi = std::max(r.hi, x);
    any = true;
  }
  return r;
}

// The nearest-rank P-th percentile of `v` (reordered); 0 when v is empty.
inline double NearestRank(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const double n = static_cast<double>(v.size());
  const double r = std::ceil(p / 100.0 * n);
  const size_t rank = static_cast<size_t>(std::clamp(r, 1.0, n));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(rank - 1), v.end());
  return v[rank - 1];
}

inline Range RangePercentile(const std::vector<double>& v, double p, bool symmetric) {
  std::vector<double> a;
  a.reserve(v.size());
  if (symmetric) {
    for (const double x : v)
      if (!std::isnan(x)) a.push_back(std::fabs(x));
    const double c = NearestRank(a, p);
    return {-c, c};
  }
  for (const double x : v)
    if (!std::isnan(x)) a.push_back(x);
  std::vector<double> neg(a.size());
  std::transform(a.begin(), a.end(), neg.begin(), [](double x) { return -x; });
  return {-NearestRank(neg, p), NearestRank(a, p)};
}

// Positions (into the unit's value list of size m) that the MSE search
// evaluates.
inline std::vector<size_t> MseSamplePositions(size_t m) {
  std::vector<size_t> pos;
  if (m <= kMseSample) {
    pos.resize(m);
    for (size_t j = 0; j < m; ++j) pos[j] = j;
  } else {
    pos.resize(kMseSample);
    for (size_t j = 0; j < kMseSample; ++j)
      pos[j] = static_cast<size_t>((static_cast<unsigned __int128>(j) * m) / kMseSample);
  }
  return pos;
}

// Searches alpha = k/K; `sq_err(Range)` returns the sum of squared errors
// of the round trip with that clipping range.
template <class SqErr>
Range RangeMse(const Range& full, SqErr&& sq_err) {
  Range best = full;
  double best_err = INFINITY;
  for (int k = kMseCandidates; k >= 1; --k) {
    const double alpha = static_cast<double>(k) / kMseCandidates;
    const Range r{full.lo * alpha, full.hi * alpha};
    const double e = sq_err(r);
    if (e < best_err) {  // strict: ties keep the larger alpha
      best_err = e;
      best = r;
    }
  }
  return best;
}

}  // namespace floatscope::quant
