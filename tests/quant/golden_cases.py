"""The inputs and option sets of the quantize golden test (test_quant_golden.py).

The golden file tests/quant/golden/quantize.json holds, for every case here,
the SHA-256 of each file `floatscope quantize` wrote and its --json report,
as the floatscope before the streaming rewrite of issue 17 (part 4) gave
them (make_golden.py). The rewrite must give the same bits. The reports'
hashes were retaken once since, on 2026-12-06, when the statistics' sums
took a new fixed order (four interleaved lanes, so that they vectorize):
`make_golden.py --sums-reordered` checked that the files were unchanged
and the reports differed in rmse and sqnr_db only, by rounding.

Inputs are built from a counter hash (splitmix64) with numpy integer
arithmetic only, so they are the same on every numpy version and machine:
nothing is stored but this file.

Stochastic rounding is not in the golden file: its random-number rule is
changing in emulate/simd/ (DESIGN.md, the December Philox rule), so sr and
sr-eq are compared against the scalar core instead (quant_test.cc,
"the array pipeline gives the legacy core path's bits").
"""
import concurrent.futures
import hashlib
import json
import os
import subprocess
import tempfile

import numpy as np

SHAPE = (6, 75, 4)  # axis 1: blocks of 32 -> 32, 32, 11; of 16 -> 4 x 16 + 11


def mix(n, salt):
    """splitmix64 of counters 0..n-1 (salt picks the stream)."""
    with np.errstate(over="ignore"):
        z = np.arange(n, dtype=np.uint64) + np.uint64(salt) * np.uint64(0x9E3779B97F4A7C15)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def values(n, salt, emin, emax):
    """sign * (1 + m / 2^52) * 2^e, e uniform in [emin, emax], as float64
    (exact: 52 random mantissa bits)."""
    z = mix(n, salt)
    w = mix(n, salt + 1000)
    e = (emin + (z % np.uint64(emax - emin + 1)).astype(np.int64)).astype(np.int64)
    m = 1.0 + (w >> np.uint64(12)).astype(np.float64) / 2.0**52
    s = np.where((z >> np.uint64(63)) != 0, -1.0, 1.0)
    return s * np.ldexp(m, e)


def f32(v):
    return v.astype(np.float32)


def make_inputs():
    n = int(np.prod(SHAPE))
    x = {}
    x["normal32"] = f32(values(n, 1, -6, 5)).reshape(SHAPE)
    wide = f32(values(n, 2, -149, 127))
    wide[::7] = 0
    x["wide32"] = wide.reshape(SHAPE)
    sp = f32(values(n, 3, -5, 4)).reshape(SHAPE)
    sp[0, 5, 0] = np.nan
    sp[1, 40, 3] = np.inf
    sp[4, 70, 0] = -np.inf
    sp[5, 1, 1] = np.finfo(np.float32).max
    sp[2, 32:64, 1] = 0  # one whole MX block of zeros along axis 1
    sp[3, :, 2] = f32(values(SHAPE[1], 4, -149, -127))  # float32 subnormals (and the smallest normal)
    sp[0, 10:20, 3] = -0.0
    sp[5, 60:75, 2] = np.nan  # a tail block of NaNs
    x["special32"] = sp
    # Exact ties: multiples of 2^-4 up to 448 (e4m3fn's max), with 448 present
    # so that power-of-two scales keep the grid.
    k = (mix(n, 5) % np.uint64(2 * 7168 + 1)).astype(np.int64) - 7168
    grid = f32(k.astype(np.float64) / 16.0)
    grid[0] = 448.0
    x["grid32"] = grid.reshape(SHAPE)
    # Float64 inputs: not float32 values, and beyond float32's range.
    jitter = 1.0 + (mix(n, 6) % np.uint64(1 << 20)).astype(np.float64) * 2.0**-40
    x["normal64"] = (x["normal32"].astype(np.float64).ravel() * jitter).reshape(SHAPE)
    x["wide64"] = values(n, 7, -170, 150).reshape(SHAPE)
    far = values(n, 8, -1074, 1020)
    far[::11] = 0
    x["far64"] = far.reshape(SHAPE)
    # More than one 65536-element chunk, for the thread-count cases.
    x["big32"] = f32(values(3 * 70001, 9, -8, 8)).reshape(3, 70001)
    return x


DET_MODES = ["rne", "rna", "rtz", "rdn", "rup", "rto"]

