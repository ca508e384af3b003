// emulate/arith.h for f32 and f64 against the host's IEEE 754 hardware
// (x86-64 SSE: binary32/binary64 add, sub, mul, div, sqrt and std::fma,
// tininess detected after rounding), results and flags, in the four
// directed modes of fesetround and round-to-nearest-even.
//
// The host is an oracle here because its arithmetic is correctly rounded by
// IEEE 754 and these formats are its own; flags come from fetestexcept. The
// operations are done on volatile operands between feclearexcept and
// fetestexcept, so the compiler cannot move or fold them (this file is
// built with -frounding-math as well).
//
// NaN results compare as "a NaN" (x86's default NaN is negative; floatscope
// gives the positive canonical NaN); their flags compare exactly, with one
// exception: fma(0, inf, quiet NaN). IEEE 754-2019 7.2(c) leaves it to the
// implementation whether that signals invalid; x86 does not, SoftFloat
// (TestFloat's reference) and floatscope do, so there the host's flags are
// taken with invalid added.
//
// Samples per (format, op) in rne: FLOATSCOPE_ARITH_SAMPLES (default 10^6;
// the 'exhaustive' suite runs 10^7); directed modes take a quarter each
// unless the variable is set.
#include <doctest/doctest.h>

#include <cfenv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "emulate/arith.h"
#include "formats/catalog.h"
#include "formats/names.h"
#include "formats/convert.h"
#include "tests/arith/host_fenv.h"

using namespace floatscope;

namespace {

uint64_t Samples() {
  const char* s = std::getenv("FLOATSCOPE_ARITH_SAMPLES");
  return s ? std::strtoull(s, nullptr, 10) : 1000000;
}

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

using arith_test::FlagsFromHost;
using arith_test::FromBits;

// The host's result and flags for one op on T = float or double.
template <typename T>
Result HostOp(ArithOp op, T a, T b, T c) {
  volatile T va = a, vb = b, vc = c;
  volatile T r;
  std::feclearexcept(FE_ALL_EXCEPT);
  switch (op) {
    case ArithOp::kAdd: r = va + vb; break;
    case ArithOp::kSub: r = va - vb; break;
    case ArithOp::kMul: r = va * vb; break;
    case ArithOp::kDiv: r = va / vb; break;
    case ArithOp::kSqrt: r = std::sqrt(va); break;
    case ArithOp::kMulAdd: r = std::fma(va, vb, vc); break;
  }
  const int e = std::fetestexcept(FE_ALL_EXCEPT);
  const T out = r;
  return Result{BitsOf(out), FlagsFromHost(e)};
}

// Operands that make the interesting cases frequent: specials, nearby
// exponents (cancellation, ties), products near the addend, subnormals.
template <typename T>
struct Gen {
  static constexpr int kBits = sizeof(T) * 8;
  static constexpr int kMant = kBits == 32 ? 23 : 52;
  static constexpr int kExpBits = kBits - 1 - kMant;
  static constexpr int64_t kFieldMax = (int64_t{1} << kExpBits) - 1;
  static constexpr int64_t kBias = kFieldMax / 2;
  uint64_t state;

  uint64_t Rand() { return SplitMix64(state); }

  uint64_t Special() {
    const uint64_t sign = (Rand() & 1) << (kBits - 1);
    const uint64_t inf = uint64_t(kFieldMax) << kMant, quiet = uint64_t{1} << (kMant - 1);
    const uint64_t mant_ones = (uint64_t{1} << kMant) - 1;
    const uint64_t table[] = {0, inf, inf | quiet, inf | quiet | 5, inf | 1, inf | (quiet >> 1),
                              1, mant_ones, uint64_t{1} << kMant, inf - 1,
                              uint64_t(kBias) << kMant, (uint64_t(kBias) << kMant) | 1};
    return sign | table[Rand() % (sizeof(table) / sizeof(table[0]))];
  }

  uint64_t Mantissa() {
    uint64_t m = Rand() & ((uint64_t{1} << kMant) - 1);
    switch (Rand() % 4) {
      case 0: m &= ~uint64_t{0} << (Rand() % kMant); break;                    // trailing zeros
      case 1: m |= (uint64_t{1} << (Rand() % kMant)) - 1; break;               // trailing ones
      default: break;
    }
    return m;
  }

  uint64_t WithField(int64_t field) {
    if (field < 0) field = 0;
    if (field > kFieldMax - 1) field = kFieldMax - 1;
    return ((Rand() & 1) << (kBits - 1)) | (uint64_t(field) << kMant) | Mantissa();
  }

  int64_t FieldOf(uint64_t x) const { return int64_t((x >> kMant) & uint64_t(kFieldMax)); }
  int64_t Near(int64_t field, int spread) { return field + int64_t(Rand() % (2 * spread + 1)) - spread; }

