// The host side that mma_probe.cu (mma.sync) and wgmma_probe.cu (wgmma)
// share: the four instructions by operand formats, device buffers, the
// tiling of a record into the instruction's tiles, the small-integer inputs
// of the layout checks, and main's probe of a file. What differs (the
// instructions' names, fragment layouts, kernels, the checks themselves)
// stays in each .cu file. Host code (CUDA builds: cuda_runtime.h) but for
// Wide and StepOf, which the kernels use too (FS_HD).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "experiments/tensor_core_probe/tc_data.h"
#include "formats/host_device.h"

namespace floatscope::tc::probe {

// The four probed instructions, by the formats of A and B (tc_data.h's
// format ids: 0 f16, 1 bf16, 2 e4m3fn, 3 e5m2).
enum class Instr : int { kF16, kBf16, kE4m3, kE5m2xE4m3 };
inline constexpr Instr kInstrs[] = {Instr::kF16, Instr::kBf16, Instr::kE4m3, Instr::kE5m2xE4m3};

// The instruction for a record's (format of A, format of B), and back;
// `family` ("mma", "wgmma") names the instruction in the error.
inline Instr InstrOf(uint32_t fa, uint32_t fb, const char* family) {
  if (fa == 0 && fb == 0) return Instr::kF16;
  if (fa == 1 && fb == 1) return Instr::kBf16;
  if (fa == 2 && fb == 2) return Instr::kE4m3;
  if (fa == 3 && fb == 2) return Instr::kE5m2xE4m3;
  throw std::runtime_error(std::string("no ") + family + " instruction for format ids " + std::to_string(fa) + " x " +
                           std::to_string(fb));
}
inline uint32_t FormatA(Instr i) { return static_cast<uint32_t>(i); }
inline uint32_t FormatB(Instr i) { return i == Instr::kE5m2xE4m3 ? 2 : static_cast<uint32_t>(i); }

// 16-bit codes (k16 per instruction) or 8-bit ones (k32).
FS_HD constexpr bool Wide(Instr i) { return i == Instr::kF16 || i == Instr::kBf16; }
FS_HD constexpr uint32_t StepOf(Instr i) { return Wide(i) ? 16 : 32; }  // K of one instruction

// f(std::integral_constant<Instr, i>{}): a kernel template's instance for i.
template <class F>
void WithInstr(Instr i, F&& f) {
  switch (i) {
    case Instr::kF16: f(std::integral_constant<Instr, Instr::kF16>{}); break;
    case Instr::kBf16: f(std::integral_constant<Instr, Instr::kBf16>{}); break;
    case Instr::kE4m3: f(std::integral_constant<Instr, Instr::kE4m3>{}); break;
    case Instr::kE5m2xE4m3: f(std::integral_constant<Instr, Instr::kE5m2xE4m3>{}); break;
  }
}

inline void Check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

template <class T>
T* ToDevice(const std::vector<T>& v) {
  T* p = nullptr;
  Check(cudaMalloc(&p, sizeof(T) * (v.empty() ? 1 : v.size())), "cudaMalloc");
  if (!v.empty()) Check(cudaMemcpy(p, v.data(), sizeof(T) * v.size(), cudaMemcpyHostToDevice), "cudaMemcpy");
  return p;
}

// Tiles (a0[t], b0[t]) of record r on the GPU: r's codes (16- or 8-bit as
// `instr` reads them) and the tile origins to the device, `tile_floats`
// results per tile (a result the kernel does not write reads as NaN), and
// launch(a, b, tile_a, tile_b, out) runs the kernel; the results back.
template <class Launch>
std::vector<float> RunTilesOnDevice(const Record& r, Instr instr, const std::vector<uint32_t>& a0,
                                    const std::vector<uint32_t>& b0, uint32_t tile_floats, Launch&& launch) {
  void *a = nullptr, *b = nullptr;
  if (Wide(instr)) {
    a = ToDevice(std::vector<uint16_t>(r.a.begin(), r.a.end()));
    b = ToDevice(std::vector<uint16_t>(r.b.begin(), r.b.end()));
  } else {
    a = ToDevice(std::vector<uint8_t>(r.a.begin(), r.a.end()));
    b = ToDevice(std::vector<uint8_t>(r.b.begin(), r.b.end()));
  }
  uint32_t* ta = ToDevice(a0);
  uint32_t* tb = ToDevice(b0);
  float* out = nullptr;
  const size_t floats = a0.size() * tile_floats;
  Check(cudaMalloc(&out, floats * sizeof(float)), "cudaMalloc");
  Check(cudaMemset(out, 0xff, floats * sizeof(float)), "cudaMemset");
  launch(static_cast<const void*>(a), static_cast<const void*>(b), static_cast<const uint32_t*>(ta),
         static_cast<const uint32_t*>(tb), out);
  Check(cudaGetLastError(), "kernel launch");
  std::vector<float> host(floats);
  Check(cudaMemcpy(host.data(), out, host.size() * sizeof(float), cudaMemcpyDeviceToHost), "cudaMemcpy");
  for (void* p : {a, b, static_cast<void*>(ta), static_cast<void*>(tb), static_cast<void*>(out)}) cudaFree(p);
  return host;
}

// Every dot product of r through an instruction of tile kM x kN, as float32
// bits (r.c's layout: the diagonal for designed records, ms x ns for random
// ones). run(r, a0, b0) gives tiles (a0[t], b0[t]) row-major, kM x kN floats
// each. Designed records: tile t is rows kN t .. kN t + kM-1 of A with rows
// kN t .. kN t + kN-1 of B^T, keeping D[l][l].
template <uint32_t kM, uint32_t kN, class Run>
std::vector<uint32_t> RecomputeTiles(const Record& r, Run&& run) {
  constexpr uint32_t kTile = kM * kN;
  std::vector<uint32_t> a0, b0;
  std::vector<uint32_t> bits(r.c.size());
  if (r.designed()) {
    for (uint32_t i = 0; i < r.ms; i += kN) a0.push_back(i), b0.push_back(i);
    const std::vector<float> d = run(r, a0, b0);
    for (size_t t = 0; t < a0.size(); ++t)
      for (uint32_t l = 0; l < kN && a0[t] + l < r.ms; ++l) std::memcpy(&bits[a0[t] + l], &d[t * kTile + l * kN + l], 4);
  } else {
    for (uint32_t i = 0; i < r.ms; i += kM)
      for (uint32_t j = 0; j < r.ns; j += kN) a0.push_back(i), b0.push_back(j);
    const std::vector<float> d = run(r, a0, b0);
    for (size_t t = 0; t < a0.size(); ++t)
      for (uint32_t l = 0; l < kM && a0[t] + l < r.ms; ++l)
        for (uint32_t c = 0; c < kN && b0[t] + c < r.ns; ++c)
          std::memcpy(&bits[size_t{a0[t] + l} * r.ns + b0[t] + c], &d[t * kTile + l * kN + c], 4);
  }
  return bits;
}

inline float AsFloat(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// A record of `instr`'s formats, all codes 0: designed (kind 0) or random
// (kind 1), K x ms rows of A and K x ns of B^T.
inline Record EmptyRecord(Instr instr, uint32_t kind, uint32_t K, uint32_t ms, uint32_t ns) {
  Record r;
  r.kind = kind;
  r.fa = FormatA(instr), r.fb = FormatB(instr);
  r.K = K, r.ms = ms, r.ns = ns, r.M = ms, r.N = ns;
  r.a.assign(size_t{ms} * K, 0);
  r.b.assign(size_t{ns} * K, 0);
  r.c.resize(kind == 0 ? ms : size_t{ms} * ns);
  if (kind == 0) r.tags.assign(size_t{ms} * 4, 0);
  return r;
}

// Codes of the integers -4 .. 4 per format id (f16, bf16, e4m3fn, e5m2).
inline constexpr uint16_t kIntCodes[4][9] = {
    {0xc400, 0xc200, 0xc000, 0xbc00, 0x0000, 0x3c00, 0x4000, 0x4200, 0x4400},
    {0xc080, 0xc040, 0xc000, 0xbf80, 0x0000, 0x3f80, 0x4000, 0x4040, 0x4080},
    {0xc8, 0xc4, 0xc0, 0xb8, 0x00, 0x38, 0x40, 0x44, 0x48},
    {0xc4, 0xc2, 0xc0, 0xbc, 0x00, 0x3c, 0x40, 0x42, 0x44},
};

// A random record of small integers (|v| <= 4: every product and every
// partial sum of up to 2^9 terms is an integer below 2^13, exact in float32
// and in the FP8 tensor core's 14-bit sums whatever the instruction's
// alignment and rounding; a wrong layout gives a wrong sum), with the exact
// dot products.
struct SmallIntegers {
  Record r;
  std::vector<int> va, vb;  // the values of r.a, r.b
  long Exact(uint32_t i, uint32_t j) const {
    long s = 0;
    for (uint32_t k = 0; k < r.K; ++k) s += long{va[size_t{i} * r.K + k]} * vb[size_t{j} * r.K + k];
    return s;
  }
};
inline SmallIntegers SmallIntegerRecord(Instr instr, uint32_t K, uint32_t ms, uint32_t ns) {
  SmallIntegers s{EmptyRecord(instr, 1, K, ms, ns), std::vector<int>(size_t{ms} * K), std::vector<int>(size_t{ns} * K)};
  const uint32_t fa = s.r.fa, fb = s.r.fb;
  std::mt19937 rng(fa * 7 + fb);
  for (size_t i = 0; i < s.va.size(); ++i) s.va[i] = static_cast<int>(rng() % 9) - 4, s.r.a[i] = kIntCodes[fa][s.va[i] + 4];
  for (size_t i = 0; i < s.vb.size(); ++i) s.vb[i] = static_cast<int>(rng() % 9) - 4, s.r.b[i] = kIntCodes[fb][s.vb[i] + 4];
  return s;
}

// 0 with device 0's properties in *prop, or 77 (skipped) with a message
// where there is no CUDA device.
inline int FirstDevice(const char* program, cudaDeviceProp* prop) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::fprintf(stderr, "%s: skipped: no CUDA device\n", program);
    return 77;
  }
  *prop = cudaDeviceProp{};
  Check(cudaGetDeviceProperties(prop, 0), "cudaGetDeviceProperties");
  return 0;
}

