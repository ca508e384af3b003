#include "train/fake_quant.h"

#include <cfloat>
#include <cmath>
#include <vector>

#include "emulate/quant/mx.h"
#include "emulate/quant/nvfp4.h"
#include "formats/catalog.h"

namespace floatscope::train {

void ScaleState::EndStep(const RoleSpec& spec) {
  history.Push(step_amax);
  step_amax = 0;
  quant::Fp8ScalingRecipe recipe;
  recipe.margin = spec.margin;
  recipe.pow2 = spec.pow2;
  scale = quant::Fp8ScaleFromAmax(*spec.format, history.Reduced(), recipe, scale);
}

float Amax(const float* x, size_t n) {
  // `a > m ? a : m` skips NaN as fmaxf does and compiles to vector max.
  float m = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    const float a = std::fabs(x[i]);
    m = a > m ? a : m;
  }
  return m;
}

namespace {

// Q(x * s) * inv over a contiguous run.
void ScaledRun(const Format& f, const Options& opt, float* x, size_t n, float s, float inv, uint64_t first,
               unsigned threads, ArrayStats* st) {
  if (s != 1.0f)
    for (size_t i = 0; i < n; ++i) x[i] *= s;
  FakeQuantF32Array(f, opt, x, x, n, first, st, threads);
  if (inv != 1.0f)
    for (size_t i = 0; i < n; ++i) x[i] *= inv;
}

// The blocks of `block` elements along K, gathered into one contiguous
// buffer (block after block) so that a whole tensor is rounded by one array
// call; Scatter puts them back.
struct Blocks {
  std::vector<float> buf;
  std::vector<size_t> start, len;  // per block: offset in buf and length
};

Blocks Gather(const float* x, size_t rows, size_t cols, bool k_along_rows, size_t block) {
  Blocks b;
  b.buf.resize(rows * cols);
  size_t o = 0;
  auto add = [&](size_t n) {
    b.start.push_back(o);
    b.len.push_back(n);
  };
  if (k_along_rows) {
    std::copy(x, x + rows * cols, b.buf.begin());
    for (size_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < cols; c += block) {
        add(std::min(block, cols - c));
        o += b.len.back();
      }
    return b;
  }
  for (size_t c = 0; c < cols; ++c)
    for (size_t r = 0; r < rows; r += block) {
      const size_t n = std::min(block, rows - r);
      add(n);
      for (size_t i = 0; i < n; ++i) b.buf[o + i] = x[(r + i) * cols + c];
      o += n;
    }
  return b;
}

void Scatter(const Blocks& b, float* x, size_t rows, size_t cols, bool k_along_rows) {
  if (k_along_rows) {
    std::copy(b.buf.begin(), b.buf.end(), x);
    return;
  }
  // Blocks were gathered column by column, `len` elements each.
  size_t k = 0, o = 0;
  for (size_t c = 0; c < cols; ++c)
    for (size_t r = 0; r < rows; r += b.len[k], ++k) {
      for (size_t i = 0; i < b.len[k]; ++i) x[(r + i) * cols + c] = b.buf[o + i];
      o += b.len[k];
    }
}

void MxFakeQuant(const RoleSpec& spec, const Options& opt, float* x, size_t rows, size_t cols, bool k_along_rows,
                 unsigned threads, ArrayStats* st) {
  const quant::MxType* t = quant::FindMxType(spec.format->name);
  // Custom formats: the same rule with their own emax.
  quant::MxType custom{"custom", spec.format, quant::EmaxOf(*spec.format), 0};
  if (!t) t = &custom;
  Blocks b = Gather(x, rows, cols, k_along_rows, spec.block);
  std::vector<int> shift(b.start.size());
  std::vector<uint8_t> nan_block(b.start.size(), 0);
  for (size_t k = 0; k < b.start.size(); ++k) {
    float* v = b.buf.data() + b.start[k];
    const size_t n = b.len[k];
    bool special = false;
    float amax = 0;
    for (size_t i = 0; i < n; ++i) {
      const float a = std::fabs(v[i]);
      special |= !(a <= FLT_MAX);  // inf or NaN
      amax = a > amax ? a : amax;
    }
    const quant::MxScale sc = quant::MxSharedScale(*t, amax, special);
    nan_block[k] = sc.IsNan();
    shift[k] = sc.shared_exp;
    // x * 2^-k is exact in float32 unless it falls below float32's normal
    // range, where the element format's result is zero (or its smallest
    // subnormal) either way; x' = q * 2^k is exact.
    // 2^-k and 2^k are float32 values for |k| <= 127; a product with one is
    // rounded once, exactly as ldexp would.
    const float down = sc.IsNan() ? 0.0f : std::ldexp(1.0f, -sc.shared_exp);
    for (size_t i = 0; i < n; ++i) v[i] *= down;
  }
  FakeQuantF32Array(*t->elem, opt, b.buf.data(), b.buf.data(), b.buf.size(), 0, st, threads);
  for (size_t k = 0; k < b.start.size(); ++k) {
    float* v = b.buf.data() + b.start[k];
    const float up = nan_block[k] ? NAN : std::ldexp(1.0f, shift[k]);
    for (size_t i = 0; i < b.len[k]; ++i) v[i] *= up;
    if (nan_block[k] && st) st->nan += b.len[k];
  }
  Scatter(b, x, rows, cols, k_along_rows);
}

void Nvfp4FakeQuant(const Options& opt, float* x, size_t rows, size_t cols, bool k_along_rows, unsigned threads,
                    ArrayStats* st) {
  const float amax_t = Amax(x, rows * cols);
  const float s_enc = quant::Nvfp4GlobalEncodeScale(amax_t);
  const float s_dec = quant::Nvfp4GlobalDecodeScale(s_enc);
  Blocks b = Gather(x, rows, cols, k_along_rows, quant::kNvfp4Block);
  // Block scales: nvfp4.h's formulas, the E4M3 casts of all blocks in one
  // array call (the kernels are proven equal to the core's cast).
  const size_t nb = b.start.size();
  std::vector<float> s(nb), dec(nb);
  for (size_t k = 0; k < nb; ++k)
    s[k] = quant::Nvfp4BlockScaleValue(Amax(b.buf.data() + b.start[k], b.len[k]), s_enc);
  std::vector<uint8_t> sc(nb);
  EncodeF32Array(formats::kE4m3fn, quant::Nvfp4BlockScaleOptions(), s.data(), sc.data(), nb);
  DecodeToF32Array(formats::kE4m3fn, Options{}, sc.data(), dec.data(), nb);
  for (size_t k = 0; k < nb; ++k) {
    float* v = b.buf.data() + b.start[k];
    const float enc = quant::Nvfp4BlockEncodeScaleOf(dec[k], s_dec);
    dec[k] *= s_dec;
    for (size_t i = 0; i < b.len[k]; ++i) v[i] *= enc;
  }
  FakeQuantF32Array(formats::kE2m1fn, opt, b.buf.data(), b.buf.data(), b.buf.size(), 0, st, threads);
  for (size_t k = 0; k < b.start.size(); ++k) {
    float* v = b.buf.data() + b.start[k];
    for (size_t i = 0; i < b.len[k]; ++i) v[i] *= dec[k];
  }
  Scatter(b, x, rows, cols, k_along_rows);
}

}  // namespace

