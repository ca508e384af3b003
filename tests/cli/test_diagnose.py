"""`floatscope verify OP --in X.npy --out Y.npy --diagnose [--json F]`
(cli/diagnose.h): a kernel's outputs made under a known variant must be
named as exactly that variant; outputs no variant makes (bit flips) get the
closest candidate and an explanation of each differing element; bad input
gives one error line and status 2.

The kernels' outputs are made with ml_dtypes and numpy (a peer), by rules
written out here (rtz by stepping ml_dtypes' rne result toward zero, ties
away by stepping it away, FTZ by zeroing subnormal codes, saturation by
replacing infinities), or, for stochastic rounding only, by `floatscope
eval` (the scalar core, one line at a time, against the array kernels the
diagnosis runs).
"""
import json
import os
import subprocess

import ml_dtypes
import numpy as np
import pytest

FLOATSCOPE = os.environ.get("FLOATSCOPE")
if not FLOATSCOPE or not os.access(FLOATSCOPE, os.X_OK):
    raise RuntimeError("set FLOATSCOPE to the floatscope binary (meson test does this)")

E4M3FN = ml_dtypes.float8_e4m3fn
E5M2 = ml_dtypes.float8_e5m2


def run(*args, stdin=b""):
    return subprocess.run([FLOATSCOPE, *map(str, args)], input=stdin, capture_output=True, timeout=300)


def fails(*args, names=()):
    p = run(*args)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 2, f"exit {p.returncode}, stderr {err!r}, stdout {p.stdout[:300]!r}"
    assert err.endswith("\n") and err.count("\n") == 1, f"not exactly one line: {err!r}"
    assert err.startswith("floatscope: "), err
    for n in names:
        assert n.lower() in err.lower(), f"{n!r} not named in {err!r}"
    assert p.stdout == b""
    return err


def diagnose(tmp_path, op, x, y, *opts):
    """Runs verify --diagnose on arrays x (inputs) and y (outputs); returns
    (exit status, stdout lines, the --json report)."""
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    report = tmp_path / "report.json"
    p = run("verify", op, "--in", tmp_path / "x.npy", "--out", tmp_path / "y.npy", "--diagnose", "--json", report, *opts)
    assert p.returncode in (0, 1), p.stderr.decode()
    assert p.stderr == b""
    return p.returncode, p.stdout.decode().splitlines(), json.loads(report.read_text())


def diagnosis_line(lines):
    return next(l for l in lines if l.startswith("diagnosis:"))


def explained(lines):
    """{element: {"label": text}} of the explained elements."""
    out, cur = {}, None
    for l in lines:
        if l.startswith("element "):
            cur = out.setdefault(int(l.split()[1].rstrip(":")), {"input": l})
        elif cur is not None and l.startswith("  "):
            key = l[2:12].strip() or "note"
            cur[key] = l[13:]
        else:
            cur = None
    return out


def e4m3fn_codes(x):
    return np.asarray(x, np.float32).astype(E4M3FN).view(np.uint8)


def decode(codes, t=E4M3FN):
    return codes.view(t).astype(np.float64)


def step_toward_zero(codes, x, t=E4M3FN):
    """rtz from rne codes: where rne went away from zero, one code back
    (codes of these formats are monotonic in magnitude)."""
    c = codes.copy()
    v = decode(codes, t)
    back = (np.abs(v) > np.abs(x)) & (v != 0)
    c[back] -= 1
    return c


@pytest.fixture
def x32():
    """float32 inputs inside e4m3fn's range: normals, ties, subnormal-range
    values, both signs, zeros."""
    rng = np.random.default_rng(15)
    x = (rng.standard_normal(6000) * 30).astype(np.float32)
    x = np.clip(x, -440, 440)
    ties = np.array([1.0625, 1.1875, -1.0625, 2.125, 0.5 + 2**-5, 3.25 * 2**-3, 2**-9 * 1.5, 2**-9 * 2.5], np.float32)
    tiny = (rng.uniform(-2**-6, 2**-6, 300)).astype(np.float32)
    x = np.concatenate([x, ties, tiny, np.array([0.0, -0.0], np.float32)])
    return x


# ---------------------------------------------------------------------------
# variants named exactly
# ---------------------------------------------------------------------------

