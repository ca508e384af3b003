#!/usr/bin/env python3
"""Plot experiments/gemm_accuracy's results: relative error of C = A*B vs K.

    plot_gemm_accuracy.py OUT_DIR/gemm_accuracy.csv [-o gemm_accuracy.png]

One panel per (distribution, input format), log-log axes; one line per
(accumulator, order), colour = accumulator, line style = order; the
hardware model and the correctly rounded f32 result in black and grey.
Thin dotted lines: K*u and sqrt(K)*u for each accumulator's unit roundoff
u (the worst-case and the typical error growth of a recursive sum).
"""
import argparse
import csv
import math
import os
import sys
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLOURS = {"f32": "tab:blue", "f16": "tab:orange", "bf16": "tab:red"}
STYLES = {"sequential": "-", "pairwise": "--", "blocked-32": ":"}
INPUTS = ["f16", "bf16", "e4m3fn", "e5m2"]
DISTS = ["uniform", "normal"]


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"{path}: no rows")
    for r in rows:
        r["K"] = int(r["K"])
        for key in ("rel_err_fro", "u_acc"):
            r[key] = float(r[key])
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv", help="gemm_accuracy.csv written by experiments/gemm_accuracy")
    ap.add_argument("-o", "--out", default="gemm_accuracy.png", help="PNG to write")
    args = ap.parse_args()
    rows = read(args.csv)

    fig, axes = plt.subplots(len(DISTS), len(INPUTS), figsize=(17, 8), sharex=True, sharey=True)
    ks = sorted({r["K"] for r in rows})
    handles = {}
    for di, dist in enumerate(DISTS):
        for ii, inp in enumerate(INPUTS):
            ax = axes[di][ii]
            sel = [r for r in rows if r["distribution"] == dist and r["input"] == inp]
            series = {}
            for r in sel:
                series.setdefault((r["accumulator"], r["order"]), []).append((r["K"], r["rel_err_fro"]))
            for (acc, order), pts in sorted(series.items()):
                pts.sort()
                x = [p[0] for p in pts]
                y = [max(p[1], 1e-12) for p in pts]  # an exact result (0) sits on the floor
                if order.startswith("hardware"):
                    kw = dict(color="black", linestyle="-", marker="s", markersize=3)
                    label = "hardware: G=32, F=13, f32 acc"
                elif order == "exact":
                    kw = dict(color="grey", linestyle="-", marker=".", alpha=0.7)
                    label = "f32 correctly rounded (exact sum, 1 rounding)"
                else:
                    kw = dict(color=COLOURS[acc], linestyle=STYLES[order], marker="o", markersize=2.5)
                    label = f"{acc} acc, {order}"
                (h,) = ax.plot(x, y, linewidth=1.3, **kw)
                handles.setdefault(label, h)
            for acc, colour in COLOURS.items():
                u = next((r["u_acc"] for r in rows if r["accumulator"] == acc), None)
                if u is None:
                    continue
                (h1,) = ax.plot(ks, [k * u for k in ks], color=colour, linewidth=0.6, linestyle=(0, (1, 3)))
                (h2,) = ax.plot(ks, [math.sqrt(k) * u for k in ks], color=colour, linewidth=0.6,
                                linestyle=(0, (5, 2, 1, 2)), alpha=0.8)
                handles.setdefault("K·u (per acc colour)", h1)
                handles.setdefault("√K·u (per acc colour)", h2)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_ylim(1e-9, 2)
            ax.grid(True, which="major", alpha=0.3)
            ax.set_title(f"{inp} inputs, {dist}", fontsize=10)
            if di == len(DISTS) - 1:
                ax.set_xlabel("K")
            if ii == 0:
                ax.set_ylabel("‖C − C_ref‖_F / ‖C_ref‖_F")
    fig.legend(list(handles.values()), list(handles.keys()), loc="lower center", ncol=5, fontsize=8, frameon=False)
    fig.suptitle("GEMM relative error vs K (floatscope emulate/dot.h; reference: exact sum of the rounded inputs)")
    fig.tight_layout(rect=(0, 0.08, 1, 0.96))
    # Written atomically: a temporary file beside the target, then renamed.
    out_dir = os.path.dirname(os.path.abspath(args.out))
    fd, tmp = tempfile.mkstemp(prefix=".gemm_accuracy.", suffix=".png", dir=out_dir)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110)
        os.chmod(tmp, 0o644)
        os.replace(tmp, args.out)
    except BaseException:
        os.unlink(tmp)
        raise
    print(args.out)


if __name__ == "__main__":
    main()
