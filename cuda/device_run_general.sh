#!/usr/bin/env bash
# One device call for the GPU checks of issues 16 and 17 since 9afb5c8
# (the plan kernels on emulate/encode_lanes.h, the scaled cast's shared
# element, the one-lane overflow exit), most important first, each stage within what is left of the budget (seconds):
#   1. the whole gpu_kernels_test suite;
#   2. bench/gpu_bench of this tree and of a baseline build ($B/gpu_bench_base,
#      when $DEV/bin has gpu_bench_base.gz), one after the other, twice, so
#      that their ratios compare within one call;
#   3. mma_probe and wgmma_probe (their shared header): the wgmma
#      self-check, then both on probe.py --dry-run's f16 input, float32
#      results back (to compare here with the first runs and the preset);
#   4. the scaled cast's element, now shared with the host test
#      (cuda/named_convert.h ScaledElement): `gpu-verify --exhaustive
#      --scale` for bf16 sr and sr-eq (sr new on the fast kernel; sr-eq's
#      products >= 2^128 fixed), e4m3fn and f16 sr;
#   5. `gpu-verify --exhaustive --reference core --unaligned --kernels fast`
#      where the fast variant is the plan kernel: sr and sr-eq of formats
#      without a specialised sr kernel, a format without a specialised
#      kernel, and flushed subnormals (options the specialised kernels
#      leave to the plan kernel);
#   6. the specialised kernels after the one-lane overflow exit
#      (emulate/fast_round-inl.h): int8 and e2m1fn ($EXIT_MODES).
# Logs in one archive, checks.tar.gz. Binaries gzipped in $DEV/bin
# (floatscope, gpu_kernels_test, gpu_bench, gpu_bench_base), libraries in
# $DEV/lib. SUITE=0 skips stage 1.
#   DEV=build/devg cuda/device_run_general.sh [SECONDS]
set -uo pipefail
source "$(dirname "$0")/device_setup.sh"
L=$OUT/checks
mkdir -p "$L"

echo "== 1. gpu_kernels_test (at $(at) s)"
if [[ "${SUITE:-1}" != 0 ]]; then
  timeout "${SUITE_SECONDS:-300}" stdbuf -oL -eL "$B/gpu_kernels_test" -d > "$L/gpu_suite.log" 2>&1
  echo "exit $?" >> "$L/gpu_suite.log"
  grep -E "test cases|assertions|ERROR|exit" "$L/gpu_suite.log" | tail -8
fi

echo "== 2. gpu_bench, this tree and the baseline (at $(at) s)"
for rep in $(seq 1 "${REPS:-2}"); do
  for b in gpu_bench gpu_bench_base; do
    [[ -x "$B/$b" ]] || continue
    timeout 60 "$B/$b" --gemm 0 > "$L/${b}_$rep.log" 2>&1
    echo "exit $?" >> "$L/${b}_$rep.log"
  done
done
for b in gpu_bench gpu_bench_base; do
  echo "-- $b (run ${REPS:-2})"
  grep -E "copy \(|fake-quant +(f16|bf16|e4m3fn|int8|e2m1fn) +(rne|sr)|plan|per-tensor scaled " "$L/${b}_${REPS:-2}.log" | head -40
done

echo "== 3. the probes after their shared header (instr_probe.h) (at $(at) s)"
if [[ -x "$B/mma_probe" && -x "$B/wgmma_probe" ]]; then
  mkdir -p /tmp/pg
  "$B/wgmma_probe" --self-check > "$L/probes.log" 2>&1; echo "wgmma self-check rc=$?" >> "$L/probes.log"
  python3 experiments/tensor_core_probe/probe.py --out /tmp/pg --dry-run --configs f16 >> "$L/probes.log" 2>&1
  gunzip -c /tmp/pg/tc_f16.bin.gz > /tmp/pg/in.bin
  for p in mma wgmma; do
    timeout 60 "$B/${p}_probe" /tmp/pg/in.bin /tmp/pg/$p.bin >> "$L/probes.log" 2>&1
    echo "$p rc=$?" >> "$L/probes.log"
    python3 experiments/tensor_core_probe/probe_results.py extract /tmp/pg/$p.bin /tmp/pg/$p.f32 >> "$L/probes.log" 2>&1 &&
      gzip -c /tmp/pg/$p.f32 > "$OUT/${p}_f16_again.f32.gz"
  done
  tail -8 "$L/probes.log"
fi

run_verify() { OUT=$L verify "$@"; }
echo "== 4. gpu-verify, the scaled cast (at $(at) s)"
run_verify 10 --format bf16 --round sr,sr-eq --seed 12345 --kernels fast --scale 0x1.6a09e6p+0
run_verify 10 --format e4m3fn --round sr --seed 12345 --kernels fast --scale 0x1.6a09e6p+0,0x1p-140
run_verify 10 --format f16 --round sr --seed 777 --kernels fast --scale 0x1.8p-3

echo "== 5. gpu-verify, the plan kernels (at $(at) s)"
run_verify 10 --format e4m3,binary8p3 --round sr,sr-eq --seed 12345 --kernels fast
run_verify 10 --format e8m0fnu --round rne,sr --seed 12345 --kernels fast
run_verify 10 --format e4m3fn --round rne,sr --seed 7 --subnormals flush --kernels fast

echo "== 6. gpu-verify, the specialised kernels after the one-lane overflow exit (at $(at) s)"
run_verify 10 --format int8,e2m1fn --round ${EXIT_MODES:-rne,rtz,sr,sr-eq} --seed 12345 --kernels fast
grep -E "passed|failed|budget spent" "$L/verify.log" | tail -16
echo "all stages: $(at) s" | tee -a "$OUT/device.txt"
tar -czf "$OUT/checks.tar.gz" -C "$OUT" checks && rm -rf "$L"
