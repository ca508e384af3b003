"""experiments/format_compare at a tiny size: its CSVs and JSON parse, agree
and hold every (data set, variant) row; the thread count changes nothing;
the numbers are the ones theory predicts (correct rounding bounds, the INT8
quantization bound, the f16 overflow/underflow fractions of log-uniform
data, FP8 underflow of small gradients rescued by per-tensor scaling, block
scaling against outlier channels); bad options give one error line and a
non-zero exit; the plot script renders a PNG."""
import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXE = os.environ["FORMAT_COMPARE"]
PLOT = Path(__file__).resolve().parents[2] / "experiments" / "plot_format_compare.py"
N = 8192
DATA = ["normal", "weights", "activations", "log-uniform", "gradients"]
VARIANTS = ["f32", "tf32", "f16", "bf16", "e4m3fn", "e5m2", "e2m3fn", "e3m2fn", "e2m1fn", "e4m3fn/tensor",
            "e5m2/tensor", "e2m1fn/tensor", "int8/tensor", "mxfp8-e4m3", "mxfp8-e5m2", "mxfp6-e2m3", "mxfp6-e3m2",
            "mxfp4", "mxint8", "nvfp4"]
BUCKETS = ["exact"] + [str(b) for b in range(-30, 1)] + ["lost"]


