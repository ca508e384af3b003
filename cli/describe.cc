#include "cli/describe.h"

#include <fmt/format.h>

#include <boost/multiprecision/cpp_dec_float.hpp>
#include <cmath>

#include "cli/hex_codes.h"
#include "formats/convert.h"

namespace floatscope::cli {

std::string FieldBits(const Format& f, uint64_t code) {
  std::string s;
  auto bits = [&](int from, int count) {
    for (int i = count - 1; i >= 0; --i) s += ((code >> (from + i)) & 1) ? '1' : '0';
  };
  if (!IsFloat(f)) {
    bits(0, f.bits);
    return s;
  }
  if (f.is_signed) {
    bits(f.bits - 1, 1);
    s += ' ';
  }
  bits(f.mantissa_bits, f.exponent_bits);
  if (f.mantissa_bits > 0) {
    s += ' ';
    bits(0, f.mantissa_bits);
  }
  return s;
}

std::string NumberText(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x < 0 ? "-inf" : "inf";
  if (x == 0) return std::signbit(x) ? "-0" : "0";
  return fmt::format("{}", x);  // shortest text that reads back exactly
}

std::string ExactValueText(const Format& f, uint64_t code) {
  const double v = DecodeToF64(f, code);
  if (std::isnan(v) || std::isinf(v) || v == 0) return NumberText(v);
  // Exact decimal expansion: a binary fraction with k fractional bits has
  // exactly k fractional decimal digits; 1100 digits cover float64.
  using Dec = boost::multiprecision::number<boost::multiprecision::cpp_dec_float<1100>>;
  Dec d(v);
  std::string s = d.str(0, std::ios_base::fixed);
  if (s.find('.') != std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  return s;
}

std::string ScientificText(const Format& f, uint64_t code) {
  const Unpacked u = Unpack(f, code);
  switch (u.cls) {
    case Class::kNan: return "NaN";
    case Class::kInf: return u.sign ? "-infinity" : "+infinity";
    case Class::kZero: return u.sign ? "-0" : "+0";
    case Class::kFinite: break;
  }
  if (!IsFloat(f)) return fmt::format("{}{}", u.sign ? "-" : "", u.sig);
  const int m = f.mantissa_bits;
  const uint64_t field = ExponentFieldOf(f, code);
  const bool subnormal = field == 0 && f.has_zero;
  const int e = subnormal ? MinNormalExponent(f) : static_cast<int>(field) - f.bias;
  const uint64_t mant = code & MantissaMask(f);
  const double sig = (subnormal ? 0.0 : 1.0) + static_cast<double>(mant) / static_cast<double>(uint64_t{1} << m);
  return fmt::format("{}{} x 2^{}{}", u.sign ? "-" : "+", NumberText(sig), e, subnormal ? " (subnormal)" : "");
}

std::string DescribeCode(const Format& f, uint64_t code) {
  return fmt::format("{} [{}] = {}", FormatHexCode(code, f), FieldBits(f, code), ExactValueText(f, code));
}

}  // namespace floatscope::cli