void FakeQuant(const RoleSpec& spec, float* x, size_t rows, size_t cols, bool k_along_rows, uint64_t seed,
               ScaleState* state, unsigned threads, ArrayStats* stats) {
  if (!spec.Active()) return;
  const Format& f = *spec.format;
  Options opt = spec.opt;
  opt.seed = seed;
  const size_t n = rows * cols;
  quant::Fp8ScalingRecipe recipe;
  recipe.margin = spec.margin;
  recipe.pow2 = spec.pow2;
  switch (spec.scaling) {
    case Scaling::kNone:
      FakeQuantF32Array(f, opt, x, x, n, 0, stats, threads);
      return;
    case Scaling::kTensor: {
      const float s = quant::Fp8ScaleFromAmax(f, Amax(x, n), recipe, 1.0f);
      ScaledRun(f, opt, x, n, s, quant::Fp8ScaleInverse(s), 0, threads, stats);
      return;
    }
    case Scaling::kDelayed: {
      // The scale comes from earlier steps' amax (TransformerEngine's
      // DelayedScaling: max over the history); this step's amax joins the
      // history at EndStep. Before any history exists the scale is 1.
      const float amax = Amax(x, n);
      state->step_amax = std::fmax(state->step_amax, static_cast<double>(amax));
      const float s = state->scale;
      ScaledRun(f, opt, x, n, s, quant::Fp8ScaleInverse(s), 0, threads, stats);
      return;
    }
    case Scaling::kMx: MxFakeQuant(spec, opt, x, rows, cols, k_along_rows, threads, stats); return;
    case Scaling::kNvfp4: Nvfp4FakeQuant(opt, x, rows, cols, k_along_rows, threads, stats); return;
  }
}

}  // namespace floatscope::train
