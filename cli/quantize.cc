// Output (stdout), one "key: value" per line:
//
//   input: x.npy float32 shape (1024, 4096)
//   scheme: mx e4m3fn axis 1 block 32 (131072 scales), rounding rne
//   wrote: y.npy (float32 dequantized values)
//   elements: 4194304
//   max_abs_error: 0.0625
//   max_rel_error: 0.0625
//   rmse: 0.0123
//   sqnr_db: 31.42
//   saturated: 0 (0%)
//   flushed_to_zero: 12 (0.000286%)
//   nan: 0 (0%)
//
// With --json the same facts come as one JSON object. A progress line with
// an ETA goes to stderr when a run takes longer than a second.
#include "cli/quantize.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <cmath>
#include <iostream>
#include <limits>
#include <memory>
#include <span>
#include <nlohmann/json.hpp>
#include <string>

#include "analysis/error_stats.h"
#include "cli/cli_error.h"
#include "cli/int_option.h"
#include "cli/quoted.h"
#include "cli/rounding_options.h"
#include "emulate/array_ops.h"
#include "emulate/npy.h"
#include "emulate/quant/common.h"
#include "emulate/quant/nvfp4.h"
#include "emulate/quant/quantize.h"
#include "emulate/quant/scheme.h"
#include "formats/names.h"
#include "formats/spec_parser.h"

namespace floatscope::cli {

namespace {

struct State {
  std::string format, scheme = "tensor", calib = "max", reduce = "max", recipe = "te", scale_format = "binary8p1uf", in, out;
  int64_t axis = -1;
  uint64_t group = 0, block = 32, history = 1024;
  int margin = 0;
  bool asymmetric = false, pow2 = false, codes = false, json = false, no_progress = false;
  unsigned threads = 0;
  RoundingFlags flags;
  CLI::App* cmd = nullptr;
  bool given(const char* option) const { return cmd->count(option) > 0; }
};

quant::Calibration ParseCalib(const std::string& text) {
  quant::Calibration c;
  if (text == "max") return c;
  if (text == "mse") {
    c.method = quant::CalibMethod::kMse;
    return c;
  }
  if (text.rfind("percentile:", 0) == 0) {
    const std::string p = text.substr(11);
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(p, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != p.size() || !(v > 0 && v <= 100))
      throw UsageError("--calib percentile:P needs 0 < P <= 100, got " + Quoted(p));
    c.method = quant::CalibMethod::kPercentile;
    c.percentile = v;
    return c;
  }
  throw UsageError("unknown --calib " + Quoted(text) + " (max, percentile:P, mse)");
}

std::string ShapeText(const std::vector<size_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// y.npy -> y.scales.npy
std::string Sibling(const std::string& out, const std::string& what) {
  const bool npy = out.size() > 4 && out.compare(out.size() - 4, 4, ".npy") == 0;
  return (npy ? out.substr(0, out.size() - 4) : out) + "." + what + ".npy";
}

std::string Percent(uint64_t k, uint64_t n) {
  return fmt::format("{} ({:.6g}%)", k, n ? 100.0 * static_cast<double>(k) / static_cast<double>(n) : 0.0);
}

// Shows "quantize: 42% (4.2M of 10M elements), ETA 3s" on stderr, once a
// run has taken a second; redrawn in place on a terminal.
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled), tty_(isatty(2) != 0), start_(Clock::now()) {}
  ~ProgressLine() {
    if (shown_ && tty_) std::cerr << "\r\033[K" << std::flush;
  }
  void operator()(size_t done, size_t total) {
    if (!enabled_ || total == 0) return;
    const double t = Seconds(Clock::now() - start_);
    // The rate is measured from the first report on, so time spent before
    // the element pass (reading, calibrating) does not skew the ETA.
    if (first_t_ < 0) {
      first_t_ = t;
      first_done_ = done;
    }
    if (t < 1.0 || t - last_ < (tty_ ? 0.2 : 2.0) || done <= first_done_ || done >= total) return;
    last_ = t;
    shown_ = true;
    const double frac = static_cast<double>(done) / static_cast<double>(total);
    const double rate = static_cast<double>(done - first_done_) / (t - first_t_);
    const std::string eta = fmt::format("{:.1f}s", static_cast<double>(total - done) / rate);
    std::cerr << (tty_ ? "\r\033[K" : "")
              << fmt::format("quantize: {:.0f}% ({} of {} elements), ETA {}", 100 * frac, done, total, eta)
              << (tty_ ? "" : "\n") << std::flush;
  }

