#!/usr/bin/env python3
"""TestFloat-format conversion vectors computed by Berkeley SoftFloat.

Berkeley SoftFloat 3 (through the `softfloatpy` binding) is the reference
that TestFloat itself checks against. This script plays `testfloat_gen`:
it prints one line per case, "OPERAND RESULT FLAGS", in upper-case hex of
the formats' widths and TestFloat's flag bits (1 inexact, 2 underflow,
4 overflow, 8 infinite, 16 invalid), so the output can be piped straight
into `floatscope verify OP --round MODE`:

    .venv/bin/python tests/cli/gen_softfloat_vectors.py f32_to_f16 --round rtz \\
        | build/cli/floatscope verify f32_to_f16 --round rtz

Inputs: every code when the source is 16 bits wide; otherwise the specials
(zeros, infinities, quiet and signaling NaNs with payloads, the extreme
subnormals and normals), every binade of the source with its extreme and
random significands, and, in every binade where the destination rounds,
destination grid points, midpoints between them and the source codes one
ulp either side of both (where ties and the last kept bit decide), both
signs; then random bit patterns and random values inside the destination's
range. The choice is deterministic for a given --seed.

SoftFloat's rounding mode, tininess mode and flags are global state; this
script sets them before every call. The softfloatpy wheels are built with
SoftFloat's RISC-V specialization: every NaN result is the positive default
NaN (7E00, 7FC00000, 7FF8000000000000), payloads dropped. floatscope keeps
sign and payload (x86 rules), so NaN results agree only as "a NaN";
`floatscope verify` compares them that way unless --check-nans is given.
SoftFloat is built without round-to-odd (mode 6 truncates), so `rto` is not
offered here.
"""
import argparse
import random
import sys

import softfloatpy as sf


