# Sourced by the device-call scripts (cuda/device_run_check.sh,
# cuda/device_run_scaled.sh): $OUT and $DEV, the budget (first argument,
# seconds) with at/left, the gzipped binaries of $DEV/bin unpacked into $B,
# the libraries of $DEV/lib on the path, and $OUT/device.txt (GPU, CPU,
# date, commit).
OUT=${OUT:-out}
DEV=${DEV:-build/dev}
mkdir -p "$OUT"
budget=${1:-560}
start=$(date +%s)
at() { echo "$(( $(date +%s) - start ))"; }
left() { echo $(( budget - ($(date +%s) - start) )); }
B=/tmp/fsbin
mkdir -p "$B"
# .gz or .xz (xz -9 is a third smaller: a bundle must fit the 64 MiB carry
# limit with the working tree; unpacked by python's lzma, which the device has).
for f in "$DEV"/bin/*.gz "$DEV"/bin/*.xz; do
  [[ -e "$f" ]] || continue
  name=$(basename "${f%.*}")
  case "$f" in
    *.gz) gunzip -c "$f" > "$B/$name" ;;
    *.xz) python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$f" > "$B/$name" ;;
  esac
  chmod +x "$B/$name"
done
export LD_LIBRARY_PATH="$PWD/$DEV/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  echo "cpus: $(nproc)"; grep -m1 "model name" /proc/cpuinfo
  date -u
  git log -1 --format='commit %H' 2>/dev/null
} > "$OUT/device.txt" 2>&1

# verify RESERVE ARGS...: one gpu-verify call within the budget left less
# RESERVE seconds.
verify() {
  local reserve=$1
  shift
  local l
  l=$(( $(left) - reserve ))
  (( l > 15 )) || { echo "budget spent before: $*" >> "$OUT/verify.log"; return; }
  echo "== gpu-verify $* (at $(at) s, at most $(( l - 3 )) s)" >> "$OUT/verify.log"
  timeout $(( l - 3 )) "$B/floatscope" gpu-verify --exhaustive --threads "$(nproc)" --reference core --unaligned \
    "$@" 2>&1 | grep --line-buffered -v '^\[[0-9]*/[0-9]*\] elapsed' | grep --line-buffered -v '^device:' >> "$OUT/verify.log"
}

# simd_sr_stage N: with what is left of the budget, exhaustive_simd (the
# Highway kernels against the core, all 2^32 float32 inputs, every target
# the host CPU has) for sr and sr-eq of the formats in $SIMD_FORMATS.
simd_sr_stage() {
  local l
  l=$(( $(left) - 5 ))
  echo "== $1. exhaustive_simd sr, sr-eq: ${SIMD_FORMATS:-none}, at most $l s (at $(at) s)" | tee "$OUT/simd_sr.log"
  if [[ -n "${SIMD_FORMATS:-}" ]] && (( l > 30 )); then
    timeout "$l" "$B/exhaustive_simd" --format "$SIMD_FORMATS" --round sr,sr-eq --target all --threads "$(nproc)" \
      --seed 1 --json "$OUT/simd_sr.json" 2>&1 | grep -v '^\[' >> "$OUT/simd_sr.log"
  fi
  grep -E "s for|passed" "$OUT/simd_sr.log" | tail -40
}

# gpu_bench_runs REPS [PATTERN]: gpu_bench of this tree and, when the bundle
# has it, $B/gpu_bench_base (a baseline build), alternating, REPS times, so
# that their ratios compare within one call; logs $OUT/<binary>_<rep>.log,
# then the rows matching PATTERN (default: copy, per-tensor scaled, sr).
gpu_bench_runs() {
  local rep b
  for rep in $(seq 1 "$1"); do
    for b in gpu_bench gpu_bench_base; do
      [[ -x "$B/$b" ]] || continue
      timeout 90 "$B/$b" --gemm 0 --reps 10 > "$OUT/${b}_$rep.log" 2>&1
      echo "exit $?" >> "$OUT/${b}_$rep.log"
    done
  done
  for b in gpu_bench gpu_bench_base; do
    [[ -x "$B/$b" ]] || continue
    echo "-- $b"
    grep -hE "${2:-copy \(|per-tensor scaled  |(fake-quant|encode) +[a-z0-9]+ +sr|exit}" "$OUT/${b}"_*.log | head -60
  done
}
