#!/usr/bin/env python3
"""Plot one `floatscope train` run: loss, gradient magnitudes, loss scale.

    plot_train.py DIR [--floatscope PATH]

Reads DIR/steps.csv, DIR/summary.json and DIR/hist.json (written by
train/trainer.cc) and writes, each through a temporary file and a rename:

  loss.png        the model's training loss and its FP64 shadow's over the
                  logged steps (log y); skipped steps marked, progressive
                  phases shaded
  gradients.png   log2-magnitude histograms of the activation gradients and
                  the weight gradients at every histogram step, as true
                  gradients (the recorded values are of the scaled loss and
                  are divided by the loss scale here), with the normal and
                  subnormal windows of the policy's activation-gradient
                  format (summary.json policy.roles.act_grad) as the true
                  gradients see them: shifted left by log2(loss scale)
  loss_scale.png  the loss scale over the logged steps, skipped steps marked

hist.json: {"<step>": {"loss_scale": S, "activation_gradients": {"zeros",
"nonfinite", "min_exp", "counts"}, ...}} where counts[i] counts the values
with floor(log2 |x|) == min_exp + i.

Format limits: `floatscope formats --json FORMAT` of the binary given with
--floatscope (any named format or custom spec), else the table below, else
the binary in $FLOATSCOPE; a format none of them knows is drawn without its
window.

A missing or malformed input is one line on stderr and exit status 1.
"""
import csv
import json
import math
import os
import subprocess
import sys
import tempfile

# The process umask (read by setting and restoring it), for the mode of renamed outputs.
UMASK = os.umask(0o022)
os.umask(UMASK)

# Limits of the formats a policy names most (max, min normal, min subnormal),
# as `floatscope formats --json` prints them. Others are looked up through
# $FLOATSCOPE (the floatscope binary) when it is set.
FORMAT_LIMITS = {
    "f64": (1.7976931348623157e308, 2.2250738585072014e-308, 5e-324),
    "f32": (3.4028234663852886e38, 1.1754943508222875e-38, 1.401298464324817e-45),
    "tf32": (3.4011621342146535e38, 1.1754943508222875e-38, 1.1479437019748901e-41),
    "f16": (65504.0, 6.103515625e-05, 5.960464477539063e-08),
    "bf16": (3.3895313892515355e38, 1.1754943508222875e-38, 9.183549615799121e-41),
    "e5m2": (57344.0, 6.103515625e-05, 1.52587890625e-05),
    "e4m3fn": (448.0, 0.015625, 0.001953125),
    "e4m3": (240.0, 0.015625, 0.001953125),
    "e4m3fnuz": (240.0, 0.0078125, 0.0009765625),
    "e5m2fnuz": (57344.0, 3.0517578125e-05, 7.62939453125e-06),
    "e3m2fn": (28.0, 0.25, 0.0625),
    "e2m3fn": (7.5, 1.0, 0.125),
    "e2m1fn": (6.0, 1.0, 0.5),
}

HIST_ROLES = ("activation_gradients", "weight_gradients")


class InputError(Exception):
    pass


