// Every code of every named format of at most 16 bits decodes (DecodeToF64,
// DecodeToF32) to the value its definition gives. The expected values come
// from format_definitions.h: the definitions retyped from the documents and
// the textbook formula sign * 2^(e-bias) * (1 + m/2^M) (0.m * 2^(1-bias) in
// the zero exponent field) with each family's special codes spelled out,
// not from formats/format.h's helpers.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <set>
#include <stdexcept>
#include <string>

#include "formats/catalog.h"
#include "formats/convert.h"
#include "tests/sweep/format_definitions.h"
#include "tests/sweep/sweep_runner.h"

using namespace floatscope;
using namespace floatscope::sweep;

namespace {

uint64_t Bits64(double x) {
  uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}
uint32_t Bits32(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

const Format& CoreFormat(const FormatDefinition& d) {
  const Format* f = FindNamedFormat(d.name);
  if (f == nullptr) throw std::runtime_error(std::string("the core has no format named ") + d.name);
  return *f;
}

// "" when the decoded double `got` is what the definition says for `code`.
// NaNs: NaN-ness; for IEEE-style formats also the sign and the payload,
// quieted (the default NanPayload::kPreserve), in the top fraction bits.
std::string CheckDecoded(const FormatDefinition& d, uint32_t code, uint64_t got_bits,
                         int fraction_bits, bool got_is_nan) {
  const DecodedCode want = DecodeByDefinition(d, code);
  if (want.cls == CodeClass::kNan) {
    if (!got_is_nan) return "expected NaN";
    if (d.specials == Specials::kIeee) {
      const int m = d.mantissa_bits;
      const uint64_t sign = got_bits >> (fraction_bits + (fraction_bits == 52 ? 11 : 8));
      const uint64_t fraction = got_bits & ((uint64_t{1} << fraction_bits) - 1);
      const uint64_t payload = (code & ((1u << m) - 1)) | (1u << (m - 1));
      if (sign != (want.negative ? 1u : 0u)) return "NaN sign lost";
      if (fraction != payload << (fraction_bits - m)) return "NaN payload not kept (quieted)";
    }
    return "";
  }
  if (got_is_nan) return "unexpected NaN";
  const uint64_t want_bits = fraction_bits == 52
                                 ? Bits64(want.value)
                                 : Bits32(static_cast<float>(want.value));
  if (got_bits != want_bits) return "wrong value";
  return "";
}

}  // namespace

TEST_CASE("the definitions here cover exactly the core's named formats of <= 16 bits") {
  int named = 0;
  for (const Format& f : formats::kAll) {
    if (f.bits > 16) continue;
    ++named;
    CHECK_MESSAGE(FindDefinition(f.name) != nullptr, f.name, " has no definition in format_definitions.h");
  }
  for (const FormatDefinition& d : kDefinitions) {
    INFO(d.name);
    CHECK(CoreFormat(d).bits == d.bits);
  }
  CHECK(named == static_cast<int>(std::size(kDefinitions)));
}

TEST_CASE("the definitions give the published limits") {
  auto value = [](const char* name, uint32_t code) {
    return DecodeByDefinition(*FindDefinition(name), code).value;
  };
  CHECK(value("f16", 0x7bff) == 65504.0);
  CHECK(value("f16", 0x0001) == 0x1p-24);
  CHECK(value("f16", 0x0400) == 0x1p-14);
  CHECK(value("bf16", 0x7f7f) == 0x1.FEp127);
  CHECK(value("bf16", 0x0001) == 0x1p-133);
  CHECK(value("e5m2", 0x7b) == 57344.0);
  CHECK(value("e4m3fn", 0x7e) == 448.0);
  CHECK(value("e4m3fn", 0x01) == 0x1p-9);
  CHECK(value("e4m3", 0x77) == 240.0);
  CHECK(value("e4m3fnuz", 0x7f) == 240.0);
  CHECK(value("e4m3fnuz", 0x01) == 0x1p-10);
  CHECK(value("e5m2fnuz", 0x7f) == 57344.0);
  CHECK(value("e4m3b11fnuz", 0x7f) == 30.0);
  CHECK(value("e3m4", 0x6f) == 15.5);
  CHECK(value("binary8p1", 0x40) == 1.0);   // WG value tables, Binary8p1se
  CHECK(value("binary8p1", 0x01) == 0x1p-63);
  CHECK(value("binary8p1", 0x7e) == 0x1p62);
  CHECK(value("binary8p3", 0x7e) == 49152.0);
  CHECK(value("binary8p4", 0x7e) == 224.0);
  CHECK(value("binary8p4", 0x40) == 1.0);
  CHECK(value("binary8p7", 0x7e) == 1.96875);
  CHECK(value("e2m3fn", 0x1f) == 7.5);
  CHECK(value("e3m2fn", 0x1f) == 28.0);
  CHECK(value("e2m1fn", 0x7) == 6.0);
  CHECK(value("e2m1fn", 0x1) == 0.5);
  CHECK(value("e8m0fnu", 0x7f) == 1.0);
  CHECK(value("e8m0fnu", 0x00) == 0x1p-127);
  CHECK(value("e8m0fnu", 0xfe) == 0x1p127);
  CHECK(value("int8", 0x80) == -128.0);
  CHECK(value("int4", 0x8) == -8.0);
  CHECK(value("uint4", 0xf) == 15.0);
  CHECK(std::isnan(value("e4m3fn", 0xff)));
  CHECK(std::isnan(value("e4m3fnuz", 0x80)));
  CHECK(std::isnan(value("binary8p4", 0x80)));
  CHECK(std::isinf(value("binary8p4", 0xff)));
  CHECK(std::isnan(value("e8m0fnu", 0xff)));
  CHECK(std::signbit(value("e2m1fn", 0x8)));  // -0
}

TEST_CASE("every code decodes to its defined value (DecodeToF64 and DecodeToF32)") {
  for (const FormatDefinition& d : kDefinitions) {
    const Format& f = CoreFormat(d);
    int bad64 = 0, bad32 = 0;
    for (uint32_t code = 0; code < (1u << d.bits); ++code) {
      const double g64 = DecodeToF64(f, code);
      const float g32 = DecodeToF32(f, code);
      const std::string e64 = CheckDecoded(d, code, Bits64(g64), 52, std::isnan(g64));
      const std::string e32 = CheckDecoded(d, code, Bits32(g32), 23, std::isnan(g32));
      if (!e64.empty() && ++bad64 <= 5)
        MESSAGE(d.name, " DecodeToF64 ", DescribeCode(d, code), ": got ", fmt::format("{:a}", g64), " (", e64, ")");
      if (!e32.empty() && ++bad32 <= 5)
        MESSAGE(d.name, " DecodeToF32 ", DescribeCode(d, code), ": got ", fmt::format("{:a}", g32), " (", e32, ")");
    }
    INFO(d.name);
    CHECK(bad64 == 0);
    CHECK(bad32 == 0);
  }
}

TEST_CASE("every non-NaN code encodes back to itself, exactly, in every mode") {
  for (const FormatDefinition& d : kDefinitions) {
    const Format& f = CoreFormat(d);
    int bad = 0;
    for (Rounding mode : kDeterministicModes) {
      Options opt;
      opt.rounding = mode;
      for (uint32_t code = 0; code < (1u << d.bits); ++code) {
        const DecodedCode want = DecodeByDefinition(d, code);
        if (want.cls == CodeClass::kNan) continue;
        const Result r = EncodeFromF32(f, static_cast<float>(want.value), opt);
        if ((r.code != code || r.flags != 0) && ++bad <= 5)
          MESSAGE(d.name, " ", ModeName(mode), ": ", DescribeCode(d, code), " encodes to ",
                  DescribeCode(d, static_cast<uint32_t>(r.code)), " flags ", FlagNames(r.flags));
      }
    }
    INFO(d.name);
    CHECK(bad == 0);
  }
}

// ---- the IEEE P3109 family binaryKpP{s,u}{e,f} --------------------------------

TEST_CASE("P3109 family: the definitions here and the core's family have the same members") {
  std::set<std::string> core, here;
  for (const Format& f : p3109::kFamily) core.insert(f.name);
  for (const FormatDefinition& d : P3109Definitions().defs) {
    here.insert(d.name);
    INFO(d.name);
    CHECK(CoreFormat(d).bits == d.bits);
  }
  CHECK(here.size() == P3109Definitions().defs.size());
  CHECK(core == here);
}

TEST_CASE("P3109 family: the definitions give the WG value tables' numbers") {
  auto value = [](const char* name, uint32_t code) {
    const FormatDefinition* d = FindDefinition(name);
    REQUIRE(d != nullptr);
    return DecodeByDefinition(*d, code);
  };
  // Binary8p1se (= binary8p1): 0x01 = 2^-63, 0x40 = 1, 0x7e = 2^62, 0x7f inf, 0x80 NaN.
  CHECK(value("binary8p1se", 0x01).value == 0x1p-63);
  CHECK(value("binary8p1se", 0x40).value == 1.0);
  CHECK(value("binary8p1se", 0x7e).value == 0x1p62);
  CHECK(value("binary8p1se", 0xfe).value == -0x1p62);
  CHECK(value("binary8p1se", 0x7f).cls == CodeClass::kInf);
  CHECK(value("binary8p1se", 0x80).cls == CodeClass::kNan);
  // Binary8p3ue: 0x01 = 0x0.8p-32 (subnormal), 0x04 = 2^-31, 0x80 = 1, 0xfd = 0x1.4p31.
  CHECK(value("binary8p3ue", 0x01).value == 0x1p-33);
  CHECK(value("binary8p3ue", 0x03).value == 0x1.8p-32);
  CHECK(value("binary8p3ue", 0x04).value == 0x1p-31);
  CHECK(value("binary8p3ue", 0x80).value == 1.0);
  CHECK(value("binary8p3ue", 0xfd).value == 0x1.4p31);
  CHECK(value("binary8p3ue", 0xfe).cls == CodeClass::kInf);
  CHECK(value("binary8p3ue", 0xff).cls == CodeClass::kNan);
  CHECK(value("binary8p3uf", 0xfe).value == 0x1.8p31);
  // Binary3p1uf: 0x01 = 2^-3, 0x04 = 1, 0x06 = 4, 0x07 NaN.
  CHECK(value("binary3p1uf", 0x1).value == 0.125);
  CHECK(value("binary3p1uf", 0x6).value == 4.0);
  CHECK(value("binary3p1uf", 0x7).cls == CodeClass::kNan);
  // Binary3p2sf: 0x01 = 0.5 (subnormal), 0x03 = 1.5, 0x04 NaN, 0x07 = -1.5.
  CHECK(value("binary3p2sf", 0x1).value == 0.5);
  CHECK(value("binary3p2sf", 0x3).value == 1.5);
  CHECK(value("binary3p2sf", 0x4).cls == CodeClass::kNan);
  CHECK(value("binary3p2sf", 0x7).value == -1.5);
  // Binary16p5se: 11 exponent bits, bias 1024: 0x4000 = 1, max 0x7ffe = 1.875 * 2^1023.
  CHECK(value("binary16p5se", 0x4000).value == 1.0);
  CHECK(value("binary16p5se", 0x7ffe).value == 0x1.ep1023);
  CHECK(value("binary16p5se", 0x0001).value == 0x1p-1027);
  CHECK(FindDefinition("binary16p4se") == nullptr);  // 12 exponent bits: not held
}

TEST_CASE("P3109 family: every code of every member decodes to its defined value") {
  int members = 0;
  long codes = 0;
  for (const FormatDefinition& d : P3109Definitions().defs) {
    const Format& f = CoreFormat(d);
    int bad64 = 0, bad32 = 0;
    for (uint32_t code = 0; code < (1u << d.bits); ++code) {
      const double g64 = DecodeToF64(f, code);
      const float g32 = DecodeToF32(f, code);
      // Values beyond float32 (up to 2^1023 here) read as float32 round to
      // nearest: inf above, 0 or a subnormal below, like the cast does.
      const std::string e64 = CheckDecoded(d, code, Bits64(g64), 52, std::isnan(g64));
      const std::string e32 = CheckDecoded(d, code, Bits32(g32), 23, std::isnan(g32));
      if (!e64.empty() && ++bad64 <= 3)
        MESSAGE(d.name, " DecodeToF64 ", DescribeCode(d, code), ": got ", fmt::format("{:a}", g64), " (", e64, ")");
      if (!e32.empty() && ++bad32 <= 3)
        MESSAGE(d.name, " DecodeToF32 ", DescribeCode(d, code), ": got ", fmt::format("{:a}", g32), " (", e32, ")");
    }
    INFO(d.name);
    CHECK(bad64 == 0);
    CHECK(bad32 == 0);
    ++members;
    codes += 1l << d.bits;
  }
  MESSAGE(members, " members, ", codes, " codes");
  CHECK(members == 454);
}

TEST_CASE("P3109 family: every non-NaN code encodes back to itself from float64, in every mode") {
  for (const FormatDefinition& d : P3109Definitions().defs) {
    const Format& f = CoreFormat(d);
    int bad = 0;
    for (Rounding mode : kDeterministicModes) {
      Options opt;
      opt.rounding = mode;
      for (uint32_t code = 0; code < (1u << d.bits); ++code) {
        const DecodedCode want = DecodeByDefinition(d, code);
        if (want.cls == CodeClass::kNan) continue;
        const Result r = EncodeFromF64(f, want.value, opt);
        if ((r.code != code || r.flags != 0) && ++bad <= 3)
          MESSAGE(d.name, " ", ModeName(mode), ": ", DescribeCode(d, code), " encodes to ",
                  DescribeCode(d, static_cast<uint32_t>(r.code)), " flags ", FlagNames(r.flags));
      }
    }
    INFO(d.name);
    CHECK(bad == 0);
  }
}
