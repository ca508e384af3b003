"""`floatscope verify OP --in X.npy --out Y.npy` (a user's kernel checked from
its dumps) and `floatscope gpu-verify`'s behaviour where it cannot run.

Expected codes come from ml_dtypes (a peer), not from floatscope.
"""
import os
import subprocess

import ml_dtypes
import numpy as np
import pytest

FLOATSCOPE = os.environ.get("FLOATSCOPE")
if not FLOATSCOPE or not os.access(FLOATSCOPE, os.X_OK):
    raise RuntimeError("set FLOATSCOPE to the floatscope binary (meson test does this)")


def run(*args):
    return subprocess.run([FLOATSCOPE, *args], capture_output=True, timeout=120)


def one_error_line(p):
    assert p.returncode == 2, p
    lines = p.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("floatscope: "), lines
    return lines[0]


@pytest.fixture
def inputs(tmp_path):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(5000) * 50).astype(np.float32)
    x[:4] = [0.0, -0.0, 1e-30, 448.0 * 1.07]
    path = tmp_path / "x.npy"
    np.save(path, x)
    return x, path


def test_codes_that_match_pass(inputs, tmp_path):
    x, xp = inputs
    codes = x.astype(ml_dtypes.float8_e4m3fn).view(np.uint8)
    np.save(tmp_path / "y.npy", codes)
    p = run("verify", "f32_to_e4m3fn", "--in", str(xp), "--out", str(tmp_path / "y.npy"))
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().splitlines()[-1] == "5000 passed, 0 failed"


def test_a_wrong_code_is_reported_with_its_element(inputs, tmp_path):
    x, xp = inputs
    codes = x.astype(ml_dtypes.float8_e4m3fn).view(np.uint8).copy()
    codes[1234] ^= 1
    np.save(tmp_path / "y.npy", codes)
    p = run("verify", "f32_to_e4m3fn", "--in", str(xp), "--out", str(tmp_path / "y.npy"))
    assert p.returncode == 1
    out = p.stdout.decode().splitlines()
    assert out[-1] == "4999 passed, 1 failed"
    assert out[0].startswith("element 1234:")


def test_fake_quantized_float32_outputs(inputs, tmp_path):
    x, xp = inputs
    y = x.astype(ml_dtypes.bfloat16).astype(np.float32)
    np.save(tmp_path / "y.npy", y)
    p = run("verify", "f32_to_bf16", "--in", str(xp), "--out", str(tmp_path / "y.npy"))
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().splitlines()[-1] == "5000 passed, 0 failed"
    y[7] = np.nextafter(y[7], np.float32(np.inf))
    np.save(tmp_path / "y.npy", y)
    p = run("verify", "f32_to_bf16", "--in", str(xp), "--out", str(tmp_path / "y.npy"))
    assert p.returncode == 1 and p.stdout.decode().splitlines()[-1] == "4999 passed, 1 failed"


def test_bad_dumps_give_one_line(inputs, tmp_path):
    x, xp = inputs
    np.save(tmp_path / "x64.npy", x.astype(np.float64))
    np.save(tmp_path / "short.npy", np.zeros(10, np.uint8))
    np.save(tmp_path / "wide.npy", np.zeros(5000, np.uint16))
    assert "float32" in one_error_line(
        run("verify", "f32_to_e4m3fn", "--in", str(tmp_path / "x64.npy"), "--out", str(tmp_path / "short.npy")))
    assert "elements" in one_error_line(
        run("verify", "f32_to_e4m3fn", "--in", str(xp), "--out", str(tmp_path / "short.npy")))
    assert "byte" in one_error_line(
        run("verify", "f32_to_e4m3fn", "--in", str(xp), "--out", str(tmp_path / "wide.npy")))
    assert "together" in one_error_line(run("verify", "f32_to_e4m3fn", "--in", str(xp)))
    assert "f32_to_" in one_error_line(
        run("verify", "f16_add", "--in", str(xp), "--out", str(tmp_path / "short.npy")))


def test_gpu_verify_without_a_usable_gpu_says_why_in_one_line():
    p = run("gpu-verify", "--exhaustive", "--format", "e4m3fn")
    if p.returncode == 0:
        pytest.skip("a CUDA device is present")
    line = one_error_line(p)
    assert "without CUDA" in line or "no CUDA device" in line
    assert "--exhaustive" in one_error_line(run("gpu-verify"))


def test_gpu_verify_reference_and_layout_options_are_checked_before_any_device(tmp_path):
    # Validated on every machine, with or without CUDA.
    line = one_error_line(run("gpu-verify", "--exhaustive", "--format", "e4m3fn", "--reference", "scalar"))
    assert "'scalar'" in line and "simd, core" in line
    x, y = str(tmp_path / "x.npy"), str(tmp_path / "y.npy")
    for extra in (["--reference", "core"], ["--unaligned"]):
        line = one_error_line(run("gpu-verify", "--format", "e4m3fn", "--in", x, "--out", y, *extra))
        assert "--exhaustive only" in line
