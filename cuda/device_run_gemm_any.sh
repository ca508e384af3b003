#!/usr/bin/env bash
# Issue 16 part 5 (cuda/RESULTS.md, "Every kHardware rounding mode, IEEE-like
# sum formats, hopper-mma-fp8 and narrow accumulators on fast kernels"): the
# suite's GEMM cases (every model against emulate/dot.h on the CPU, the fast
# kernel's new kinds, hopper-mma-fp8 on it, the float64 kernel), then
# gemm_bench at 4096^3, this build and (when the bundle has it)
# gemm_bench_base, a build before the change (0b5e4ff's).
#   DEV=build/devg cuda/device_run_gemm_any.sh [SECONDS]
set -uo pipefail
source "$(dirname "$0")/device_setup.sh"
for tc in "the float64 GEMM kernel*" "the fast GEMM kernel*" "the H100 tensor-core presets*" \
          "the emulated GEMM equals*" "the float32 and block GEMM kernels decline*"; do
  echo "== suite: $tc (at $(at) s)" | tee -a "$OUT/gpu_suite.log"
  timeout 150 stdbuf -oL "$B/gpu_kernels_test" -d -tc="$tc" >> "$OUT/gpu_suite.log" 2>&1
  echo "exit $?" | tee -a "$OUT/gpu_suite.log"
done
grep -E "^== |test cases|assertions|exit|ERROR|gpu 0x" "$OUT/gpu_suite.log" | head -60
echo "== gemm_bench (at $(at) s)"
timeout 200 "$B/gemm_bench" --size 4096 --reps 5 --general-size 256 --check 64 > "$OUT/gemm_bench.log" 2>&1
echo "exit $?" >> "$OUT/gemm_bench.log"
cat "$OUT/gemm_bench.log"
if [[ -x "$B/gemm_bench_base" ]]; then
  echo "== gemm_bench_base (at $(at) s)"
  timeout 150 "$B/gemm_bench_base" --size 4096 --reps 5 --general-size 256 --check 64 > "$OUT/gemm_bench_base.log" 2>&1
  echo "exit $?" >> "$OUT/gemm_bench_base.log"
  grep -E "^(h100|kHardware|kSeq|kFused)|exit" "$OUT/gemm_bench_base.log"
fi
echo "all stages: $(at) s" | tee -a "$OUT/device.txt"
