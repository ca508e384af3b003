"""experiments/training_compare.py --quick and the `floatscope train`
contract around it: every output is written (atomically: no temporary files
left); fp64 is its own FP64 shadow (loss gap exactly 0); fp16 without loss
scaling loses more gradient than fp16-amp; an f32 master keeps updates that
f16 storage would lose; the overflow case skips steps; the table does not
depend on --jobs; bad models, data, policies, policy JSON and --steps give
one error line and exit 2; `floatscope train` with plots on draws loss.png,
gradients.png and loss_scale.png; analysis/plot_train.py renders a run (also
with --floatscope) and fails with one line on a missing or malformed one."""
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FLOATSCOPE = os.environ.get("FLOATSCOPE")
if not FLOATSCOPE or not os.access(FLOATSCOPE, os.X_OK):
    raise RuntimeError("set FLOATSCOPE to the floatscope binary (meson test does this)")
ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "experiments" / "training_compare.py"
PLOT = ROOT / "analysis" / "plot_train.py"
FILES = ["table.csv", "table.md", "compare.json", "loss_curves.png", "grad_hist.png", "lost_updates.png",
         "loss_scale.png"]
REPRODUCTIONS = ["micikevicius2017", "master_weights", "kalamkar2019", "micikevicius2022", "block_scaling",
                 "schedules", "overflow"]
# Measured columns: the rest of table.csv must not depend on --jobs.
TIMING = {"step_time_rel_fp32"}


def driver(out, *extra, timeout=300):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, str(DRIVER), "--floatscope", FLOATSCOPE, "--out", str(out), *extra],
                          capture_output=True, text=True, timeout=timeout, env=env)


def presets():
    p = subprocess.run([FLOATSCOPE, "train", "--help"], capture_output=True, text=True, timeout=60)
    line = p.stdout[p.stdout.index("Preset (") + len("Preset ("):]
    return line[:line.index(")")].split()


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("tc") / "quick"
    p = driver(out, "--quick", "--jobs", "2")
    assert p.returncode == 0, p.stderr[-3000:]
    doc = json.loads((out / "compare.json").read_text())
    with open(out / "table.csv", newline="") as f:
        rows = {(r["model"], r["data"], r["policy"]): r for r in csv.DictReader(f)}
    return out, p, doc, rows


def run_summary(doc, model, data, policy, seed=1):
    for r in doc["runs"]:
        if (r["model"], r["data"], r["policy"], r["seed"]) == (model, data, policy, seed):
            return r["summary"]
    raise AssertionError(f"no run {model}/{data}/{policy}/seed{seed}")


def test_every_file_is_written_and_no_temporary_is_left(quick):
    out, p, doc, rows = quick
    for name in FILES:
        f = out / name
        assert f.is_file() and f.stat().st_size > 0, name
        if name.endswith(".png"):
            assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert not [f.name for f in out.iterdir() if f.name.startswith(".")]
    assert "ETA" in p.stderr and "done:" in p.stderr
    md = (out / "table.md").read_text()
    assert "## Reproductions" in md
    for name in REPRODUCTIONS:
        assert f"### {name}" in md, name


def test_compare_json_holds_settings_and_every_run(quick):
    out, _, doc, rows = quick
    assert doc["experiment"] == "training_compare" and doc["mode"] == "quick"
    assert doc["git_revision"] and doc["machine"]["cpus"] >= 1 and doc["runtime_s"]["total"] > 0
    assert [r["name"] for r in doc["reproductions"]] == REPRODUCTIONS
    plan = doc["settings"]["plan"]
    assert "mlp:digits" in plan and plan["mlp:digits"]["seeds"] == [1]
    assert plan["mlp:digits"]["policies"][:len(presets())] == presets()
    n = sum(len(p["policies"]) * len(p["seeds"]) for p in plan.values())
    assert len(doc["runs"]) == n
    for r in doc["runs"]:
        assert (out / r["dir"] / "summary.json").is_file()
        assert r["summary"]["steps"] == plan[f"{r['model']}:{r['data']}"]["steps"]
    # every preset and policy file on mlp/digits has its row
    for pol in presets() + ["progressive", "layerwise", "dynamic", "overflow"]:
        assert ("mlp", "digits", pol) in rows, pol


