"""`floatscope gen OP`: TestFloat-style test vectors (docs/CLI.md, "gen").

What is checked, and against what:
- gen | verify round-trips for conversions and arithmetic, named and custom
  formats, integers, every rounding mode including sr and sr-eq (the line's
  position is its element index), and the pipeline can fail (a flipped bit,
  a wrong seed, reordered sr lines are caught);
- the trap classes are there, computed here independently of floatscope: for
  f32_to_e4m3fn every exact midpoint between adjacent codes and its float32
  neighbours, the overflow threshold and the point beyond, half the smallest
  subnormal, the tininess boundary; for f16 arithmetic every operand pair of
  TestFloat's level-1 grid (genCases_f16.c: the exponents subnormal, -14,
  -11, -2..2, 11, 15 and the all-ones field, times the significands 0, 1,
  0x3FF, 0x3FE, both signs);
- the expected results agree with peers: Berkeley SoftFloat (TestFloat's own
  reference; Debian has no testfloat package) for every f16 conversion and
  arithmetic op in the five IEEE modes and both tininess modes, f32/f64/bf16
  too; ml_dtypes for the FP8 conversions;
- counts per level, determinism (same seed, same bytes; another seed changes
  the seeded classes only), and one error line with exit 2 for bad input.
"""
import math
import os
import struct
from fractions import Fraction
import subprocess
import sys

import numpy as np
import pytest

FLOATSCOPE = os.environ.get("FLOATSCOPE")
if not FLOATSCOPE or not os.access(FLOATSCOPE, os.X_OK):
    raise RuntimeError("set FLOATSCOPE to the floatscope binary (meson test does this)")


def run(*args, stdin=b""):
    return subprocess.run([FLOATSCOPE, *args], input=stdin, capture_output=True, timeout=300)


def gen(op, *opts):
    p = run("gen", op, *opts)
    assert p.returncode == 0 and p.stderr == b"", p.stderr.decode(errors="replace")
    return p.stdout


def lines_of(out):
    return out.decode().splitlines()


def verify(op, data, *opts):
    p = run("verify", op, *opts, stdin=data)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def fails(args, names=()):
    p = run(*args)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 2, f"exit {p.returncode}, stderr {err!r}"
    assert err.startswith("floatscope: ") and err.count("\n") == 1 and err.endswith("\n"), repr(err)
    assert p.stdout == b""
    for n in names:
        assert n.lower() in err.lower(), f"{n!r} not in {err!r}"


# ---------------------------------------------------------------------------
# gen | verify
# ---------------------------------------------------------------------------

ROUND_TRIPS = [
    ("f32_to_e4m3fn", []),
    ("f32_to_e4m3fn", ["--round", "rtz", "--overflow", "saturate"]),
    ("f64_to_f16", ["--round", "rdn", "--tininess", "before"]),
    ("f32_to_bf16", ["--round", "rna"]),
    ("f64_to_f32", ["--round", "rto"]),
    ("f16_to_e5m2", ["--subnormals", "flush"]),
    ("f32_to_e2m1fn", ["--round", "rup"]),
    ("f32_to_int8", ["--round", "rna"]),
    ("f64_to_uint4", ["--overflow", "wrap"]),
    ("int8_to_e4m3fn", []),
    ("f32_to_e8m0fnu", ["--round", "rup"]),
    ("f32_to_e4m3fnuz", []),
    ("f32_to_binary8p3", []),
    ("f32_to_binary8p4ue", ["--round", "rdn"]),
    ("binary12p5se_mulAdd", []),
    ("f64_to_binary16p16uf", ["--overflow", "ieee"]),
    ("f32_to_e4m3fn", ["--compat", "cuda-satfinite"]),
    ("f32_to_f16", ["--compat", "ml_dtypes", "--round", "rup"]),
    ("e5m6_to_f32", []),
    ("f32_to_e5m6", ["--compat", "none"]),
    ("f16_add", ["--round", "rdn"]),
    ("f16_sub", []),
    ("f32_mul", ["--round", "rup"]),
    ("f64_div", ["--round", "rtz"]),
    ("f64_sqrt", []),
    ("f16_mulAdd", ["--round", "rna"]),
    ("bf16_fma", ["--round", "rto"]),
    ("tf32_add", []),
    ("e4m3fn_mul", ["--overflow", "saturate"]),
    ("e2m1fn_mulAdd", []),
    ("e5m6_div", []),
    ("f32_to_e4m3fn", ["--round", "sr", "--sr-bits", "3"]),
    ("f16_add", ["--round", "sr-eq"]),
]


