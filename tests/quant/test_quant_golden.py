"""`floatscope quantize` gives today the bits it gave before the streaming
rewrite (issue 17 part 4), for every case of golden_cases.py: every scheme,
element format family, deterministic rounding mode, overflow and subnormal
policy, on float32 and float64 inputs, one and three threads. Compared: the
SHA-256 of every file written (dequantized values, codes, scales, zero
points, global scale), of the --json report, and the refusals (exit status
and message).

A mismatch names the case and the part that differs; quant_test.cc's
"array pipeline" cases compare the same paths element by element against the
scalar core and show the differing elements.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_cases  # noqa: E402

EXE = os.environ.get("FLOATSCOPE", "floatscope")
GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "quantize.json")


def test_every_case_gives_the_golden_bits():
    with open(GOLDEN) as f:
        want = json.load(f)
    got = golden_cases.run_all(EXE)
    assert sorted(got) == sorted(want), "golden_cases.py and golden/quantize.json list different cases"
    bad = []
    for case in sorted(want):
        w, g = want[case], got[case]
        if w != g:
            parts = sorted(k for k in set(w) | set(g) if w.get(k) != g.get(k))
            bad.append(f"{case}: {', '.join(parts)} differ" + (f" ({g.get('error', '').strip()})" if "error" in g else ""))
    assert not bad, f"{len(bad)} of {len(want)} cases differ:\n" + "\n".join(bad[:40])


def test_the_cases_cover_what_they_claim():
    """The golden file is only worth what its cases reach: every scheme, both
    input dtypes, every deterministic mode, refusals."""
    with open(GOLDEN) as f:
        want = json.load(f)
    ids = list(want)
    for scheme in ("tensor-", "channel-", "group-", "delayed-", "mx-", "nvfp4-"):
        assert any(i.startswith(scheme) for i in ids), scheme
    for inp in golden_cases.SMALL_INPUTS + ["big32"]:
        assert any(f"/{inp}/" in i for i in ids), inp
    for mode in golden_cases.DET_MODES:
        assert sum(f"/{mode}" in i for i in ids) > 50, mode
    assert sum("error" in v for v in want.values()) > 0
    assert sum("codes" in v for v in want.values()) > 1000
