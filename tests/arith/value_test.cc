// floatscope::value<F, R> (emulate/value.h): each operator is the
// emulate/arith.h operation (checked on random codes), the limits are the
// format's published numbers, negation is exact, and Eigen runs on it:
// exact integer products stay exact, an LU solve in f16 has an f16-sized
// backward error, and mixed-precision iterative refinement
// (experiments/iterative_refinement.h) reaches float64 accuracy from f16
// and bf16 factorizations but not from FP8 ones.
#include <Eigen/Dense>
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>

#include "emulate/dot.h"
#include "emulate/value.h"
#include "experiments/iterative_refinement.h"
#include "tests/arith/arith_compare.h"

using namespace floatscope;

using half = value<formats::kF16>;
using bf16 = value<formats::kBf16>;
using e4m3 = value<formats::kE4m3fn>;
using half_rtz = value<formats::kF16, Rounding::kTowardZero>;

namespace {

template <typename V>
void OperatorsAreArith(uint64_t seed) {
  const Format& f = V::format();
  Options opt;
  opt.rounding = V::rounding;
  for (uint64_t i = 0; i < 200000; ++i) {
    const uint64_t a = arith_test::Draw(seed, i, 0) & CodeMask(f), b = arith_test::Draw(seed, i, 1) & CodeMask(f),
                   c = arith_test::Draw(seed, i, 2) & CodeMask(f);
    const V x = V::FromCode(a), y = V::FromCode(b), z = V::FromCode(c);
    REQUIRE((x + y).code() == Add(f, a, b, opt).code);
    REQUIRE((x - y).code() == Sub(f, a, b, opt).code);
    REQUIRE((x * y).code() == Mul(f, a, b, opt).code);
    REQUIRE((x / y).code() == Div(f, a, b, opt).code);
    REQUIRE(sqrt(x).code() == Sqrt(f, a, opt).code);
    REQUIRE(fma(x, y, z).code() == MulAdd(f, a, b, c, opt).code);
    // Comparisons are those of the exact values.
    const double dx = DecodeToF64(f, a), dy = DecodeToF64(f, b);
    REQUIRE((x < y) == (dx < dy));
    REQUIRE((x == y) == (dx == dy));
    REQUIRE((x >= y) == (dx >= dy));
  }
}

}  // namespace

TEST_CASE("value operators are emulate/arith.h's operations") {
  OperatorsAreArith<half>(1);
  OperatorsAreArith<bf16>(2);
  OperatorsAreArith<e4m3>(3);
  OperatorsAreArith<half_rtz>(4);
  OperatorsAreArith<value<formats::kE2m1fn, Rounding::kOdd>>(5);
}

TEST_CASE("value rounds like the format: worked cases") {
  CHECK(half(1) + half(std::ldexp(1.0, -11)) == half(1));  // tie to even
  CHECK((half(1) + half(std::ldexp(1.0, -11))).code() == 0x3C00);
  CHECK(half(0.1).code() == 0x2E66);  // 0.1 = 1.1001100110|011.. * 2^-4
  CHECK(half_rtz(1.0 / 3).code() == 0x3555);
  CHECK(half(65504) + half(16) == std::numeric_limits<half>::infinity());
  // fma rounds once: (1 + 2^-10)^2 - (1 + 2^-9) = 2^-20.
  const half a = half::FromCode(0x3C01), c = half::FromCode(0xBC02);
  CHECK(static_cast<double>(fma(a, a, c)) == std::ldexp(1.0, -20));
  CHECK(static_cast<double>(a * a + c) == 0.0);
  // Mixed with plain numbers: they are rounded into the format first.
  CHECK((half(3) * 0.5).code() == half(1.5).code());
  CHECK(e4m3(448) + e4m3(32) != e4m3(448) + e4m3(32));  // NaN (overflow): unordered
  CHECK(isnan(e4m3(448) + e4m3(32)));
}

TEST_CASE("negation is exact and keeps the format's zero and NaN rules") {
  CHECK((-half(1.5)).code() == 0xBE00);
  CHECK((-half(0)).code() == 0x8000);
  CHECK((-half::FromCode(0x7E05)).code() == 0xFE05);
  using fnuz = value<formats::kE4m3fnuz>;
  CHECK((-fnuz(0)).code() == 0x00);  // no -0: still zero, not the NaN 0x80
  CHECK((-fnuz::FromCode(0x80)).code() == 0x80);
  CHECK(abs(half(-2.5)) == half(2.5));
}

