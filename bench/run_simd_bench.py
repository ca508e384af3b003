#!/usr/bin/env python3
"""The SIMD benchmark in one run: floatscope's kernels beside the ceiling and the peers.

    .venv/bin/python bench/run_simd_bench.py [--bench build/bench/simd_bench] [--out results.json]

Runs build/bench/simd_bench (Google Benchmark: copy, scale, F16C round trip,
floatscope fake-quant/encode/scalar core) with 5 repetitions and takes the
medians, then times the Python peers on the same data sizes in this process
(numpy float16 and int8, ml_dtypes' bfloat16/float8/float4 `astype` round
trips; medians of 5) and prints one table per size:

    ns/elem, GB/s (bytes read + written), and throughput ratios
    x copy   = copy's ns/elem  / ours   (1.0 = memory speed)
    x F16C   = F16C round trip / ours
    x peer   = the peer's round trip for this format / ours (numpy or ml_dtypes)
    x core   = floatscope's scalar core / ours

Ratios are taken within this one run only (the machines are shared and noisy).
--out writes everything as JSON (atomically: a temporary file, then rename).
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

REPS = 5
SIZES = (1 << 24, 1 << 16)
FORMATS = ("f16", "bf16", "e4m3fn", "e5m2", "e2m1fn", "int8")


def parse_args(argv):
    root = pathlib.Path(__file__).resolve().parent.parent
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bench", default=str(root / "build/bench/simd_bench"),
                   help="the simd_bench binary (default build/bench/simd_bench)")
    p.add_argument("--out", help="write all medians and ratios to this JSON file")
    p.add_argument("--filter", default=None,
                   help="passed to --benchmark_filter (a regex; default: everything)")
    p.add_argument("--min-time", default="0.3", help="passed to --benchmark_min_time")
    return p.parse_args(argv)


def run_cpp(args) -> tuple[dict, dict]:
    """Medians (ns/elem, GB/s) per (name, n) from simd_bench, and its context."""
    if not os.access(args.bench, os.X_OK):
        sys.exit(f"error: benchmark binary '{args.bench}' not found or not executable "
                 "(build it: meson compile -C build simd_bench; needs libbenchmark-dev)")
    cmd = [args.bench, "--benchmark_format=json", f"--benchmark_repetitions={REPS}",
           "--benchmark_report_aggregates_only=true", f"--benchmark_min_time={args.min_time}"]
    if args.filter:
        cmd.append(f"--benchmark_filter={args.filter}")
    print("running: " + " ".join(cmd), file=sys.stderr)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ghz_after = None
    for line in proc.stderr.splitlines():
        if line.startswith("ghz_after "):
            ghz_after = float(line.split()[1])
        else:
            print(line, file=sys.stderr)
    if proc.returncode != 0:
        sys.exit(f"error: {args.bench} exited with {proc.returncode}")
    data = json.loads(proc.stdout)
    data.setdefault("context", {})["ghz_after"] = ghz_after
    out = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        # run_name is "NAME/ARG[/iterations:I]/real_time",
        # e.g. "fakequant/f16/rne/1/16777216/real_time": drop the settings, keep NAME and ARG
        parts = [t for t in b["run_name"].split("/") if t != "real_time" and ":" not in t]
        name, n = "/".join(parts[:-1]), parts[-1]
        out[(name, int(n))] = {"ns_per_elem": 1e9 / b["items_per_second"],
                               "gb_per_s": b["bytes_per_second"] / 1e9}
    return out, data.get("context", {})


def python_peers() -> dict:
    """Round-trip peers per format: (peer name, function of a float32 array)."""
    peers = {"f16": ("numpy float16", lambda x: x.astype(np.float16).astype(np.float32)),
             "int8": ("numpy rint/clip int8",
                      lambda x: np.clip(np.rint(x), -128, 127).astype(np.int8).astype(np.float32))}
    try:
        import ml_dtypes
    except ImportError:
        print("note: ml_dtypes not installed; its columns stay empty", file=sys.stderr)
        return peers
    for fmt, dt in (("bf16", "bfloat16"), ("e4m3fn", "float8_e4m3fn"), ("e5m2", "float8_e5m2"),
                    ("e2m1fn", "float4_e2m1fn")):
        t = getattr(ml_dtypes, dt, None)
        if t is not None:
            peers[fmt] = (f"ml_dtypes {dt}", lambda x, t=t: x.astype(t).astype(np.float32))
    return peers


def time_peer(fn, n: int) -> float:
    """Median ns per element of fn over REPS timed repetitions (after a warm-up)."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal(n, dtype=np.float32)
    inner = max(1, (1 << 22) // n)  # small arrays: repeat so a timing is ~ms
    fn(x)
    times = []
    for _ in range(REPS):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn(x)
        times.append((time.perf_counter() - t0) / inner / n * 1e9)
    return statistics.median(times)


def write_atomically(path: str, obj) -> None:
    target = pathlib.Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent or ".", prefix=target.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1)
            f.write("\n")
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def ratio(base, ours):
    return None if base is None or ours is None else base / ours


def fmt_ratio(r):
    return "" if r is None else f"{r:.2f}"