 private:
  using Clock = std::chrono::steady_clock;
  static double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
  bool enabled_, tty_, shown_ = false;
  double last_ = 0, first_t_ = -1;
  size_t first_done_ = 0;
  Clock::time_point start_;
};

// The input at its own dtype: float32 stays float32. The values are read
// in place: a regular file is mapped (npy::MapArray), no copy is made.
struct Input {
  npy::Dtype dtype = npy::Dtype::kFloat32;
  std::vector<size_t> shape;
  size_t n = 0;
  npy::ArrayData data;
  std::span<const float> f32() const { return {static_cast<const float*>(data.data()), n}; }
  std::span<const double> f64() const { return {static_cast<const double*>(data.data()), n}; }
};

Input ReadInput(const std::string& path) {
  Input in;
  in.data = npy::MapArray(path, npy::kFloatDtypes);
  in.dtype = in.data.header().dtype;
  in.shape = in.data.header().shape;
  if (in.dtype != npy::Dtype::kFloat32 && in.dtype != npy::Dtype::kFloat64)
    throw UsageError(path + ": dtype '" + npy::DescrOf(in.dtype) + "' is not supported; need " +
                     std::string(npy::kFloatDtypes));
  // The file's bytes are the little-endian values (npy.cc checks the host).
  in.n = npy::ElementCount(in.shape);
  return in;
}

void Run(const State& s) {
  std::string error;
  const Format* f = ResolveFormat(s.format, &error);
  if (!f) throw UsageError(error);
  const auto scheme = quant::ParseScheme(s.scheme);
  if (!scheme) throw UsageError("unknown --scheme " + Quoted(s.scheme) + " (" + quant::kSchemeNames + ")");
  const quant::SchemeInfo& info = quant::InfoOf(*scheme);
  // An option that the scheme would ignore is a mistake worth naming: the
  // scheme table says which it takes.
  uint32_t given = 0;
  for (const quant::OptionName& o : quant::kOptionNames)
    if (s.given(o.flag)) given |= o.option;
  quant::CheckElementFormat(info, *f);
  quant::CheckSchemeOptions(info, *f, given);

  quant::QuantConfig c;
  c.format = f;
  c.scheme = *scheme;
  c.axis = s.axis;
  c.group = s.group;
  c.block = s.block;
  c.int_mode = s.asymmetric ? quant::IntMode::kAsymmetric : quant::IntMode::kSymmetric;
  c.calib = ParseCalib(s.calib);
  c.fp8.margin = s.margin;
  c.fp8.pow2 = s.pow2;
  c.history = s.history;
  if (s.reduce == "max") c.reduce = quant::AmaxReduce::kMax;
  else if (s.reduce == "most-recent") c.reduce = quant::AmaxReduce::kMostRecent;
  else throw UsageError("unknown --amax-reduce " + Quoted(s.reduce) + " (max, most-recent)");
  const auto recipe = quant::ParseNvfp4Recipe(s.recipe);
  if (!recipe) throw UsageError("unknown --recipe " + Quoted(s.recipe) + " (" + quant::kNvfp4RecipeNames + ")");
  c.nvfp4_recipe = *recipe;
  if (*scheme == quant::Scheme::kP3109) {
    c.scale_format = ResolveFormat(s.scale_format, &error);
    if (!c.scale_format) throw UsageError("--scale-format: " + error);
  }
  c.opt = ResolveOptions(s.flags, *f);
  c.threads = s.threads;
  c.outputs = s.codes ? quant::Outputs::kCodes : quant::Outputs::kDequantized;

  quant::CheckConfig(c);  // before reading a possibly large input
  npy::CheckOutputPath(s.out);
  if (s.codes) npy::CheckOutputPath(Sibling(s.out, "scales"));
  const Input in = ReadInput(s.in);
  if (in.shape.empty() && s.given("--axis"))
    throw UsageError("--axis does not apply to a 0-d array (" + s.in + " holds one value)");
  // Sizes beyond the axis mean one unit per row (and a history longer than
  // the steps keeps every step): the same partition as the axis length, and
  // no arithmetic near 2^64 or memory for entries that stay empty. Only the
  // scheme's own sizes are touched (the others keep their defaults).
  if (const auto axis =
          quant::NormalizeAxis(info.unit == quant::Unit::kStep ? 0 : c.axis, in.shape.size())) {
    const size_t len = in.shape.empty() ? 1 : std::max<size_t>(in.shape[*axis], 1);
    if (given & quant::kOptGroup) c.group = std::min<uint64_t>(c.group, len);
    if (given & quant::kOptBlock) c.block = std::min<uint64_t>(c.block, len);
    if (info.unit == quant::Unit::kStep) c.history = std::min<uint64_t>(c.history, len);
  }
  // The files appear together or not at all (npy::OutputFiles), the main
  // one renamed last. The main one is written while the elements are cast,
  // each chunk at its place from the thread that cast it: no tensor-sized
  // output buffer.
  npy::OutputFiles files;
  const size_t code_bytes = CodeBytes(*f);
  const npy::Dtype main_dtype = !s.codes ? npy::Dtype::kFloat32 : code_bytes == 2 ? npy::Dtype::kUint16
                                                                                : npy::Dtype::kUint8;
  const size_t item = npy::ItemSize(main_dtype);
  const size_t main_file = files.StartArray(s.out, main_dtype, in.shape);
  const quant::ChunkSink sink = [&files, main_file, item](size_t begin, size_t count, const void* data) {
    files.Write(main_file, begin * item, data, count * item);
  };
  quant::QuantResult r;
  {
    ProgressLine progress(!s.no_progress);
    r = in.dtype == npy::Dtype::kFloat32
            ? quant::Quantize(c, in.shape, in.f32(), std::ref(progress), sink)
            : quant::Quantize(c, in.shape, in.f64(), std::ref(progress), sink);
  }
  files.FinishArray(main_file);

  std::vector<std::pair<std::string, std::string>> wrote;
  const float global_scale = r.global_decode_scale.value_or(0.0f);
  if (s.codes) {
    const std::string scales = Sibling(s.out, "scales");
    if (!r.scale_codes.empty()) {
      files.AddArray(scales, npy::Dtype::kUint8, r.scale_shape, r.scale_codes.data());
      wrote.emplace_back(scales, *scheme == quant::Scheme::kMx      ? std::string("uint8 E8M0 block scale codes")
                                 : *scheme == quant::Scheme::kP3109 ? "uint8 " + s.scale_format + " block scale codes"
                                                                    : std::string("uint8 E4M3 block decode scale codes"));
    } else {
      files.AddArray(scales, npy::Dtype::kFloat32, r.scale_shape, r.scales.data());
      wrote.emplace_back(scales, "float32 decode scales");
    }
    if (!r.zero_points.empty()) {
      const std::string zp = Sibling(s.out, "zero_points");
      files.AddArray(zp, npy::Dtype::kFloat32, r.scale_shape, r.zero_points.data());
      wrote.emplace_back(zp, "float32 zero points");
    }
    if (r.global_decode_scale) {
      const std::string g = Sibling(s.out, "global_scale");
      files.AddArray(g, npy::Dtype::kFloat32, {}, &global_scale);
      wrote.emplace_back(g, "float32 per-tensor decode scale");
    }
    const bool wide = code_bytes == 2;
    wrote.emplace_back(s.out, fmt::format("{} {} codes", wide ? "uint16" : "uint8", f->name));
  } else {
    wrote.emplace_back(s.out, "float32 dequantized values");
  }
  files.Commit();

  const analysis::ErrorStats& st = r.stats;
  const size_t n_scales = r.scales.empty() ? r.scale_codes.size() : r.scales.size();
  const quant::Unit unit = info.unit;
  std::string scheme_text = fmt::format("{} {}", info.name, f->name);
  if (unit != quant::Unit::kTensor && unit != quant::Unit::kStep) scheme_text += fmt::format(" axis {}", s.axis);
  if (info.float_options & quant::kOptGroup) scheme_text += fmt::format(" group {}", s.group);
  if (info.float_options & quant::kOptBlock) scheme_text += fmt::format(" block {}", s.block);
  if (info.float_options & quant::kOptRecipe) scheme_text += fmt::format(" recipe {}", s.recipe);
  if (info.float_options & quant::kOptScaleFormat) scheme_text += " scale format " + s.scale_format;
  const bool calibrated = info.rule == quant::ScaleRule::kRange;
  if (!IsFloat(*f) && calibrated) scheme_text += s.asymmetric ? " asymmetric" : " symmetric";
  if (calibrated && s.calib != "max") scheme_text += " calib " + s.calib;
  scheme_text += fmt::format(" ({} scale{}), rounding {}", n_scales, n_scales == 1 ? "" : "s",
                             RoundingNameOf(c.opt.rounding));
  const char* dtype = in.dtype == npy::Dtype::kFloat32 ? "float32" : "float64";

  if (s.json) {
    nlohmann::json j;
    j["input"] = {{"path", s.in}, {"dtype", dtype}, {"shape", in.shape}};
    j["scheme"] = info.name;
    j["format"] = f->name;
    if (info.float_options & quant::kOptRecipe) j["recipe"] = s.recipe;
    if (info.float_options & quant::kOptScaleFormat) j["scale_format"] = s.scale_format;
    j["scales"] = n_scales;
    j["files"] = nlohmann::json::array();
    for (const auto& [path, what] : wrote) j["files"].push_back({{"path", path}, {"holds", what}});
    auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
    j["elements"] = st.elements;
    j["max_abs_error"] = num(st.max_abs_err);
    j["max_rel_error"] = num(st.max_rel_err);
    j["rmse"] = num(st.Rmse());
    j["sqnr_db"] = num(st.SqnrDb());
    j["saturated"] = st.saturated;
    j["flushed_to_zero"] = st.flushed;
    j["nan"] = st.nan_outputs;
    j["nan_inputs"] = st.nan_inputs;
    j["inf_inputs"] = st.inf_inputs;
    std::cout << j.dump() << "\n";
    return;
  }
  std::cout << fmt::format("input: {} {} shape {}\n", s.in, dtype, ShapeText(in.shape));
  std::cout << "scheme: " << scheme_text << "\n";
  for (const auto& [path, what] : wrote) std::cout << fmt::format("wrote: {} ({})\n", path, what);
  std::cout << fmt::format("elements: {}\n", st.elements);
  std::cout << fmt::format("max_abs_error: {:.6g}\n", st.max_abs_err);
  std::cout << fmt::format("max_rel_error: {:.6g}\n", st.max_rel_err);
  std::cout << fmt::format("rmse: {:.6g}\n", st.Rmse());
  std::cout << fmt::format("sqnr_db: {:.2f}\n", st.SqnrDb());
  std::cout << fmt::format("saturated: {}\n", Percent(st.saturated, st.elements));
  std::cout << fmt::format("flushed_to_zero: {}\n", Percent(st.flushed, st.elements));
  std::cout << fmt::format("nan: {}\n", Percent(st.nan_outputs, st.elements));
  if (st.nan_inputs || st.inf_inputs)
    std::cout << fmt::format("nonfinite_inputs: {} NaN, {} infinite\n", st.nan_inputs, st.inf_inputs);
}

}  // namespace

