#include "emulate/quant/quantize.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cfloat>
#include <chrono>
#include <concepts>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <limits>
#include <thread>
#include <type_traits>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "emulate/array_ops.h"
#include "emulate/quant/common.h"
#include "emulate/quant/mx.h"
#include "emulate/quant/p3109_block.h"
#include "formats/convert.h"

namespace floatscope::quant {

namespace {

// Elements per chunk of the element pass: the unit of work of a thread and
// of the statistics' summation order (so it must not change: the printed
// sums depend on it), small enough for a chunk's buffers to stay in cache.
constexpr size_t kChunk = size_t{1} << 16;

// The loops marked FS_QUANT_CLONES (the stand-in loops below, the block
// maxima) are also compiled for x86-64-v3 and v4, picked at load time: see
// "the stand-in loops, compiled for the machine".
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#define FS_QUANT_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FS_QUANT_CLONES
#endif

unsigned ThreadCount(unsigned threads) {
  return threads == 0 ? std::max(1u, std::thread::hardware_concurrency()) : threads;
}

// Runs fn(i) for i in [0, count) on `threads` threads, pulling `step`
// indices at a time. fn must write only what belongs to i. progress(done)
// is called from the calling thread now and then (every 100 ms while it
// waits for the workers; it wakes as soon as they finish, so a short run
// costs no waiting).
template <class Fn>
void ParallelFor(size_t count, size_t step, unsigned threads, Fn&& fn,
                 const std::function<void(size_t)>& progress = {}) {
  step = std::max<size_t>(step, 1);
  threads = static_cast<unsigned>(std::min<size_t>(ThreadCount(threads), (count + step - 1) / step));
  if (threads <= 1) {
    for (size_t b = 0; b < count; b += step) {
      const size_t e = std::min(count, b + step);
      for (size_t i = b; i < e; ++i) fn(i);
      if (progress) progress(e);
    }
    return;
  }
  std::atomic<size_t> next{0}, done{0};
  std::mutex m;
  std::condition_variable cv;
  unsigned finished = 0;
  auto worker = [&] {
    for (;;) {
      const size_t b = next.fetch_add(step);
      if (b >= count) break;
      const size_t e = std::min(count, b + step);
      for (size_t i = b; i < e; ++i) fn(i);
      done.fetch_add(e - b);
    }
    {
      std::lock_guard<std::mutex> lock(m);
      ++finished;
    }
    cv.notify_one();
  };
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back(worker);
  {
    std::unique_lock<std::mutex> lock(m);
    while (finished < threads) {
      cv.wait_for(lock, std::chrono::milliseconds(100));
      if (progress && finished < threads) {
        lock.unlock();
        progress(done.load());
        lock.lock();
      }
    }
  }
  for (auto& th : pool) th.join();
}

// Codes of 1 or 2 bytes (CodeArray's widths).
inline void StoreCodeAt(void* codes, size_t bytes, size_t j, uint64_t code) {
  if (bytes == 2) static_cast<uint16_t*>(codes)[j] = static_cast<uint16_t>(code);
  else static_cast<uint8_t*>(codes)[j] = static_cast<uint8_t>(code);
}

inline uint64_t LoadCodeAt(const void* codes, size_t bytes, size_t j) {
  return bytes == 2 ? static_cast<const uint16_t*>(codes)[j] : static_cast<const uint8_t*>(codes)[j];
}

// ---- walking a partition without a division per element ---------------------

// Consecutive elements [begin, begin + len) whose units are unit + j * stride
// (stride 0: one unit; 1: consecutive units).
struct Run {
  size_t begin, len, unit, stride;
};

// Lambdas given to ForEachRun: inlined into its loops (a call per run of
// 16 or 32 elements cost more than the run's work).
#define FS_INLINE_LAMBDA __attribute__((always_inline))

// Calls fn(Run) for the runs that make up elements [b, e), in order. The
// first run's place is divided out; the runs after it step on (units along
// the axis are numbered consecutively, so the next run's unit is the last
// one's plus one, wrapping where a channel index does), with no division.
template <class Fn>
void ForEachRun(const Partition& p, size_t b, size_t e, Fn&& fn) {
  if (e <= b) return;
  const size_t len = p.view.len, inner = p.view.inner;
  switch (p.kind) {
    case Granularity::kTensor:
      fn(Run{b, e - b, 0, 0});
      return;
    case Granularity::kChannel:
      if (inner == 1) {  // along the axis: channel k, k + 1, ..., then 0, 1, ... from the next row on
        for (size_t pos = b, k = b % len; pos < e; k = 0) {
          const size_t m = std::min(e - pos, len - k);
          fn(Run{pos, m, k, 1});
          pos += m;
        }
      } else {  // along the inner indices: one channel, the next one after each row of `inner`
        size_t i = b % inner, k = (b / inner) % len;
        for (size_t pos = b; pos < e;) {
          const size_t m = std::min(e - pos, inner - i);
          fn(Run{pos, m, k, 0});
          pos += m;
          i = 0;
          k = k + 1 == len ? 0 : k + 1;
        }
      }
      return;
    case Granularity::kGroup: {
      const size_t groups = p.GroupsAlong();
      if (inner == 1) {  // along the axis: up to the end of the group; units o * groups + g count up
        size_t k = b % len, u = (b / len) * groups + k / p.group;
        size_t k_end = std::min(len, (k / p.group + 1) * p.group);
        for (size_t pos = b; pos < e; ++u) {
          const size_t m = std::min(e - pos, k_end - k);
          fn(Run{pos, m, u, 0});
          pos += m;
          k += m;
          if (k == len) k = 0;
          k_end = std::min(len, k + p.group);  // k is a group's start from here on
        }
      } else {  // along the inner indices: units (o, g, i), i = 0, 1, ...
        for (size_t pos = b; pos < e;) {
          const size_t i = pos % inner, row = pos / inner, m = std::min(e - pos, inner - i);
          fn(Run{pos, m, ((row / len) * groups + (row % len) / p.group) * inner + i, 1});
          pos += m;
        }
      }
      return;
    }
  }
}

// ---- per-unit reductions -------------------------------------------------------
// acc[unit].Add(x) for every element, in increasing element order within a
// unit; where a unit is split between workers, the parts are merged in
// element order (Merge(later part)), so every result is the one a single
// pass in element order gives (first-seen among equal values included).

// Block maxima of float32 values by their bits: for each group of `group`
// consecutive values of x[0, n) (the last one may be shorter), bits[g] =
// the largest |x| pattern (the bits without the sign; for values that are
// not NaN their order is the values' order) that is <= limit, 0 if none,
// and over[g] = 1 where some pattern is above limit. limit 0x7f800000
// keeps every value but NaN, 0x7f7fffff every finite one.
FS_QUANT_CLONES void GroupMaxAbsBits(const float* x, size_t n, size_t group, uint32_t limit, uint32_t* bits,
                                     uint8_t* over) {
  for (size_t g0 = 0, g = 0; g0 < n; g0 += group, ++g) {
    const size_t e = std::min(n, g0 + group);
    uint32_t m = 0, all = 0;  // written so that GCC vectorizes the loop (memcpy, masks, two maxima)
    for (size_t j = g0; j < e; ++j) {
      uint32_t b;
      std::memcpy(&b, x + j, 4);
      b &= 0x7fffffffu;
      m = std::max(m, b & (0u - static_cast<uint32_t>(b <= limit)));
      all = std::max(all, b);
    }
    bits[g] = m;
    over[g] = all > limit;
  }
}

// Accumulators that GroupMaxAbsBits can fill (Acc::kBitsLimit, Acc::FromBits).
template <class Acc>
concept BitsMaxAcc = requires(uint32_t b, bool over) {
  { Acc::kBitsLimit } -> std::convertible_to<uint32_t>;
  { Acc::FromBits(b, over) } -> std::same_as<Acc>;
};

// `simd`: GroupMaxAbsBits may serve (where it applies); false keeps the
// element loop (the core path, which the tests compare the other with).
template <class Acc, class T>
std::vector<Acc> ReduceUnits(const Partition& p, std::span<const T> x, unsigned threads, bool simd = false) {
  const size_t units = p.Units(), n = x.size();
  const AxisView& v = p.view;
  std::vector<Acc> acc(units);
  if (n == 0) return acc;
  const bool grouped = p.kind == Granularity::kGroup;
  if (grouped || (p.kind == Granularity::kChannel && v.outer == 1)) {
    // Rows: runs of `span` indices along the axis (one group, or one
    // channel), each a contiguous range of elements holding whole units.
    const size_t span = grouped ? p.group : 1, per_outer = grouped ? p.GroupsAlong() : v.len;
    const size_t rows = v.outer * per_outer;
    const size_t step = std::max<size_t>(1, kChunk / std::max<size_t>(1, span * v.inner));
    if constexpr (std::is_same_v<T, float> && BitsMaxAcc<Acc>) {
      if (simd && grouped && v.inner == 1) {
        // Contiguous groups of float32 values: GroupMaxAbsBits over the
        // groups of a step that lie in one row along the axis at a time.
        ParallelFor((rows + step - 1) / step, 1, threads, [&](size_t piece) {
          const size_t r0 = piece * step, r1 = std::min(rows, r0 + step);
          std::vector<uint32_t> bits(r1 - r0);
          std::vector<uint8_t> over(r1 - r0);
          for (size_t row = r0; row < r1;) {
            const size_t o = row / per_outer, g = row % per_outer, count = std::min(r1 - row, per_outer - g);
            const size_t k0 = g * span, k1 = std::min(v.len, (g + count) * span);
            GroupMaxAbsBits(x.data() + o * v.len + k0, k1 - k0, span, Acc::kBitsLimit, bits.data(), over.data());
            for (size_t i = 0; i < count; ++i) acc[row + i].Merge(Acc::FromBits(bits[i], over[i] != 0));
            row += count;
          }
        });
        return acc;
      }
    }
    ParallelFor(rows, step, threads, [&](size_t row) {
      const size_t o = row / per_outer, g = row % per_outer;
      const size_t k0 = g * span, k1 = std::min(v.len, k0 + span);
      if (grouped && v.inner == 1) {  // the group is one contiguous run: a local accumulator
        Acc a = acc[row];
        const T* xr = x.data() + o * v.len;
        for (size_t k = k0; k < k1; ++k) a.Add(xr[k]);
        acc[row] = a;
        return;
      }
      for (size_t k = k0; k < k1; ++k) {
        const T* xr = x.data() + (o * v.len + k) * v.inner;
        if (grouped) {
          Acc* a = acc.data() + row * v.inner;
          for (size_t i = 0; i < v.inner; ++i) a[i].Add(xr[i]);
        } else {
          Acc a = acc[k];  // a local copy: no aliasing with x, so the loop can vectorize
          for (size_t i = 0; i < v.inner; ++i) a.Add(xr[i]);
          acc[k] = a;
        }
      }
    });
    return acc;
  }
  // The whole tensor, or channels shared by several outer indices: pieces of
  // the element range, each with its own accumulators (no more of them in
  // all than there are elements).
  const size_t pieces = std::max<size_t>(
      1, std::min({static_cast<size_t>(ThreadCount(threads)), n / std::max<size_t>(1, units), (n + kChunk - 1) / kChunk}));
  std::vector<std::vector<Acc>> part(pieces, std::vector<Acc>(units));
  const size_t per = (n + pieces - 1) / pieces;
  ParallelFor(pieces, 1, threads, [&](size_t q) {
    std::vector<Acc>& a = part[q];
    ForEachRun(p, std::min(n, q * per), std::min(n, (q + 1) * per), [&](const Run& r) FS_INLINE_LAMBDA {
      const T* xr = x.data() + r.begin;
      if (r.stride == 0) {
        Acc u = a[r.unit];  // a local copy: no aliasing with x, so the loop can vectorize
        for (size_t j = 0; j < r.len; ++j) u.Add(xr[j]);
        a[r.unit] = u;
      } else {
        for (size_t j = 0; j < r.len; ++j) a[r.unit + j].Add(xr[j]);
      }
    });
  });
  acc = std::move(part[0]);
  for (size_t q = 1; q < pieces; ++q)
    for (size_t u = 0; u < units; ++u) acc[u].Merge(part[q][u]);
  return acc;
}

// [min, max] ignoring NaN (calibration "max", FP8 amax), kept in the
// input's type. `v < lo ? v : lo` is std::min(lo, v) (the first of equal
// values stays) and skips NaN by itself, so starting from +-inf gives what
// the first-value-then-std::min loop of a single pass gives, without a
// branch per element.
template <class T>
struct RangeAcc {
  T lo = std::numeric_limits<T>::infinity(), hi = -std::numeric_limits<T>::infinity();
  void Add(T v) {
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  void Merge(const RangeAcc& o) {
    lo = o.lo < lo ? o.lo : lo;
    hi = o.hi > hi ? o.hi : hi;
  }
  // {0, 0} where every value was NaN (or there were none).
  Range Get() const { return lo <= hi ? Range{static_cast<double>(lo), static_cast<double>(hi)} : Range{}; }
};

// MX: the largest finite |x| and whether there is a NaN or an infinity
// (without a branch: `finite` is false for both).
struct MxAcc {
  double amax = 0;
  bool special = false;
  // GroupMaxAbsBits: the finite values' largest, and whether there are others.
  static constexpr uint32_t kBitsLimit = 0x7f7fffffu;
  static MxAcc FromBits(uint32_t bits, bool over) { return MxAcc{static_cast<double>(F32FromBits(bits)), over}; }
  template <class T>
  void Add(T x) {
    const double v = std::fabs(static_cast<double>(x));
    const bool finite = v <= DBL_MAX;
    special |= !finite;
    amax = finite && v > amax ? v : amax;
  }
  void Merge(const MxAcc& o) {
    amax = std::max(amax, o.amax);
    special |= o.special;
  }
};

// NVFP4: fmaxf of |float32(x)| (NaN ignored), written as the comparison
// fmaxf makes (a NaN compares false and is skipped), which inlines.
struct F32AmaxAcc {
  float amax = 0.0f;
  // GroupMaxAbsBits: the largest of the values but NaN.
  static constexpr uint32_t kBitsLimit = 0x7f800000u;
  static F32AmaxAcc FromBits(uint32_t bits, bool) { return F32AmaxAcc{F32FromBits(bits)}; }
  template <class T>
  void Add(T x) {
    const float a = std::fabs(static_cast<float>(x));
    amax = a > amax ? a : amax;
  }
  void Merge(const F32AmaxAcc& o) { Add(o.amax); }
};

// ---- float32 stand-ins -------------------------------------------------------
//
// The schemes that scale in float64 (FP8 scaling: x * scale; integers:
// x / scale + zero_point; MX: x * 2^-shared_exp, exact) round a float64
// value y into the element format once. The array kernels round float32
// values. ScaledToF32 gives the float32 value whose rounding is y's, for any
// deterministic mode, tie rule, tininess rule and flush-to-zero:
//
//   y itself where y is a float32; otherwise y rounded to odd at float32's
//   24 bits (truncated, then the last bit set). Round to odd with at least
//   two more bits than the target keeps on the same side of every point
//   where the target's rounding changes (its values, and the midpoints
//   between them): those points have at most p + 1 significant bits and so
//   are float32 values with a last bit of 0, which an odd float32 never is;
//   and it keeps the sign and the exactness. So it rounds to y's result in
//   every mode (Boldo & Melquiond, "Emulation of FMA and correctly rounded
//   sums: proved algorithms using rounding to odd", IEEE TC 2008). It needs
//   y in float32's normal range (below it float32 has fewer bits) and a
//   target of at most 22 significant bits (the integers of <= 16-bit formats
//   have 17 at most; float formats with mantissa_bits <= 21).
//
// Stochastic rounding compares the bits below the target's last place with
// a random word: only y itself will do, so there an inexact y goes to the
// core. Values that may overflow or clamp (and so raise the flags
// `saturated` counts), NaN, infinities, zeros of a format without zero,
// negatives into unsigned floats, and y outside float32's normal range go
// to the core too: there are few of them, and the core says what they are.

struct StandInRule {
  double lo = 0, hi = 0;     // values outside [lo, hi] may overflow or clamp: the core's
  bool zero_ok = true;       // the format has a zero
  bool inexact_ok = true;    // round-to-odd stand-ins are exact (see above)
};

StandInRule RuleFor(const Format& f, const Options& opt) {
  StandInRule r;
  if (IsFloat(f)) {
    r.hi = MaxFinite(f);
    r.lo = f.is_signed ? -r.hi : 0.0;
    r.zero_ok = f.has_zero && f.is_signed;  // an unsigned float's zeros: the core's (-0 is negative)
    r.inexact_ok = f.mantissa_bits <= 21;
  } else {
    r.lo = static_cast<double>(QMin(f));
    r.hi = static_cast<double>(QMax(f));
    r.inexact_ok = f.bits <= 16;
  }
  if (IsStochastic(opt.rounding)) r.inexact_ok = false;
  return r;
}

// Sets *v to y's stand-in; returns 1 where the element needs the core.
// Written without branches (bitwise & and |), so that loops over it
// vectorize.
inline uint8_t ScaledToF32(double y, const StandInRule& r, float* v) {
  const float f = static_cast<float>(y);  // nearest even
  const double back = static_cast<double>(f);
  const uint32_t inexact = back != y;
  const uint32_t away = std::fabs(back) > std::fabs(y);
  *v = F32FromBits((BitsOf(f) - (inexact & away)) | inexact);  // toward zero, then odd
  const double a = std::fabs(y);
  const uint32_t ok = static_cast<uint32_t>(y >= r.lo) & static_cast<uint32_t>(y <= r.hi) &
                      (static_cast<uint32_t>(a >= static_cast<double>(FLT_MIN)) |
                       (static_cast<uint32_t>(y == 0) & static_cast<uint32_t>(r.zero_ok))) &
                      ((inexact ^ 1u) | static_cast<uint32_t>(r.inexact_ok));
  return static_cast<uint8_t>(ok ^ 1u);
}

// ---- the stand-in loops, compiled for the machine --------------------------------
//
// The element loops above are plain IEEE float64/float32 arithmetic
// (products, quotients, sums, conversions, comparisons): every vector width
// gives every bit the scalar code gives (no contraction: the project builds
// with -ffp-contract=off). The library's baseline target (x86-64, SSE2)
// leaves them scalar; on x86-64 Linux with GCC they are also compiled for
// x86-64-v3 (AVX2) and v4 (AVX-512) and the loader picks the one the CPU
// runs (ifunc), which vectorizes them.
// (FS_QUANT_CLONES: see the top of this file.)

// bad[j] = ScaledToF32(x[j] * s) (FP8 scaling, MX's exact power of two).
FS_QUANT_CLONES void PrepProduct(const float* x, size_t n, double s, StandInRule rl, float* v, uint8_t* bad) {
  for (size_t j = 0; j < n; ++j) bad[j] = ScaledToF32(static_cast<double>(x[j]) * s, rl, v + j);
}
FS_QUANT_CLONES void PrepProduct(const double* x, size_t n, double s, StandInRule rl, float* v, uint8_t* bad) {
  for (size_t j = 0; j < n; ++j) bad[j] = ScaledToF32(x[j] * s, rl, v + j);
}
// bad[j] = ScaledToF32(x[j] / s + z) (integers).
FS_QUANT_CLONES void PrepAffine(const float* x, size_t n, double s, double z, StandInRule rl, float* v,
                                uint8_t* bad) {
  for (size_t j = 0; j < n; ++j) bad[j] = ScaledToF32(static_cast<double>(x[j]) / s + z, rl, v + j);
}
FS_QUANT_CLONES void PrepAffine(const double* x, size_t n, double s, double z, StandInRule rl, float* v,
                                uint8_t* bad) {
  for (size_t j = 0; j < n; ++j) bad[j] = ScaledToF32(x[j] / s + z, rl, v + j);
}
// The families whose element scale is one float32 per unit (MX's exact
// powers of two, NVFP4's block scales) take it per element, spread out from
// the units by ExpandUnits, so that their loops run over whole chunks.

// What the stand-in loops mark per element in bad[]: 0, the stand-in's
// rounding is the element's; kCore, the core does the element; kCountFlags,
// the stand-in is the element's exact value and its rounding the element's,
// but the core's flags count it (a value beyond the format's range, which
// may overflow: `saturated`). CastChunk counts those with the array
// kernels' statistics where the rounding is deterministic (the flags of a
// float32 value do not depend on its index there), else hands them to the
// core.
constexpr uint8_t kCore = 1, kCountFlags = 2;  // CastChunk's scan reads marks of at most 2 (two bits)

// v[j] = x[j] * s[j] in float32, s[j] a power of two (MX); bad[j] = 0
// where that is ScaledToF32's stand-in of the exact product x[j] * s[j]
// with the rule [lo, hi], zero_ok: a product that is a normal float32 (|v|
// > FLT_MIN, so the exact one is not below FLT_MIN either) is the exact
// product, and the same comparisons decide; a zero is exact only where x[j]
// is a zero. A normal product beyond [lo, hi] is kCountFlags where
// `count_beyond` (a signed float format: its finite values raise no flag
// but inexact, underflow and overflow); anything else (below FLT_MIN,
// beyond the float32 range, NaN, s[j] NaN) is kCore, as the float64
// products of PrepProduct would be (|v| == FLT_MIN goes there too:
// harmless, the core is the definition).
FS_QUANT_CLONES void PrepPow2F32(const float* x, const float* s, size_t n, float lo, float hi, bool zero_ok,
                                 bool count_beyond, float* v, uint8_t* bad) {
  const uint32_t z = zero_ok, c = count_beyond;
  for (size_t j = 0; j < n; ++j) {
    const float y = x[j] * s[j];
    v[j] = y;
    const float a = std::fabs(y);
    const uint32_t normal = static_cast<uint32_t>(a > FLT_MIN) & static_cast<uint32_t>(a <= FLT_MAX);
    const uint32_t in = static_cast<uint32_t>(y >= lo) & static_cast<uint32_t>(y <= hi);
    const uint32_t ok = in & (normal | (static_cast<uint32_t>(x[j] == 0.0f) & z));
    const uint32_t count = (in ^ 1u) & normal & c;
    bad[j] = static_cast<uint8_t>((ok ^ 1u) << count);  // 0, kCore or kCountFlags
  }
}
// NVFP4 (te): v[j] = float32(x[j]) * k[j], the recipe's own value; bad[j]
// = kCountFlags where it is finite and beyond e2m1fn's 6, kCore where it is
// not finite.
inline uint8_t Nvfp4Mark(float y) {
  const float a = std::fabs(y);
  return static_cast<uint8_t>(static_cast<uint32_t>(!(a <= 6.0f)) << static_cast<uint32_t>(a <= FLT_MAX));
}
FS_QUANT_CLONES void PrepMulF32(const float* x, const float* k, size_t n, float* v, uint8_t* bad) {
  for (size_t j = 0; j < n; ++j) {
    const float y = x[j] * k[j];
    v[j] = y;
    bad[j] = Nvfp4Mark(y);
  }
}
FS_QUANT_CLONES void PrepMulF32(const double* x, const float* k, size_t n, float* v, uint8_t* bad) {
  for (size_t j = 0; j < n; ++j) {
    const float y = static_cast<float>(x[j]) * k[j];
    v[j] = y;
    bad[j] = Nvfp4Mark(y);
  }
}
// NVFP4 (torchao): v[j] = float32(x[j]) / t[j]; bad[j] = kCore where it
// is NaN or beyond 6 (the core counts the clamp).
FS_QUANT_CLONES void PrepDivF32(const float* x, const float* t, size_t n, float* v, uint8_t* bad) {
  for (size_t j = 0; j < n; ++j) {
    const float q = x[j] / t[j];
    v[j] = q;
    bad[j] = !(std::fabs(q) <= 6.0f);
  }
}
FS_QUANT_CLONES void PrepDivF32(const double* x, const float* t, size_t n, float* v, uint8_t* bad) {
  for (size_t j = 0; j < n; ++j) {
    const float q = static_cast<float>(x[j]) / t[j];
    v[j] = q;
    bad[j] = !(std::fabs(q) <= 6.0f);
  }
}
// dq[j] = fq[j] * s[j] (the decoders of those families); returns whether
// every dq[j] with bad[j] == 0 is finite (the others are the core's).
FS_QUANT_CLONES bool MulF32(const float* fq, const float* s, const uint8_t* bad, size_t n, float* dq) {
  uint32_t ok = 1;
  for (size_t j = 0; j < n; ++j) {
    const float y = fq[j] * s[j];
    dq[j] = y;
    ok &= static_cast<uint32_t>(std::fabs(y) <= FLT_MAX) | static_cast<uint32_t>(bad[j] != 0);
  }
  return ok != 0;
}
// Whether every value is finite (the chunks' check for results the
// scheme's decoder must redo).
FS_QUANT_CLONES bool AllFinite(const float* v, size_t n) {
  uint32_t ok = 1;
  for (size_t j = 0; j < n; ++j) ok &= static_cast<uint32_t>(std::fabs(v[j]) <= FLT_MAX);
  return ok != 0;
}

// ---- the schemes' element maps ---------------------------------------------------
//
// Each family turns inputs into float32 stand-ins (Prep: over a Run, marking
// the elements the core must do), says what the core gives for one element
// (Core: the scheme's element function, the definition), and dequantizes
// from the exact values of the codes (Decode, over a Run; CoreDecode for one
// code). Per-unit parameters are indexed by unit. A family whose element
// scale is one float32 per unit says so instead of Prep or Decode:
// PrepScales(x) (null: Prep after all) and PrepElems take it per element,
// over a whole chunk; DecodeScales is the factor dq = fq * s (MulF32).

// FP8 scaling (tensor, channel, group, delayed): cast(f, x * scale),
// x' = value * scale_inv.
struct ScaledFamily {
  const Format* f;
  Options opt, array_opt;
  StandInRule rule;
  const float* scale;
  const float* inv;