def test_matching_outputs_exit_0(tmp_path, x32):
    rc, lines, rep = diagnose(tmp_path, "f32_to_e4m3fn", x32, e4m3fn_codes(x32))
    assert rc == 0
    assert any(l.startswith("result:") and "matches the given semantics" in l for l in lines)
    assert lines[-1] == f"{x32.size} passed, 0 failed"
    assert rep["result"] == "given" and rep["given_mismatches"] == 0 and rep["diagnosis"] is None
    assert rep["candidates"][0]["name"] == "given" and rep["candidates"][0]["mismatches"] == 0
    # Stopped at the given semantics: no other candidate ran.
    assert all(not c["evaluated"] or c["same_as"] == "given" for c in rep["candidates"][1:])


def test_rtz_instead_of_rne_is_named(tmp_path, x32):
    rne = e4m3fn_codes(x32)
    rtz = step_toward_zero(rne, x32)
    differ = int(np.count_nonzero(rtz != rne))
    assert differ > 1000
    rc, lines, rep = diagnose(tmp_path, "f32_to_e4m3fn", x32, rtz)
    assert rc == 1
    assert diagnosis_line(lines) == 'diagnosis: the kernel follows "rounding rtz" exactly'
    assert any("verify options: --round rtz" in l for l in lines)
    assert lines[-1] == f"{x32.size - differ} passed, {differ} failed"
    assert rep["result"] == "exact" and rep["diagnosis"]["name"] == "rounding rtz"
    assert rep["given_mismatches"] == differ
    assert rep["searched_levels"] == 1
    by_name = {c["name"]: c for c in rep["candidates"]}
    assert by_name["rounding rtz"]["mismatches"] == 0
    # rdn rounds the negative inputs the other way: not exact.
    assert by_name["rounding rdn"]["mismatches"] > 0
    # Explanations: the given code, the kernel's, and why.
    ex = explained(lines)
    assert len(ex) == 20
    i = min(ex)
    assert rne[i] != rtz[i]
    assert ex[i]["given"].startswith(f"{rne[i]:02x} [")
    assert ex[i]["kernel"].startswith(f"{rtz[i]:02x} [")
    assert "toward zero" in ex[i]["why"]
    assert "rounding rtz" in ex[i]["matched by"]


def test_ties_away_named_and_explained(tmp_path, x32):
    rne = e4m3fn_codes(x32)
    v = decode(rne)
    x = x32.astype(np.float64)
    # ties away: where x is halfway and rne went toward zero, step away.
    rna = rne.copy()
    lower = np.abs(v) < np.abs(x)  # rne went toward zero
    nxt = decode(rne + 1)
    tie = lower & (np.abs(x) - np.abs(v) == np.abs(nxt) - np.abs(x))
    rna[tie] += 1
    assert tie.sum() >= 4
    rc, lines, rep = diagnose(tmp_path, "f32_to_e4m3fn", x32, rna)
    assert rc == 1
    assert diagnosis_line(lines) == 'diagnosis: the kernel follows "rounding rna" exactly'
    ex = explained(lines)
    first = int(np.flatnonzero(tie)[0])
    assert first in ex
    assert ex[first]["why"].startswith("tie rounded away from even:")
    assert "rounding rna" in ex[first]["matched by"]


def test_saturate_instead_of_ieee_overflow_is_named(tmp_path):
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(4000) * 2e4).astype(np.float32)
    x[:6] = [1e5, -7e4, 6.2e4, -1e6, 60000.0, 3.4e38]
    codes = x.astype(E5M2).view(np.uint8).copy()  # ml_dtypes: overflow -> infinity
    inf = (codes & 0x7F) == 0x7C
    assert inf.sum() >= 5
    codes[inf] = (codes[inf] & 0x80) | 0x7B  # +-57344
    rc, lines, rep = diagnose(tmp_path, "f32_to_e5m2", x, codes)
    assert rc == 1
    assert rep["diagnosis"]["name"] == "overflow saturate"
    assert "compat cuda-satfinite" in rep["also_exact"]  # no NaN inputs: it cannot be told apart
    ex = explained(lines)
    assert ex[0]["why"] == "100000 is beyond max finite 57344: the kernel saturated to 57344 instead of overflowing to infinity"


