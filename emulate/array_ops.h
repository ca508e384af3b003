// Array conversions: the fast path users get without asking. Each function
// takes the same Format and Options as the scalar core (formats/) and gives
// the same bits: the Highway kernels in emulate/simd/ are proven equal to
// the core on all 2^32 float32 inputs (tests/simd/), and anything they do
// not cover (f64 targets, very wide custom formats) falls back to the core.
//
// Codes are stored in the smallest unsigned word that holds the format's
// storage bits (uint8_t for FP8/FP6/FP4/int8/int4, uint16_t for f16/bf16,
// uint32_t for tf32 as its float32 pattern, uint64_t for f64).
// `first_index` is the element index of in[0], which keys stochastic
// rounding: splitting an array into pieces or threads changes nothing.
#pragma once

#include <cstddef>
#include <cstdint>

#include "formats/format.h"
#include "formats/policy.h"

namespace floatscope {

// What a conversion did, counted per element (each count is the number of
// elements whose flags or result had that property).
struct ArrayStats {
  uint64_t elements = 0;
  uint64_t inexact = 0;    // kInexact raised
  uint64_t underflow = 0;  // kUnderflow raised
  uint64_t overflow = 0;   // kOverflow raised
  uint64_t invalid = 0;    // kInvalid raised
  uint64_t saturated = 0;  // overflow that gave +-max finite
  uint64_t flushed = 0;    // tiny results replaced by zero (FTZ)
  uint64_t nan = 0;        // results that are NaN codes

  ArrayStats& operator+=(const ArrayStats& o);
  bool operator==(const ArrayStats& o) const = default;
};

// Width in bytes of one stored code of `f`.
size_t CodeBytes(const Format& f);

// Whether the SIMD kernels handle rounding float32 into `f` (the rest runs
// the scalar core).
bool SimdSupports(const Format& f);

// Name of the Highway target the kernels dispatch to on this CPU.
const char* SimdTargetName();

// `threads`: 0 = all hardware threads, 1 = the calling thread only.
// `stats` may be null (then nothing is counted, which is a little faster).
void EncodeF32Array(const Format& f, const Options& opt, const float* in, void* codes, size_t n,
                    uint64_t first_index = 0, ArrayStats* stats = nullptr, unsigned threads = 1);

void EncodeF64Array(const Format& f, const Options& opt, const double* in, void* codes, size_t n,
                    uint64_t first_index = 0, ArrayStats* stats = nullptr, unsigned threads = 1);

// codes of `f` -> float32 (exact for every format but f64). NaN payloads
// and DAZ (opt.flush_input) follow `opt`; opt.flush_output is about
// rounding into a format and is ignored here: a code whose value is a
// float32 subnormal decodes to that subnormal.
void DecodeToF32Array(const Format& f, const Options& opt, const void* codes, float* out, size_t n,
                      unsigned threads = 1);

// float32 -> f -> float32 in one pass (out may equal in).
void FakeQuantF32Array(const Format& f, const Options& opt, const float* in, float* out, size_t n,
                       uint64_t first_index = 0, ArrayStats* stats = nullptr, unsigned threads = 1);

// The same operations through the scalar core only, element by element: the
// reference the SIMD path is tested against and benchmarked beside.
namespace scalar {
void EncodeF32Array(const Format& f, const Options& opt, const float* in, void* codes, size_t n,
                    uint64_t first_index = 0, ArrayStats* stats = nullptr);
void DecodeToF32Array(const Format& f, const Options& opt, const void* codes, float* out, size_t n);
void FakeQuantF32Array(const Format& f, const Options& opt, const float* in, float* out, size_t n,
                       uint64_t first_index = 0, ArrayStats* stats = nullptr);
}  // namespace scalar

}  // namespace floatscope
