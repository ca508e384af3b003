#include "cli/format_table.h"

#include <fmt/format.h>

#include <cmath>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/cli_error.h"
#include "cli/describe.h"
#include "formats/catalog.h"
#include "formats/names.h"
#include "formats/spec_parser.h"

namespace floatscope::cli {

namespace {

// Number of codes that are NaN (counted, not enumerated, for wide formats).
double NanCodeCount(const Format& f) {
  const double sign_copies = f.is_signed ? 2.0 : 1.0;
  switch (f.nan) {
    case NanCodes::kNone: return 0;
    case NanCodes::kIeee: return sign_copies * (std::ldexp(1.0, f.mantissa_bits) - 1.0);
    case NanCodes::kAllOnes: return sign_copies;
    case NanCodes::kNegativeZero: return 1;
  }
  return 0;
}

// log2(max / smallest positive): how many binades the format spans.
double DynamicRangeBinades(const Format& f) { return std::log2(MaxFinite(f)) - std::log2(MinPositive(f)); }

const char* NanText(const Format& f) {
  switch (f.nan) {
    case NanCodes::kNone: return "none";
    case NanCodes::kIeee: return "ieee";
    case NanCodes::kAllOnes: return "all-ones";
    case NanCodes::kNegativeZero: return "0x80..";
  }
  return "?";
}

// Short enough for a table column: exact when short, else a power of two
// ("2^-149") or 4 significant digits.
std::string Num(double x) {
  std::string exact = NumberText(x);
  if (exact.size() <= 12) return exact;
  int e = 0;
  if (std::frexp(x, &e) == 0.5) return fmt::format("2^{}", e - 1);
  return fmt::format("{:.4g}", x);
}

void PrintTable(const std::vector<const Format*>& list) {
  std::cout << fmt::format("{:<13} {:>4} {:>3} {:>3} {:>5}  {:<12} {:<12} {:<12} {:<12} {:>7}  {:<4} {:<8} {:<3} {}\n",
                           "name", "bits", "e", "m", "bias", "max", "min normal", "min subnorm",
                           "epsilon", "binades", "inf", "nan", "-0", "overflow");
  for (const Format* pf : list) {
    const Format& f = *pf;
    const bool fl = IsFloat(f);
    const bool has_sub = fl && f.has_subnormals && f.has_zero && f.mantissa_bits > 0;
    std::cout << fmt::format(
        "{:<13} {:>4} {:>3} {:>3} {:>5}  {:<12} {:<12} {:<12} {:<12} {:>7.1f}  {:<4} {:<8} {:<3} {}\n", f.name,
        f.bits, fl ? std::to_string(f.exponent_bits) : "-", fl ? std::to_string(f.mantissa_bits) : "-",
        fl ? std::to_string(f.bias) : "-", Num(MaxFinite(f)), fl ? Num(MinNormal(f)) : "-",
        has_sub ? Num(MinPositive(f)) : "-", fl ? Num(Epsilon(f)) : "1", DynamicRangeBinades(f),
        HasInf(f) ? "yes" : "no", NanText(f), HasNegativeZero(f) ? "yes" : "no",
        OverflowNameOf(f.default_overflow));
  }
}

constexpr const char* kSpecHelp = R"(
FORMAT arguments are names from the table or custom specs:
  eEmM[:KEY=VALUE,...]   custom float; a bare eEmM is IEEE-like (bias 2^(E-1)-1,
                         infinities and NaNs in the top exponent field, subnormals)
  intN | uintN           custom integer, 2 <= N <= 32
Keys:
  bias=INT                         exponent bias
  inf=ieee|maxcode|no              infinities: top exponent field, mantissa 0 /
                                   the largest non-NaN magnitude (P3109) / none
  nan=ieee|ones|negzero|none       NaNs: top field, mantissa != 0 / only the all-ones
                                   magnitude (OCP E4M3) / the code 100..0 (fnuz) / none
  subnormals=yes|no                subnormals in exponent field 0 (no: that field is 0 only)
  zero=yes|no                      no: field 0 is an ordinary binade, no zero (e8m0fnu)
  signed=yes|no                    sign bit
  overflow=ieee|saturate|nan       the format's default overflow policy
Giving inf=no alone puts the NaN at the all-ones code (like e4m3fn); nan=... alone
drops the infinities. Examples: e5m6, e4m3:inf=no (= e4m3fn),
e4m3:bias=9,inf=no,nan=ones,subnormals=no, e7m0:bias=63,inf=maxcode (binary8p1 of the
2023 interim report, bias 63).
Named IEEE P3109 family: binaryKpP{s,u}{e,f}, K = 3..16 bits, precision P (signed:
1..K-1, unsigned: 1..K), e = with infinities, f = finite; binary8pP = binary8pPse.
Members whose exponent field exceeds 11 bits (values beyond float64) are not held.)";

}  // namespace

