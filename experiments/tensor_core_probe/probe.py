#!/usr/bin/env python3
"""Probe how the H100's tensor cores round FP16, BF16 and FP8 GEMMs.

Runs on the GPU machine (PyTorch + numpy + ml_dtypes) in one go and writes,
for each configuration, the inputs (as codes) and the hardware's float32
outputs to OUT/tc_<config>.bin.gz, plus OUT/tc_meta.json. Nothing is fitted
here: experiments/tensor_core_probe/tc_fit.cc reads these files on the CPU
and fits and verifies emulate/dot.h's kHardware model against them.

Configurations (every GEMM has float32 output, beta = 0):
  f16, bf16          torch.mm(a, b, out_dtype=torch.float32) (cuBLAS)
  e4m3, e5m2         torch._scaled_mm(a, b, scale 1, scale 1,
                     out_dtype=torch.float32, use_fast_accum=False)
  e4m3_fast, ...     the same with use_fast_accum=True

Each GEMM is C = A @ B with A (M x K) row-major and B (K x N) column-major
(B is stored as B^T, N x K row-major), so every dot product reads two
contiguous rows of codes.

File format (little-endian), a sequence of records:
  uint32[10] magic 0x31504354 ('TCP1'), kind (0 designed, 1 random),
             distribution (random: index into DISTS; designed: 0),
             M, N, K of the GEMM that ran, ms, ns (rows of A and of B^T stored),
             format of A, format of B (FORMAT_IDS: 0 f16, 1 bf16, 2 e4m3fn, 3 e5m2)
  A codes    ms x K, element size 1 (fp8) or 2 (f16/bf16)
  B^T codes  ns x K
  C          designed: ms float32 (the diagonal C[i][i], ms == ns)
             random:   ms x ns float32 (the top-left corner of C)
  tags       designed only: ms x 4 int32 (family, k, position, sign) that
             name the probe, for the fitter's readable summary

Designed probes (kind 0): each row i of A with row i of B^T is one probe;
the GEMM is P x P x K and only its diagonal is kept. Random tiles (kind 1):
the GEMM runs at its full (M, N, K) (so cuBLAS picks the kernel it would
for that shape) and the top-left ms x ns corner is stored; the rows of A
and B^T beyond the stored ones repeat the stored ones.

Usage: python3 probe.py --out DIR [--dry-run]
  --dry-run: no GPU; C is the float64 product rounded to float32, to test
  the generation and the file format on a CPU.
"""
import argparse
import gzip
import json
import os
import platform
import struct
import sys
import time

import numpy as np
import ml_dtypes

MAGIC = 0x31504354

# name: (numpy dtype, code dtype, mantissa bits, min normal exponent, max finite)
FORMATS = {
    "f16": (np.float16, np.uint16, 10, -14, 65504.0),
    "bf16": (ml_dtypes.bfloat16, np.uint16, 7, -126, float(ml_dtypes.finfo(ml_dtypes.bfloat16).max)),
    "e4m3fn": (ml_dtypes.float8_e4m3fn, np.uint8, 3, -6, 448.0),
    "e5m2": (ml_dtypes.float8_e5m2, np.uint8, 2, -14, 57344.0),
}

FORMAT_IDS = {"f16": 0, "bf16": 1, "e4m3fn": 2, "e5m2": 3}

# config: (format of A, format of B, fast_accum or None for torch.mm).
# cuBLASLt has no E5M2 x E5M2 FP8 GEMM, so the E5M2 configurations multiply
# an E5M2 A by an E4M3 B.
CONFIGS = {
    "f16": ("f16", "f16", None),
    "bf16": ("bf16", "bf16", None),
    "e4m3": ("e4m3fn", "e4m3fn", False),
    "e4m3_fast": ("e4m3fn", "e4m3fn", True),
    "e5m2": ("e5m2", "e4m3fn", False),
    "e5m2_fast": ("e5m2", "e4m3fn", True),
}

DISTS = ["normal", "uniform", "wide", "cancel"]

