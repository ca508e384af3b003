#!/usr/bin/env python3
"""Training comparison: every precision policy on the built-in models.

    training_compare.py [--floatscope build/cli/floatscope] [--out results/training_compare]
                        [--jobs N] [--quick] [--seeds N] [--models mlp:digits,...]

Runs `floatscope train` for every preset policy (the list of `floatscope
train --help`) and a few policy files (a progressive, a layer-wise and a
dynamic schedule, and a loss-scale overflow case) on the built-in models
(mlp on digits, cnn on digits, mlp on mnist1d, transformer on modadd) and
several seeds, `--jobs` runs at a time (each run is one single-threaded
`floatscope train` process), then aggregates into --out:

  table.csv, table.md  one row per model x policy: final test accuracy
                       (mean ± std over seeds), the FP64 shadow's, the loss
                       gap (final train loss minus the shadow's), mean
                       gradient energy lost, mean gradient zero fraction,
                       skipped and non-finite-gradient steps, lost-update
                       fraction (of the master, and had the update been
                       stored in the weights' format alone), low-precision
                       layer fraction, step time relative to fp32 (same
                       model and seed); table.md adds the reproductions
  compare.json         settings, git revision, machine, runtime, the
                       reproductions and every run's summary.json
  loss_curves.png      every policy's training loss against the FP64 shadow
  grad_hist.png        activation-gradient magnitudes of the fp32 runs with
                       the f16, bf16, e4m3fn and e5m2 windows, and the same
                       histogram shifted by a loss scale (Micikevicius 2017)
  lost_updates.png     lost-update fraction over steps: fp16-naive,
                       fp16-master, bf16-pure, bf16-pure-sr
  loss_scale.png       loss scale over steps: fp16-amp, apex-o2, overflow
  runs/<model>_<data>/<policy>/seed<k>/  every run's own outputs

Every file is written to a temporary file and renamed. Results (everything
but the timing columns and runtimes) do not depend on --jobs: every run is
deterministic and aggregation goes in a fixed order. A model the binary does
not know (yet) is reported on stderr and left out (compare.json lists it
under "skipped_models"); any other failing run is an error (exit 1).
"""
import argparse
import concurrent.futures as cf
import csv
import io
import json
import math
import os
import platform
import resource
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

# The process umask (read by setting and restoring it), for the mode of renamed outputs.
UMASK = os.umask(0o022)
os.umask(UMASK)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# The plotting helpers of `floatscope train` (one implementation: atomic PNG
# writes, histogram records -> series).
sys.path.insert(0, os.path.join(ROOT, "analysis"))
from plot_train import atomic_savefig, hist_series  # noqa: E402

# (max, min normal, min subnormal) as `floatscope formats --json` prints them.
FORMAT_LIMITS = {
    "f16": (65504.0, 6.103515625e-05, 5.960464477539063e-08),
    "bf16": (3.3895313892515355e38, 1.1754943508222875e-38, 9.183549615799121e-41),
    "e4m3fn": (448.0, 0.015625, 0.001953125),
    "e5m2": (57344.0, 6.103515625e-05, 1.52587890625e-05),
}

# (model, data, optimizer, lr, weight decay, relative cost of a step). mlp and
# cnn: SGD with momentum 0.9; mlp on mnist1d reaches ~62% test accuracy in
# 1000 steps at lr 0.05 (chance 10%; lr 0.1 overfits sooner, 0.02 is slower);
# the transformer: AdamW lr 3e-3, weight decay 1 (modular addition "groks":
# fp32 test accuracy ~0.75 at 1000 steps, ~0.97 at 1500).
MODELS = [
    ("mlp", "digits", "sgd", 0.1, 0.0, 1.0),
    ("cnn", "digits", "sgd", 0.05, 0.0, 6.0),
    ("mlp", "mnist1d", "sgd", 0.05, 0.0, 1.2),
    ("transformer", "modadd", "adamw", 3e-3, 1.0, 14.0),
]
# (steps, seeds) per model, by mode. Default: about 700 CPU-seconds (~6
# minutes on 2 idle cores; compare.json records the runtime). A transformer
# run costs ~18 CPU-seconds (1500 steps beside a float64 shadow), 21 of them
# a seed: one seed fits the budget, so its accuracies carry no spread (and
# when it groks varies with the policy by some hundreds of steps: --seeds 3
# gives a spread at ~+14 minutes). --quick: mlp on digits only, ~5 s.
PLAN = {
    "default": {"mlp:digits": (400, 3), "cnn:digits": (300, 3), "mlp:mnist1d": (1000, 3),
                "transformer:modadd": (1500, 1)},
    "quick": {"mlp:digits": (150, 1)},
}
BATCH = 64


def extra_policies(steps):
    """The policy files beside the presets (name -> JSON), for a run of `steps` steps."""
    switch = max(1, round(0.2 * steps))
    return {
        "progressive": {"name": "progressive", "base": "fp8-current",
                        "schedule": {"progressive": [{"step": 0, "policy": "fp32"},
                                                     {"step": switch, "policy": "fp8-current"}]}},
        "layerwise": {"name": "layerwise", "base": "fp8-current",
                      "layers": {"first": {"policy": "fp32"}, "last": {"policy": "fp32"}}},
        "dynamic": {"name": "dynamic", "base": "fp16-naive", "schedule": {"dynamic": {"fallback": "fp32"}}},
        "overflow": {"name": "overflow", "base": "fp16-amp", "loss_scale": {"kind": "dynamic", "init": 1e30}},
    }


EXTRA_DESCRIPTIONS = {
    "progressive": "fp32 for the first 20% of the steps, then fp8-current",
    "layerwise": "fp8-current with the first and last layer in fp32",
    "dynamic": "fp16-naive; a layer whose gradients overflow or flush (>5%) falls back to fp32 for 50 steps",
    "overflow": "fp16-amp with the dynamic loss scale starting at 1e30: it must skip steps until the scale fits",
}