  template <class T>
  void Prep(const T* x, const Run& r, float* v, uint8_t* bad) const {
    if (r.stride == 0) {
      // Locals, so the compiler knows the stores to v and bad change none of them (and vectorizes).
      PrepProduct(x, r.len, static_cast<double>(scale[r.unit]), rule, v, bad);
    } else {
      const float* s = scale + r.unit;
      for (size_t j = 0; j < r.len; ++j)
        bad[j] = ScaledToF32(static_cast<double>(x[j]) * static_cast<double>(s[j]), rule, v + j);
    }
  }
  template <class T>
  Result Core(T x, size_t u, uint64_t index) const {
    return Fp8Encode(*f, opt, static_cast<double>(x), scale[u], index);
  }
  void Decode(const float* fq, const Run& r, float* dq) const {
    if (r.stride == 0) {
      const float s = inv[r.unit];
      for (size_t j = 0; j < r.len; ++j) dq[j] = fq[j] * s;
    } else {
      for (size_t j = 0; j < r.len; ++j) dq[j] = fq[j] * inv[r.unit + j];
    }
  }
  float CoreDecode(uint64_t code, size_t u) const { return Fp8Decode(*f, code, inv[u]); }
};

// Integers: cast(f, x / scale + zero_point), x' = (value - zero_point) * scale.
struct IntFamily {
  const Format* f;
  Options opt, array_opt;
  StandInRule rule;
  const IntParams* params;
  const float* zero_f;  // zero points as float32 (exact: at most 2^16)

