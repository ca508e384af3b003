#!/usr/bin/env bash
# On-demand fuzzing (issue 14; not part of CI). Builds the libFuzzer
# targets of tests/fuzz/ with clang (-fsanitize=fuzzer,address,undefined)
# and runs each for a fixed time, niced: the machine is shared.
#
#   tests/fuzz/run.sh [SECONDS_EACH] [TARGET...]
#
# SECONDS_EACH defaults to 600; TARGETs: spec_parser hex_lines npy policy
# (default: all four, one after the other). Work goes to $FUZZ_DIR
# (default build-fuzz/): fuzz_<target> binaries, corpus/<target>/ (seeded
# from tests/fuzz/seeds/<target>/ and kept between runs), <target>.log, and
# crash-*/leak-*/timeout-* files for any finding. The last line per target
# says "no finding" or names the file that reproduces one
# (build-fuzz/fuzz_<target> FILE). Needs clang with libFuzzer (Debian:
# clang-14), fmt, hwy, MPFR/GMP headers, nlohmann_json.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(spec_parser hex_lines npy policy)
dir=${FUZZ_DIR:-build-fuzz}
cxx=${FUZZ_CXX:-clang++}
mkdir -p "$dir"

flags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -ffp-contract=off
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I.)
declare -A sources=(
  [spec_parser]="tests/fuzz/fuzz_spec_parser.cc"
  [hex_lines]="tests/fuzz/fuzz_hex_lines.cc cli/hex_codes.cc cli/ops.cc"
  [npy]="tests/fuzz/fuzz_npy.cc emulate/npy.cc"
  [policy]="tests/fuzz/fuzz_policy.cc train/policy.cc"
)

for t in "${targets[@]}"; do
  [ -n "${sources[$t]:-}" ] || { echo "unknown target $t (spec_parser hex_lines npy policy)" >&2; exit 2; }
  extra=()
  # shellcheck disable=SC2086
  nice -n 19 "$cxx" "${flags[@]}" "${extra[@]}" ${sources[$t]} -o "$dir/fuzz_$t" -lfmt -lhwy
done

status=0
for t in "${targets[@]}"; do
  corpus="$dir/corpus/$t"
  mkdir -p "$corpus" "$dir/findings/$t"
  [ -d "tests/fuzz/seeds/$t" ] && cp -n tests/fuzz/seeds/"$t"/* "$corpus"/ 2>/dev/null || true
  start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  # Findings of earlier runs stay in findings/ (reproducers are also kept
  # as seeds); only a file written by this run is a finding of this run.
  touch "$dir/findings/$t/.started"
  set +e
  nice -n 19 "$dir/fuzz_$t" "$corpus" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=8192 \
    -artifact_prefix="$dir/findings/$t/" -print_final_stats=1 >"$dir/$t.log" 2>&1
  rc=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/$t.log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -o 'cov: [0-9]*' "$dir/$t.log" | tail -1 | grep -o '[0-9]*' || echo "?")
  files=$(ls "$corpus" | wc -l)
  finding=$(find "$dir/findings/$t" -type f -newer "$dir/findings/$t/.started" ! -name .started -printf '%f\n' | head -1)
  if [ $rc -eq 0 ] && [ -z "$finding" ]; then
    echo "fuzz_$t: started $start, ${secs} s, $runs runs, coverage $cov edges, corpus $files inputs: no finding"
  else
    echo "fuzz_$t: started $start, exit $rc, $runs runs: FINDING $dir/findings/$t/$finding (see $dir/$t.log)"
    status=1
  fi
done
exit $status
