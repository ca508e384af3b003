// The C ABI of python/floatscope_capi.h: resolves names and options once,
// then runs the one rounding core (formats/convert.h) over the array. No
// rounding happens here; this file only moves codes in and out of words.
#include "python/floatscope_capi.h"

#include <cstdio>
#include <cstring>
#include <string>

#include "formats/compat.h"
#include "formats/convert.h"
#include "formats/names.h"
#include "formats/spec_parser.h"

namespace floatscope {
namespace {

// Copies one line into the caller's buffer and returns the error code.
int Fail(char* err, size_t errlen, const std::string& why) {
  if (err && errlen > 0) {
    const size_t k = why.size() < errlen - 1 ? why.size() : errlen - 1;
    std::memcpy(err, why.data(), k);
    err[k] = '\0';
  }
  return 1;
}

bool Given(const char* s) { return s != nullptr && *s != '\0'; }

int StorageBytes(const Format& f) {
  if (f.storage_bits <= 8) return 1;
  if (f.storage_bits <= 16) return 2;
  if (f.storage_bits <= 32) return 4;
  return 8;
}

// Options exactly as the CLI resolves them (cli/rounding_options.cc): the
// compat preset first, explicit rounding/overflow on top, then the checks.
bool ResolveOptions(const Format& dst, const char* rounding, const char* overflow,
                    const char* compat, uint64_t seed, int sr_bits, Options* opt,
                    std::string* why) {
  Compat c = Compat::kNone;
  if (Given(compat)) {
    const auto parsed = ParseCompat(compat);
    if (!parsed) {
      *why = std::string("unknown compat '") + compat + "' (none, ml_dtypes, cuda-satfinite)";
      return false;
    }
    c = *parsed;
  }
  if (const char* bad = CheckCompat(c, dst); *bad) {
    *why = bad;
    return false;
  }
  *opt = ApplyCompat(c, dst, Options{});
  if (Given(rounding)) {
    const auto r = ParseRounding(rounding);
    if (!r) {
      *why = std::string("unknown rounding mode '") + rounding + "' (rne rna rtz rdn rup rto sr sr-eq)";
      return false;
    }
    opt->rounding = *r;
  }
  if (Given(overflow)) {
    const auto o = ParseOverflow(overflow);
    if (!o) {
      *why = std::string("unknown overflow policy '") + overflow + "' (ieee saturate nan wrap)";
      return false;
    }
    opt->overflow = *o;
  }
  if (sr_bits < 1 || sr_bits > 32) {
    *why = "sr_bits must be between 1 and 32, got " + std::to_string(sr_bits);
    return false;
  }
  opt->sr_bits = static_cast<uint8_t>(sr_bits);
  opt->seed = seed;
  *why = CheckOptionsFor(dst, *opt);
  return why->empty();
}

// The conversion loop for one pair of word types. Returns the index of the
// first input word that is not a code of `src`, or n when all were.
template <typename In, typename Out>
size_t ConvertWords(const Format& src, const Format& dst, const Options& opt, const void* in_v,
                    void* out_v, size_t n, uint64_t first_index, uint8_t* flags) {
  const In* in = static_cast<const In*>(in_v);
  Out* out = static_cast<Out*>(out_v);
  const uint64_t allowed = CodeMask(src) << src.storage_shift;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t word = in[i];
    if ((word & ~allowed) != 0) return i;
    const Result r = Convert(src, word >> src.storage_shift, dst, opt, first_index + i);
    out[i] = static_cast<Out>(r.code << dst.storage_shift);
    if (flags) flags[i] = r.flags;
  }
  return n;
}

uint64_t WordAt(const void* in, size_t i, int bytes) {
  switch (bytes) {
    case 1: return static_cast<const uint8_t*>(in)[i];
    case 2: return static_cast<const uint16_t*>(in)[i];
    case 4: return static_cast<const uint32_t*>(in)[i];
    default: return static_cast<const uint64_t*>(in)[i];
  }
}

template <typename In>
size_t DispatchOut(const Format& src, const Format& dst, const Options& opt, const void* in,
                   void* out, size_t n, uint64_t first_index, uint8_t* flags) {
  switch (StorageBytes(dst)) {
    case 1: return ConvertWords<In, uint8_t>(src, dst, opt, in, out, n, first_index, flags);
    case 2: return ConvertWords<In, uint16_t>(src, dst, opt, in, out, n, first_index, flags);
    case 4: return ConvertWords<In, uint32_t>(src, dst, opt, in, out, n, first_index, flags);
    default: return ConvertWords<In, uint64_t>(src, dst, opt, in, out, n, first_index, flags);
  }
}

}  // namespace
}  // namespace floatscope

extern "C" int fs_format_info(const char* spec, int* bits, int* storage_bytes,
                              int* storage_shift, int* is_float, char* err, size_t errlen) {
  using namespace floatscope;
  if (spec == nullptr) return Fail(err, errlen, "format spec is NULL");
  std::string why;
  const Format* f = ResolveFormat(spec, &why);
  if (!f) return Fail(err, errlen, why);
  if (bits) *bits = f->bits;
  if (storage_bytes) *storage_bytes = StorageBytes(*f);
  if (storage_shift) *storage_shift = f->storage_shift;
  if (is_float) *is_float = IsFloat(*f) ? 1 : 0;
  return 0;
}

extern "C" int fs_convert_array(const char* src_spec, const char* dst_spec, const char* rounding,
                                const char* overflow, const char* compat, uint64_t seed,
                                int sr_bits, const void* in, void* out, size_t n,
                                uint64_t first_index, uint8_t* flags_or_null, char* err,
                                size_t errlen) {
  using namespace floatscope;
  if (src_spec == nullptr || dst_spec == nullptr)
    return Fail(err, errlen, "source and destination formats must be given");
  if (n > 0 && (in == nullptr || out == nullptr))
    return Fail(err, errlen, "input and output arrays must not be NULL");
  std::string why;
  const Format* src = ResolveFormat(src_spec, &why);
  if (!src) return Fail(err, errlen, "source: " + why);
  const Format* dst = ResolveFormat(dst_spec, &why);
  if (!dst) return Fail(err, errlen, "destination: " + why);
  Options opt;
  if (!ResolveOptions(*dst, rounding, overflow, compat, seed, sr_bits, &opt, &why))
    return Fail(err, errlen, why);

  size_t bad = n;
  switch (StorageBytes(*src)) {
    case 1: bad = DispatchOut<uint8_t>(*src, *dst, opt, in, out, n, first_index, flags_or_null); break;
    case 2: bad = DispatchOut<uint16_t>(*src, *dst, opt, in, out, n, first_index, flags_or_null); break;
    case 4: bad = DispatchOut<uint32_t>(*src, *dst, opt, in, out, n, first_index, flags_or_null); break;
    default: bad = DispatchOut<uint64_t>(*src, *dst, opt, in, out, n, first_index, flags_or_null); break;
  }
  if (bad != n) {
    const uint64_t word = WordAt(in, bad, StorageBytes(*src));
    char line[200];
    std::snprintf(line, sizeof line,
                  "element %zu: 0x%llx is not a %s code (only the low %d bits%s may be set)", bad,
                  static_cast<unsigned long long>(word), src->name, src->bits,
                  src->storage_shift ? " above the zero padding" : "");
    return Fail(err, errlen, line);
  }
  return 0;
}
