#!/usr/bin/env bash
# One device call for issue 16's models and the emulated GEMM's speed:
#   1. the FP8 mma.sync probes (experiments/tensor_core_probe/mma_probe on
#      probe.py --dry-run's inputs); only the float32 results come back
#      (probe_results.py extract; splice them here into the dry-run files);
#   2. gemm_probe on the held-out shapes (--shapes 2) with a new seed:
#      gemm_results.bin + gemm_meta.json for gemm_assemble / tc_fit verify;
#   3. gemm_bench for each GEMM kernel variant in $VARIANTS (FS_GEMM_VARIANT),
#      beside gpu_kernels_test's GEMM cases under each variant in $TEST_VARIANTS.
#   DEV=build/devq cuda/device_run_gemm_models.sh 500
# $DEV/bin: mma_probe, gemm_probe, gemm_bench, gpu_kernels_test (gzipped).
set -uo pipefail
source "$(dirname "$0")/device_setup.sh"
cat "$OUT/device.txt"
( for v in ${TEST_VARIANTS:-}; do
    FS_GEMM_VARIANT=$v timeout 240 "$B/gpu_kernels_test" -tc="*GEMM*,*H100*" > "$OUT/gemm_test_v$v.log" 2>&1
  done ) &
tests=$!
W=/tmp/mw
mkdir -p "$W"
if [[ -n "${MMA:-e4m3 e5m2}" ]]; then
  python3 experiments/tensor_core_probe/probe.py --out "$W" --dry-run > "$W/probe.log" 2>&1 || tail "$W/probe.log"
  for c in ${MMA:-e4m3 e5m2}; do
    gunzip -c "$W/tc_$c.bin.gz" > "$W/in.bin"
    "$B/mma_probe" "$W/in.bin" "$W/out.bin" 2>&1 | tee -a "$OUT/mma.log"
    python3 experiments/tensor_core_probe/probe_results.py extract "$W/out.bin" "$W/r.f32" &&
      gzip -c "$W/r.f32" > "$OUT/mma_$c.f32.gz"
  done
fi
echo "== gemm_probe --shapes 2 at $(at) s"
mkdir -p "$OUT/gemm"
timeout 200 "$B/gemm_probe" "$OUT/gemm" --shapes 2 --seed "${SEED:-20261207}" > "$OUT/gemm_probe.log" 2>&1
echo "gemm_probe rc=$?"; tail -3 "$OUT/gemm_probe.log"
for v in ${VARIANTS:-2}; do
  echo "== gemm_bench variant $v at $(at) s"
  FS_GEMM_VARIANT=$v timeout 150 "$B/gemm_bench" --size 4096 --reps 5 --general-size 256 --check 64 2>&1 |
    tee "$OUT/gemm_bench_v$v.log"
done
wait $tests
grep -E "test cases|assertions|ERROR" "$OUT"/gemm_test_v*.log | head -20
ls -la "$OUT" "$OUT/gemm"