def test_fp64_is_its_own_shadow(quick):
    _, _, doc, rows = quick
    s = run_summary(doc, "mlp", "digits", "fp64")
    assert s["final"]["train_loss"] == s["shadow"]["train_loss"]
    assert s["final"]["test_acc"] == s["shadow"]["test_acc"]
    assert float(rows[("mlp", "digits", "fp64")]["train_loss_gap"]) == 0.0


def test_fp16_naive_loses_more_gradient_than_amp(quick):
    _, _, _, rows = quick
    nv, amp = rows[("mlp", "digits", "fp16-naive")], rows[("mlp", "digits", "fp16-amp")]
    assert (float(nv["mean_grad_zero_frac"]) > float(amp["mean_grad_zero_frac"]) or
            float(nv["mean_grad_energy_lost"]) > float(amp["mean_grad_energy_lost"]))


def test_master_weights_keep_updates(quick):
    _, _, _, rows = quick
    ms, nv = rows[("mlp", "digits", "fp16-master")], rows[("mlp", "digits", "fp16-naive")]
    assert float(ms["mean_lost_update_frac"]) < float(ms["mean_lost_update_frac_storage"])
    assert float(nv["mean_lost_update_frac"]) > 0


def test_overflow_case_skips_steps(quick):
    _, _, doc, rows = quick
    assert float(rows[("mlp", "digits", "overflow")]["skipped_steps"]) >= 1
    assert run_summary(doc, "mlp", "digits", "overflow")["totals"]["skipped_steps"] >= 1
    rep = next(r for r in doc["reproductions"] if r["name"] == "overflow")
    assert rep["models"]["mlp:digits"]["reproduced"] is True


def test_layerwise_and_progressive_run_partly_in_high_precision(quick):
    _, _, _, rows = quick
    assert float(rows[("mlp", "digits", "layerwise")]["low_precision_layer_frac"]) == pytest.approx(1 / 3)
    assert 0.5 < float(rows[("mlp", "digits", "progressive")]["low_precision_layer_frac"]) < 1
    assert float(rows[("mlp", "digits", "fp32")]["low_precision_layer_frac"]) == 0


def test_table_does_not_depend_on_jobs(tmp_path):
    tables = []
    for jobs in ("1", "2"):
        p = driver(tmp_path / f"j{jobs}", "--models", "mlp:digits", "--steps", "20", "--seeds", "2", "--jobs", jobs)
        assert p.returncode == 0, p.stderr[-3000:]
        with open(tmp_path / f"j{jobs}" / "table.csv", newline="") as f:
            tables.append([{k: v for k, v in r.items() if k not in TIMING} for r in csv.DictReader(f)])
    assert tables[0] == tables[1]
    assert len(tables[0]) == len(presets()) + 4


