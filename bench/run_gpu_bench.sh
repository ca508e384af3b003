#!/usr/bin/env bash
# Runs bench/gpu_bench (floatscope's CUDA kernels) and bench/gpu_torch_bench.py
# (PyTorch) on the same GPU, one after the other, and prints one table:
# every kernel's GB/s as a ratio to floatscope's float4 copy kernel measured
# in the same run (PyTorch's rows also beside its own copy_).
#   bench/run_gpu_bench.sh [BUILD_DIR] [OUT_DIR]
set -euo pipefail
build=${1:-build-cuda}
out=${2:-.}
"$build/bench/gpu_bench" --json "$out/gpu_bench.json"
python3 "$(dirname "$0")/gpu_torch_bench.py" --json "$out/gpu_torch_bench.json"
python3 - "$out/gpu_bench.json" "$out/gpu_torch_bench.json" <<'PY'
import json, sys
fs = json.load(open(sys.argv[1])); th = json.load(open(sys.argv[2]))
copy = fs["copy_gb_per_s"]
print(f"\nOne table, {fs['device']}; ratios to floatscope's float4 copy ({copy:.0f} GB/s)")
print(f"{'what':<44} {'GB/s':>7} {'/copy':>7}")
for k in fs["kernels"]:
    print(f"{'floatscope ' + k['kernel'] + ' ' + k['format'] + ' ' + k['round']:<44} {k['gb_per_s']:7.0f} {k['gb_per_s']/copy:7.1%}")
for o in th["ops"]:
    print(f"{'torch ' + o['op'] + ' ' + o['dtype']:<44} {o['gb_per_s']:7.0f} {o['gb_per_s']/copy:7.1%}")
for g in fs["gemm"]:
    print(f"{g['gemm']:<44} {g['tflop_per_s']:7.2f} TFLOP/s (n={g['n']})")
PY