# Random GEMMs: (M, N, K, ms, ns). ms x ns dot products stored of each.
RANDOM_SHAPES = [
    (256, 256, 16, 256, 256),
    (256, 256, 32, 256, 256),
    (192, 320, 48, 192, 320),
    (256, 256, 64, 256, 256),
    (512, 512, 128, 256, 128),
    (512, 512, 256, 128, 128),
    (1024, 1024, 512, 128, 64),
    (1024, 1024, 1024, 64, 64),
    (64, 64, 2048, 64, 64),
    (2048, 2048, 4096, 32, 32),
]

# Probe families (tag[0]).
FAM_PAD, FAM_CUT, FAM_CUT_SIG, FAM_ROUND, FAM_GROUP, FAM_TAIL, FAM_SPARSE = range(7)


def encode(fmt, x):
    """float64 array -> codes (round to nearest even, clipped to +-max)."""
    npdt, codedt, _, _, mx = FORMATS[fmt]
    x = np.clip(np.asarray(x, dtype=np.float64), -mx, mx)
    if fmt == "f16":
        return x.astype(np.float16).view(np.uint16)
    return x.astype(npdt).view(codedt)


def decode(fmt, codes):
    npdt = FORMATS[fmt][0]
    return codes.view(npdt).astype(np.float64)


def exact(fmt, x):
    """Codes of values that must be representable exactly."""
    x = np.asarray(x, dtype=np.float64)
    c = encode(fmt, x)
    back = decode(fmt, c)
    bad = back != x
    if bad.any():
        raise ValueError(f"{fmt}: not representable: {x[bad][:5]}")
    return c


def exp_range(fmt):
    """Lowest and highest exponent of a power of two in the format."""
    _, _, mant, emin, mx = FORMATS[fmt]
    return emin - mant, int(np.floor(np.log2(mx)))


def split(fa, fb, e):
    """Exponents ea, eb of powers of two in formats fa, fb with ea + eb = e,
    as even as the two ranges allow."""
    la, ha = exp_range(fa)
    lb, hb = exp_range(fb)
    for d in sorted(range(lb, hb + 1), key=lambda eb: abs(e - 2 * eb)):
        if la <= e - d <= ha:
            return e - d, d
    raise ValueError(f"{fa} x {fb}: 2^{e} is no product of two powers of two")


# ---------------------------------------------------------------- designed


def probe_params(fa, fb):
    """Base exponent E of the big term B = 2^E and the deepest k of 2^(E-k)."""
    la, ha = exp_range(fa)
    lb, hb = exp_range(fb)
    E = {"e4m3fn": 8, "e5m2": 8, "f16": 8, "bf16": 0}[fa]
    kmax = min(40, E - la - lb)
    assert ha + hb >= E + 2
    return E, kmax


class Probes:
    def __init__(self, fa, fb, K):
        self.fa, self.fb, self.K = fa, fb, K
        self.a, self.b, self.tags = [], [], []

    def add(self, terms, tag):
        """terms: list of (position, a, b) as float64 values; a probe with a
        value the format cannot hold is skipped."""
        va = np.array([x for _, x, _ in terms], dtype=np.float64)
        vb = np.array([y for _, _, y in terms], dtype=np.float64)
        if len(va) and ((decode(self.fa, encode(self.fa, va)) != va).any() or
                        (decode(self.fb, encode(self.fb, vb)) != vb).any()):
            return
        a = np.zeros(self.K)
        b = np.zeros(self.K)
        for pos, x, y in terms:
            assert 0 <= pos < self.K and a[pos] == 0
            a[pos], b[pos] = x, y
        self.a.append(a)
        self.b.append(b)
        self.tags.append(tag)

    def pw(self, e, sa=1.0, sb=1.0, sign=1.0):
        ea, eb = split(self.fa, self.fb, e)
        return sign * sa * 2.0**ea, sb * 2.0**eb


