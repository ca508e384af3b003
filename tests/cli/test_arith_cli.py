"""`floatscope eval|verify <fmt>_add|_sub|_mul|_div|_sqrt|_mulAdd|_fma`.

Hand-worked results (each line's comment says how), TestFloat's operand
order and flags, the `_fma` alias, stochastic rounding keyed by line, the
error paths (wrong operand count, integer formats, bad options), and
Berkeley SoftFloat as a peer: its f16/f32/f64 arithmetic in the five IEEE
rounding modes, written as TestFloat lines by gen_softfloat_arith_vectors.py,
must all pass `floatscope verify`.
"""
import os
import subprocess

import pytest

FLOATSCOPE = os.environ.get("FLOATSCOPE")
if not FLOATSCOPE or not os.access(FLOATSCOPE, os.X_OK):
    raise RuntimeError("set FLOATSCOPE to the floatscope binary (meson test does this)")


def run(*args, stdin=""):
    return subprocess.run([FLOATSCOPE, *args], input=stdin.encode(), capture_output=True, timeout=120)


def eval_lines(op, lines, *opts):
    p = run("eval", op, *opts, stdin="".join(l + "\n" for l in lines))
    assert p.returncode == 0 and p.stderr == b"", p.stderr.decode()
    return p.stdout.decode().splitlines()


def fails(args, stdin, names):
    p = run(*args, stdin=stdin)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 2, f"exit {p.returncode}, stderr {err!r}"
    assert err.startswith("floatscope: ") and err.count("\n") == 1 and err.endswith("\n"), repr(err)
    for n in names:
        assert n.lower() in err.lower(), f"{n!r} not in {err!r}"


