#!/usr/bin/env python3
"""Writes the training lab's cached data sets as .npy files (train/data.h reads them).

    .venv/bin/python scripts/cache_data.py [--out DIR] [--force]

DIR is --out, else $FLOATSCOPE_DATA, else <source root>/data/cache. Files:

  digits_x.npy          float32 (1797, 64): scikit-learn's bundled load_digits, pixels / 16, in [0, 1]
  digits_y.npy          uint8   (1797,):    labels 0..9
  mnist1d_train_x.npy   float32 (4000, 40): MNIST-1D, the mnist1d package's make_dataset with its
  mnist1d_train_y.npy   uint8   (4000,)     default arguments (seed 42; generated offline, nothing
  mnist1d_test_x.npy    float32 (1000, 40)  downloaded); x standardised over the whole set, as the
  mnist1d_test_y.npy    uint8   (1000,)     recipe does, and cast to float32

Labels are uint8 ('|u1') because that is the integer dtype the project's .npy
reader (emulate/npy.h) parses. Every file is written atomically: a temporary
file in DIR, renamed over the target once complete. Existing files are kept
unless --force.
"""
import argparse
import os
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def save_atomic(path, array):
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, array, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def labels_u8(y):
    y = np.asarray(y)
    if y.min() < 0 or y.max() > 255:
        raise SystemExit("cache_data: labels outside 0..255")
    return y.astype(np.uint8)


def digits():
    import sklearn
    from sklearn.datasets import load_digits

    d = load_digits()  # bundled with scikit-learn: no download
    x = (np.asarray(d.data, dtype=np.float64) / 16.0).astype(np.float32)
    y = labels_u8(d.target)
    assert x.shape == (1797, 64) and y.shape == (1797,), (x.shape, y.shape)
    assert x.min() >= 0.0 and x.max() <= 1.0
    return {"digits_x.npy": x, "digits_y.npy": y}, "scikit-learn " + sklearn.__version__


def mnist1d():
    from importlib.metadata import version

    from mnist1d.data import get_dataset_args, make_dataset

    # make_dataset generates from the templates with a fixed seed; unlike
    # get_dataset it never touches the network or writes a pickle.
    args = get_dataset_args()
    d = make_dataset(args)
    out = {
        "mnist1d_train_x.npy": np.ascontiguousarray(d["x"], dtype=np.float32),
        "mnist1d_train_y.npy": labels_u8(d["y"]),
        "mnist1d_test_x.npy": np.ascontiguousarray(d["x_test"], dtype=np.float32),
        "mnist1d_test_y.npy": labels_u8(d["y_test"]),
    }
    assert out["mnist1d_train_x.npy"].shape == (4000, 40), out["mnist1d_train_x.npy"].shape
    assert out["mnist1d_test_x.npy"].shape == (1000, 40), out["mnist1d_test_x.npy"].shape
    return out, "mnist1d " + version("mnist1d")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", help="output folder (default: $FLOATSCOPE_DATA, else data/cache)")
    p.add_argument("--force", action="store_true", help="rewrite files that exist")
    a = p.parse_args()
    out = a.out or os.environ.get("FLOATSCOPE_DATA") or os.path.join(ROOT, "data", "cache")
    os.makedirs(out, exist_ok=True)
    for make in (digits, mnist1d):
        files, source = None, None
        names = {"digits": ["digits_x.npy", "digits_y.npy"],
                 "mnist1d": ["mnist1d_train_x.npy", "mnist1d_train_y.npy",
                             "mnist1d_test_x.npy", "mnist1d_test_y.npy"]}[make.__name__]
        if not a.force and all(os.path.isfile(os.path.join(out, n)) for n in names):
            print(f"cache_data: {make.__name__}: cached in {out}", file=sys.stderr)
            continue
        files, source = make()
        for name, array in files.items():
            save_atomic(os.path.join(out, name), array)
        print(f"cache_data: {make.__name__}: wrote {', '.join(files)} to {out} ({source})", file=sys.stderr)


if __name__ == "__main__":
    main()
