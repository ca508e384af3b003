#!/usr/bin/env bash
# The device run of issue 16's host-device unification: the GPU's emulated
# GEMM now runs emulate/dot.h's own Dot (every accumulation model and the
# H100 presets of emulate/h100_tensor_core.h, mixed e5m2 x e4m3fn inputs
# included), and the per-tensor FP8, MX and NVFP4 kernels run
# emulate/quant's own FS_HD recipe steps. This runs gpu_kernels_test's
# cases for them (against the CPU, bit for bit), then the whole suite with
# what is left of the time budget. Logs under $OUT (3 files).
#
# On the development machine, stage the binary and the shared libraries
# the device image lacks (libfmt, libhwy) into BUILD/dev-dot:
#   cuda/device_run_dot.sh --stage build-h2
# On the device machine, carrying build-h2/dev-dot:
#   DEV=build-h2/dev-dot cuda/device_run_dot.sh [SECONDS]
set -uo pipefail

if [[ "${1:-}" == "--stage" ]]; then
  build=${2:?usage: cuda/device_run_dot.sh --stage BUILD_DIR}
  dev="$build/dev-dot"
  rm -rf "$dev" && mkdir -p "$dev/bin" "$dev/lib"
  cp "$build/tests/cuda/gpu_kernels_test" "$dev/bin/" && strip "$dev/bin/gpu_kernels_test"
  # The libraries the binary links that are not in a bare CUDA image.
  ldd "$build/tests/cuda/gpu_kernels_test" | awk '/=> \// {print $3}' | grep -E 'lib(fmt|hwy|gmp|mpfr)\.' |
    while read -r lib; do cp -L "$lib" "$dev/lib/"; done
  du -sh "$dev"
  exit 0
fi

OUT=${OUT:-out}
DEV=${DEV:-build-h2/dev-dot}
mkdir -p "$OUT"
export LD_LIBRARY_PATH="$PWD/$DEV/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
budget=${1:-400}
start=$(date +%s)
left() { echo $(( budget - ($(date +%s) - start) )); }
T=$DEV/bin/gpu_kernels_test
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  echo "cpus: $(nproc)"
  date -u
  git rev-parse HEAD 2>/dev/null
} | tee "$OUT/device.txt"

echo "== GEMM (emulate/dot.h on the GPU) and the quantization recipes"
timeout $(( $(left) - 20 )) "$T" -tc="*GEMM*,*H100*,*per-tensor*,*MX and NVFP4*" -d 2>&1 | tail -40 |
  tee "$OUT/dot_and_recipes.log"
echo "dot and recipes done at $(( $(date +%s) - start )) s"

l=$(left)
if (( l > 30 )); then
  echo "== the whole suite (at most $(( l - 5 )) s)"
  timeout $(( l - 5 )) "$T" -d 2>&1 | tail -40 | tee "$OUT/gpu_kernels_test.log"
else
  echo "budget spent before the whole suite" | tee "$OUT/gpu_kernels_test.log"
fi
echo "all stages: $(( $(date +%s) - start )) s"
