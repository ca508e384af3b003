#!/usr/bin/env bash
# One device call for the scaled cast's stochastic rounding through the
# exact significand product (ScaledProductSr, cuda/named_encode.cu; bf16
# included) and the kDeep proofs left (cuda/RESULTS.md, "The scaled cast's
# sr from the significand product"), most important first:
#   1. gpu_kernels_test's conversion, short-slice, per-tensor and MX cases;
#   2. bench/gpu_bench (2^28 float32, median of 20; ratios to its copy);
#   3. `gpu-verify --exhaustive --reference core --unaligned`: the scaled
#      cast's sr for e4m3fn, bf16, f16 (--scale) and the plain fast kernels'
#      sr for e4m3fn, bf16 (NamedRoundMagSrBits);
#   4. with what is left: exhaustive_simd sr, sr-eq for $SIMD_FORMATS.
# Binaries gzipped in $DEV/bin (floatscope, gpu_kernels_test, gpu_bench,
# exhaustive_simd), libraries in $DEV/lib. Logs under $OUT.
#   DEV=build/dev SIMD_FORMATS=e3m4 cuda/device_run_scaled.sh [SECONDS]
set -uo pipefail
OUT=${OUT:-out}
DEV=${DEV:-build/dev}
mkdir -p "$OUT"
budget=${1:-560}
start=$(date +%s)
at() { echo "$(( $(date +%s) - start ))"; }
left() { echo $(( budget - ($(date +%s) - start) )); }
B=/tmp/fsbin
mkdir -p "$B"
for f in "$DEV"/bin/*.gz; do gunzip -c "$f" > "$B/$(basename "$f" .gz)"; chmod +x "$B/$(basename "$f" .gz)"; done
export LD_LIBRARY_PATH="$PWD/$DEV/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  echo "cpus: $(nproc)"; grep -m1 "model name" /proc/cpuinfo
  date -u
  git log -1 --format='commit %H' 2>/dev/null
} > "$OUT/device.txt" 2>&1

echo "== 1. gpu_kernels_test (at $(at) s)"
timeout 200 "$B/gpu_kernels_test" -d -tc="encode*,short slices*,per-tensor*,MX*" > "$OUT/gpu_suite.log" 2>&1
echo "exit $?" >> "$OUT/gpu_suite.log"
grep -E "test cases|assertions|ERROR|exit" "$OUT/gpu_suite.log" | tail -8

echo "== 2. gpu_bench (at $(at) s)"
timeout 120 "$B/gpu_bench" --gemm 0 --json "$OUT/gpu_bench.json" > "$OUT/gpu_bench.log" 2>&1
echo "exit $?" >> "$OUT/gpu_bench.log"
grep -iE "copy|scaled|exit" "$OUT/gpu_bench.log" | head -30

verify() {
  local l
  l=$(( $(left) - ${SIMD_RESERVE:-60} ))
  (( l > 15 )) || { echo "budget spent before: $*" >> "$OUT/verify.log"; return; }
  echo "== gpu-verify $* (at $(at) s, at most $(( l - 3 )) s)" >> "$OUT/verify.log"
  timeout $(( l - 3 )) "$B/floatscope" gpu-verify --exhaustive --threads "$(nproc)" --reference core --unaligned \
    "$@" 2>&1 | grep --line-buffered -v '^\[[0-9]*/[0-9]*\] elapsed' | grep --line-buffered -v '^device:' >> "$OUT/verify.log"
}
echo "== 3. gpu-verify (at $(at) s)"
verify --format e4m3fn,bf16 --round sr --seed 12345 --kernels fast --scale 0x1.6a09e6p+0
verify --format f16 --round sr --seed 777 --kernels fast --scale 0x1.8p-3
verify --format e4m3fn,bf16 --round sr --seed 12345 --kernels fast
grep -E "passed|failed|budget spent" "$OUT/verify.log" | tail -12

l=$(( $(left) - 5 ))
echo "== 4. exhaustive_simd sr, sr-eq: ${SIMD_FORMATS:-none}, at most $l s (at $(at) s)" | tee "$OUT/simd_sr.log"
if [[ -n "${SIMD_FORMATS:-}" ]] && (( l > 30 )); then
  timeout "$l" "$B/exhaustive_simd" --format "$SIMD_FORMATS" --round sr,sr-eq --target all --threads "$(nproc)" \
    --seed 1 --json "$OUT/simd_sr.json" 2>&1 | grep -v '^\[' >> "$OUT/simd_sr.log"
fi
grep -E "s for|passed" "$OUT/simd_sr.log" | tail -40
echo "all stages: $(at) s" | tee -a "$OUT/device.txt"
