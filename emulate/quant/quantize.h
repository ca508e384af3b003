// Whole-tensor quantization: picks a scheme's scales for a C-order tensor,
// casts every element, dequantizes, and measures the loss against the
// input. The schemes are described in scheme.h (one table) and their
// formulas in fp8_scaling.h, integer.h, calibration.h, mx.h and nvfp4.h;
// docs/QUANTIZATION.md has them all on one page.
//
// The input keeps its dtype: float32 stays float32 all the way (no float64
// copy), float64 is read as float64. Codes are kept at their storage width
// (one byte for formats of up to 8 bits, two up to 16).
//
// The element pass is a streaming pipeline over chunks of 65536 elements:
// for each chunk, the scheme's scaling turns the inputs into float32 values
// whose rounding by the array kernels (emulate/array_ops.h) is exactly the
// core's rounding of the scheme's real value; the kernels cast them (codes
// at storage width, or the decoded values directly); the elements the
// kernels cannot take exactly (NaN, infinities, values that may overflow or
// clamp and so raise the flags `saturated` counts, products outside
// float32's normal range, stochastic rounding of a product that is not a
// float32) go to the scheme's element function on the core
// (fp8_scaling.h, integer.h, mx.h, nvfp4.h), which is the definition; then
// the dequantized values and the statistics of the chunk. Why rounding a
// float32 stand-in gives the core's bits is explained at ScaledToF32 in
// quantize.cc.
//
// Results never depend on the thread count: every element is cast from its
// own value, its unit's scale and its flat index (which keys stochastic
// rounding), reductions merge partial results in element order, and the
// statistics are summed per chunk, then over chunks in order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/error_stats.h"
#include "emulate/quant/calibration.h"
#include "emulate/quant/fp8_scaling.h"
#include "emulate/quant/integer.h"
#include "emulate/quant/nvfp4.h"
#include "emulate/quant/scheme.h"
#include "formats/format.h"
#include "formats/policy.h"

namespace floatscope::quant {

// What the caller wants back (the command line writes one or the other;
// computing only that one saves a pass and the memory of the other).
enum class Outputs : uint8_t { kBoth, kCodes, kDequantized };

struct QuantConfig {
  const Format* format = nullptr;  // element format
  Scheme scheme = Scheme::kTensor;
  long axis = -1;       // channel, group, mx, nvfp4 (negative: from the end)
  size_t group = 0;     // group: elements per group (required)
  size_t block = 32;    // mx, p3109: elements per block (OCP: 32)
  IntMode int_mode = IntMode::kSymmetric;  // integer formats
  Calibration calib;                       // tensor, channel, group
  Fp8ScalingRecipe fp8;                    // float formats: margin, pow2
  size_t history = 16;                     // delayed: amax history length
  AmaxReduce reduce = AmaxReduce::kMax;    // delayed
  Nvfp4Recipe nvfp4_recipe = Nvfp4Recipe::kTransformerEngine;  // nvfp4
  const Format* scale_format = nullptr;    // p3109: block scale format (nullptr: binary8p1uf)
  Options opt;  // element casts; overflow kDefault means saturate here
  unsigned threads = 0;  // 0: all hardware threads
  Outputs outputs = Outputs::kBoth;
  // true: the pipeline above. false: every element through its scheme's
  // element function on the core, one at a time (the reference the tests
  // compare the pipeline with). Results are identical either way.
  bool simd = true;
};

// Element codes at their storage width: bytes 1 (formats of up to 8 bits)
// or 2 (up to 16). For integer formats a code is the two's complement value
// in the low `bits` bits (int4 -3 is 0x0d).
class CodeArray {
 public:
  CodeArray() = default;
  CodeArray(size_t bytes, size_t n);
  size_t size() const { return bytes_ == 2 ? c16_.size() : c8_.size(); }
  bool empty() const { return size() == 0; }
  size_t bytes() const { return bytes_; }
  uint64_t operator[](size_t i) const { return bytes_ == 2 ? c16_[i] : c8_[i]; }
  void Set(size_t i, uint64_t code) {
    if (bytes_ == 2) c16_[i] = static_cast<uint16_t>(code);
    else c8_[i] = static_cast<uint8_t>(code);
  }
  void* data() { return bytes_ == 2 ? static_cast<void*>(c16_.data()) : static_cast<void*>(c8_.data()); }
  const void* data() const {
    return bytes_ == 2 ? static_cast<const void*>(c16_.data()) : static_cast<const void*>(c8_.data());
  }
  // Element i's address (for writing a chunk in place).
  void* at(size_t i) { return static_cast<char*>(data()) + i * bytes_; }
  bool operator==(const CodeArray& o) const = default;

