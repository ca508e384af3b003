#!/usr/bin/env python3
"""Markdown agreement tables from tc_fit verify logs.

  python3 results_table.py verify_f16.txt [more logs...]
      one table per log: a row per random GEMM shape with agree/total per
      input distribution, and one row for all designed probes of each K
  python3 results_table.py --combined NAME=LOG [NAME=LOG...]
      one table: a row per (inputs, GEMM shape), a column per log; a cell
      holds the number of dot products when all of them agree, agree/total
      otherwise
"""
import re
import sys

DISTS = ["normal", "uniform", "wide", "cancel"]
ROW = re.compile(r"^(designed|random)\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(\d+)")


def table(path):
    random, designed, last = {}, {}, ""
    for line in open(path):
        m = ROW.match(line)
        if m:
            kind, what, k, gemm, total, agree = m.groups()
            if kind == "random":
                random.setdefault((int(k), gemm), {})[what] = (int(agree), int(total))
            else:
                t = designed.setdefault((int(k), gemm), [0, 0])
                t[0] += int(agree)
                t[1] += int(total)
        elif line.startswith("verify:"):
            last = line.strip()
    out = ["| GEMM (M x N x K) | " + " | ".join(DISTS) + " |", "|---|" + "---|" * len(DISTS)]
    for (k, gemm) in sorted(random):
        cells = []
        for d in DISTS:
            a, t = random[(k, gemm)].get(d, (0, 0))
            cells.append(f"{a}/{t}")
        out.append(f"| {gemm} | " + " | ".join(cells) + " |")
    out.append("")
    out.append("| designed probes, GEMM | agree/total |")
    out.append("|---|---|")
    for (k, gemm) in sorted(designed):
        a, t = designed[(k, gemm)]
        out.append(f"| K = {k}, {gemm} | {a}/{t} |")
    out.append("")
    out.append(f"`{last}`")
    return "\n".join(out)


def main():
    if sys.argv[1:2] == ["--combined"]:
        pairs = [a.split("=", 1) for a in sys.argv[2:]]
        print(combined([p for _, p in pairs], [n for n, _ in pairs]))
        return
    for p in sys.argv[1:]:
        print(f"#### {p.rsplit('/', 1)[-1]}\n")
        print(table(p))
        print()


def combined(paths, names):
    """One table: a row per (GEMM, distribution), a column per log."""
    per = []
    for p in paths:
        rows = {}
        for line in open(p):
            m = ROW.match(line)
            if m:
                kind, what, k, gemm, total, agree = m.groups()
                key = (0, int(k), f"P x P x {k}", "designed") if kind == "designed" else (1, int(k), gemm, what)
                a, t = rows.get(key, (0, 0))
                rows[key] = (a + int(agree), t + int(total))
        per.append(rows)
    keys = sorted(set().union(*per), key=lambda k: (k[0], k[1], DISTS.index(k[3]) if k[3] in DISTS else -1))
    out = ["| inputs | GEMM (M x N x K) | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for key in keys:
        cells = []
        for rows in per:
            a, t = rows.get(key, (0, 0))
            cells.append("-" if t == 0 else f"{a}/{t}" if a != t else f"{t}")
        gemm = key[2]
        out.append(f"| {key[3]} | {gemm} | " + " | ".join(cells) + " |")
    tot = []
    for rows in per:
        a = sum(v[0] for v in rows.values())
        t = sum(v[1] for v in rows.values())
        tot.append(f"**{a}/{t}**")
    out.append("| all | | " + " | ".join(tot) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    main()
