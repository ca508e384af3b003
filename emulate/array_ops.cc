#include "emulate/array_ops.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "emulate/encode_plan.h"
#include "emulate/simd/kernels.h"
#include "formats/convert.h"

namespace floatscope {

ArrayStats& ArrayStats::operator+=(const ArrayStats& o) {
  elements += o.elements;
  inexact += o.inexact;
  underflow += o.underflow;
  overflow += o.overflow;
  invalid += o.invalid;
  saturated += o.saturated;
  flushed += o.flushed;
  nan += o.nan;
  return *this;
}

size_t CodeBytes(const Format& f) {
  const int b = f.storage_bits;
  return b <= 8 ? 1 : b <= 16 ? 2 : b <= 32 ? 4 : 8;
}

bool SimdSupports(const Format& f) {
  if (!IsFloat(f)) return f.bits <= 16;
  // Rounding float32 needs at least one discarded bit (m <= 22), codes and
  // exponent arithmetic that fit 32-bit lanes, and values that are floats.
  return f.mantissa_bits <= 22 && f.bits <= 24 && f.exponent_bits <= 8 &&
         MinNormalExponent(f) >= -127 && MinNormalExponent(f) - f.mantissa_bits >= -149 &&
         static_cast<int>(MaxFiniteMagnitude(f) >> f.mantissa_bits) - f.bias <= 127;
}

const char* SimdTargetName() { return simd::DispatchedTargetName(); }

namespace {

uint64_t LoadCode(const void* codes, size_t bytes, size_t i, const Format& f) {
  switch (bytes) {
    case 1: return static_cast<const uint8_t*>(codes)[i];
    case 2: return static_cast<const uint16_t*>(codes)[i];
    case 4: return static_cast<const uint32_t*>(codes)[i] >> f.storage_shift;
    default: return static_cast<const uint64_t*>(codes)[i];
  }
}

void StoreCode(void* codes, size_t bytes, size_t i, uint64_t code, const Format& f) {
  switch (bytes) {
    case 1: static_cast<uint8_t*>(codes)[i] = static_cast<uint8_t>(code); break;
    case 2: static_cast<uint16_t*>(codes)[i] = static_cast<uint16_t>(code); break;
    case 4: static_cast<uint32_t*>(codes)[i] = static_cast<uint32_t>(code << f.storage_shift); break;
    default: static_cast<uint64_t*>(codes)[i] = code; break;
  }
}

// Counts one element. `x` is the input, for telling a flushed result (zero
// only because of FTZ) from one that rounded to zero anyway.
template <class T>
void Count(const Format& f, const Options& opt, T x, uint64_t index, const Result& r, ArrayStats* st) {
  if (!st) return;
  if (opt.flush_output && IsFloat(f) && (r.flags & kUnderflow) && (r.code & MagnitudeMask(f)) == 0) {
    Options keep = opt;
    keep.flush_output = false;
    const Result unflushed = sizeof(T) == 4 ? EncodeFromF32(f, static_cast<float>(x), keep, index)
                                            : EncodeFromF64(f, static_cast<double>(x), keep, index);
    st->flushed += (unflushed.code & MagnitudeMask(f)) != 0;
  }
  ++st->elements;
  st->inexact += (r.flags & kInexact) != 0;
  st->underflow += (r.flags & kUnderflow) != 0;
  st->overflow += (r.flags & kOverflow) != 0;
  st->invalid += (r.flags & kInvalid) != 0;
  st->nan += IsNanCode(f, r.code);
  if (IsFloat(f)) {
    st->saturated += (r.flags & kOverflow) && (r.code & MagnitudeMask(f)) == MaxFiniteMagnitude(f);
  }
}

// Runs body(begin, end, stats) over `threads` contiguous pieces of [0, n).
// Pieces depend on n and the thread count only through their bounds, and
// every element keeps its own index, so results never depend on threads.
template <class Body>
void Parallel(size_t n, unsigned threads, ArrayStats* stats, Body body) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  const size_t min_piece = size_t{1} << 16;
  threads = static_cast<unsigned>(std::min<size_t>(threads, std::max<size_t>(1, n / min_piece)));
  if (threads <= 1) {
    body(0, n, stats);
    return;
  }
  std::vector<ArrayStats> part(threads);
  std::vector<std::thread> pool;
  const size_t piece = (n / threads + 63) & ~size_t{63};
  for (unsigned t = 0; t < threads; ++t) {
    const size_t b = std::min(n, t * piece), e = t + 1 == threads ? n : std::min(n, (t + 1) * piece);
    pool.emplace_back([&, t, b, e] { body(b, e, stats ? &part[t] : nullptr); });
  }
  for (auto& th : pool) th.join();
  if (stats)
    for (const auto& p : part) *stats += p;
}

}  // namespace

