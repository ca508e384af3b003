#!/usr/bin/env bash
# Installs whatever is missing on a Debian 12 machine (Debian packages, a
# Python virtualenv in .venv with the peers numpy and ml_dtypes), caches the
# training lab's data sets in data/cache, then configures and builds
# floatscope in build/. Safe to run again: it only
# installs what is missing and only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(g++ meson ninja-build pkg-config python3 python3-venv
          libboost-dev libeigen3-dev libhwy-dev doctest-dev libcli11-dev libfmt-dev
          nlohmann-json3-dev libbenchmark-dev libmpfr-dev libgmp-dev)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -q >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
fi

# Python peers for the cross-checks; the tests print the versions they ran
# against. ml_dtypes is pinned to the release the peer proofs were made with
# (docs/TESTING.md): 0.7.0 (2026) casts float32 to int4/uint4/int2/uint2 by
# truncating and wrapping (8.0 -> 0, 7.6 -> 7, -2.5 -> -2) and rounds tiny
# float32 values into e8m0fnu differently, which fails 6 peer tests.
# scikit-learn (its bundled 8x8 digits) and mnist1d (the MNIST-1D generator)
# make the training lab's cached data sets (scripts/cache_data.py).
# gfloat (Graphcore) is the peer for the IEEE P3109 family (tests/peers/test_gfloat.py);
# pinned to the release the comparison was made with; it installs without moving
# the pins above.
PY_PACKAGES=(numpy ml_dtypes==0.6.0 matplotlib pytest softfloatpy scikit-learn mnist1d gfloat==0.5.2)
if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv >&2
fi
if ! .venv/bin/python -c "import numpy, ml_dtypes, matplotlib, pytest, softfloatpy, sklearn, mnist1d, gfloat
assert ml_dtypes.__version__ == '0.6.0'" 2>/dev/null; then
  echo "setup: installing ${PY_PACKAGES[*]} into .venv" >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check "${PY_PACKAGES[@]}" >&2
fi

# The training lab's data sets, cached as .npy (train/data.h reads them):
# generated offline, written atomically, only when a file is missing.
DATA_DIR="${FLOATSCOPE_DATA:-data/cache}"
for f in digits_x digits_y mnist1d_train_x mnist1d_train_y mnist1d_test_x mnist1d_test_y; do
  if [[ ! -f "$DATA_DIR/$f.npy" ]]; then
    .venv/bin/python scripts/cache_data.py >&2
    break
  fi
done

if [[ ! -f build/build.ninja ]]; then
  meson setup build --buildtype=release >&2
fi
meson compile -C build >&2
