// The training lab's tensors: row-major Eigen matrices of the compute type
// (float for every low-precision policy, double for the FP64 shadow). A
// batch of vectors is rows x features; images are rows x (C*H*W); token
// sequences are (batch*T) x features.
#pragma once

#include <Eigen/Dense>

namespace floatscope::train {

template <class T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

}  // namespace floatscope::train