nlohmann::json FormatToJson(const Format& f) {
  using nlohmann::json;
  const bool fl = IsFloat(f);
  const bool has_sub = fl && f.has_subnormals && f.has_zero && f.mantissa_bits > 0;
  json j;
  j["name"] = f.name;
  j["kind"] = fl ? "float" : "integer";
  j["bits"] = f.bits;
  j["storage_bits"] = f.storage_bits;
  j["signed"] = f.is_signed;
  j["exponent_bits"] = fl ? json(f.exponent_bits) : json(nullptr);
  j["mantissa_bits"] = fl ? json(f.mantissa_bits) : json(nullptr);
  j["bias"] = fl ? json(f.bias) : json(nullptr);
  j["max"] = MaxFinite(f);
  j["min"] = f.is_signed ? (fl ? -MaxFinite(f) : -MaxFinite(f) - 1) : (f.has_zero ? 0.0 : MinPositive(f));
  j["min_normal"] = fl ? json(MinNormal(f)) : json(nullptr);
  j["min_subnormal"] = has_sub ? json(MinPositive(f)) : json(nullptr);
  j["epsilon"] = fl ? json(Epsilon(f)) : json(nullptr);
  j["dynamic_range_binades"] = DynamicRangeBinades(f);
  j["has_inf"] = HasInf(f);
  j["nan_codes"] = NanCodeCount(f);
  j["has_negative_zero"] = HasNegativeZero(f);
  j["has_subnormals"] = has_sub;
  j["has_zero"] = f.has_zero;
  j["default_overflow"] = OverflowNameOf(f.default_overflow);
  j["source"] = f.source;
  return j;
}

void RegisterFormatsCommand(CLI::App& app) {
  struct State {
    bool json = false;
    std::vector<std::string> names;
  };
  auto s = std::make_shared<State>();
  CLI::App* cmd = app.add_subcommand("formats", "List every named format (or the given ones) and its properties");
  cmd->add_flag("--json", s->json, "print a JSON array, one object per format");
  cmd->add_option("FORMAT", s->names, "names or custom specs to show (default: every named format)");
  cmd->footer(kSpecHelp);
  cmd->callback([s] {
    std::vector<const Format*> list;
    if (s->names.empty()) {
      // The catalog, then the P3109 family (formats/p3109.h), every member
      // floatscope holds.
      for (const Format& f : formats::kAll) list.push_back(&f);
      for (const Format& f : p3109::kFamily) list.push_back(&f);
    } else {
      for (const std::string& n : s->names) {
        std::string error;
        const Format* f = ResolveFormat(n, &error);
        if (!f) throw UsageError(error);
        list.push_back(f);
      }
    }
    if (s->json) {
      nlohmann::json arr = nlohmann::json::array();
      for (const Format* f : list) arr.push_back(FormatToJson(*f));
      std::cout << arr.dump(2) << "\n";
    } else {
      PrintTable(list);
    }
  });
}

}  // namespace floatscope::cli