  void Next(uint64_t x[3]) {
    const uint64_t kind = Rand() % 16;
    if (kind == 0) {
      for (int i = 0; i < 3; ++i) x[i] = Rand() >> (64 - kBits);
      return;
    }
    if (kind == 1) {
      for (int i = 0; i < 3; ++i) x[i] = (Rand() & 1) ? Special() : WithField(int64_t(Rand() % uint64_t(kFieldMax)));
      return;
    }
    // Near the subnormal range one time in four.
    const int64_t fa = (kind < 6) ? int64_t(Rand() % (kMant + 4)) : int64_t(Rand() % uint64_t(kFieldMax));
    x[0] = WithField(fa);
    x[1] = WithField(Near(fa, kMant + 4));
    if (kind == 6) x[1] = WithField(Near(kBias, kMant + 4));  // products and quotients near a
    x[2] = WithField(Near(FieldOf(x[0]) + FieldOf(x[1]) - kBias, kMant + 4));
  }
};

bool ZeroTimesInfPlusQuietNan(const Format& f, const uint64_t x[3]) {
  const Unpacked a = Unpack(f, x[0]), b = Unpack(f, x[1]), c = Unpack(f, x[2]);
  const bool zero_inf = (a.cls == Class::kZero && b.cls == Class::kInf) ||
                        (a.cls == Class::kInf && b.cls == Class::kZero);
  return zero_inf && c.cls == Class::kNan && !c.signaling;
}

std::string Hex(uint64_t x) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(x));
  return buf;
}

template <typename T>
void CompareWithHost(const Format& f, uint64_t seed) {
  constexpr struct {
    Rounding mode;
    int host;
  } kModes[] = {{Rounding::kNearestEven, FE_TONEAREST},
                {Rounding::kTowardZero, FE_TOWARDZERO},
                {Rounding::kDown, FE_DOWNWARD},
                {Rounding::kUp, FE_UPWARD}};
  constexpr ArithOp kOps[] = {ArithOp::kAdd, ArithOp::kSub, ArithOp::kMul,
                              ArithOp::kDiv, ArithOp::kSqrt, ArithOp::kMulAdd};
  const uint64_t n = Samples();
  for (const auto& m : kModes) {
    const bool full = std::getenv("FLOATSCOPE_ARITH_SAMPLES") != nullptr;
    const uint64_t count = full || m.mode == Rounding::kNearestEven ? n : n / 4;
    for (ArithOp op : kOps) {
      Gen<T> gen{seed ^ (uint64_t(op) << 8) ^ uint64_t(m.host)};
      Options opt;
      opt.rounding = m.mode;
      uint64_t failed = 0;
      for (uint64_t i = 0; i < count; ++i) {
        uint64_t x[3];
        gen.Next(x);
        if (std::fesetround(m.host) != 0) FAIL("fesetround refused the mode");
        Result host = HostOp<T>(op, FromBits<T>(x[0]), FromBits<T>(x[1]), FromBits<T>(x[2]));
        std::fesetround(FE_TONEAREST);
        if (op == ArithOp::kMulAdd && ZeroTimesInfPlusQuietNan(f, x)) host.flags |= kInvalid;
        const Result got = ApplyArith(op, f, x, opt, i);
        const bool same = (got.code == host.code || (IsNanCode(f, got.code) && IsNanCode(f, host.code))) &&
                          got.flags == host.flags;
        if (!same && ++failed <= 5) {
          FAIL_CHECK(std::string(f.name) << "_" << std::string(ArithOpName(op)) << " ["
                            << std::string(RoundingNameOf(m.mode)) << "] " << Hex(x[0]) << " "
                            << Hex(x[1]) << " " << Hex(x[2]) << ": host " << Hex(host.code) << " flags "
                            << int{host.flags} << ", floatscope " << Hex(got.code) << " flags "
                            << int{got.flags});
        }
      }
      CHECK_MESSAGE(failed == 0, std::string(f.name) << "_" << std::string(ArithOpName(op)) << " ["
                                                     << std::string(RoundingNameOf(m.mode)) << "]: " << failed
                                                     << " of " << count << " differ");
    }
  }
}

}  // namespace

TEST_CASE("f32 arithmetic equals the host's binary32 (results and flags)") {
  CompareWithHost<float>(formats::kF32, 0xF32);
}

TEST_CASE("f64 arithmetic equals the host's binary64 (results and flags)") {
  CompareWithHost<double>(formats::kF64, 0xF64);
}

TEST_CASE("the host comparison can fail") {
  // A wrong rounding mode is caught: rup vs the host's round-to-nearest.
  Options up;
  up.rounding = Rounding::kUp;
  const Result host = HostOp<float>(ArithOp::kDiv, 1.0f, 3.0f, 0.0f);
  CHECK(host.code == 0x3EAAAAABu);  // 1/3 rounds up to ...AB in rne
  CHECK(host.flags == kInexact);
  CHECK(Div(formats::kF32, 0x3F800000, 0x40400000).code == host.code);
  CHECK(Div(formats::kF32, 0x3F800000, 0x40400000, up).code == host.code);
  Options down;
  down.rounding = Rounding::kDown;
  CHECK(Div(formats::kF32, 0x3F800000, 0x40400000, down).code != host.code);
}