TEST_CASE("numeric_limits and Eigen::NumTraits give the published numbers") {
  using L = std::numeric_limits<half>;
  CHECK(static_cast<double>(L::max()) == 65504.0);
  CHECK(static_cast<double>(L::lowest()) == -65504.0);
  CHECK(static_cast<double>(L::min()) == std::ldexp(1.0, -14));
  CHECK(static_cast<double>(L::denorm_min()) == std::ldexp(1.0, -24));
  CHECK(static_cast<double>(L::epsilon()) == std::ldexp(1.0, -10));
  CHECK(L::digits == 11);
  CHECK(L::digits10 == 3);  // as numpy's float16 (precision 3)
  CHECK(L::max_exponent == 16);
  CHECK(L::min_exponent == -13);
  CHECK(std::numeric_limits<bf16>::digits10 == 2);
  CHECK(std::numeric_limits<value<formats::kF32>>::digits10 == std::numeric_limits<float>::digits10);
  CHECK(std::numeric_limits<value<formats::kF64>>::digits10 == std::numeric_limits<double>::digits10);
  CHECK(std::numeric_limits<value<formats::kF32>>::max_exponent == std::numeric_limits<float>::max_exponent);
  CHECK(std::numeric_limits<value<formats::kF32>>::min_exponent == std::numeric_limits<float>::min_exponent);
  CHECK(static_cast<double>(std::numeric_limits<e4m3>::max()) == 448.0);
  CHECK(!std::numeric_limits<e4m3>::has_infinity);
  CHECK(static_cast<double>(Eigen::NumTraits<half>::epsilon()) == std::ldexp(1.0, -10));
  CHECK(static_cast<double>(Eigen::NumTraits<bf16>::highest()) == std::ldexp(255.0, 120));
  CHECK(Eigen::NumTraits<half>::digits10() == 3);
}

TEST_CASE("Eigen: exact integer products stay exact, rounding shows where it must") {
  using M = Eigen::Matrix<half, Eigen::Dynamic, Eigen::Dynamic>;
  Eigen::MatrixXd a(4, 4), b(4, 4);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      a(i, j) = (i * 7 + j * 3) % 11 - 5;
      b(i, j) = (i * 5 + j * 2) % 9 - 4;
    }
  const M p = a.cast<half>() * b.cast<half>();  // every partial sum is an integer below 2^11
  const Eigen::MatrixXd exact = a * b;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) CHECK(static_cast<double>(p(i, j)) == exact(i, j));
  // 2048 + 1 is not an f16: a sum across that boundary rounds.
  Eigen::Matrix<half, 3, 1> v(half(2048), half(1), half(1));
  const half s = v.sum();
  CHECK((static_cast<double>(s) == 2048.0 || static_cast<double>(s) == 2050.0));
}

TEST_CASE("Eigen LU in f16: backward error of the order of f16's unit roundoff") {
  const int n = 30;
  const Eigen::MatrixXd a = experiments::MatrixWithCondition(n, 10, 7);
  const Eigen::VectorXd b = a * Eigen::VectorXd::Ones(n);
  using M = Eigen::Matrix<half, Eigen::Dynamic, Eigen::Dynamic>;
  using V = Eigen::Matrix<half, Eigen::Dynamic, 1>;
  const Eigen::PartialPivLU<M> lu(M(a.cast<half>()));
  const V x = lu.solve(V(b.cast<half>()));
  Eigen::VectorXd xd(n);
  for (int i = 0; i < n; ++i) xd(i) = static_cast<double>(x(i));
  const double berr = (b - a * xd).cwiseAbs().maxCoeff() /
                      (a.cwiseAbs().rowwise().sum().maxCoeff() * xd.cwiseAbs().maxCoeff() + b.cwiseAbs().maxCoeff());
  const double u = std::ldexp(1.0, -11);
  CHECK(berr < 10 * n * u);  // Wilkinson-style bound, loose
  CHECK(berr > u / 100);     // ... and really computed in f16, not in double
}

