#!/usr/bin/env bash
# One device call for the named kernels' Philox on precomputed round keys
# (formats/philox.h StochasticCall(round_key, counter): the keys are kernel
# parameters, no longer bumped per round and call) and the scaled cast's
# branch-free NaN path (cuda/named_convert.h ScaledProductSr), issue 17's
# per-tensor scaled sr target (>= 60 % of copy), most important first:
#   1. gpu_kernels_test's short-slice and per-tensor cases;
#   2. gpu_bench of this build and of the previous one ($B/gpu_bench_base),
#      alternating, $REPS times each (ratios compare within this call);
#   3. `gpu-verify --exhaustive --reference core --unaligned --kernels fast`:
#      the scaled cast's sr and sr-eq, then the plain kernels' sr and sr-eq
#      (every specialised sr kernel now takes the keys from its parameters).
# Binaries in $DEV/bin (floatscope, gpu_kernels_test, gpu_bench,
# gpu_bench_base; .xz or .gz), libraries in $DEV/lib. Logs under $OUT.
#   DEV=build/devp cuda/device_run_philox.sh [SECONDS]
set -uo pipefail
source "$(dirname "$0")/device_setup.sh"

echo "== 1. gpu_kernels_test (at $(at) s)"
timeout 120 stdbuf -oL "$B/gpu_kernels_test" -d -tc="short slices*,per-tensor*" > "$OUT/gpu_suite.log" 2>&1
echo "exit $?" >> "$OUT/gpu_suite.log"
grep -E "test cases|assertions|ERROR|exit" "$OUT/gpu_suite.log" | tail -8

echo "== 2. gpu_bench, this build and the previous one (at $(at) s)"
for rep in $(seq 1 "${REPS:-2}"); do
  for b in gpu_bench gpu_bench_base; do
    timeout 90 "$B/$b" --gemm 0 --reps 10 > "$OUT/${b}_$rep.log" 2>&1
    echo "exit $?" >> "$OUT/${b}_$rep.log"
  done
done
for b in gpu_bench gpu_bench_base; do
  echo "-- $b"
  grep -hE "copy \(|per-tensor scaled  |(fake-quant|encode) +[a-z0-9]+ +sr" "$OUT/${b}"_*.log | sort | head -60
done

echo "== 3. gpu-verify (at $(at) s)"
verify 10 --format e4m3fn,e5m2,bf16 --round sr,sr-eq --seed 12345 --kernels fast --scale 0x1.6a09e6p+0
verify 10 --format f16,e3m4 --round sr --seed 777 --kernels fast --scale 0x1.8p-3
verify 10 --format e4m3fn,bf16,f16,e5m2,int8,e2m1fn --round sr,sr-eq --seed 99 --kernels fast
grep -E "passed|failed|budget spent" "$OUT/verify.log" | tail -12
echo "all stages: $(at) s" | tee -a "$OUT/device.txt"
