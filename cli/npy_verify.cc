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

std::string ReadAll(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw UsageError(path + ": cannot open");
  std::string bytes;
  char buf[1 << 16];
  for (size_t got; (got = std::fread(buf, 1, sizeof buf, f)) > 0;) bytes.append(buf, got);
  std::fclose(f);
  return bytes;
}

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
  const std::string bytes = ReadAll(out_path);
  npy::Header h;
  try {
    h = npy::ParseHeader(bytes, out_path);
  } catch (const npy::NpyError& e) {
    throw UsageError(e.what());
  }
  const size_t n = in.values.size();
  if (npy::ElementCount(h.shape) != n)
    throw UsageError(fmt::format("{}: {} elements, but {} has {}", out_path, npy::ElementCount(h.shape), in_path, n));
  const bool fake_quant = h.dtype == npy::Dtype::kFloat32;
  if (h.dtype == npy::Dtype::kFloat64)
    throw UsageError(out_path + ": float64 outputs are not compared (fake-quantized values are float32)");
  const size_t item = npy::ItemSize(h.dtype);
  if (!fake_quant && item != CodeBytes(f))
    throw UsageError(fmt::format("{}: codes of {} are stored in {} byte(s), the file has {}-byte elements", out_path,
                                 f.name, CodeBytes(f), item));
  if (bytes.size() - h.data_offset != n * item)
    throw UsageError(fmt::format("{}: the data section holds {} bytes, the shape needs {}", out_path,
                                 bytes.size() - h.data_offset, n * item));
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>(in.values[i]);  // exact: the file held float32
  std::vector<uint32_t> want;
  expected(x, fake_quant, &want);
  uint64_t failed = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t got = 0;
    std::memcpy(&got, bytes.data() + h.data_offset + i * item, item);
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
