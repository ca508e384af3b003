#!/usr/bin/env bash
# One device call for issue 16's shared fast-path rounding
# (emulate/fast_round-inl.h on lanes::ScalarTags in the named kernels) and
# the wgmma probe, most important first, each stage within what is left of
# the budget (first argument, seconds):
#   1. cuda/device_run_wgmma.sh (self-check, then the four probes; its six
#      files come back as they are);
#   2. the whole gpu_kernels_test suite;
#   3. bench/gpu_bench (2^28 float32, medians; ratios to its device copy);
#   4. `gpu-verify --exhaustive --reference core --unaligned --kernels fast`:
#      bf16 in every mode (its d is a constant on the GPU now), the sr and
#      sr-eq of the formats with a specialised sr kernel, the scaled sr;
#   5. with what is left, `gpu-verify --exhaustive --kernels fast` (CPU side:
#      the Highway kernels, a few seconds per check) of the other named
#      formats in the deterministic modes ($REST_FORMATS).
# Stages 2-5 write their logs into one archive, checks.tar.gz, so that
# with the wgmma files at most 8 come back. Binaries gzipped in $DEV/bin
# (floatscope, gpu_kernels_test, gpu_bench, wgmma_probe), libraries in
# $DEV/lib.
#   DEV=build/devu cuda/device_run_unify.sh [SECONDS]
set -uo pipefail
here=$(dirname "$0")
budget=${1:-560}
t0=$(date +%s)

echo "== 1. wgmma (at 0 s)"
timeout 120 "$here/device_run_wgmma.sh" 100 2>&1 | tail -25

source "$here/device_setup.sh" $(( budget - ($(date +%s) - t0) ))
mkdir -p "$OUT/checks"
L=$OUT/checks

echo "== 2. gpu_kernels_test (at $(at) s)"
timeout "${SUITE_SECONDS:-150}" "$B/gpu_kernels_test" -d > "$L/gpu_suite.log" 2>&1
echo "exit $?" >> "$L/gpu_suite.log"
grep -E "test cases|assertions|ERROR|exit" "$L/gpu_suite.log" | tail -8

echo "== 3. gpu_bench (at $(at) s)"
timeout 100 "$B/gpu_bench" --gemm 0 --json "$L/gpu_bench.json" > "$L/gpu_bench.log" 2>&1
echo "exit $?" >> "$L/gpu_bench.log"
grep -iE "copy|fake|scaled|encode|exit" "$L/gpu_bench.log" | head -40

echo "== 4./5. gpu-verify (at $(at) s)"
run_verify() {  # verify's log under $L
  OUT=$L verify "$@"
}
run_verify 120 --format bf16 --round all --seed 12345 --kernels fast
run_verify 120 --format e4m3fn,int8,e2m1fn,f16,e5m2 --round sr,sr-eq --seed 12345 --kernels fast
run_verify 120 --format e4m3fn --round sr --seed 12345 --kernels fast --scale 0x1.6a09e6p+0
for f in ${REST_FORMATS:-e4m3 e3m4 e2m3fn e3m2fn binary8p3 e4m3fnuz e5m2fnuz int4 uint8 binary8p5}; do
  l=$(( $(left) - 15 ))
  (( l > 20 )) || { echo "budget spent before $f" >> "$L/verify.log"; break; }
  echo "== gpu-verify (arrays) $f (at $(at) s)" >> "$L/verify.log"
  timeout "$l" "$B/floatscope" gpu-verify --exhaustive --threads "$(nproc)" --unaligned --kernels fast \
    --format "$f" --round deterministic 2>&1 | grep -v '^\[[0-9]*/[0-9]*\] elapsed' | grep -v '^device:' >> "$L/verify.log"
done
grep -E "passed|failed|budget spent" "$L/verify.log" | tail -20
echo "all stages: $(at) s" | tee -a "$OUT/device.txt"
tar -czf "$OUT/checks.tar.gz" -C "$OUT" checks && rm -rf "$L"