TEST_CASE("mixed-precision iterative refinement: f16/bf16 LU reach float64 accuracy, FP8 does not") {
  const int n = 40;
  const Eigen::MatrixXd a = experiments::MatrixWithCondition(n, 100, 11);
  const Eigen::VectorXd x_true = Eigen::VectorXd::Ones(n);
  const Eigen::VectorXd b = a * x_true;
  const auto f16 = experiments::Refine<half>(a, b, x_true, 12);
  INFO("f16 backward errors: " << f16.backward_error.front() << " ... " << f16.backward_error.back());
  CHECK(f16.backward_error.front() > 1e-5);  // the plain f16 solve
  CHECK(f16.backward_error.back() < 1e-15);  // refined to float64 level
  CHECK(f16.forward_error.back() < 1e-12);
  const auto b16 = experiments::Refine<bf16>(a, b, x_true, 30);
  CHECK(b16.backward_error.front() > 1e-4);
  CHECK(b16.backward_error.back() < 1e-15);
  // cond * u = 100 / 16 > 1: refinement from an e4m3fn LU cannot converge.
  const auto fp8 = experiments::Refine<e4m3>(a, b, x_true, 12);
  CHECK(fp8.backward_error.back() > 1e-6);
}

namespace {

// Deterministic values in [-1, 1] with 4 decimals: most are not bf16 values,
// and most bf16 products and sums of them round.
template <typename M>
M RandomMatrix(int rows, int cols, uint64_t seed) {
  M m(rows, cols);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j)
      m(i, j) = typename M::Scalar(static_cast<double>(arith_test::Draw(seed, static_cast<uint64_t>(i), static_cast<uint64_t>(j)) % 20001) / 10000.0 - 1.0);
  return m;
}

// The documented order (emulate/value.h): p_l = a(i, l) * b(l, j) rounded,
// then ((p_0 + p_1) + p_2) + ... left to right, every sum rounded.
template <typename MA, typename MB>
bf16 LeftFold(const MA& a, const MB& b, int i, int j) {
  bf16 s = a(i, 0) * b(0, j);
  for (int l = 1; l < a.cols(); ++l) s = s + a(i, l) * b(l, j);
  return s;
}

}  // namespace

TEST_CASE("Eigen products sum each element left to right (lazyProduct, small and fixed-size products)") {
  using M = Eigen::Matrix<bf16, Eigen::Dynamic, Eigen::Dynamic>;
  const int m = 6, k = 45, n = 7;
  const M a = RandomMatrix<M>(m, k, 31), b = RandomMatrix<M>(k, n, 32);
  const M p = a.lazyProduct(b);
  int tree_differs = 0;
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      CHECK(p(i, j).code() == LeftFold(a, b, i, j).code());
      // The same as emulate/dot.h's kSequential with a bf16 accumulator.
      std::vector<uint64_t> x(k), y(k);
      for (int l = 0; l < k; ++l) {
        x[l] = a(i, l).code();
        y[l] = b(l, j).code();
      }
      DotModel seq;
      CHECK(p(i, j).code() == Dot(formats::kBf16, x.data(), 1, y.data(), 1, k, formats::kBf16, seq).code);
      DotModel pairwise;
      pairwise.accumulation = Accumulation::kPairwise;
      tree_differs += p(i, j).code() != Dot(formats::kBf16, x.data(), 1, y.data(), 1, k, formats::kBf16, pairwise).code;
    }
  CHECK(tree_differs > 0);  // the order is visible in bf16: the check above can fail
  // operator* of dynamic matrices with rows + cols + depth < 20 is the lazy product.
  const M a2 = RandomMatrix<M>(3, 9, 33), b2 = RandomMatrix<M>(9, 4, 34);
  const M p2 = a2 * b2;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) CHECK(p2(i, j).code() == LeftFold(a2, b2, i, j).code());
  // Fixed sizes: the same left fold, except where Eigen unrolls the sum
  // completely (depth <= 3 with value<>'s costs): then it halves the range,
  // sum(l, len) = sum(l, len/2) + sum(l + len/2, len - len/2), so a depth
  // of 3 gives p_0 + (p_1 + p_2).
  using M34 = Eigen::Matrix<bf16, 3, 4>;
  using M43 = Eigen::Matrix<bf16, 4, 3>;
  using M33 = Eigen::Matrix<bf16, 3, 3>;
  int fold_differs_3 = 0;
  for (uint64_t trial = 0; trial < 50; ++trial) {
    const M34 a4 = RandomMatrix<M34>(3, 4, 100 + trial);
    const M43 b4 = RandomMatrix<M43>(4, 3, 200 + trial);
    const M33 p4 = a4 * b4;
    const M33 a3 = RandomMatrix<M33>(3, 3, 300 + trial), b3 = RandomMatrix<M33>(3, 3, 400 + trial);
    const M33 p3 = a3 * b3;
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        CHECK(p4(i, j).code() == LeftFold(a4, b4, i, j).code());
        const bf16 tree = a3(i, 0) * b3(0, j) + (a3(i, 1) * b3(1, j) + a3(i, 2) * b3(2, j));
        CHECK(p3(i, j).code() == tree.code());
        fold_differs_3 += tree.code() != LeftFold(a3, b3, i, j).code();
      }
  }
  CHECK(fold_differs_3 > 0);
}

