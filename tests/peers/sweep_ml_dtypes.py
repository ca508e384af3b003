#!/usr/bin/env python3
"""Every one of the 2^32 float32 inputs through ml_dtypes / numpy and floatscope.

    .venv/bin/python tests/peers/sweep_ml_dtypes.py --type all
    .venv/bin/python tests/peers/sweep_ml_dtypes.py --type float8_e4m3fn,float16 --chunks 0:16

For each type (ml_dtypes' name or floatscope's; `all` = every ml_dtypes type
floatscope names plus numpy's float16) it converts all float32 bit patterns
in chunks of 2^24 with the peer (ndarray.astype) and with floatscope
(compat='ml_dtypes' for ml_dtypes types, defaults for numpy float16) and
compares the codes: bit for bit, except numpy float16 NaNs, which compare
by NaN-ness and sign (f32_peer_cases.py says why). Progress with ETA goes
to stderr; stdout gets per type the mismatch count with examples, then
"N passed, N failed" counting types. --report FILE writes JSON with the
counts and every run of consecutive mismatching inputs (capped), which is
what docs/PEERS.md's analysis is built from. The library comes from
FLOATSCOPE_CAPI (see python/floatscope).
"""
from __future__ import annotations

import argparse
import json
import pathlib
import platform
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import f32_peer_cases as cases  # noqa: E402

CHUNK_LOG2 = 24
N_CHUNKS = 1 << (32 - CHUNK_LOG2)
MAX_RUNS = 20000


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--type", required=True,
                   help="all, or comma-separated names (ml_dtypes or floatscope): "
                        + ", ".join(t.peer for t in cases.ALL))
    p.add_argument("--chunks", default=f"0:{N_CHUNKS}",
                   help=f"START:STOP chunk range of 2^{CHUNK_LOG2} inputs (default all {N_CHUNKS})")
    p.add_argument("--report", help="write counts and mismatch runs as JSON to this file")
    p.add_argument("--show", type=int, default=8, help="mismatches printed per type")
    args = p.parse_args(argv)
    if args.type == "all":
        types = list(cases.ALL)
    else:
        types = []
        for name in args.type.split(","):
            try:
                types.append(cases.by_name(name.strip()))
            except KeyError:
                p.error(f"unknown type '{name}' (known: all, "
                        + ", ".join(t.peer for t in cases.ALL) + ")")
    missing = [t.peer for t in types if cases.peer_dtype(t) is None]
    if missing:
        p.error("this ml_dtypes has no " + ", ".join(missing) + "; name the types explicitly")
    try:
        start, stop = (int(v) for v in args.chunks.split(":"))
    except ValueError:
        p.error(f"--chunks must be START:STOP, got '{args.chunks}'")
    if not 0 <= start < stop <= N_CHUNKS:
        p.error(f"--chunks needs 0 <= START < STOP <= {N_CHUNKS}, got '{args.chunks}'")
    return args, types, start, stop


def runs_of(bits: np.ndarray):
    """Consecutive integers in a sorted array as [first, last] pairs."""
    if bits.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(bits.astype(np.int64)) != 1)
    firsts = np.concatenate(([bits[0]], bits[breaks + 1]))
    lasts = np.concatenate((bits[breaks], [bits[-1]]))
    return [[int(a), int(b)] for a, b in zip(firsts, lasts)]


def main(argv=None) -> int:
    args, types, start, stop = parse_args(argv)
    counts = {t.peer: 0 for t in types}
    shown = {t.peer: [] for t in types}
    runs = {t.peer: [] for t in types}
    t0 = time.time()
    total = stop - start
    lead, tail = ("\r", "") if sys.stderr.isatty() else ("", "\n")
    np.seterr(all="ignore")  # numpy warns on NaN/overflow casts; they are the point
    for k, chunk in enumerate(range(start, stop)):
        bits = np.arange(chunk << CHUNK_LOG2, (chunk + 1) << CHUNK_LOG2, dtype=np.uint64).astype(np.uint32)
        for t in types:
            m = cases.compare(t, bits)
            if len(m.inputs):
                counts[t.peer] += len(m.inputs)
                if len(shown[t.peer]) < args.show:
                    shown[t.peer].append(cases.describe(t, m, args.show - len(shown[t.peer])))
                if len(runs[t.peer]) < MAX_RUNS:
                    new = runs_of(m.inputs)
                    # A run may continue across the chunk boundary.
                    if runs[t.peer] and new and runs[t.peer][-1][1] + 1 == new[0][0]:
                        runs[t.peer][-1][1] = new[0][1]
                        new = new[1:]
                    runs[t.peer].extend(new[:MAX_RUNS - len(runs[t.peer])])
        done = k + 1
        elapsed = time.time() - t0
        eta = elapsed / done * (total - done)
        bad = sum(1 for c in counts.values() if c)
        # One line per chunk when logged to a file, one updating line on a terminal.
        print(f"{lead}chunk {done}/{total}  elapsed {elapsed / 60:.1f} min  ETA {eta / 60:.1f} min  "
              f"types with mismatches: {bad}", end=tail, file=sys.stderr, flush=True)
    if tail == "":
        print(file=sys.stderr)
    elapsed = time.time() - t0

    n_inputs = total << CHUNK_LOG2
    passed = failed = 0
    for t in types:
        c = counts[t.peer]
        print(f"{t.peer} ({t.spec}): {c} mismatches of {n_inputs} inputs")
        for block in shown[t.peer]:
            print(block)
        if c:
            failed += 1
        else:
            passed += 1
    import ml_dtypes  # versions for the record
    print(f"numpy {np.__version__}, ml_dtypes {ml_dtypes.__version__}, python "
          f"{platform.python_version()}, {elapsed / 60:.1f} min")
    if args.report:
        report = {
            "chunks": [start, stop], "inputs_per_type": n_inputs, "seconds": round(elapsed, 1),
            "numpy": np.__version__, "ml_dtypes": ml_dtypes.__version__,
            "types": {t.peer: {"spec": t.spec, "mismatches": counts[t.peer],
                               "runs": runs[t.peer],
                               "runs_capped": len(runs[t.peer]) >= MAX_RUNS}
                      for t in types},
        }
        pathlib.Path(args.report).write_text(json.dumps(report, indent=1))
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
