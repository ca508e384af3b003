#!/usr/bin/env python3
"""PyTorch's conversions on the same GPU, measured like bench/gpu_bench.cu:
CUDA events, median of --reps runs after warm-up, 2^log2n float32 inputs
drawn like gpu_bench's (random sign, exponents 2^-8..2^7). Measures a
device copy (y.copy_(x)), x.to(dtype) and the round trip
x.to(dtype).to(torch.float32) for float16, bfloat16, float8_e4m3fn and
float8_e5m2. GB/s count 4 bytes read + the output written (x.to) or
4 + 4 (round trip, one read and one write, as for floatscope's fused
fake-quantization). Writes JSON with --json."""
import argparse
import json
import sys

import torch


def median_ms(fn, reps):
    fn()
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log2n", type=int, default=28)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--json")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("skipped: no CUDA device")
        return 77
    n = 1 << args.log2n
    g = torch.Generator(device="cuda").manual_seed(5)
    sign = torch.randint(0, 2, (n,), device="cuda", generator=g, dtype=torch.int32)
    exp = torch.randint(119, 135, (n,), device="cuda", generator=g, dtype=torch.int32)
    mant = torch.randint(0, 1 << 23, (n,), device="cuda", generator=g, dtype=torch.int32)
    x = ((sign << 31) | (exp << 23) | mant).view(torch.float32)
    del sign, exp, mant
    y = torch.empty_like(x)
    rows = []
    copy_ms = median_ms(lambda: y.copy_(x), args.reps)
    copy_gbs = 8 * n / copy_ms / 1e6
    rows.append({"op": "copy_", "dtype": "float32", "ms": copy_ms, "gb_per_s": copy_gbs})
    for name in ["float16", "bfloat16", "float8_e4m3fn", "float8_e5m2"]:
        dt = getattr(torch, name)
        size = torch.tensor([], dtype=dt).element_size()
        ms = median_ms(lambda: x.to(dt), args.reps)
        rows.append({"op": "x.to(dtype)", "dtype": name, "ms": ms, "gb_per_s": (4 + size) * n / ms / 1e6})
        ms = median_ms(lambda: x.to(dt).to(torch.float32), args.reps)
        rows.append({"op": "x.to(dtype).to(float32)", "dtype": name, "ms": ms, "gb_per_s": 8 * n / ms / 1e6})
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}")
    for r in rows:
        print(f"{r['op']:<26} {r['dtype']:<14} {r['ms']:9.3f} ms {r['gb_per_s']:8.0f} GB/s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"torch": torch.__version__, "device": torch.cuda.get_device_name(), "n": n,
                       "copy_gb_per_s": copy_gbs, "ops": rows}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
