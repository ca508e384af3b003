#!/usr/bin/env python3
"""Carry only the float32 results of a probe file (probe.py's format).

A probe file holds the inputs (codes) and the float32 results of every dot
product; the inputs are a pure function of probe.py's generator (--dry-run
writes the same inputs on any machine), so only the results need to travel
back from the GPU machine:

  probe_results.py extract RUN.bin RESULTS.f32       # on the GPU machine
  probe_results.py splice INPUT.bin RESULTS.f32 RUN.bin  # here, INPUT from --dry-run

extract writes, per record, its header (10 uint32) and its C block; splice
checks that every header matches INPUT.bin's and writes INPUT.bin with the
C blocks replaced, the file tc_fit reads.
"""
import struct
import sys

MAGIC = 0x31504354
CODE_BYTES = {0: 2, 1: 2, 2: 1, 3: 1}  # format id -> bytes per code (f16, bf16, e4m3fn, e5m2)


def records(data):
    """(header bytes, offset of C, C bytes, end) per record of a probe file."""
    at = 0
    while at < len(data):
        if len(data) - at < 40:
            raise SystemExit(f"probe_results: truncated header at byte {at}")
        head = struct.unpack_from("<10I", data, at)
        magic, kind, _, _, _, k, ms, ns, fa, fb = head
        if magic != MAGIC:
            raise SystemExit(f"probe_results: bad magic at byte {at}")
        if fa not in CODE_BYTES or fb not in CODE_BYTES:
            raise SystemExit(f"probe_results: unknown format id {fa}/{fb} at byte {at}")
        c_at = at + 40 + ms * k * CODE_BYTES[fa] + ns * k * CODE_BYTES[fb]
        c_len = 4 * (ms if kind == 0 else ms * ns)
        end = c_at + c_len + (16 * ms if kind == 0 else 0)
        if end > len(data):
            raise SystemExit(f"probe_results: truncated record at byte {at}")
        yield data[at:at + 40], c_at, c_len, end
        at = end


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "extract":
        data = open(sys.argv[2], "rb").read()
        out = bytearray()
        for head, c_at, c_len, _ in records(data):
            out += head + data[c_at:c_at + c_len]
        open(sys.argv[3], "wb").write(out)
    elif len(sys.argv) == 5 and sys.argv[1] == "splice":
        data = bytearray(open(sys.argv[2], "rb").read())
        res = open(sys.argv[3], "rb").read()
        at = 0
        for head, c_at, c_len, _ in records(bytes(data)):
            if res[at:at + 40] != head:
                raise SystemExit(f"probe_results: record header differs from the input's at result byte {at}")
            if len(res) < at + 40 + c_len:
                raise SystemExit("probe_results: results file truncated")
            data[c_at:c_at + c_len] = res[at + 40:at + 40 + c_len]
            at += 40 + c_len
        if at != len(res):
            raise SystemExit("probe_results: results file has more records than the input")
        open(sys.argv[4], "wb").write(data)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
