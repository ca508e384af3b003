#!/usr/bin/env python3
"""Plot experiments/format_compare's results: error histograms and SQNR.

    plot_format_compare.py OUT_DIR/format_compare.json [-o format_compare.png]

Top: a grid of histograms of log2 |relative error|, one row per data set and
one column per family of formats (16-32 bit; 8-bit floats; INT8 and 6-bit;
4-bit); one line per variant, line style = scheme (raw cast solid,
per-tensor scaled dashed, MX dotted, NVFP4 dash-dot). The y axis is the
fraction of the nonzero inputs; the bucket "exact" sits left of the bins and
"lost" (stored as 0, inf or NaN) right of them. Bottom: SQNR in dB per
variant, one bar per data set. The PNG is written to a temporary file and
renamed.
"""
import argparse
import json
import os
import sys
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FAMILIES = [
    ("16-32 bit", ["f32", "tf32", "f16", "bf16"]),
    ("8-bit floats", ["e4m3fn", "e5m2", "e4m3fn/tensor", "e5m2/tensor", "mxfp8-e4m3", "mxfp8-e5m2"]),
    ("INT8 and 6-bit", ["int8/tensor", "mxint8", "e2m3fn", "e3m2fn", "mxfp6-e2m3", "mxfp6-e3m2"]),
    ("4-bit", ["e2m1fn", "e2m1fn/tensor", "mxfp4", "nvfp4"]),
]
STYLES = {"raw": "-", "tensor": "--", "mx": ":", "nvfp4": "-."}
DATA_COLOURS = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]


def read(path):
    with open(path) as f:
        doc = json.load(f)
    if doc.get("experiment") != "format_compare" or not doc.get("rows"):
        sys.exit(f"{path}: not a format_compare result with rows")
    return doc


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", help="format_compare.json written by experiments/format_compare")
    ap.add_argument("-o", "--out", default="format_compare.png", help="PNG to write")
    args = ap.parse_args()
    doc = read(args.json)
    rows = doc["rows"]
    datasets = [d["name"] for d in doc["datasets"]]
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    by_key = {(r["data"], r["variant"]): r for r in rows}
    lo, hi = doc["hist_bins"]["lo"], doc["hist_bins"]["hi"]
    bins = list(range(lo, hi + 1))
    x_exact, x_lost = lo - 5, hi + 4
    families = [(title, [v for v in names if v in variants]) for title, names in FAMILIES]
    known = {v for _, names in FAMILIES for v in names}
    extra = [v for v in variants if v not in known]
    if extra:
        families.append(("other", extra))
    families = [(t, names) for t, names in families if names]

    ncols = len(families)
    fig = plt.figure(figsize=(4.6 * ncols, 2.3 * len(datasets) + 4.5))
    gs = fig.add_gridspec(len(datasets) + 1, ncols, height_ratios=[1] * len(datasets) + [1.8], hspace=0.45,
                          wspace=0.18, top=0.95, bottom=0.05)
    for di, data in enumerate(datasets):
        for fi, (title, names) in enumerate(families):
            ax = fig.add_subplot(gs[di, fi])
            for vi, name in enumerate(names):
                r = by_key.get((data, name))
                if r is None:
                    continue
                nz = max(r["nonzero"], 1)
                h = r["hist"]
                colour = plt.cm.tab10(vi % 10)
                style = STYLES.get(r["scheme"], "-")
                ax.plot(bins, [c / nz for c in h["bins"]], drawstyle="steps-mid", linestyle=style, color=colour,
                        linewidth=1.3, label=name)
                ax.plot([x_exact], [h["exact"] / nz], marker="o", color=colour, markersize=5, linestyle="none")
                ax.plot([x_lost], [h["lost"] / nz], marker="x", color=colour, markersize=7, mew=1.5, linestyle="none")
            ax.set_ylim(0, 1.02)
            ax.set_xlim(x_exact - 1, x_lost + 1)
            ax.set_xticks([x_exact, -30, -25, -20, -15, -10, -5, 0, x_lost])
            ax.set_xticklabels(["exact", "≤-30", "-25", "-20", "-15", "-10", "-5", "≥0", "lost"], fontsize=7)
            ax.tick_params(axis="y", labelsize=7)
            ax.grid(True, alpha=0.3)
            if di == 0:
                ax.set_title(title, fontsize=10)
                ax.legend(fontsize=6.5, loc="upper left", ncol=2, frameon=False)
            if fi == 0:
                ax.set_ylabel(f"{data}\nfraction", fontsize=9)
            if di == len(datasets) - 1:
                ax.set_xlabel("log2 |relative error|", fontsize=8)

    ax = fig.add_subplot(gs[len(datasets), :])
    width = 0.8 / len(datasets)
    for di, data in enumerate(datasets):
        ys = []
        for v in variants:
            r = by_key.get((data, v))
            q = r["sqnr_db"] if r else None
            ys.append(0.0 if q is None else max(q, 0.0))
        xs = [i + (di - (len(datasets) - 1) / 2) * width for i in range(len(variants))]
        ax.bar(xs, ys, width=width, color=DATA_COLOURS[di % len(DATA_COLOURS)], label=data)
    ax.set_xticks(range(len(variants)))
    ax.set_xticklabels(variants, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("SQNR dB (finite outputs)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=len(datasets), loc="upper right")
    ax.set_title("signal-to-quantization-noise ratio (higher is better; overflow to inf/NaN not counted, "
                 "see the histograms' 'lost')", fontsize=10)
    fig.suptitle(f"format_compare: n = {doc['n']} per data set, seed {doc['seed']}; "
                 "histograms of log2 |relative error| (fraction of nonzero inputs; o exact, x lost)",
                 fontsize=12, y=0.975)

    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".format_compare.", suffix=".png.tmp", dir=out_dir)
    try:
        with os.fdopen(fd, "wb") as f:
            fig.savefig(f, format="png", dpi=90, bbox_inches="tight")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, args.out)
    except BaseException:
        os.unlink(tmp)
        raise
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