def designed(fa, fb, K, rng):
    E, kmax = probe_params(fa, fb)
    p = Probes(fa, fb, K)
    # CUT: B - B + s*2^(E-k): how many bits below the largest exponent survive,
    # and whether negative terms are cut toward zero or toward -inf.
    if K <= 64:
        for sign in (1, -1):
            for si, s in enumerate((1.0, 1.5, 1.75)):
                for k in range(1, kmax + 1):
                    p.add([(0,) + p.pw(E), (1,) + p.pw(E, sign=-1), (2,) + p.pw(E - k, sa=s, sign=sign)],
                          (FAM_CUT, k, si, sign))
        # CUT_SIG: the big products have significands 2.25 and 3.0625 (leading
        # bit one above their exponent sum): is alignment to the leading bit?
        for sign in (1, -1):
            for si, s in enumerate((1.5, 1.75)):
                for k in range(1, kmax + 1):
                    p.add([(0,) + p.pw(E, s, s), (1,) + p.pw(E, s, s, sign=-1), (2,) + p.pw(E - k, sign=sign)],
                          (FAM_CUT_SIG, k, si, sign))
        # ROUND: B plus terms 24, 25, 26 bits down (how the sum is rounded into fp32).
        for bs in (1, -1):
            for t1 in (0, 1, -1):
                for t2 in (0, 1, -1):
                    for t3 in (0, 1, -1):
                        terms = [(0,) + p.pw(E, sign=bs)]
                        for pos, (t, d) in enumerate(((t1, 24), (t2, 25), (t3, 26)), start=1):
                            if t and E - d >= E - kmax:
                                terms.append((pos,) + p.pw(E - d, sign=t))
                        p.add(terms, (FAM_ROUND, t1 * 9 + t2 * 3 + t3, 0, bs))
    # GROUP: B - B at (q, q+1), one small term at j: where are the group
    # boundaries, and does a previous group's sum take part in the alignment.
    if K in (64, 128):
        for q in (0, 16, 40, 64):
            if q + 1 >= K:
                continue
            for k0 in (kmax - 10, kmax):
                for j in range(max(0, q - 40), min(K, q + 42)):
                    if j in (q, q + 1):
                        continue
                    p.add([(q,) + p.pw(E), (q + 1,) + p.pw(E, sign=-1), (j,) + p.pw(E - k0)],
                          (FAM_GROUP, k0, j, q))
    # TAIL: B at 0, then the same small term at every position from j0 on:
    # promotion into fp32 every N groups shows as the small terms surviving.
    if K >= 64:
        ks = range(2, kmax + 1, 1 if K <= 1024 else 2)
        for sign in (1, -1):
            for j0 in ((1, 16, 32) if K <= 1024 else (1,)):
                for k in ks:
                    terms = [(0,) + p.pw(E)]
                    v = p.pw(E - k, sign=sign)
                    terms += [(j,) + v for j in range(j0, K)]
                    p.add(terms, (FAM_TAIL, k, j0, sign))
    # SPARSE: 2..8 nonzero products at random positions, random exponents
    # over 30 binades (within the format) and random signs and significands.
    mant = min(FORMATS[fa][2], FORMATS[fb][2])
    for _ in range(200):
        n = int(rng.integers(2, 9))
        pos = rng.choice(K, size=n, replace=False)
        top = int(rng.integers(E - 4, E + 2))
        terms = []
        for j in pos:
            e = top - int(rng.integers(0, min(30, kmax)))
            e = max(e, E - kmax)
            ea, eb = split(fa, fb, e)
            sa = 1 + int(rng.integers(0, 2**min(mant, 3))) / 2**min(mant, 3)
            sb = 1 + int(rng.integers(0, 2**min(mant, 3))) / 2**min(mant, 3)
            terms.append((int(j), float(rng.choice((-1, 1))) * sa * 2.0**ea, sb * 2.0**eb))
        p.add(terms, (FAM_SPARSE, n, top, 0))  # skipped if a value is not representable
    # Pad to a multiple of 16 rows with zero probes.
    while len(p.a) % 16:
        p.add([], (FAM_PAD, 0, 0, 0))
    A = exact(fa, np.array(p.a))
    Bt = exact(fb, np.array(p.b))
    return A, Bt, np.array(p.tags, dtype=np.int32)


DESIGNED_K = [16, 32, 64, 128, 256, 1024, 4096]

# ---------------------------------------------------------------- random


