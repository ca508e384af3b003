#!/usr/bin/env python3
"""Cut a small sample out of the probe's full data, for the CI test.

  python3 make_sample.py IN.bin OUT.bin [--sparse-1024]

IN.bin is a gunzipped tc_<config>.bin from probe.py; OUT.bin has the same
record format (see probe.py) and holds real hardware outputs only:
  - designed probes: every third one with K <= 32, every fifth at K = 64,
    every sixteenth at K = 128 and 256, and 12 tail probes at K = 1024
    (promotion); with --sparse-1024 also every sparse probe at K = 1024 (for
    FP8 without fast accumulation: the few dot products where the rounding
    of the float32 promotion shows are among them);
  - from every random GEMM with K <= 1024, the top-left 6 x 6 dot products
    (4 x 4 for K >= 512).
With --pick K:DIST:ROW:COL (repeatable) also that dot product of the random
GEMM with that K and distribution, as a 1 x 1 record (a rare case the
corners miss, e.g. the few products whose rounding pins a model detail).
Designed GEMMs with K = 4096 are left out (cuBLAS ran the f16/bf16 one as
split-K).
"""
import struct
import sys

import numpy as np

MAGIC = 0x31504354
FAM_PAD, FAM_GROUP, FAM_TAIL, FAM_SPARSE = 0, 4, 5, 6


def size_of(fmt_id):
    return 2 if fmt_id in (0, 1) else 1


def records(data):
    off = 0
    while off < len(data):
        h = struct.unpack_from("<10I", data, off)
        off += 40
        magic, kind, dist, M, N, K, ms, ns, fa, fb = h
        if magic != MAGIC:
            raise ValueError(f"bad magic at {off - 40}")
        da = np.uint16 if size_of(fa) == 2 else np.uint8
        db = np.uint16 if size_of(fb) == 2 else np.uint8
        A = np.frombuffer(data, da, ms * K, off).reshape(ms, K)
        off += ms * K * size_of(fa)
        B = np.frombuffer(data, db, ns * K, off).reshape(ns, K)
        off += ns * K * size_of(fb)
        nc = ms if kind == 0 else ms * ns
        C = np.frombuffer(data, "<u4", nc, off)
        off += 4 * nc
        T = None
        if kind == 0:
            T = np.frombuffer(data, "<i4", ms * 4, off).reshape(ms, 4)
            off += ms * 16
        yield h, A, B, C, T


def main():
    src, dst = sys.argv[1], sys.argv[2]
    sparse_1024 = "--sparse-1024" in sys.argv[3:]
    picks = [tuple(int(x) for x in sys.argv[i + 1].split(":")) for i in range(3, len(sys.argv) - 1)
             if sys.argv[i] == "--pick"]
    data = open(src, "rb").read()
    out = bytearray()
    dots = 0
    for h, A, B, C, T in records(data):
        magic, kind, dist, M, N, K, ms, ns, fa, fb = h
        if kind == 0:
            if K > 1024:
                continue
            fam = T[:, 0]
            idx = np.arange(ms)
            if K <= 32:
                keep = np.nonzero((fam != FAM_PAD) & (idx % 3 == 0))[0]
            elif K <= 256:
                keep = np.nonzero((fam != FAM_PAD) & (idx % (5 if K == 64 else 16) == 0))[0]
            else:
                keep = np.nonzero(fam == FAM_TAIL)[0][::12][:12]
                if sparse_1024:
                    keep = np.concatenate([keep, np.nonzero(fam == FAM_SPARSE)[0]])
            if len(keep) == 0:
                continue
            n = len(keep)
            out += struct.pack("<10I", magic, kind, dist, M, N, K, n, n, fa, fb)
            out += A[keep].tobytes() + B[keep].tobytes() + C[keep].astype("<u4").tobytes() + T[keep].astype("<i4").tobytes()
            dots += n
        else:
            if K > 1024:
                continue
            for pk, pdist, row, col in picks:
                if pk == K and pdist == dist:
                    out += struct.pack("<10I", magic, kind, dist, M, N, K, 1, 1, fa, fb)
                    out += A[row].tobytes() + B[col].tobytes() + np.uint32(C.reshape(ms, ns)[row, col]).astype("<u4").tobytes()
                    dots += 1
            t = 4 if K >= 512 else 6
            Cm = C.reshape(ms, ns)[:t, :t]
            out += struct.pack("<10I", magic, kind, dist, M, N, K, t, t, fa, fb)
            out += A[:t].tobytes() + B[:t].tobytes() + np.ascontiguousarray(Cm).astype("<u4").tobytes()
            dots += t * t
    with open(dst, "wb") as f:
        f.write(bytes(out))
    print(f"{dst}: {dots} dot products, {len(out)} bytes")


if __name__ == "__main__":
    main()
