#!/usr/bin/env python3
"""TestFloat-format arithmetic vectors computed by Berkeley SoftFloat.

Plays `testfloat_gen` for f16/f32/f64 add, sub, mul, div, sqrt and mulAdd:
one line per case, "A [B [C]] RESULT FLAGS" in upper-case hex of the
format's width with TestFloat's flag bits, ready for `floatscope verify`:

    .venv/bin/python tests/cli/gen_softfloat_arith_vectors.py f16_mulAdd --round rdn \\
        | build/cli/floatscope verify f16_mulAdd --round rdn

Operands: every combination of the specials (zeros, infinities, quiet and
signaling NaNs, extreme subnormals and normals, one, and one's neighbours),
then random operands chosen to reach the cases that matter: exponents close
together (cancellation in add/sub, ties), significands with long runs of
trailing zeros or ones (exact results and midpoints), operands near the
subnormal range and near overflow, and for mulAdd an addend near the
product, so that the fused rounding differs from two roundings. The choice
is deterministic for a given --seed. With --all-codes a one-operand op on
f16 takes every code instead.

As in gen_softfloat_vectors.py, softfloatpy is SoftFloat with the RISC-V
specialization: every NaN result is the positive default NaN. `floatscope
verify` compares NaN results as "a NaN" (their flags exactly). SoftFloat
signals invalid for mulAdd(0, inf, quiet NaN), which IEEE 754 7.2(c) leaves
to the implementation; floatscope does the same.
"""
import argparse
import random
import sys

import softfloatpy as sf

from gen_softfloat_vectors import FORMATS, ROUNDING, TESTFLOAT_ROUNDING, TININESS

# TestFloat's op names -> (SoftFloat function, operand count).
OPS = {}
for _name in ("f16", "f32", "f64"):
    OPS[f"{_name}_add"] = (getattr(sf, f"{_name}_add"), 2)
    OPS[f"{_name}_sub"] = (getattr(sf, f"{_name}_sub"), 2)
    OPS[f"{_name}_mul"] = (getattr(sf, f"{_name}_mul"), 2)
    OPS[f"{_name}_div"] = (getattr(sf, f"{_name}_div"), 2)
    OPS[f"{_name}_sqrt"] = (getattr(sf, f"{_name}_sqrt"), 1)
    OPS[f"{_name}_mulAdd"] = (getattr(sf, f"{_name}_mul_add"), 3)


def format_of(op):
    return FORMATS[op.split("_")[0]]


def specials(fmt):
    m, top = fmt.man_bits, fmt.max_field
    quiet = 1 << (m - 1)
    out = []
    for sign in (0, 1):
        out += [
            fmt.code(sign, 0, 0),  # zero
            fmt.code(sign, top, 0),  # infinity
            fmt.code(sign, top, quiet),  # quiet NaN
            fmt.code(sign, top, 1),  # signaling NaN
            fmt.code(sign, 0, 1),  # smallest subnormal
            fmt.code(sign, 0, (1 << m) - 1),  # largest subnormal
            fmt.code(sign, 1, 0),  # smallest normal
            fmt.code(sign, top - 1, (1 << m) - 1),  # largest finite
            fmt.code(sign, fmt.bias, 0),  # one
            fmt.code(sign, fmt.bias, 1),  # one's successor
            fmt.code(sign, fmt.bias - 1, (1 << m) - 1),  # one's predecessor
        ]
    return out


class Operands:
    def __init__(self, fmt, seed):
        self.f = fmt
        self.rng = random.Random(seed)

    def mantissa(self):
        r, m = self.rng, self.f.man_bits
        x = r.getrandbits(m)
        kind = r.randrange(4)
        if kind == 0:
            x &= ~((1 << r.randrange(m + 1)) - 1)  # trailing zeros
        elif kind == 1:
            x |= (1 << r.randrange(m + 1)) - 1  # trailing ones
        return x

    def with_field(self, field):
        field = min(max(field, 0), self.f.max_field - 1)
        return self.f.code(self.rng.getrandbits(1), field, self.mantissa())

    def near(self, field, spread):
        return field + self.rng.randint(-spread, spread)

    def field_of(self, code):
        return (code >> self.f.man_bits) & self.f.max_field

    def random(self, n):
        """n random operands for an op of n operands."""
        r, f = self.rng, self.f
        spread = f.man_bits + 3
        kind = r.randrange(8)
        if kind == 0:  # any bit pattern
            return [r.getrandbits(f.bits) for _ in range(n)]
        if kind == 1:  # near the subnormal range
            a = self.with_field(r.randrange(spread))
        elif kind == 2:  # near overflow
            a = self.with_field(f.max_field - 1 - r.randrange(spread))
        else:
            a = self.with_field(r.randrange(f.max_field))
        b = self.with_field(self.near(self.field_of(a), spread))
        if kind == 3:  # b near one: products and quotients near a
            b = self.with_field(self.near(f.bias, spread))
        c = self.with_field(self.near(self.field_of(a) + self.field_of(b) - f.bias, spread))
        return [a, b, c][:n]


def operand_tuples(op, seed=1, count=20000, all_codes=False):
    fmt = format_of(op)
    _, n = OPS[op]
    if all_codes and n == 1 and fmt.bits <= 16:
        return [(x,) for x in range(1 << fmt.bits)]
    sp = specials(fmt)
    if n == 1:
        tuples = [(x,) for x in sp]
    elif n == 2:
        tuples = [(a, b) for a in sp for b in sp]
    else:  # every special product with a few addends, and every addend
        rng = random.Random(f"{op}/specials/{seed}")
        tuples = [(a, b, c) for a in sp for b in sp for c in rng.sample(sp, 4)]
        tuples += [(a, b, c) for c in sp for a, b in rng.sample([(a, b) for a in sp for b in sp], 8)]
    gen = Operands(fmt, f"{op}/{seed}")
    tuples += [tuple(gen.random(n)) for _ in range(count)]
    return tuples


def vector_lines(op, rounding="rne", tininess="after", seed=1, count=20000, all_codes=False):
    rounding = TESTFLOAT_ROUNDING.get(rounding, rounding)
    fmt = format_of(op)
    fn, _ = OPS[op]
    sf.set_rounding_mode(ROUNDING[rounding])
    sf.set_tininess_mode(TININESS[tininess])
    lines = []
    for xs in operand_tuples(op, seed, count, all_codes):
        sf.set_exception_flags(0)
        result = fn(*(fmt.to_sf(x) for x in xs))
        flags = sf.get_exception_flags()
        ops = " ".join(fmt.hex(x) for x in xs)
        lines.append(f"{ops} {result.to_bytes().hex().upper()} {flags:02X}")
    return lines


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("op", choices=sorted(OPS))
    p.add_argument("--round", default="rne", choices=sorted(ROUNDING) + sorted(TESTFLOAT_ROUNDING))
    p.add_argument("--tininess", default="after", choices=sorted(TININESS))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--random", type=int, default=20000, help="random operand tuples")
    p.add_argument("--all-codes", action="store_true", help="one-operand f16 ops: every code")
    a = p.parse_args()
    for line in vector_lines(a.op, a.round, a.tininess, a.seed, a.random, a.all_codes):
        sys.stdout.write(line + "\n")


if __name__ == "__main__":
    main()
