"""Writes tests/quant/golden/quantize.json: what `floatscope quantize` gives
for every case of golden_cases.py (hashes of the files it writes and of its
--json report, or its error line and exit status).

    .venv/bin/python tests/quant/make_golden.py BUILD/cli/floatscope

It was run once, with the floatscope from before the streaming rewrite
(issue 17 part 4: commit 23499a6 plus the formats/ and emulate/simd/ work in
progress then, neither touching these formats' deterministic rounding);
test_quant_golden.py checks that today's gives the same.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_cases  # noqa: E402


def main():
    exe = os.path.abspath(sys.argv[1])
    out = golden_cases.run_all(exe)
    here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(os.path.join(here, "golden"), exist_ok=True)
    with open(os.path.join(here, "golden", "quantize.json"), "w") as f:
        f.write("{\n")
        f.write(",\n".join(f"{json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in sorted(out.items())))
        f.write("\n}\n")
    errors = sum("error" in v for v in out.values())
    print(f"{len(out)} cases, {errors} refused")


if __name__ == "__main__":
    main()
