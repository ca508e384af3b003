"""experiments/gemm_accuracy at a tiny size: its CSV and JSON parse, agree,
hold every (distribution, input, model, K) row, do not depend on the thread
count, and show the errors the models must show; bad options fail; the plot
script renders a PNG from the CSV."""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXE = os.environ["GEMM_ACCURACY"]
PLOT = Path(__file__).resolve().parents[2] / "experiments" / "plot_gemm_accuracy.py"
INPUTS = {"f16", "bf16", "e4m3fn", "e5m2"}
MODELS = {(acc, order) for acc in ("f32", "f16", "bf16") for order in ("sequential", "pairwise", "blocked-32")} | {
    ("f32", "hardware-F13-G32"), ("f32", "exact")}


def run(out, *extra):
    return subprocess.run([EXE, "--out", str(out), "--kmax", "256", "--tile", "4", *extra],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("ga")
    p = run(out, "--threads", "1", "--seed", "7")
    assert p.returncode == 0, p.stderr
    return out, p


def rows_of(out):
    with open(out / "gemm_accuracy.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_outputs_parse_and_agree(result):
    out, p = result
    rows = rows_of(out)
    doc = json.loads((out / "gemm_accuracy.json").read_text())
    assert doc["experiment"] == "gemm_accuracy" and doc["seed"] == 7 and doc["kmax"] == 256
    assert len(rows) == len(doc["rows"]) == 3 * 2 * 4 * len(MODELS)  # K = 16, 64, 256
    keys = {(r["distribution"], r["input"], r["accumulator"], r["order"], int(r["K"])) for r in rows}
    assert keys == {(d, i, a, o, k) for d in ("uniform", "normal") for i in INPUTS for (a, o) in MODELS
                    for k in (16, 64, 256)}
    for r, j in zip(rows, doc["rows"]):
        assert int(r["K"]) == j["K"] and r["order"] == j["order"]
        assert float(r["rel_err_fro"]) == pytest.approx(j["rel_err_fro"], rel=1e-5)
        assert int(r["samples"]) == 16
    assert "ETA" in p.stderr  # the progress line
    assert not list(out.glob(".*tmp*"))  # no temporary left behind


def test_errors_are_those_of_the_models(result):
    out, _ = result
    err = {(r["distribution"], r["input"], r["accumulator"], r["order"], int(r["K"])): float(r["rel_err_fro"])
           for r in rows_of(out)}
    u32, ubf = 2.0**-24, 2.0**-8
    for inp in INPUTS:
        # One rounding of an exact sum of positive terms: within u.
        assert err[("uniform", inp, "f32", "exact", 256)] <= u32
        # bf16 accumulation is far worse than f32, and sequential worse than pairwise at K = 256.
        assert err[("uniform", inp, "bf16", "sequential", 256)] > 100 * err[("uniform", inp, "f32", "sequential", 256)]
        assert err[("uniform", inp, "bf16", "sequential", 256)] > err[("uniform", inp, "bf16", "pairwise", 256)]
        assert err[("uniform", inp, "bf16", "sequential", 256)] < 256 * ubf
        # The truncating hardware model loses more than a correctly rounded f32 sum.
        assert err[("uniform", inp, "f32", "hardware-F13-G32", 256)] > err[("uniform", inp, "f32", "exact", 256)]


def test_thread_count_does_not_change_results(result, tmp_path):
    out, _ = result
    p = run(tmp_path, "--threads", "2", "--seed", "7")
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "gemm_accuracy.csv").read_bytes() == (out / "gemm_accuracy.csv").read_bytes()
    p = run(tmp_path / "other", "--threads", "2", "--seed", "8")
    assert (tmp_path / "other" / "gemm_accuracy.csv").read_bytes() != (out / "gemm_accuracy.csv").read_bytes()


@pytest.mark.parametrize("args", [["--kmax", "8"], ["--threads", "0"], ["--seed", "x"], ["--bogus"]])
def test_bad_options_fail(tmp_path, args):
    p = subprocess.run([EXE, "--out", str(tmp_path), *args], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert p.stderr.strip()
    assert not (tmp_path / "gemm_accuracy.csv").exists()


def test_plot_renders(result, tmp_path):
    pytest.importorskip("matplotlib")
    out, _ = result
    png = tmp_path / "ga.png"
    p = subprocess.run([sys.executable, str(PLOT), str(out / "gemm_accuracy.csv"), "-o", str(png)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
