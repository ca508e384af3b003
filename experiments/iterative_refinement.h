// Mixed-precision iterative refinement (Wilkinson; Carson & Higham, SIAM J.
// Sci. Comput. 40(2), 2018): solve A x = b to float64 accuracy with an LU
// factorization computed entirely in a low-precision format.
//
//   1. LU = P (A / alpha)         once, in Low: every multiply, add and divide
//                                 of the factorization rounded into Low
//                                 (floatscope::value<F> in Eigen)
//   2. x = solve(LU, b)           in Low, then widened to float64
//   3. repeat: r = b - A x        float64
//              d = solve(LU, r)   in Low, r scaled by 1/|r|_inf first so it
//                                 neither overflows nor underflows in Low
//              x = x + d          float64
//
// It converges to float64 accuracy when cond(A) * u_Low is well below 1
// (u = 2^-p, p the precision of Low): f16 and bf16 LUs make float64
// solutions of moderately conditioned systems; FP8 ones do not.
#pragma once

#include <Eigen/Dense>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "emulate/value.h"

namespace floatscope::experiments {

// A random n x n matrix with 2-norm condition number `cond`: U diag(s) V^T
// with U, V orthogonal (QR of Gaussian matrices) and s from 1 down to 1/cond
// geometrically.
inline Eigen::MatrixXd MatrixWithCondition(int n, double cond, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  auto gaussian = [&] {
    Eigen::MatrixXd g(n, n);
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < n; ++i) g(i, j) = normal(rng);
    return g;
  };
  const Eigen::MatrixXd u = Eigen::HouseholderQR<Eigen::MatrixXd>(gaussian()).householderQ();
  const Eigen::MatrixXd v = Eigen::HouseholderQR<Eigen::MatrixXd>(gaussian()).householderQ();
  Eigen::VectorXd s(n);
  for (int i = 0; i < n; ++i) s(i) = std::pow(cond, -static_cast<double>(i) / std::max(1, n - 1));
  return u * s.asDiagonal() * v.transpose();
}

struct Refinement {
  std::vector<double> backward_error;  // |b - A x|_inf / (|A|_inf |x|_inf + |b|_inf), per iterate
  std::vector<double> forward_error;   // |x - x_true|_inf / |x_true|_inf, per iterate
  Eigen::VectorXd x;
};

// Iterate 0 is the low-precision solve; then `iterations` refinement steps
// (stopping early once the backward error stops improving).
template <typename Low>
Refinement Refine(const Eigen::MatrixXd& a, const Eigen::VectorXd& b, const Eigen::VectorXd& x_true,
                  int iterations) {
  using LowMatrix = Eigen::Matrix<Low, Eigen::Dynamic, Eigen::Dynamic>;
  using LowVector = Eigen::Matrix<Low, Eigen::Dynamic, 1>;
  const double alpha = a.cwiseAbs().maxCoeff();
  const LowMatrix a_low = (a / alpha).template cast<Low>();
  const Eigen::PartialPivLU<LowMatrix> lu(a_low);
  // Solves A d = r through the low-precision factors of A / alpha.
  auto solve = [&](const Eigen::VectorXd& r) -> Eigen::VectorXd {
    const double scale = r.cwiseAbs().maxCoeff();
    if (scale == 0) return Eigen::VectorXd::Zero(r.size());
    const LowVector y = lu.solve(LowVector((r / scale).template cast<Low>()));
    Eigen::VectorXd d(y.size());
    for (Eigen::Index i = 0; i < y.size(); ++i) d(i) = static_cast<double>(y(i));
    return d * (scale / alpha);
  };
  const double a_norm = a.cwiseAbs().rowwise().sum().maxCoeff();
  Refinement out;
  auto record = [&](const Eigen::VectorXd& x) {
    const Eigen::VectorXd r = b - a * x;
    out.backward_error.push_back(r.cwiseAbs().maxCoeff() /
                                 (a_norm * x.cwiseAbs().maxCoeff() + b.cwiseAbs().maxCoeff()));
    out.forward_error.push_back((x - x_true).cwiseAbs().maxCoeff() / x_true.cwiseAbs().maxCoeff());
    return r;
  };
  out.x = solve(b);
  Eigen::VectorXd r = record(out.x);
  for (int k = 0; k < iterations; ++k) {
    out.x += solve(r);
    r = record(out.x);
    const size_t n = out.backward_error.size();
    if (n >= 3 && out.backward_error[n - 1] >= out.backward_error[n - 2] &&
        out.backward_error[n - 2] >= out.backward_error[n - 3])
      break;  // stagnated (or diverging) twice in a row
  }
  return out;
}

}  // namespace floatscope::experiments