# op, options, operands, expected "RESULT FLAGS" (flags: 1 inexact,
# 2 underflow, 4 overflow, 8 infinite, 16 = 10 invalid).
CASES = [
    ("f16_add", [], "3c00 3c00", "4000 00"),  # 1 + 1 = 2
    ("f16_add", [], "3c00 1000", "3c00 01"),  # 1 + 2^-11: tie, even 1
    ("f16_add", ["--round", "rna"], "3c00 1000", "3c01 01"),  # tie away
    ("f16_add", ["--round", "max"], "3c00 1000", "3c01 01"),  # TestFloat's name for rup
    ("f16_add", [], "7bff 4c00", "7c00 05"),  # 65504 + 16 = 65520 ties up: overflow
    ("f16_sub", [], "3c00 3c00", "0000 00"),  # x - x = +0
    ("f16_sub", ["--round", "rdn"], "3c00 3c00", "8000 00"),  # ... -0 toward -inf
    ("f16_add", [], "7c00 fc00", "7e00 10"),  # inf - inf: invalid
    ("f16_mul", [], "0001 3800", "0000 03"),  # 2^-25: tie to 0, underflow
    ("f16_mul", [], "0000 7c00", "7e00 10"),  # 0 * inf
    ("f16_div", [], "3c00 4200", "3555 01"),  # 1/3 = 1.0101010101|01.. * 2^-2
    ("f16_div", [], "bc00 0000", "fc00 08"),  # -1/0 = -inf, divide by zero
    ("f16_div", [], "0000 0000", "7e00 10"),  # 0/0
    ("f16_sqrt", [], "4000", "3da8 01"),  # sqrt(2) = 1.0110101000|00..
    ("f16_sqrt", [], "8000", "8000 00"),  # sqrt(-0) = -0
    ("f16_sqrt", [], "bc00", "7e00 10"),  # sqrt(-1)
    # (1 + 2^-10)^2 - (1 + 2^-9) = 2^-20 = 16 * 2^-24: one rounding.
    ("f16_mulAdd", [], "3c01 3c01 bc02", "0010 00"),
    ("f16_fma", [], "3c01 3c01 bc02", "0010 00"),
    ("f16_mulAdd", [], "4000 4200 3c00", "4700 00"),  # 2 * 3 + 1 = 7 (a*b+c order)
    ("f16_mulAdd", [], "3c00 4200 4000", "4500 00"),  # 1 * 3 + 2 = 5
    ("f16_mulAdd", [], "0000 7c00 7e00", "7e00 10"),  # 0 * inf + qNaN: invalid
    ("bf16_add", [], "3f80 3f80", "4000 00"),  # 1 + 1 = 2
    ("bf16_add", [], "3f80 3b80", "3f80 01"),  # 1 + 2^-8: tie, even 1
    ("f32_div", [], "3f800000 40400000", "3eaaaaab 01"),  # 1/3 rounds up
    ("f32_div", ["--round", "rdn"], "3f800000 40400000", "3eaaaaaa 01"),
    ("f64_sqrt", [], "4010000000000000", "4000000000000000 00"),  # sqrt(4) = 2
    ("tf32_add", [], "3f800000 3f800000", "40000000 00"),  # 32-bit hex, low 13 bits zero
    ("tf32_add", [], "3f800000 3a000000", "3f800000 01"),  # 1 + 2^-11: tie to 1
    ("e4m3fn_add", [], "7e 58", "7e 01"),  # 448 + 16 = 464 ties to 448 (even)
    ("e4m3fn_add", [], "7e 60", "7f 05"),  # 480 overflows to NaN
    ("e4m3fn_add", ["--overflow", "saturate"], "7e 60", "7e 05"),
    ("e4m3fn_div", [], "38 00", "7f 18"),  # 1/0: no infinity, NaN and invalid
    ("e5m2_div", [], "3c 00", "7c 08"),  # 1/0 = inf
    ("e2m1fn_add", [], "07 07", "07 05"),  # 6 + 6 saturates (FP4 default)
    ("e2m1fn_mul", [], "03 03", "04 01"),  # 1.5 * 1.5 = 2.25 -> 2
    ("e8m0fnu_mul", [], "7f 80", "80 00"),  # 1 * 2 = 2
    ("e8m0fnu_sub", [], "80 80", "ff 10"),  # 2 - 2 = 0: e8m0fnu has no zero
    ("e4m3fnuz_sub", ["--round", "rdn"], "40 40", "00 00"),  # no -0
    ("e5m6_add", [], "03c0 0200", "03c0 01"),  # custom: 1 + 2^-7 ties to 1
    ("e4m3:bias=9_mul", [], "50 50", "58 00"),  # custom bias 9: 2 (field 10) squared = 4 (field 11)
    ("f16_add", ["--subnormals", "flush-input"], "0001 0000", "0000 00"),  # DAZ
    ("f16_sub", ["--subnormals", "flush-output"], "0401 0400", "0000 03"),  # FTZ
    ("f16_mul", ["--tininess", "before"], "03ff 3c01", "0400 03"),  # 2^-14 - 2^-34: tiny before
    ("f16_mul", ["--tininess", "after"], "03ff 3c01", "0400 01"),  # ... not after
    ("f16_add", ["--compat", "cuda"], "7c00 fc00", "7fff 10"),  # CUDA's all-ones NaN
]


@pytest.mark.parametrize("op, opts, x, want", CASES, ids=[f"{c[0]}:{c[2]}" for c in CASES])
def test_eval_arith(op, opts, x, want):
    assert eval_lines(op, [x], *opts) == [want]


def test_custom_bias_case_is_what_the_comment_says():
    # e4m3:bias=9: field 10 is 2^1 (0x50 = 2), field 11 is 2^2 (0x58 = 4).
    assert eval_lines("e4m3:bias=9_to_f32", ["50", "58"]) == ["40000000 00", "40800000 00"]


def test_fma_alias_equals_mulAdd():
    lines = ["3c01 3c01 bc02", "4000 4000 1000", "7bff 3c00 7bff", "0001 0001 8000"]
    for mode in ("rne", "rdn", "rup", "rto"):
        assert eval_lines("f16_fma", lines, "--round", mode) == eval_lines("f16_mulAdd", lines, "--round", mode)


