#!/usr/bin/env python3
"""Sums the test counts of every suite in a meson testlog.json.

doctest suites report test cases ("[doctest] test cases: N | N passed | N
failed"), pytest suites report "N passed, N failed"; any other test counts
as one. Prints a line per test, the skip count, then "N passed, N failed" last.
"""
import json
import re
import sys

DOCTEST = re.compile(r"\[doctest\] test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed\s*\|\s*(\d+) skipped")
PYTEST = re.compile(r"=+ (.*) in [\d.]+s")
PLAIN = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?\s*$", re.M)


def counts(entry):
    out = entry.get("stdout") or ""
    ok = entry.get("result") in ("OK", "EXPECTEDFAIL")
    if entry.get("result") == "SKIP":
        return 0, 0, 1
    m = DOCTEST.findall(out)
    if m:
        _, p, f, s = map(int, m[-1])
        return p, f + (0 if ok or f else 1), s
    m = PYTEST.findall(out)
    if m:
        p = f = s = 0
        for part in m[-1].split(","):
            part = part.strip()
            n = re.match(r"(\d+) (\w+)", part)
            if not n:
                continue
            k, what = int(n.group(1)), n.group(2)
            if what == "passed":
                p += k
            elif what in ("failed", "error", "errors"):
                f += k
            elif what in ("skipped", "deselected"):
                s += k
        return p, f + (0 if ok or f else 1), s
    m = PLAIN.findall(out)
    if m:
        p, f, s = m[-1]
        return int(p), int(f) + (0 if ok or int(f) else 1), int(s or 0)
    return (1, 0, 0) if ok else (0, 1, 0)


def main(path):
    total = [0, 0, 0]
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            entry = json.loads(line)
            p, f, s = counts(entry)
            total[0] += p
            total[1] += f
            total[2] += s
            print(f"  {entry['name']:<40} {entry.get('result'):<8} {p} passed, {f} failed, {s} skipped")
    print(f"skipped: {total[2]} (each skip prints its reason in the suite's log)")
    print(f"{total[0]} passed, {total[1]} failed")
    return 1 if total[1] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
