#!/usr/bin/env bash
# Issue 16 part 5 (cuda/RESULTS.md, "Every rounding mode, IEEE-like sum
# formats and hopper-mma-fp8 on the fixed-point GEMM kernel; a float64
# kernel for kSequential/kFused"; the block kernel's wide variant for
# 16-bit inputs): the suite's new GEMM cases (against
# emulate/dot.h on the CPU), gemm_bench at 4096^3, the other GEMM cases,
# then (when the bundle has it) gemm_bench_base, a build before the change
# (0b5e4ff's), on the presets' rows; each stage only if the budget allows.
#   DEV=build/devg cuda/device_run_gemm_any.sh [SECONDS]
set -uo pipefail
source "$(dirname "$0")/device_setup.sh"
suite() {  # suite LIMIT PATTERN
  (( $(left) > $1 + 5 )) || { echo "== budget spent before: $2" | tee -a "$OUT/gpu_suite.log"; return; }
  echo "== suite: $2 (at $(at) s)" | tee -a "$OUT/gpu_suite.log"
  timeout "$1" stdbuf -oL "$B/gpu_kernels_test" -d -tc="$2" >> "$OUT/gpu_suite.log" 2>&1
  echo "exit $?" | tee -a "$OUT/gpu_suite.log"
}
suite 100 "the float64 GEMM kernel*"
suite 100 "the fast GEMM kernel*"
suite 100 "the fixed-point kBlock/kExact*"
if (( $(left) > 60 )); then
  echo "== gemm_bench (at $(at) s)"
  timeout $(( $(left) > 175 ? 170 : $(left) - 5 )) "$B/gemm_bench" --size 4096 --reps 5 --general-size 256 --check 64 \
    > "$OUT/gemm_bench.log" 2>&1
  echo "exit $?" >> "$OUT/gemm_bench.log"
  cat "$OUT/gemm_bench.log"
fi
suite 60 "the H100 tensor-core presets*"
suite 60 "the emulated GEMM equals*"
suite 20 "the float32 and block GEMM kernels decline*"
if [[ -x "$B/gemm_bench_base" ]] && (( $(left) > 50 )); then
  echo "== gemm_bench_base, presets (at $(at) s)"
  timeout $(( $(left) - 5 )) "$B/gemm_bench_base" --size 4096 --reps 5 --general-size 64 --check 16 --only h100 \
    > "$OUT/gemm_bench_base.log" 2>&1
  echo "exit $?" >> "$OUT/gemm_bench_base.log"
  grep -E "^h100|exit" "$OUT/gemm_bench_base.log"
fi
grep -E "^== |test cases|assertions|exit|ERROR|gpu 0x" "$OUT/gpu_suite.log" | head -60
echo "all stages: $(at) s" | tee -a "$OUT/device.txt"