  template <class T>
  void Prep(const T* x, const Run& r, float* v, uint8_t* bad) const {
    if (r.stride == 0) {
      PrepAffine(x, r.len, static_cast<double>(params[r.unit].scale), static_cast<double>(params[r.unit].zero_point),
                 rule, v, bad);
      return;
    }
    for (size_t j = 0; j < r.len; ++j) {
      const IntParams& p = params[r.unit + j];
      bad[j] = ScaledToF32(static_cast<double>(x[j]) / static_cast<double>(p.scale) +
                               static_cast<double>(p.zero_point),
                           rule, v + j);
    }
  }
  template <class T>
  Result Core(T x, size_t u, uint64_t index) const {
    return IntEncode(*f, opt, static_cast<double>(x), params[u], index);
  }
  // value - zero_point is exact in float32 and the product is rounded once,
  // as IntDecode rounds the exact float64 product.
  void Decode(const float* fq, const Run& r, float* dq) const {
    if (r.stride == 0) {
      const float z = zero_f[r.unit], s = params[r.unit].scale;
      for (size_t j = 0; j < r.len; ++j) dq[j] = (fq[j] - z) * s;
      return;
    }
    for (size_t j = 0; j < r.len; ++j) dq[j] = (fq[j] - zero_f[r.unit + j]) * params[r.unit + j].scale;
  }
  float CoreDecode(uint64_t code, size_t u) const { return IntDecode(*f, code, params[u]); }
};

// OCP MX: cast(elem, x * 2^(implied - shared_exp)) exactly scaled,
// x' = value * 2^(shared_exp - implied). Blocks with a NaN scale: the core.
struct MxFamily {
  const MxType* t;
  const Format* f;
  Options opt, array_opt;
  StandInRule rule;
  const MxScale* scales;
  const double* down;  // 2^(implied - shared_exp) (0 for NaN blocks)
  const float* up;     // 2^(shared_exp - implied): a float32 for every shared_exp in [-127, 127]
  // down as a float32 where it is one, else NaN (and NaN for NaN blocks),
  // for PrepPow2F32 (null: rule.lo or rule.hi is not a float32, Prep runs).
  const float* down_f = nullptr;