void RegisterQuantizeCommand(CLI::App& app) {
  auto s = std::make_shared<State>();
  CLI::App* cmd = s->cmd = app.add_subcommand(
      "quantize",
      "Quantize a float32/float64 .npy tensor (FP8 scaling, INT8/INT4, OCP MX, NVFP4, P3109 blocks; docs/QUANTIZATION.md), "
      "write the dequantized float32 values or the codes and scales, and print the error against the input");
  cmd->add_option("--format,-f", s->format,
                  "element format: e4m3fn e5m2 ... (float schemes), int8 uint8 int4 uint4 (integer schemes), "
                  "e4m3fn e5m2 e2m3fn e3m2fn e2m1fn int8 (mx), e2m1fn (nvfp4), any float format (p3109)")
      ->required();
  cmd->add_option("--scheme,-s", s->scheme,
                  "tensor | channel | group | delayed (FP8, axis 0 = steps) | mx | nvfp4 | p3109 (P3109 scaled "
                  "blocks) [default: tensor]");
  constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
  cmd->add_option("--axis", s->axis, "axis of channels / groups / blocks, negative from the end [default: -1]")
      ->check(IntegerIn(std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()));
  cmd->add_option("--group", s->group, "group: elements per group along --axis (beyond the axis: one group)")
      ->check(UnsignedIn(1, kU64Max));
  cmd->add_option("--block", s->block, "mx, p3109: elements per block along --axis [default: 32, as OCP MX]")
      ->check(UnsignedIn(1, kU64Max));
  cmd->add_flag("--asymmetric", s->asymmetric, "integer formats: zero point from [min, max] (default symmetric)");
  cmd->add_option("--calib", s->calib, "calibration: max | percentile:P | mse [default: max]");
  cmd->add_option("--margin", s->margin, "float formats: divide the scale by 2^margin, -64..64 [default: 0]")
      ->check(IntegerIn(-64, 64));
  cmd->add_flag("--pow2-scale", s->pow2, "float formats: round the scale down to a power of two");
  cmd->add_option("--history", s->history, "delayed: amax history length [default: 1024]")
      ->check(UnsignedIn(1, kU64Max));
  cmd->add_option("--amax-reduce", s->reduce, "delayed: max | most-recent [default: max]");
  cmd->add_option("--recipe", s->recipe,
                  "nvfp4: te (TransformerEngine) | torchao (PyTorch AO: block scales clamped to E4M3's "
                  "smallest normal) [default: te]");
  cmd->add_option("--scale-format", s->scale_format,
                  "p3109: block scale format, an unsigned power-of-two format: binary8p1uf | binary8p1ue | "
                  "binaryKp1u* | e8m0fnu [default: binary8p1uf]");
  cmd->add_flag("--codes", s->codes,
                "write codes to --out and scales beside it (OUT.scales.npy, OUT.zero_points.npy, "
                "OUT.global_scale.npy) instead of dequantized values");
  cmd->add_option("--threads", s->threads, "worker threads, 0 = all, at most 1024 [default: 0]; results do not depend on it")
      ->check(UnsignedIn(0, 1024));
  cmd->add_flag("--json", s->json, "print the report as one JSON object");
  cmd->add_flag("--no-progress", s->no_progress, "no progress line on stderr");
  cmd->add_option("--in,-i", s->in, "input .npy (float32 or float64, C order)")->required();
  cmd->add_option("--out,-o", s->out, "output .npy")->required();
  AddRoundingOptions(*cmd, s->flags);
  cmd->callback([s] {
    try {
      Run(*s);
    } catch (const quant::QuantError& e) {
      throw UsageError(e.what());
    } catch (const npy::NpyError& e) {
      throw UsageError(e.what());
    }
  });
}

}  // namespace floatscope::cli
