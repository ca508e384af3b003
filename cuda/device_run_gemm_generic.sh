#!/usr/bin/env bash
# One device call for the emulated GEMM's generic paths (issue 16 part 5,
# branch gemm-generic): generic kHardware models on the fixed-point
# kernel's unrolled path with a compile-time rounding mode
# (cuda/gemm_kernel.cu), kSequential and kFused on the float32 FMA kernel
# (cuda/gemm_float_kernel.cu).
#   1. gpu_kernels_test's GEMM cases (every model of DotModels() against
#      the CPU's Gemm; the H100 presets; K = 4096 with specials on both
#      fast kernels), code and flags, bit for bit;
#   2. gemm_bench at 4096^3 (this branch: the H100 presets, the generic
#      kHardware models, kSequential / kFused; every row checks 64 elements,
#      code and flags, against emulate/dot.h on the CPU);
#   3. gemm_bench_base at 4096^3: the same bench and kernels of main before
#      this branch (9afb5c8), on the same GPU: before/after in one call;
#   4. gemm_bench again (this branch), if the budget allows: order effects.
#   DEV=build-g/dev cuda/device_run_gemm_generic.sh 500
# $DEV/bin: gpu_kernels_test, gemm_bench, gemm_bench_base (gzipped);
# $DEV/lib: the shared libraries the device lacks. Logs come back in $OUT:
# device.txt, gemm_test.log, gemm_bench.log, gemm_bench_base.log,
# gemm_bench2.log.
set -uo pipefail
source "$(dirname "$0")/device_setup.sh"
cat "$OUT/device.txt"
if [[ "${TESTS:-1}" != 0 ]]; then  # TESTS=0: the whole suite ran already (cuda/device_run_next.sh)
  echo "== 1. gpu_kernels_test GEMM cases at $(at) s"
  timeout 300 "$B/gpu_kernels_test" -tc="*GEMM*,*H100*" > "$OUT/gemm_test.log" 2>&1
  echo "gpu_kernels_test rc=$?"
  grep -E "test cases|assertions|ERROR|FAIL" "$OUT/gemm_test.log" | head -20
fi
echo "== 2. gemm_bench (this branch) at $(at) s"
timeout 200 "$B/gemm_bench" --size 4096 --reps 5 --general-size 256 --check 64 2>&1 | tee "$OUT/gemm_bench.log"
echo "== 3. gemm_bench_base (main 9afb5c8) at $(at) s"
timeout 150 "$B/gemm_bench_base" --size 4096 --reps 5 --general-size 256 --check 64 2>&1 | tee "$OUT/gemm_bench_base.log"
if (( $(left) > 100 )); then
  echo "== 4. gemm_bench (this branch) again at $(at) s"
  timeout $(( $(left) - 10 )) "$B/gemm_bench" --size 4096 --reps 5 --general-size 256 --check 64 2>&1 |
    tee "$OUT/gemm_bench2.log"
fi
echo "== done at $(at) s"
ls -la "$OUT"