def random_values(fmt, dist, rows, K, rng, role):
    """rows x K codes of `fmt`; role "a" or "b" (the cancel distribution
    builds A and B differently)."""
    _, _, _, emin, mx = FORMATS[fmt]
    if dist == "normal":
        x = rng.standard_normal((rows, K))
    elif dist == "uniform":
        x = rng.uniform(-1, 1, (rows, K))
    elif dist == "wide":
        w = {"e4m3fn": 8, "e5m2": 15, "f16": 15, "bf16": 30}[fmt]
        x = rng.choice((-1.0, 1.0), (rows, K)) * rng.uniform(1, 2, (rows, K)) * 2.0 ** rng.uniform(-w, w, (rows, K))
    elif dist == "cancel":
        # The second half of the K axis repeats the first with B negated (exact
        # cancellation in every dot product), except 10% of A's entries there
        # (replaced by wide-range values).
        x = rng.standard_normal((rows, K))
        h = K // 2
        if role == "a":
            x[:, h:2 * h] = x[:, :h]
            repl = rng.random((rows, h)) < 0.1
            wide = rng.choice((-1.0, 1.0), (rows, h)) * 2.0 ** rng.uniform(-12, 4, (rows, h))
            x[:, h:2 * h][repl] = wide[repl]
        else:
            x[:, h:2 * h] = -x[:, :h]
    else:
        raise ValueError(dist)
    return encode(fmt, x)


# ---------------------------------------------------------------- GEMM


