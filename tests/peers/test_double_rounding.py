"""Double rounding, shown on ml_dtypes: a teaching example (docs/PEERS.md).

ml_dtypes' numpy cast float64 -> float8 (and bfloat16, FP4, ...) first
rounds to float32 and then to the small type. A float64 a hair above (or
below) a midpoint between two neighbours of the small type rounds to that
midpoint in float32 -- the hair is below float32's precision -- and the
second rounding then sees an exact tie and goes to the even neighbour,
which is the wrong one for half of such inputs. floatscope's EncodeFromF64
rounds once, from the exact float64.

The inputs are built around every midpoint m between neighbouring values
lo < hi of the type: x = m ± d with d = 1, 2, 2^13, 2^26 float64 ulps of m,
all of which float32 collapses onto m (asserted). The correct result is
known by construction (x > m: hi, x < m: lo, with the type's overflow result
above the largest finite value), so no rounding code is trusted here.
"""
from typing import NamedTuple

import numpy as np
import pytest

import floatscope

ml_dtypes = pytest.importorskip("ml_dtypes")


class Case(NamedTuple):
    peer: str
    spec: str
    overflow_code: int  # what rne gives just above max + ulp/2: inf, NaN or (saturating) max


CASES = [
    Case("float8_e4m3fn", "e4m3fn", 0x7F),  # no infinity: NaN
    Case("float8_e5m2", "e5m2", 0x7C),      # +inf
    Case("float4_e2m1fn", "e2m1fn", 0x07),  # saturates at 6
    Case("bfloat16", "bf16", 0x7F80),       # +inf
]


class Traps(NamedTuple):
    x: np.ndarray           # float64 inputs
    correct: np.ndarray     # the single rounding of x (by construction)
    via_float32: np.ndarray  # what rounding float32(x) = m gives: the even neighbour
    distinct: np.ndarray    # lo and hi give different codes (not so where FP4 saturates)


def traps(case: Case) -> Traps:
    info = floatscope.format_info(case.spec)
    dt = np.dtype(getattr(ml_dtypes, case.peer))
    # Positive finite codes in order of value; sign-magnitude, so consecutive.
    codes = np.arange(1 << (info.bits - 1), dtype=np.uint64).astype(info.word)
    with np.errstate(invalid="ignore"):  # the NaN codes, dropped next
        values = codes.view(dt).astype(np.float64)
    finite = np.isfinite(values)
    codes, values = codes[finite], values[finite]
    assert np.all(np.diff(values) > 0)
    # The pair above the largest value: max and max + ulp, whose "code" is
    # the overflow result; the tie between them goes to the even code.
    ulp_top = values[-1] - values[-2]
    lo_v = values
    hi_v = np.append(values[1:], values[-1] + ulp_top)
    lo_c = codes.astype(np.int64)
    hi_c = np.append(codes[1:].astype(np.int64), case.overflow_code)
    hi_is_even = np.append(codes[1:] % 2 == 0, (int(codes[-1]) + 1) % 2 == 0)
    mid = (lo_v + hi_v) / 2  # exact: one more bit than the type has
    xs, correct, via32, distinct = [], [], [], []
    for ulps in (1, 2, 1 << 13, 1 << 26):
        for side in (+1, -1):
            x = mid + side * ulps * np.spacing(mid)
            assert np.array_equal(x.astype(np.float32).astype(np.float64), mid), \
                "a trap must collapse onto the midpoint in float32"
            xs.append(x)
            correct.append(hi_c if side > 0 else lo_c)
            via32.append(np.where(hi_is_even, hi_c, lo_c))
            distinct.append(hi_c != lo_c)
    return Traps(*(np.concatenate(a) for a in (xs, correct, via32, distinct)))


@pytest.mark.parametrize("case", CASES, ids=[c.peer for c in CASES])
def test_floatscope_rounds_float64_once(case):
    t = traps(case)
    ours = floatscope.convert(t.x, case.spec, src="f64", compat="ml_dtypes")
    bad = np.flatnonzero(ours != t.correct)
    assert bad.size == 0, ", ".join(
        f"{float(t.x[i]).hex()}: floatscope 0x{int(ours[i]):x}, correct 0x{int(t.correct[i]):x}"
        for i in bad[:8])


@pytest.mark.parametrize("case", CASES, ids=[c.peer for c in CASES])
def test_ml_dtypes_array_cast_rounds_twice_exactly_where_predicted(case):
    t = traps(case)
    word = floatscope.format_info(case.spec).word
    peer = t.x.astype(getattr(ml_dtypes, case.peer)).view(word).astype(np.int64)
    # The peer gives the float32 path's answer on every trap ...
    assert np.array_equal(peer, t.via_float32)
    # ... so it differs from floatscope exactly where double rounding bites,
    # which is half of the traps (above the midpoint when lo is even, below
    # it when hi is even), leaving out the saturated top pair of FP4.
    ours = floatscope.convert(t.x, case.spec, src="f64", compat="ml_dtypes").astype(np.int64)
    bites = t.via_float32 != t.correct
    assert np.array_equal(peer != ours, bites)
    assert bites.sum() == t.distinct.sum() // 2 > 0


def test_worked_example_from_peers_md():
    # 1.0625 is the midpoint of e4m3fn's 1.0 (0x38, even) and 1.125 (0x39).
    x = 1.0625 + 2.0**-40
    assert np.float64(x).view(np.uint64) == 0x3FF1000000001000
    assert np.float32(x) == np.float32(1.0625)  # 2^-40 < half a float32 ulp (2^-24)
    ours = floatscope.convert(np.array([x]), "e4m3fn", src="f64", compat="ml_dtypes")[0]
    assert ours == 0x39  # 1.125: x is above the midpoint
    peer = np.array([x]).astype(ml_dtypes.float8_e4m3fn).view(np.uint8)[0]
    assert peer == 0x38  # 1.0: float32 made it a tie, the tie went to even
    # ml_dtypes' scalar constructor converts the Python float directly and
    # rounds once: the same library, two answers.
    assert float(ml_dtypes.float8_e4m3fn(x)) == 1.125
