// Log2-magnitude histograms: how many values of a tensor fall in each binade
// [2^e, 2^(e+1)), plus zeros and non-finite values. The picture of
// Micikevicius et al. (2017): which part of a gradient's range a format can
// hold. Binades span float64's whole range, so nothing is clipped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

namespace floatscope::analysis {

class Log2Histogram {
 public:
  static constexpr int kMinExp = -1075;  // below float64's smallest subnormal
  static constexpr int kMaxExp = 1024;

  Log2Histogram();
  void Add(double x);
  void AddArray(const float* x, size_t n);
  void AddArray(const double* x, size_t n);
  Log2Histogram& operator+=(const Log2Histogram& o);

  uint64_t Zeros() const { return zeros_; }
  uint64_t NonFinite() const { return nonfinite_; }
  uint64_t Total() const;
  // Values with floor(log2 |x|) == e.
  uint64_t Binade(int e) const;
  // Finite nonzero values with |x| < 2^e.
  uint64_t Below(int e) const;
  // Finite nonzero values with |x| >= 2^e.
  uint64_t AtLeast(int e) const;
  // Binades lo..hi (lo <= hi) as hi - lo + 1 counts, the first also holding
  // every smaller binade and the last every larger one: every finite nonzero
  // value in exactly one count. Empty if hi < lo.
  std::vector<uint64_t> Clamped(int lo, int hi) const;
  // {"zeros": z, "nonfinite": n, "min_exp": e0, "counts": [c(e0), c(e0+1), ...]}
  // with the counts trimmed to the first and last nonempty binade.
  nlohmann::json ToJson() const;

 private:
  std::vector<uint64_t> counts_;  // index e - kMinExp
  uint64_t zeros_ = 0, nonfinite_ = 0;
};

// The log2 |relative error| histogram of a cast: each pair (ref, out) with
// a finite nonzero ref in exactly one bucket: `exact` (out == ref), `lost`
// (out is 0, inf or NaN), or else the binade of RelError(ref, out) in
// `errors` (floor(log2 |out - ref| / |ref|); an error too large for float64
// counts in errors.NonFinite()). Pairs with a zero or non-finite ref are not
// counted.
struct RelErrorHistogram {
  uint64_t exact = 0;
  uint64_t lost = 0;
  Log2Histogram errors;

  void Add(double ref, double out);
  RelErrorHistogram& operator+=(const RelErrorHistogram& o);
  uint64_t Total() const { return exact + lost + errors.Total(); }
};

}  // namespace floatscope::analysis
