// The built-in models, by name, for a data set:
//   mlp          features -> 128 -> ReLU -> 64 -> ReLU -> classes (any real-valued data)
//   cnn          images {C,H,W}: conv1 3x3 pad 1 -> 16 ch, ReLU, conv2 3x3 stride 2
//                pad 1 -> 32 ch, ReLU, fc1 -> 64, ReLU, fc2 -> classes
//   transformer  tokens (vocab > 0, T = features): embed (vocab -> 64, plus
//                learned positions), 2 pre-LN blocks "block<i>." of
//                x + attn(ln1(x)) (4 heads) and x + fc2(gelu(fc1(ln2(x))))
//                (64 -> 128 -> 64), ln_f, the last token, head -> classes
// Initial weights come from Rng(seed) in float64 and are cast to T, so a
// Model<float> and a Model<double> built with one seed start from the same
// values up to the float32 rounding of each weight (the trainer then copies
// the low-precision model's stored weights into the shadow).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "train/data.h"
#include "train/layers.h"
#include "train/model.h"

namespace floatscope::train {

struct ModelError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

inline const char* kModelNames = "mlp, cnn, transformer";

template <class T>
std::unique_ptr<Model<T>> BuildModel(const std::string& name, const Dataset& d, uint64_t seed) {
  Rng rng(seed);
  auto net = std::make_unique<Sequential<T>>();
  if (name == "mlp") {
    if (d.vocab != 0) throw ModelError("model mlp needs real-valued features; data '" + d.name + "' holds tokens (use transformer)");
    net->Add(std::make_unique<Linear<T>>("fc1", d.features, 128, rng));
    net->Add(std::make_unique<ReLU<T>>("relu1"));
    net->Add(std::make_unique<Linear<T>>("fc2", 128, 64, rng));
    net->Add(std::make_unique<ReLU<T>>("relu2"));
    net->Add(std::make_unique<Linear<T>>("fc3", 64, d.classes, rng));
  } else if (name == "cnn") {
    if (d.vocab != 0) throw ModelError("model cnn needs images; data '" + d.name + "' holds tokens (use transformer)");
    if (d.example_shape.size() != 3)
      throw ModelError("model cnn needs images of shape {C,H,W}; data '" + d.name + "' has " +
                       std::to_string(d.example_shape.size()) + "-D examples (use mlp)");
    const size_t ch = d.example_shape[0], h = d.example_shape[1], w = d.example_shape[2];
    auto conv1 = std::make_unique<Conv2d<T>>("conv1", ch, h, w, 16, 3, 1, 1, rng);
    auto conv2 = std::make_unique<Conv2d<T>>("conv2", 16, conv1->OutH(), conv1->OutW(), 32, 3, 2, 1, rng);
    const size_t flat = conv2->OutFeatures();
    net->Add(std::move(conv1));
    net->Add(std::make_unique<ReLU<T>>("relu1"));
    net->Add(std::move(conv2));
    net->Add(std::make_unique<ReLU<T>>("relu2"));
    net->Add(std::make_unique<Linear<T>>("fc1", flat, 64, rng));
    net->Add(std::make_unique<ReLU<T>>("relu3"));
    net->Add(std::make_unique<Linear<T>>("fc2", 64, d.classes, rng));
  } else if (name == "transformer") {
    if (d.vocab == 0)
      throw ModelError("model transformer needs token data; data '" + d.name + "' holds real-valued features (use mlp or cnn)");
    constexpr size_t kDim = 64, kHidden = 128, kHeads = 4, kBlocks = 2;
    const size_t seq = d.features;
    net->Add(std::make_unique<Embedding<T>>("embed", d.vocab, kDim, seq, rng));
    for (size_t i = 0; i < kBlocks; ++i) {
      const std::string b = "block" + std::to_string(i) + ".";
      auto attn = std::make_unique<Sequential<T>>();
      attn->Add(std::make_unique<LayerNorm<T>>(b + "ln1", kDim));
      attn->Add(std::make_unique<MultiHeadSelfAttention<T>>(b + "attn", kDim, kHeads, seq, rng));
      net->Add(std::make_unique<Residual<T>>(b + "res1", std::move(attn)));
      auto mlp = std::make_unique<Sequential<T>>();
      mlp->Add(std::make_unique<LayerNorm<T>>(b + "ln2", kDim));
      mlp->Add(std::make_unique<Linear<T>>(b + "fc1", kDim, kHidden, rng));
      mlp->Add(std::make_unique<GELU<T>>(b + "gelu"));
      mlp->Add(std::make_unique<Linear<T>>(b + "fc2", kHidden, kDim, rng));
      net->Add(std::make_unique<Residual<T>>(b + "res2", std::move(mlp)));
    }
    net->Add(std::make_unique<LayerNorm<T>>("ln_f", kDim));
    net->Add(std::make_unique<SelectLast<T>>("last", seq));
    net->Add(std::make_unique<Linear<T>>("head", kDim, d.classes, rng));
  } else {
    throw ModelError("unknown model '" + name + "' (models: " + kModelNames + ")");
  }
  return std::make_unique<Model<T>>(std::move(net));
}

}  // namespace floatscope::train
