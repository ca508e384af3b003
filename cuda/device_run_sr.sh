#!/usr/bin/env bash
# The device run of DESIGN.md's December stochastic-rounding rule (one
# Philox4x32-10 call per four elements; cuda/RESULTS.md, "Stochastic
# rounding, one Philox call per four elements"). Binaries built on the
# development machine are carried in $DEV/bin, the shared libraries the
# device image lacks in $DEV/lib. Stages, each skipped once the time budget
# (seconds for the whole script) is spent: the GPU test suite; exhaustive
# verification of sr and sr-eq for the formats with specialised sr kernels,
# against the scalar core, every kernel variant in both layouts (aligned,
# and split at element 3: the group loops); the benchmark with PyTorch;
# then, with what is left, sr through the run-time-plan kernel (formats
# without specialised sr) and the deterministic modes. At most 8 files
# under $OUT.
#   DEV=build-h2/dev cuda/device_run_sr.sh [SECONDS]
set -uo pipefail
OUT=${OUT:-out}
DEV=${DEV:-.device}
mkdir -p "$OUT"
export LD_LIBRARY_PATH="$PWD/$DEV/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
budget=${1:-380}
start=$(date +%s)
left() { echo $(( budget - ($(date +%s) - start) )); }
B=$DEV/bin
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  echo "cpus: $(nproc)"
  date -u
} | tee "$OUT/exhaustive.log"

echo "== gpu_kernels_test"
timeout 150 "$B/gpu_kernels_test" 2>&1 | tail -30 | tee "$OUT/gpu_kernels_test.log"
echo "gpu_kernels_test done at $(( $(date +%s) - start )) s"

# run RESERVE JSON ARGS...: one gpu-verify call within the budget left,
# less RESERVE seconds kept for later stages.
run() {
  local reserve=$1 json=$2
  shift 2
  local l
  l=$(( $(left) - reserve ))
  (( l > 20 )) || { echo "budget spent before: $*" | tee -a "$OUT/exhaustive.log"; return; }
  echo "== gpu-verify $* (at most $(( l - 5 )) s)" | tee -a "$OUT/exhaustive.log"
  timeout $(( l - 5 )) "$B/floatscope" gpu-verify --exhaustive --threads "$(nproc)" --reference core --unaligned \
    "$@" --json "$OUT/$json" 2>&1 | grep --line-buffered -v '^\[[0-9]*/[0-9]*\] elapsed' | tee -a "$OUT/exhaustive.log"
}

run 80 exhaustive_sr.json --format f16,bf16,e4m3fn,e5m2,e2m1fn,int8 --round sr,sr-eq --seed 12345 --kernels all

echo "== benchmark (at $(( $(date +%s) - start )) s)"
mkdir -p "$DEV/bench" && cp "$B/gpu_bench" "$DEV/bench/gpu_bench"
timeout 120 bench/run_gpu_bench.sh "$DEV" "$OUT" 2>&1 | tee "$OUT/bench.log"

run 0 exhaustive_plan_sr.json --format e4m3,e3m4,binary8p3,uint8 --round sr,sr-eq --seed 12345 --kernels fast
run 0 exhaustive_det.json --format f16,bf16,e4m3fn,e5m2,e2m1fn,int8 --round deterministic --kernels fast
echo "all stages: $(( $(date +%s) - start )) s"
