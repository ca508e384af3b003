"""`floatscope quantize` end to end: element codes against ml_dtypes (the peer
for every FP8/FP6/FP4 element type), the files --codes writes, the printed
statistics against numpy, and every error path (one line, non-zero exit).

Run by meson (suite 'quant') with FLOATSCOPE set to the built executable.
"""
import json
import os
import subprocess

import ml_dtypes
import numpy as np
import pytest

EXE = os.environ.get("FLOATSCOPE", "floatscope")

ML = {
    "e4m3fn": ml_dtypes.float8_e4m3fn,
    "e5m2": ml_dtypes.float8_e5m2,
    "e2m3fn": ml_dtypes.float6_e2m3fn,
    "e3m2fn": ml_dtypes.float6_e3m2fn,
    "e2m1fn": ml_dtypes.float4_e2m1fn,
}
EMAX = {"e4m3fn": 8, "e5m2": 15, "e2m3fn": 2, "e3m2fn": 4, "e2m1fn": 2}


def run(*args, ok=True):
    p = subprocess.run([EXE, "quantize", *map(str, args)], capture_output=True, text=True)
    if ok:
        assert p.returncode == 0, p.stderr
    return p


def quantize(tmp_path, x, *args):
    src, dst = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(src, x)
    p = run(*args, "--json", "--in", src, "--out", dst)
    return json.loads(p.stdout), dst


def codes_of(tmp_path, x, *args):
    report, dst = quantize(tmp_path, x, *args, "--codes")
    files = {os.path.basename(f["path"]): np.load(f["path"]) for f in report["files"]}
    return report, files


def ml_cast(values, name):
    """ml_dtypes' code for each value (values already within range, and
    float32-exact so that ml_dtypes rounds once)."""
    v = np.asarray(values, dtype=np.float32)
    assert np.array_equal(v.astype(np.float64), np.asarray(values, dtype=np.float64))
    return v.astype(ML[name]).view(np.uint8)


