#include "emulate/quant/quantize.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>

#include "emulate/array_ops.h"
#include "emulate/quant/common.h"
#include "emulate/quant/mx.h"
#include "emulate/quant/nvfp4.h"
#include "formats/convert.h"

namespace floatscope::quant {

namespace {

constexpr size_t kChunk = size_t{1} << 16;

unsigned ThreadCount(unsigned threads) {
  return threads == 0 ? std::max(1u, std::thread::hardware_concurrency()) : threads;
}

// Runs fn(i) for i in [0, count) on `threads` threads, pulling `step`
// indices at a time. fn must write only what belongs to i. The calling
// thread reports progress(done_items) while it waits.
template <class Fn>
void ParallelFor(size_t count, size_t step, unsigned threads, Fn&& fn,
                 const std::function<void(size_t)>& progress = {}) {
  threads = static_cast<unsigned>(std::min<size_t>(ThreadCount(threads), std::max<size_t>(1, (count + step - 1) / step)));
  std::atomic<size_t> next{0}, done{0};
  auto worker = [&] {
    for (;;) {
      const size_t b = next.fetch_add(step);
      if (b >= count) return;
      const size_t e = std::min(count, b + step);
      for (size_t i = b; i < e; ++i) fn(i);
      done.fetch_add(e - b);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back(worker);
  if (progress) {
    while (done.load() < count) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      progress(done.load());
    }
  }
  for (auto& th : pool) th.join();
}

// A chunk's element casts done in bulk: fills codes[b, e) and returns how
// many of those elements count as saturated (ErrorStats::Add with flags).
using BulkCast = std::function<uint64_t(size_t b, size_t e, uint16_t* codes)>;

// The element pass: enc(e) -> Result, dec(e, code) -> float, in fixed
// chunks whose statistics are added in chunk order. With `bulk`, the codes
// come from it and enc is not called.
template <class Enc, class Dec>
analysis::ErrorStats CastAll(size_t n, unsigned threads, QuantResult& out, const std::vector<double>& x,
                             Enc&& enc, Dec&& dec, const Progress& progress, const BulkCast& bulk = {}) {
  out.codes.assign(n, 0);
  out.dequantized.assign(n, 0.0f);
  const size_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<analysis::ErrorStats> part(chunks);
  ParallelFor(
      chunks, 1, threads,
      [&](size_t c) {
        const size_t b = c * kChunk, e = std::min(n, b + kChunk);
        analysis::ErrorStats& s = part[c];
        if (bulk) {
          const uint64_t saturated = bulk(b, e, out.codes.data() + b);
          for (size_t i = b; i < e; ++i) {
            const float y = dec(i, out.codes[i]);
            out.dequantized[i] = y;
            s.Add(x[i], static_cast<double>(y));
          }
          s.saturated += saturated;
          return;
        }
        for (size_t i = b; i < e; ++i) {
          const Result r = enc(i);
          out.codes[i] = static_cast<uint16_t>(r.code);
          const float y = dec(i, r.code);
          out.dequantized[i] = y;
          s.Add(x[i], static_cast<double>(y), r.flags);
        }
      },
      progress ? std::function<void(size_t)>([&](size_t done) { progress(std::min(n, done * kChunk), n); })
               : std::function<void(size_t)>());
  analysis::ErrorStats total;
  for (const analysis::ErrorStats& s : part) total += s;
  return total;
}

// Element casts of [b, e) through EncodeF32Array. scaled(i, &v) says
// whether element i's cast is exactly EncodeFromF32(f, v, array_opt, i)
// (and sets v); the others, NaN inputs included, go through core(i).
// Saturated = overflow or invalid raised on a non-NaN input; a cast never
// raises both, so the array's two counts add up.
template <class Scaled, class Core>
uint64_t BulkEncode(const Format& f, const Options& array_opt, const std::vector<double>& x, size_t b, size_t e,
                    uint16_t* codes, Scaled&& scaled, Core&& core) {
  const size_t n = e - b;
  std::vector<float> v(n);
  std::vector<size_t> others;
  for (size_t i = b; i < e; ++i) {
    float s = 0.0f;
    if (!std::isnan(x[i]) && scaled(i, &s)) {
      v[i - b] = s;
    } else {
      v[i - b] = 0.0f;  // casts to code 0 with no flags; replaced below
      others.push_back(i);
    }
  }
  ArrayStats st;
  if (CodeBytes(f) == 1) {
    std::vector<uint8_t> c(n);
    EncodeF32Array(f, array_opt, v.data(), c.data(), n, b, &st, 1);
    for (size_t k = 0; k < n; ++k) codes[k] = c[k];
  } else {
    EncodeF32Array(f, array_opt, v.data(), codes, n, b, &st, 1);
  }
  uint64_t saturated = st.overflow + st.invalid;
  for (const size_t i : others) {
    const Result r = core(i);
    codes[i - b] = static_cast<uint16_t>(r.code);
    saturated += !std::isnan(x[i]) && (r.flags & (kOverflow | kInvalid)) != 0;
  }
  return saturated;
}

// x * 2^k as a float32 when that is exact (x a float32 value, no float32
// underflow or overflow on the way).
bool ExactScaledF32(double x, int k, float* out) {
  const float x32 = static_cast<float>(x);
  if (static_cast<double>(x32) != x || !std::isfinite(x32)) return false;
  const float y = std::ldexp(x32, k);
  if (static_cast<double>(y) != std::ldexp(x, k)) return false;
  *out = y;
  return true;
}

// A float32 scale that is a power of two: 2^k.
std::optional<int> Pow2Exponent(float scale) {
  int e = 0;
  if (!(scale > 0) || std::isinf(scale) || std::frexp(scale, &e) != 0.5f) return std::nullopt;
  return e - 1;
}

// The FP8 scaling schemes' bulk cast (per-unit scales): through the arrays
// where the unit's scale is a power of two (then x * scale is a float32
// whenever ExactScaledF32 says so), else nothing (empty: the core).
BulkCast Fp8Bulk(const QuantConfig& c, const Format& f, const Options& opt, const Partition& part,
                 const std::vector<double>& x, const std::vector<float>& scale) {
  if (!c.simd || !SimdSupports(f)) return {};
  std::vector<std::optional<int>> k(scale.size());
  bool any = false;
  for (size_t u = 0; u < scale.size(); ++u) any |= (k[u] = Pow2Exponent(scale[u])).has_value();
  if (!any) return {};
  Options array_opt = opt;
  array_opt.flush_input = false;  // DAZ applies to x as a float64: never to a float32 value
  return [&f, opt, array_opt, &part, &x, &scale, k](size_t b, size_t e, uint16_t* codes) {
    return BulkEncode(
        f, array_opt, x, b, e, codes,
        [&](size_t i, float* v) {
          const std::optional<int>& ku = k[part.UnitOf(i)];
          return ku && ExactScaledF32(x[i], *ku, v);
        },
        [&](size_t i) { return Fp8Encode(f, opt, x[i], scale[part.UnitOf(i)], i); });
  };
}

Partition MakePartition(const QuantConfig& c, const std::vector<size_t>& shape, size_t axis) {
  Partition p;
  p.view = ViewAround(shape, axis);
  switch (c.scheme) {
    case Scheme::kTensor: p.kind = Granularity::kTensor; break;
    case Scheme::kChannel:
    case Scheme::kDelayed: p.kind = Granularity::kChannel; break;
    case Scheme::kGroup:
      p.kind = Granularity::kGroup;
      p.group = c.group;
      break;
    case Scheme::kMx:
      p.kind = Granularity::kGroup;
      p.group = c.block;
      break;
    case Scheme::kNvfp4:
      p.kind = Granularity::kGroup;
      p.group = kNvfp4Block;
      break;
  }
  return p;
}

void Validate(const QuantConfig& c, const std::vector<size_t>& shape) {
  const Format& f = *c.format;
  if (f.storage_bits > 16)
    throw QuantError(std::string("format ") + f.name + " is too wide to quantize into (codes of at most 16 bits)");
  const bool is_int = !IsFloat(f);
  if (c.calib.method == CalibMethod::kPercentile && !(c.calib.percentile > 0 && c.calib.percentile <= 100))
    throw QuantError("percentile must be in (0, 100]");
  const bool scaled = c.scheme == Scheme::kTensor || c.scheme == Scheme::kChannel || c.scheme == Scheme::kGroup;
  if (!scaled && c.calib.method != CalibMethod::kMax)
    throw QuantError(std::string("scheme ") + SchemeName(c.scheme) + " calibrates by max only");
  if (c.int_mode == IntMode::kAsymmetric && (!is_int || !scaled))
    throw QuantError("asymmetric quantization is for integer formats with the tensor, channel or group scheme");
  if (is_int && (c.fp8.margin != 0 || c.fp8.pow2))
    throw QuantError("margin and power-of-two scales apply to float formats (FP8 recipes)");
  if ((c.scheme == Scheme::kMx || c.scheme == Scheme::kNvfp4) && (c.fp8.margin != 0 || c.fp8.pow2))
    throw QuantError(std::string("margin and power-of-two scales do not apply to scheme ") + SchemeName(c.scheme));
  if (c.fp8.margin < -64 || c.fp8.margin > 64) throw QuantError("margin must be between -64 and 64");
  switch (c.scheme) {
    case Scheme::kGroup:
      if (c.group == 0) throw QuantError("scheme group needs a group size > 0");
      break;
    case Scheme::kDelayed:
      if (is_int) throw QuantError("scheme delayed is an FP8 recipe: it needs a float format");
      if (shape.empty()) throw QuantError("scheme delayed needs at least one axis (axis 0 counts the steps)");
      if (c.history == 0) throw QuantError("the amax history needs a length > 0");
      break;
    case Scheme::kMx:
      if (!FindMxType(f.name))
        throw QuantError(std::string("scheme mx has no element format ") + f.name +
                         " (MXFP8: e4m3fn e5m2, MXFP6: e2m3fn e3m2fn, MXFP4: e2m1fn, MXINT8: int8)");
      if (c.block == 0) throw QuantError("the MX block size must be > 0");
      break;
    case Scheme::kNvfp4:
      if (std::string_view(f.name) != formats::kE2m1fn.name)
        throw QuantError(std::string("scheme nvfp4 stores e2m1fn elements, not ") + f.name);
      break;
    default: break;
  }
}

// Fills every unit's clipping range by the calibration method. `round_trip`
// (range, value, index) -> dequantized value, for the MSE search.
template <class RoundTrip>
std::vector<Range> CalibrateUnits(const Partition& p, const Calibration& calib, bool symmetric,
                                  const std::vector<double>& x, unsigned threads, RoundTrip&& round_trip) {
  std::vector<Range> ranges(p.Units());
  ParallelFor(ranges.size(), 1, threads, [&](size_t u) {
    if (calib.method == CalibMethod::kMax) {
      Range r;
      bool any = false;
      p.ForEachIn(u, [&](size_t e) {
        const double v = x[e];
        if (std::isnan(v)) return;
        if (!any) r.lo = r.hi = v;
        r.lo = std::min(r.lo, v);
        r.hi = std::max(r.hi, v);
        any = true;
      });
      ranges[u] = r;
      return;
    }
    std::vector<size_t> idx;
    p.ForEachIn(u, [&](size_t e) { idx.push_back(e); });
    std::vector<double> v(idx.size());
    for (size_t j = 0; j < idx.size(); ++j) v[j] = x[idx[j]];
    if (calib.method == CalibMethod::kPercentile) {
      ranges[u] = RangePercentile(v, calib.percentile, symmetric);
      return;
    }
    const Range full = RangeMax(v);
    std::vector<size_t> sample;
    for (const size_t j : MseSamplePositions(v.size()))
      if (std::isfinite(v[j])) sample.push_back(idx[j]);
    ranges[u] = RangeMse(full, [&](const Range& r) {
      double sum = 0;
      for (const size_t e : sample) {
        const double d = static_cast<double>(round_trip(r, x[e], e)) - x[e];
        sum += d * d;
      }
      return sum;
    });
  });
  return ranges;
}

Options ElementOptions(const QuantConfig& c) {
  Options o = c.opt;
  if (o.overflow == Overflow::kDefault) o.overflow = Overflow::kSaturate;
  return o;
}

}  // namespace

std::optional<Scheme> ParseScheme(std::string_view name) {
  for (const Scheme s : {Scheme::kTensor, Scheme::kChannel, Scheme::kGroup, Scheme::kDelayed, Scheme::kMx,
                         Scheme::kNvfp4})
    if (name == SchemeName(s)) return s;
  return std::nullopt;
}

const char* SchemeName(Scheme s) {
  switch (s) {
    case Scheme::kTensor: return "tensor";
    case Scheme::kChannel: return "channel";
    case Scheme::kGroup: return "group";
    case Scheme::kDelayed: return "delayed";
    case Scheme::kMx: return "mx";
    case Scheme::kNvfp4: return "nvfp4";
  }
  return "?";
}

void CheckConfig(const QuantConfig& c) {
  if (!c.format) throw QuantError("no format given");
  Validate(c, {1});
}

QuantResult Quantize(const QuantConfig& c, const std::vector<size_t>& shape, const std::vector<double>& x,
                     const Progress& progress) {
  if (!c.format) throw QuantError("no format given");
  Validate(c, shape);
  const std::optional<size_t> axis =
      NormalizeAxis(c.scheme == Scheme::kDelayed ? 0 : c.axis, shape.size());
  if (!axis)
    throw QuantError("axis " + std::to_string(c.axis) + " is out of range for a tensor of " +
                     std::to_string(shape.size()) + " dimensions");
  const Format& f = *c.format;
  const Options opt = ElementOptions(c);
  const Partition part = MakePartition(c, shape, *axis);
  const size_t n = x.size();
  QuantResult out;
  out.shape = shape;
  out.scale_shape = c.scheme == Scheme::kDelayed ? std::vector<size_t>{part.view.len} : part.UnitShape(shape, *axis);
  const size_t units = part.Units();

  switch (c.scheme) {
    case Scheme::kTensor:
    case Scheme::kChannel:
    case Scheme::kGroup: {
      if (!IsFloat(f)) {
        const bool sym = c.int_mode == IntMode::kSymmetric;
        const std::vector<Range> ranges =
            CalibrateUnits(part, c.calib, sym, x, c.threads, [&](const Range& r, double v, size_t e) {
              const IntParams p = ChooseIntParams(f, c.int_mode, r.lo, r.hi);
              return IntDecode(f, IntEncode(f, opt, v, p, e).code, p);
            });
        std::vector<IntParams> params(units);
        for (size_t u = 0; u < units; ++u) params[u] = ChooseIntParams(f, c.int_mode, ranges[u].lo, ranges[u].hi);
        out.scales.resize(units);
        for (size_t u = 0; u < units; ++u) out.scales[u] = params[u].scale;
        if (!sym) {
          out.zero_points.resize(units);
          for (size_t u = 0; u < units; ++u) out.zero_points[u] = static_cast<float>(params[u].zero_point);
        }
        out.stats = CastAll(
            n, c.threads, out, x, [&](size_t e) { return IntEncode(f, opt, x[e], params[part.UnitOf(e)], e); },
            [&](size_t e, uint64_t code) { return IntDecode(f, code, params[part.UnitOf(e)]); }, progress);
      } else {
        const std::vector<Range> ranges =
            CalibrateUnits(part, c.calib, true, x, c.threads, [&](const Range& r, double v, size_t e) {
              const float s = Fp8ScaleFromAmax(f, r.Amax(), c.fp8, 1.0f);
              return Fp8Decode(f, Fp8Encode(f, opt, v, s, e).code, Fp8ScaleInverse(s));
            });
        std::vector<float> scale(units), inv(units);
        for (size_t u = 0; u < units; ++u) {
          scale[u] = Fp8ScaleFromAmax(f, ranges[u].Amax(), c.fp8, 1.0f);
          inv[u] = Fp8ScaleInverse(scale[u]);
        }
        out.scales = inv;
        out.stats = CastAll(
            n, c.threads, out, x, [&](size_t e) { return Fp8Encode(f, opt, x[e], scale[part.UnitOf(e)], e); },
            [&](size_t e, uint64_t code) { return Fp8Decode(f, code, inv[part.UnitOf(e)]); }, progress,
            Fp8Bulk(c, f, opt, part, x, scale));
      }
      break;
    }
    case Scheme::kDelayed: {
      const std::vector<Range> amax_ranges =
          CalibrateUnits(part, Calibration{}, true, x, c.threads, [](const Range&, double, size_t) { return 0.0f; });
      std::vector<float> scale(units), inv(units);
      AmaxHistory history(c.history, c.reduce);
      float current = 1.0f;
      for (size_t t = 0; t < units; ++t) {
        scale[t] = current;
        inv[t] = Fp8ScaleInverse(current);
        history.Push(amax_ranges[t].Amax());
        current = Fp8ScaleFromAmax(f, history.Reduced(), c.fp8, current);
      }
      out.scales = inv;
      out.stats = CastAll(
          n, c.threads, out, x, [&](size_t e) { return Fp8Encode(f, opt, x[e], scale[part.UnitOf(e)], e); },
          [&](size_t e, uint64_t code) { return Fp8Decode(f, code, inv[part.UnitOf(e)]); }, progress,
          Fp8Bulk(c, f, opt, part, x, scale));
      break;
    }
    case Scheme::kMx: {
      const MxType& t = *FindMxType(f.name);
      std::vector<MxScale> scales(units);
      ParallelFor(units, 64, c.threads, [&](size_t u) {
        double amax = 0;
        bool special = false;
        part.ForEachIn(u, [&](size_t e) {
          const double v = std::fabs(x[e]);
          if (!std::isfinite(v)) special = true;
          else amax = std::max(amax, v);
        });
        scales[u] = MxSharedScale(t, amax, special);
      });
      out.scale_codes.resize(units);
      for (size_t u = 0; u < units; ++u) out.scale_codes[u] = scales[u].code;
      BulkCast bulk;
      if (c.simd && t.implied_shift == 0 && SimdSupports(*t.elem)) {  // MXINT8 remaps -128: the core
        Options array_opt = opt;
        array_opt.flush_input = false;  // DAZ applies to V_i as a float64: never to a float32 value
        bulk = [&, array_opt](size_t b, size_t e, uint16_t* codes) {
          return BulkEncode(
              *t.elem, array_opt, x, b, e, codes,
              [&](size_t i, float* v) {
                const MxScale& s = scales[part.UnitOf(i)];
                return !s.IsNan() && ExactScaledF32(x[i], t.implied_shift - s.shared_exp, v);
              },
              [&](size_t i) { return MxEncodeElement(t, opt, x[i], scales[part.UnitOf(i)], i); });
        };
      }
      out.stats = CastAll(
          n, c.threads, out, x, [&](size_t e) { return MxEncodeElement(t, opt, x[e], scales[part.UnitOf(e)], e); },
          [&](size_t e, uint64_t code) { return MxDecodeElement(t, code, scales[part.UnitOf(e)]); }, progress, bulk);
      break;
    }
    case Scheme::kNvfp4: {
      std::vector<float> x32(n);
      ParallelFor(n, kChunk, c.threads, [&](size_t i) { x32[i] = RoundToF32(x[i]); });
      float amax = 0.0f;
      for (const float v : x32) amax = std::fmax(amax, std::fabs(v));
      const float s_enc = Nvfp4GlobalEncodeScale(amax), s_dec = Nvfp4GlobalDecodeScale(s_enc);
      std::vector<float> k(units);
      out.scale_codes.resize(units);
      ParallelFor(units, 64, c.threads, [&](size_t u) {
        float block_amax = 0.0f;
        part.ForEachIn(u, [&](size_t e) { block_amax = std::fmax(block_amax, std::fabs(x32[e])); });
        out.scale_codes[u] = Nvfp4BlockScaleCode(block_amax, s_enc);
        k[u] = Nvfp4BlockEncodeScale(out.scale_codes[u], s_dec);
      });
      out.global_decode_scale = s_dec;
      BulkCast bulk;
      if (c.simd) {  // the element cast is EncodeFromF32(e2m1fn, x32 * k): an array of those products
        bulk = [&](size_t b, size_t e, uint16_t* codes) {
          return BulkEncode(
              formats::kE2m1fn, opt, x, b, e, codes,
              [&](size_t i, float* v) {
                *v = x32[i] * k[part.UnitOf(i)];
                return true;
              },
              [&](size_t i) { return Nvfp4EncodeElement(opt, x32[i], k[part.UnitOf(i)], i); });
        };
      }
      out.stats = CastAll(
          n, c.threads, out, x, [&](size_t e) { return Nvfp4EncodeElement(opt, x32[e], k[part.UnitOf(e)], e); },
          [&](size_t e, uint64_t code) {
            return Nvfp4DecodeElement(code, out.scale_codes[part.UnitOf(e)], s_dec);
          },
          progress, bulk);
      break;
    }
  }
  return out;
}

}  // namespace floatscope::quant