@pytest.mark.parametrize("op,opts", ROUND_TRIPS, ids=[f"{o} {' '.join(a)}" for o, a in ROUND_TRIPS])
def test_gen_verify_round_trip(op, opts):
    # gen's --seed is also the sr key, so verify takes the same options.
    seed = ["--seed", "5"] if "sr" in opts or "sr-eq" in opts else []
    out = gen(op, *opts, *seed)
    n = len(lines_of(out))
    assert n > 0
    rc, text, err = verify(op, out, *opts, *seed)
    assert err == "" and rc == 0, text[-2000:] + err
    assert text.splitlines()[-1] == f"{n} passed, 0 failed"


def test_lines_are_verify_input_format():
    """operands, result, two flag digits; hex of each format's width."""
    for op, widths in [("f32_to_e4m3fn", [8, 2]), ("f16_mulAdd", [4, 4, 4, 4]), ("tf32_add", [8, 8, 8]),
                       ("f64_to_int8", [16, 2]), ("e2m1fn_sqrt", [2, 2])]:
        for line in lines_of(gen(op))[:2000]:
            fields = line.split(" ")
            assert [len(f) for f in fields] == widths + [2], line
            assert all(c in "0123456789abcdef" for c in "".join(fields)), line
            assert int(fields[-1], 16) < 32
    for line in lines_of(gen("tf32_add"))[:2000]:  # tf32 codes have the low 13 bits zero
        assert all(int(x, 16) & 0x1FFF == 0 for x in line.split()[:3]), line


def test_docs_example_overflow_class():
    """docs/CLI.md's example: 448, the tie 464 and 480 with their float32
    neighbours; just above the tie overflows to NaN (e4m3fn's default)."""
    assert lines_of(gen("f32_to_e4m3fn", "--class", "overflow"))[:9] == [
        "43dfffff 7e 01", "43e00000 7e 00", "43e00001 7e 01",
        "43e7ffff 7e 01", "43e80000 7e 01", "43e80001 7f 05",
        "43efffff 7f 05", "43f00000 7f 05", "43f00001 7f 05"]


def test_verify_catches_a_corrupted_gen_vector():
    rows = lines_of(gen("f32_to_e4m3fn"))
    i = len(rows) // 2
    x, r, f = rows[i].split()
    rows[i] = f"{x} {int(r, 16) ^ 1:02x} {f}"
    rc, text, _ = verify("f32_to_e4m3fn", ("\n".join(rows) + "\n").encode())
    assert rc == 1
    assert text.splitlines()[-1] == f"{len(rows) - 1} passed, 1 failed"
    assert f"line {i + 1}: f32_to_e4m3fn {x}" in text


def test_stochastic_vectors_are_keyed_by_line_and_seed():
    out = gen("f32_to_e4m3fn", "--round", "sr", "--seed", "11")
    rows = lines_of(out)
    ok = verify("f32_to_e4m3fn", out, "--round", "sr", "--seed", "11")
    assert ok[0] == 0
    # Another seed, or the same lines in another order, must disagree
    # somewhere: each line's result depends on its position.
    assert verify("f32_to_e4m3fn", out, "--round", "sr", "--seed", "12")[0] == 1
    swapped = rows[1:] + rows[:1]
    assert verify("f32_to_e4m3fn", ("\n".join(swapped) + "\n").encode(), "--round", "sr", "--seed", "11")[0] == 1


# ---------------------------------------------------------------------------
# trap classes, computed independently
# ---------------------------------------------------------------------------

def f32_bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def f32_neighbours(x):
    """float32 x (exact) and the float32 codes just below and above it."""
    x32 = np.float32(x)
    assert float(x32) == x, x
    return {f32_bits(float(v)) for v in (np.nextafter(x32, np.float32(-np.inf)), x32,
                                          np.nextafter(x32, np.float32(np.inf)))}


def e4m3fn_values():
    """Positive finite values of OCP E4M3: bias 7, 3 mantissa bits,
    subnormals, no infinity, S.1111.111 is NaN (max 448)."""
    vals = []
    for code in range(0x7F):  # 0x7F is NaN
        e, m = code >> 3, code & 7
        vals.append(m / 8 * 2.0**-6 if e == 0 else (1 + m / 8) * 2.0 ** (e - 7))
    return vals


def operands(op, *opts):
    return {int(line.split()[0], 16) for line in lines_of(gen(op, *opts))}


