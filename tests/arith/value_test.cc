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
#include <limits>

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