def test_sr_is_reproducible_and_keyed_by_line():
    lines = ["3c00 1000"] * 400  # 1 + 2^-11: halfway, up with probability 1/2
    a = eval_lines("f16_add", lines, "--round", "sr", "--seed", "7")
    assert a == eval_lines("f16_add", lines, "--round", "sr", "--seed", "7")
    assert a != eval_lines("f16_add", lines, "--round", "sr", "--seed", "8")
    ups = sum(l == "3c01 01" for l in a)
    assert set(a) == {"3c00 01", "3c01 01"}
    assert 150 < ups < 250
    # Line i uses element index i: line 5 alone after 5 other lines is the same.
    assert eval_lines("f16_add", ["4000 4000"] * 5 + ["3c00 1000"], "--round", "sr", "--seed", "7")[5] == a[5]


def test_verify_arith_passes_and_reports():
    good = ["3c00 3c00 4000 00", "3c01 3c01 bc02 0010 00"]
    p = run("verify", "f16_add", stdin=good[0] + "\n")
    assert p.returncode == 0 and p.stdout.decode().splitlines()[-1] == "1 passed, 0 failed"
    p = run("verify", "f16_mulAdd", stdin=good[1] + "\n" + "3c01 3c01 bc02 0000 01\n")
    out = p.stdout.decode()
    assert p.returncode == 1
    assert out.splitlines()[-1] == "1 passed, 1 failed"
    assert "line 2: f16_mulAdd 3c01 3c01 bc02: expected 0000 01, got 0010 00" in out


ERRORS = [
    ("add one operand", ["eval", "f16_add"], "3c00\n", ["line 1", "f16_add", "expects 2", "got 1"]),
    ("add three operands", ["eval", "f16_add"], "3c00 3c00 3c00\n", ["line 1", "expects 2", "got 3"]),
    ("sqrt two operands", ["eval", "f16_sqrt"], "3c00 3c00\n", ["line 1", "expects 1", "got 2"]),
    ("mulAdd two operands", ["eval", "f16_mulAdd"], "3c00 3c00\n", ["line 1", "expects 3", "got 2"]),
    ("fma two operands", ["eval", "f16_fma"], "3c00 3c00\n3c00\n", ["line 1", "expects 3"]),
    ("second line wrong", ["eval", "f16_mul"], "3c00 3c00\n3c00\n", ["line 2", "expects 2", "got 1"]),
    ("verify missing flags", ["verify", "f16_add"], "3c00 3c00 4000\n", ["line 1", "4 fields", "got 3"]),
    ("verify mulAdd fields", ["verify", "f16_mulAdd"], "3c00 3c00 4000 00\n", ["line 1", "5 fields", "got 4"]),
    ("malformed operand", ["eval", "f16_add"], "3c00 3g00\n", ["line 1", "malformed hex", "3g00"]),
    ("operand too wide", ["eval", "e4m3fn_add"], "38 038\n", ["line 1", "038", "e4m3fn"]),
    ("FP4 out of range", ["eval", "e2m1fn_add"], "01 10\n", ["line 1", "out of range"]),
    ("tf32 low bits", ["eval", "tf32_mul"], "3f800000 3f800001\n", ["line 1", "low 13 bits"]),
    ("unknown arith op", ["eval", "f16_pow"], "3c00 3c00\n", ["f16_pow", "unknown op"]),
    ("unknown format", ["eval", "f17_add"], "3c00 3c00\n", ["f17"]),
    ("integer format", ["eval", "int8_add"], "01 01\n", ["int8", "floating-point"]),
    ("overflow wrap", ["eval", "f16_add", "--overflow", "wrap"], "3c00 3c00\n", ["wrap"]),
    ("overflow nan without NaN", ["eval", "e2m1fn_add", "--overflow", "nan"], "01 01\n", ["nan", "e2m1fn"]),
    ("bad round", ["eval", "f16_div", "--round", "nearest"], "3c00 3c00\n", ["nearest"]),
    ("empty input", ["eval", "f16_add"], "", ["no input"]),
]