def test_f32_to_e4m3fn_has_every_trap_class():
    got = operands("f32_to_e4m3fn")
    vals = e4m3fn_values()
    assert vals[-1] == 448.0 and vals[1] == 2.0**-9
    want = {}
    for sign in (1, -1):
        for a, b in zip(vals, vals[1:]):
            want[f"midpoint {a}..{b}"] = f32_neighbours(sign * (a + b) / 2)
            want[f"value {b}"] = f32_neighbours(sign * b)
        want["overflow threshold 464"] = f32_neighbours(sign * 464.0)
        want["first grid point beyond max, 480"] = f32_neighbours(sign * 480.0)
        want["half the smallest subnormal"] = f32_neighbours(sign * 2.0**-10)
        want["quarter of the smallest subnormal"] = f32_neighbours(sign * 2.0**-11)
        want["smallest normal"] = f32_neighbours(sign * 2.0**-6)
        # Tininess after rounding: 2^-6 - 2^-11 (p = 4) rounds to 2^-6 at full precision.
        want["tininess boundary"] = f32_neighbours(sign * (2.0**-6 - 2.0**-11))
    specials = {0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001, 0xFFC00000,
                0x00000001, 0x007FFFFF, 0x00800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x3F800000}
    missing = {k: sorted(hex(c) for c in v - got) for k, v in want.items() if not v <= got}
    assert not missing, list(missing.items())[:5]
    assert specials <= got, sorted(hex(c) for c in specials - got)
    # Every float32 binade (exponent field 1..254) has its first and last code, both signs.
    for field in range(1, 255):
        for s in (0, 1):
            assert (s << 31 | field << 23) in got and (s << 31 | field << 23 | 0x7FFFFF) in got, field


def ml_dtypes_results(op, dtype):
    """gen's lines for op, and whether ml_dtypes gives the same value for
    each line's operand (both sides decoded by ml_dtypes, NaN matching NaN)."""
    ml = pytest.importorskip("ml_dtypes")
    t = getattr(ml, dtype)
    src_dtype, uint = (np.float32, np.uint32) if op.startswith("f32") else (np.float64, np.uint64)
    rows = [line.split() for line in lines_of(gen(op, "--compat", "ml_dtypes"))]
    x = np.array([int(r[0], 16) for r in rows], dtype=uint).view(src_dtype)
    with np.errstate(all="ignore"):  # NaN and overflow casts are the point
        want = x.astype(t).astype(np.float64)
    got = np.array([int(r[1], 16) for r in rows], dtype=np.uint8).view(t).astype(np.float64)
    same = ((want == got) | (np.isnan(want) & np.isnan(got))) & (np.signbit(want) == np.signbit(got))
    return rows, x, t, same


@pytest.mark.parametrize("op,dtype", [("f32_to_e4m3fn", "float8_e4m3fn"), ("f32_to_e5m2", "float8_e5m2"),
                                      ("f32_to_e4m3fnuz", "float8_e4m3fnuz"), ("f32_to_e2m1fn", "float4_e2m1fn"),
                                      ("f32_to_e3m2fn", "float6_e3m2fn")])
def test_fp8_fp6_fp4_results_agree_with_ml_dtypes(op, dtype):
    """ml_dtypes computes every line's result of a float32 source."""
    rows, _, _, same = ml_dtypes_results(op, dtype)
    bad = np.nonzero(~same)[0]
    assert len(bad) == 0, [rows[i] for i in bad[:5]]
    assert len(rows) > 8000


@pytest.mark.parametrize("op,dtype", [("f64_to_e4m3fn", "float8_e4m3fn"), ("f64_to_e4m3fnuz", "float8_e4m3fnuz"),
                                      ("f64_to_e5m2", "float8_e5m2"), ("f64_to_e3m2fn", "float6_e3m2fn"),
                                      ("f64_to_e2m1fn", "float4_e2m1fn")])
def test_f64_sources_disagree_with_ml_dtypes_only_by_its_double_rounding(op, dtype):
    """ml_dtypes (0.6.0) converts float64 to FP8/FP6 through float32: a value
    a hair beside a midpoint becomes the midpoint, then ties to even. gen's
    midpoint-neighbour vectors find those cases (256 lines of
    f64_to_e4m3fnuz); on every other line the results agree."""
    rows, x, t, same = ml_dtypes_results(op, dtype)
    with np.errstate(all="ignore"):
        via_f32 = x.astype(np.float32).astype(t).astype(np.float64)
        direct = x.astype(t).astype(np.float64)
    for i in np.nonzero(~same)[0]:
        assert direct[i] == via_f32[i] or (np.isnan(direct[i]) and np.isnan(via_f32[i])), rows[i]
        assert float(np.float32(x[i])) != float(x[i]), rows[i]  # float32 rounded it first


