#!/usr/bin/env bash
# Packs binaries of a local build for a device call (cuda/device_setup.sh
# unpacks them there): each one stripped and xz-compressed into $DEV/bin
# (a third smaller than gzip; the carry limit of 64 MiB counts the working
# tree too, about 16 MB), and the shared libraries the device lacks
# (Highway, fmt, GMP, MPFR: Debian ships them only as .so) into $DEV/lib.
#   cuda/make_bundle.sh DEV BUILD_DIR PATH_IN_BUILD[=NAME] ...
# e.g. cuda/make_bundle.sh build/devs build cli/floatscope bench/gpu_bench \
#        ../base/buildb/bench/gpu_bench=gpu_bench_base
set -euo pipefail
dev=$1 build=$2
shift 2
mkdir -p "$dev/bin" "$dev/lib"
for spec in "$@"; do
  path=${spec%%=*}
  name=$(basename "$path")
  [[ "$spec" == *=* ]] && name=${spec#*=}
  tmp=$(mktemp)
  strip -o "$tmp" "$build/$path"
  xz -9 -T2 -c "$tmp" > "$dev/bin/$name.xz.tmp" && mv "$dev/bin/$name.xz.tmp" "$dev/bin/$name.xz"
  rm -f "$tmp"
  echo "$name: $(stat -c %s "$dev/bin/$name.xz") bytes"
done
for lib in libhwy.so.1 libfmt.so.9 libgmp.so.10 libmpfr.so.6; do
  src=$(ldconfig -p | awk -v l="$lib" '$1 == l {print $NF; exit}') || true  # awk exits early: SIGPIPE
  [[ -n "$src" ]] && cp -L "$src" "$dev/lib/$lib"
done
du -sh "$dev"