def run(out, *extra, n=N):
    return subprocess.run([EXE, "--out", str(out), "--n", str(n), *extra], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("fc")
    p = run(out, "--threads", "1", "--seed", "7")
    assert p.returncode == 0, p.stderr
    return out, p


def rows_of(out, name="format_compare.csv"):
    with open(out / name, newline="") as f:
        return list(csv.DictReader(f))


def table(out):
    return {(r["data"], r["variant"]): r for r in rows_of(out)}


def test_outputs_parse_and_agree(result):
    out, p = result
    rows = rows_of(out)
    doc = json.loads((out / "format_compare.json").read_text())
    assert doc["experiment"] == "format_compare" and doc["seed"] == 7 and doc["n"] == N
    assert [d["name"] for d in doc["datasets"]] == DATA
    assert [(r["data"], r["variant"]) for r in rows] == [(d, v) for d in DATA for v in VARIANTS]
    assert len(doc["rows"]) == len(rows)
    for r, j in zip(rows, doc["rows"]):
        assert (r["data"], r["variant"]) == (j["data"], j["variant"])
        assert int(r["elements"]) == j["elements"] == N
        for key in ("median_rel_err", "max_rel_err", "rmse", "sqnr_db", "flushed", "overflow"):
            want = j[key]
            if want is None:
                assert r[key] in ("inf", "nan")
            else:
                assert float(r[key]) == pytest.approx(want, rel=1e-5, abs=1e-300)
        # The histogram counts every nonzero input exactly once.
        h = j["hist"]
        assert len(h["bins"]) == 31
        assert h["exact"] + sum(h["bins"]) + h["lost"] == j["nonzero"]
        assert j["exact"] == pytest.approx(h["exact"] / j["nonzero"])
    # Activations are ReLU'd: about half the inputs are zero; the others are not.
    zeros = {d["name"]: d["zero_inputs"] for d in doc["datasets"]}
    assert 0.4 * N < zeros["activations"] < 0.6 * N
    assert all(zeros[d] == 0 for d in DATA if d != "activations")
    hist = rows_of(out, "format_compare_hist.csv")
    assert len(hist) == len(rows) * len(BUCKETS)
    assert [h["bucket"] for h in hist[:len(BUCKETS)]] == BUCKETS
    for r, j in zip(hist[::len(BUCKETS)], doc["rows"]):
        assert int(r["count"]) == j["hist"]["exact"]
    # Every raw cast was checked against the core's direct float64 cast.
    assert doc["raw_cast_check"] == {"elements": len(DATA) * 9 * N, "mismatches": 0}
    assert "ETA" in p.stderr  # the progress line
    assert "SQNR dB" in p.stdout and "mxfp4" in p.stdout  # the summary table
    assert not list(out.glob(".*tmp*"))  # no temporary left behind


def test_correct_rounding_bounds(result):
    t = table(result[0])
    # f32 of float64 normal data: ~6.02*24 + 1.8 dB; a correctly rounded cast
    # never errs by more than u = 2^-(p) relative (p = mantissa bits + 1).
    assert 130 < float(t[("normal", "f32")]["sqnr_db"]) < 160
    for fmt, m in (("f32", 23), ("tf32", 10), ("bf16", 7)):
        for d in DATA:
            worst = float(t[(d, fmt)]["max_rel_err"])
            assert 2.0**-(m + 2) < worst <= 2.0**-(m + 1), (d, fmt, worst)
    # tf32 and f16 have the same precision: the same errors on normal data.
    assert t[("normal", "tf32")]["median_rel_err"] == t[("normal", "f16")]["median_rel_err"]


def test_range_of_f16_on_log_uniform(result):
    t = table(result[0])
    r = t[("log-uniform", "f16")]
    # |x| = 2^U(-30, 30): overflow above 65520 = 2^15.9998, flush below 2^-25
    # (half the smallest subnormal 2^-24).
    assert float(r["overflow"]) == pytest.approx((30 - math.log2(65520)) / 60, abs=0.03)
    assert float(r["inf"]) == pytest.approx(float(r["overflow"]))
    assert float(r["flushed"]) == pytest.approx(5 / 60, abs=0.03)
    assert float(r["subnormal"]) == pytest.approx(10 / 60, abs=0.03)  # 2^-25 .. 2^-14
    b = t[("log-uniform", "bf16")]
    assert float(b["overflow"]) == float(b["flushed"]) == float(b["subnormal"]) == 0


def test_fp8_underflow_of_gradients_and_scaling(result):
    t = table(result[0])
    # N(0,1) * 1e-6 lies far below e4m3fn's smallest subnormal 2^-9: a raw
    # cast flushes (nearly) everything, per-tensor scaling (nearly) nothing.
    assert float(t[("gradients", "e4m3fn")]["flushed"]) > 0.9
    assert float(t[("gradients", "e5m2")]["flushed"]) > 0.9
    assert float(t[("gradients", "e4m3fn/tensor")]["flushed"]) < 0.001
    assert float(t[("gradients", "e4m3fn/tensor")]["sqnr_db"]) > 25
    # Scaling makes the data set irrelevant: as good as on N(0, 1).
    assert float(t[("gradients", "e4m3fn/tensor")]["sqnr_db"]) == pytest.approx(
        float(t[("normal", "e4m3fn/tensor")]["sqnr_db"]), abs=1.5)
    # f16 keeps gradients only as subnormals (below 2^-14), losing precision.
    assert float(t[("gradients", "f16")]["subnormal"]) > 0.9
    assert float(t[("gradients", "f16")]["sqnr_db"]) < float(t[("normal", "f16")]["sqnr_db"]) - 20


def test_int8_within_its_bound(result):
    out, _ = result
    doc = json.loads((out / "format_compare.json").read_text())
    amax = doc["datasets"][0]["amax"]
    r = table(out)[("normal", "int8/tensor")]
    step = amax / 127  # symmetric max calibration
    # Round to nearest on a grid of `step`, no clipping: |error| <= step / 2
    # (plus the float32 rounding of the scale and of the dequantized value).
    assert float(r["max_abs_err"]) <= step / 2 * (1 + 1e-6) + amax * 2.0**-23
    assert float(r["max_abs_err"]) > 0.45 * step
    # And the error is uniform noise: RMSE = step / sqrt(12).
    assert float(r["rmse"]) == pytest.approx(step / math.sqrt(12), rel=0.1)
    assert float(r["overflow"]) == 0


def test_block_scaling_survives_outlier_channels(result):
    t = table(result[0])
    # Three channels x100 set the per-tensor scale: most ordinary activations
    # fall below FP4's / INT8's smallest step; blocks of 32 keep them.
    assert float(t[("activations", "e2m1fn/tensor")]["flushed"]) > 0.9
    assert float(t[("activations", "mxfp4")]["flushed"]) < 0.4
    assert float(t[("activations", "int8/tensor")]["flushed"]) > 0.5
    assert float(t[("activations", "mxint8")]["flushed"]) < 0.15
    assert float(t[("activations", "mxfp4")]["median_rel_err"]) < 0.25 < float(
        t[("activations", "e2m1fn/tensor")]["median_rel_err"])


def test_thread_count_does_not_change_results(result, tmp_path):
    out, _ = result
    p = run(tmp_path, "--threads", "2", "--seed", "7")
    assert p.returncode == 0, p.stderr
    for name in ("format_compare.csv", "format_compare_hist.csv"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes()
    a = json.loads((out / "format_compare.json").read_text())
    b = json.loads((tmp_path / "format_compare.json").read_text())
    assert a["rows"] == b["rows"] and a["datasets"] == b["datasets"]
    p = run(tmp_path / "other", "--threads", "2", "--seed", "8")
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "other" / "format_compare.csv").read_bytes() != (out / "format_compare.csv").read_bytes()


def test_formats_picks_variants(tmp_path):
    p = run(tmp_path, "--formats", "nvfp4,f16", n=512)
    assert p.returncode == 0, p.stderr
    rows = rows_of(tmp_path)
    assert [(r["data"], r["variant"]) for r in rows] == [(d, v) for d in DATA for v in ("nvfp4", "f16")]


@pytest.mark.parametrize("args", [["--n", "1000"], ["--n", "128"], ["--n", "x"], ["--threads", "0"],
                                  ["--seed", "x"], ["--formats", "e4m3fn,bogus"], ["--formats", ""],
                                  ["--bogus"]])
def test_bad_options_fail(tmp_path, args):
    p = subprocess.run([EXE, "--out", str(tmp_path), *args], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("format_compare: "), p.stderr
    assert not (tmp_path / "format_compare.csv").exists()


def test_plot_renders(result, tmp_path):
    pytest.importorskip("matplotlib")
    out, _ = result
    png = tmp_path / "fc.png"
    p = subprocess.run([sys.executable, str(PLOT), str(out / "format_compare.json"), "-o", str(png)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*tmp*"))
