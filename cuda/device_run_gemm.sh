#!/usr/bin/env bash
# One device call for the fast emulated GEMM (cuda/gemm_kernel.cu):
#   2. gpu_kernels_test's GEMM cases (the general and the fast kernel against
#      emulate/dot.h on the CPU, code and flags: every model at small shapes,
#      the H100 presets, K = 4096 with NaN/inf/overflow/-0 inputs);
#   1. bench/gemm_bench: every H100 preset and generic kHardware models at
#      4096^3 beside cuBLASLt of the same shape and inputs, a sample of C
#      checked against the CPU, and the general kernel at 1024^3.
# Binaries and libraries a bare CUDA image lacks in $DEV/bin and $DEV/lib
# (stage: build/tests/cuda/gpu_kernels_test, build/bench/gemm_bench and
# libfmt, libhwy, libgmp, libmpfr). Logs under $OUT.
#   DEV=build-h4/dev cuda/device_run_gemm.sh
set -uo pipefail
OUT=${OUT:-out}
DEV=${DEV:-build-dev}
mkdir -p "$OUT"
export LD_LIBRARY_PATH="$PWD/$DEV/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  date -u
} > "$OUT/device.txt" 2>&1
cat "$OUT/device.txt"
# The tests (CPU-bound: the CPU reference of every dot product) run beside
# the bench; their GPU kernels are a few milliseconds in all.
( timeout "${TEST_SECONDS:-240}" "$DEV/bin/gpu_kernels_test" -tc="*GEMM*,*H100*" -d > "$OUT/gpu_gemm_test.log" 2>&1 ) &
tests=$!
echo "== 1. gemm_bench"
timeout "${BENCH_SECONDS:-240}" "$DEV/bin/gemm_bench" --size "${SIZE:-4096}" --reps "${REPS:-5}" 2>&1 | tee "$OUT/gemm_bench.log"
echo "== 2. GEMM tests"
wait $tests
grep -E "TEST CASE|test cases|assertions|ERROR" "$OUT/gpu_gemm_test.log" | head -40