class Fmt:
    """An IEEE binary format as SoftFloat sees it."""

    def __init__(self, name, bits, exp_bits, sf_type):
        self.name = name
        self.bits = bits
        self.exp_bits = exp_bits
        self.man_bits = bits - 1 - exp_bits
        self.bias = (1 << (exp_bits - 1)) - 1
        self.emin = 1 - self.bias  # unbiased exponent of the smallest normal binade
        self.emax = self.bias
        self.max_field = (1 << exp_bits) - 1
        self.sf_type = sf_type
        self.hex_digits = bits // 4

    def code(self, sign, field, mant):
        return (sign << (self.bits - 1)) | (field << self.man_bits) | mant

    def to_sf(self, code):
        return self.sf_type.from_bytes(code.to_bytes(self.bits // 8, "big"))

    def hex(self, code):
        return f"{code:0{self.hex_digits}X}"


FORMATS = {
    "f16": Fmt("f16", 16, 5, sf.Float16),
    "bf16": Fmt("bf16", 16, 8, sf.BFloat16),
    "f32": Fmt("f32", 32, 8, sf.Float32),
    "f64": Fmt("f64", 64, 11, sf.Float64),
}

# The conversions SoftFloat has, by TestFloat name.
OPS = {
    "f16_to_f32": sf.f16_to_f32,
    "f16_to_f64": sf.f16_to_f64,
    "f32_to_f16": sf.f32_to_f16,
    "f32_to_f64": sf.f32_to_f64,
    "f64_to_f16": sf.f64_to_f16,
    "f64_to_f32": sf.f64_to_f32,
    "f32_to_bf16": sf.f32_to_bf16,
    "bf16_to_f32": sf.bf16_to_f32,
}

# floatscope's rounding names (and TestFloat's) -> SoftFloat's modes.
ROUNDING = {
    "rne": sf.RoundingMode.NEAR_EVEN,
    "rna": sf.RoundingMode.NEAR_MAX_MAG,
    "rtz": sf.RoundingMode.MIN_MAG,
    "rdn": sf.RoundingMode.MIN,
    "rup": sf.RoundingMode.MAX,
}
TESTFLOAT_ROUNDING = {"near_even": "rne", "near_maxMag": "rna", "minMag": "rtz", "min": "rdn", "max": "rup"}

TININESS = {"after": sf.TininessMode.AFTER_ROUNDING, "before": sf.TininessMode.BEFORE_ROUNDING}


def formats_of(op):
    src, dst = op.split("_to_")
    return FORMATS[src], FORMATS[dst]


def _unique(seq):
    seen = set()
    for x in seq:
        if x not in seen:
            seen.add(x)
            yield x


def special_codes(src):
    """Zeros, infinities, NaNs with payloads, extreme finite codes, one."""
    m, top = src.man_bits, src.max_field
    quiet = 1 << (m - 1)
    mants_nan = [quiet, quiet | 1, (1 << m) - 1, 1, quiet - 1, 1 << (m - 2), quiet | (1 << (m - 2))]
    for sign in (0, 1):
        yield src.code(sign, 0, 0)  # zero
        yield src.code(sign, top, 0)  # infinity
        for mant in mants_nan:  # quiet and signaling NaNs
            yield src.code(sign, top, mant)
        yield src.code(sign, 0, 1)  # smallest subnormal
        yield src.code(sign, 0, (1 << m) - 1)  # largest subnormal
        yield src.code(sign, 1, 0)  # smallest normal
        yield src.code(sign, top - 1, (1 << m) - 1)  # largest finite
        yield src.code(sign, src.bias, 0)  # one


def binade_mantissas(src, dst, e, rng):
    """Mantissa fields worth testing in the source binade 2^e (normal)."""
    m = src.man_bits
    full = (1 << m) - 1
    yield from (0, 1, full, full - 1, rng.getrandbits(m), rng.getrandbits(m))
    if e < dst.emin - dst.man_bits - 2 or e > dst.emax + 1:
        return  # far outside the destination's range: every value rounds alike
    q = max(e, dst.emin) - dst.man_bits  # weight of the destination's last bit here
    d = q - (e - m)  # source mantissa bits the destination rounds away
    if d < 1 or d > m:
        return  # exact here, or the whole binade is below the destination's grid
    top_j = (1 << (m - d)) - 1
    js = [0, 1, 2, top_j, top_j - 1] + [rng.getrandbits(m - d) for _ in range(3)]
    for j in js:
        if j < 0 or j > top_j:
            continue
        base = j << d  # a destination grid point
        half = base | (1 << (d - 1))  # halfway to the next grid point
        for mant in (base, base + 1, base - 1, half, half - 1, half + 1, base | rng.getrandbits(d)):
            if 0 <= mant <= full:
                yield mant


def structured_codes(src, dst, rng):
    yield from special_codes(src)
    m = src.man_bits
    # Subnormal sources: each bit length of the mantissa is a "binade".
    for b in range(1, m + 1):
        for mant in _unique(((1 << (b - 1)), (1 << b) - 1, (1 << (b - 1)) | rng.getrandbits(b - 1))):
            for sign in (0, 1):
                yield src.code(sign, 0, mant)
    for field in range(1, src.max_field):
        e = field - src.bias
        for mant in _unique(binade_mantissas(src, dst, e, rng)):
            for sign in (0, 1):
                yield src.code(sign, field, mant)


def random_codes(src, dst, rng, count):
    """Uniform bit patterns, then values spread over the destination's range
    (two binades beyond it each way), where the rounding happens."""
    for _ in range(count):
        yield rng.getrandbits(src.bits)
    lo = max(1, dst.emin - dst.man_bits - 2 + src.bias)
    hi = min(src.max_field - 1, dst.emax + 2 + src.bias)
    for _ in range(count):
        yield src.code(rng.getrandbits(1), rng.randint(lo, hi), rng.getrandbits(src.man_bits))


def input_codes(op, seed=1, random_count=10000):
    src, dst = formats_of(op)
    if src.bits <= 16:
        return list(range(1 << src.bits))  # every code
    rng = random.Random(f"{op}/{seed}")
    codes = list(_unique(structured_codes(src, dst, rng)))
    codes += list(random_codes(src, dst, rng, random_count))
    return codes


def vector_lines(op, rounding="rne", tininess="after", seed=1, random_count=10000):
    """The TestFloat lines for `op`, as a list of strings without newlines."""
    rounding = TESTFLOAT_ROUNDING.get(rounding, rounding)
    src, dst = formats_of(op)
    fn = OPS[op]
    sf.set_rounding_mode(ROUNDING[rounding])
    sf.set_tininess_mode(TININESS[tininess])
    lines = []
    for code in input_codes(op, seed, random_count):
        sf.set_exception_flags(0)
        result = fn(src.to_sf(code))
        flags = sf.get_exception_flags()
        lines.append(f"{src.hex(code)} {result.to_bytes().hex().upper()} {flags:02X}")
    return lines


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("op", choices=sorted(OPS))
    p.add_argument("--round", default="rne", choices=sorted(ROUNDING) + sorted(TESTFLOAT_ROUNDING))
    p.add_argument("--tininess", default="after", choices=sorted(TININESS))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--random", type=int, default=10000, help="random inputs of each kind (wide sources)")
    a = p.parse_args()
    out = sys.stdout
    for line in vector_lines(a.op, a.round, a.tininess, a.seed, a.random):
        out.write(line + "\n")


if __name__ == "__main__":
    main()
