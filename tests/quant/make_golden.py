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


def main():
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
    here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(os.path.join(here, "golden"), exist_ok=True)
    with open(os.path.join(here, "golden", "quantize.json"), "w") as f:
        f.write("{\n")
        f.write(",\n".join(f"{json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in sorted(out.items())))
        f.write("\n}\n")
    errors = sum("error" in v for v in out.values())
    print(f"{len(out)} cases, {errors} refused, {len(CORRECTED) if a.correct_with else 0} reports corrected")


if __name__ == "__main__":
    main()
