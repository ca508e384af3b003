#!/usr/bin/env bash
# On the GPU machine: the probes of probe.py (generated with --dry-run, so
# no PyTorch GEMM runs) through the raw mma.sync instructions (mma_probe),
# one file per instruction, gzipped into OUT. Then, on any machine:
#   gunzip mma_f16.bin.gz; tc_fit fit mma_f16.bin; tc_fit verify mma_f16.bin --preset h100-f16
#   MMA_PROBE=build-dev/bin/mma_probe OUT=out experiments/tensor_core_probe/run_mma_probe.sh
set -euo pipefail
OUT=${OUT:-out}
MMA_PROBE=${MMA_PROBE:-build/experiments/tensor_core_probe/mma_probe}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$OUT"
python3 "$(dirname "$0")/probe.py" --out "$work" --dry-run > "$work/probe.log"
for config in f16 bf16 e4m3 e5m2; do  # e5m2: E5M2 x E4M3, as probe.py's configuration
  gunzip -c "$work/tc_$config.bin.gz" > "$work/in.bin"
  "$MMA_PROBE" "$work/in.bin" "$work/mma_$config.bin"
  gzip -c "$work/mma_$config.bin" > "$OUT/mma_$config.bin.gz"
  rm -f "$work/mma_$config.bin"
done
