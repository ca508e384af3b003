#!/usr/bin/env bash
# One device call that checks what changed on the GPU side, most important
# first, each stage within what is left of the budget (seconds):
#   1. gpu_kernels_test's GEMM / H100-preset / quantization-recipe cases
#      (emulate/dot.h and emulate/quant's FS_HD code on the GPU vs the CPU);
#   2. `floatscope gpu-verify --exhaustive` of unsigned P3109 members against
#      the scalar core, every kernel variant, aligned and not;
#   3. the whole gpu_kernels_test suite;
#   4. with what is left, exhaustive_simd (the Highway kernels, all 2^32
#      float32 inputs, every target the host CPU has) for stochastic rounding.
# Binaries and the libraries a bare CUDA image lacks are carried in
# $DEV/bin and $DEV/lib (stage: copy build/tests/cuda/gpu_kernels_test,
# build/cli/floatscope, build/tests/simd/exhaustive_simd and their libfmt,
# libhwy, libgmp, libmpfr). Logs under $OUT (at most 8 files).
#   DEV=build-dev cuda/device_run_all.sh [SECONDS]
set -uo pipefail
OUT=${OUT:-out}
DEV=${DEV:-build-dev}
mkdir -p "$OUT"
export LD_LIBRARY_PATH="$PWD/$DEV/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
budget=${1:-540}
start=$(date +%s)
left() { echo $(( budget - ($(date +%s) - start) )); }
B=$DEV/bin
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  echo "cpus: $(nproc)"; grep -m1 "model name" /proc/cpuinfo; grep -o -m1 "avx512f" /proc/cpuinfo
  date -u
} > "$OUT/device.txt" 2>&1

echo "== 1. GEMM, H100 presets, recipes (at $(( $(date +%s) - start )) s)" | tee "$OUT/gpu_dot_recipes.log"
timeout 150 "$B/gpu_kernels_test" -tc="*GEMM*,*H100*,*per-tensor*,*MX and NVFP4*" -d 2>&1 | tail -40 >> "$OUT/gpu_dot_recipes.log"

echo "== 2. P3109 unsigned members (at $(( $(date +%s) - start )) s)" | tee "$OUT/gpu_p3109.log"
timeout 150 "$B/floatscope" gpu-verify --exhaustive --threads "$(nproc)" --reference core --unaligned \
  --format binary8p3ue,binary8p1ue,binary6p2uf --round rne,rdn,sr --seed 12345 --kernels all \
  --json "$OUT/gpu_p3109.json" 2>&1 | grep -v '^\[[0-9]*/[0-9]*\] elapsed' | tail -40 >> "$OUT/gpu_p3109.log"

l=$(( $(left) - 200 ))
echo "== 3. whole GPU suite, at most $l s (at $(( $(date +%s) - start )) s)" | tee "$OUT/gpu_suite.log"
(( l > 30 )) && timeout "$l" "$B/gpu_kernels_test" 2>&1 | tail -30 >> "$OUT/gpu_suite.log"

l=$(( $(left) - 5 ))
echo "== 4. exhaustive_simd sr, sr-eq, at most $l s (at $(( $(date +%s) - start )) s)" | tee "$OUT/simd_sr.log"
(( l > 30 )) && timeout "$l" "$B/exhaustive_simd" --format f16,e5m2,e4m3fn,bf16,int8,e2m1fn,e3m2fn,e2m3fn \
  --round sr,sr-eq --target all --threads "$(nproc)" --seed 1 --json "$OUT/simd_sr.json" 2>&1 |
  grep -v '^\[' | tail -60 >> "$OUT/simd_sr.log"
echo "all stages: $(( $(date +%s) - start )) s" | tee -a "$OUT/device.txt"