REPRODUCTIONS = [
    ("micikevicius2017", "Micikevicius et al. 2017, Mixed Precision Training",
     "FP16 without loss scaling flushes small activation gradients to zero; loss scaling and an FP32 master copy "
     "recover FP32 accuracy.",
     ["fp32", "fp16-naive", "fp16-static", "fp16-amp"]),
    ("master_weights", "Master weights (Micikevicius 2017; Zamirai et al. 2020 for BF16 + stochastic rounding)",
     "Without a higher-precision master copy many small updates are lost (w + Δw rounds back to w); an FP32 master "
     "or stochastic rounding of the update keeps them.",
     ["fp32", "fp16-naive", "fp16-master", "bf16-pure", "bf16-pure-sr"]),
    ("kalamkar2019", "Kalamkar et al. 2019, A Study of BFLOAT16 for Deep Learning Training",
     "BF16 mixed precision matches FP32 with no loss scaling and no hyper-parameter changes.",
     ["fp32", "bf16-amp"]),
    ("micikevicius2022", "Micikevicius et al. 2022, FP8 Formats for Deep Learning",
     "FP8 (E4M3 forward, E5M2 gradients) with per-tensor scaling matches the 16-bit baseline; without scaling "
     "FP8's narrow range loses accuracy.",
     ["bf16-amp", "fp8-hybrid", "fp8-current", "fp8-unscaled"]),
    ("block_scaling", "OCP MX (Rouhani et al. 2023) and NVFP4",
     "MXFP8 matches the 16-bit baseline; 4-bit block-scaled formats (MXFP4, NVFP4) cost some accuracy.",
     ["bf16-amp", "mxfp8", "mxfp4", "nvfp4"]),
    ("schedules", "Precision schedules",
     "Keeping the first/last layers or the first steps in high precision, or falling back per layer when gradients "
     "under/overflow, recovers most of the high-precision result at a mostly low-precision cost.",
     ["fp32", "fp8-current", "progressive", "layerwise", "fp16-naive", "dynamic"]),
    ("overflow", "Dynamic loss scaling (GradScaler)",
     "A scale so large that the scaled gradients overflow makes dynamic loss scaling skip steps and halve the scale "
     "until it fits, after which training proceeds.",
     ["fp16-amp", "overflow"]),
]

COLUMNS = [
    ("model", "model"), ("data", "data"), ("policy", "policy"), ("seeds", "seeds"),
    ("test_acc_mean", "test acc"), ("test_acc_std", "± std"), ("shadow_test_acc", "shadow acc"),
    ("train_acc_mean", "train acc"),
    ("train_loss_gap", "loss gap"), ("mean_grad_energy_lost", "grad energy lost"),
    ("mean_grad_zero_frac", "grad zero frac"), ("skipped_steps", "skipped"),
    ("nonfinite_grad_steps", "nonfinite steps"), ("mean_lost_update_frac", "lost upd (master)"),
    ("mean_lost_update_frac_storage", "lost upd (storage)"), ("low_precision_layer_frac", "low-prec layers"),
    ("step_time_rel_fp32", "step time / fp32"),
]


class DriverError(Exception):
    pass


def say(msg):
    print(f"training_compare.py: {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ output

def finite_json(v):
    """NaN/inf -> None, so compare.json is strict JSON."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: finite_json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [finite_json(x) for x in v]
    return v


def atomic_write(path, text):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=d)
    os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes 0600; give the file the usual mode
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def fmt_num(v, kind="g"):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, (int, str)):
        return str(v)
    if kind == "acc":
        return f"{v:.4f}"
    if kind == "gap":
        return f"{v:+.2e}" if v != 0 else "0"
    if kind == "rel":
        return f"{v:.2f}"
    if kind == "frac":
        return "0" if v == 0 else f"{v:.3g}"
    return f"{v:.3g}"


# ------------------------------------------------------------------ floatscope

def presets(exe):
    try:
        p = subprocess.run([exe, "train", "--help"], capture_output=True, text=True, timeout=60)
    except OSError as e:
        raise DriverError(f"cannot run {exe}: {e.strerror or e} (build it: ninja -C build cli/floatscope, or pass --floatscope)")
    m = re.search(r"Preset \(([^)]*)\)", p.stdout)
    if p.returncode != 0 or not m:
        raise DriverError(f"{exe} train --help lists no presets (is it floatscope with the training lab?)")
    return m.group(1).split()


def probe(exe, model, data, tmp):
    """None when `model` trains on `data`, else floatscope's one error line."""
    out = os.path.join(tmp, f"probe_{model}_{data}")
    p = subprocess.run([exe, "train", "--model", model, "--data", data, "--policy", "fp32", "--steps", "1",
                        "--shadow", "off", "--plots", "off", "--quiet", "--out", out],
                       capture_output=True, text=True, timeout=300)
    if p.returncode == 0:
        return None
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit status {p.returncode}"


def git_revision():
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=30).stdout.strip()
        return rev + ("-dirty" if dirty else "") if rev else "unknown"
    except OSError:
        return "unknown"


def machine():
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    cpu = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"hostname": platform.node(), "system": platform.platform(), "cpu": cpu, "cpus": os.cpu_count(),
            "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "loadavg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
            "python": platform.python_version()}


# ------------------------------------------------------------------ runs

