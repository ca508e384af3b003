#!/usr/bin/env bash
# Installs what is missing, builds, and runs every default test suite
# (everything but the on-demand "exhaustive" suite; see docs/TESTING.md).
# Ends with one line "N passed, N failed" summed over all suites.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || exit 1
meson test -C build --no-suite exhaustive --num-processes "$(nproc)" --print-errorlogs "$@"
status=$?
.venv/bin/python scripts/test_summary.py build/meson-logs/testlog.json || status=1
exit $status
