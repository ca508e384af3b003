"""Writes tests/quant/golden/quantize.json: what `floatscope quantize` gives
for every case of golden_cases.py (hashes of the files it writes and of its
--json report, or its error line and exit status).

    .venv/bin/python tests/quant/make_golden.py OLD_FLOATSCOPE [--correct-with NEW_FLOATSCOPE]

OLD_FLOATSCOPE is a build of the implementation from before the streaming
rewrite (issue 17 part 4; commit be2c875, with that commit's formats/ and
emulate/simd/), and test_quant_golden.py checks that today's gives the same.

Where the old implementation was wrong, --correct-with takes those cases'
reports (never their files, which must be identical) from a new build;
CORRECTED lists them and why. Nothing else may come from the new build.

    .venv/bin/python tests/quant/make_golden.py --sums-reordered BEFORE NEW

takes every report from NEW after the statistics' sums changed their
(fixed) order (2026-12-06: ErrorStats::AddArray sums in four interleaved
lanes, so that they vectorize): BEFORE (a build that passes the golden
test) must give exactly the golden hashes, NEW the golden files, and each
of NEW's reports must equal BEFORE's but for rmse (within a relative
1e-12) and sqnr_db (within 1e-10 dB): a different rounding of the same sums. The files' hashes
stay the ones of the old implementation.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_cases  # noqa: E402

# The old implementation counted `saturated` wrongly for e8m0fnu: elements
# it left to the core (NaN, infinities, float64 values that are not float32
# values) were also cast by the array kernels as a placeholder 0, whose cast
# into e8m0fnu (no zero) raises invalid, and that was counted too (far64:
# 2957 "saturated" of 1800 elements). The new count is the core's flags,
# checked against `floatscope eval f64_to_e8m0fnu --overflow saturate`.
E8M0_REPORT = "saturated counted the placeholder casts of core elements (e8m0fnu has no zero)"
CORRECTED = {f"tensor-e8m0fnu/special32/{m}": E8M0_REPORT for m in golden_cases.DET_MODES}
CORRECTED.update({"tensor-e8m0fnu/wide64/rne": E8M0_REPORT, "tensor-e8m0fnu/far64/rne": E8M0_REPORT})


def close(a, b, rel=1e-12):
    if a == b:
        return True
    if a is None or b is None:
        return False
    return abs(a - b) <= rel * max(abs(a), abs(b))


def sums_reordered(before, new, golden_path):
    with open(golden_path) as f:
        golden = json.load(f)
    raw_b, raw_n = {}, {}
    got_b = golden_cases.run_all(os.path.abspath(before), raw=raw_b)
    got_n = golden_cases.run_all(os.path.abspath(new), raw=raw_n)
    assert got_b == golden, "BEFORE does not give the golden hashes"
    out, changed = {}, 0
    for case, want in golden.items():
        n = got_n[case]
        if "error" in want:
            assert n == want, case
            out[case] = want
            continue
        assert n["dequantized"] == want["dequantized"] and n["codes"] == want["codes"], f"{case}: files differ"
        for key in ("report", "report_codes"):
            rb, rn = dict(raw_b[case][key]), dict(raw_n[case][key])
            assert close(rb.pop("rmse"), rn.pop("rmse")), f"{case} {key} rmse"
            # sqnr_db = 10 log10(ref / err): a relative change d of the
            # ratio moves it by 4.34 d dB, whatever its size.
            sb, sn = rb.pop("sqnr_db"), rn.pop("sqnr_db")
            assert sb == sn or (sb is not None and sn is not None and abs(sb - sn) <= 1e-10), f"{case} {key} sqnr_db"
            assert rb == rn, f"{case} {key}: more than the sums differ"
        changed += n != want
        out[case] = n
    print(f"{len(out)} cases, {changed} reports changed (rmse within 1e-12, sqnr_db within 1e-10 dB), files identical")
    return out


def write(out):
    here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(os.path.join(here, "golden"), exist_ok=True)
    with open(os.path.join(here, "golden", "quantize.json"), "w") as f:
        f.write("{\n")
        f.write(",\n".join(f"{json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in sorted(out.items())))
        f.write("\n}\n")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--sums-reordered":
        here = os.path.dirname(os.path.abspath(__file__))
        write(sums_reordered(sys.argv[2], sys.argv[3], os.path.join(here, "golden", "quantize.json")))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("--correct-with")
    a = ap.parse_args()
    out = golden_cases.run_all(os.path.abspath(a.old))
    if a.correct_with:
        new = golden_cases.run_all(os.path.abspath(a.correct_with), only=set(CORRECTED))
        for case in CORRECTED:
            old, fixed = out[case], new[case]
            assert old["dequantized"] == fixed["dequantized"] and old["codes"] == fixed["codes"], case
            out[case] = fixed
    write(out)
    errors = sum("error" in v for v in out.values())
    print(f"{len(out)} cases, {errors} refused, {len(CORRECTED) if a.correct_with else 0} reports corrected")


if __name__ == "__main__":
    main()
