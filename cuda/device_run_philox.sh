#!/usr/bin/env bash
# Ran once, 2026-12-07 17:25 UTC (cuda/RESULTS.md); the Philox and NaN
# changes it measured were reverted after it (no gain), the GEMM's stayed.
# One device call for the named kernels' Philox on precomputed round keys
# (formats/philox.h StochasticCall(round_key, counter): the keys are kernel
# parameters, no longer bumped per round and call), the scaled cast's
# branch-free NaN path (cuda/named_convert.h ScaledProductSr; issue 17's
# per-tensor scaled sr target, >= 60 % of copy) and, when the bundle has
# gemm_bench, the fixed-point GEMM's group step (issue 16 part 5), most
# important first:
#   1. the whole gpu_kernels_test (SUITE=short: the short-slice and
#      per-tensor cases only);
#   2. gemm_bench at 4096^3, then gemm_bench_base (the previous build) on
#      the same GPU, when the bundle has them;
#   3. gpu_bench ($B/gpu_bench_base too, alternating, when present);
#   4. `gpu-verify --exhaustive --reference core --unaligned --kernels fast`:
#      the scaled cast's sr and sr-eq, then the plain kernels' sr and sr-eq
#      (every specialised sr kernel now takes the keys from its parameters).
# Binaries in $DEV/bin (.xz or .gz), libraries in $DEV/lib. Logs under $OUT.
#   DEV=build/devp cuda/device_run_philox.sh [SECONDS]
set -uo pipefail
source "$(dirname "$0")/device_setup.sh"

echo "== 1. gpu_kernels_test (at $(at) s)"
filter=()
[[ "${SUITE:-all}" == short ]] && filter=(-tc="short slices*,per-tensor*")
timeout 300 stdbuf -oL "$B/gpu_kernels_test" -d "${filter[@]}" > "$OUT/gpu_suite.log" 2>&1
echo "exit $?" >> "$OUT/gpu_suite.log"
grep -E "test cases|assertions|ERROR|exit" "$OUT/gpu_suite.log" | tail -8

echo "== 2. gemm_bench (at $(at) s)"
for b in gemm_bench gemm_bench_base; do
  [[ -x "$B/$b" ]] || continue
  timeout 120 "$B/$b" --size 4096 --reps 5 --general-size 256 --check 64 > "$OUT/$b.log" 2>&1
  echo "exit $?" >> "$OUT/$b.log"
  grep -E "^(h100|kHardware|kSeq|kFused|kExact|kBlock)|exit" "$OUT/$b.log"
done

echo "== 3. gpu_bench (at $(at) s)"
gpu_bench_runs "${REPS:-1}"

echo "== 4. gpu-verify (at $(at) s)"
verify 5 --format e4m3fn,bf16 --round sr --seed 12345 --kernels fast --scale 0x1.6a09e6p+0
verify 5 --format e4m3fn,bf16,f16,e5m2,int8,e2m1fn --round sr,sr-eq --seed 99 --kernels fast
verify 5 --format e5m2,f16,e3m4 --round sr,sr-eq --seed 777 --kernels fast --scale 0x1.8p-3
verify 5 --format e4m3fn,bf16 --round sr-eq --seed 12345 --kernels fast --scale 0x1.6a09e6p+0
grep -E "passed|failed|budget spent" "$OUT/verify.log" | tail -12
echo "all stages: $(at) s" | tee -a "$OUT/device.txt"
