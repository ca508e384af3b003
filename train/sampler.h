// Which examples each step trains on: a fresh Fisher-Yates permutation of
// the training set every epoch, drawn from Rng(Mix64(seed ^ 0x5eed)); the
// last partial batch of an epoch is dropped. The model and its FP64 shadow
// see the same batches, and so does any reference implementation (the
// tests use this class too).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "train/context.h"
#include "train/rng.h"

namespace floatscope::train {

class Sampler {
 public:
  Sampler(size_t n, size_t batch, uint64_t seed) : n_(n), batch_(batch), rng_(Mix64(seed ^ 0x5eed)) { Shuffle(); }
  std::vector<size_t> Next() {
    if (pos_ + batch_ > n_) Shuffle();
    std::vector<size_t> b(perm_.begin() + static_cast<long>(pos_), perm_.begin() + static_cast<long>(pos_ + batch_));
    pos_ += batch_;
    return b;
  }

 private:
  void Shuffle() {
    perm_.resize(n_);
    for (size_t i = 0; i < n_; ++i) perm_[i] = i;
    for (size_t i = n_; i > 1; --i) std::swap(perm_[i - 1], perm_[rng_.Below(i)]);
    pos_ = 0;
  }
  size_t n_, batch_;
  Rng rng_;
  std::vector<size_t> perm_;
  size_t pos_ = 0;
};

}  // namespace floatscope::train