  // float32 inputs: the products in float32 (PrepPow2F32).
  const float* PrepScales(const float*) const { return down_f; }
  void PrepElems(const float* x, const float* s, size_t n, float* v, uint8_t* bad) const {
    PrepPow2F32(x, s, n, static_cast<float>(rule.lo), static_cast<float>(rule.hi), rule.zero_ok,
                IsFloat(*f) && f->is_signed, v, bad);
  }
  template <class T>
  void Prep(const T* x, const Run& r, float* v, uint8_t* bad) const {
    // x * 2^k is exact in float64 but where it underflows, and then it is
    // below float32's range and goes to the core anyway.
    const StandInRule rl = rule;  // locals: see ScaledFamily::Prep
    const size_t n = r.len;
    if (r.stride == 0) {
      PrepProduct(x, n, down[r.unit], rl, v, bad);
      if (scales[r.unit].IsNan()) std::fill(bad, bad + n, uint8_t{1});
      return;
    }
    for (size_t j = 0; j < n; ++j) {
      const size_t u = r.unit + j;
      bad[j] = ScaledToF32(static_cast<double>(x[j]) * down[u], rl, v + j) | scales[u].IsNan();
    }
  }
  template <class T>
  Result Core(T x, size_t u, uint64_t index) const {
    return MxEncodeElement(*t, opt, static_cast<double>(x), scales[u], index);
  }
  // value * 2^k rounded once to float32: a float32 multiplication by the
  // exact power of two, as DecodeScaledPow2ToF32 rounds the exact product.
  const float* DecodeScales() const { return up; }
  float CoreDecode(uint64_t code, size_t u) const { return MxDecodeElement(*t, code, scales[u]); }
};

// NVFP4, TransformerEngine's recipe: cast(e2m1fn, float32(x) * k_b) where the
// float32 product is the recipe's own value (no stand-in needed),
// x' = value * (value(s_b) * S_dec).
struct Nvfp4TeFamily {
  const Format* f = &formats::kE2m1fn;
  Options opt, array_opt;
  const float* k;    // block encode scales
  const float* dec;  // block decode scales value(s_b) * S_dec
  const uint8_t* scale_codes;
  float s_dec;

