// What rounding a tensor cost, measured against its reference values: the
// one error-statistics implementation of floatscope (format_compare,
// quantize and train all count with it).
//
// Every count is over element pairs (ref, out): `ref` is the value before
// rounding (or the float64 reference), `out` what the low-precision path
// gave. Sums are taken in float64 in a fixed order (Add: element order;
// AddArray: four interleaved lanes per call), so a result depends only on
// the data, never on threads: callers that split an array split it at fixed
// places and add the per-chunk stats in chunk order.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace floatscope::analysis {

struct ErrorStats {
  uint64_t elements = 0;
  uint64_t compared = 0;     // ref and out both finite
  uint64_t nan_inputs = 0;
  uint64_t inf_inputs = 0;
  uint64_t nan_outputs = 0;
  uint64_t inf_outputs = 0;
  uint64_t overflowed = 0;   // finite ref, non-finite out
  uint64_t saturated = 0;    // casts that raised overflow or invalid on a non-NaN ref (clamped to the
                             // format's max, or became inf/NaN): from the cast's flags, Add(ref, out, flags),
                             // or set by a caller whose casts count their own flags
  uint64_t nonzero = 0;      // finite nonzero ref
  uint64_t flushed = 0;      // finite nonzero ref, zero out (underflow to 0)
  double max_abs_err = 0;
  double max_rel_err = 0;    // over nonzero refs
  double sum_sq_err = 0;     // sum (out - ref)^2 over compared pairs
  double sum_sq_ref = 0;     // sum ref^2 over compared pairs
  double sum_sq_out = 0;     // sum out^2 over compared pairs
  double sum_ref_out = 0;    // sum ref * out over compared pairs
  double sum_sq_flushed = 0; // sum ref^2 over flushed pairs (energy lost to underflow)

  void Add(double ref, double out);
  // Add(ref, out), and counts `saturated` from the cast's TestFloat flags
  // (formats/policy.h: kOverflow, kInvalid).
  void Add(double ref, double out, uint8_t flags);
  // What Add(ref[i], out[i]) for i < n counts (the same counts and maxima),
  // with the sums of the call taken in 4 interleaved lanes so that they
  // vectorize (quantize's chunks): pair i goes to lane i mod 4, each lane
  // sums its pairs in element order from +0.0, and the lanes are added as
  // (l0 + l1) + (l2 + l3) to the running sums.
  // A fixed order: the result depends on the data and on where the calls
  // split it, never on threads.
  void AddArray(const float* ref, const float* out, size_t n);
  void AddArray(const double* ref, const float* out, size_t n);
  // The counts and maxima of o (not its sums, whose order is the caller's).
  void AddCounts(const ErrorStats& o);
  ErrorStats& operator+=(const ErrorStats& o);

  double Rmse() const;          // sqrt(sum_sq_err / compared); 0 if none
  double SqnrDb() const;        // 10 log10(sum_sq_ref / sum_sq_err); inf if exact
  double RelL2() const;         // ||out - ref|| / ||ref||; 0 if ref is all zero
  double Cosine() const;        // <ref, out> / (||ref|| ||out||); 1 if both zero
  double FlushedFrac() const;   // flushed / nonzero
  double EnergyLost() const;    // sum_sq_flushed / sum_sq_ref
  double OverflowFrac() const;  // overflowed / elements
};

// |out - ref| / |ref|: the relative error every count here uses (inf or
// NaN where ref is zero or either is non-finite).
inline double RelError(double ref, double out) { return std::fabs(out - ref) / std::fabs(ref); }

// The median of `values` (the mean of the two middle ones for an even
// count; 0 for none). Reorders `values`.
double Median(std::vector<double>& values);

// Pairs ref[i], out[i] for i < n, counted in element order.
ErrorStats Compare(const double* ref, const double* out, size_t n);
ErrorStats Compare(const float* ref, const float* out, size_t n);
ErrorStats Compare(const double* ref, const float* out, size_t n);

}  // namespace floatscope::analysis
