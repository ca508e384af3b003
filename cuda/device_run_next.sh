#!/usr/bin/env bash
# The device call that the session of 2026-12-07 11:50-14:50 UTC could not
# make (every machine start failed; cuda/RESULTS.md "Device calls of the
# session 2026-12-07 11:50-14:50 UTC"): one bundle of 47b0b28's build
# (build/devn: floatscope, gpu_kernels_test, gpu_bench, gemm_bench xz;
# gemm_bench_base of 9afb5c8, the probes, gzipped; libraries), then
#   1. cuda/device_run_general.sh: the whole gpu_kernels_test (every GEMM
#      kernel against emulate/dot.h, hopper-mma-fp8 on GemmElement, the
#      scaled cast, the dispatch test), gpu_bench, the probes, and the
#      exhaustive gpu-verify stages (the scaled cast's shared element, the
#      plan kernels, the one-lane overflow exit);
#   2. cuda/device_run_gemm_generic.sh without its tests: gemm_bench at
#      4096^3 beside 9afb5c8's gemm_bench_base.
# Logs under $OUT/general and $OUT/gemm.
#   DEV=build/devn cuda/device_run_next.sh [SECONDS]
set -uo pipefail
here=$(dirname "$0")
budget=${1:-560}
out=${OUT:-out}
mkdir -p "$out/general" "$out/gemm"
OUT=$out/general REPS=${REPS:-1} bash "$here/device_run_general.sh" $(( budget - 150 ))
OUT=$out/gemm TESTS=0 bash "$here/device_run_gemm_generic.sh" 140