def main(argv=None) -> int:
    args = parse_args(argv)
    cpp, context = run_cpp(args)
    peers = python_peers()
    peer_ns = {}
    for n in SIZES:
        for fmt, (pname, fn) in peers.items():
            print(f"timing {pname} at n = {n}", file=sys.stderr)
            peer_ns[(fmt, n)] = (pname, time_peer(fn, n))

    cpu = context.get("cpu_model") or platform.processor()
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    threads_all = context.get("num_cpus", os.cpu_count())
    print(f"# floatscope simd_bench, {time.strftime('%Y-%m-%d', time.gmtime())}: {cpu}, "
          f"{threads_all} CPUs, SIMD target {context.get('simd_target', '?')}; "
          f"numpy {np.__version__}; medians of {REPS}")
    # What explains a run: how the kernels were built, and the clock this
    # process saw before and after (a busy neighbour or throttling shows
    # as a lower or changing estimate).
    print(f"# build: {context.get('build', '?')}")
    stream = context.get("stream_min_bytes")
    print(f"# stores: ordinary everywhere" if not stream else
          f"# stores: fast-path fake-quant calls whose input + output reach {int(stream) / 2**20:g} MiB store "
          "non-temporally (FS_STREAM_MIN_BYTES); F16C and copy use ordinary stores")
    ghz_b, ghz_a = context.get("ghz_before"), context.get("ghz_after")
    print(f"# core clock estimate (dependent adds): {float(ghz_b):.2f} GHz before, "
          f"{'?' if ghz_a is None else f'{ghz_a:.2f}'} GHz after; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end" if ghz_b else "# core clock estimate: n/a")
    rows = []
    for n in SIZES:
        copy = cpp.get(("copy", n), {}).get("ns_per_elem")
        f16c = cpp.get(("f16c", n), {}).get("ns_per_elem")
        mib = n * 4 / (1 << 20)
        print(f"\n## n = 2^{n.bit_length() - 1} float32 ({mib:g} MiB in, {mib:g} MiB out)\n")
        if copy and f16c:
            print(f"ceilings of this size: copy {copy:.3f} ns/elem ({1 / copy:.2f} elem/ns), "
                  f"F16C round trip {f16c:.3f} ns/elem ({1 / f16c:.2f} elem/ns)\n")
        print("| kernel | ns/elem | elem/ns | GB/s | × copy | × F16C | peer | × peer | × core |")
        print("|---|---|---|---|---|---|---|---|---|")
        for base in ("copy", "scale", "f16c"):
            r = cpp.get((base, n))
            if r:
                print(f"| {base} | {r['ns_per_elem']:.3f} | {1 / r['ns_per_elem']:.2f} | {r['gb_per_s']:.1f} "
                      f"| {fmt_ratio(ratio(copy, r['ns_per_elem']))} | {fmt_ratio(ratio(f16c, r['ns_per_elem']))} "
                      f"| | | |")
                rows.append({"kernel": base, "n": n, **r})
        for fmt in FORMATS:
            pname, pns = peer_ns.get((fmt, n), ("", None))
            for mode in ("rne", "sr", "sr-eq"):
                core = cpp.get((f"core/{fmt}/{mode}", n), {}).get("ns_per_elem")
                names = [k for (k, m) in cpp if m == n and k.startswith(f"fakequant/{fmt}/{mode}/")]
                names += [f"fakequant-stats/{fmt}/{mode}/1", f"encode/{fmt}/{mode}"]
                for name in names:
                    r = cpp.get((name, n))
                    if not r:
                        continue
                    ours = r["ns_per_elem"]
                    row = {"kernel": name, "n": n, **r, "x_copy": ratio(copy, ours), "x_f16c": ratio(f16c, ours),
                           "peer": pname, "peer_ns_per_elem": pns, "x_peer": ratio(pns, ours),
                           "core_ns_per_elem": core, "x_core": ratio(core, ours)}
                    rows.append(row)
                    print(f"| {name} | {ours:.3f} | {1 / ours:.2f} | {r['gb_per_s']:.1f} | {fmt_ratio(row['x_copy'])} "
                          f"| {fmt_ratio(row['x_f16c'])} | {pname} {'' if pns is None else f'({pns:.2f} ns)'} "
                          f"| {fmt_ratio(row['x_peer'])} | {fmt_ratio(row['x_core'])} |")
    quant = sorted(k for k in cpp if k[0].startswith("quantize/"))
    if quant:
        print("\n## whole quantization schemes (emulate/quant, float64 in, statistics included)\n")
        print("| scheme/format/path | n | ns/elem | × core path |")
        print("|---|---|---|---|")
        for name, n in quant:
            ours = cpp[(name, n)]["ns_per_elem"]
            core = cpp.get((name.rsplit("/", 1)[0] + "/core", n), {}).get("ns_per_elem")
            rows.append({"kernel": name, "n": n, **cpp[(name, n)], "x_core": ratio(core, ours)})
            print(f"| {name} | 2^{n.bit_length() - 1} | {ours:.1f} | {fmt_ratio(ratio(core, ours))} |")
    if args.out:
        write_atomically(args.out, {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpu": cpu,
                                    "context": context, "reps": REPS, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