def query_limits(exe, name):
    """(max, min_normal, min_subnormal or None) from `exe formats --json name`, or None."""
    try:
        p = subprocess.run([exe, "formats", "--json", name], capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            return None
        for f in json.loads(p.stdout):
            if f.get("kind") == "float" and f.get("min_normal") and f.get("max"):
                sub = f.get("min_subnormal") if f.get("has_subnormals", True) else None
                return (f["max"], f["min_normal"], sub)
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return None


def format_limits(name, floatscope=None):
    """(max, min_normal, min_subnormal or None) of a format, or None if unknown:
    from the --floatscope binary when given, else the table, else $FLOATSCOPE."""
    if floatscope:
        lim = query_limits(floatscope, name)
        if lim:
            return lim
    if name in FORMAT_LIMITS:
        return FORMAT_LIMITS[name]
    exe = os.environ.get("FLOATSCOPE")
    return query_limits(exe, name) if exe and exe != floatscope else None


def role_format(summary, role="act_grad"):
    """The format name of a role in summary.json's resolved policy, or None."""
    r = summary.get("policy", {}).get("roles", {}).get(role)
    if isinstance(r, dict):
        return r.get("format"), r.get("scaling", "none")
    return None, "none"


def hist_series(h):
    """A histogram record -> (exponents, counts) lists (empty when there are none)."""
    if not isinstance(h, dict) or "counts" not in h or "min_exp" not in h:
        raise InputError("a histogram lacks 'counts' or 'min_exp'")
    counts = h["counts"]
    if not isinstance(counts, list) or not all(isinstance(c, (int, float)) for c in counts):
        raise InputError("a histogram's 'counts' is not a list of numbers")
    e0 = int(h["min_exp"])
    return [e0 + i for i in range(len(counts))], [float(c) for c in counts]


def atomic_savefig(fig, path):
    import matplotlib.pyplot as plt

    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".png", dir=d)
    os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes 0600; give the file the usual mode
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    finally:
        plt.close(fig)


def shade_window(ax, limits, shift, label, colour="tab:green", alpha=0.10):
    """Normal window [log2 min_normal, log2 max] and subnormal window
    [log2 min_subnormal, log2 min_normal), both shifted by `shift` (log2)."""
    fmax, fmin_n, fmin_s = limits
    lo_n, hi = math.log2(fmin_n) + shift, math.log2(fmax) + shift
    ax.axvspan(lo_n, hi, color=colour, alpha=alpha, label=f"{label} normal")
    if fmin_s:
        ax.axvspan(math.log2(fmin_s) + shift, lo_n, color=colour, alpha=alpha * 0.45, hatch="//",
                   label=f"{label} subnormal")


def read_steps(path):
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise InputError(f"{path}: {e.strerror or e}")
    need = ("step", "loss", "loss_fp64", "loss_scale", "skipped")
    if not rows:
        raise InputError(f"{path}: no rows")
    missing = [c for c in need if c not in rows[0]]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")

    def num(v, col, i):
        try:
            return float(v) if v not in ("", None) else float("nan")
        except ValueError:
            raise InputError(f"{path}: row {i + 2}: '{col}' is not a number ({v!r})")

    out = {c: [] for c in need}
    out["policy"] = []
    for i, r in enumerate(rows):
        for c in need:
            out[c].append(num(r[c], c, i))
        out["policy"].append(r.get("policy", ""))
    return out


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as e:
        raise InputError(f"{path}: {e.strerror or e}")
    except ValueError as e:
        raise InputError(f"{path}: not JSON ({e})")