@pytest.mark.parametrize("args,names", [
    (["--floatscope", "/nonexistent/floatscope"], ["no floatscope binary"]),
    (["--models", "resnet:imagenet"], ["resnet:imagenet"]),
    (["--jobs", "0"], ["--jobs"]),
])
def test_driver_errors_are_one_line_and_exit_1(tmp_path, args, names):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    argv = [sys.executable, str(DRIVER), "--out", str(tmp_path / "o")]
    if args[0] != "--floatscope":
        argv += ["--floatscope", FLOATSCOPE]
    p = subprocess.run(argv + args, capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("training_compare.py: "), p.stderr
    for n in names:
        assert n in p.stderr


@pytest.mark.parametrize("args,names", [
    (["--model", "resnet", "--data", "digits", "--policy", "fp32"], ["resnet"]),
    (["--model", "mlp", "--data", "imagenet", "--policy", "fp32"], ["imagenet"]),
    (["--model", "mlp", "--data", "digits", "--policy", "fp12-magic"], ["fp12-magic"]),
    (["--model", "mlp", "--data", "digits", "--policy", "{\"base\": \"fp32\","], ["json"]),
    (["--model", "mlp", "--data", "digits", "--policy", "{\"base\": \"fp32\", \"colour\": 1}"], ["colour"]),
    (["--model", "mlp", "--data", "digits", "--policy", "{\"base\": \"fp16-amp\", \"loss_scale\": {\"kind\": \"x\"}}"],
     ["loss_scale"]),
    (["--model", "mlp", "--data", "digits", "--policy", "/nonexistent/policy.json"], ["policy.json"]),
    (["--model", "transformer", "--data", "digits", "--policy", "fp32"], ["transformer"]),
])
def test_train_errors_are_one_line_and_exit_2(tmp_path, args, names):
    p = subprocess.run([FLOATSCOPE, "train", *args, "--steps", "2", "--plots", "off", "--quiet",
                        "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert p.stderr.endswith("\n") and p.stderr.count("\n") == 1, p.stderr
    assert p.stderr.startswith("floatscope: ")
    for n in names:
        assert n.lower() in p.stderr.lower(), (n, p.stderr)
    assert not (tmp_path / "o" / "summary.json").exists()


def test_plot_train_renders_a_run_and_fails_with_one_line(quick, tmp_path):
    out = quick[0]
    src = out / "runs" / "mlp_digits" / "overflow" / "seed1"
    run = tmp_path / "run"
    shutil.copytree(src, run)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    p = subprocess.run([sys.executable, str(PLOT), str(run)], capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    for name in ("loss.png", "gradients.png", "loss_scale.png"):
        assert (run / name).read_bytes()[:4] == b"\x89PNG", name
    assert not [f.name for f in run.iterdir() if f.name.startswith(".")]
    p = subprocess.run([sys.executable, str(PLOT), str(run), "--floatscope", FLOATSCOPE], capture_output=True,
                       text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr

    def fails(d, what):
        q = subprocess.run([sys.executable, str(PLOT), str(d)], capture_output=True, text=True, timeout=120, env=env)
        assert q.returncode == 1, (what, q.stderr)
        assert q.stderr.count("\n") == 1 and q.stderr.startswith("plot_train.py: "), (what, q.stderr)
        assert what in q.stderr, (what, q.stderr)

    fails(tmp_path / "missing", "missing")
    (run / "hist.json").write_text("{\"0\": {\"loss_scale\": 1}}")
    fails(run, "activation_gradients")
    (run / "hist.json").write_text("[1,")
    fails(run, "hist.json")
    (run / "summary.json").write_text("{}")
    fails(run, "summary.json")
    (run / "steps.csv").write_text("step,loss\n0,1\n")
    fails(run, "loss_fp64")
    (run / "steps.csv").unlink()
    fails(run, "steps.csv")


@pytest.mark.parametrize("steps,names", [("0", ["--steps"]), ("-3", ["--steps"]), ("abc", ["--steps"]),
                                         ("1e99", ["--steps"])])
def test_train_bad_steps_is_one_line_and_exit_2(tmp_path, steps, names):
    p = subprocess.run([FLOATSCOPE, "train", "--model", "mlp", "--data", "digits", "--policy", "fp32", "--steps", steps,
                        "--plots", "off", "--quiet", "--out", str(tmp_path / "o")], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert p.stderr.endswith("\n") and p.stderr.count("\n") == 1, p.stderr
    assert p.stderr.startswith("floatscope: ")
    for n in names:
        assert n in p.stderr, (n, p.stderr)
    assert not (tmp_path / "o" / "summary.json").exists()


def test_train_with_plots_on_draws_the_three_plots(tmp_path):
    """`floatscope train` (plots on, the default) runs analysis/plot_train.py on its output folder."""
    out = tmp_path / "amp"
    p = subprocess.run([FLOATSCOPE, "train", "--model", "mlp", "--data", "digits", "--policy", "fp16-amp",
                        "--steps", "30", "--hist-every", "10", "--quiet", "--out", str(out)],
                       capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    assert p.returncode == 0, p.stderr
    for name in ("loss.png", "gradients.png", "loss_scale.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    for name in ("steps.csv", "layers.csv", "summary.json", "hist.json", "switches.json"):
        assert (out / name).is_file(), name
    assert not [f.name for f in out.iterdir() if f.name.startswith(".")]
