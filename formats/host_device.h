// One macro lets every function of the rounding core run on the host and
// inside CUDA kernels: the CUDA path calls the very same code, so there is
// nothing to keep in sync.
#pragma once

#if defined(__CUDACC__)
#define FS_HD __host__ __device__ __forceinline__
#else
#define FS_HD inline
#endif
