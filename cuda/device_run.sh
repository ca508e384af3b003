#!/usr/bin/env bash
# One GPU session's work, as run for cuda/RESULTS.md on the device machine:
# binaries built on the development machine are carried in .device/ (bin/
# and the shared libraries the device image lacks in lib/). Logs and JSON go
# to $OUT. Stages: device info, the GPU test suite, the benchmark (with
# PyTorch), then exhaustive verification until the time budget runs out.
#   cuda/device_run.sh [SECONDS_FOR_EXHAUSTIVE] [FORMATS_MAIN] [FORMATS_REST]
set -uo pipefail
OUT=${OUT:-out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH="$PWD/.device/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
budget=${1:-300}
main=${2:-f16,bf16,e4m3fn,e5m2,e2m1fn,int8}
rest=${3:-e4m3,e4m3fnuz,e5m2fnuz,e4m3b11fnuz,e3m4,binary8p1,binary8p2,binary8p3,binary8p4,binary8p5,binary8p6,binary8p7,e2m3fn,e3m2fn,e8m0fnu,uint8,int4,uint4}
B=.device/bin
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/device.txt"
nproc | tee -a "$OUT/device.txt"
date -u | tee -a "$OUT/device.txt"
echo "== gpu_kernels_test"
timeout 150 $B/gpu_kernels_test 2>&1 | tail -25 | tee "$OUT/gpu_kernels_test.log"
echo "== benchmark"
mkdir -p "$OUT/bench"
PATH_SAVE=$PATH
mkdir -p build-dev/bench && cp $B/gpu_bench build-dev/bench/
timeout 120 bench/run_gpu_bench.sh build-dev "$OUT/bench" 2>&1 | tee "$OUT/bench.log"
echo "== exhaustive (budget ${budget} s)"
start=$(date +%s)
run() {
  local left=$(( budget - ($(date +%s) - start) ))
  (( left > 20 )) || { echo "budget spent before: $*"; return; }
  timeout "$left" $B/floatscope gpu-verify --exhaustive --threads "$(nproc)" "$@" 2>>"$OUT/exhaustive.err" | tee -a "$OUT/exhaustive.log"
}
run --format "$main" --round deterministic --json "$OUT/exhaustive_main.json"
run --format f16,bf16,e4m3fn,e5m2,e2m1fn,int8 --round sr,sr-eq --seed 12345 --json "$OUT/exhaustive_sr.json"
run --format "$rest" --round deterministic --json "$OUT/exhaustive_rest.json"
echo "exhaustive stage: $(( $(date +%s) - start )) s"
