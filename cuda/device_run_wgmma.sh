#!/usr/bin/env bash
# One device call for issue 16 part 1's second half: Hopper's wgmma through a
# kernel of ours (experiments/tensor_core_probe/wgmma_probe.cu):
#   1. wgmma_probe --self-check: the operand and accumulator layouts of the
#      four instructions against exact dot products; if it fails, nothing
#      else runs (its messages name the row, column or K position);
#   2. the probes of probe.py --dry-run (f16, bf16, e4m3 x e4m3, e5m2 x e4m3;
#      $CONFIGS to choose) through wgmma, each run again gated by its
#      instruction's check; only the float32 results come back
#      (probe_results.py extract; splice them here into the same dry-run
#      files: experiments/tensor_core_probe/README.md, "wgmma").
#
# On the development machine, stage the binary into BUILD/devw/bin (it needs
# only libcudart.so.13 of the CUDA image: no $DEV/lib):
#   cuda/device_run_wgmma.sh --stage build
# On the device machine, carrying build/devw:
#   DEV=build/devw cuda/device_run_wgmma.sh 300
# Six files come back (the device tool returns at most 8): device.txt,
# wgmma.log, wgmma_f16/bf16/e4m3/e5m2.f32.gz; the rest goes to stdout.
set -uo pipefail

if [[ "${1:-}" == "--stage" ]]; then
  build=${2:?usage: cuda/device_run_wgmma.sh --stage BUILD_DIR}
  rm -rf "$build/devw" && mkdir -p "$build/devw/bin"
  gzip -c "$build/experiments/tensor_core_probe/wgmma_probe" > "$build/devw/bin/wgmma_probe.gz" || exit 1
  du -sh "$build/devw"
  exit 0
fi

source "$(dirname "$0")/device_setup.sh"
cat "$OUT/device.txt"
CONFIGS=${CONFIGS:-f16 bf16 e4m3 e5m2}  # e5m2: E5M2 x E4M3, as probe.py's configuration
W=/tmp/wg
rm -rf "$W"
mkdir -p "$W"
log="$OUT/wgmma.log"

echo "== wgmma_probe --self-check at $(at) s" | tee "$log"
"$B/wgmma_probe" --self-check > "$W/check.log" 2>&1
rc=$?
tee -a "$log" < "$W/check.log"
echo "self-check rc=$rc" | tee -a "$log"
if (( rc != 0 )); then
  echo "the self-check did not pass: no probe runs" | tee -a "$log"
  ls -la "$OUT"
  exit 1
fi

echo "== probe.py --dry-run --configs ${CONFIGS// /,} at $(at) s" | tee -a "$log"
python3 experiments/tensor_core_probe/probe.py --out "$W" --dry-run --configs "${CONFIGS// /,}" > "$W/probe.log" 2>&1 ||
  tail "$W/probe.log" | tee -a "$log"
for c in $CONFIGS; do
  l=$(( $(left) - 10 ))
  (( l > 10 )) || { echo "budget spent before $c" | tee -a "$log"; break; }
  echo "== $c at $(at) s (at most $l s)" | tee -a "$log"
  gunzip -c "$W/tc_$c.bin.gz" > "$W/in.bin" || { echo "$c: no dry-run input" | tee -a "$log"; continue; }
  timeout "$l" "$B/wgmma_probe" "$W/in.bin" "$W/out.bin" > "$W/run.log" 2>&1
  rc=$?
  tee -a "$log" < "$W/run.log"
  echo "$c: wgmma_probe rc=$rc at $(at) s" | tee -a "$log"
  if (( rc == 0 )); then
    python3 experiments/tensor_core_probe/probe_results.py extract "$W/out.bin" "$W/r.f32" &&
      gzip -c "$W/r.f32" > "$OUT/wgmma_$c.f32.gz"
  fi
  rm -f "$W/in.bin" "$W/out.bin" "$W/r.f32"
done
ls -la "$OUT"