def test_nan_instead_of_saturation_is_explained(tmp_path):
    # The kernel overflows to NaN where the given semantics saturate.
    x = np.array([1.0, 1000.0, -2000.0, 3.0], np.float32)
    codes = x.astype(E4M3FN).view(np.uint8)  # ml_dtypes: overflow -> NaN
    assert list(codes[1:3]) == [0x7F, 0xFF]
    rc, lines, rep = diagnose(tmp_path, "f32_to_e4m3fn", x, codes, "--overflow", "saturate")
    assert rc == 1
    ex = explained(lines)
    assert ex[1]["why"] == "1000 is beyond max finite 448: the kernel overflowed to NaN instead of saturating"
    assert rep["diagnosis"]["name"] in ("overflow nan", "overflow ieee")


def zero_subnormal_codes(codes):
    codes = codes.copy()
    sub = ((codes & 0x78) == 0) & ((codes & 0x07) != 0)
    codes[sub] &= 0x80  # a subnormal result becomes zero, keeping its sign
    return codes, sub


# Below e4m3fn's smallest normal 2^-6, the inputs from 15/16 * 2^-6 up round
# to 2^-6 on the format's grid; those under 31/32 * 2^-6 are still tiny by
# IEEE's after-rounding test (rounded to 4 bits with an unbounded exponent
# they stay below 2^-6), so flush-output flushes them. A kernel that zeroes
# the results that come out subnormal keeps them.
BAND = (15 / 16 * 2**-6, 31 / 32 * 2**-6)


def test_flush_to_zero_is_named(tmp_path, x32):
    x = x32[~((np.abs(x32) >= BAND[0]) & (np.abs(x32) < 2**-6))]
    codes, sub = zero_subnormal_codes(e4m3fn_codes(x))
    assert sub.sum() > 50
    rc, lines, rep = diagnose(tmp_path, "f32_to_e4m3fn", x, codes)
    assert rc == 1
    assert rep["diagnosis"]["name"] == "subnormals flush-output"
    assert any("--subnormals flush-output" in l for l in lines)
    ex = explained(lines)
    first = int(np.flatnonzero(sub)[0])
    assert ex[first]["why"].startswith("subnormal result flushed to zero")


def test_zeroing_subnormal_results_is_not_ieee_tininess(tmp_path, x32):
    # The band's inputs: floatscope's flush-output (tininess after rounding)
    # flushes them, this kernel does not; no variant floatscope has matches.
    band = np.array([0.95 * 2**-6, -0.95 * 2**-6], np.float32)
    x = np.concatenate([x32[(np.abs(x32) < BAND[0]) | (np.abs(x32) >= 2**-6)], band])
    codes, _ = zero_subnormal_codes(e4m3fn_codes(x))
    assert list(codes[-2:]) == [0x08, 0x88]  # +-2^-6, kept
    rc, lines, rep = diagnose(tmp_path, "f32_to_e4m3fn", x, codes)
    assert rc == 1 and rep["result"] == "closest"
    assert rep["diagnosis"]["name"] == "subnormals flush-output" and rep["diagnosis"]["mismatches"] == 2
    ex = explained(lines)
    assert sorted(ex) == [x.size - 2, x.size - 1]
    assert "flushes only results that come out subnormal" in ex[x.size - 1]["why"]


def test_double_rounding_through_float32_as_ml_dtypes_does(tmp_path):
    # ml_dtypes casts float64 to its types through float32 (checked here):
    # 1 + 2^-4 + 2^-40 is just above the e4m3fn tie 1.0625, so it rounds to
    # 1.125 directly, but to float32 it is the tie, which goes to even, 1.
    rng = np.random.default_rng(7)
    x = rng.standard_normal(3000) * 20
    crafted = np.array([1 + 2**-4 + 2**-40, -(1 + 2**-4 + 2**-40), (1 + 3 * 2**-4 - 2**-41) * 4, 2**-3 * (1 + 2**-4 + 2**-35),
                        np.nan])
    x = np.concatenate([crafted, x]).astype(np.float64)
    kernel = x.astype(E4M3FN).view(np.uint8)
    assert np.array_equal(kernel, x.astype(np.float32).astype(E4M3FN).view(np.uint8))
    rc, lines, rep = diagnose(tmp_path, "f64_to_e4m3fn", x, kernel)
    assert rc == 1
    assert rep["inputs"] == "float64"
    assert rep["diagnosis"]["name"] == "via f32 (rne)"
    assert rep["diagnosis"]["semantics"]["via"] == {"format": "f32", "rounding": "rne"}
    ex = explained(lines)
    assert set(ex) >= {0, 1, 2, 3}
    assert decode(kernel[:1])[0] == 1.0
    assert ex[0]["why"].startswith("rounded toward zero instead of to nearest")
    assert ex[0]["why"].endswith("; rounded to f32 first (rne) it becomes 1.0625, exactly halfway, and rne takes that "
                                 "tie to 1: double rounding")
    assert "via f32 (rne)" in ex[0]["matched by"]
    assert any("no verify option expresses this" in l for l in lines)


