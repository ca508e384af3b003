#include "cli/npy_verify.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstring>

#include "cli/cli_error.h"
#include "emulate/array_ops.h"
#include "emulate/npy.h"
#include "formats/convert.h"

namespace floatscope::cli {

namespace {

// What --out may hold.
constexpr std::string_view kOutputDtypes =
    "codes as uint8 or uint16 ('|u1', '<u2') or fake-quantized float32 ('<f4')";

std::string Explain(const Format& f, uint64_t code) {
  const int hex_digits = (f.storage_bits + 3) / 4;
  return fmt::format("0x{:0{}x} ({})", code, hex_digits, DecodeToF64(f, code));
}

}  // namespace

NpyExpected CpuExpected(const Format& f, const Options& opt) {
  return [&f, opt](const std::vector<float>& x, bool fake_quant, std::vector<uint32_t>* out) {
    out->assign(x.size(), 0);
    if (fake_quant) {
      std::vector<float> y(x.size());
      FakeQuantF32Array(f, opt, x.data(), y.data(), x.size(), 0, nullptr, 0);
      std::memcpy(out->data(), y.data(), 4 * y.size());
      return;
    }
    const size_t bytes = CodeBytes(f);
    std::vector<uint8_t> codes(x.size() * bytes);
    EncodeF32Array(f, opt, x.data(), codes.data(), x.size(), 0, nullptr, 0);
    for (size_t i = 0; i < x.size(); ++i) std::memcpy(&(*out)[i], codes.data() + i * bytes, bytes);
  };
}

uint64_t RunNpyVerify(const Format& f, const std::string& in_path, const std::string& out_path, int max_report,
                      const NpyExpected& expected, std::ostream& os) {
  npy::FloatArray in;
  try {
    in = npy::ReadFloatArray(in_path);
  } catch (const npy::NpyError& e) {
    throw UsageError(e.what());
  }
  if (in.dtype != npy::Dtype::kFloat32)
    throw UsageError(in_path + ": the inputs must be float32 ('<f4'), as the kernel under test read them");
  npy::RawArray out;
  try {
    out = npy::ReadRawArray(out_path, kOutputDtypes);
  } catch (const npy::NpyError& e) {
    throw UsageError(e.what());
  }
  const npy::Header& h = out.header;
  const std::string& bytes = out.data;
  const size_t n = in.values.size();
  if (npy::ElementCount(h.shape) != n)
    throw UsageError(fmt::format("{}: {} elements, but {} has {}", out_path, npy::ElementCount(h.shape), in_path, n));
  const bool fake_quant = h.dtype == npy::Dtype::kFloat32;
  if (h.dtype == npy::Dtype::kFloat64)
    throw UsageError(out_path + ": float64 outputs are not compared; need " + std::string(kOutputDtypes));
  const size_t item = npy::ItemSize(h.dtype);
  if (!fake_quant && item != CodeBytes(f))
    throw UsageError(fmt::format("{}: codes of {} are stored in {} byte(s), the file has {}-byte elements", out_path,
                                 f.name, CodeBytes(f), item));
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>(in.values[i]);  // exact: the file held float32
  std::vector<uint32_t> want;
  expected(x, fake_quant, &want);
  uint64_t failed = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t got = 0;
    std::memcpy(&got, bytes.data() + i * item, item);
    if (got == want[i]) continue;
    if (failed++ < static_cast<uint64_t>(max_report)) {
      const uint32_t xb = BitsOf(x[i]);
      if (fake_quant)
        os << fmt::format("element {}: input 0x{:08x} ({}): yours 0x{:08x} ({}), expected 0x{:08x} ({})\n", i, xb, x[i],
                          got, F32FromBits(got), want[i], F32FromBits(want[i]));
      else
        os << fmt::format("element {}: input 0x{:08x} ({}): yours {}, expected {}\n", i, xb, x[i],
                          Explain(f, got >> f.storage_shift), Explain(f, want[i] >> f.storage_shift));
    }
  }
  os << (n - failed) << " passed, " << failed << " failed\n";
  return failed;
}

}  // namespace floatscope::cli
