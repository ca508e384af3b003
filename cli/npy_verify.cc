#include "cli/npy_verify.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstring>

#include "cli/cli_error.h"
#include "cli/diagnose.h"
#include "cli/ops.h"
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

bool IsBinaryFloat(const Format& f, int exponent_bits, int mantissa_bits) {
  return f.kind == Kind::kFloat && f.exponent_bits == exponent_bits && f.mantissa_bits == mantissa_bits &&
         f.bits == 1 + exponent_bits + mantissa_bits;
}

}  // namespace

uint64_t KernelDumps::InputBits(size_t i) const { return f64_inputs ? BitsOf(x64[i]) : BitsOf(x32[i]); }

double KernelDumps::InputValue(size_t i) const { return f64_inputs ? x64[i] : static_cast<double>(x32[i]); }

uint32_t KernelDumps::Got(size_t i) const {
  uint32_t w = 0;
  std::memcpy(&w, got.data() + i * item, item);  // little-endian, as .npy and the host
  return w;
}

KernelDumps ReadKernelDumps(const Format& f, bool f64_inputs, const std::string& in_path, const std::string& out_path,
                            const std::string& op_hint) {
  KernelDumps d;
  d.in_path = in_path;
  d.out_path = out_path;
  d.f64_inputs = f64_inputs;
  npy::FloatArray in;
  try {
    in = npy::ReadFloatArray(in_path);
  } catch (const npy::NpyError& e) {
    throw UsageError(e.what());
  }
  const npy::Dtype want = f64_inputs ? npy::Dtype::kFloat64 : npy::Dtype::kFloat32;
  if (in.dtype != want) {
    // Widening float32 inputs (or narrowing float64 ones) here would check
    // a different conversion from the one the kernel ran.
    std::string msg = fmt::format("{}: the inputs must be {}, as the kernel under test read them", in_path,
                                  f64_inputs ? "float64 ('<f8')" : "float32 ('<f4')");
    if (!op_hint.empty()) msg += fmt::format(" ({} checks {} inputs)", op_hint, f64_inputs ? "float32" : "float64");
    throw UsageError(msg);
  }
  npy::RawArray out;
  try {
    out = npy::ReadRawArray(out_path, kOutputDtypes);
  } catch (const npy::NpyError& e) {
    throw UsageError(e.what());
  }
  const npy::Header& h = out.header;
  d.n = in.values.size();
  if (npy::ElementCount(h.shape) != d.n)
    throw UsageError(fmt::format("{}: {} elements, but {} has {}", out_path, npy::ElementCount(h.shape), in_path, d.n));
  d.fake_quant = h.dtype == npy::Dtype::kFloat32;
  if (h.dtype == npy::Dtype::kFloat64)
    throw UsageError(out_path + ": float64 outputs are not compared; need " + std::string(kOutputDtypes));
  d.item = npy::ItemSize(h.dtype);
  if (!d.fake_quant && d.item != CodeBytes(f))
    throw UsageError(fmt::format("{}: codes of {} are stored in {} byte(s), the file has {}-byte elements", out_path,
                                 f.name, CodeBytes(f), d.item));
  if (f64_inputs) {
    d.x64 = std::move(in.values);
  } else {
    d.x32.resize(d.n);
    for (size_t i = 0; i < d.n; ++i) d.x32[i] = static_cast<float>(in.values[i]);  // exact: the file held float32
  }
  d.got = std::move(out.data);
  return d;
}

void PrintMismatch(const Format& f, const KernelDumps& d, size_t i, uint32_t want, std::ostream& os) {
  const uint32_t got = d.Got(i);
  const std::string input = d.f64_inputs ? fmt::format("0x{:016x} ({})", BitsOf(d.x64[i]), d.x64[i])
                                         : fmt::format("0x{:08x} ({})", BitsOf(d.x32[i]), d.x32[i]);
  if (d.fake_quant)
    os << fmt::format("element {}: input {}: yours 0x{:08x} ({}), expected 0x{:08x} ({})\n", i, input, got,
                      F32FromBits(got), want, F32FromBits(want));
  else
    os << fmt::format("element {}: input {}: yours {}, expected {}\n", i, input, Explain(f, got >> f.storage_shift),
                      Explain(f, want >> f.storage_shift));
}

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
  const KernelDumps d = ReadKernelDumps(f, false, in_path, out_path, "");
  std::vector<uint32_t> want;
  expected(d.x32, d.fake_quant, &want);
  uint64_t failed = 0;
  for (size_t i = 0; i < d.n; ++i) {
    if (d.Got(i) == want[i]) continue;
    if (failed++ < static_cast<uint64_t>(max_report)) PrintMismatch(f, d, i, want[i], os);
  }
  os << (d.n - failed) << " passed, " << failed << " failed\n";
  return failed;
}

int RunNpyVerifyCommand(const NpyVerifyRequest& r, std::ostream& os) {
  if (r.in_path.empty() || r.out_path.empty()) throw UsageError("verify: --in and --out go together");
  const Op op = ResolveOp(r.op_name);
  const bool f32_in = op.operands.size() == 1 && IsBinaryFloat(*op.operands[0], 8, 23);
  const bool f64_in = op.operands.size() == 1 && IsBinaryFloat(*op.operands[0], 11, 52);
  if (!f32_in && !f64_in)
    throw UsageError("verify --in/--out checks f32_to_<format> or f64_to_<format> conversions, not " + r.op_name);
  const Format& f = *op.result;
  const std::string other_op = (f64_in ? "f32_to_" : "f64_to_") + std::string(f.name);
  if (r.diagnose) {
    DiagnoseRequest dr = MakeDiagnoseRequest(r, f);  // checks the options and --json before reading
    const KernelDumps d = ReadKernelDumps(f, f64_in, r.in_path, r.out_path, other_op);
    return RunDiagnose(dr, d, os) == 0 ? 0 : 1;
  }
  const Options opt = ResolveOptions(r.flags, f);
  const KernelDumps d = ReadKernelDumps(f, f64_in, r.in_path, r.out_path, other_op);
  const Semantics given{opt};
  std::vector<uint32_t> want;
  ExpectedWords(f, given, d, &want);
  uint64_t failed = 0;
  for (size_t i = 0; i < d.n; ++i) {
    if (d.Got(i) == want[i]) continue;
    if (failed++ < static_cast<uint64_t>(r.max_report)) PrintMismatch(f, d, i, want[i], os);
  }
  os << (d.n - failed) << " passed, " << failed << " failed\n";
  return failed ? 1 : 0;
}

}  // namespace floatscope::cli