def test_ml_dtypes_float64_with_nan_payloads_needs_a_pair(tmp_path):
    # e5m2 from float64 by ml_dtypes: through float32 *and* NaN payloads
    # dropped; floatscope keeps payloads, so no single change reproduces it.
    rng = np.random.default_rng(8)
    x = rng.standard_normal(2000) * 100
    x[:3] = [1 + 2**-3 + 2**-40, 5.0, -3.0]
    nan_bits = np.array([0x7FFC000000000000, 0xFFFC000000000000], np.uint64)
    x = np.concatenate([x, nan_bits.view(np.float64)])
    kernel = x.astype(E5M2).view(np.uint8)
    assert list(kernel[-2:]) == [0x7E, 0xFE]
    rc, lines, rep = diagnose(tmp_path, "f64_to_e5m2", x, kernel)
    assert rc == 1
    assert rep["searched_levels"] == 2
    assert rep["diagnosis"]["name"] == "NaN payload dropped + via f32 (rne)"
    assert "via f32 (rne) + compat ml_dtypes" in rep["also_exact"]
    singles = [c for c in rep["candidates"] if c["level"] == 1 and c["evaluated"]]
    assert singles and all(c["mismatches"] > 0 for c in singles)


def test_double_rounding_through_bfloat16(tmp_path, x32):
    # A kernel that casts float32 -> bfloat16 -> e4m3fn: 1 + 2^-4 + 2^-9
    # keeps its sticky bit in float16 but not in bfloat16.
    x = np.concatenate([np.array([1 + 2**-4 + 2**-9, -(1 + 2**-4 + 2**-9)], np.float32), x32])
    kernel = x.astype(ml_dtypes.bfloat16).astype(E4M3FN).view(np.uint8)
    rc, lines, rep = diagnose(tmp_path, "f32_to_e4m3fn", x, kernel)
    assert rc == 1
    assert rep["diagnosis"]["name"] == "via bf16 (rne)"
    assert {c["name"]: c for c in rep["candidates"]}["via f16 (rne)"]["mismatches"] >= 2


def test_cuda_satfinite_preset_is_named(tmp_path):
    x = np.array([1.0, 1000.0, -1e6, np.inf, -np.inf, 0.3, -2.5, 449.0], np.float32)
    nans = np.array([0x7FC00000, 0xFFC00001, 0x7FA00000], np.uint32).view(np.float32)
    x = np.concatenate([x, nans])
    with np.errstate(invalid="ignore"):  # numpy warns about casting NaN
        codes = x.astype(E4M3FN).view(np.uint8).copy()
    finite_big = np.isinf(x) | (np.abs(x) > 464)
    codes[finite_big] = np.where(x[finite_big] < 0, 0xFE, 0x7E)
    codes[np.isnan(x)] = 0x7F  # positive all-ones, whatever the sign
    rc, lines, rep = diagnose(tmp_path, "f32_to_e4m3fn", x, codes)
    assert rc == 1
    assert rep["diagnosis"]["name"] == "compat cuda-satfinite"
    assert any("verify options: --compat cuda-satfinite" in l for l in lines)
    ex = explained(lines)
    assert "the kernel gives the positive all-ones NaN" in ex[9]["why"]


def test_fake_quantized_outputs_rtz(tmp_path, x32):
    rtz = step_toward_zero(e4m3fn_codes(x32), x32)
    y = decode(rtz).astype(np.float32)
    rc, lines, rep = diagnose(tmp_path, "f32_to_e4m3fn", x32, y)
    assert rc == 1
    assert rep["outputs"] == "fake-quant float32" and rep["diagnosis"]["name"] == "rounding rtz"
    ex = explained(lines)
    i = min(ex)
    assert "(code " in ex[i]["kernel"]


