#!/usr/bin/env bash
# Branch gemm-fast-round (cuda/RESULTS.md, "Not run yet: the presets' spill
# fix and the float64 kernel's fast rounding"): the suite's float64-kernel,
# fast-kernel and every-model GEMM cases against emulate/dot.h on the CPU;
# the presets' rows of gemm_bench and gemm_bench_base (0b5e4ff's build) in
# the same call, twice; then the full gemm_bench within the budget left.
#   DEV=build/devg cuda/device_run_gemm_fast_round.sh [SECONDS]
set -uo pipefail
source "$(dirname "$0")/device_setup.sh"
for c in "the float64 GEMM kernel*" "the fast GEMM kernel*" "the emulated GEMM equals*"; do
  (( $(left) > 120 )) || { echo "== budget spent before: $c"; break; }
  echo "== suite: $c (at $(at) s)" | tee -a "$OUT/gpu_suite.log"
  timeout 110 stdbuf -oL "$B/gpu_kernels_test" -d -tc="$c" >> "$OUT/gpu_suite.log" 2>&1
  echo "exit $?" | tee -a "$OUT/gpu_suite.log"
done
grep -E "test cases|assertions|ERROR" "$OUT/gpu_suite.log" 2>/dev/null | head -20
presets=(--size 4096 --reps 5 --general-size 64 --check 16 --only h100)
for round in 1 2; do
  if [[ -x "$B/gemm_bench_base" ]]; then
    echo "== base $round (at $(at) s)"
    "$B/gemm_bench_base" "${presets[@]}" 2>&1 | grep -E "^h100"
  fi
  echo "== new $round (at $(at) s)"
  "$B/gemm_bench" "${presets[@]}" 2>&1 | grep -E "^h100"
done | tee "$OUT/presets.log"
if (( $(left) > 60 )); then
  echo "== gemm_bench (at $(at) s)"
  timeout $(( $(left) - 10 )) "$B/gemm_bench" --size 4096 --reps 5 --general-size 256 --check 64 \
    > "$OUT/gemm_bench.log" 2>&1
  echo "exit $?" >> "$OUT/gemm_bench.log"
  cat "$OUT/gemm_bench.log"
fi
echo "all stages: $(at) s" | tee -a "$OUT/device.txt"