def plot_loss(steps, summary, path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    x = steps["step"]
    pol = summary.get("policy", {}).get("name", "?")
    ax.plot(x, steps["loss"], label=f"model ({pol})", color="tab:blue", linewidth=1.4)
    if any(math.isfinite(v) for v in steps["loss_fp64"]):
        ax.plot(x, steps["loss_fp64"], label="FP64 shadow", color="black", linestyle="--", linewidth=1.1)
    sk = [(s, l) for s, l, k in zip(x, steps["loss"], steps["skipped"]) if k > 0 and math.isfinite(l)]
    if sk:
        ax.scatter([s for s, _ in sk], [l for _, l in sk], marker="x", color="tab:red", zorder=3,
                   label="skipped step (logged)")
    # Progressive phases: shade every other phase and name it.
    phases = []
    for s, p in zip(x, steps["policy"]):
        if not phases or phases[-1][1] != p:
            phases.append((s, p))
    if len(phases) > 1:
        for i, (s, p) in enumerate(phases):
            end = phases[i + 1][0] if i + 1 < len(phases) else x[-1]
            if i % 2 == 0:
                ax.axvspan(s, end, color="grey", alpha=0.08)
            ax.text(s, 1.0, " " + p, transform=ax.get_xaxis_transform(), va="top", fontsize=8)
    finite = [v for v in steps["loss"] + steps["loss_fp64"] if math.isfinite(v) and v > 0]
    if finite:
        ax.set_yscale("log")
    f, sh = summary.get("final", {}), summary.get("shadow")
    title = f"{summary.get('model', '?')} on {summary.get('data', '?')}, {pol}"
    if isinstance(f.get("test_acc"), (int, float)):
        title += f": test acc {f['test_acc']:.4f}"
        if isinstance(sh, dict) and isinstance(sh.get("test_acc"), (int, float)):
            title += f" (shadow {sh['test_acc']:.4f})"
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (batch)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_savefig(fig, path)


def plot_gradients(hist, summary, path, floatscope=None):
    import matplotlib.pyplot as plt

    if not isinstance(hist, dict) or not hist:
        raise InputError("hist.json: no histogram steps")
    try:
        hsteps = sorted(hist, key=lambda k: int(k))
    except ValueError:
        raise InputError("hist.json: keys must be step numbers")
    fmt_name, scaling = role_format(summary, "act_grad")
    gfmt, gscaling = role_format(summary, "gemm_grad")
    limits = format_limits(fmt_name, floatscope) if fmt_name else None
    glimits = format_limits(gfmt, floatscope) if gfmt and gfmt != fmt_name else None
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), sharey=False)
    colours = plt.cm.viridis([i / max(1, len(hsteps) - 1) * 0.85 for i in range(len(hsteps))])
    last_scale = 1.0
    data_lo, data_hi = math.inf, -math.inf
    for si, step in enumerate(hsteps):
        rec = hist[step]
        if not isinstance(rec, dict):
            raise InputError(f"hist.json: step {step} is not an object")
        scale = rec.get("loss_scale", 1.0)
        if not isinstance(scale, (int, float)) or not scale > 0:
            raise InputError(f"hist.json: step {step}: bad loss_scale {scale!r}")
        last_scale = scale
        shift = math.log2(scale)
        for ax, role in zip(axes, HIST_ROLES):
            if role not in rec:
                raise InputError(f"hist.json: step {step} lacks '{role}'")
            try:
                ex, cnt = hist_series(rec[role])
            except InputError as e:
                raise InputError(f"hist.json: step {step}, {role}: {e}")
            total = sum(cnt) + rec[role].get("zeros", 0) + rec[role].get("nonfinite", 0)
            if total <= 0:
                continue
            frac = [c / total for c in cnt]
            lab = f"step {step}" + (f" (scale 2^{shift:.4g})" if scale != 1 else "")
            z = rec[role].get("zeros", 0) / total
            if z > 0:
                lab += f", zeros {z:.1%}"
            nf = rec[role].get("nonfinite", 0) / total
            if nf > 0:
                lab += f", inf/NaN {nf:.1%}"
            if ex:  # close the last bin [e, e + 1)
                ex, frac = ex + [ex[-1] + 1], frac + [0.0]
                data_lo, data_hi = min(data_lo, ex[0] - shift), max(data_hi, ex[-1] - shift)
            ax.plot([e - shift for e in ex], frac, drawstyle="steps-post", color=colours[si], linewidth=1.4,
                    label=lab)
    shift = math.log2(last_scale)
    for ax, role in zip(axes, HIST_ROLES):
        if limits:
            what = f"{fmt_name}" + (f" ÷ scale 2^{shift:.4g}" if shift else "")
            if scaling != "none":
                what += f" ({scaling}-scaled: moves with the scale)"
            shade_window(ax, limits, -shift, what)
        if glimits:
            what = f"{gfmt} (GEMM)" + (f" ÷ 2^{shift:.4g}" if shift else "")
            if gscaling != "none":
                what += f" ({gscaling}-scaled)"
            shade_window(ax, glimits, -shift, what, colour="tab:orange", alpha=0.08)
        ax.set_xlabel("log2 |gradient| (true, unscaled)")
        ax.set_ylabel("fraction of values")
        ax.set_title(role.replace("_", " "), fontsize=10)
        ax.grid(alpha=0.3)
        if math.isfinite(data_lo):
            # The data's range, widened to window edges within 24 binades of it
            # (a bf16 or f32 window would squash the histogram otherwise).
            edges = [math.log2(v) - shift for lim in (limits, glimits) if lim for v in lim if v]
            lo = min([data_lo] + [e for e in edges if data_lo - 24 <= e <= data_lo])
            hi = max([data_hi] + [e for e in edges if data_hi <= e <= data_hi + 24])
            ax.set_xlim(lo - 3, hi + 3)
        ax.legend(fontsize=7, loc="upper left")
    note = f"act_grad format {fmt_name}" if fmt_name else "act_grad not rounded"
    fig.suptitle(f"{summary.get('model', '?')} on {summary.get('data', '?')}, "
                 f"{summary.get('policy', {}).get('name', '?')}: gradient magnitudes ({note})", fontsize=10)
    fig.tight_layout()
    atomic_savefig(fig, path)