def test_stochastic_rounding_is_searched_only_with_a_seed(tmp_path, x32):
    x = x32[:2000]
    lines = "".join(f"{b:08x}\n" for b in x.view(np.uint32)).encode()
    p = run("eval", "f32_to_e4m3fn", "--round", "sr", "--seed", "7", stdin=lines)
    assert p.returncode == 0, p.stderr
    kernel = np.array([int(l.split()[0], 16) for l in p.stdout.decode().splitlines()], np.uint8)
    rc, out, rep = diagnose(tmp_path, "f32_to_e4m3fn", x, kernel, "--seed", "7")
    assert rc == 1 and rep["stochastic_searched"]
    by_element = [e for e in rep["explained"] if "rounding sr" in e["matched_by"]]
    assert rep["diagnosis"]["name"] == "rounding sr", (
        f"element by element (the scalar core) sr matches at {len(by_element)} of {len(rep['explained'])} explained "
        "elements; over the array (the SIMD kernels) it does not: do they follow formats/philox.h's rule?")
    assert any("verify options: --round sr --seed 7" in l for l in out)
    rc, out, rep = diagnose(tmp_path, "f32_to_e4m3fn", x, kernel)
    assert rc == 1 and not rep["stochastic_searched"] and rep["result"] == "closest"
    assert any("not searched: sr, sr-eq" in l for l in out)
    # A wrong seed reproduces nothing.
    rc, out, rep = diagnose(tmp_path, "f32_to_e4m3fn", x, kernel, "--seed", "8")
    assert rep["result"] == "closest"


def test_integer_truncation_is_named(tmp_path):
    # numpy's float -> int8 cast truncates (a C cast); in range, no wrap.
    x = np.clip(np.random.default_rng(4).standard_normal(3000) * 40, -127, 127).astype(np.float32)
    rc, lines, rep = diagnose(tmp_path, "f32_to_int8", x, np.trunc(x).astype(np.int8).view(np.uint8))
    assert rc == 1
    assert rep["diagnosis"]["name"] == "rounding rtz"
    assert "compat ml_dtypes" in rep["also_exact"]  # rtz and wrap: nothing out of range tells them apart


def test_e8m0_ties_away_as_ml_dtypes(tmp_path):
    # e8m0fnu has no mantissa bits: 3 is halfway between 2 and 4, whose
    # codes 0x80 and 0x81 are even and odd; ml_dtypes goes away from zero.
    rng = np.random.default_rng(6)
    x = (2.0 ** rng.integers(-20, 20, 3000) * rng.uniform(1, 2, 3000)).astype(np.float32)
    x[:4] = [1.5, 3.0, 6.0, 0.75]
    kernel = x.astype(ml_dtypes.float8_e8m0fnu).view(np.uint8)
    assert list(kernel[:4]) == [0x80, 0x81, 0x82, 0x7F]
    rc, lines, rep = diagnose(tmp_path, "f32_to_e8m0fnu", x, kernel)
    assert rc == 1
    exact = {rep["diagnosis"]["name"], *rep["also_exact"]}
    assert {"ties away from zero", "compat ml_dtypes", "rounding rna"} <= exact
    ex = explained(lines)
    assert ex[1]["why"].startswith("tie rounded away from even: 3 is exactly halfway between 2 and 4")


def test_codes_with_bits_above_the_format_are_named(tmp_path):
    x = (np.random.default_rng(9).standard_normal(500) * 3).astype(np.float32)
    codes = x.astype(ml_dtypes.float4_e2m1fn).view(np.uint8).copy()
    codes[5] = 0x1F
    rc, lines, rep = diagnose(tmp_path, "f32_to_e2m1fn", x, codes)
    assert rc == 1 and rep["result"] == "closest" and rep["diagnosis"]["mismatches"] == 1
    ex = explained(lines)
    assert list(ex) == [5]
    assert ex[5]["why"].startswith("0x1f is not a code of e2m1fn")


# ---------------------------------------------------------------------------
# nothing reproduces it
# ---------------------------------------------------------------------------

