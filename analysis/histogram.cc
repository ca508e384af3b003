#include "analysis/histogram.h"

#include <algorithm>
#include <cmath>

#include "analysis/error_stats.h"

namespace floatscope::analysis {

Log2Histogram::Log2Histogram() : counts_(kMaxExp - kMinExp + 1, 0) {}

void Log2Histogram::Add(double x) {
  if (x == 0) {
    ++zeros_;
    return;
  }
  if (!std::isfinite(x)) {
    ++nonfinite_;
    return;
  }
  int e = 0;
  std::frexp(x, &e);  // |x| = m 2^e, 0.5 <= m < 1: floor(log2 |x|) = e - 1
  ++counts_[static_cast<size_t>(e - 1 - kMinExp)];
}

void Log2Histogram::AddArray(const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) Add(static_cast<double>(x[i]));
}

void Log2Histogram::AddArray(const double* x, size_t n) {
  for (size_t i = 0; i < n; ++i) Add(x[i]);
}

Log2Histogram& Log2Histogram::operator+=(const Log2Histogram& o) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
  zeros_ += o.zeros_;
  nonfinite_ += o.nonfinite_;
  return *this;
}

uint64_t Log2Histogram::Total() const {
  uint64_t t = zeros_ + nonfinite_;
  for (const uint64_t c : counts_) t += c;
  return t;
}

uint64_t Log2Histogram::Binade(int e) const {
  if (e < kMinExp || e > kMaxExp) return 0;
  return counts_[static_cast<size_t>(e - kMinExp)];
}

uint64_t Log2Histogram::Below(int e) const {
  uint64_t t = 0;
  for (int k = kMinExp; k < e && k <= kMaxExp; ++k) t += counts_[static_cast<size_t>(k - kMinExp)];
  return t;
}

uint64_t Log2Histogram::AtLeast(int e) const {
  uint64_t t = 0;
  for (int k = std::max(e, kMinExp); k <= kMaxExp; ++k) t += counts_[static_cast<size_t>(k - kMinExp)];
  return t;
}

std::vector<uint64_t> Log2Histogram::Clamped(int lo, int hi) const {
  if (hi < lo) return {};
  std::vector<uint64_t> c;
  c.reserve(static_cast<size_t>(hi - lo + 1));
  if (hi == lo) return {Below(lo + 1) + AtLeast(lo + 1)};
  c.push_back(Below(lo + 1));
  for (int e = lo + 1; e < hi; ++e) c.push_back(Binade(e));
  c.push_back(AtLeast(hi));
  return c;
}

nlohmann::json Log2Histogram::ToJson() const {
  size_t lo = 0, hi = counts_.size();
  while (lo < hi && counts_[lo] == 0) ++lo;
  while (hi > lo && counts_[hi - 1] == 0) --hi;
  nlohmann::json counts = nlohmann::json::array();
  for (size_t i = lo; i < hi; ++i) counts.push_back(counts_[i]);
  return {{"zeros", zeros_},
          {"nonfinite", nonfinite_},
          {"min_exp", lo < hi ? static_cast<int>(lo) + kMinExp : 0},
          {"counts", counts}};
}

void RelErrorHistogram::Add(double ref, double out) {
  if (ref == 0 || !std::isfinite(ref)) return;
  if (out == 0 || !std::isfinite(out)) {
    ++lost;
    return;
  }
  if (out == ref) {
    ++exact;
    return;
  }
  errors.Add(RelError(ref, out));
}

RelErrorHistogram& RelErrorHistogram::operator+=(const RelErrorHistogram& o) {
  exact += o.exact;
  lost += o.lost;
  errors += o.errors;
  return *this;
}

}  // namespace floatscope::analysis
