#!/usr/bin/env bash
# The second device call of 2026-12-07 19:44 UTC (cuda/RESULTS.md, "Scaled
# sr's fraction in float64 ..."): what cuda/device_run_sr_speed.sh's first
# call left (the suite's block-kernel case, int8 sr/sr-eq, the scaled
# sr-eq, the plan kernels' sr) and gemm_bench at 4096^3.
#   DEV=build/devu cuda/device_run_sr_speed_rest.sh [SECONDS]
set -uo pipefail
source "$(dirname "$0")/device_setup.sh"
echo "== suite: the block GEMM kernel case (at $(at) s)"
timeout 60 stdbuf -oL "$B/gpu_kernels_test" -d -tc="the fixed-point kBlock*" > "$OUT/gpu_suite_block.log" 2>&1; echo "exit $?" >> "$OUT/gpu_suite_block.log"
grep -E "test cases|assertions|exit" "$OUT/gpu_suite_block.log"
echo "== gemm_bench (at $(at) s)"
timeout 110 "$B/gemm_bench" --size 4096 --reps 5 --general-size 256 --check 64 > "$OUT/gemm_bench.log" 2>&1; echo "exit $?" >> "$OUT/gemm_bench.log"
grep -E "^(h100|kHardware|kSeq|kFused|kExact|kBlock)|exit" "$OUT/gemm_bench.log"
verify 5 --format int8 --round sr,sr-eq --seed 99 --kernels fast
verify 5 --format e4m3fn,bf16 --round sr-eq --seed 12345 --kernels fast --scale 0x1.6a09e6p+0
verify 5 --format e4m3,binary8p3 --round sr --seed 12345 --kernels fast
grep -E "passed|failed|budget spent" "$OUT/verify.log"
echo "all stages: $(at) s" | tee -a "$OUT/device.txt"
