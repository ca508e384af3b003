"""gfloat as an oracle for the IEEE P3109 family binaryKpP{s,u}{e,f}
(gfloat_cases.py says what is compared and what is left out, and why):

(a) every code of every member floatscope holds (454 members, K = 3..16)
    decodes to the value gfloat's decode_ndarray gives (NaN: NaN-ness);
(b) float32 -> member, in rne rna rtz rdn rup, with gfloat's sat=False
    against overflow='ieee' and sat=True against overflow='saturate', bit
    for bit on every member's values, midpoints and overflow threshold
    (rounded to float32, +-1 float32 step; sampled for wide members) plus
    random patterns;
(c) float64 inputs one double-ulp either side of the midpoints of binary8
    members under ties-away: gfloat's scalar round_float decides ties with
    `delta + 0.5 >= 1.0`, which rounds a delta just below 1/2 up; every
    disagreement is settled with exact rationals, and floatscope must be
    right on all of them.

The full 2^32 sweep of a member is sweep_gfloat.py (on demand).
"""
import numpy as np
import pytest

import gfloat_cases as cases

if cases.gfloat is None:
    pytest.skip("gfloat is not installed (pip install gfloat): the P3109 family peer test is skipped",
                allow_module_level=True)

IDS = [m.name for m in cases.FAMILY]


def test_the_family_list():
    assert len(cases.FAMILY) == 454
    print(f"gfloat {cases.version()}")


@pytest.mark.parametrize("k", range(3, 17))
def test_every_code_decodes_to_gfloat_value(k):
    bad = []
    for m in (m for m in cases.FAMILY if m.k == k):
        codes, peer, ours = cases.decode_both(m)
        ok = (peer.view(np.uint64) == ours.view(np.uint64)) | (np.isnan(peer) & np.isnan(ours))
        # gfloat decodes no -0 in P3109 (there is none); +0 == +0 bitwise above.
        for i in np.flatnonzero(~ok)[:4]:
            bad.append(f"{m.name} 0x{int(codes[i]):x}: gfloat {peer[i]!r} floatscope {ours[i]!r}")
    assert not bad, "codes decoding differently: " + "; ".join(bad[:20])


@pytest.mark.parametrize("k", range(3, 17))
def test_float32_conversions_equal_gfloat(k):
    rng = np.random.default_rng(3109 + k)
    bad, compared = [], 0
    for m in (m for m in cases.FAMILY if m.k == k):
        _, values, _ = cases.decode_both(m)
        x = cases.sample_f32(m, values, rng, limit=2048)
        use = cases.comparable(m, x)
        x = x[use]
        for mode in cases.MODES:
            for sat in (False, True):
                peer, ours = cases.round_both(m, x, mode, sat)
                compared += x.size
                for i in np.flatnonzero(peer != ours)[:3]:
                    bad.append(f"{m.name} {mode} sat={sat} f32 0x{int(x.view(np.uint32)[i]):08x} ({float(x[i])!r}): "
                               f"gfloat 0x{int(peer[i]):x} floatscope 0x{int(ours[i]):x}")
    print(f"K={k}: {compared} comparisons")
    assert not bad, f"{len(bad)}+ differences: " + "; ".join(bad[:20])


def test_ties_away_just_below_midpoints_settled_exactly():
    """float64 inputs next to the midpoints of every binary8 member: the
    exact answer (Fraction) decides each case where gfloat and floatscope
    differ; floatscope must always be the exact answer."""
    from fractions import Fraction

    gfloat_wrong = floatscope_wrong = cases_checked = 0
    examples = []
    for m in (m for m in cases.FAMILY if m.k == 8):
        fi = m.info()
        _, values, _ = cases.decode_both(m)
        finite = np.unique(values[np.isfinite(values) & (values >= 0)])
        mids = (finite[:-1] + finite[1:]) / 2
        x = np.concatenate([np.nextafter(mids, 0.0), mids, np.nextafter(mids, np.inf)])
        ours = cases.floatscope.convert(x, m.name, src="f64", rounding="rna")
        ours_val = cases.floatscope.convert(ours, "f64", src=m.name)
        exact_table = [Fraction(float(v)) for v in finite]
        for xi, oi in zip(x.tolist(), ours_val.tolist()):
            peer = cases.gfloat.round_float(fi, xi, cases.RoundMode.TiesToAway, False)
            want = cases.exact_nearest_away(m, xi, exact_table)
            cases_checked += 1
            if want is None:
                continue
            if Fraction(peer) != want:
                gfloat_wrong += 1
                if len(examples) < 3:
                    examples.append(f"{m.name} x={xi.hex()}: gfloat {float(peer).hex()}, exact {float(want).hex()}")
            if Fraction(oi) != want:
                floatscope_wrong += 1
    print(f"ties-away near midpoints: {cases_checked} inputs; gfloat round_float differs from the exact "
          f"answer on {gfloat_wrong} ({'; '.join(examples)})")
    assert floatscope_wrong == 0