# (name, options). Every one runs on every small input with rne, and on the
# inputs in FULL_MODE_INPUTS with every deterministic rounding mode.
CONFIGS = [
    # FP8 scaling, float formats
    ("tensor-e4m3fn", ["--format", "e4m3fn"]),
    ("tensor-e5m2", ["--format", "e5m2"]),
    ("tensor-f16", ["--format", "f16"]),
    ("tensor-bf16", ["--format", "bf16"]),
    ("tensor-e2m1fn", ["--format", "e2m1fn"]),
    ("tensor-e3m2fn", ["--format", "e3m2fn"]),
    ("tensor-e2m3fn", ["--format", "e2m3fn"]),
    ("tensor-e4m3", ["--format", "e4m3"]),
    ("tensor-e4m3fnuz", ["--format", "e4m3fnuz"]),
    ("tensor-e5m2fnuz", ["--format", "e5m2fnuz"]),
    ("tensor-e4m3b11fnuz", ["--format", "e4m3b11fnuz"]),
    ("tensor-e3m4", ["--format", "e3m4"]),
    ("tensor-binary8p1", ["--format", "binary8p1"]),
    ("tensor-binary8p4", ["--format", "binary8p4"]),
    ("tensor-e5m6", ["--format", "e5m6"]),
    ("tensor-nosub", ["--format", "e4m3:bias=9,inf=no,nan=ones,subnormals=no"]),
    ("tensor-e8m0fnu", ["--format", "e8m0fnu"]),
    ("tensor-e4m3fn-pow2", ["--format", "e4m3fn", "--pow2-scale"]),
    ("tensor-e4m3fn-margin2", ["--format", "e4m3fn", "--margin", "2"]),
    ("tensor-e5m2-margin-3-pow2", ["--format", "e5m2", "--margin", "-3", "--pow2-scale"]),
    ("tensor-e4m3fn-pct", ["--format", "e4m3fn", "--calib", "percentile:99"]),
    ("channel-e4m3fn-1", ["--format", "e4m3fn", "--scheme", "channel", "--axis", "1"]),
    ("channel-e5m2-0-pow2", ["--format", "e5m2", "--scheme", "channel", "--axis", "0", "--pow2-scale"]),
    ("channel-bf16-last", ["--format", "bf16", "--scheme", "channel"]),
    ("channel-e4m3fn-mse", ["--format", "e4m3fn", "--scheme", "channel", "--axis", "1", "--calib", "mse"]),
    ("group-e4m3fn-8", ["--format", "e4m3fn", "--scheme", "group", "--axis", "1", "--group", "8"]),
    ("group-f16-3-pow2", ["--format", "f16", "--scheme", "group", "--axis", "1", "--group", "3", "--pow2-scale"]),
    ("delayed-e4m3fn-h3", ["--format", "e4m3fn", "--scheme", "delayed", "--history", "3"]),
    ("delayed-e5m2-recent-pow2", ["--format", "e5m2", "--scheme", "delayed", "--amax-reduce", "most-recent",
                                  "--pow2-scale"]),
    ("delayed-e4m3fn-margin1", ["--format", "e4m3fn", "--scheme", "delayed", "--margin", "1"]),
    # integers
    ("tensor-int8", ["--format", "int8"]),
    ("tensor-uint8", ["--format", "uint8"]),
    ("tensor-int4", ["--format", "int4"]),
    ("tensor-uint4-asym", ["--format", "uint4", "--asymmetric"]),
    ("tensor-int16", ["--format", "int16"]),
    ("tensor-int8-pct", ["--format", "int8", "--calib", "percentile:99.9"]),
    ("tensor-uint8-asym-mse", ["--format", "uint8", "--asymmetric", "--calib", "mse"]),
    ("channel-int8-1", ["--format", "int8", "--scheme", "channel", "--axis", "1"]),
    ("channel-uint8-asym-0", ["--format", "uint8", "--scheme", "channel", "--axis", "0", "--asymmetric"]),
    ("channel-int4-mse", ["--format", "int4", "--scheme", "channel", "--axis", "1", "--calib", "mse"]),
    ("group-int4-16-asym", ["--format", "int4", "--scheme", "group", "--axis", "1", "--group", "16",
                            "--asymmetric"]),
    ("group-int8-5", ["--format", "int8", "--scheme", "group", "--axis", "1", "--group", "5"]),
    ("group-uint8-asym-pct", ["--format", "uint8", "--scheme", "group", "--axis", "-1", "--group", "2",
                              "--asymmetric", "--calib", "percentile:75"]),
    # OCP MX
    ("mx-e4m3fn-1", ["--format", "e4m3fn", "--scheme", "mx", "--axis", "1"]),
    ("mx-e5m2-1", ["--format", "e5m2", "--scheme", "mx", "--axis", "1"]),
    ("mx-e2m3fn-1", ["--format", "e2m3fn", "--scheme", "mx", "--axis", "1"]),
    ("mx-e3m2fn-1", ["--format", "e3m2fn", "--scheme", "mx", "--axis", "1"]),
    ("mx-e2m1fn-1", ["--format", "e2m1fn", "--scheme", "mx", "--axis", "1"]),
    ("mx-int8-1", ["--format", "int8", "--scheme", "mx", "--axis", "1"]),
    ("mx-e4m3fn-last", ["--format", "e4m3fn", "--scheme", "mx"]),
    ("mx-e2m1fn-0-b4", ["--format", "e2m1fn", "--scheme", "mx", "--axis", "0", "--block", "4"]),
    # NVFP4
    ("nvfp4-1", ["--format", "e2m1fn", "--scheme", "nvfp4", "--axis", "1"]),
    ("nvfp4-last", ["--format", "e2m1fn", "--scheme", "nvfp4"]),
    ("nvfp4-0", ["--format", "e2m1fn", "--scheme", "nvfp4", "--axis", "0"]),
]

