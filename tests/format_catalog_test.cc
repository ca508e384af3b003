// The catalog: every named format is coherent, findable, and its limits are
// the published ones (more limits are pinned by static_asserts in
// formats/catalog.h).
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "formats/catalog.h"
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
