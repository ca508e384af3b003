#!/usr/bin/env bash
# One device call for issue 16's models and the emulated GEMM's speed:
#   1. the FP8 mma.sync probes (experiments/tensor_core_probe/mma_probe on
#      probe.py --dry-run's inputs); only the float32 results come back
#      (probe_results.py extract; splice them here into the dry-run files);
#   2. gemm_probe on the held-out shapes (--shapes 2) with a new seed:
#      gemm_results.bin + gemm_meta.json for gemm_assemble / tc_fit verify;
#   3. gemm_bench beside gpu_kernels_test's GEMM cases.
# (The 2026-12-07 run compared three kernel variants through an experiment
# switch, FS_GEMM_VARIANT, since removed; cuda/RESULTS.md.)
#   DEV=build/devq cuda/device_run_gemm_models.sh 500
# $DEV/bin: mma_probe, gemm_probe, gemm_bench, gpu_kernels_test (gzipped).
# Seven files come back (the device tool returns at most 8): device.txt,
# mma_e4m3/e5m2.f32.gz, gemm/gemm_meta.json, gemm/gemm_results.bin,
# gemm_bench.log, gemm_test.log; the rest goes to stdout.
set -uo pipefail
source "$(dirname "$0")/device_setup.sh"
cat "$OUT/device.txt"
( timeout 240 "$B/gpu_kernels_test" -tc="*GEMM*,*H100*" > "$OUT/gemm_test.log" 2>&1 ) &
tests=$!
W=/tmp/mw
mkdir -p "$W"
if [[ -n "${MMA:-e4m3 e5m2}" ]]; then
  python3 experiments/tensor_core_probe/probe.py --out "$W" --dry-run > "$W/probe.log" 2>&1 || tail "$W/probe.log"
  for c in ${MMA:-e4m3 e5m2}; do
    gunzip -c "$W/tc_$c.bin.gz" > "$W/in.bin"
    "$B/mma_probe" "$W/in.bin" "$W/out.bin" 2>&1
    python3 experiments/tensor_core_probe/probe_results.py extract "$W/out.bin" "$W/r.f32" &&
      gzip -c "$W/r.f32" > "$OUT/mma_$c.f32.gz"
  done
fi
echo "== gemm_probe --shapes 2 at $(at) s"
mkdir -p "$OUT/gemm"
timeout 200 "$B/gemm_probe" "$OUT/gemm" --shapes 2 --seed "${SEED:-20261207}" > "$W/gemm_probe.log" 2>&1
echo "gemm_probe rc=$?"; tail -3 "$W/gemm_probe.log"
echo "== gemm_bench at $(at) s"
timeout 150 "$B/gemm_bench" --size 4096 --reps 5 --general-size 256 --check 64 2>&1 | tee "$OUT/gemm_bench.log"
wait $tests
grep -E "test cases|assertions|ERROR" "$OUT/gemm_test.log" | head -20
ls -la "$OUT" "$OUT/gemm"
