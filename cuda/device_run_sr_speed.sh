#!/usr/bin/env bash
# Device calls for issue 17's per-tensor scaled sr target (>= 60 % of copy)
# after two changes (2026-12-07 evening): the scaled cast's sr fraction in
# float64 (cuda/named_convert.h ScaledProductSr) and Philox's high words by
# __umulhi on the GPU (formats/philox.h: no needless VIADD per multiply).
# Both change the machine code of every GPU kernel that rounds
# stochastically, so the call re-proves them. Stages, each run only when
# the bundle has its binaries, most important first:
#   1. gpu_bench of this tree and $B/gpu_bench_base (the previous commit's),
#      alternating, twice: the ratios compare within one call;
#   2. `gpu-verify --exhaustive --reference core --unaligned --kernels fast`
#      (all 2^32 float32 inputs, aligned, split at element 3, from index 1)
#      of the scaled cast's sr;
#   3. the whole gpu_kernels_test (every GEMM kernel, sr included, against
#      emulate/dot.h on the CPU);
#   4. the same gpu-verify of the specialised kernels' sr and sr-eq, the
#      scaled cast's sr-eq, the plan kernels' sr;
#   5. gemm_bench at 4096^3 (the G16 sr row draws Philox words; the new
#      rows of the fixed-point kernel's run-time variant).
# Binaries in $DEV/bin (cuda/make_bundle.sh), logs under $OUT.
#   DEV=build/devs cuda/device_run_sr_speed.sh [SECONDS]
set -uo pipefail
source "$(dirname "$0")/device_setup.sh"

if [[ -x "$B/gpu_bench" ]]; then
  echo "== 1. gpu_bench, this tree and the baseline (at $(at) s)"
  gpu_bench_runs 2 "copy \\(|per-tensor scaled  |fake-quant +[a-z0-9]+ +sr|exit"
fi

if [[ -x "$B/floatscope" ]]; then
  echo "== 2. gpu-verify, the scaled cast (at $(at) s)"
  verify 5 --format e4m3fn,bf16 --round sr --seed 12345 --kernels fast --scale 0x1.6a09e6p+0,0x1p-140
  verify 5 --format e5m2,f16,e3m4 --round sr --seed 777 --kernels fast --scale 0x1.8p-3
  verify 5 --format bf16 --round sr --seed 99 --kernels fast --scale 0x1.fffffep+127
fi

if [[ -x "$B/gpu_kernels_test" ]]; then
  echo "== 3. gpu_kernels_test (at $(at) s)"
  timeout "${SUITE_SECONDS:-240}" stdbuf -oL -eL "$B/gpu_kernels_test" -d > "$OUT/gpu_suite.log" 2>&1
  echo "exit $?" >> "$OUT/gpu_suite.log"
  grep -E "test cases|assertions|ERROR|exit" "$OUT/gpu_suite.log" | tail -8
fi

if [[ -x "$B/floatscope" ]]; then
  echo "== 4. gpu-verify, the specialised and plan kernels' sr and sr-eq (at $(at) s)"
  verify 5 --format f16,bf16,e4m3fn,e5m2,e2m1fn,int8 --round sr,sr-eq --seed 99 --kernels fast
  verify 5 --format e4m3fn,bf16 --round sr-eq --seed 12345 --kernels fast --scale 0x1.6a09e6p+0
  verify 5 --format e4m3,binary8p3,e8m0fnu --round sr --seed 12345 --kernels fast
  grep -E "passed|failed|budget spent" "$OUT/verify.log" | tail -14
fi

if [[ -x "$B/gemm_bench" ]]; then
  echo "== 5. gemm_bench (at $(at) s)"
  timeout 150 "$B/gemm_bench" --size 4096 --reps 5 --general-size 256 --check 64 > "$OUT/gemm_bench.log" 2>&1
  echo "exit $?" >> "$OUT/gemm_bench.log"
  grep -E "^(h100|kHardware|kSeq|kFused|kExact|kBlock)|exit" "$OUT/gemm_bench.log"
fi
echo "all stages: $(at) s" | tee -a "$OUT/device.txt"