def grid_of_testfloat_f16_level1():
    """TestFloat 3e's level-1 systematic f16 operands (genCases_f16.c,
    f16QIn x f16P1): sign, exponent field of the binades subnormal, -14,
    -11, -2, -1, 0, 1, 2, 11, 15 and the infinity/NaN field, OR'ed with the
    significands 0, 1, 0x3FF, 0x3FE."""
    fields = [0, -14 + 15, -11 + 15, -2 + 15, -1 + 15, 15, 1 + 15, 2 + 15, 11 + 15, 15 + 15, 31]
    return [s << 15 | e << 10 | m for s in (0, 1) for e in fields for m in (0, 1, 0x3FF, 0x3FE)]


def grid_of_testfloat_level1(bits, man):
    """The same grid for f32 and f64 (genCases_f32.c/_f64.c: exponents
    subnormal, emin, -p, -2..2, p, emax (emax - 1 too: TestFloat's negative
    f32 row uses 126) and the top field; significands 0, 1, max - 1, max)."""
    bias = (1 << (bits - 2 - man)) - 1
    p = man + 1
    exps = [1 - bias, -p, -2, -1, 0, 1, 2, p, bias - 1, bias]
    fields = [0, (1 << (bits - 1 - man)) - 1] + [e + bias for e in exps]
    top = (1 << man) - 1
    return [s << (bits - 1) | e << man | m for s in (0, 1) for e in fields for m in (0, 1, top - 1, top)]


@pytest.mark.parametrize("op", ["f16_add", "f16_sub", "f16_mul", "f16_div", "f32_add", "f32_mul", "f64_sub",
                                "f64_div"])
def test_binary_ops_cover_testfloat_level1_grid(op):
    """Every pair of TestFloat's level-1 grid is among gen's vectors."""
    if op.startswith("f16"):
        grid = grid_of_testfloat_f16_level1()
        assert len(set(grid)) == 88
    else:
        grid = grid_of_testfloat_level1(32, 23) if op.startswith("f32") else grid_of_testfloat_level1(64, 52)
    pairs = {tuple(int(x, 16) for x in line.split()[:2]) for line in lines_of(gen(op))}
    missing = [(a, b) for a in grid for b in grid if (a, b) not in pairs]
    assert not missing, [f"{a:x} {b:x}" for a, b in missing[:10]]


def test_f16_mulAdd_covers_testfloat_grid_in_every_position():
    """TestFloat's level 1 takes every triple of its grid (6.1 million
    lines); gen takes every grid value in every operand position, and every
    grid pair for a*b (docs/CLI.md says so)."""
    grid = grid_of_testfloat_f16_level1()
    triples = [tuple(int(x, 16) for x in line.split()[:3]) for line in lines_of(gen("f16_mulAdd"))]
    ab = {t[:2] for t in triples}
    missing = [(a, b) for a in grid for b in grid if (a, b) not in ab]
    assert not missing, [f"{a:04x} {b:04x}" for a, b in missing[:10]]
    for k in range(3):
        assert set(grid) <= {t[k] for t in triples}, k


@pytest.mark.parametrize("op", ["f32_to_f16", "f32_to_e4m3fn", "f32_sqrt", "f64_to_f32", "f64_to_f16", "f64_sqrt"])
def test_one_operand_ops_cover_testfloat_level1_operands(op):
    """TestFloat's level-1 one-operand grid (genCases_f32.c/_f64.c: f32QOut
    x f32P1, f64QOut x f64P1) is a subset of: every exponent field, each
    with the significands 0, 1, max - 1, max, both signs. gen has all of
    them."""
    bits, man = (32, 23) if op.startswith("f32") else (64, 52)
    top = (1 << man) - 1
    want = {s << (bits - 1) | e << man | m for s in (0, 1) for e in range(1 << (bits - 1 - man))
            for m in (0, 1, top - 1, top)}
    got = {int(line.split()[0], 16) for line in lines_of(gen(op))}
    missing = sorted(want - got)
    assert not missing, [f"{x:0{bits // 4}x}" for x in missing[:10]]


@pytest.mark.parametrize("op", ["f16_sqrt", "f16_to_f32", "f16_to_e4m3fn", "bf16_to_f16"])
def test_16_bit_unary_ops_are_exhaustive(op):
    ops = [int(line.split()[0], 16) for line in lines_of(gen(op))]
    assert ops == list(range(65536))


def test_8_bit_binary_ops_are_exhaustive():
    pairs = [tuple(line.split()[:2]) for line in lines_of(gen("e4m3fn_add"))]
    assert len(pairs) == 65536 and len(set(pairs)) == 65536