  // The codes as uint64_t values, for the callers that copy them out
  // (vector::assign(begin(), end())).
  class const_iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = uint64_t;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = uint64_t;
    const_iterator() = default;
    const_iterator(const CodeArray* a, size_t i) : a_(a), i_(i) {}
    uint64_t operator*() const { return (*a_)[i_]; }
    const_iterator& operator++() {
      ++i_;
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator t = *this;
      ++i_;
      return t;
    }
    bool operator==(const const_iterator& o) const { return i_ == o.i_; }

   private:
    const CodeArray* a_ = nullptr;
    size_t i_ = 0;
  };
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, size()}; }

 private:
  size_t bytes_ = 1;
  std::vector<uint8_t> c8_;
  std::vector<uint16_t> c16_;
};

struct QuantResult {
  std::vector<size_t> shape;
  CodeArray codes;                 // one element code per input element (unless Outputs::kDequantized)
  std::vector<float> dequantized;  // float32 x' per element (unless Outputs::kCodes)
  // Per-unit scales, C order, shape `scale_shape`: x' = value(code) * s for
  // float formats (s = 1/scale: the decode scale), (value(code) - z) * s for
  // integers. Empty for mx, nvfp4 and p3109, which have `scale_codes` instead.
  std::vector<size_t> scale_shape;
  std::vector<float> scales;
  std::vector<float> zero_points;   // asymmetric integer schemes only
  std::vector<uint8_t> scale_codes; // mx: E8M0 codes; nvfp4: E4M3 codes; p3109: scale_format codes
  std::optional<float> global_decode_scale;  // nvfp4: S_dec (te) or the per-tensor scale (torchao)
  // What the quantization cost, against the input's values (as float64):
  // measured on the float32 dequantized values (what the default output
  // file holds). `saturated` counts the casts that overflowed or clamped
  // (NaN inputs excepted).
  analysis::ErrorStats stats;
};

// Called now and then from the calling thread with elements done so far.
using Progress = std::function<void(size_t done, size_t total)>;

// Asks the kernel to back [data, data + bytes) with huge pages where it can
// (Linux transparent huge pages in "madvise" mode): a tensor buffer touched
// once costs one page fault per 2 MiB instead of per 4 KiB, which for a
// fresh 40 MB buffer is most of its cost. Call it before the first write.
// Does nothing elsewhere or for small buffers.
void PreferHugePages(void* data, size_t bytes);

// Throws QuantError (one line) for a configuration that cannot apply to any
// tensor (the checks Quantize makes that do not need the data).
void CheckConfig(const QuantConfig& config);

// The SchemeOption bits of the options `config` sets to other than their
// defaults (what CheckConfig checks against the scheme table; the command
// line checks the options given instead).
uint32_t OptionsSet(const QuantConfig& config);

// Takes the element pass's output chunk by chunk instead of the result's
// arrays: elements [begin, begin + count), as codes at storage width
// (Outputs::kCodes; CodeBytes(format) bytes each) or float32 dequantized
// values (Outputs::kDequantized), at `data`, valid during the call. Called
// from the worker threads, several at once, chunks in any order; each
// element is given once. (The command line writes them to the output
// file at their place: no tensor-sized output buffer.)
using ChunkSink = std::function<void(size_t begin, size_t count, const void* data)>;

// Throws QuantError (one line) for a configuration that does not apply.
// `x` holds the ElementCount(shape) values in C order. With a `sink`, the
// result's codes and dequantized values stay empty (config.outputs must be
// kCodes or kDequantized).
QuantResult Quantize(const QuantConfig& config, const std::vector<size_t>& shape, std::span<const float> x,
                     const Progress& progress = {}, const ChunkSink& sink = {});
QuantResult Quantize(const QuantConfig& config, const std::vector<size_t>& shape, std::span<const double> x,
                     const Progress& progress = {}, const ChunkSink& sink = {});

}  // namespace floatscope::quant
