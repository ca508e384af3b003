// The CUDA error check of the host code that launches kernels (one copy for
// every .cu file): a failed call becomes a GpuError that names it.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "cuda/gpu.h"

namespace floatscope::gpu {

inline void Check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw GpuError(std::string(what) + ": " + cudaGetErrorString(e));
}

}  // namespace floatscope::gpu