def random_tensor(shape, seed, spread=3.0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * np.exp2(rng.uniform(-spread, spread, shape))
    return x.astype(np.float32)


@pytest.mark.parametrize("elem", sorted(ML))
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_mx_elements_match_ml_dtypes(tmp_path, elem, axis):
    x = random_tensor((40, 48, 3), seed=axis + 10)
    _, files = codes_of(tmp_path, x, "--format", elem, "--scheme", "mx", "--axis", axis)
    codes, scales = files["y.npy"], files["y.scales.npy"]
    assert codes.dtype == np.uint8 and codes.shape == x.shape
    assert scales.dtype == np.uint8
    ax = axis % 3
    xm = np.moveaxis(x.astype(np.float64), ax, -1)
    n = xm.shape[-1]
    nb = -(-n // 32)
    assert scales.shape == tuple(-(-s // 32) if i == ax else s for i, s in enumerate(x.shape))
    sm = np.moveaxis(scales, ax, -1)
    cm = np.moveaxis(codes, ax, -1)
    fmax = float(ml_dtypes.finfo(ML[elem]).max)
    for b in range(nb):
        blk = xm[..., b * 32:(b + 1) * 32]
        amax = np.abs(blk).max(axis=-1)
        shared = np.maximum(np.floor(np.log2(amax)).astype(int) - EMAX[elem], -127)
        assert np.array_equal(sm[..., b].astype(int), shared + 127)
        scaled = blk / np.exp2(shared)[..., None]
        want = ml_cast(np.clip(scaled, -fmax, fmax), elem)
        assert np.array_equal(cm[..., b * 32:(b + 1) * 32], want)


def test_mxint8_and_integer_codes(tmp_path):
    x = random_tensor((8, 64), seed=3)
    _, files = codes_of(tmp_path, x, "--format", "int8", "--scheme", "mx")
    shared = np.floor(np.log2(np.abs(x.astype(np.float64)).reshape(8, 2, 32).max(-1))).astype(int)
    assert np.array_equal(files["y.scales.npy"].astype(int), shared + 127)
    q = np.clip(np.rint(x.reshape(8, 2, 32) / np.exp2(shared)[..., None] * 64), -127, 127)
    assert np.array_equal(files["y.npy"].view(np.int8), q.reshape(8, 64).astype(np.int8))


@pytest.mark.parametrize("fmt,bits,signed", [("int8", 8, True), ("uint8", 8, False), ("int4", 4, True),
                                             ("uint4", 4, False)])
def test_integer_per_channel_non_contiguous_axis(tmp_path, fmt, bits, signed):
    x = random_tensor((5, 7, 6), seed=bits, spread=1.0)
    _, files = codes_of(tmp_path, x, "--format", fmt, "--scheme", "channel", "--axis", 1)
    scale = files["y.scales.npy"]
    assert scale.shape == (7,) and scale.dtype == np.float32
    amax = np.abs(x.astype(np.float64)).max(axis=(0, 2))
    h = 2 ** (bits - 1) - 1
    assert np.array_equal(scale, (amax / h).astype(np.float32))
    zp = 0 if signed else 2 ** (bits - 1)
    qmin, qmax = (-(h + 1), h) if signed else (0, 2 ** bits - 1)
    q = np.clip(np.rint(x / scale.astype(np.float64)[None, :, None] + zp), qmin, qmax).astype(np.int64)
    assert np.array_equal(files["y.npy"].astype(np.int64), q & (2 ** bits - 1))


def test_int4_codes_read_by_ml_dtypes(tmp_path):
    x = random_tensor((4, 32), seed=8, spread=1.0)
    _, files = codes_of(tmp_path, x, "--format", "int4", "--scheme", "group", "--group", 16)
    codes = files["y.npy"]
    vals = np.where(codes >= 8, codes.astype(np.int64) - 16, codes.astype(np.int64))
    s = np.repeat(files["y.scales.npy"].astype(np.float64), 16, axis=1)
    assert np.array_equal(vals.astype(ml_dtypes.int4).astype(np.int64), vals)
    report, dst = quantize(tmp_path, x, "--format", "int4", "--scheme", "group", "--group", 16)
    assert np.array_equal(np.load(dst), (vals * s).astype(np.float32))


def test_per_group_asymmetric_dequantizes_from_codes_scales_and_zero_points(tmp_path):
    x = random_tensor((6, 10, 4), seed=4, spread=1.0) + 0.7
    _, files = codes_of(tmp_path, x, "--format", "uint8", "--scheme", "group", "--axis", 1, "--group", 4,
                        "--asymmetric")
    s, z = files["y.scales.npy"], files["y.zero_points.npy"]
    assert s.shape == z.shape == (6, 3, 4)
    idx = np.arange(10) // 4
    deq = (files["y.npy"].astype(np.float64) - z[:, idx, :]) * s[:, idx, :]
    _, dst = quantize(tmp_path, x, "--format", "uint8", "--scheme", "group", "--axis", 1, "--group", 4,
                      "--asymmetric")
    assert np.array_equal(np.load(dst), deq.astype(np.float32))


def test_fp8_pow2_scaling_matches_ml_dtypes_and_reports_numpy_statistics(tmp_path):
    x = random_tensor((300, 200), seed=5)
    x[0, 0] = 0.0
    report, files = codes_of(tmp_path, x, "--format", "e4m3fn", "--pow2-scale", "--margin", 1)
    amax = np.float32(np.abs(x).max())
    s = np.float32(448) / amax / np.float32(2)
    s = np.float32(2.0 ** np.floor(np.log2(s)))
    assert files["y.scales.npy"] == np.float32(1) / s
    want = ml_cast(np.clip(x.astype(np.float64) * s, -448, 448), "e4m3fn")
    assert np.array_equal(files["y.npy"], want)
    report, dst = quantize(tmp_path, x, "--format", "e4m3fn", "--pow2-scale", "--margin", 1)
    y = np.load(dst).astype(np.float64)
    assert np.array_equal(y, (want.view(ml_dtypes.float8_e4m3fn).astype(np.float32) / s).astype(np.float64))
    err = y - x.astype(np.float64)
    assert report["max_abs_error"] == pytest.approx(np.abs(err).max(), rel=1e-12)
    assert report["rmse"] == pytest.approx(np.sqrt(np.mean(err ** 2)), rel=1e-9)
    sqnr = 10 * np.log10(np.sum(x.astype(np.float64) ** 2) / np.sum(err ** 2))
    assert report["sqnr_db"] == pytest.approx(sqnr, rel=1e-9)
    nz = x != 0
    assert report["max_rel_error"] == pytest.approx(np.max(np.abs(err[nz]) / np.abs(x[nz])), rel=1e-12)
    assert report["flushed_to_zero"] == int(np.sum((x != 0) & (y == 0)))
    assert report["elements"] == x.size


def test_16_bit_formats_write_uint16_codes(tmp_path):
    x = random_tensor((50, 40), seed=12, spread=6.0)
    report, files = codes_of(tmp_path, x, "--format", "f16", "--scheme", "channel", "--axis", 0, "--pow2-scale")
    codes, inv = files["y.npy"], files["y.scales.npy"]
    assert codes.dtype == np.uint16 and inv.shape == (50,)
    s = (np.float32(1) / inv).astype(np.float32)
    assert np.all(s == np.exp2(np.floor(np.log2(np.float32(65504) / np.abs(x).max(axis=1)))))
    assert np.array_equal(codes, (x * s[:, None]).astype(np.float16).view(np.uint16))


def test_configuration_errors_come_before_reading_the_input(tmp_path):
    p = run("--format", "int4", "--scheme", "mx", "--in", tmp_path / "missing.npy", "--out", tmp_path / "y.npy",
            ok=False)
    assert p.returncode == 2 and "scheme mx has no element format int4" in p.stderr


def test_nvfp4_files(tmp_path):
    x = random_tensor((4, 64), seed=6)
    report, files = codes_of(tmp_path, x, "--format", "e2m1fn", "--scheme", "nvfp4")
    g = files["y.global_scale.npy"]
    assert g.shape == () and g.dtype == np.float32
    assert g == np.float32(1) / (np.float32(2688) / np.float32(np.abs(x).max()))
    sb = files["y.scales.npy"]
    assert sb.shape == (4, 4) and sb.dtype == np.uint8
    amax_b = np.abs(x).reshape(4, 4, 16).max(-1)
    s_enc = np.float32(2688) / np.float32(np.abs(x).max())
    assert np.array_equal(sb, (amax_b / np.float32(6) * s_enc).astype(ml_dtypes.float8_e4m3fn).view(np.uint8))
    _, dst = quantize(tmp_path, x, "--format", "e2m1fn", "--scheme", "nvfp4")
    deq = files["y.npy"].view(ml_dtypes.float4_e2m1fn).astype(np.float32).reshape(4, 4, 16) * (
        sb.view(ml_dtypes.float8_e4m3fn).astype(np.float32) * g)[..., None]
    assert np.array_equal(np.load(dst), deq.reshape(4, 64))


def test_threads_and_float64_input(tmp_path):
    x = random_tensor((64, 3000), seed=9).astype(np.float64) * (1 + 1e-12)
    outs = []
    for threads in (1, 2):
        report, dst = quantize(tmp_path, x, "--format", "e2m1fn", "--scheme", "mx", "--round", "sr", "--seed", 7,
                               "--threads", threads)
        outs.append((np.load(dst), report["rmse"], report["sqnr_db"]))
    assert np.array_equal(outs[0][0], outs[1][0]) and outs[0][1:] == outs[1][1:]


def test_text_report(tmp_path):
    x = random_tensor((10, 32), seed=2)
    np.save(tmp_path / "x.npy", x)
    p = run("--format", "e4m3fn", "--scheme", "mx", "--in", tmp_path / "x.npy", "--out", tmp_path / "y.npy")
    keys = [line.split(":")[0] for line in p.stdout.splitlines()]
    assert keys == ["input", "scheme", "wrote", "elements", "max_abs_error", "max_rel_error", "rmse", "sqnr_db",
                    "saturated", "flushed_to_zero", "nan"]
    assert p.stderr == ""


def write_raw(path, header, data):
    h = header.encode() + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + data)


BAD_INPUTS = {
    "wrong dtype": (lambda p: np.save(p, np.arange(6, dtype=np.int32)), "dtype '<i4' is not supported"),
    "truncated": (lambda p: write_raw(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", b"\0" * 10),
                  "truncated data"),
    "bad magic": (lambda p: p.write_bytes(b"PK\x03\x04 not numpy"), "bad magic"),
    "fortran": (lambda p: np.save(p, np.asfortranarray(np.ones((3, 4), np.float32))), "Fortran-order"),
    "big-endian": (lambda p: np.save(p, np.ones(3, ">f4")), "big-endian"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_files(tmp_path, case):
    make, text = BAD_INPUTS[case]
    make(tmp_path / "x.npy")
    p = run("--format", "int8", "--in", tmp_path / "x.npy", "--out", tmp_path / "y.npy", ok=False)
    assert p.returncode != 0
    assert p.stdout == ""
    assert len(p.stderr.splitlines()) == 1 and text in p.stderr, p.stderr
    assert not (tmp_path / "y.npy").exists()


BAD_OPTIONS = {
    "unknown scheme": (["--format", "int8", "--scheme", "blocky"], "unknown --scheme 'blocky'"),
    "bad axis": (["--format", "int8", "--scheme", "channel", "--axis", "3"], "axis 3 is out of range"),
    "bad negative axis": (["--format", "e4m3fn", "--scheme", "mx", "--axis", "-4"], "axis -4 is out of range"),
    "unknown format": (["--format", "fp7"], "bad format 'fp7'"),
    "mx element": (["--format", "int4", "--scheme", "mx"], "scheme mx has no element format int4"),
    "bad calib": (["--format", "int8", "--calib", "percentile:101"], "percentile:P needs 0 < P <= 100"),
    "bad calib name": (["--format", "int8", "--calib", "entropy"], "unknown --calib 'entropy'"),
    "group without size": (["--format", "int8", "--scheme", "group"], "group size"),
    "bad rounding": (["--format", "int8", "--round", "up"], "unknown rounding mode 'up'"),
    "axis for tensor": (["--format", "int8", "--axis", "0"], "--axis applies to --scheme channel"),
    "history for mx": (["--format", "e4m3fn", "--scheme", "mx", "--history", "4"], "--history applies to"),
    "calib for nvfp4": (["--format", "e2m1fn", "--scheme", "nvfp4", "--calib", "mse"], "--calib applies to"),
    "pow2 for mx": (["--format", "e4m3fn", "--scheme", "mx", "--pow2-scale"],
                    "--pow2-scale applies to --scheme tensor, channel, group, delayed with a float format, "
                    "not to --scheme mx"),
    "asymmetric float": (["--format", "e4m3fn", "--asymmetric"],
                         "--asymmetric applies to --scheme tensor, channel, group with an integer format, "
                         "not to --scheme tensor with e4m3fn"),
    "recipe for mx": (["--format", "e4m3fn", "--scheme", "mx", "--recipe", "torchao"],
                      "--recipe applies to --scheme nvfp4, not to --scheme mx"),
    "delayed int": (["--format", "int8", "--scheme", "delayed"], "scheme delayed needs a float format"),
    "missing input": (["--format", "int8", "--in", "/nonexistent/x.npy"], "cannot open"),
}


@pytest.mark.parametrize("case", sorted(BAD_OPTIONS))
def test_bad_options(tmp_path, case):
    args, text = BAD_OPTIONS[case]
    np.save(tmp_path / "x.npy", np.ones((2, 3, 32), np.float32))
    if "--in" not in args:
        args = args + ["--in", tmp_path / "x.npy"]
    p = run(*args, "--out", tmp_path / "y.npy", ok=False)
    assert p.returncode == 2
    assert len(p.stderr.splitlines()) == 1 and text in p.stderr, p.stderr
    assert not (tmp_path / "y.npy").exists()
