#!/usr/bin/env bash
# One device call that re-checks the committed code on the GPU host, most
# important first, each stage within what is left of the budget (seconds):
#   1. the whole gpu_kernels_test suite (every case, incl. the GEMM, H100
#      preset, conversion, short-slice, per-tensor and extreme-scale cases),
#      beside
#   2. bench/gemm_bench at 4096^3 (every H100 preset and generic model beside
#      cuBLASLt, a sample of C checked against the CPU);
#   3. `gpu-verify --exhaustive --reference core --unaligned` of what the
#      last GPU runs left: the plan kernel's sr / sr-eq (formats without a
#      specialised sr kernel), the deterministic peel, the scaled sr-eq;
#   4. with what is left, exhaustive_simd (the Highway kernels, all 2^32
#      float32 inputs, every target the host CPU has) for sr and sr-eq of
#      the formats named in $SIMD_FORMATS.
# Binaries gzipped in $DEV/bin (floatscope, gpu_kernels_test, gemm_bench,
# exhaustive_simd), the libraries a bare CUDA image lacks in $DEV/lib.
# At most 8 files under $OUT. Optional: SUITE_FILTER (doctest -tc patterns
# for stage 1), GEMM=0 (skip stage 2), VERIFY=0 (skip stage 3),
# VERIFY_RUNS (stage 3's gpu-verify argument lists instead of the default
# ones, separated by '|').
#   DEV=build/dev SIMD_FORMATS=f16,bf16 cuda/device_run_check.sh [SECONDS]
set -uo pipefail
source "$(dirname "$0")/device_setup.sh"

echo "== 1+2. gpu_kernels_test (all cases) beside gemm_bench (at $(at) s)"
( timeout "${SUITE_SECONDS:-240}" "$B/gpu_kernels_test" -d ${SUITE_FILTER:+-tc="$SUITE_FILTER"} > "$OUT/gpu_suite.log" 2>&1
  echo "exit $?" >> "$OUT/gpu_suite.log" ) &
suite=$!
if [[ "${GEMM:-1}" != 0 ]]; then
  timeout "${BENCH_SECONDS:-200}" "$B/gemm_bench" --size 4096 --reps 5 > "$OUT/gemm_bench.log" 2>&1
  echo "gemm_bench exit $? at $(at) s" >> "$OUT/gemm_bench.log"
fi
wait $suite
grep -E "test cases|assertions|ERROR|exit" "$OUT/gpu_suite.log" | tail -8

echo "== 3. gpu-verify (at $(at) s)"
reserve=${SIMD_RESERVE:-240}
if [[ -n "${VERIFY_RUNS:-}" ]]; then
  IFS='|' read -ra runs <<< "$VERIFY_RUNS"
  for r in "${runs[@]}"; do
    read -ra args <<< "$r"
    verify "$reserve" "${args[@]}"
  done
elif [[ "${VERIFY:-1}" != 0 ]]; then
  verify "$reserve" --format e4m3,e3m4,binary8p3,uint8 --round sr,sr-eq --seed 12345 --kernels fast
  verify "$reserve" --format f16,int8 --round rne --kernels all
  verify "$reserve" --format e4m3fn --round sr-eq --seed 12345 --kernels fast --scale 0x1.6a09e6p+0
fi
grep -E "passed|failed|budget spent" "$OUT/verify.log" | tail -12

simd_sr_stage 4
echo "all stages: $(at) s" | tee -a "$OUT/device.txt"
