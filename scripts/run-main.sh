#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the flagship
# format comparison on built-in data (for now: the format tour).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec experiments/format_tour.sh build/cli/floatscope
