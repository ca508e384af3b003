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

TEST_CASE("later-draft P3109 p1 as a spec") {
  std::string e;
  const Format* f = ResolveFormat("e7m0:bias=64,inf=maxcode", &e);
  REQUIRE(f);
  CHECK(MaxFinite(*f) == 0x1p62);
  CHECK(f->nan == NanCodes::kNegativeZero);
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
  CHECK(ErrorOf("e4m3:inf=maxcode,nan=ones").find("share") != std::string::npos);
  CHECK(ErrorOf("e4m3:nan=none,inf=no,overflow=nan").find("needs a NaN") != std::string::npos);
  CHECK(ErrorOf("e11m3:bias=-100").find("range") != std::string::npos);
  CHECK(ErrorOf("e11m52:bias=2000").find("range") != std::string::npos);
  CHECK(ErrorOf("int1").find("2 to 32") != std::string::npos);
  CHECK(ErrorOf("int8:signed=no").find("no options") != std::string::npos);
  CHECK(ErrorOf("e4m3:subnormals=maybe").find("yes or no") != std::string::npos);
}