def test_add_ties_are_exact_midpoints():
    """The ties class of f16_add holds a + ulp(a)/2 for key values a: an
    exact tie, to even under rne and away under rna."""
    rows = [line.split() for line in lines_of(gen("f16_add", "--class", "ties"))]
    rne = {(r[0], r[1]): r[2] for r in rows}
    rna = {(r[0], r[1]): r[2] for r in (line.split() for line in lines_of(gen("f16_add", "--class", "ties",
                                                                                 "--round", "rna")))}
    assert rne[("3c00", "1000")] == "3c00" and rna[("3c00", "1000")] == "3c01"  # 1 + 2^-11
    assert rne[("3c01", "1000")] == "3c02" and rna[("3c01", "1000")] == "3c02"  # odd below: up both ways
    assert rne[("7bff", "4c00")] == "7c00"  # 65504 + 16: the overflow tie
    assert ("3c00", "0fff") in rne and ("3c00", "1001") in rne  # the neighbours of the half ulp


def decode(code, bits, man):
    """Exact value of an IEEE binary code (Fraction), None for inf/NaN."""
    ebits = bits - 1 - man
    sign = -1 if code >> (bits - 1) else 1
    field, frac = (code >> man) & ((1 << ebits) - 1), code & ((1 << man) - 1)
    bias = (1 << (ebits - 1)) - 1
    if field == (1 << ebits) - 1:
        return None
    if field == 0:
        return sign * Fraction(frac) * Fraction(2) ** (1 - bias - man)
    return sign * Fraction((1 << man) | frac) * Fraction(2) ** (field - bias - man)


