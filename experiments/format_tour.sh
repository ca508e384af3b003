#!/usr/bin/env bash
# A short tour of floatscope (the main job until the flagship comparison
# experiment lands): every format, then how a few numbers are stored.
set -euo pipefail
FS=${1:-build/cli/floatscope}
echo "== every named format =="
"$FS" formats
for spec in "0.1 e4m3fn" "0.1 e5m2" "0.1 bf16" "464 e4m3fn" "1e-3 e2m1fn" "3 e8m0fnu"; do
  set -- $spec
  echo
  "$FS" explain "$1" --format "$2"
done
echo
echo "== 3f800001 (just above 1.0f) into bf16, rounding up =="
echo 3f800001 | "$FS" eval f32_to_bf16 --round rup