SMALL_INPUTS = ["normal32", "wide32", "special32", "grid32", "normal64", "wide64", "far64"]
FULL_MODE_INPUTS = ["special32", "grid32", "normal64"]

# Element-cast policies other than the default, on a few configs.
POLICIES = [
    ["--overflow", "ieee"],
    ["--overflow", "nan"],
    ["--subnormals", "flush"],
    ["--subnormals", "flush-input"],
    ["--subnormals", "flush-output"],
    ["--tininess", "before", "--subnormals", "flush-output"],
]
POLICY_CONFIGS = ["tensor-e4m3fn", "tensor-e4m3fn-pow2", "tensor-e5m2", "tensor-bf16", "mx-e4m3fn-1",
                  "mx-e2m1fn-1", "mx-int8-1", "nvfp4-1", "tensor-int8", "channel-int4-mse", "delayed-e4m3fn-h3"]
POLICY_INPUTS = {"special32": ["rne", "rdn"], "far64": ["rne"]}

BIG_CONFIGS = ["tensor-e4m3fn", "tensor-e4m3fn-pow2", "channel-int8-1", "group-int4-16-asym", "mx-e2m1fn-1",
               "nvfp4-1", "tensor-int8-pct"]


def cases():
    """(case id, input name, options) for every golden case."""
    cfg = dict(CONFIGS)
    out = []
    for name, args in CONFIGS:
        for inp in SMALL_INPUTS:
            for mode in DET_MODES if inp in FULL_MODE_INPUTS else ["rne"]:
                out.append((f"{name}/{inp}/{mode}", inp, args + ["--round", mode]))
    for name in POLICY_CONFIGS:
        for inp, modes in POLICY_INPUTS.items():
            for pol in POLICIES:
                for mode in modes:
                    out.append((f"{name}/{inp}/{mode}/{' '.join(pol)}", inp, cfg[name] + ["--round", mode] + pol))
    for name in BIG_CONFIGS:
        big = cfg[name]
        for threads in ["1", "3"]:
            out.append((f"{name}/big32/rne/threads{threads}", "big32", big + ["--threads", threads]))
    return out


def _sha(data):
    # 64 bits of SHA-256: enough to tell two outputs apart, short enough to
    # keep the golden file small.
    return hashlib.sha256(data).hexdigest()[:16]


def run_case(exe, work, x_path, args, raw=None):
    """What one case gives: {'report': sha of the --json report (the files'
    descriptions in, their paths out), 'dequantized': sha of OUT.npy,
    'codes': {file: sha} of the --codes run}, or {'status': exit status,
    'error': stderr} when it is refused. A dict `raw` gets the reports
    themselves (keys 'report', 'report_codes')."""
    result = {}
    for codes in (False, True):
        out = os.path.join(work, "y.npy")
        for f in os.listdir(work):
            os.remove(os.path.join(work, f))
        cmd = [exe, "quantize", *args, "--json", "--no-progress", "--in", x_path, "--out", out]
        if codes:
            cmd.append("--codes")
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            return {"status": p.returncode, "error": p.stderr}
        report = json.loads(p.stdout)
        files = {}
        for f in report["files"]:
            with open(f["path"], "rb") as fh:
                files[os.path.basename(f["path"])] = _sha(fh.read())
            f["path"] = os.path.basename(f["path"])
        report["input"].pop("path")
        # "recipe" joined the nvfp4 report after the golden file was made
        # (issue 17 part 5); every golden case runs the default, te.
        if report.get("scheme") == "nvfp4" and report.pop("recipe", "te") != "te":
            report["recipe"] = "not te"
        key = "codes" if codes else "dequantized"
        result[key] = files if codes else files["y.npy"]
        result["report" if not codes else "report_codes"] = _sha(json.dumps(report, sort_keys=True).encode())
        if raw is not None:
            raw["report" if not codes else "report_codes"] = report
    return result


def scratch_dir():
    """A folder for the outputs: on tmpfs where there is one, because every
    output is fsync'ed (npy::OutputFiles) and a disk makes that slow."""
    for d in ("/dev/shm",):
        if os.path.isdir(d) and os.access(d, os.W_OK):
            return tempfile.TemporaryDirectory(dir=d)
    return tempfile.TemporaryDirectory()


def run_all(exe, only=None, jobs=4, raw=None):
    """{case id: run_case(...)} for every case (or those in `only`), `jobs`
    runs at a time. A dict `raw` gets {case id: its reports} (run_case)."""
    inputs = make_inputs()
    todo = [c for c in cases() if only is None or c[0] in only]
    with scratch_dir() as tmp:
        paths = {}
        for name, x in inputs.items():
            paths[name] = os.path.join(tmp, name + ".npy")
            np.save(paths[name], x)

        def one(k):
            work = os.path.join(tmp, f"work{k}")
            os.mkdir(work)
            out = {}
            for cid, inp, args in todo[k::jobs]:
                r = {} if raw is not None else None
                out[cid] = run_case(exe, work, paths[inp], args, r)
                if raw is not None:
                    raw[cid] = r
            return out

        out = {}
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            for part in pool.map(one, range(jobs)):
                out.update(part)
    return out
