"""All 2^32 float32 inputs into IEEE P3109 family members, floatscope against
gfloat (on demand; the CI test is test_gfloat.py, gfloat_cases.py says what
is compared and what is left out):

    FLOATSCOPE_CAPI=build/tests/peers/libfloatscope_capi.so \\
      .venv/bin/python tests/peers/sweep_gfloat.py --format binary8p1se,binary8p3ue --round rne [--sat both]

Prints per (member, mode, sat) the inputs compared, the inputs left out
(negative inputs into unsigned members) and the mismatches with the first
few, then "N passed, N failed".
"""
import argparse
import sys
import time

import numpy as np

import gfloat_cases as cases


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--format", required=True, help="member names, comma separated")
    ap.add_argument("--round", default="rne", help="rne,rna,rtz,rdn,rup or all")
    ap.add_argument("--sat", default="false", choices=["false", "true", "both"])
    ap.add_argument("--chunk-bits", type=int, default=22)
    a = ap.parse_args()
    if cases.gfloat is None:
        print("sweep_gfloat: gfloat is not installed (pip install gfloat)", file=sys.stderr)
        return 2
    by_name = {m.name: m for m in cases.FAMILY}
    members = []
    for n in a.format.split(","):
        if n not in by_name:
            print(f"sweep_gfloat: '{n}' is not a P3109 family member floatscope holds", file=sys.stderr)
            return 2
        members.append(by_name[n])
    modes = list(cases.MODES) if a.round == "all" else a.round.split(",")
    for mode in modes:
        if mode not in cases.MODES:
            print(f"sweep_gfloat: unknown mode '{mode}' (rne rna rtz rdn rup, or all)", file=sys.stderr)
            return 2
    sats = {"false": [False], "true": [True], "both": [False, True]}[a.sat]
    print(f"gfloat {cases.version()}")
    passed = failed = 0
    step = 1 << a.chunk_bits
    for m in members:
        for mode in modes:
            for sat in sats:
                t0 = time.time()
                compared = left_out = bad = 0
                first = []
                for start in range(0, 1 << 32, step):
                    x = np.arange(start, start + step, dtype=np.uint64).astype(np.uint32).view(np.float32)
                    use = cases.comparable(m, x)
                    left_out += int(x.size - use.sum())
                    x = x[use]
                    peer, ours = cases.round_both(m, x, mode, sat)
                    diff = np.flatnonzero(peer != ours)
                    compared += x.size
                    bad += diff.size
                    for i in diff[:max(0, 5 - len(first))]:
                        first.append(f"f32 0x{int(x.view(np.uint32)[i]):08x}: gfloat 0x{int(peer[i]):x} "
                                     f"floatscope 0x{int(ours[i]):x}")
                print(f"{m.name} {mode} sat={sat}: {compared} inputs ({left_out} left out), "
                      f"mismatches: {bad}, {time.time() - t0:.0f} s", flush=True)
                for f in first:
                    print("  " + f)
                if bad:
                    failed += 1
                else:
                    passed += 1
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
