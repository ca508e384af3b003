#!/usr/bin/env bash
# One device call for issue 17's GPU targets (cuda/RESULTS.md, "Stochastic
# rounding: the peel, one F for shallow and deep inputs, the scaled cast"):
#   1. gpu_kernels_test's conversion, short-slice and per-tensor cases;
#   2. the benchmark (bench/run_gpu_bench.sh);
#   3. `gpu-verify --exhaustive --reference core --unaligned` of sr and
#      sr-eq for the six formats with specialised sr, every kernel variant
#      in the three layouts (aligned; split at element 3: the peel; shifted
#      by one element: the group loop), one format per call so that the
#      budget can stop between them;
#   4. the scaled cast's stochastic rounding exhaustively (--scale);
#   5. with what is left: deterministic modes and the plan kernel's sr.
# Binaries and the libraries a bare CUDA image lacks are carried in
# $DEV/bin (gzipped) and $DEV/lib. Logs under $OUT (at most 8 files).
#   DEV=build-h2/dev cuda/device_run_peel.sh [SECONDS]
set -uo pipefail
OUT=${OUT:-out}
DEV=${DEV:-build-h2/dev}
mkdir -p "$OUT"
budget=${1:-330}
start=$(date +%s)
left() { echo $(( budget - ($(date +%s) - start) )); }
B=/tmp/fsbin
mkdir -p "$B" "$B/bench"
for f in "$DEV"/bin/*.gz; do gunzip -c "$f" > "$B/$(basename "$f" .gz)"; chmod +x "$B/$(basename "$f" .gz)"; done
cp "$B/gpu_bench" "$B/bench/gpu_bench"
export LD_LIBRARY_PATH="$PWD/$DEV/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  echo "cpus: $(nproc)"
  date -u
} 2>&1 | tee "$OUT/device.txt"

echo "== 1. gpu_kernels_test (at $(( $(date +%s) - start )) s)" | tee "$OUT/gpu_kernels_test.log"
# (doctest's -tc takes comma-separated patterns: no commas inside one.)
timeout 150 "$B/gpu_kernels_test" -tc="encode*,short slices*,per-tensor*" 2>&1 | tail -40 >> "$OUT/gpu_kernels_test.log"
tail -4 "$OUT/gpu_kernels_test.log"

echo "== 2. benchmark (at $(( $(date +%s) - start )) s)"
timeout 120 bench/run_gpu_bench.sh "$B" "$OUT" > "$OUT/bench.log" 2>&1
grep -E "copy|sr|per-tensor" "$OUT/bench.log" | grep -v "^floatscope\|^torch" | head -60

# verify RESERVE ARGS...: one gpu-verify call within the budget left less
# RESERVE seconds.
verify() {
  local reserve=$1
  shift
  local l
  l=$(( $(left) - reserve ))
  (( l > 15 )) || { echo "budget spent before: $*" | tee -a "$OUT/exhaustive.log"; return; }
  echo "== gpu-verify $* (at most $(( l - 3 )) s)" >> "$OUT/exhaustive.log"
  timeout $(( l - 3 )) "$B/floatscope" gpu-verify --exhaustive --threads "$(nproc)" --reference core --unaligned \
    "$@" 2>&1 | grep --line-buffered -v '^\[[0-9]*/[0-9]*\] elapsed' | grep --line-buffered -v '^device:' |
    tee -a "$OUT/exhaustive.log"
}
echo "== 3. sr, sr-eq exhaustively (at $(( $(date +%s) - start )) s)" | tee -a "$OUT/exhaustive.log"
for fmt in int8 e4m3fn e2m1fn f16 bf16 e5m2; do
  verify 70 --format $fmt --round sr,sr-eq --seed 12345 --kernels all
done
echo "== 4. the scaled cast's sr exhaustively (at $(( $(date +%s) - start )) s)" | tee -a "$OUT/exhaustive.log"
verify 25 --format e4m3fn --round sr --seed 12345 --kernels fast --scale 1.75,0x1.6a09e6p+0
verify 10 --format e5m2,f16 --round sr --seed 12345 --kernels fast --scale 0x1.fffffep-3
echo "== 5. the rest (at $(( $(date +%s) - start )) s)" | tee -a "$OUT/exhaustive.log"
verify 0 --format e4m3fn --round sr-eq --seed 12345 --kernels fast --scale 0x1.6a09e6p+0
verify 0 --format f16,int8 --round rne --kernels all
verify 0 --format e4m3,uint8 --round sr --seed 12345 --kernels fast
echo "all stages: $(( $(date +%s) - start )) s" | tee -a "$OUT/device.txt"
grep -E "passed|failed|differing|mismatch" "$OUT/exhaustive.log" | tail -30
