// Custom format specs: what they mean, and one clear error for each
// impossible or malformed spec.
#include <doctest/doctest.h>

#include <string>

#include "formats/spec_parser.h"

using namespace floatscope;

namespace {
std::string ErrorOf(const char* spec) {
  std::string e;
  CHECK(ResolveFormat(spec, &e) == nullptr);
  return e;
}
}  // namespace

TEST_CASE("names resolve to the catalog entries") {
  std::string e;
  CHECK(ResolveFormat("e4m3fn", &e) == FindNamedFormat("e4m3fn"));
  CHECK(std::string(ResolveFormat("e4m3fn", &e)->name) == "e4m3fn");
}

TEST_CASE("a bare eEmM is IEEE-like") {
  std::string e;
  const Format* f = ResolveFormat("e5m6", &e);
  REQUIRE(f);
  CHECK(f->bits == 12);
  CHECK(f->storage_bits == 16);
  CHECK(f->bias == 15);
  CHECK(HasInf(*f));
  CHECK(f->nan == NanCodes::kIeee);
  CHECK(MaxFinite(*f) == 65504.0 * (127.0 / 64.0) / (2047.0 / 1024.0));
}

TEST_CASE("e4m3:inf=no is the OCP E4M3 (NaN moves to all-ones)") {
  std::string e;
  const Format* f = ResolveFormat("e4m3:inf=no", &e);
  REQUIRE(f);
  CHECK(MaxFinite(*f) == 448.0);
  CHECK(f->nan == NanCodes::kAllOnes);
}

TEST_CASE("DESIGN.md's example spec") {
  std::string e;
  const Format* f = ResolveFormat("e4m3:bias=9,inf=no,nan=ones,subnormals=no", &e);
  REQUIRE(f);
  CHECK(f->bias == 9);
  CHECK(!f->has_subnormals);
  CHECK(MaxFinite(*f) == 1.75 * 64.0);
  CHECK(MinPositive(*f) == 0x1p-8);
}

TEST_CASE("the 2023 interim report's binary8p1 (bias 63) as a spec") {
  std::string e;
  const Format* f = ResolveFormat("e7m0:bias=63,inf=maxcode", &e);
  REQUIRE(f);
  CHECK(MaxFinite(*f) == 0x1p63);
  CHECK(f->nan == NanCodes::kNegativeZero);
}

TEST_CASE("P3109 family members spelled as specs equal the named ones") {
  // The grammar reaches every family member: W = K-P (+1 unsigned)
  // exponent bits, P-1 mantissa bits, bias 2^(W-1), maxcode infinities or
  // none; the NaN follows the sign (100..0 signed, all-ones unsigned).
  struct Case {
    const char* name;
    const char* spec;
  };
  for (const Case& c : {Case{"binary8p3se", "e5m2:bias=16,inf=maxcode"},
                        Case{"binary8p3sf", "e5m2:bias=16,inf=no,nan=negzero,overflow=saturate"},
                        Case{"binary8p3ue", "e6m2:bias=32,signed=no,inf=maxcode"},
                        Case{"binary8p3uf", "e6m2:bias=32,signed=no,inf=no,nan=ones,overflow=saturate"},
                        Case{"binary3p3ue", "e1m2:bias=1,signed=no,inf=maxcode"},
                        Case{"binary16p5se", "e11m4:bias=1024,inf=maxcode"}}) {
    CAPTURE(c.name);
    std::string e;
    const Format* named = ResolveFormat(c.name, &e);
    const Format* spec = ResolveFormat(c.spec, &e);
    CAPTURE(e);
    REQUIRE(named);
    REQUIRE(spec);
    CHECK(named->bits == spec->bits);
    CHECK(named->is_signed == spec->is_signed);
    CHECK(named->exponent_bits == spec->exponent_bits);
    CHECK(named->mantissa_bits == spec->mantissa_bits);
    CHECK(named->bias == spec->bias);
    CHECK(named->inf == spec->inf);
    CHECK(named->nan == spec->nan);
    CHECK(named->has_subnormals == spec->has_subnormals);
    CHECK(named->default_overflow == spec->default_overflow);
    CHECK(MaxFinite(*named) == MaxFinite(*spec));
  }
}

