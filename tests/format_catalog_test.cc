// The catalog: every named format is coherent, findable, and its limits are
// the published ones (more limits are pinned by static_asserts in
// formats/catalog.h).
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "formats/catalog.h"
#include "formats/p3109.h"
#include "formats/spec_parser.h"

using namespace floatscope;

TEST_CASE("every named format validates and is found by its name") {
  std::set<std::string> names;
  for (const Format& f : formats::kAll) {
    CAPTURE(f.name);
    CHECK(ValidateFormat(f) == "");
    CHECK(FindNamedFormat(f.name) == &f);
    CHECK(names.insert(f.name).second);
  }
  CHECK(names.size() == 27);
}

TEST_CASE("DESIGN.md's names are all there") {
  for (const char* n : {"f64", "f32", "tf32", "f16", "bf16", "e5m2", "e4m3fn", "e4m3", "e4m3fnuz", "e5m2fnuz",
                        "e4m3b11fnuz", "e3m4", "binary8p1", "binary8p2", "binary8p3", "binary8p4", "binary8p5",
                        "binary8p6", "binary8p7", "e2m3fn", "e3m2fn", "e2m1fn", "e8m0fnu", "int8", "uint8", "int4",
                        "uint4"}) {
    CAPTURE(n);
    CHECK(FindNamedFormat(n) != nullptr);
  }
}

TEST_CASE("OCP and IEEE published limits") {
  CHECK(MaxFinite(formats::kE4m3fn) == 448.0);
  CHECK(MaxFinite(formats::kE5m2) == 57344.0);
  CHECK(MaxFinite(formats::kE2m1fn) == 6.0);
  CHECK(MaxFinite(formats::kE2m3fn) == 7.5);
  CHECK(MaxFinite(formats::kE3m2fn) == 28.0);
  CHECK(MaxFinite(formats::kF16) == 65504.0);
  CHECK(Epsilon(formats::kBf16) == 0x1p-7);
  CHECK(MinPositive(formats::kE8m0fnu) == 0x1p-127);
}

TEST_CASE("every P3109 family member validates, is found by its name, and only once") {
  std::set<std::string> names;
  for (const Format& f : p3109::kFamily) {
    CAPTURE(f.name);
    CHECK(ValidateFormat(f) == "");
    CHECK(FindNamedFormat(f.name) == &f);
    CHECK(names.insert(f.name).second);
    CHECK(FindNamedFormat(f.name) != nullptr);
  }
  // K = 3..16; signed P = 1..K-1, unsigned P = 1..K; e and f; less the
  // members with an exponent field wider than 11 bits (signed P < K-11:
  // 1+2+3+4 of them, unsigned P < K-10: 1+2+3+4+5), which float64 cannot hold.
  int defined = 0;
  for (int k = 3; k <= 16; ++k) defined += 2 * ((k - 1) + k);
  CHECK(defined == 504);
  CHECK(names.size() == 504 - 2 * (10 + 15));
  for (const Format& f : formats::kAll) CHECK(names.count(f.name) == 0);
}

TEST_CASE("binary8pP is binary8pPse") {
  const Format* alias[] = {&formats::kBinary8p1, &formats::kBinary8p2, &formats::kBinary8p3, &formats::kBinary8p4,
                           &formats::kBinary8p5, &formats::kBinary8p6, &formats::kBinary8p7};
  for (int p = 1; p <= 7; ++p) {
    const Format& a = *alias[p - 1];
    const Format* se = FindNamedFormat("binary8p" + std::to_string(p) + "se");
    CAPTURE(p);
    REQUIRE(se != nullptr);
    CHECK(se->bits == a.bits);
    CHECK(se->exponent_bits == a.exponent_bits);
    CHECK(se->mantissa_bits == a.mantissa_bits);
    CHECK(se->bias == a.bias);
    CHECK(se->inf == a.inf);
    CHECK(se->nan == a.nan);
    CHECK(se->is_signed == a.is_signed);
    CHECK(se->has_subnormals == a.has_subnormals);
    CHECK(se->default_overflow == a.default_overflow);
  }
}

TEST_CASE("P3109 limits from the WG's value tables") {
  // Binary8p1se: 0x01 = 2^-63, 0x40 = 1, 0x7E = 2^62 (issue 15: bias 64, not 63).
  CHECK(MinPositive(formats::kBinary8p1) == 0x1p-63);
  CHECK(MaxFinite(formats::kBinary8p1) == 0x1p62);
  CHECK(formats::kBinary8p1.bias == 64);
  // Binary8p3ue: 0x01 = 2^-33 (subnormal), 0x04 = 2^-31, 0x80 = 1, 0xFD max, 0xFE inf, 0xFF NaN.
  const Format& ue = *FindNamedFormat("binary8p3ue");
  CHECK(ue.bias == 32);
  CHECK(MinPositive(ue) == 0x1p-33);
  CHECK(MinNormal(ue) == 0x1p-31);
  CHECK(MaxFinite(ue) == 0x1.4p31);
  CHECK(IsInfCode(ue, 0xFE));
  CHECK(IsNanCode(ue, 0xFF));
  CHECK(!IsNanCode(ue, 0x80));
  // Binary8p4sf: no infinity, 0x7F is the largest value (1.875 * 2^7 = 240).
  const Format& sf = *FindNamedFormat("binary8p4sf");
  CHECK(!HasInf(sf));
  CHECK(MaxFinite(sf) == 240.0);
  CHECK(IsNanCode(sf, 0x80));
  CHECK(sf.default_overflow == Overflow::kSaturate);
  // Binary8p8uf: one exponent bit; 0xFE = 1.984375 is the largest value.
  const Format& p8 = *FindNamedFormat("binary8p8uf");
  CHECK(p8.exponent_bits == 1);
  CHECK(MaxFinite(p8) == 1.984375);
  CHECK(MinPositive(p8) == 0x1p-7);
}