// What main does with IN.bin OUT.bin once the device is there: reads IN's
// records (all of one instruction where one_instr), runs layout_check(instr)
// for the first record's instruction and stops with exit 3 where it fails
// ("PROGRAM: the CHECK failed for NAME: nothing written"), else recomputes
// every record, writes OUT and prints a summary. name(instr) is the
// instruction's name.
template <class Name, class LayoutCheck, class Recompute>
int ProbeFile(const char* program, const char* family, const char* check, const char* in, const char* out,
              const cudaDeviceProp& prop, bool one_instr, Name&& name, LayoutCheck&& layout_check,
              Recompute&& recompute) {
  std::vector<Record> records = ReadRecords(in);
  if (records.empty()) throw std::runtime_error(std::string(in) + ": no records");
  const Instr instr = InstrOf(records[0].fa, records[0].fb, family);
  if (one_instr)
    for (const Record& r : records)
      if (InstrOf(r.fa, r.fb, family) != instr) throw std::runtime_error(std::string(in) + ": mixed formats");
  if (!layout_check(instr)) {
    std::fprintf(stderr, "%s: the %s failed for %s: nothing written\n", program, check, name(instr));
    return 3;
  }
  size_t dots = 0;
  for (Record& r : records) {
    r.c = recompute(r);
    dots += r.c.size();
  }
  WriteRecords(out, records);
  std::printf("%s: %zu records, %zu dot products through %s on %s (sm_%d%d); layout check passed\n", out,
              records.size(), dots, name(instr), prop.name, prop.major, prop.minor);
  return 0;
}

// body()'s exit status, or 1 with "PROGRAM: what" for an exception.
template <class Body>
int RunMain(const char* program, Body&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 1;
  }
}

}  // namespace floatscope::tc::probe