TEST_CASE("inf=maxcode with nan=ones: +-inf just below the all-ones NaN") {
  std::string e;
  const Format* f = ResolveFormat("e4m3:inf=maxcode,nan=ones", &e);
  REQUIRE(f);
  CHECK(IsInfCode(*f, 0x7E));
  CHECK(IsInfCode(*f, 0xFE));
  CHECK(IsNanCode(*f, 0x7F));
  CHECK(MaxFinite(*f) == 416.0);  // 0x7D = 1.625 * 2^8
}

TEST_CASE("custom integers") {
  std::string e;
  const Format* f = ResolveFormat("int2", &e);
  REQUIRE(f);
  CHECK(MaxFinite(*f) == 1.0);
  CHECK(ResolveFormat("uint12", &e)->storage_bits == 16);
}

TEST_CASE("bad specs give one clear reason") {
  CHECK(ErrorOf("e4m3fx").find("unknown format") != std::string::npos);
  CHECK(ErrorOf("").find("empty") != std::string::npos);
  CHECK(ErrorOf("e0m3").find("exponent bits") != std::string::npos);
  CHECK(ErrorOf("e12m3").find("exponent bits") != std::string::npos);
  CHECK(ErrorOf("e5m53").find("mantissa bits") != std::string::npos);
  CHECK(ErrorOf("e4m3:bias=x").find("bias") != std::string::npos);
  CHECK(ErrorOf("e4m3:bias=9,bias=8").find("twice") != std::string::npos);
  CHECK(ErrorOf("e4m3:color=red").find("unknown option") != std::string::npos);
  CHECK(ErrorOf("e4m3:inf").find("KEY=VALUE") != std::string::npos);
  CHECK(ErrorOf("e4m3:").find("nothing after") != std::string::npos);
  CHECK(ErrorOf("e4m3:bias=9,").find("trailing") != std::string::npos);
  CHECK(ErrorOf("e4m0:nan=ieee,inf=ieee").find("mantissa bit") != std::string::npos);
  CHECK(ErrorOf("e4m3:inf=ieee,nan=ones").find("nan=ieee") != std::string::npos);
  CHECK(ErrorOf("e4m3:nan=negzero,signed=no,inf=no").find("sign bit") != std::string::npos);
  CHECK(ErrorOf("e1m0:inf=maxcode,nan=ones,signed=no").find("finite nonzero") != std::string::npos);
  CHECK(ErrorOf("binary16p4se").find("wider than 11 bits") != std::string::npos);
  CHECK(ErrorOf("binary12p1ue").find("wider than 11 bits") != std::string::npos);
  CHECK(ErrorOf("binary8p8se").find("1 <= P <= K-1") != std::string::npos);
  CHECK(ErrorOf("binary17p3ue").find("3 <= K <= 16") != std::string::npos);
  CHECK(ErrorOf("binary2p1se").find("3 <= K <= 16") != std::string::npos);
  CHECK(ErrorOf("binary8p3sx").find("unknown format") != std::string::npos);
  CHECK(ErrorOf("e4m3:nan=none,inf=no,overflow=nan").find("needs a NaN") != std::string::npos);
  CHECK(ErrorOf("e11m3:bias=-100").find("range") != std::string::npos);
  CHECK(ErrorOf("e11m52:bias=2000").find("range") != std::string::npos);
  CHECK(ErrorOf("int1").find("2 to 32") != std::string::npos);
  CHECK(ErrorOf("int8:signed=no").find("no options") != std::string::npos);
  CHECK(ErrorOf("e4m3:subnormals=maybe").find("yes or no") != std::string::npos);
}
