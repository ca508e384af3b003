#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the flagship
# format comparison (experiments/format_compare) on its built-in data, then
# renders the plot. Outputs go to results/format_compare/ (git-ignored).
#
#   scripts/run-main.sh                 # the comparison (~20 s on 2 cores)
#   scripts/run-main.sh --n 65536 ...   # options go to format_compare (--help)
#   scripts/run-main.sh --tour          # the short format tour instead
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [[ ${1:-} == --tour ]]; then
  exec experiments/format_tour.sh build/cli/floatscope
fi
OUT=results/format_compare
mkdir -p "$OUT"
build/experiments/format_compare --out "$OUT" "$@"
.venv/bin/python experiments/plot_format_compare.py "$OUT/format_compare.json" -o "$OUT/format_compare.png"
echo
echo "outputs in $OUT/:"
echo "  format_compare.csv       one row per (data set, variant): errors, SQNR, overflow/flush/subnormal/NaN"
echo "  format_compare_hist.csv  histogram of log2 |relative error| per (data set, variant)"
echo "  format_compare.json      everything above, with the data sets and the run's settings"
echo "  format_compare.png       error histograms and SQNR bars"
