#!/usr/bin/env bash
# One device call for the scaled cast's stochastic rounding through the
# exact significand product (cuda/named_convert.h ScaledProductSr, on main
# since e775a5d, bf16 included; cuda/device_run_next.sh covers it too),
# most important first:
#   1. gpu_kernels_test's conversion, short-slice, per-tensor and MX cases;
#   2. bench/gpu_bench (2^28 float32, median of 20; ratios to its copy);
#   3. `gpu-verify --exhaustive --reference core --unaligned`: the scaled
#      cast's sr for e4m3fn, bf16, f16 (--scale) and the plain fast kernels'
#      sr for e4m3fn, bf16 (NamedRoundMagSrBits);
#   4. with what is left: exhaustive_simd sr, sr-eq for $SIMD_FORMATS.
# Binaries gzipped in $DEV/bin (floatscope, gpu_kernels_test, gpu_bench,
# exhaustive_simd), libraries in $DEV/lib. Logs under $OUT.
#   DEV=build/dev SIMD_FORMATS=e3m4 cuda/device_run_scaled.sh [SECONDS]
set -uo pipefail
source "$(dirname "$0")/device_setup.sh"

echo "== 1. gpu_kernels_test (at $(at) s)"
timeout 200 "$B/gpu_kernels_test" -d -tc="encode*,short slices*,per-tensor*,MX*" > "$OUT/gpu_suite.log" 2>&1
echo "exit $?" >> "$OUT/gpu_suite.log"
grep -E "test cases|assertions|ERROR|exit" "$OUT/gpu_suite.log" | tail -8

echo "== 2. gpu_bench (at $(at) s)"
timeout 120 "$B/gpu_bench" --gemm 0 --json "$OUT/gpu_bench.json" > "$OUT/gpu_bench.log" 2>&1
echo "exit $?" >> "$OUT/gpu_bench.log"
grep -iE "copy|scaled|exit" "$OUT/gpu_bench.log" | head -30

echo "== 3. gpu-verify (at $(at) s)"
verify "${SIMD_RESERVE:-60}" --format e4m3fn,bf16 --round sr --seed 12345 --kernels fast --scale 0x1.6a09e6p+0
verify "${SIMD_RESERVE:-60}" --format f16 --round sr --seed 777 --kernels fast --scale 0x1.8p-3
verify "${SIMD_RESERVE:-60}" --format e4m3fn,bf16 --round sr --seed 12345 --kernels fast
grep -E "passed|failed|budget spent" "$OUT/verify.log" | tail -12

simd_sr_stage 4
echo "all stages: $(at) s" | tee -a "$OUT/device.txt"