def plot_loss_scale(steps, summary, path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    x, s = steps["step"], steps["loss_scale"]
    ax.plot(x, s, drawstyle="steps-post", color="tab:purple", linewidth=1.4, label="loss scale")
    sk = [(a, b) for a, b, k in zip(x, s, steps["skipped"]) if k > 0]
    if sk:
        ax.scatter([a for a, _ in sk], [b for _, b in sk], marker="x", color="tab:red", zorder=3,
                   label="skipped (logged step)")
    if all(v > 0 for v in s if math.isfinite(v)):
        ax.set_yscale("log", base=2)
    tot = summary.get("totals", {})
    ls = summary.get("policy", {}).get("loss_scale", {})
    ax.set_title(f"{summary.get('policy', {}).get('name', '?')}: loss scaling {ls.get('kind', '?')}, "
                 f"skipped steps {tot.get('skipped_steps', '?')} of {summary.get('steps', '?')}", fontsize=10)
    ax.set_xlabel("step")
    ax.set_ylabel("loss scale")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_savefig(fig, path)


USAGE = "usage: plot_train.py DIR [--floatscope PATH] (DIR: a `floatscope train --out` folder)"


def parse_args(argv):
    """(dir, floatscope or None); raises InputError on a bad command line."""
    d, exe, rest = None, None, list(argv[1:])
    while rest:
        a = rest.pop(0)
        if a == "--floatscope":
            if not rest:
                raise InputError("--floatscope needs a path; " + USAGE)
            exe = rest.pop(0)
        elif a.startswith("--floatscope="):
            exe = a.split("=", 1)[1]
        elif a.startswith("-") and a != "-":
            raise InputError(f"unknown option {a}; " + USAGE)
        elif d is None:
            d = a
        else:
            raise InputError("one DIR only; " + USAGE)
    if d is None:
        raise InputError(USAGE)
    if exe is not None and not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
        raise InputError(f"--floatscope {exe}: not an executable file")
    return d, exe


def main(argv):
    if len(argv) == 2 and argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    try:
        d, exe = parse_args(argv)
    except InputError as e:
        print(f"plot_train.py: {e}", file=sys.stderr)
        return 1
    try:
        if not os.path.isdir(d):
            raise InputError(f"{d}: not a directory")
        steps = read_steps(os.path.join(d, "steps.csv"))
        summary = read_json(os.path.join(d, "summary.json"))
        if not isinstance(summary, dict) or "policy" not in summary:
            raise InputError(f"{os.path.join(d, 'summary.json')}: not a floatscope train summary (no 'policy')")
        hist = read_json(os.path.join(d, "hist.json"))
        import matplotlib

        matplotlib.use("Agg")
        plot_loss(steps, summary, os.path.join(d, "loss.png"))
        plot_gradients(hist, summary, os.path.join(d, "gradients.png"), exe)
        plot_loss_scale(steps, summary, os.path.join(d, "loss_scale.png"))
    except InputError as e:
        print(f"plot_train.py: {e}", file=sys.stderr)
        return 1
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        print(f"plot_train.py: {d}: malformed input ({type(e).__name__}: {e})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
