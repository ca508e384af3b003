"""IEEE P3109 scaled blocks (`floatscope quantize --scheme p3109`,
emulate/quant/p3109_block.h): a power-of-two scale per block of 32 in an
unsigned P = 1 format (binary8p1uf, binary8p1ue), elements in any P3109
member.

(a) gfloat as the peer: gfloat.block's compute_scale_amax (2^(floor(log2
    amax) - emax_elem), 2^-127 for an all-zero block) and encode_block
    (elements rounded with sat=True) on finite float32 tensors whose scales
    lie in the scale format's range. Scale codes and element codes must be
    equal, and the dequantized values equal gfloat's decode_block rounded
    to float32.
(b) Where gfloat gives no answer (it raises for scales outside the scale
    format, and lets a NaN or an infinity into its amax), the rules of
    p3109_block.h written out here: the scale comes from the finite values
    only, a NaN element is the element NaN, an infinity saturates, a scale
    beyond the format clamps to its largest finite code (0xFE uf, 0xFD ue).
"""
import json
import os
import subprocess

import numpy as np
import pytest

EXE = os.environ.get("FLOATSCOPE", "floatscope")

try:
    from gfloat import block as gblock
    from gfloat.formats import format_info_p3109
    from gfloat.block import BlockFormatInfo
    from gfloat.types import Domain, RoundMode, Signedness
except ImportError:
    gblock = None

# (element member, scale member) pairs; the element members are signed
# (the data has both signs) or unsigned (fed |x|).
ELEMENTS = ["binary8p3sf", "binary8p4se", "binary8p5sf", "binary6p3se", "binary4p2sf", "binary8p3uf", "binary7p7ue"]
SCALES = ["binary8p1uf", "binary8p1ue"]
MODES = {"rne": "TiesToEven", "rtz": "TowardZero", "rdn": "TowardNegative", "rup": "TowardPositive"}


def parse(name):
    """binaryKpP{s,u}{e,f} -> (k, p, signed, extended)."""
    body = name[len("binary"):]
    k, rest = body.split("p")
    return int(k), int(rest[:-2]), rest[-2] == "s", rest[-1] == "e"


def info(name):
    k, p, signed, extended = parse(name)
    return format_info_p3109(k, p, Signedness.Signed if signed else Signedness.Unsigned,
                             Domain.Extended if extended else Domain.Finite)