namespace scalar {

void EncodeF32Array(const Format& f, const Options& opt, const float* in, void* codes, size_t n,
                    uint64_t first_index, ArrayStats* stats) {
  const size_t bytes = CodeBytes(f);
  for (size_t i = 0; i < n; ++i) {
    const Result r = EncodeFromF32(f, in[i], opt, first_index + i);
    StoreCode(codes, bytes, i, r.code, f);
    Count(f, opt, in[i], first_index + i, r, stats);
  }
}

void DecodeToF32Array(const Format& f, const Options& opt, const void* codes, float* out, size_t n) {
  const size_t bytes = CodeBytes(f);
  Options exact = opt;
  exact.flush_output = false;  // flush_output is about rounding into f, not about float32
  for (size_t i = 0; i < n; ++i) out[i] = DecodeToF32(f, LoadCode(codes, bytes, i, f), exact);
}

void FakeQuantF32Array(const Format& f, const Options& opt, const float* in, float* out, size_t n,
                       uint64_t first_index, ArrayStats* stats) {
  Options exact = opt;
  exact.flush_input = false;   // the decode reads the code's value exactly,
  exact.flush_output = false;  // and a float32 subnormal stays one
  for (size_t i = 0; i < n; ++i) {
    const Result r = EncodeFromF32(f, in[i], opt, first_index + i);
    Count(f, opt, in[i], first_index + i, r, stats);
    out[i] = DecodeToF32(f, r.code, exact);
  }
}

}  // namespace scalar

void EncodeF32Array(const Format& f, const Options& opt, const float* in, void* codes, size_t n,
                    uint64_t first_index, ArrayStats* stats, unsigned threads) {
  const size_t bytes = CodeBytes(f);
  if (!SimdSupports(f)) {
    Parallel(n, threads, stats, [&](size_t b, size_t e, ArrayStats* st) {
      scalar::EncodeF32Array(f, opt, in + b, static_cast<char*>(codes) + b * bytes, e - b, first_index + b, st);
    });
    return;
  }
  const EncodePlan plan = MakeEncodePlan(f, opt);
  Parallel(n, threads, stats, [&](size_t b, size_t e, ArrayStats* st) {
    char* out = static_cast<char*>(codes) + b * bytes;
    const size_t done = simd::EncodeF32Vectors(plan, in + b, out, static_cast<int>(bytes), nullptr, e - b,
                                               first_index + b, st);
    scalar::EncodeF32Array(f, opt, in + b + done, out + done * bytes, e - b - done, first_index + b + done, st);
  });
}

void EncodeF64Array(const Format& f, const Options& opt, const double* in, void* codes, size_t n,
                    uint64_t first_index, ArrayStats* stats, unsigned threads) {
  const size_t bytes = CodeBytes(f);
  Parallel(n, threads, stats, [&](size_t b, size_t e, ArrayStats* st) {
    for (size_t i = b; i < e; ++i) {
      const Result r = EncodeFromF64(f, in[i], opt, first_index + i);
      StoreCode(codes, bytes, i, r.code, f);
      Count(f, opt, in[i], first_index + i, r, st);
    }
  });
}

void DecodeToF32Array(const Format& f, const Options& opt, const void* codes, float* out, size_t n,
                      unsigned threads) {
  const size_t bytes = CodeBytes(f);
  if (!SimdSupports(f)) {
    Parallel(n, threads, nullptr, [&](size_t b, size_t e, ArrayStats*) {
      scalar::DecodeToF32Array(f, opt, static_cast<const char*>(codes) + b * bytes, out + b, e - b);
    });
    return;
  }
  const EncodePlan plan = MakeEncodePlan(f, opt);
  Parallel(n, threads, nullptr, [&](size_t b, size_t e, ArrayStats*) {
    const char* c = static_cast<const char*>(codes) + b * bytes;
    const size_t done = simd::DecodeToF32Vectors(plan, c, static_cast<int>(bytes), out + b, e - b);
    scalar::DecodeToF32Array(f, opt, c + done * bytes, out + b + done, e - b - done);
  });
}

void FakeQuantF32Array(const Format& f, const Options& opt, const float* in, float* out, size_t n,
                       uint64_t first_index, ArrayStats* stats, unsigned threads) {
  if (!SimdSupports(f)) {
    Parallel(n, threads, stats, [&](size_t b, size_t e, ArrayStats* st) {
      scalar::FakeQuantF32Array(f, opt, in + b, out + b, e - b, first_index + b, st);
    });
    return;
  }
  EncodePlan plan = MakeEncodePlan(f, opt);
  plan.decode.flush_subnormals = false;  // the decode reads the code's value exactly
  Parallel(n, threads, stats, [&](size_t b, size_t e, ArrayStats* st) {
    const size_t done = simd::EncodeF32Vectors(plan, in + b, nullptr, 0, out + b, e - b, first_index + b, st);
    scalar::FakeQuantF32Array(f, opt, in + b + done, out + b + done, e - b - done, first_index + b + done, st);
  });
}

}  // namespace floatscope