def test_bit_flips_get_the_closest_candidate_and_explanations(tmp_path, x32):
    codes = e4m3fn_codes(x32).copy()
    rng = np.random.default_rng(99)
    ok = np.flatnonzero(((codes & 0x78) >= 0x28) & ((codes & 0x78) < 0x58))  # exponent 5..10: flipped, 1..2 or 12..14
    flipped = np.sort(rng.choice(ok, 5, replace=False))
    codes[flipped] ^= 0x20
    rc, lines, rep = diagnose(tmp_path, "f32_to_e4m3fn", x32, codes)
    assert rc == 1
    assert diagnosis_line(lines) == 'diagnosis: no candidate reproduces the kernel; closest: "given" with 5 mismatches'
    assert rep["result"] == "closest" and rep["diagnosis"]["mismatches"] == 5 and rep["searched_levels"] == 2
    assert lines[-1] == f"{x32.size - 5} passed, 5 failed"
    ex = explained(lines)
    assert sorted(ex) == list(flipped)
    for i in flipped:
        assert "not a neighbour" in ex[i]["why"] and "single bit (bit 5)" in ex[i]["why"], ex[i]
        assert ex[i]["matched by"] == "none of the given semantics and its single changes"
    assert [e["element"] for e in rep["explained"]] == list(flipped)
    # Every candidate ran, with its count; none beats the given semantics.
    evaluated = [c for c in rep["candidates"] if c["evaluated"]]
    assert len(evaluated) > 100
    assert all(c["mismatches"] >= 5 for c in evaluated)
    names = {c["name"] for c in rep["candidates"]}
    assert all(c["same_as"] is None or c["same_as"] in names for c in rep["candidates"])


def test_max_report_limits_the_explained_elements(tmp_path, x32):
    rtz = step_toward_zero(e4m3fn_codes(x32), x32)
    rc, lines, rep = diagnose(tmp_path, "f32_to_e4m3fn", x32, rtz, "--max-report", "3")
    assert len(explained(lines)) == 3 and len(rep["explained"]) == 3
    rc, lines, rep = diagnose(tmp_path, "f32_to_e4m3fn", x32, rtz, "--max-report", "0")
    assert explained(lines) == {} and rep["diagnosis"]["name"] == "rounding rtz"


def test_plain_verify_takes_float64_inputs(tmp_path):
    # Values that are float32 values: no double rounding to tell apart.
    x = (np.random.default_rng(2).standard_normal(1000) * 10).astype(np.float32).astype(np.float64)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", x.astype(E4M3FN).view(np.uint8))
    p = run("verify", "f64_to_e4m3fn", "--in", tmp_path / "x.npy", "--out", tmp_path / "y.npy")
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode() == "1000 passed, 0 failed\n"


# ---------------------------------------------------------------------------
# bad input: one line, status 2, no report file
# ---------------------------------------------------------------------------

def test_bad_input_gives_one_line(tmp_path):
    x = np.ones(4, np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "x64.npy", x.astype(np.float64))
    np.save(tmp_path / "y.npy", x.astype(E4M3FN).view(np.uint8))
    xp, yp, rp = tmp_path / "x.npy", tmp_path / "y.npy", tmp_path / "r.json"
    fails("verify", "f32_to_e4m3fn", "--diagnose", names=["--diagnose", "--in"])
    fails("verify", "f32_to_e4m3fn", "--in", xp, "--diagnose", names=["--diagnose", "--out"])
    fails("verify", "f32_to_e4m3fn", "--in", xp, "--out", yp, "--json", rp, names=["--json", "--diagnose"])
    fails("verify", "f32_to_e4m3fn", "--in", xp, "--out", yp, "--diagnose", "--json", tmp_path, names=["--json", "directory"])
    fails("verify", "f32_to_e4m3fn", "--in", tmp_path / "x64.npy", "--out", yp, "--diagnose", "--json", rp,
          names=["float32", "f64_to_e4m3fn"])
    fails("verify", "f64_to_e4m3fn", "--in", xp, "--out", yp, "--diagnose", names=["float64", "f32_to_e4m3fn"])
    fails("verify", "f32_to_e4m3fn", "--in", xp, "--out", yp, "--diagnose", "--sr-bits", "8", names=["--sr-bits"])
    fails("verify", "f32_to_e4m3fn", "--in", xp, "--out", yp, "--diagnose", "--round", "nearest", names=["nearest"])
    fails("verify", "f32_to_e4m3fn", "--in", xp, "--out", tmp_path / "missing.npy", "--diagnose", "--json", rp,
          names=["missing.npy"])
    np.save(tmp_path / "short.npy", np.zeros(3, np.uint8))
    fails("verify", "f32_to_e4m3fn", "--in", xp, "--out", tmp_path / "short.npy", "--diagnose", "--json", rp,
          names=["elements"])
    fails("verify", "f16_add", "--in", xp, "--out", yp, "--diagnose", names=["f32_to_"])
    assert not rp.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporaries left