@pytest.mark.parametrize("args, stdin, names", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_arith_error_is_one_line_and_exit_2(args, stdin, names):
    fails(args, stdin, names)


# ---------------------------------------------------------------------------
# Berkeley SoftFloat as a peer
# ---------------------------------------------------------------------------

sf = pytest.importorskip("softfloatpy", reason="softfloatpy missing: scripts/setup.sh installs it")
import gen_softfloat_arith_vectors as gen  # noqa: E402  (beside this file)

MODES = ["rne", "rna", "rtz", "rdn", "rup"]
ARITH_OPS = [f"{f}_{o}" for f in ("f16", "f32", "f64") for o in ("add", "sub", "mul", "div", "sqrt", "mulAdd")]


def check_softfloat(op, mode, tininess, count=6000, all_codes=False):
    lines = gen.vector_lines(op, mode, tininess, count=count, all_codes=all_codes)
    p = run("verify", op, "--round", mode, "--tininess", tininess, stdin="".join(l + "\n" for l in lines))
    out = p.stdout.decode()
    assert p.stderr == b""
    assert out.splitlines()[-1] == f"{len(lines)} passed, 0 failed", out[-4000:]
    assert p.returncode == 0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", ARITH_OPS)
def test_softfloat_arith(op, mode):
    check_softfloat(op, mode, "after")


@pytest.mark.parametrize("mode", ["rne", "rtz"])
@pytest.mark.parametrize("op", ["f16_mul", "f16_mulAdd", "f16_div", "f32_mulAdd", "f64_mul"])
def test_softfloat_arith_tininess_before(op, mode):
    check_softfloat(op, mode, "before")


@pytest.mark.parametrize("mode", MODES)
def test_softfloat_f16_sqrt_every_code(mode):
    check_softfloat("f16_sqrt", mode, "after", all_codes=True)


def test_softfloat_arith_vectors_reach_every_outcome():
    lines = gen.vector_lines("f16_mulAdd", "rne", count=6000)
    flags = {l.split()[-1] for l in lines}
    assert {"00", "01", "03", "05", "10"} <= flags
    assert "08" in {l.split()[-1] for l in gen.vector_lines("f16_div", "rne", count=100)}


def test_softfloat_arith_oracle_agrees_with_hand_worked_cases():
    """Guards the binding's use (operand order, byte order, modes, flags)."""
    for op, mode, xs, want in [
        ("f16_mulAdd", "rne", ["4000", "4200", "3C00"], "4700 00"),  # 2*3+1
        ("f16_mulAdd", "rne", ["3C01", "3C01", "BC02"], "0010 00"),
        ("f16_sub", "rdn", ["3C00", "3C00"], "8000 00"),
        ("f16_div", "rne", ["3C00", "0000"], "7C00 08"),
        ("f32_div", "rdn", ["3F800000", "40400000"], "3EAAAAAA 01"),
        ("f16_mulAdd", "rne", ["0000", "7C00", "7E00"], "7E00 10"),
    ]:
        fmt = gen.format_of(op)
        sf.set_rounding_mode(gen.ROUNDING[mode])
        sf.set_tininess_mode(sf.TininessMode.AFTER_ROUNDING)
        sf.set_exception_flags(0)
        r = gen.OPS[op][0](*(fmt.to_sf(int(x, 16)) for x in xs))
        assert f"{r.to_bytes().hex().upper()} {sf.get_exception_flags():02X}" == want, (op, mode, xs)


def test_verify_catches_a_corrupted_softfloat_arith_vector():
    lines = gen.vector_lines("f16_mulAdd", "rne", count=2000)
    i = next(k for k, l in enumerate(lines) if l.split()[-1] == "01")
    *xs, r, f = lines[i].split()
    lines[i] = " ".join(xs) + f" {int(r, 16) ^ 1:04X} {f}"
    p = run("verify", "f16_mulAdd", stdin="".join(l + "\n" for l in lines))
    assert p.returncode == 1
    assert p.stdout.decode().splitlines()[-1] == f"{len(lines) - 1} passed, 1 failed"