def position(x, man, emin):
    """Where |x| lies between two neighbours of an IEEE grid (unbounded
    above): the fractional part of |x| / quantum, 1/2 for a midpoint."""
    x = abs(x)
    e = max(emin, x.numerator.bit_length() - x.denominator.bit_length() - 1)
    while Fraction(2) ** (e + 1) <= x:
        e += 1
    while e > emin and Fraction(2) ** e > x:
        e -= 1
    t = x / Fraction(2) ** (e - man)
    return t - (t.numerator // t.denominator)


F16 = (16, 10, -14)


def exact_results(op, cls, *opts):
    """(operands, exact real result) of each line of a class of an f16 op."""
    bits, man, _ = F16
    out = []
    for line in lines_of(gen(op, "--class", cls, *opts)):
        v = [decode(int(x, 16), bits, man) for x in line.split()[:3 if op.endswith("mulAdd") else 2]]
        if any(x is None for x in v):
            continue
        a, b = v[0], v[1]
        r = {"add": a + b, "sub": a - b, "mul": a * b}.get(op.split("_")[1])
        if op.endswith("div"):
            r = a / b if b else None
        if op.endswith("mulAdd"):
            r = a * b + v[2]
        if r is not None:
            out.append((v, r))
    return out


@pytest.mark.parametrize("op", ["f16_add", "f16_sub", "f16_mul", "f16_mulAdd"])
def test_ties_class_holds_exact_midpoints(op):
    """Worked out here with exact fractions: the ties class holds hundreds
    of exact midpoints of the f16 grid (262 of f16_add's 1168 lines, 565 of
    f16_mul's 2256, 1560 of f16_mulAdd's 9006); the rest are the codes one
    off them, ties that the subnormal grid makes exact values, and (mulAdd)
    a b - a b."""
    _, man, emin = F16
    rows = exact_results(op, "ties")
    ties = sum(1 for _, r in rows if r != 0 and position(r, man, emin) == Fraction(1, 2))
    assert ties >= 200 and 7 * ties >= len(rows), (ties, len(rows))


def test_near_ties_class_of_div_is_a_hair_from_midpoints():
    """Every f16_div near-tie quotient lies within 2^-7 of a last place from
    a midpoint (a random quotient does so once in 64), and none on it."""
    _, man, emin = F16
    rows = exact_results("f16_div", "near-ties", "--seed", "2")
    dist = [abs(position(r, man, emin) - Fraction(1, 2)) for _, r in rows]
    assert len(rows) == 500 and max(dist) < Fraction(1, 2**7) and min(dist) > 0, (len(rows), max(dist))


def test_near_ties_class_of_sqrt_is_a_hair_from_midpoints():
    """f32_sqrt: sqrt(a) within 2^-12 of a last place from a midpoint
    (integer square roots with 40 extra bits)."""
    rows = lines_of(gen("f32_sqrt", "--class", "near-ties", "--seed", "2"))
    assert len(rows) >= 450
    for line in rows:
        a = decode(int(line.split()[0], 16), 32, 23)
        assert a > 0
        num, den = a.numerator, a.denominator  # a power of two one way or the other
        e2 = num.bit_length() - 1 - (den.bit_length() - 1)  # floor(log2 a)
        er = e2 // 2  # floor(log2 sqrt a)
        # t = sqrt(a) / 2^(er - 23), scaled by 2^40: isqrt(a 2^(126 - 2 er)).
        scaled = a * Fraction(2) ** (126 - 2 * er)
        assert scaled.denominator == 1
        root = math.isqrt(scaled.numerator)
        frac = Fraction(root % 2**40, 2**40)
        assert abs(frac - Fraction(1, 2)) < Fraction(1, 2**12), line


def test_cancellation_sticky_overflow_underflow_classes_hit_their_targets():
    _, man, emin = F16
    rows = exact_results("f16_add", "cancellation")
    cancel = sum(1 for (a, b), r in rows if a and abs(r) <= 4 * abs(a) / 2**man)
    assert cancel >= 0.6 * len(rows), (cancel, len(rows))
    # sticky: the smaller operand's leading bit p-2 .. p+3 places below the larger's.
    gaps = [abs(a).numerator.bit_length() - abs(a).denominator.bit_length()
            - (abs(b).numerator.bit_length() - abs(b).denominator.bit_length())
            for (a, b), _ in exact_results("f16_add", "sticky") if a and b]
    assert sum(1 for g in gaps if 8 <= abs(g) <= 15) >= 0.9 * len(gaps), gaps[:20]
    over = exact_results("f16_mul", "overflow")
    assert sum(1 for _, r in over if abs(r) >= 2**14) >= 0.9 * len(over)
    under = exact_results("f16_mul", "underflow")
    assert sum(1 for _, r in under if abs(r) < 2**-13) >= 0.9 * len(under)


# ---------------------------------------------------------------------------
# Berkeley SoftFloat computes the same results
# ---------------------------------------------------------------------------

MODES = ["rne", "rna", "rtz", "rdn", "rup"]


def softfloat_disagreements(op, mode, tininess="after", level="1"):
    sf = pytest.importorskip("softfloatpy", reason="softfloatpy missing: scripts/setup.sh installs it")
    sys.path.insert(0, os.path.dirname(__file__))
    import gen_softfloat_vectors as conv  # noqa: E402  (beside this file)
    import gen_softfloat_arith_vectors as arith  # noqa: E402

    if "_to_" in op:
        s, d = op.split("_to_")
        fs, fd, fn, n = conv.FORMATS[s], conv.FORMATS[d], conv.OPS[op], 1
    else:
        fs = fd = conv.FORMATS[op.split("_")[0]]
        fn, n = arith.OPS[op]
    rows = lines_of(gen(op, "--round", mode, "--tininess", tininess, "--level", level))
    sf.set_rounding_mode(conv.ROUNDING[mode])
    sf.set_tininess_mode(conv.TININESS[tininess])
    man = (1 << fd.man_bits) - 1

    def is_nan(c):
        return (c >> fd.man_bits) & fd.max_field == fd.max_field and c & man != 0

    bad = []
    for line in rows:
        t = line.split()
        sf.set_exception_flags(0)
        r = fn(*(fs.to_sf(int(x, 16)) for x in t[:n]))
        flags = sf.get_exception_flags()
        code = int.from_bytes(r.to_bytes(), "big")
        want = int(t[n], 16)
        # softfloatpy uses RISC-V NaN rules (one default NaN); floatscope
        # keeps payloads (x86): NaN results agree as "a NaN", as verify says.
        if not (code == want or (is_nan(code) and is_nan(want))) or flags != int(t[n + 1], 16):
            bad.append(f"{line}  softfloat: {code:x} {flags:02x}")
    return len(rows), bad


F16_OPS = ["f16_to_f32", "f16_to_f64", "f32_to_f16", "f64_to_f16", "f16_add", "f16_sub", "f16_mul", "f16_div",
           "f16_sqrt", "f16_mulAdd"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", F16_OPS)
def test_f16_vectors_agree_with_softfloat(op, mode):
    n, bad = softfloat_disagreements(op, mode)
    assert n > 0 and not bad, bad[:5]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", ["f32_to_f16", "f64_to_f16", "f16_add", "f16_mul", "f16_div", "f16_mulAdd"])
def test_f16_vectors_agree_with_softfloat_tininess_before(op, mode):
    n, bad = softfloat_disagreements(op, mode, "before")
    assert n > 0 and not bad, bad[:5]


@pytest.mark.parametrize("op", ["f32_to_bf16", "bf16_to_f32", "f64_to_f32", "f32_add", "f32_mul", "f32_div",
                                "f32_sqrt", "f32_mulAdd", "f64_add", "f64_mul", "f64_div", "f64_sqrt", "f64_mulAdd"])
@pytest.mark.parametrize("mode", ["rne", "rdn"])
def test_wider_vectors_agree_with_softfloat(op, mode):
    n, bad = softfloat_disagreements(op, mode)
    assert n > 0 and not bad, bad[:5]


@pytest.mark.parametrize("mode", ["rne", "rdn"])
@pytest.mark.parametrize("op", ["f32_to_f16", "f64_to_f16", "f16_add", "f16_mul", "f16_div", "f16_mulAdd"])
def test_gen_lines_equal_the_repos_softfloat_vectors_where_operands_meet(op, mode):
    """The SoftFloat vectors this repo already generates
    (gen_softfloat_vectors.py, gen_softfloat_arith_vectors.py, TestFloat's
    line format) and gen's lines: where both have the same operands, the
    lines are the same (hex case aside; NaN results as "a NaN")."""
    pytest.importorskip("softfloatpy", reason="softfloatpy missing: scripts/setup.sh installs it")
    sys.path.insert(0, os.path.dirname(__file__))
    import gen_softfloat_arith_vectors as arith  # noqa: E402
    import gen_softfloat_vectors as conv  # noqa: E402

    n = 1 if "_to_" in op else arith.OPS[op][1]
    theirs = conv.vector_lines(op, mode) if "_to_" in op else arith.vector_lines(op, mode)
    fd = conv.FORMATS[op.split("_to_")[1] if "_to_" in op else op.split("_")[0]]
    man = (1 << fd.man_bits) - 1

    def is_nan(c):
        return (c >> fd.man_bits) & fd.max_field == fd.max_field and c & man != 0

    ours = {tuple(line.split()[:n]): line.split()[n:] for line in lines_of(gen(op, "--round", mode))}
    common = 0
    for line in theirs:
        t = line.lower().split()
        if tuple(t[:n]) not in ours:
            continue
        common += 1
        r, f = ours[tuple(t[:n])]
        assert f == t[n + 1] and (r == t[n] or (is_nan(int(r, 16)) and is_nan(int(t[n], 16)))), (line, r, f)
    assert common >= 300, common


@pytest.mark.parametrize("op", ["f16_add", "f16_mul", "f32_to_f16"])
def test_level2_f16_vectors_agree_with_softfloat(op):
    n, bad = softfloat_disagreements(op, "rne", level="2")
    assert n > 100000 and not bad, bad[:5]


# ---------------------------------------------------------------------------
# levels, seeds, classes
# ---------------------------------------------------------------------------

def count(op, *opts):
    return len(lines_of(gen(op, *opts)))


@pytest.mark.parametrize("op", ["f32_to_e4m3fn", "f64_to_f16", "f64_to_f32", "f16_add", "f32_mul", "f64_div",
                                "f32_sqrt", "f16_mulAdd"])
def test_counts_per_level(op):
    one, two = count(op), count(op, "--level", "2")
    assert 8000 <= one <= 100000, one
    assert two >= 5 * one, (one, two)


def test_list_classes_counts_add_up():
    p = run("gen", "f32_to_e4m3fn", "--list-classes")
    assert p.returncode == 0
    rows = [line.split() for line in p.stdout.decode().splitlines()]
    names = [r[0] for r in rows]
    # e4m3fn is small: grid and midpoints visit every value, so there is no
    # random-midpoints class (there is for f16, and no underflow for int8).
    assert names == ["specials", "overflow", "underflow", "grid", "midpoints", "binades", "random", "total"]
    assert "random-midpoints" in run("gen", "f32_to_f16", "--list-classes").stdout.decode()
    assert "underflow" not in run("gen", "f32_to_int8", "--list-classes").stdout.decode()
    assert sum(int(r[1]) for r in rows[:-1]) == int(rows[-1][1]) == count("f32_to_e4m3fn")
    assert "(seeded)" in p.stdout.decode().splitlines()[-2]


def test_seed_with_stochastic_rounding_is_taken_for_exhaustive_ops():
    """f16_sqrt lists every code, yet --seed keys sr: it changes the results."""
    a = gen("f16_sqrt", "--round", "sr", "--seed", "1")
    b = gen("f16_sqrt", "--round", "sr", "--seed", "2")
    assert a != b and [line.split()[0] for line in lines_of(a)] == [line.split()[0] for line in lines_of(b)]


def test_random_count_option():
    base = count("f32_to_e4m3fn", "--class", "random", "--random", "0")
    assert base == 0
    assert count("f32_to_e4m3fn", "--class", "random", "--random", "100") <= 100
    assert count("f16_add", "--random", "0") < count("f16_add")


SYSTEMATIC = {"f32_to_e4m3fn": "specials,overflow,underflow,grid,midpoints,binades",
              "f16_add": "specials,binades,ties", "f64_div": "specials,binades"}
SEEDED = {"f32_to_e4m3fn": "random", "f16_add": "cancellation,sticky,overflow,underflow,random",
          "f64_div": "exact,near-ties,overflow,underflow,random"}


@pytest.mark.parametrize("op", sorted(SYSTEMATIC))
def test_same_seed_same_output_other_seed_other_random_part(op):
    a, b = gen(op, "--seed", "3"), gen(op, "--seed", "3")
    assert a == b
    assert gen(op) == gen(op, "--seed", "1")  # 1 is the default, as TestFloat's
    c = gen(op, "--seed", "4")
    assert a != c
    # The systematic classes do not depend on the seed (so --seed with them
    # alone is refused: it would change nothing), the seeded ones do.
    fails(["gen", op, "--class", SYSTEMATIC[op], "--seed", "3"], ["--seed", "change nothing"])
    for cls in SEEDED[op].split(","):
        assert gen(op, "--class", cls, "--seed", "3") != gen(op, "--class", cls, "--seed", "4"), cls
    # The full output starts with the systematic classes, unchanged.
    sys_part = gen(op, "--class", SYSTEMATIC[op])
    assert a.startswith(sys_part) and c.startswith(sys_part)


def test_class_alone_gives_the_same_vectors_as_in_the_full_run():
    """A class keeps its own random stream: alone (--class) it gives the
    tuples it gives in the full run, where each tuple appears once, under
    the first class that gave it. Under deterministic rounding a line's text
    depends on its operands only, so every line of the class is in the full
    output."""
    full = set(lines_of(gen("f16_add", "--seed", "9")))
    for cls in ["specials", "ties", "cancellation", "sticky", "random"]:
        seed = ["--seed", "9"] if cls in SEEDED["f16_add"].split(",") else []
        alone = lines_of(gen("f16_add", "--class", cls, *seed))
        assert alone and set(alone) <= full, cls
    assert len(full) == count("f16_add", "--seed", "9")  # no line twice


# ---------------------------------------------------------------------------
# errors: one line, exit 2
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("args,names", [
    (["gen", "f32_to_nosuch"], ["nosuch"]),
    (["gen", "f16_frob"], ["unknown op", "f16_frob"]),
    (["gen", "int8_add"], ["integer"]),
    (["gen"], ["OP"]),
    (["gen", "f16_add", "f16_mul"], []),
    (["gen", "f16_add", "--level", "3"], ["--level", "3"]),
    (["gen", "f16_add", "--level", "x"], ["--level"]),
    (["gen", "f16_add", "--level", ""], ["--level"]),
    (["gen", "f16_add", "--seed", "-1"], ["--seed", "-1"]),
    (["gen", "f16_add", "--seed", "18446744073709551616"], ["--seed"]),
    (["gen", "f16_add", "--random", "-1"], ["--random"]),
    (["gen", "f16_add", "--random", "1000000001"], ["--random"]),
    (["gen", "f16_add", "--class", "nosuch"], ["nosuch", "ties"]),
    (["gen", "f16_add", "--class", "midpoints"], ["midpoints"]),  # a conversion's class
    (["gen", "f16_add", "--round", "nearest"], ["nearest"]),
    # Options that would change nothing.
    (["gen", "f16_sqrt", "--seed", "3"], ["--seed", "every operand", "change nothing"]),
    (["gen", "e4m3fn_add", "--random", "10"], ["--random", "change nothing"]),
    (["gen", "f16_add", "--class", "specials,ties", "--random", "10"], ["--random", "--class"]),
    (["gen", "f16_add", "--class", "binades", "--seed", "2"], ["--seed", "--class"]),
    (["gen", "f16_add", "--class", ","], ["--class"]),
    (["gen", "f16_add", "--class", ""], ["--class", "''"]),
    (["gen", "f16_add", "--sr-bits", "4"], ["--sr-bits"]),
    (["gen", "f32_to_e2m1fn", "--overflow", "nan"], ["e2m1fn", "nan"]),
    (["gen", "f32_to_f16", "--overflow", "wrap"], ["wrap"]),
    (["gen", "f32_to_f16", "--tininess", "sometimes"], ["sometimes"]),
    (["gen", "f32_to_f16", "--subnormals", "drop"], ["drop"]),
    (["gen", "f32_to_f16", "--compat", "gpu"], ["gpu"]),
    (["gen", "f16_add", "--bogus"], ["--bogus"]),
])
def test_bad_input_is_one_line_and_exit_2(args, names):
    fails(args, names)


def test_write_error_is_reported():
    with open("/dev/full", "wb") as full:
        p = subprocess.run([FLOATSCOPE, "gen", "f16_add"], stdout=full, stderr=subprocess.PIPE, timeout=60)
    err = p.stderr.decode()
    assert p.returncode == 2 and err.startswith("floatscope: cannot write to standard output") and err.count("\n") == 1