TEST_CASE("Eigen in bf16: matrix product, PartialPivLU solve and HouseholderQR, all rounded to bf16") {
  using M = Eigen::Matrix<bf16, Eigen::Dynamic, Eigen::Dynamic>;
  using V = Eigen::Matrix<bf16, Eigen::Dynamic, 1>;
  const int n = 24;
  const double u = std::ldexp(1.0, -8);  // bf16's unit roundoff
  auto to_double = [](const auto& x) {
    Eigen::MatrixXd d(x.rows(), x.cols());
    for (int i = 0; i < x.rows(); ++i)
      for (int j = 0; j < x.cols(); ++j) d(i, j) = static_cast<double>(x(i, j));
    return d;
  };
  const Eigen::MatrixXd ad = experiments::MatrixWithCondition(n, 10, 21);
  const M a = ad.cast<bf16>();
  const Eigen::MatrixXd a_exact = to_double(a);  // the bf16 matrix, exactly
  // Product: every element within the textbook bound n u sum |a||b| of the exact one.
  const M p = a * a;
  const Eigen::MatrixXd pd = to_double(p), exact = a_exact * a_exact;
  const Eigen::MatrixXd bound = a_exact.cwiseAbs() * a_exact.cwiseAbs();
  double worst = 0;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) worst = std::max(worst, std::fabs(pd(i, j) - exact(i, j)) / bound(i, j));
  CHECK(worst < n * u);
  CHECK(worst > u / 64);  // rounded in bf16, not in double
  // LU solve.
  const Eigen::VectorXd b = a_exact * Eigen::VectorXd::Ones(n);
  const Eigen::PartialPivLU<M> lu(a);
  const V x = lu.solve(V(b.cast<bf16>()));
  const Eigen::VectorXd xd = to_double(x);
  auto backward = [&](const Eigen::VectorXd& y) {
    return (b - a_exact * y).cwiseAbs().maxCoeff() /
           (a_exact.cwiseAbs().rowwise().sum().maxCoeff() * y.cwiseAbs().maxCoeff() + b.cwiseAbs().maxCoeff());
  };
  CHECK(backward(xd) < 10 * n * u);
  CHECK(backward(xd) > u / 100);
  // Householder QR: A = QR with Q orthogonal to bf16 accuracy, R upper triangular.
  const Eigen::HouseholderQR<M> qr(a);
  const M r = qr.matrixQR().triangularView<Eigen::Upper>();
  const M q = qr.householderQ();
  const Eigen::MatrixXd qd = to_double(q), rd = to_double(r);
  for (int i = 1; i < n; ++i)
    for (int j = 0; j < i; ++j) REQUIRE(rd(i, j) == 0.0);
  const double qr_err = (qd * rd - a_exact).norm() / a_exact.norm();
  const double orth = (qd.transpose() * qd - Eigen::MatrixXd::Identity(n, n)).norm();
  CHECK(qr_err < 10 * n * u);
  CHECK(qr_err > u / 100);
  CHECK(orth < 10 * n * u);
  CHECK(orth > u / 100);
  const V xq = qr.solve(V(b.cast<bf16>()));
  CHECK(backward(to_double(xq)) < 10 * n * u);
}
