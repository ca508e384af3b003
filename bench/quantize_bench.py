#!/usr/bin/env python3
"""`floatscope quantize` end to end, beside a plain copy of the same bytes.

    .venv/bin/python bench/quantize_bench.py [--floatscope build/cli/floatscope]
        [--before OTHER_FLOATSCOPE] [--n 10000000] [--reps 5] [--dir DIR] [--only tensor,mx,nvfp4]
        [--out results.json]

Writes one float32 tensor of --n elements (shape (n/1000, 1000), normal
values times 2^U(-3, 3)) to DIR, then times whole commands, each --reps
times, interleaved (copy, floatscope, --before, copy, ...) so that a slow
spell of the shared machine hits all of them alike, and prints medians:

    wall s      median wall time of the command (process start, reading the
                .npy, quantizing, writing the outputs, fsync and rename)
    ns/elem     wall / n
    x copy      wall / wall of `cp x.npy y.npy` (the same bytes read and
                written by a process that does nothing else; 1.0 = as fast
                as a copy)
    cpu s       median CPU time (user + system, all threads) of the command,
                and of `cp`: on a shared machine the wall time includes
                waiting for a core, the CPU time does not
    before      the --before binary's median wall time, its ratio to this
                one's, its ratio to `cp` (b x copy) and its CPU time (b cpu)

DIR defaults to /dev/shm (tmpfs) where it exists: floatscope fsyncs every
output before renaming it (npy::OutputFiles), and on a disk that fsync is
the disk's latency, not floatscope's work; pass --dir to measure on a disk.
--out writes every sample and median as JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

# (name, options): the schemes a user runs most, in the paths they take.
CONFIGS = [
    ("tensor e4m3fn", ["--format", "e4m3fn"]),
    ("tensor e4m3fn --codes", ["--format", "e4m3fn", "--codes"]),
    ("tensor e4m3fn --pow2-scale", ["--format", "e4m3fn", "--pow2-scale"]),
    ("tensor e4m3fn sr", ["--format", "e4m3fn", "--round", "sr", "--seed", "1"]),
    ("tensor e4m3fn sr --pow2-scale", ["--format", "e4m3fn", "--round", "sr", "--seed", "1", "--pow2-scale"]),
    ("tensor bf16", ["--format", "bf16"]),
    ("tensor int8", ["--format", "int8"]),
    ("channel int8 axis 0", ["--format", "int8", "--scheme", "channel", "--axis", "0"]),
    ("group int4 32 asym --codes", ["--format", "int4", "--scheme", "group", "--group", "32", "--asymmetric",
                                    "--codes"]),
    ("delayed e4m3fn", ["--format", "e4m3fn", "--scheme", "delayed"]),
    ("mx e4m3fn", ["--format", "e4m3fn", "--scheme", "mx"]),
    ("mx e2m1fn --codes", ["--format", "e2m1fn", "--scheme", "mx", "--codes"]),
    ("nvfp4", ["--format", "e2m1fn", "--scheme", "nvfp4"]),
]


def parse_args(argv):
    root = pathlib.Path(__file__).resolve().parent.parent
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--floatscope", default=str(root / "build/cli/floatscope"))
    p.add_argument("--before", help="another floatscope binary to time beside it (e.g. an older build)")
    p.add_argument("--n", type=int, default=10_000_000, help="elements (a multiple of 1000)")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--dir", help="where the input and outputs go (default /dev/shm, else the temp dir)")
    p.add_argument("--only", help="run only the configs whose name contains this (several: comma-separated, "
                                  "e.g. tensor,mx,nvfp4)")
    p.add_argument("--out", help="write samples and medians to this JSON file")
    return p.parse_args(argv)


CPU = {}  # command line -> CPU seconds (user + system) of each run


def timed(cmd) -> float:
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} exited with {p.returncode}: {p.stderr.strip()}")
    CPU.setdefault(tuple(cmd), []).append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    return dt


def main(argv=None):
    args = parse_args(argv)
    if args.n % 1000:
        sys.exit("error: --n must be a multiple of 1000")
    bins = {"floatscope": os.path.abspath(args.floatscope)}
    if args.before:
        bins["before"] = os.path.abspath(args.before)
    for b in bins.values():
        if not os.access(b, os.X_OK):
            sys.exit(f"error: {b} is not an executable")
    base = args.dir or ("/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        rng = np.random.default_rng(17)
        x = (rng.standard_normal(args.n) * np.exp2(rng.uniform(-3, 3, args.n))).astype(np.float32)
        src = os.path.join(tmp, "x.npy")
        np.save(src, x.reshape(args.n // 1000, 1000))
        del x
        dst = os.path.join(tmp, "y.npy")
        copy_cmd = ["cp", src, os.path.join(tmp, "copy.npy")]
        results = {"n": args.n, "reps": args.reps, "dir": tmp, "nproc": os.cpu_count(),
                   "machine": platform.processor() or platform.machine(), "binaries": bins, "configs": []}
        load0 = os.getloadavg()
        print(f"n = {args.n} float32 elements ({args.n * 4 / 1e6:.0f} MB), {args.reps} runs each, medians; "
              f"outputs in {base or tempfile.gettempdir()}; nproc {os.cpu_count()}, load {load0[0]:.1f}")
        head = f"{'config':<30} {'wall s':>8} {'ns/elem':>8} {'x copy':>7} {'cpu s':>6} {'cp cpu':>6}"
        if args.before:
            head += f" {'before s':>9} {'before/now':>10} {'b x copy':>8} {'b cpu':>6}"
        print(head)
        for name, opts in CONFIGS:
            if args.only and not any(part in name for part in args.only.split(",")):
                continue
            samples = {k: [] for k in ["copy", *bins]}
            cpu = {k: [] for k in ["copy", *bins]}
            for _ in range(args.reps):
                CPU.clear()
                samples["copy"].append(timed(copy_cmd))
                cpu["copy"] += CPU.pop(tuple(copy_cmd))
                for k, b in bins.items():
                    cmd = [b, "quantize", *opts, "--no-progress", "--in", src, "--out", dst]
                    samples[k].append(timed(cmd))
                    cpu[k] += CPU.pop(tuple(cmd))
            med = {k: statistics.median(v) for k, v in samples.items()}
            med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
            line = (f"{name:<30} {med['floatscope']:8.3f} {med['floatscope'] / args.n * 1e9:8.1f} "
                    f"{med['floatscope'] / med['copy']:7.1f} {med_cpu['floatscope']:6.3f} {med_cpu['copy']:6.3f}")
            if args.before:
                line += (f" {med['before']:9.3f} {med['before'] / med['floatscope']:10.1f} "
                         f"{med['before'] / med['copy']:7.1f} {med_cpu['before']:6.3f}")
            print(line, flush=True)
            results["configs"].append({"name": name, "command": ["floatscope", "quantize", *opts, "--in", "x.npy",
                                                                 "--out", "y.npy"],
                                       "samples_s": samples, "median_s": med, "cpu_s": cpu,
                                       "median_cpu_s": med_cpu})
        results["load_before_after"] = [load0, os.getloadavg()]
        print(f"copy: `cp x.npy copy.npy`, median over all configs "
              f"{statistics.median([s for c in results['configs'] for s in c['samples_s']['copy']]):.4f} s; "
              f"load after {os.getloadavg()[0]:.1f}")
    if args.out:
        fd, tmp_out = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(args.out)) or ".")
        with os.fdopen(fd, "w") as f:
            json.dump(results, f, indent=1)
        os.replace(tmp_out, args.out)


if __name__ == "__main__":
    main()
