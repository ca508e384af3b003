"""gfloat (Graphcore's generic float library, PyPI `gfloat`) as a peer for
the IEEE P3109 family binaryKpP{s,u}{e,f}: what the two are compared on,
shared by the CI test (test_gfloat.py) and the on-demand all-2^32 sweep
(sweep_gfloat.py).

gfloat >= 0.4 defines the family as format_info_p3109(k, p, signedness,
domain); floatscope names the members binaryKpP{s,u}{e,f} and holds those
whose exponent field has at most 11 bits (formats/p3109.h). The list below
is written from the P3109 parameters, not read from floatscope.

Where the two do not mean the same thing, the comparison leaves it out and
says so:
  - negative inputs into unsigned members: P3109's Saturate clamps them to
    0 (floatscope does, raising invalid); gfloat returns the negative value
    itself (round_ndarray) and encodes it as code 0 or NaN depending on the
    version, so those inputs are compared to 0 by floatscope's own tests
    only;
  - P3109's OvfInf on a finite member gives MaxFinite; gfloat (sat=False)
    gives NaN there, which is floatscope's `ieee` policy, not its default
    `saturate`: sat=False is compared with overflow='ieee', sat=True with
    overflow='saturate'.
"""
from __future__ import annotations

import pathlib
import sys
from fractions import Fraction
from typing import NamedTuple

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "python"))
import floatscope  # noqa: E402

try:
    import gfloat
    from gfloat.formats import format_info_p3109
    from gfloat.types import Domain, RoundMode, Signedness
except ImportError:  # the callers skip with a line saying so
    gfloat = None


class Member(NamedTuple):
    k: int
    p: int
    signed: bool
    extended: bool

    @property
    def name(self) -> str:
        return f"binary{self.k}p{self.p}{'s' if self.signed else 'u'}{'e' if self.extended else 'f'}"

    @property
    def exponent_bits(self) -> int:
        return self.k - self.p + (0 if self.signed else 1)

    def info(self):
        return format_info_p3109(self.k, self.p, Signedness.Signed if self.signed else Signedness.Unsigned,
                                 Domain.Extended if self.extended else Domain.Finite)


# K = 3..16 (the WG's value tables); signed P = 1..K-1, unsigned P = 1..K;
# floatscope holds exponent fields of at most 11 bits.
FAMILY = [Member(k, p, s, e)
          for k in range(3, 17) for s in (True, False) for p in range(1, k + (0 if s else 1))
          for e in (True, False) if k - p + (0 if s else 1) <= 11]

MODES = {"rne": "TiesToEven", "rna": "TiesToAway", "rtz": "TowardZero", "rdn": "TowardNegative",
         "rup": "TowardPositive"}


def version() -> str:
    try:
        from importlib.metadata import version as v
        return v("gfloat")
    except Exception:  # noqa: BLE001 - only for the report line
        return "?"


def code_word(m: Member):
    return np.uint8 if m.k <= 8 else np.uint16


def all_codes(m: Member) -> np.ndarray:
    return np.arange(1 << m.k, dtype=np.uint32).astype(code_word(m))


def decode_both(m: Member):
    """float64 values of every code: (gfloat's, floatscope's)."""
    codes = all_codes(m)
    peer = np.asarray(gfloat.decode_ndarray(m.info(), codes.astype(np.int64)), dtype=np.float64)
    ours = floatscope.convert(codes, "f64", src=m.name)
    return codes, peer, ours


def sample_f32(m: Member, values: np.ndarray, rng: np.random.Generator, limit: int) -> np.ndarray:
    """float32 inputs around the member's values (taken from gfloat's decode):
    every value and every midpoint of neighbours, rounded to float32 and one
    float32 step either side (at most `limit` of them, the ends of the line
    always), the specials, and random patterns."""
    finite = np.unique(values[np.isfinite(values)])
    if finite.size > 1:
        top = finite.max()
        # One step past the largest value, where overflow starts (inf for
        # members reaching 2^1023: no float32 gets there anyway).
        with np.errstate(over="ignore"):
            finite = np.append(finite, top + (top - finite[-2]))
        # Exact: neighbours have few significant bits, so their difference
        # and its half are doubles, and so is the sum (no (a + b) overflow).
        with np.errstate(invalid="ignore"):
            mids = finite[:-1] + (finite[1:] - finite[:-1]) / 2
        points = np.unique(np.concatenate([finite, mids, -finite, -mids]))
        points = points[~np.isnan(points)]
    else:
        points = finite
    if points.size > limit:
        keep = np.zeros(points.size, dtype=bool)
        keep[:limit // 8] = keep[-limit // 8:] = True
        zero = np.searchsorted(points, 0.0)
        keep[max(zero - limit // 8, 0):zero + limit // 8] = True
        keep[rng.choice(points.size, size=limit // 2, replace=False)] = True
        points = points[keep]
    with np.errstate(over="ignore"):
        f = points.astype(np.float32)
    near = np.concatenate([f, np.nextafter(f, np.float32(np.inf)), np.nextafter(f, np.float32(-np.inf))])
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 3.4e38, -3.4e38, 1e-45, -1e-45],
                        dtype=np.float32)
    rand = rng.integers(0, 1 << 32, size=4096, dtype=np.uint64).astype(np.uint32).view(np.float32)
    return np.concatenate([near, specials, rand])


def round_both(m: Member, x: np.ndarray, mode: str, sat: bool):
    """codes for float32 or float64 inputs x: (gfloat's, floatscope's)."""
    fi = m.info()
    with np.errstate(all="ignore"):
        x64 = x.astype(np.float64)  # signaling NaNs warn, and stay NaN
        r = gfloat.round_ndarray(fi, x64, getattr(RoundMode, MODES[mode]), sat)
        peer = np.asarray(gfloat.encode_ndarray(fi, r)).astype(np.uint32)
    ours = floatscope.convert(x, m.name, src="f32" if x.dtype == np.float32 else "f64", rounding=mode,
                              overflow="saturate" if sat else "ieee").astype(np.uint32)
    return peer, ours


def comparable(m: Member, x: np.ndarray) -> np.ndarray:
    """Inputs whose result both mean the same way (see the module doc)."""
    if m.signed:
        return np.ones(x.shape, dtype=bool)
    return ~(np.signbit(x) & ~np.isnan(x)) | (x == 0)


def exact_nearest_away(m: Member, x: float, values_sorted: list[Fraction]) -> Fraction | None:
    """The value round-to-nearest-ties-away gives for x, by exact rational
    arithmetic on the member's finite values; None outside the finite range."""
    q = Fraction(x)
    sign = -1 if q < 0 else 1
    a = abs(q)
    import bisect
    i = bisect.bisect_left(values_sorted, a)
    if i < len(values_sorted) and values_sorted[i] == a:
        return sign * a
    if i == 0 or i >= len(values_sorted):
        return None
    lo, hi = values_sorted[i - 1], values_sorted[i]
    return sign * (hi if a - lo >= hi - a else lo)