  template <class T>
  const float* PrepScales(const T*) const {
    return k;
  }
  template <class T>
  void PrepElems(const T* x, const float* s, size_t n, float* v, uint8_t* bad) const {
    PrepMulF32(x, s, n, v, bad);
  }
  template <class T>
  Result Core(T x, size_t u, uint64_t index) const {
    return Nvfp4EncodeElement(opt, static_cast<float>(x), k[u], index);
  }
  const float* DecodeScales() const { return dec; }
  float CoreDecode(uint64_t code, size_t u) const { return Nvfp4DecodeElement(code, scale_codes[u], s_dec); }
};

// NVFP4, torchao's recipe: cast(e2m1fn, clamp(float32(x) / t_b, -6, 6)),
// x' = value * t_b. The clamp does satfinite's job: the elements it changes
// count as saturated (flagged as overflow here).
struct Nvfp4TorchaoFamily {
  const Format* f = &formats::kE2m1fn;
  Options opt, array_opt;
  const float* t;  // block decode scales P * value(s_b)

  template <class T>
  const float* PrepScales(const T*) const {
    return t;
  }
  template <class T>
  void PrepElems(const T* x, const float* s, size_t n, float* v, uint8_t* bad) const {
    PrepDivF32(x, s, n, v, bad);
  }
  template <class T>
  Result Core(T x, size_t u, uint64_t index) const {
    const float x32 = static_cast<float>(x);
    Result r = TorchaoNvfp4EncodeElement(opt, x32, t[u], index);
    if (std::fabs(x32 / t[u]) > 6.0f) r.flags |= kOverflow;
    return r;
  }
  const float* DecodeScales() const { return t; }
  float CoreDecode(uint64_t code, size_t u) const { return TorchaoNvfp4DecodeElement(code, t[u]); }
};

// ---- the element pass ----------------------------------------------------------------

// What one chunk needs besides the outputs, kept per thread.
struct Scratch {
  std::vector<float> v, fq, dq;
  std::vector<float> unit_scale, decode_scale;  // per-unit float32 scales, per element (ExpandUnits)
  std::vector<uint8_t> bad;
  std::vector<uint32_t> core;
  std::vector<size_t> core_unit;  // the unit of each of `core`
  std::vector<float> counted;     // kCountFlags stand-ins
  std::vector<uint8_t> counted_codes;
  std::vector<uint64_t> core_code;
  std::vector<uint8_t> codes;  // codes when the caller keeps none (2 bytes each at most)
  void Size(size_t m) {
    if (v.size() < m) {
      v.resize(m);
      fq.resize(m);
      dq.resize(m);
      bad.resize(m);
      codes.resize(2 * m);
      counted.resize(m);
      counted_codes.resize(2 * m);
    }
  }
};

template <size_t N>
inline void FillN(float* o, float v) {
  for (size_t i = 0; i < N; ++i) o[i] = v;
}

// out[j] = per_unit[unit of element b + j] for the elements [b, e), and
// the same from per_unit2 into out2 unless that is null (one walk for both).
inline void ExpandUnits(const Partition& part, size_t b, size_t e, const float* per_unit, float* out,
                        const float* per_unit2 = nullptr, float* out2 = nullptr) {
  auto one = [](const Run& r, const float* pu, float* o) FS_INLINE_LAMBDA {
    if (r.stride != 0) {
      std::copy_n(pu + r.unit, r.len, o);
      return;
    }
    const float v = pu[r.unit];
    switch (r.len) {  // NVFP4's and MX's blocks: a few stores, no loop
      case 16: FillN<16>(o, v); return;
      case 32: FillN<32>(o, v); return;
      default: std::fill_n(o, r.len, v);
    }
  };
  if (per_unit2) {
    ForEachRun(part, b, e, [&](const Run& r) FS_INLINE_LAMBDA {
      one(r, per_unit, out + (r.begin - b));
      one(r, per_unit2, out2 + (r.begin - b));
    });
  } else {
    ForEachRun(part, b, e, [&](const Run& r) FS_INLINE_LAMBDA { one(r, per_unit, out + (r.begin - b)); });
  }
}

// Which of the two ways a family makes its stand-ins of T inputs (a family
// with PrepElems and no Prep gives PrepScales for every chunk).
template <class Fam, class T>
concept HasPrep = requires(const Fam& fam, const T* x, float* v, uint8_t* bad) { fam.Prep(x, Run{}, v, bad); };
template <class Fam, class T>
concept HasPrepElems = requires(const Fam& fam, const T* x, const float* s, float* v, uint8_t* bad) {
  { fam.PrepScales(x) } -> std::same_as<const float*>;
  fam.PrepElems(x, s, size_t{}, v, bad);
};

// Elements [b, e): codes into `codes` (at storage width) unless null,
// dequantized values into dq. Returns the chunk's statistics.
template <class T, class Fam>
analysis::ErrorStats CastChunk(const Fam& fam, const Partition& part, const T* x, size_t b, size_t e, bool simd,
                               void* codes, float* dq, Scratch& s) {
  const size_t m = e - b;
  const Format& f = *fam.f;
  s.Size(m);
  s.core.clear();
  s.core_code.clear();
  uint64_t saturated = 0;
  auto core = [&](size_t j, size_t unit) {
    const size_t i = b + j;
    const Result r = fam.Core(x[i], unit, i);
    saturated += !std::isnan(static_cast<double>(x[i])) && (r.flags & (kOverflow | kInvalid)) != 0;
    return r.code;
  };
  if (!simd) {
    // The reference: every element by its scheme's element function.
    for (size_t j = 0; j < m; ++j) {
      const size_t unit = part.UnitOf(b + j);
      const uint64_t code = core(j, unit);
      if (codes) StoreCodeAt(codes, CodeBytes(f), j, code);
      dq[j] = fam.CoreDecode(code, unit);
    }
  } else {
    // The per-element scales: PrepScales' into unit_scale, and
    // DecodeScales' (where they differ) into decode_scale in the same walk.
    const float* prep_scales = nullptr;
    const float* decode_scales = nullptr;  // per element, once expanded
    if constexpr (HasPrepElems<Fam, T>) {
      prep_scales = fam.PrepScales(x);
      if (prep_scales) {
        s.unit_scale.resize(std::max(s.unit_scale.size(), m));
        const float* second = nullptr;
        if constexpr (requires { fam.DecodeScales(); }) {
          if (fam.DecodeScales() != prep_scales) second = fam.DecodeScales();
        }
        if (second) s.decode_scale.resize(std::max(s.decode_scale.size(), m));
        ExpandUnits(part, b, e, prep_scales, s.unit_scale.data(), second, second ? s.decode_scale.data() : nullptr);
        decode_scales = second ? s.decode_scale.data() : s.unit_scale.data();
        fam.PrepElems(x + b, s.unit_scale.data(), m, s.v.data(), s.bad.data());
      }
    }
    if constexpr (HasPrep<Fam, T>) {
      if (!prep_scales)
        ForEachRun(part, b, e, [&](const Run& r) FS_INLINE_LAMBDA {
          fam.Prep(x + r.begin, r, s.v.data() + (r.begin - b), s.bad.data() + (r.begin - b));
        });
    }
    // The marked elements (nearly all flags are zero):
    // kCore ones into `core`; kCountFlags ones into `counted` (their
    // stand-ins: the array kernels round them with the rest) where the
    // rounding is deterministic, else into `core` too. From here on
    // bad[j] != 0 means the core's.
    const bool count_by_array = !IsStochastic(fam.array_opt.rounding);
    size_t counted = 0;
    auto mark = [&](size_t k) {
      if (s.bad[k] == kCountFlags && count_by_array) {
        s.bad[k] = 0;
        s.counted[counted++] = s.v[k];
      } else if (s.bad[k]) {
        s.bad[k] = kCore;
        s.core.push_back(static_cast<uint32_t>(k));
      }
    };
    // 64 flags at a time: a bit per flag (marks are 0, 1 or 2: a flag's
    // byte is nonzero where (w | w >> 1) has its low bit, and the multiply
    // gathers the eight low bits into the top byte), then the set bits.
    size_t at = 0;
    if constexpr (std::endian::native == std::endian::little) {
      for (; at + 64 <= m; at += 64) {
        uint64_t bits = 0;
        for (int q = 0; q < 8; ++q) {
          uint64_t w;
          std::memcpy(&w, s.bad.data() + at + 8 * q, 8);
          const uint64_t low = (w | (w >> 1)) & 0x0101010101010101u;
          bits |= ((low * 0x0102040810204080u) >> 56) << (8 * q);
        }
        for (; bits != 0; bits &= bits - 1) mark(at + static_cast<size_t>(std::countr_zero(bits)));
      }
    }
    for (; at < m; ++at) mark(at);
    if (counted != 0) {
      // Only their overflow flags count (finite values of a signed float
      // format raise no invalid); their codes come with the chunk's.
      ArrayStats st;
      EncodeF32Array(f, fam.array_opt, s.counted.data(), s.counted_codes.data(), counted, 0, &st, 1);
      saturated += st.overflow;
    }
    // Their units, from the runs (in element order, as `core` is).
    s.core_unit.clear();
    if (!s.core.empty()) {
      size_t k = 0;
      ForEachRun(part, b, e, [&](const Run& r) FS_INLINE_LAMBDA {
        const size_t end = r.begin - b + r.len;
        for (; k < s.core.size() && s.core[k] < end; ++k)
          s.core_unit.push_back(r.unit + (s.core[k] - (r.begin - b)) * r.stride);
      });
    }
    if (codes) {
      EncodeF32Array(f, fam.array_opt, s.v.data(), codes, m, b, nullptr, 1);
      for (size_t k = 0; k < s.core.size(); ++k) StoreCodeAt(codes, CodeBytes(f), s.core[k], core(s.core[k], s.core_unit[k]));
      DecodeToF32Array(f, Options{}, codes, s.fq.data(), m, 1);
    } else {
      FakeQuantF32Array(f, fam.array_opt, s.v.data(), s.fq.data(), m, b, nullptr, 1);
      for (size_t k = 0; k < s.core.size(); ++k) s.core_code.push_back(core(s.core[k], s.core_unit[k]));
    }
    // Whether every result but the core's is finite.
    bool all_finite = true, check_all = false;
    if constexpr (requires { fam.DecodeScales(); }) {
      if (!decode_scales) {  // the stand-ins came from Prep
        s.unit_scale.resize(std::max(s.unit_scale.size(), m));
        ExpandUnits(part, b, e, fam.DecodeScales(), s.unit_scale.data());
        decode_scales = s.unit_scale.data();
      }
      all_finite = MulF32(s.fq.data(), decode_scales, s.bad.data(), m, dq);
    } else {
      ForEachRun(part, b, e, [&](const Run& r) FS_INLINE_LAMBDA { fam.Decode(s.fq.data() + (r.begin - b), r, dq + (r.begin - b)); });
      check_all = true;
    }
    // The core's elements, and any non-finite result (NaN codes and their
    // payloads, overflow of the product), from the scheme's own decoder.
    for (size_t k = 0; k < s.core.size(); ++k) {
      const size_t j = s.core[k];
      const uint64_t code = codes ? LoadCodeAt(codes, CodeBytes(f), j) : s.core_code[k];
      dq[j] = fam.CoreDecode(code, s.core_unit[k]);
    }
    if (check_all) all_finite = AllFinite(dq, m);
    for (size_t j = 0; j < m && !all_finite; ++j) {
      if (std::isfinite(dq[j]) || s.bad[j]) continue;
      const uint64_t code = codes ? LoadCodeAt(codes, CodeBytes(f), j)
                                  : EncodeFromF32(f, s.v[j], fam.array_opt, b + j).code;
      dq[j] = fam.CoreDecode(code, part.UnitOf(b + j));
    }
  }
  analysis::ErrorStats st;
  st.AddArray(x + b, dq, m);
  st.saturated = saturated;
  return st;
}

template <class T, class Fam>
analysis::ErrorStats CastAll(const QuantConfig& c, const Fam& fam, const Partition& part, std::span<const T> x,
                             QuantResult& out, const Progress& progress, const ChunkSink& sink) {
  const size_t n = x.size();
  const bool want_codes = c.outputs != Outputs::kDequantized, want_dq = c.outputs != Outputs::kCodes;
  // A sink takes each chunk from the thread's scratch buffers: nothing
  // tensor-sized is allocated (nor touched for the first time).
  if (want_codes && !sink) out.codes = CodeArray(CodeBytes(*fam.f), n);
  if (want_dq && !sink) {
    out.dequantized.reserve(n);
    PreferHugePages(out.dequantized.data(), n * sizeof(float));
    out.dequantized.resize(n);
  }
  const size_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<analysis::ErrorStats> stats(chunks);
  ParallelFor(
      chunks, 1, c.threads,
      [&](size_t ci) {
        thread_local Scratch s;
        const size_t b = ci * kChunk, e = std::min(n, b + kChunk);
        s.Size(e - b);
        void* codes = !want_codes ? nullptr : sink ? s.codes.data() : out.codes.at(b);
        float* dq = want_dq && !sink ? out.dequantized.data() + b : s.dq.data();
        stats[ci] = CastChunk(fam, part, x.data(), b, e, c.simd, codes, dq, s);
        if (sink) sink(b, e - b, want_codes ? static_cast<const void*>(codes) : static_cast<const void*>(dq));
      },
      progress ? std::function<void(size_t)>([&](size_t done) { progress(std::min(n, done * kChunk), n); })
               : std::function<void(size_t)>());
  analysis::ErrorStats total;
  for (const analysis::ErrorStats& s : stats) total += s;
  return total;
}

// ---- calibration -------------------------------------------------------------------

// The sum of squared round-trip errors of `fam` (unit 0) over the values xs
// (flat indices idx), in order, as CalibrateUnits' MSE search defines it.
template <class T, class Fam>
double SampleSquaredError(const Fam& fam, const std::vector<T>& xs, const std::vector<size_t>& idx, bool simd,
                          Scratch& s) {
  const size_t m = xs.size();
  double sum = 0;
  auto add = [&](size_t j, float y) {
    const double d = static_cast<double>(y) - static_cast<double>(xs[j]);
    sum += d * d;
  };
  if (!simd || IsStochastic(fam.opt.rounding)) {
    // Stochastic rounding is keyed by each element's own flat index, which
    // a gathered sample does not have in a row: the core, one at a time.
    for (size_t j = 0; j < m; ++j) add(j, fam.CoreDecode(fam.Core(xs[j], 0, idx[j]).code, 0));
    return sum;
  }
  s.Size(m);
  const Run run{0, m, 0, 0};
  fam.Prep(xs.data(), run, s.v.data(), s.bad.data());
  FakeQuantF32Array(*fam.f, fam.array_opt, s.v.data(), s.fq.data(), m, 0, nullptr, 1);
  fam.Decode(s.fq.data(), run, s.dq.data());
  for (size_t j = 0; j < m; ++j) {
    if (s.bad[j]) s.dq[j] = fam.CoreDecode(fam.Core(xs[j], 0, idx[j]).code, 0);
    else if (!std::isfinite(s.dq[j]))
      s.dq[j] = fam.CoreDecode(EncodeFromF32(*fam.f, s.v[j], fam.array_opt, idx[j]).code, 0);
    add(j, s.dq[j]);
  }
  return sum;
}

// Every unit's clipping range by the calibration method. `family(range)`
// gives the element map with that range's parameters (for the MSE search).
template <class T, class MakeFamily>
std::vector<Range> CalibrateUnits(const Partition& p, const Calibration& calib, bool symmetric, std::span<const T> x,
                                  const QuantConfig& c, MakeFamily&& family) {
  if (calib.method == CalibMethod::kMax) {
    const std::vector<RangeAcc<T>> acc = ReduceUnits<RangeAcc<T>>(p, x, c.threads);
    std::vector<Range> ranges(acc.size());
    for (size_t u = 0; u < acc.size(); ++u) ranges[u] = acc[u].Get();
    return ranges;
  }
  std::vector<Range> ranges(p.Units());
  ParallelFor(ranges.size(), 1, c.threads, [&](size_t u) {
    std::vector<size_t> idx;
    p.ForEachIn(u, [&](size_t e) { idx.push_back(e); });
    std::vector<double> v(idx.size());
    for (size_t j = 0; j < idx.size(); ++j) v[j] = static_cast<double>(x[idx[j]]);
    if (calib.method == CalibMethod::kPercentile) {
      ranges[u] = RangePercentile(v, calib.percentile, symmetric);
      return;
    }
    const Range full = RangeMax(v);
    std::vector<size_t> sample;
    std::vector<T> xs;
    for (const size_t j : MseSamplePositions(v.size()))
      if (std::isfinite(v[j])) {
        sample.push_back(idx[j]);
        xs.push_back(x[idx[j]]);
      }
    Scratch s;
    ranges[u] = RangeMse(full, [&](const Range& r) {
      return family(r, [&](const auto& fam) { return SampleSquaredError(fam, xs, sample, c.simd, s); });
    });
  });
  return ranges;
}

// ---- configuration ---------------------------------------------------------------

// The p3109 scheme's block scale format: binary8p1uf unless given.
const Format& ScaleFormatOf(const QuantConfig& c) {
  return c.scale_format ? *c.scale_format : *FindNamedFormat("binary8p1uf");
}

Partition MakePartition(const QuantConfig& c, const std::vector<size_t>& shape, size_t axis) {
  const SchemeInfo& info = InfoOf(c.scheme);
  Partition p;
  p.view = ViewAround(shape, axis);
  switch (info.unit) {
    case Unit::kTensor: p.kind = Granularity::kTensor; break;
    case Unit::kChannel:
    case Unit::kStep: p.kind = Granularity::kChannel; break;
    case Unit::kGroup:
      p.kind = Granularity::kGroup;
      p.group = info.block ? info.block : (info.float_options & kOptBlock) ? c.block : c.group;
      break;
  }
  return p;
}

void Validate(const QuantConfig& c, const std::vector<size_t>& shape) {
  if (!c.format) throw QuantError("no format given");
  const Format& f = *c.format;
  if (f.storage_bits > 16)
    throw QuantError(std::string("format ") + f.name + " is too wide to quantize into (codes of at most 16 bits)");
  const SchemeInfo& s = InfoOf(c.scheme);
  CheckElementFormat(s, f);
  CheckSchemeOptions(s, f, OptionsSet(c));
  if (c.scheme == Scheme::kP3109) {
    if (const std::string why = CheckScaleFormat(ScaleFormatOf(c)); !why.empty()) throw QuantError(why);
  }
  if (c.calib.method == CalibMethod::kPercentile && !(c.calib.percentile > 0 && c.calib.percentile <= 100))
    throw QuantError("percentile must be in (0, 100]");
  if (c.fp8.margin < -64 || c.fp8.margin > 64) throw QuantError("margin must be between -64 and 64");
  const uint32_t takes = s.float_options | s.int_options;
  if ((takes & kOptGroup) && c.group == 0)
    throw QuantError(std::string("scheme ") + s.name + " needs a group size > 0 (--group)");
  if ((takes & kOptBlock) && c.block == 0)
    throw QuantError(std::string("scheme ") + s.name + " needs a block size > 0 (--block)");
  if (s.unit == Unit::kStep) {
    if (shape.empty()) throw QuantError(std::string("scheme ") + s.name + " needs at least one axis (axis 0 counts the steps)");
    if (c.history == 0) throw QuantError("the amax history needs a length > 0");
  }
}

Options ElementOptions(const QuantConfig& c) {
  Options o = c.opt;
  if (o.overflow == Overflow::kDefault) o.overflow = Overflow::kSaturate;
  return o;
}

// The options of the array casts of stand-ins: DAZ (flush_input) applies to
// the scheme's float64 value, which a stand-in is only where that value is
// a normal float32; so never to a stand-in.
Options StandInOptions(const Options& opt) {
  Options o = opt;
  o.flush_input = false;
  return o;
}

// Block scales: codes[u] = the cast of v[u] into `f` with `opt`, and
// values[u] its value (values may be v). By the array kernels, or where
// the configuration asks for the core path (c.simd false, the reference
// the tests compare the kernels' path with) by the core.
void CastScales(const QuantConfig& c, const Format& f, const Options& opt, const float* v, uint8_t* codes,
                float* values, size_t n) {
  if (c.simd) {
    EncodeF32Array(f, opt, v, codes, n, 0, nullptr, c.threads);
    DecodeToF32Array(f, Options{}, codes, values, n, c.threads);
  } else {
    scalar::EncodeF32Array(f, opt, v, codes, n);
    scalar::DecodeToF32Array(f, Options{}, codes, values, n);
  }
}

template <class T>
QuantResult QuantizeImpl(const QuantConfig& c, const std::vector<size_t>& shape, std::span<const T> x,
                         const Progress& progress, const ChunkSink& sink) {
  Validate(c, shape);
  if (sink && c.outputs == Outputs::kBoth)
    throw QuantError("a chunk sink takes the codes or the dequantized values, not both");
  const SchemeInfo& info = InfoOf(c.scheme);
  const std::optional<size_t> axis = NormalizeAxis(info.unit == Unit::kStep ? 0 : c.axis, shape.size());
  if (!axis)
    throw QuantError("axis " + std::to_string(c.axis) + " is out of range for a tensor of " +
                     std::to_string(shape.size()) + " dimensions");
  size_t count = 1;
  for (const size_t d : shape) count *= d;
  if (count != x.size())
    throw QuantError("the tensor has " + std::to_string(x.size()) + " values, its shape says " + std::to_string(count));
  const Format& f = *c.format;
  const Options opt = ElementOptions(c);
  const Partition part = MakePartition(c, shape, *axis);
  QuantResult out;
  out.shape = shape;
  out.scale_shape = info.unit == Unit::kStep ? std::vector<size_t>{part.view.len} : part.UnitShape(shape, *axis);
  const size_t units = part.Units();

  switch (info.rule) {
    case ScaleRule::kRange:
    case ScaleRule::kHistory: {
      if (!IsFloat(f)) {  // the table allows integers with kRange only
        const bool sym = c.int_mode == IntMode::kSymmetric;
        IntFamily fam{&f, opt, StandInOptions(opt), RuleFor(f, opt), nullptr, nullptr};
        const std::vector<Range> ranges = CalibrateUnits(part, c.calib, sym, x, c, [&](const Range& r, auto&& eval) {
          const IntParams p = ChooseIntParams(f, c.int_mode, r.lo, r.hi);
          const float z = static_cast<float>(p.zero_point);
          IntFamily one = fam;
          one.params = &p;
          one.zero_f = &z;
          return eval(one);
        });
        std::vector<IntParams> params(units);
        std::vector<float> zero_f(units);
        for (size_t u = 0; u < units; ++u) {
          params[u] = ChooseIntParams(f, c.int_mode, ranges[u].lo, ranges[u].hi);
          zero_f[u] = static_cast<float>(params[u].zero_point);
        }
        out.scales.resize(units);
        for (size_t u = 0; u < units; ++u) out.scales[u] = params[u].scale;
        if (!sym) out.zero_points = zero_f;
        fam.params = params.data();
        fam.zero_f = zero_f.data();
        out.stats = CastAll(c, fam, part, x, out, progress, sink);
        break;
      }
      ScaledFamily fam{&f, opt, StandInOptions(opt), RuleFor(f, opt), nullptr, nullptr};
      std::vector<float> scale(units), inv(units);
      if (info.rule == ScaleRule::kRange) {
        const std::vector<Range> ranges = CalibrateUnits(part, c.calib, true, x, c, [&](const Range& r, auto&& eval) {
          const float s = Fp8ScaleFromAmax(f, r.Amax(), c.fp8, 1.0f), i = Fp8ScaleInverse(s);
          ScaledFamily one = fam;
          one.scale = &s;
          one.inv = &i;
          return eval(one);
        });
        for (size_t u = 0; u < units; ++u) {
          scale[u] = Fp8ScaleFromAmax(f, ranges[u].Amax(), c.fp8, 1.0f);
          inv[u] = Fp8ScaleInverse(scale[u]);
        }
      } else {
        // Delayed scaling: step t is cast with the scale computed from the
        // history after step t - 1.
        const std::vector<RangeAcc<T>> amax = ReduceUnits<RangeAcc<T>>(part, x, c.threads);
        AmaxHistory history(c.history, c.reduce);
        float current = 1.0f;
        for (size_t t = 0; t < units; ++t) {
          scale[t] = current;
          inv[t] = Fp8ScaleInverse(current);
          history.Push(amax[t].Get().Amax());
          current = Fp8ScaleFromAmax(f, history.Reduced(), c.fp8, current);
        }
      }
      out.scales = inv;
      fam.scale = scale.data();
      fam.inv = inv.data();
      out.stats = CastAll(c, fam, part, x, out, progress, sink);
      break;
    }
    case ScaleRule::kE8m0:
    case ScaleRule::kP3109: {
      // P3109 blocks are MX blocks with another scale rule and scale format
      // (p3109_block.h): the same exactly scaled element casts.
      const bool p3109 = info.rule == ScaleRule::kP3109;
      const MxType t = p3109 ? P3109ElementType(f) : *FindMxType(f.name);
      const Format& scale_format = ScaleFormatOf(c);
      const std::vector<MxAcc> acc = ReduceUnits<MxAcc>(part, x, c.threads, c.simd);
      std::vector<MxScale> scales(units);
      std::vector<double> down(units);
      std::vector<float> up(units);
      out.scale_codes.resize(units);
      // 2^e for the exponents blocks have (ldexp once per exponent, not per block).
      constexpr int kPowLo = -160, kPowHi = 160;
      double pow64[kPowHi - kPowLo + 1];
      float pow32[kPowHi - kPowLo + 1];
      for (int e = kPowLo; e <= kPowHi; ++e) {
        pow64[e - kPowLo] = std::ldexp(1.0, e);
        pow32[e - kPowLo] = std::ldexp(1.0f, e);
      }
      auto in_table = [&](int e) { return e >= kPowLo && e <= kPowHi; };
      for (size_t u = 0; u < units; ++u) {
        scales[u] = p3109 ? P3109BlockScale(t, scale_format, acc[u].amax) : MxSharedScale(t, acc[u].amax, acc[u].special);
        out.scale_codes[u] = scales[u].code;
        const int k = scales[u].shared_exp - t.implied_shift;
        down[u] = scales[u].IsNan() ? 0.0 : in_table(-k) ? pow64[-k - kPowLo] : std::ldexp(1.0, -k);
        up[u] = scales[u].IsNan() ? NAN : in_table(k) ? pow32[k - kPowLo] : std::ldexp(1.0f, k);
      }
      MxFamily fam{&t, t.elem, opt, StandInOptions(opt), RuleFor(*t.elem, opt), scales.data(), down.data(),
                   up.data()};
      if (t.implied_shift != 0) fam.rule.lo = -fam.rule.hi;  // MXINT8: -128 is the core's (it becomes -127)
      // The float32 products (PrepPow2F32) where the rule's bounds are
      // float32 values: 2^-k is one for k >= -127 (down to 2^-149).
      std::vector<float> down_f;
      if (static_cast<double>(static_cast<float>(fam.rule.lo)) == fam.rule.lo &&
          static_cast<double>(static_cast<float>(fam.rule.hi)) == fam.rule.hi) {
        down_f.resize(units);
        for (size_t u = 0; u < units; ++u) {
          const int k = scales[u].shared_exp - t.implied_shift;
          down_f[u] = scales[u].IsNan() || k < -127 || k > 149 ? NAN : pow32[-k - kPowLo];
        }
        fam.down_f = down_f.data();
      }
      out.stats = CastAll(c, fam, part, x, out, progress, sink);
      break;
    }
    case ScaleRule::kNvfp4: {
      // The tensor's amax is the largest block amax (the blocks cover every
      // element once; the maximum does not depend on the grouping): no second pass.
      const std::vector<F32AmaxAcc> block = ReduceUnits<F32AmaxAcc>(part, x, c.threads, c.simd);
      F32AmaxAcc all;
      for (const F32AmaxAcc& b : block) all.Merge(b);
      const float amax = all.amax;
      out.scale_codes.resize(units);
      if (c.nvfp4_recipe == Nvfp4Recipe::kTransformerEngine) {
        const float s_enc = Nvfp4GlobalEncodeScale(amax), s_dec = Nvfp4GlobalDecodeScale(s_enc);
        // Nvfp4BlockScaleCode and Nvfp4BlockEncodeScale for every block,
        // the E4M3 casts in array calls.
        std::vector<float> k(units), dec(units);
        for (size_t u = 0; u < units; ++u) k[u] = Nvfp4BlockScaleValue(block[u].amax, s_enc);
        CastScales(c, formats::kE4m3fn, Nvfp4BlockScaleOptions(), k.data(), out.scale_codes.data(), dec.data(), units);
        for (size_t u = 0; u < units; ++u) {
          k[u] = Nvfp4BlockEncodeScaleOf(dec[u], s_dec);
          dec[u] *= s_dec;
        }
        out.global_decode_scale = s_dec;
        Nvfp4TeFamily fam;
        fam.opt = fam.array_opt = opt;  // the recipe's float32 value is cast as it is, DAZ included
        fam.k = k.data();
        fam.dec = dec.data();
        fam.scale_codes = out.scale_codes.data();
        fam.s_dec = s_dec;
        out.stats = CastAll(c, fam, part, x, out, progress, sink);
      } else {
        const float per_tensor = TorchaoNvfp4TensorScale(amax);
        // TorchaoNvfp4BlockScaleCode and TorchaoNvfp4BlockDecodeScale for
        // every block, the E4M3 casts in array calls.
        std::vector<float> tb(units);
        for (size_t u = 0; u < units; ++u) tb[u] = TorchaoNvfp4BlockScaleValue(block[u].amax, per_tensor);
        CastScales(c, formats::kE4m3fn, Options{}, tb.data(), out.scale_codes.data(), tb.data(), units);
        for (size_t u = 0; u < units; ++u) tb[u] = TorchaoNvfp4BlockDecodeScaleOf(tb[u], per_tensor);
        out.global_decode_scale = per_tensor;
        Nvfp4TorchaoFamily fam;
        fam.opt = fam.array_opt = opt;
        fam.t = tb.data();
        out.stats = CastAll(c, fam, part, x, out, progress, sink);
      }
      break;
    }
  }
  return out;
}

}  // namespace

void PreferHugePages(void* data, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  if (bytes < 2 * kHuge) return;
  // The whole huge pages inside the buffer (madvise wants aligned ranges).
  const uintptr_t b = (reinterpret_cast<uintptr_t>(data) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t e = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(kHuge - 1);
  if (e > b) madvise(reinterpret_cast<void*>(b), e - b, MADV_HUGEPAGE);  // advice: failure changes nothing
#else
  (void)data;
  (void)bytes;
#endif
}

CodeArray::CodeArray(size_t bytes, size_t n) : bytes_(bytes == 2 ? 2 : 1) {
  if (bytes_ == 2) {
    c16_.reserve(n);
    PreferHugePages(c16_.data(), n * 2);
    c16_.resize(n);
  } else {
    c8_.reserve(n);
    PreferHugePages(c8_.data(), n);
    c8_.resize(n);
  }
}

uint32_t OptionsSet(const QuantConfig& c) {
  uint32_t o = 0;
  if (c.group != 0) o |= kOptGroup;
  if (c.block != kMxBlock) o |= kOptBlock;
  if (c.calib.method != CalibMethod::kMax) o |= kOptCalib;
  if (c.int_mode != IntMode::kSymmetric) o |= kOptAsymmetric;
  if (c.fp8.margin != 0) o |= kOptMargin;
  if (c.fp8.pow2) o |= kOptPow2;
  if (c.reduce != AmaxReduce::kMax) o |= kOptAmaxReduce;
  if (c.nvfp4_recipe != Nvfp4Recipe::kTransformerEngine) o |= kOptRecipe;
  if (c.scale_format != nullptr) o |= kOptScaleFormat;
  return o;
}

void CheckConfig(const QuantConfig& c) { Validate(c, {1}); }

QuantResult Quantize(const QuantConfig& c, const std::vector<size_t>& shape, std::span<const float> x,
                     const Progress& progress, const ChunkSink& sink) {
  return QuantizeImpl<float>(c, shape, x, progress, sink);
}

QuantResult Quantize(const QuantConfig& c, const std::vector<size_t>& shape, std::span<const double> x,
                     const Progress& progress, const ChunkSink& sink) {
  return QuantizeImpl<double>(c, shape, x, progress, sink);
}

}  // namespace floatscope::quant