def quantize(tmp_path, x, elem, scale, mode):
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "q.npy"
    base = [EXE, "quantize", "--scheme", "p3109", "--format", elem, "--scale-format", scale, "--round", mode,
            "--json", "--no-progress", "--in", tmp_path / "x.npy"]
    p = subprocess.run(list(map(str, base + ["--out", out, "--codes"])), capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    codes, scales = np.load(out), np.load(tmp_path / "q.scales.npy")
    p = subprocess.run(list(map(str, base + ["--out", tmp_path / "dq.npy"])), capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return codes, scales, np.load(tmp_path / "dq.npy"), json.loads(p.stdout)


def tensor(seed, signed):
    """16 rows x 4 blocks of 32: normal, lognormal and sparse blocks whose
    magnitudes spread over 2^-90 .. 2^90, one all-zero block."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16, 128))
    x[4:8] = rng.lognormal(0, 3, (4, 128)) * rng.choice([-1, 1], (4, 128))
    x[8:12] *= rng.random((4, 128)) < 0.1
    spread = 2.0 ** rng.integers(-90, 90, (16, 4))
    x = (x.reshape(16, 4, 32) * spread[..., None]).reshape(16, 128)
    x[12, :32] = 0
    x = x.astype(np.float32)
    return x if signed else np.abs(x)


@pytest.mark.skipif(gblock is None, reason="gfloat is not installed (pip install gfloat): the P3109 block peer test is skipped")
@pytest.mark.parametrize("elem", ELEMENTS)
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("mode", MODES)
def test_blocks_equal_gfloat(tmp_path, elem, scale, mode):
    et, st = info(elem), info(scale)
    signed = parse(elem)[2]
    x = tensor(hash((elem, scale, mode)) % 2**32, signed)
    codes, scales, dq, _ = quantize(tmp_path, x, elem, scale, mode)
    fi = BlockFormatInfo("p3109 block", et, 32, st)
    rnd = getattr(RoundMode, MODES[mode])
    bad = []
    for r in range(16):
        for b in range(4):
            vals = x[r, 32 * b:32 * (b + 1)].astype(np.float64)
            q = float(gblock.compute_scale_amax(et.emax, vals))
            enc = list(gblock.encode_block(fi, q, vals / q, rnd))
            want_dq = np.array(list(gblock.decode_block(fi, enc)), dtype=np.float64).astype(np.float32)
            got = [int(scales[r, b])] + [int(c) for c in codes[r, 32 * b:32 * (b + 1)]]
            if got != enc:
                i = next(j for j in range(33) if got[j] != enc[j])
                bad.append(f"row {r} block {b} {'scale' if i == 0 else f'element {i - 1}'}: "
                           f"floatscope 0x{got[i]:x} gfloat 0x{enc[i]:x}")
            elif not np.array_equal(dq[r, 32 * b:32 * (b + 1)].view(np.uint32), want_dq.view(np.uint32)):
                bad.append(f"row {r} block {b}: dequantized values differ")
    assert not bad, f"{len(bad)} of 64 blocks differ: " + "; ".join(bad[:5])


def value(name, code):
    """A code's value from the P3109 parameters (no floatscope, no gfloat)."""
    k, p, signed, extended = parse(name)
    w = k - p + (0 if signed else 1)
    bias = 2 ** (w - 1)
    mag_bits = k - 1 if signed else k
    sign = -1.0 if signed and code >> (k - 1) else 1.0
    mag = code & ((1 << mag_bits) - 1)
    field, frac = mag >> (p - 1), mag & ((1 << (p - 1)) - 1)
    if field == 0:
        return sign * frac * 2.0 ** (1 - bias - (p - 1))
    return sign * (2 ** (p - 1) + frac) * 2.0 ** (field - bias - (p - 1))


def test_rules_where_gfloat_has_no_answer(tmp_path):
    # binary8p3sf: emax 15 (max 0x7F = 1.75 * 2^15), NaN 0x80, no infinities.
    elem = "binary8p3sf"
    x = np.zeros((3, 32), dtype=np.float64)
    x[0] = np.linspace(-3, 3, 32)
    x[0, 5], x[0, 6], x[0, 7] = np.nan, np.inf, -np.inf   # specials: the scale from the finite values
    x[1] = 2.0 ** 300 * np.linspace(1, 2, 32)              # beyond binary8p1u*: the scale clamps, elements saturate
    x[2, 0] = np.inf                                       # no nonzero finite value: the smallest scale
    for scale, top in (("binary8p1uf", 0xFE), ("binary8p1ue", 0xFD)):
        codes, scales, dq, report = quantize(tmp_path, x, elem, scale, "rne")
        # Row 0: amax 3 = 1.5 * 2^1 -> shared_exp 1 - 15 = -14 -> code 128 - 14.
        assert scales[0, 0] == 128 - 14
        assert codes[0, 5] == 0x80 and codes[0, 6] == 0x7F and codes[0, 7] == 0xFF
        assert np.isnan(dq[0, 5]) and dq[0, 6] == value(elem, 0x7F) * 2.0 ** -14 and dq[0, 7] == -dq[0, 6]
        for i in (0, 31):
            assert value(elem, int(codes[0, i])) * 2.0 ** -14 == x[0, i]  # +-3 = 1.5 * 2^1 exactly
        # Row 1: shared_exp would be 300 - 15 = 285; it clamps to the top code.
        assert scales[1, 0] == top
        assert set(codes[1].tolist()) == {0x7F}
        # Row 2: nothing finite but zeros: code 1 (2^-127); +inf saturates.
        assert scales[2, 0] == 1 and codes[2, 0] == 0x7F and set(codes[2, 1:].tolist()) == {0}
        assert report["nan_inputs"] == 1 and report["inf_inputs"] == 3


@pytest.mark.parametrize("args, message", [
    (["--scale-format", "e4m3fn"], "scale format e4m3fn is not an unsigned power-of-two format"),
    (["--scale-format", "binary8p2uf"], "scale format binary8p2uf is not an unsigned power-of-two format"),
    (["--scale-format", "nosuch"], "--scale-format: "),
    (["--format", "int8"], "scheme p3109 needs a float format"),
])
def test_bad_options(tmp_path, args, message):
    np.save(tmp_path / "x.npy", np.ones((2, 32), dtype=np.float32))
    cmd = [EXE, "quantize", "--scheme", "p3109", "--format", "binary8p3sf", *args, "--in", tmp_path / "x.npy",
           "--out", tmp_path / "y.npy"]
    if "--format" in args:
        cmd = [EXE, "quantize", "--scheme", "p3109", *args, "--in", tmp_path / "x.npy", "--out", tmp_path / "y.npy"]
    p = subprocess.run(list(map(str, cmd)), capture_output=True, text=True)
    assert p.returncode != 0 and message in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "y.npy").exists()


def test_scale_format_only_with_p3109(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((2, 32), dtype=np.float32))
    p = subprocess.run([EXE, "quantize", "--scheme", "mx", "--format", "e4m3fn", "--scale-format", "binary8p1ue",
                        "--in", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy")], capture_output=True, text=True)
    assert p.returncode != 0 and "--scale-format applies to --scheme p3109, not to --scheme mx" in p.stderr
