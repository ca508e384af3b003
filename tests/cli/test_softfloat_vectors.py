"""Berkeley SoftFloat as a peer: its conversion results, written as TestFloat
lines by gen_softfloat_vectors.py, must all pass `floatscope verify`.

Covers f16/bf16/f32/f64 conversions in the five IEEE rounding modes, with
tininess after rounding (SoftFloat's default and floatscope's) and before,
results and flags bit for bit. NaN results are compared as "a NaN" (verify's
default) because the softfloatpy build uses SoftFloat's RISC-V NaN rules
(every NaN becomes the positive default NaN), where floatscope keeps sign and
payload as x86 does; the NaN flags (invalid for signaling NaNs) are compared.
SoftFloat here has no round-to-odd, so rto is not covered by this peer.
"""
import os
import subprocess

import pytest

sf = pytest.importorskip("softfloatpy", reason="softfloatpy missing: scripts/setup.sh installs it")
import gen_softfloat_vectors as gen  # noqa: E402  (beside this file)

FLOATSCOPE = os.environ.get("FLOATSCOPE")
if not FLOATSCOPE or not os.access(FLOATSCOPE, os.X_OK):
    raise RuntimeError("set FLOATSCOPE to the floatscope binary (meson test does this)")

MODES = ["rne", "rna", "rtz", "rdn", "rup"]
NARROWING = ["f32_to_f16", "f64_to_f32", "f64_to_f16", "f32_to_bf16"]
WIDENING = ["f16_to_f32", "f16_to_f64", "f32_to_f64", "bf16_to_f32"]


def verify(op, lines, *opts):
    data = "".join(l + "\n" for l in lines).encode()
    p = subprocess.run([FLOATSCOPE, "verify", op, *opts], input=data, capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def check(op, mode, tininess):
    lines = gen.vector_lines(op, mode, tininess)
    rc, out, err = verify(op, lines, "--round", mode, "--tininess", tininess)
    assert err == ""
    assert out.splitlines()[-1] == f"{len(lines)} passed, 0 failed", out[-4000:]
    assert rc == 0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", NARROWING + WIDENING)
def test_softfloat_conversions_tininess_after(op, mode):
    check(op, mode, "after")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", NARROWING)
def test_softfloat_conversions_tininess_before(op, mode):
    check(op, mode, "before")


def test_softfloat_vectors_cover_what_matters():
    """The generated set reaches every outcome class: exact, inexact,
    underflow, overflow, invalid; and every code of a 16-bit source."""
    lines = gen.vector_lines("f64_to_f16", "rne")
    flags = {l.split()[2] for l in lines}
    assert {"00", "01", "03", "05", "10"} <= flags
    assert len(gen.vector_lines("f16_to_f32", "rne")) == 65536


def test_softfloat_oracle_agrees_with_hand_worked_cases():
    """Guards the binding's use (byte order, mode and flag setting): a few
    results worked out by hand."""
    want = {
        # op, mode, operand -> result flags
        ("f32_to_f16", "rne", "33000000"): "0000 03",  # 2^-25: tie to zero
        ("f32_to_f16", "rne", "33000001"): "0001 03",
        ("f32_to_f16", "rne", "477FF000"): "7C00 05",  # 65520: overflow
        ("f32_to_f16", "rtz", "477FF000"): "7BFF 01",
        ("f32_to_f16", "rup", "387FF000"): "0400 01",  # rounds to 2^-14: not tiny after
        ("f64_to_f32", "rna", "3FF0000010000000"): "3F800001 01",  # tie away
        ("f64_to_f32", "rne", "3FF0000010000000"): "3F800000 01",  # tie to even
        ("f32_to_bf16", "rup", "3F800001"): "3F81 01",
        ("f16_to_f32", "rne", "7C01"): "7FC00000 10",  # signaling NaN: invalid
    }
    for (op, mode, x), r in want.items():
        src, _ = gen.formats_of(op)
        sf.set_rounding_mode(gen.ROUNDING[mode])
        sf.set_tininess_mode(sf.TininessMode.AFTER_ROUNDING)
        sf.set_exception_flags(0)
        res = gen.OPS[op](src.to_sf(int(x, 16)))
        got = f"{res.to_bytes().hex().upper()} {sf.get_exception_flags():02X}"
        assert got == r, (op, mode, x)


def test_verify_catches_a_corrupted_softfloat_vector():
    """The pipeline can fail: one result bit flipped is reported."""
    lines = gen.vector_lines("f32_to_f16", "rne")
    i = next(k for k, l in enumerate(lines) if l.split()[2] == "01")
    x, r, f = lines[i].split()
    lines[i] = f"{x} {int(r, 16) ^ 1:04X} {f}"
    rc, out, _ = verify("f32_to_f16", lines, "--round", "rne")
    assert rc == 1
    assert out.splitlines()[-1] == f"{len(lines) - 1} passed, 1 failed"
    assert f"line {i + 1}: f32_to_f16 {x.lower()}" in out
