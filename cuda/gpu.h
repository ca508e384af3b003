// floatscope on a CUDA GPU: the host API of the kernels in cuda/kernels.cu.
// Plain C++ (no CUDA header needed), so the CLI, tests and benchmarks can
// call it from code g++ compiles. Every pointer named `d_*` is device
// memory. Every function launches on the default stream and returns
// without waiting; Synchronize() waits and throws GpuError on any CUDA
// error (launch errors are checked at launch too).
//
// What each kernel computes is what the CPU emulator computes, bit for bit:
//   Encode/Decode/FakeQuant     emulate/array_ops.h (EncodeF32Array,
//                               DecodeToF32Array, FakeQuantF32Array)
//   TensorScaledFakeQuant       emulate/quant: scheme tensor, FP8 current
//                               scaling (fp8_scaling.h), float formats
//   MxQuantize / Nvfp4Quantize  emulate/quant: schemes mx and nvfp4 along
//                               the last axis of a rows x cols tensor
//   Gemm                        emulate/dot.h Gemm (every DotModel)
// Stochastic rounding uses element index first_index + i, as on the CPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "emulate/dot_model.h"
#include "emulate/quant/fp8_scaling.h"
#include "formats/format.h"
#include "formats/policy.h"

namespace floatscope::gpu {

struct GpuError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// False (and why) when no CUDA device can be used.
bool DeviceAvailable(std::string* why = nullptr);
// "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs), driver 13000, runtime 13000".
std::string DeviceDescription();

void* DeviceAlloc(size_t bytes);
void DeviceFree(void* d_ptr);
void CopyToDevice(void* d_dst, const void* src, size_t bytes);
void CopyToHost(void* dst, const void* d_src, size_t bytes);
void Synchronize();

// An owning device array.
template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  explicit DeviceArray(size_t n) : n_(n), p_(static_cast<T*>(DeviceAlloc(n * sizeof(T) + (n == 0)))) {}
  ~DeviceArray() { DeviceFree(p_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  DeviceArray(DeviceArray&& o) noexcept : n_(o.n_), p_(o.p_) { o.p_ = nullptr, o.n_ = 0; }
  DeviceArray& operator=(DeviceArray&& o) noexcept {
    std::swap(n_, o.n_);
    std::swap(p_, o.p_);
    return *this;
  }
  T* get() const { return p_; }
  size_t size() const { return n_; }
  void Upload(const T* src, size_t n) { CopyToDevice(p_, src, n * sizeof(T)); }
  void Download(T* dst, size_t n) const { CopyToHost(dst, p_, n * sizeof(T)); }

 private:
  size_t n_ = 0;
  T* p_ = nullptr;
};

// Which element kernel converts: "fast" is emulate/simd's integer algorithm
// (the formats SimdSupports() accepts): for the named formats it covers,
// with the default-like options (no flushing, no wrapping), a kernel
// specialised at compile time (cuda/named_convert.h), otherwise the kernel
// driven by the run-time plan (emulate/encode_lanes.h, the Highway kernels'
// general conversion, one element per thread); "plan" is always the
// latter (for comparison); "core" calls formats/ itself (any format of at
// most 32 bits); "auto" takes fast where it applies. For
// TensorScaledFakeQuant, kCore keeps the first version (the core's cast,
// amax with float compares), anything else the fast passes.
enum class Variant : uint8_t { kAuto, kFast, kCore, kPlan };
const char* VariantName(Variant v);
// Whether `v` can convert float32 into `f` (kAuto: whether any can).
bool VariantSupports(Variant v, const Format& f);

// Codes are stored as on the CPU (emulate/array_ops.h): CodeBytes(f) bytes
// each (1, 2 or 4 here; tf32 as its float32 pattern).
void Encode(const Format& f, const Options& opt, const float* d_in, void* d_codes, size_t n,
            uint64_t first_index = 0, Variant v = Variant::kAuto);
void Decode(const Format& f, const Options& opt, const void* d_codes, float* d_out, size_t n,
            Variant v = Variant::kAuto);
void FakeQuant(const Format& f, const Options& opt, const float* d_in, float* d_out, size_t n,
               uint64_t first_index = 0, Variant v = Variant::kAuto);

// Per-tensor FP8 current scaling: amax = max |x| (NaN ignored), scale =
// fmt_max / amax (margin, pow2 as emulate/quant), codes = cast(x * scale)
// with one rounding, out = value(code) * (1 / scale). `opt.overflow`
// kDefault means saturate (as emulate/quant). d_codes or d_out may be null.
// d_work: TensorScaledWorkBytes() of device memory; after the call it
// holds amax, scale and scale_inv as three float32 (TensorScaledScales).
using ScaledRecipe = quant::Fp8ScalingRecipe;  // margin, pow2
size_t TensorScaledWorkBytes();
void TensorScaledFakeQuant(const Format& f, const Options& opt, const ScaledRecipe& recipe, const float* d_in,
                           void* d_codes, float* d_out, size_t n, void* d_work, Variant v = Variant::kAuto);
struct TensorScales {
  float amax, scale, scale_inv;
};
TensorScales TensorScaledScales(const void* d_work);  // synchronizes

// OCP MX along the last axis (blocks of 32 within each row; the last block
// of a row may be shorter). elem: e4m3fn, e5m2, e2m3fn, e3m2fn, e2m1fn or
// int8. d_codes: rows x cols bytes; d_scales: rows x ceil(cols / 32) E8M0
// codes; d_out: dequantized float32. `opt.overflow` kDefault = saturate.
void MxQuantize(const Format& elem, const Options& opt, const float* d_in, size_t rows, size_t cols,
                uint8_t* d_codes, uint8_t* d_scales, float* d_out);

// NVFP4 along the last axis (blocks of 16): E2M1 codes, E4M3 block scales
// (rows x ceil(cols / 16)), global decode scale into d_work (float32 at
// offset 4 bytes; Nvfp4GlobalDecodeScale reads it).
size_t Nvfp4WorkBytes();
void Nvfp4Quantize(const Options& opt, const float* d_in, size_t rows, size_t cols, uint8_t* d_codes,
                   uint8_t* d_scales, float* d_out, void* d_work);
float Nvfp4GlobalDecodeScale(const void* d_work);  // synchronizes

// C = A * B with emulate/dot.h's accumulation models, bit for bit (the
// kernels below: the fast ones where they are exact by construction, and
// emulate/dot.h's own GemmElement for everything else): A (m x k) row-major codes of in_a, B
// (k x n) row-major codes of in_b (uint32 words), C (m x n) codes of `acc`,
// d_flags (may be null) the flags of each C element. C(i, j) uses the
// stochastic indices first_index + (i * n + j) * RoundingsPerDot(model, k),
// as emulate/dot.h's Gemm. Any DotModel, the H100 presets of
// emulate/h100_tensor_core.h included (model.sum_format and
// model.operand_format may point to host memory: the kernel gets copies). Float formats of at most 32 bits in, a
// float accumulator with a zero (else GpuError).
void Gemm(const Format& in_a, const uint32_t* d_a, const Format& in_b, const uint32_t* d_b, size_t m, size_t n,
          size_t k, const Format& acc, const DotModel& model, uint64_t* d_c, uint8_t* d_flags, const Options& opt,
          uint64_t first_index = 0);
// Gemm's kernels. GemmFixedPoint (cuda/gemm_kernel.cu): kHardware
// models that emulate/dot_hardware.h's fixed-point group step runs
// (MakeFixedDotPlan: the H100 presets, hopper-mma-fp8 included, most models
// of inputs up to 16 bits) with a group size dividing 32 and an instruction
// K order, if any, whose instructions divide 32 (detail::FixedGemmTiles),
// tiled in shared memory; returns
// false, launching nothing, for the others. GemmGeneral: one thread per
// element of C running GemmElement (every model; ~1000x slower). Gemm takes
// the first that applies: GemmFixedPoint, GemmFloat, GemmBlockFixed,
// GemmFloat64, GemmGeneral.
bool GemmFixedPointApplies(const Format& in_a, const Format& in_b, const Format& acc, const DotModel& model,
                           size_t m, size_t n, size_t k);
// GemmFloat (cuda/gemm_float_kernel.cu): kSequential and kFused models with
// a float32 accumulator under rne/rtz/rdn/rup (kSequential: inputs whose
// products have at most 24 significant bits), on the GPU's float32 FMA in
// the model's rounding mode; rows and columns with values outside the
// range where that is exact (or NaN, infinity) go to GemmElement. Returns
// false, launching nothing, for the others.
bool GemmFloatApplies(const Format& in_a, const Format& in_b, const Format& acc, const DotModel& model,
                      const Options& opt, size_t m, size_t n, size_t k);
bool GemmFloat(const Format& in_a, const uint32_t* d_a, const Format& in_b, const uint32_t* d_b, size_t m, size_t n,
               size_t k, const Format& acc, const DotModel& model, uint64_t* d_c, uint8_t* d_flags,
               const Options& opt, uint64_t first_index = 0);
// GemmBlockFixed (cuda/gemm_block_kernel.cu): kBlock and kExact models with
// a float32 accumulator, every rounding mode: narrow inputs (E4M3, FP6, FP4:
// every sum exact in an int64) and, in its wide variant, 16-bit ones (f16,
// bf16, mixed: three int64 limbs, each row and column scaled by its own
// lowest set bit); dot products with a NaN or an infinity, a zero block
// sum, a tiny or overflowing sum, or (wide) a row or column whose values
// span 40 bits or more go to GemmElement. Returns false, launching
// nothing, for the others.
bool GemmBlockFixedApplies(const Format& in_a, const Format& in_b, const Format& acc, const DotModel& model,
                           size_t m, size_t n, size_t k);
bool GemmBlockFixed(const Format& in_a, const uint32_t* d_a, const Format& in_b, const uint32_t* d_b, size_t m,
                    size_t n, size_t k, const Format& acc, const DotModel& model, uint64_t* d_c, uint8_t* d_flags,
                    const Options& opt, uint64_t first_index = 0);
// GemmFloat64 (cuda/gemm_f64_kernel.cu): kSequential and kFused models the
// float32 kernel does not take: float accumulators of up to 32 bits (f16,
// bf16, FP8, float32, ...) in every rounding mode; each step's exact result
// in float64 round-to-odd (sr into float32: an exact TwoSum pair), then
// the core's rounding;
// dot products with a NaN or an infinity, or whose accumulator overflows
// to one, go to GemmElement. Returns false, launching nothing, for the
// others.
bool GemmFloat64Applies(const Format& in_a, const Format& in_b, const Format& acc, const DotModel& model,
                        const Options& opt, size_t m, size_t n, size_t k);
bool GemmFloat64(const Format& in_a, const uint32_t* d_a, const Format& in_b, const uint32_t* d_b, size_t m,
                 size_t n, size_t k, const Format& acc, const DotModel& model, uint64_t* d_c, uint8_t* d_flags,
                 const Options& opt, uint64_t first_index = 0);
bool GemmFixedPoint(const Format& in_a, const uint32_t* d_a, const Format& in_b, const uint32_t* d_b, size_t m,
                    size_t n, size_t k, const Format& acc, const DotModel& model, uint64_t* d_c, uint8_t* d_flags,
                    const Options& opt, uint64_t first_index = 0);
void GemmGeneral(const Format& in_a, const uint32_t* d_a, const Format& in_b, const uint32_t* d_b, size_t m, size_t n,
                 size_t k, const Format& acc, const DotModel& model, uint64_t* d_c, uint8_t* d_flags,
                 const Options& opt, uint64_t first_index = 0);
inline void Gemm(const Format& in, const uint32_t* d_a, const uint32_t* d_b, size_t m, size_t n, size_t k,
                 const Format& acc, const DotModel& model, uint64_t* d_c, uint8_t* d_flags, const Options& opt,
                 uint64_t first_index = 0) {
  Gemm(in, d_a, in, d_b, m, n, k, acc, model, d_c, d_flags, opt, first_index);
}

// ---- for the exhaustive verification and the benchmark --------------------

// d_out[i] = float32 with bits first_bits + i.
void FillIota(float* d_out, uint32_t first_bits, size_t n);
// Block digests of a value stream: for each block of 2^log2_block elements
// (n a multiple of it), the sum mod 2^64 of CodeTerm(index, value) (or
// FakeQuantTerm when fake_quant) with index = first_index + i; values are
// value_bytes (1, 2 or 4) wide. Adds into d_digests[n >> log2_block]
// (which the caller zeroes).
void BlockDigests(const void* d_values, int value_bytes, bool fake_quant, uint32_t first_index, size_t n,
                  int log2_block, uint64_t* d_digests);
void Zero(void* d_ptr, size_t bytes);
// A plain float4 copy: the bandwidth ceiling.
void Copy(const float* d_in, float* d_out, size_t n);

}  // namespace floatscope::gpu