def log_every(steps):
    """Steps between logged rows: 10, or about 50 rows for long runs (every
    logged step also computes the FP64 gradient at the same weights)."""
    return max(10, steps // 50 // 10 * 10)


def hist_every(steps):
    """Steps between histograms (a multiple of log_every): about 5 of them."""
    le = log_every(steps)
    return max(le, steps // 5 // le * le)


class Run:
    def __init__(self, model, data, optimizer, lr, wd, cost, policy, spec, steps, seed, out):
        self.model, self.data, self.optimizer, self.lr, self.wd = model, data, optimizer, lr, wd
        self.policy, self.spec, self.steps, self.seed = policy, spec, steps, seed
        self.cost = cost * steps * (2.0 if policy == "fp64" else 1.0)
        self.dir = os.path.join(out, "runs", f"{model}_{data}", policy, f"seed{seed}")
        self.summary = None
        self.steps_csv = None
        self.hist = None

    @property
    def key(self):
        return (self.model, self.data, self.policy, self.seed)

    def argv(self, exe):
        return [exe, "train", "--model", self.model, "--data", self.data, "--policy", self.spec,
                "--steps", str(self.steps), "--batch", str(BATCH), "--optimizer", self.optimizer,
                "--lr", repr(self.lr), "--weight-decay", repr(self.wd), "--seed", str(self.seed), "--threads", "1",
                "--log-every", str(log_every(self.steps)), "--hist-every", str(hist_every(self.steps)),
                "--plots", "off", "--quiet", "--out", self.dir]

    def execute(self, exe):
        with LIVE_LOCK:
            if STOPPING.is_set():
                raise DriverError("stopped")
            p = subprocess.Popen(self.argv(exe), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            LIVE.add(p)
        try:
            _, err = p.communicate()
        finally:
            with LIVE_LOCK:
                LIVE.discard(p)
        if STOPPING.is_set():
            raise DriverError("stopped")
        if p.returncode != 0:
            lines = [ln for ln in err.splitlines() if ln.strip()]
            raise DriverError(f"{self.model}/{self.data}/{self.policy}/seed{self.seed} failed "
                              f"(exit {p.returncode}): {lines[-1] if lines else ''}")
        self.load()

    def load(self):
        with open(os.path.join(self.dir, "summary.json")) as f:
            self.summary = json.load(f)
        with open(os.path.join(self.dir, "steps.csv"), newline="") as f:
            rows = list(csv.DictReader(f))
        self.steps_csv = {k: [float(r[k]) if k != "policy" else r[k] for r in rows] for k in rows[0]}
        with open(os.path.join(self.dir, "hist.json")) as f:
            self.hist = json.load(f)
        with open(os.path.join(self.dir, "layers.csv"), newline="") as f:
            self.layers_csv = list(csv.DictReader(f))

    def low_precision_frac(self):
        """Share of (logged step, layer with parameters) pairs that round anything: the
        layer is not escalated by the dynamic schedule (layers.csv), the active phase
        is not fp32/fp64, and no layer override (first/last/index/name) turns every
        role off. (summary.json's low_precision_layer_frac counts escalations only.)"""
        pol = self.summary["policy"]
        base = dict(pol.get("roles", {}))
        overrides = pol.get("layers", {})
        names = self.summary.get("layers", [])
        lowp = {}
        for i, name in enumerate(names):
            roles = dict(base)
            keys = (["first"] if i == 0 else []) + (["last"] if i + 1 == len(names) else []) + [str(i), name]
            for k in keys:
                roles.update(overrides.get(k, {}).get("roles", {}))
            lowp[name] = any(v != "none" for v in roles.values())
        phase = {int(float(st)): p for st, p in zip(self.steps_csv["step"], self.steps_csv["policy"])}
        n = lo = 0
        for row in self.layers_csv:
            n += 1
            if phase.get(int(row["step"]), "") in ("fp32", "fp64"):
                continue
            lo += float(row["low_precision_frac"]) * lowp.get(row["name"], True)
        return lo / n if n else float("nan")


# The floatscope processes running now: stopped (by their own pids) on an
# interrupt, SIGTERM or the first failed run.
LIVE = set()
LIVE_LOCK = threading.Lock()
STOPPING = threading.Event()


def stop_all():
    with LIVE_LOCK:
        STOPPING.set()
        for p in LIVE:
            if p.poll() is None:
                p.terminate()


class Progress:
    def __init__(self, total_cost, count):
        self.total, self.count, self.done_cost, self.done = total_cost, count, 0.0, 0
        self.t0 = time.monotonic()
        self.lock = threading.Lock()
        self.tty = sys.stderr.isatty()
        self.last_print = 0.0

    def update(self, run):
        with self.lock:
            self.done += 1
            self.done_cost += run.cost
            el = time.monotonic() - self.t0
            eta = el * (self.total - self.done_cost) / self.done_cost if self.done_cost else 0
            line = (f"training_compare: {self.done}/{self.count} runs ({100 * self.done_cost / self.total:.0f}%) "
                    f"elapsed {el:.0f}s ETA {eta:.0f}s  last {run.model}/{run.data}/{run.policy}/seed{run.seed}")
            if self.tty:
                print("\r" + line + "   ", end="", file=sys.stderr, flush=True)
            elif el - self.last_print >= 5 or self.done == self.count:
                print(line, file=sys.stderr, flush=True)
                self.last_print = el

    def finish(self):
        if self.tty:
            print(file=sys.stderr, flush=True)


# ------------------------------------------------------------------ aggregation

def mean(xs):
    """The mean; NaN when there is none or any is NaN (a diverged run)."""
    xs = [float("nan") if x is None else x for x in xs]
    return sum(xs) / len(xs) if xs else float("nan")


def num(v):
    """A summary value as a float (null, i.e. NaN or inf in the run, -> NaN)."""
    return float(v) if isinstance(v, (int, float)) else float("nan")


def aggregate(runs_by_key, model, data, policy, seeds):
    rs = [runs_by_key[(model, data, policy, s)] for s in seeds if (model, data, policy, s) in runs_by_key]
    if not rs:
        return None
    acc = [num(r.summary["final"]["test_acc"]) for r in rs]
    tot = [r.summary["totals"] for r in rs]
    gaps, shadow_acc = [], []
    for r in rs:
        sh = r.summary.get("shadow")
        if isinstance(sh, dict):
            gaps.append(num(r.summary["final"]["train_loss"]) - num(sh["train_loss"]))
            shadow_acc.append(num(sh["test_acc"]))
    rel = []
    for r in rs:
        base = runs_by_key.get((model, data, "fp32", r.seed))
        t, tb = r.summary.get("timing", {}).get("step_ms"), base and base.summary.get("timing", {}).get("step_ms")
        if isinstance(t, (int, float)) and isinstance(tb, (int, float)) and tb > 0:
            rel.append(t / tb)
    accs = [x for x in acc if math.isfinite(x)]
    train_acc = [num(r.summary["final"]["train_acc"]) for r in rs]
    opt_state = rs[0].summary["policy"]["roles"].get("opt_state")
    return {
        "model": model, "data": data, "policy": policy, "seeds": len(rs),
        "optimizer": rs[0].summary.get("optimizer", {}).get("kind"),
        "opt_state_format": opt_state.get("format") if isinstance(opt_state, dict) else None,
        "test_acc_mean": mean(acc), "test_acc_std": statistics.stdev(accs) if len(accs) > 1 else float("nan"),
        "shadow_test_acc": mean(shadow_acc),
        "train_acc_mean": mean(train_acc),
        "train_loss": mean([num(r.summary["final"]["train_loss"]) for r in rs]),
        "train_loss_gap": mean(gaps),
        "diverged_runs": sum(1 for r in rs if not math.isfinite(num(r.summary["final"]["train_loss"]))),
        "mean_grad_energy_lost": mean([num(t["mean_grad_energy_lost"]) for t in tot]),
        "mean_grad_zero_frac": mean([num(t["mean_grad_zero_frac"]) for t in tot]),
        "skipped_steps": mean([num(t["skipped_steps"]) for t in tot]),
        "nonfinite_grad_steps": mean([num(t["nonfinite_grad_steps"]) for t in tot]),
        "mean_lost_update_frac": mean([num(t["mean_lost_update_frac"]) for t in tot]),
        "mean_lost_update_frac_storage": mean([num(t["mean_lost_update_frac_storage"]) for t in tot]),
        "low_precision_layer_frac": mean([r.low_precision_frac() for r in rs]),
        "escalation_free_frac": mean([num(t["low_precision_layer_frac"]) for t in tot]),
        "switches": mean([num(t.get("switches", 0)) for t in tot]),
        "final_loss_scale": mean([num(t.get("final_loss_scale")) for t in tot]),
        "step_time_rel_fp32": mean(rel),
    }


def table_csv(rows):
    buf = io.StringIO()
    keys = [k for k, _ in COLUMNS] + ["train_loss", "diverged_runs", "switches", "final_loss_scale",
                                      "escalation_free_frac"]
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(keys)
    for r in rows:
        w.writerow(["" if isinstance(r[k], float) and math.isnan(r[k]) else (repr(r[k]) if isinstance(r[k], float) else r[k])
                    for k in keys])
    return buf.getvalue()


KINDS = {"train_acc_mean": "acc", "test_acc_mean": "acc", "test_acc_std": "acc", "shadow_test_acc": "acc", "train_loss_gap": "gap",
         "step_time_rel_fp32": "rel", "mean_grad_zero_frac": "frac", "mean_lost_update_frac": "frac",
         "mean_lost_update_frac_storage": "frac", "low_precision_layer_frac": "frac", "mean_grad_energy_lost": "frac"}


def md_cell(r, k):
    v = r[k]
    if k == "train_loss_gap" and r.get("diverged_runs"):
        return f"diverged ({r['diverged_runs']}/{r['seeds']})"
    if k in ("skipped_steps", "nonfinite_grad_steps") and isinstance(v, float) and v == int(v):
        v = int(v)
    return fmt_num(v, KINDS.get(k, "g"))


def table_md_models(rows, model_keys):
    out = []
    cols = [c for c in COLUMNS if c[0] not in ("model", "data")]
    for mk in model_keys:
        mrows = [r for r in rows if f"{r['model']}:{r['data']}" == mk]
        if not mrows:
            continue
        out.append(f"### {mk.replace(':', ' on ')}\n")
        out.append("| " + " | ".join(h for _, h in cols) + " |")
        out.append("|" + "---|" * len(cols))
        for r in mrows:
            out.append("| " + " | ".join(md_cell(r, k) for k, _ in cols) + " |")
        out.append("")
    return out


# ------------------------------------------------------------------ reproductions

def find(rows, model_key, policy):
    for r in rows:
        if f"{r['model']}:{r['data']}" == model_key and r["policy"] == policy:
            return r
    return None


def chaos_floor(rows, mk):
    """The spread of the FP64 shadows' test accuracies over a model's policies.
    Every shadow is the same float64 training, started from the policy's stored
    initial weights (the fp32 ones, or rounded to f16/bf16): the spread is what
    a rounding-sized change of the start alone does to the end (large for a
    transformer that groks)."""
    acc = [r["shadow_test_acc"] for r in rows if f"{r['model']}:{r['data']}" == mk
           and math.isfinite(r["shadow_test_acc"])]
    return max(acc) - min(acc) if acc else 0.0


def tol(*rs):
    """An accuracy difference within noise: 2 std of the seeds, the model's
    shadow spread (chaos_floor), at least 0.01."""
    s = [r["test_acc_std"] for r in rs if r and not math.isnan(r["test_acc_std"])]
    floor = [r["chaos_floor"] for r in rs if r and "chaos_floor" in r]
    return max([0.01] + [2 * x for x in s] + floor)


def verdict(case, rows, mk):
    """(observed text, reproduced: True/False/None) for one model."""
    g = lambda p: find(rows, mk, p)  # noqa: E731
    acc = lambda r: r["test_acc_mean"]  # noqa: E731
    def div(r):
        if not r or not r["diverged_runs"]:
            return ""
        why = ""
        if r["optimizer"] in ("adam", "adamw") and r["opt_state_format"] == "f16":
            why = "; Adam's state in f16: v = g² underflows and eps = 1e-8 rounds to 0, so m/(√v + eps) is inf"
        return f" (diverged in {r['diverged_runs']}/{r['seeds']} seeds{why})"

    if case == "micikevicius2017":
        f32, nv, st, amp = g("fp32"), g("fp16-naive"), g("fp16-static"), g("fp16-amp")
        if not (f32 and nv and amp):
            return None, None
        txt = (f"grad zero frac naive {nv['mean_grad_zero_frac']:.3g} vs amp {amp['mean_grad_zero_frac']:.3g}"
               + (f" vs static {st['mean_grad_zero_frac']:.3g}" if st else "")
               + f"; energy lost naive {nv['mean_grad_energy_lost']:.3g} vs amp {amp['mean_grad_energy_lost']:.3g}"
               + f"; test acc fp32 {acc(f32):.4f}, naive {acc(nv):.4f}{div(nv)}, "
               + (f"static {acc(st):.4f}{div(st)}, " if st else "") + f"amp {acc(amp):.4f}{div(amp)}")
        underflow = (nv["mean_grad_zero_frac"] > amp["mean_grad_zero_frac"] or
                     nv["mean_grad_energy_lost"] > amp["mean_grad_energy_lost"])
        amp_ok = abs(acc(amp) - acc(f32)) <= tol(amp, f32) and not amp["diverged_runs"]
        if nv["diverged_runs"]:
            txt += "; naive fp16 diverges"
        elif acc(f32) - acc(nv) > tol(nv, f32):
            txt += "; naive fp16 loses accuracy"
        else:
            txt += "; naive fp16 still reaches fp32 accuracy here (within noise)"
        return txt, {"underflow": underflow, "amp matches fp32": amp_ok}
    if case == "master_weights":
        nv, ms, bp, bsr, f32 = g("fp16-naive"), g("fp16-master"), g("bf16-pure"), g("bf16-pure-sr"), g("fp32")
        if not (nv and ms):
            return None, None
        txt = (f"lost updates fp16-naive {nv['mean_lost_update_frac']:.3g}, fp16-master (f32 master) "
               f"{ms['mean_lost_update_frac']:.3g} vs {ms['mean_lost_update_frac_storage']:.3g} had it stored in f16; "
               f"test acc naive {acc(nv):.4f}{div(nv)}, master {acc(ms):.4f}{div(ms)}")
        ok = {"f32 master keeps updates": ms["mean_lost_update_frac"] < ms["mean_lost_update_frac_storage"]
              and nv["mean_lost_update_frac"] > 0}
        if bp and bsr:
            txt += (f"; bf16-pure lost {bp['mean_lost_update_frac']:.3g}, acc {acc(bp):.4f}, loss gap "
                    f"{bp['train_loss_gap']:+.3g}{div(bp)}; bf16-pure-sr lost {bsr['mean_lost_update_frac']:.3g}, acc "
                    f"{acc(bsr):.4f}, loss gap {bsr['train_loss_gap']:+.3g}{div(bsr)}")
            if f32:
                txt += f" (fp32 {acc(f32):.4f})"
            ok["sr closer to fp64 than rne"] = abs(bsr["train_loss_gap"]) <= abs(bp["train_loss_gap"])
        return txt, ok
    if case == "kalamkar2019":
        f32, bf = g("fp32"), g("bf16-amp")
        if not (f32 and bf):
            return None, None
        d = acc(bf) - acc(f32)
        txt = (f"test acc bf16-amp {acc(bf):.4f} vs fp32 {acc(f32):.4f} ({d:+.4f}); loss gap to FP64 "
               f"{bf['train_loss_gap']:+.3g} vs {f32['train_loss_gap']:+.3g}; no loss scaling, "
               f"{bf['skipped_steps']:.3g} skipped steps, {bf['nonfinite_grad_steps']:.3g} non-finite gradients")
        return txt, abs(d) <= tol(bf, f32)
    if case == "micikevicius2022":
        bf, hy, cu, un = g("bf16-amp"), g("fp8-hybrid"), g("fp8-current"), g("fp8-unscaled")
        if not (bf and hy and cu and un):
            return None, None
        txt = (f"test acc bf16-amp {acc(bf):.4f}, fp8-hybrid {acc(hy):.4f}, fp8-current {acc(cu):.4f}, fp8-unscaled "
               f"{acc(un):.4f}; grad zero frac hybrid {hy['mean_grad_zero_frac']:.3g}, current "
               f"{cu['mean_grad_zero_frac']:.3g}, unscaled {un['mean_grad_zero_frac']:.3g}")
        scaled_ok = abs(acc(hy) - acc(bf)) <= tol(hy, bf) and abs(acc(cu) - acc(bf)) <= tol(cu, bf)
        unscaled_worse = acc(bf) - acc(un) > tol(un, bf) or un["train_loss_gap"] > max(hy["train_loss_gap"], cu["train_loss_gap"])
        return txt, {"scaled fp8 matches bf16": scaled_ok, "unscaled fp8 worse": unscaled_worse}
    if case == "block_scaling":
        bf, m8, m4, n4 = g("bf16-amp"), g("mxfp8"), g("mxfp4"), g("nvfp4")
        if not (bf and m8 and m4 and n4):
            return None, None
        txt = (f"test acc bf16-amp {acc(bf):.4f}, mxfp8 {acc(m8):.4f}, mxfp4 {acc(m4):.4f}, nvfp4 {acc(n4):.4f}; "
               f"loss gap {bf['train_loss_gap']:+.3g} / {m8['train_loss_gap']:+.3g} / {m4['train_loss_gap']:+.3g} / "
               f"{n4['train_loss_gap']:+.3g}")
        ok = {"mxfp8 matches bf16": abs(acc(m8) - acc(bf)) <= tol(m8, bf),
              "fp4 loss gap above mxfp8's": min(m4["train_loss_gap"], n4["train_loss_gap"]) >= m8["train_loss_gap"]}
        return txt, ok
    if case == "schedules":
        f32, cu, pr, lw, nv, dy = g("fp32"), g("fp8-current"), g("progressive"), g("layerwise"), g("fp16-naive"), g("dynamic")
        if not (f32 and cu):
            return None, None
        parts = [f"test acc fp32 {acc(f32):.4f}, fp8-current {acc(cu):.4f} (loss gap {cu['train_loss_gap']:+.3g})"]
        for name, r in (("progressive", pr), ("layerwise", lw)):
            if r:
                parts.append(f"{name} {acc(r):.4f} (loss gap {r['train_loss_gap']:+.3g}, low-precision layers "
                             f"{r['low_precision_layer_frac']:.2f})")
        if nv and dy:
            parts.append(f"fp16-naive {acc(nv):.4f} -> dynamic {acc(dy):.4f} ({dy['switches']:.3g} switches, "
                         f"low-precision layers {dy['low_precision_layer_frac']:.2f})")
        ok = None
        if pr and lw:
            ok = min(pr["train_loss_gap"], lw["train_loss_gap"]) <= cu["train_loss_gap"]
        return "; ".join(parts), ok
    if case == "overflow":
        amp, ov = g("fp16-amp"), g("overflow")
        if not ov:
            return None, None
        txt = (f"overflow: {ov['skipped_steps']:.3g} skipped steps, final scale {ov['final_loss_scale']:.4g}, test acc "
               f"{acc(ov):.4f}" + (f" vs fp16-amp {acc(amp):.4f} ({amp['skipped_steps']:.3g} skipped)" if amp else ""))
        return txt, ov["skipped_steps"] >= 1
    return None, None


def reproductions(rows, model_keys):
    for mk in model_keys:
        floor = chaos_floor(rows, mk)
        for r in rows:
            if f"{r['model']}:{r['data']}" == mk:
                r["chaos_floor"] = floor
    out = []
    for case, source, claim, policies in REPRODUCTIONS:
        per = {}
        for mk in model_keys:
            txt, ok = verdict(case, rows, mk)
            if txt is None:
                continue
            per[mk] = {"observed": txt, "reproduced": ok,
                       "rows": {p: find(rows, mk, p) for p in policies if find(rows, mk, p)}}
        out.append({"name": case, "source": source, "claim": claim, "policies": policies, "models": per})
    return out


def reproductions_md(reps):
    chaos_floor_of = {}
    for rep in reps:
        for mk, m in rep["models"].items():
            for r in m["rows"].values():
                chaos_floor_of[mk] = r.get("chaos_floor", 0.0)
    out = ["## Reproductions", "",
           "\"reproduced\" is a mechanical check of the claim on these small networks; read the numbers. Accuracy "
           "differences count as equal within the noise: 2 std of the seeds, at least 0.01, and at least the model's "
           "shadow spread (max − min of the FP64 shadows' test accuracy over the policies: the same float64 training "
           "started from the policy's stored initial weights, so the spread is what a rounding-sized change of the "
           "start alone does): " + ", ".join(f"{mk.replace(':', ' on ')} {chaos_floor_of.get(mk, 0):.4f}"
                                              for mk in chaos_floor_of) + ".", ""]
    for rep in reps:
        out.append(f"### {rep['name']}: {rep['source']}\n")
        out.append(f"Claim: {rep['claim']}\n")
        if not rep["models"]:
            out.append("(no model ran the policies it needs)\n")
            continue
        pols = rep["policies"]
        out.append("| model | " + " | ".join(pols) + " | reproduced |")
        out.append("|---|" + "---|" * (len(pols) + 1))
        for mk, m in rep["models"].items():
            cells = []
            for p in pols:
                r = m["rows"].get(p)
                cells.append("—" if not r else f"{r['test_acc_mean']:.4f} ({fmt_num(r['train_loss_gap'], 'gap')})")
            yn = {True: "yes", False: "no", None: "—"}
            rp = m["reproduced"]
            ok = "; ".join(f"{k}: {yn[v]}" for k, v in rp.items()) if isinstance(rp, dict) else yn[rp]
            if any(r["seeds"] == 1 for r in m["rows"].values()):
                ok += " (1 seed)"
            out.append(f"| {mk.replace(':', ' on ')} | " + " | ".join(cells) + f" | {ok} |")
        out.append("")
        out.append("Cells: test accuracy (loss gap to the FP64 shadow).\n")
        for mk, m in rep["models"].items():
            out.append(f"- {mk.replace(':', ' on ')}: {m['observed']}")
        out.append("")
    return out


# ------------------------------------------------------------------ plots

def grid(n, w, h):
    """A figure with n panels, two per row; the axes in order."""
    import matplotlib.pyplot as plt

    cols = min(2, n)
    rows = (n + cols - 1) // cols
    # One panel (--quick, --models X) gets the width of two: the figure
    # legends and titles below and above the panels need it.
    fig, axes = plt.subplots(rows, cols, figsize=(max(w * cols, 2 * w), h * rows + (0.8 if n == 1 else 0)),
                             squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def smooth(xs, k=0.6):
    out, s = [], None
    for x in xs:
        if not math.isfinite(x):
            out.append(x)
            continue
        s = x if s is None else k * s + (1 - k) * x
        out.append(s)
    return out


def first_seed_run(runs_by_key, mk, policy, seeds):
    m, d = mk.split(":")
    for s in seeds:
        r = runs_by_key.get((m, d, policy, s))
        if r:
            return r
    return None


def mean_series(runs_by_key, mk, policy, seeds, col):
    m, d = mk.split(":")
    rs = [runs_by_key[(m, d, policy, s)] for s in seeds if (m, d, policy, s) in runs_by_key]
    if not rs:
        return None, None
    x = rs[0].steps_csv["step"]
    ys = [r.steps_csv[col] for r in rs if len(r.steps_csv[col]) == len(x)]
    return x, [sum(v) / len(v) for v in zip(*ys)]


def plot_loss_curves(path, model_keys, policies, runs_by_key, seeds_of):
    import matplotlib.pyplot as plt

    fig, axes = grid(len(model_keys), 6.4, 4.6)
    cmap = plt.cm.tab20
    for ax, mk in zip(axes, model_keys):
        pols = [p for p in policies if first_seed_run(runs_by_key, mk, p, seeds_of[mk])]
        for i, p in enumerate(pols):
            x, y = mean_series(runs_by_key, mk, p, seeds_of[mk], "loss")
            ax.plot(x, smooth(y), color=cmap(i % 20), linewidth=1.0, label=p,
                    linestyle="-" if i < 20 else "--")
        x, y = mean_series(runs_by_key, mk, "fp32", seeds_of[mk], "loss_fp64")
        if x:
            ax.plot(x, smooth(y), color="black", linewidth=2.0, linestyle=":", label="FP64 shadow (of fp32)")
        ax.set_yscale("log")
        ax.set_title(f"{mk.replace(':', ' on ')} ({len(seeds_of[mk])} seed(s), EMA-smoothed)", fontsize=10)
        ax.set_xlabel("step")
        ax.set_ylabel("training loss (batch)")
        ax.grid(alpha=0.3, which="both")
    h, lab = axes[0].get_legend_handles_labels()
    fig.legend(h, lab, loc="lower center", ncol=min(8, len(lab)), fontsize=8)
    one_row = 1.5 if len(model_keys) <= 2 else 1.0  # a shorter figure: the legend takes a larger share
    fig.tight_layout(rect=(0, (0.03 + 0.025 * ((len(lab) + 7) // 8)) * one_row, 1, 1))
    atomic_savefig(fig, path)


def summed_hist(runs, role):
    acc = {}
    total = 0
    for r in runs:
        for rec in r.hist.values():
            h = rec.get(role)
            if not h:
                continue
            ex, cnt = hist_series(h)
            scale = rec.get("loss_scale", 1.0) or 1.0
            sh = math.log2(scale)
            for e, c in zip(ex, cnt):
                acc[e - sh] = acc.get(e - sh, 0) + c
            total += sum(cnt) + h.get("zeros", 0) + h.get("nonfinite", 0)
    return acc, total


def plot_grad_hist(path, model_keys, runs_by_key, seeds_of, shift_log2):
    import matplotlib.pyplot as plt

    fmts = [("f16", "tab:red"), ("bf16", "tab:blue"), ("e4m3fn", "tab:green"), ("e5m2", "tab:orange")]
    fig, axes = grid(len(model_keys), 6.6, 4.6)
    for ax, mk in zip(axes, model_keys):
        m, d = mk.split(":")
        runs = [runs_by_key[(m, d, "fp32", s)] for s in seeds_of[mk] if (m, d, "fp32", s) in runs_by_key]
        if not runs:
            ax.set_visible(False)
            continue
        acc, total = summed_hist(runs, "activation_gradients")
        if not acc or not total:
            continue
        ex = sorted(acc)
        fr = [acc[e] / total for e in ex]
        ex2, fr2 = ex + [ex[-1] + 1], fr + [0.0]
        ax.plot(ex2, fr2, drawstyle="steps-post", color="black", linewidth=1.5, label="fp32 run: activation gradients")
        sh = shift_log2.get(mk, 16)
        ax.plot([e + sh for e in ex2], fr2, drawstyle="steps-post", color="grey", linewidth=1.2, linestyle="--",
                label=f"the same ×2^{sh:g} (loss scale)")
        top = max(fr) * 1.05
        lo = min(min(ex), math.log2(FORMAT_LIMITS["f16"][2])) - 6
        x0, x1 = max(lo, -80), max(max(ex) + sh + 2, 18)
        for i, (name, col) in enumerate(fmts):
            fmax, fn, fs = FORMAT_LIMITS[name]
            y = top * (1.06 + 0.07 * i)
            ax.plot([math.log2(fn), math.log2(fmax)], [y, y], color=col, linewidth=5, solid_capstyle="butt",
                    label=f"{name} normal")
            ax.plot([math.log2(fs), math.log2(fn)], [y, y], color=col, linewidth=2, alpha=0.6,
                    solid_capstyle="butt", label=f"{name} subnormal")
            if math.log2(fs) - 0.5 > x0 + 4:  # the name left of the bar, else at the axis' left edge
                ax.text(math.log2(fs) - 0.5, y, name, ha="right", va="center", fontsize=7, color=col)
            else:
                ax.text(x0 + 0.5, y + 0.025 * top, name + " (beyond the left edge)", ha="left", va="bottom",
                        fontsize=7, color=col)
        ax.axvline(math.log2(5.960464477539063e-08), color="tab:red", linestyle=":", linewidth=1)
        ax.set_xlim(x0, x1)
        ax.set_ylim(0, top * 1.06 + 0.07 * top * len(fmts) + 0.05 * top)
        under = sum(f for e, f in zip(ex, fr) if e < math.log2(5.960464477539063e-08))
        ax.set_title(f"{mk.replace(':', ' on ')}: {under:.1%} below f16's smallest subnormal", fontsize=10)
        ax.set_xlabel("log2 |activation gradient|")
        ax.set_ylabel("fraction of values (all histogram steps, seeds)")
        ax.grid(alpha=0.3)
    h, lab = axes[0].get_legend_handles_labels()
    fig.legend(h, lab, loc="lower center", ncol=5, fontsize=8)
    fig.suptitle("Activation-gradient magnitudes of the fp32 runs and format windows (after Micikevicius et al. 2017, "
                 "Fig. 3)\nbars: normal (thick) and subnormal (thin) ranges; dotted: f16's smallest subnormal",
                 fontsize=10)
    rows = (len(model_keys) + 1) // 2
    fig.tight_layout(rect=(0, 0.16 / rows, 1, 1 - 0.08 / rows))
    atomic_savefig(fig, path)


def plot_lost_updates(path, model_keys, runs_by_key, seeds_of):
    import matplotlib.pyplot as plt

    spec = [("fp16-naive", "lost_update_frac", "tab:red", "-", "fp16-naive (no master)"),
            ("fp16-master", "lost_update_frac", "tab:blue", "-", "fp16-master: f32 master"),
            ("fp16-master", "lost_update_frac_storage", "tab:blue", "--", "fp16-master: had it been stored in f16"),
            ("bf16-pure", "lost_update_frac", "tab:green", "-", "bf16-pure (no master, rne)"),
            ("bf16-pure-sr", "lost_update_frac", "tab:olive", "-", "bf16-pure-sr (no master, sr)"),
            ("fp32", "lost_update_frac", "black", ":", "fp32")]
    fig, axes = grid(len(model_keys), 6.2, 4.0)
    for ax, mk in zip(axes, model_keys):
        for pol, col, colour, ls, lab in spec:
            x, y = mean_series(runs_by_key, mk, pol, seeds_of[mk], col)
            if x:
                ax.plot(x, y, color=colour, linestyle=ls, linewidth=1.3, label=lab)
        ax.set_title(mk.replace(":", " on "), fontsize=10)
        ax.set_xlabel("step")
        ax.set_ylabel("fraction of nonzero updates lost")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    h, lab = axes[0].get_legend_handles_labels()
    fig.legend(h, lab, loc="lower center", ncol=3, fontsize=8)
    fig.suptitle("Lost updates: w + Δw rounds back to w (mean over seeds, logged steps)", fontsize=11)
    one_row = 1.5 if len(model_keys) <= 2 else 1.0
    fig.tight_layout(rect=(0, 0.08 * one_row, 1, 1 - 0.04 * one_row))
    atomic_savefig(fig, path)


def plot_loss_scale(path, model_keys, runs_by_key, seeds_of):
    import matplotlib.pyplot as plt

    spec = [("fp16-amp", "tab:blue", "-"), ("apex-o2", "tab:green", "--"), ("overflow", "tab:red", "-"),
            ("fp16-static", "grey", ":")]
    fig, axes = grid(len(model_keys), 6.2, 3.8)
    for ax, mk in zip(axes, model_keys):
        for pol, colour, ls in spec:
            r = first_seed_run(runs_by_key, mk, pol, seeds_of[mk])
            if not r:
                continue
            x, s, k = r.steps_csv["step"], r.steps_csv["loss_scale"], r.steps_csv["skipped"]
            ax.plot(x, s, drawstyle="steps-post", color=colour, linestyle=ls, linewidth=1.4,
                    label=f"{pol} ({r.summary['totals']['skipped_steps']} skipped)")
            sk = [(a, b) for a, b, c in zip(x, s, k) if c > 0]
            if sk:
                ax.scatter([a for a, _ in sk], [b for _, b in sk], marker="x", color=colour, s=18)
        ax.set_yscale("log", base=2)
        ax.set_title(f"{mk.replace(':', ' on ')} (seed {seeds_of[mk][0]}; x: skipped logged step)", fontsize=10)
        ax.set_xlabel("step")
        ax.set_ylabel("loss scale")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_savefig(fig, path)


# ------------------------------------------------------------------ main

def parse_models(text):
    known = {f"{m[0]}:{m[1]}": m for m in MODELS}
    out = []
    for item in text.split(","):
        item = item.strip()
        if item not in known:
            raise DriverError(f"--models: unknown '{item}' (known: {', '.join(known)})")
        out.append(known[item])
    return out


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--floatscope", default=os.path.join("build", "cli", "floatscope"), help="the floatscope binary")
    ap.add_argument("--out", default=os.path.join("results", "training_compare"), help="output folder")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="runs at a time (default: nproc)")
    ap.add_argument("--quick", action="store_true", help="a smoke run (well under a minute): mlp on digits only, 150 steps, 1 seed")
    ap.add_argument("--seeds", type=int, help="seeds per model (default: the plan's)")
    ap.add_argument("--steps", type=int, help="steps for every model (default: the plan's)")
    ap.add_argument("--models", help="comma-separated model:data list (default: all four)")
    a = ap.parse_args(argv)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        if a.jobs < 1:
            raise DriverError("--jobs must be >= 1")
        if a.seeds is not None and not 1 <= a.seeds <= 100:
            raise DriverError("--seeds must be 1..100")
        if a.steps is not None and not 1 <= a.steps <= 1000000:
            raise DriverError("--steps must be 1..1000000")
        return run(a)
    except DriverError as e:
        say(str(e))
        return 1
    except KeyboardInterrupt:
        say("interrupted")
        return 130


def run(a):
    t_start = time.monotonic()
    rev = git_revision()  # the revision the runs start from (HEAD may move while they run)
    exe = os.path.abspath(a.floatscope)
    if not os.path.isfile(exe) or not os.access(exe, os.X_OK):
        raise DriverError(f"no floatscope binary at {a.floatscope} (build it: ninja -C build cli/floatscope, "
                          f"or pass --floatscope)")
    mode = "quick" if a.quick else "default"
    names = presets(exe)
    models = (parse_models(a.models) if a.models
              else [m for m in MODELS if f"{m[0]}:{m[1]}" in PLAN[mode]])
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)

    # Models the binary does not know (yet) are reported and left out.
    skipped_models = {}
    with tempfile.TemporaryDirectory(prefix="training_compare_probe") as tmp:
        live = []
        for m in models:
            err = probe(exe, m[0], m[1], tmp)
            if err is None:
                live.append(m)
            else:
                skipped_models[f"{m[0]}:{m[1]}"] = err
                say(f"model {m[0]} on {m[1]} left out: floatscope says: {err}")
    if not live:
        raise DriverError("no model could be trained (see above)")

    runs, plan, seeds_of, policies_json = [], {}, {}, {}
    all_policies = []
    for m, d, opt, lr, wd, cost in live:
        mk = f"{m}:{d}"
        steps, nseeds = PLAN["default"][mk]
        if mode == "quick":  # a model --quick does not plan: a fifth of the steps, one seed
            steps, nseeds = PLAN["quick"].get(mk, (max(1, steps // 5), 1))
        steps = a.steps or steps
        nseeds = a.seeds or nseeds
        extras = extra_policies(steps)
        pols = names + list(extras)
        seeds = list(range(1, nseeds + 1))
        seeds_of[mk] = seeds
        plan[mk] = {"model": m, "data": d, "steps": steps, "seeds": seeds, "optimizer": opt, "lr": lr,
                    "weight_decay": wd, "batch": BATCH, "log_every": log_every(steps),
                    "hist_every": hist_every(steps), "policies": pols}
        policies_json[mk] = {p: extras[p] for p in pols if p in extras}
        for p in pols:
            if p not in all_policies:
                all_policies.append(p)
            spec = json.dumps(extras[p], separators=(",", ":")) if p in extras else p
            for s in seeds:
                runs.append(Run(m, d, opt, lr, wd, cost, p, spec, steps, s, out))

    say(f"{mode}: {len(runs)} runs ({len(live)} model(s), {len(all_policies)} policies), {a.jobs} at a time, into {out}")
    prog = Progress(sum(r.cost for r in runs), len(runs))
    # Longest first; every run writes only its own folder.
    order = sorted(runs, key=lambda r: (-r.cost, r.key))
    failure = None
    with cf.ThreadPoolExecutor(max_workers=a.jobs) as pool:
        futs = {pool.submit(r.execute, exe): r for r in order}
        try:
            for f in cf.as_completed(futs):
                try:
                    f.result()
                except DriverError as e:
                    if failure is None:
                        failure = e
                        for g in futs:
                            g.cancel()
                        stop_all()
                    continue
                prog.update(futs[f])
        except KeyboardInterrupt:
            for g in futs:
                g.cancel()
            stop_all()
            raise
    prog.finish()
    if failure:
        raise failure
    t_runs = time.monotonic() - t_start
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_runs = ru.ru_utime + ru.ru_stime  # CPU seconds of every `floatscope train` (other load does not count)

    runs_by_key = {r.key: r for r in runs}
    model_keys = list(plan)
    rows = []
    for mk in model_keys:
        m, d = mk.split(":")
        for p in plan[mk]["policies"]:
            row = aggregate(runs_by_key, m, d, p, seeds_of[mk])
            if row:
                rows.append(row)
    reps = reproductions(rows, model_keys)

    atomic_write(os.path.join(out, "table.csv"), table_csv(rows))

    import matplotlib

    matplotlib.use("Agg")
    shift = {}
    for mk in model_keys:
        r = first_seed_run(runs_by_key, mk, "fp16-amp", seeds_of[mk])
        shift[mk] = math.log2(r.summary["totals"]["final_loss_scale"]) if r else 16.0
    plot_loss_curves(os.path.join(out, "loss_curves.png"), model_keys, all_policies, runs_by_key, seeds_of)
    plot_grad_hist(os.path.join(out, "grad_hist.png"), model_keys, runs_by_key, seeds_of, shift)
    plot_lost_updates(os.path.join(out, "lost_updates.png"), model_keys, runs_by_key, seeds_of)
    plot_loss_scale(os.path.join(out, "loss_scale.png"), model_keys, runs_by_key, seeds_of)
    runtime = time.monotonic() - t_start

    mach = machine()
    simd = next(iter(runs)).summary.get("simd_target")
    md = [f"# Training comparison ({mode})", "",
          f"`experiments/training_compare.py{' --quick' if a.quick else ''}` at {rev}, {mach['cpus']} CPU(s) "
          f"({mach['cpu']}, SIMD {simd}), {a.jobs} job(s): {len(runs)} runs in {t_runs:.0f} s, "
          f"{runtime:.0f} s with the plots; the runs took {cpu_runs:.0f} CPU-seconds (1-minute load average at the "
          f"end: {mach['loadavg_1min']:.1f}).", ""]
    for mk in model_keys:
        pl = plan[mk]
        md.append(f"- {mk.replace(':', ' on ')}: {pl['steps']} steps, batch {pl['batch']}, {pl['optimizer']} lr "
                  f"{pl['lr']:g}" + (f", weight decay {pl['weight_decay']:g}" if pl["weight_decay"] else "")
                  + f", seeds {', '.join(map(str, pl['seeds']))}")
    for mk, err in skipped_models.items():
        md.append(f"- {mk.replace(':', ' on ')}: left out: {err}")
    md += ["", "Policy files beside the presets: " + "; ".join(f"`{k}`: {v}" for k, v in EXTRA_DESCRIPTIONS.items()),
           "", "Columns: test accuracy at the end (mean over seeds ± sample std); the FP64 shadow's; loss gap = final "
           "train-set loss minus the shadow's; gradient energy lost and zero fraction (gradient elements nonzero "
           "before rounding that became zero), means over logged steps; skipped and non-finite-gradient steps (mean "
           "over seeds); lost updates of the master (or of the stored weights when there is no master) and had the "
           "update been stored in the weights' format alone; share of layer-steps in low precision; mean step time "
           "relative to fp32 of the same model and seed (measured with the other runs beside it: noisy).", "",
           "## Results", ""]
    md += table_md_models(rows, model_keys)
    md += reproductions_md(reps)
    atomic_write(os.path.join(out, "table.md"), "\n".join(md) + "\n")

    doc = {
        "experiment": "training_compare",
        "mode": mode,
        "settings": {"floatscope": exe, "jobs": a.jobs, "plan": plan, "policy_files": policies_json,
                     "policy_descriptions": EXTRA_DESCRIPTIONS},
        "git_revision": rev,
        "machine": dict(mach, simd_target=simd),
        "runtime_s": {"runs": t_runs, "total": runtime, "cpu_runs": cpu_runs},
        "skipped_models": skipped_models,
        "rows": rows,
        "reproductions": reps,
        "runs": [{"model": r.model, "data": r.data, "policy": r.policy, "seed": r.seed,
                  "dir": os.path.relpath(r.dir, out), "summary": r.summary}
                 for r in sorted(runs, key=lambda r: r.key)],
    }
    atomic_write(os.path.join(out, "compare.json"), json.dumps(finite_json(doc), indent=1, allow_nan=False) + "\n")
    say(f"done: {len(runs)} runs, {runtime:.0f} s; {os.path.join(out, 'table.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
