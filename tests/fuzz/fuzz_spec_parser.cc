// libFuzzer target: format names and specs (formats/spec_parser.h).
// Property: ResolveFormat never crashes or throws; a format it accepts
// decodes every code it has (up to 2^12 of them) to a value that encodes
// back to the same value, exactly.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "formats/convert.h"
#include "formats/spec_parser.h"

using namespace floatscope;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view spec(reinterpret_cast<const char*>(data), size);
  std::string error;
  const Format* f = ResolveFormat(spec, &error);
  if (!f) {
    if (error.empty()) std::abort();  // a failure must say why
    return 0;
  }
  if (!ValidateFormat(*f).empty()) std::abort();  // accepted means valid
  const uint64_t codes = f->bits >= 12 ? 4096 : uint64_t{1} << f->bits;
  Options opt;
  opt.overflow = Overflow::kIeee;
  for (uint64_t i = 0; i < codes; ++i) {
    // Spread the sampled codes over the whole range for wide formats.
    const uint64_t code = f->bits >= 12 ? (i * 0x9E3779B97F4A7C15ull) & CodeMask(*f) : i;
    const double v = DecodeToF64(*f, code);
    if (!std::isfinite(v)) continue;
    const Result r = EncodeFromF64(*f, v, opt);
    const double back = DecodeToF64(*f, r.code);
    if (back != v || (r.flags & kInexact)) std::abort();
  }
  return 0;
}
