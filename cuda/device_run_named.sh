#!/usr/bin/env bash
# The device run of the compile-time specialised kernels (cuda/RESULTS.md,
# 2026-11-23, "Specialised kernels"): binaries built on the development
# machine, carried in .device/ as for cuda/device_run.sh. Stages: the GPU
# test suite, exhaustive verification of the formats with specialised sr,
# the benchmark, exhaustive verification of the other specialised formats
# (deterministic modes). The fast variant only ("--kernels fast": the
# specialised kernel wherever one applies); the core variant's results are
# the earlier runs'. At most 7 files under $OUT.
#   cuda/device_run_named.sh [SECONDS_FOR_EXHAUSTIVE]
set -uo pipefail
OUT=${OUT:-out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH="$PWD/.device/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
budget=${1:-280}
B=.device/bin
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
nproc
date -u
echo "== gpu_kernels_test"
timeout 150 $B/gpu_kernels_test 2>&1 | tail -25 | tee "$OUT/gpu_kernels_test.log"
start=$(date +%s)
run() {
  local left=$(( budget - ($(date +%s) - start) ))
  (( left > 10 )) || { echo "budget spent before: $*" | tee -a "$OUT/exhaustive.log"; return; }
  timeout "$left" $B/floatscope gpu-verify --exhaustive --threads "$(nproc)" --kernels fast "$@" 2>&1 | tee -a "$OUT/exhaustive.log"
}
echo "== exhaustive (budget ${budget} s)"
run --format f16,bf16,e4m3fn,e5m2,e2m1fn,int8 --round all --seed 12345 --json "$OUT/exhaustive_main.json"
echo "== benchmark"
mkdir -p "$OUT/bench" build-dev/bench && cp $B/gpu_bench build-dev/bench/
timeout 120 bench/run_gpu_bench.sh build-dev "$OUT/bench" 2>&1 | tee "$OUT/bench.log"
echo "== exhaustive, the other specialised formats"
run --format e4m3,e4m3fnuz,e5m2fnuz,e4m3b11fnuz,e3m4,binary8p2,binary8p3,binary8p4,binary8p5,binary8p6,binary8p7,e2m3fn,e3m2fn,uint8,int4,uint4 --round deterministic --json "$OUT/exhaustive_rest.json"
echo "exhaustive stages: $(( $(date +%s) - start )) s"