class Runner:
    def __init__(self, dry):
        self.dry = dry
        self.kernels = []
        if not dry:
            import torch
            self.torch = torch
            torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = False
            torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False
            self.one = torch.ones((), dtype=torch.float32, device="cuda")
        self.repeat_mismatch = 0

    def gemm(self, fa, fb, fast, A, Bt, M, N):
        """A: ms x K codes, Bt: ns x K codes; GEMM of M x N x K (rows repeated)."""
        ms, K = A.shape
        ns = Bt.shape[0]
        if self.dry:
            a = decode(fa, A)
            b = decode(fb, Bt)
            return (a @ b.T).astype(np.float32)
        torch = self.torch
        tdt = {"f16": torch.float16, "bf16": torch.bfloat16, "e4m3fn": torch.float8_e4m3fn,
               "e5m2": torch.float8_e5m2}
        ca = torch.from_numpy(A.view(np.int8 if A.dtype == np.uint8 else np.int16).copy()).cuda()
        cb = torch.from_numpy(Bt.view(np.int8 if Bt.dtype == np.uint8 else np.int16).copy()).cuda()
        ta = ca.repeat((M + ms - 1) // ms, 1)[:M].contiguous().view(tdt[fa])
        tb = cb.repeat((N + ns - 1) // ns, 1)[:N].contiguous().view(tdt[fb])
        label = f"gemm|{fa}|{fb}|{fast}|{M}x{N}x{K}"

        def run():
            if fast is None:
                try:
                    return torch.mm(ta, tb.t(), out_dtype=torch.float32)
                except TypeError:
                    return torch.mm(ta, tb.t(), torch.float32)
            return torch._scaled_mm(ta, tb.t(), self.one, self.one, out_dtype=torch.float32,
                                    use_fast_accum=fast)

        with torch.profiler.record_function(label):
            c1 = run()
        c2 = run()
        torch.cuda.synchronize()
        if not torch.equal(c1.view(torch.int32), c2.view(torch.int32)):
            self.repeat_mismatch += 1
        return c1[:ms, :ns].cpu().numpy()


def header(kind, dist, M, N, K, ms, ns, fa, fb):
    return struct.pack("<10I", MAGIC, kind, dist, M, N, K, ms, ns, FORMAT_IDS[fa], FORMAT_IDS[fb])


def run_config(cfg, runner, args):
    fa, fb, fast = CONFIGS[cfg]
    rng = np.random.default_rng(sum(map(ord, fa + fb)) * 7919)  # fast and not: same inputs
    out = bytearray()
    counts = {"designed": 0, "random": 0, "designed_products": 0, "random_products": 0}
    for K in DESIGNED_K:
        A, Bt, tags = designed(fa, fb, K, rng)
        P = A.shape[0]
        C = runner.gemm(fa, fb, fast, A, Bt, P, P)
        out += header(0, 0, P, P, K, P, P, fa, fb) + A.tobytes() + Bt.tobytes()
        out += np.ascontiguousarray(np.diagonal(C)).astype("<f4").tobytes() + tags.astype("<i4").tobytes()
        counts["designed"] += P
        counts["designed_products"] += P * K
    for di, dist in enumerate(DISTS):
        for (M, N, K, ms, ns) in RANDOM_SHAPES:
            ms_ = max(16, int(ms * args.scale)) if args.scale != 1.0 else ms
            ns_ = max(16, int(ns * args.scale)) if args.scale != 1.0 else ns
            A = random_values(fa, dist, ms_, K, rng, "a")
            Bt = random_values(fb, dist, ns_, K, rng, "b")
            C = runner.gemm(fa, fb, fast, A, Bt, M, N)
            out += header(1, di, M, N, K, ms_, ns_, fa, fb) + A.tobytes() + Bt.tobytes()
            out += np.ascontiguousarray(C).astype("<f4").tobytes()
            counts["random"] += ms_ * ns_
            counts["random_products"] += ms_ * ns_ * K
    path = os.path.join(args.out, f"tc_{cfg}.bin.gz")
    with gzip.open(path, "wb", compresslevel=6) as f:
        f.write(bytes(out))
    counts["raw_bytes"] = len(out)
    counts["gz_bytes"] = os.path.getsize(path)
    return {"format_a": fa, "format_b": fb, "fast_accum": fast, **counts}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of random shapes' stored rows (tests)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    runner = Runner(args.dry_run)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "host": platform.node(),
            "dry_run": args.dry_run, "configs": {}, "dists": DISTS}
    if not args.dry_run:
        torch = runner.torch
        meta["torch"] = torch.__version__
        meta["cuda"] = torch.version.cuda
        meta["device"] = torch.cuda.get_device_name(0)
        meta["capability"] = list(torch.cuda.get_device_capability(0))
        try:
            meta["cublaslt"] = torch.backends.cuda.preferred_blas_library().name
        except Exception as e:  # noqa: BLE001 (informational only)
            meta["cublaslt"] = repr(e)
    profiler = None
    if not args.dry_run:
        try:
            from torch.profiler import profile, ProfilerActivity
            profiler = profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA])
            profiler.__enter__()
        except Exception as e:  # noqa: BLE001
            meta["profiler_error"] = repr(e)
            profiler = None
    t_start = time.time()
    for cfg in args.configs.split(","):
        try:
            meta["configs"][cfg] = run_config(cfg, runner, args)
        except Exception:  # noqa: BLE001 (one failing configuration must not lose the others)
            import traceback
            meta["configs"][cfg] = {"error": traceback.format_exc()}
            print(f"{cfg}: FAILED\n{meta['configs'][cfg]['error']}", flush=True)
        print(f"{cfg}: {meta['configs'][cfg]} ({time.time() - t_start:.1f} s)", flush=True)
    if profiler is not None:
        try:
            profiler.__exit__(None, None, None)
            names = {}

            def kernels_of(ev, acc):
                for k in getattr(ev, "kernels", []) or []:
                    acc.add(getattr(k, "name", str(k)))
                for ch in ev.cpu_children:
                    if ch.device_type.name == "CUDA":
                        acc.add(ch.name)
                    kernels_of(ch, acc)
                return acc

            for ev in profiler.events():
                if ev.name.startswith("gemm|"):
                    ks = sorted(kernels_of(ev, set()))
                    names.setdefault(ev.name, ks)
            meta["kernels"] = names
        except Exception as e:  # noqa: BLE001
            meta["profiler_error"] = repr(e)
    meta["repeat_mismatch_gemms"] = runner.repeat_mismatch
    meta["seconds"] = time.time() - t_start
    with open(os.path.join(args.out, "tc_meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps({k: v for k, v in meta.items() if k != "kernels"}, indent=1))
    print("kernels:", json.dumps(meta.get("kernels", {}), indent=1))


if __name__ == "__main__":
    sys.exit(main())
