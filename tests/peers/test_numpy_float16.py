"""numpy's float16 as an oracle for floatscope's f16 (default options, rne).

numpy converts float32 -> float16 with IEEE round to nearest even; its NaN
rule differs on purpose from IEEE 754 6.2.3 and is pinned below: it keeps
the top 10 payload bits and does NOT quiet a signaling NaN (a payload that
truncates to zero becomes 1 so the result stays a NaN), where floatscope,
like x86 F16C and SoftFloat, sets the quiet bit. So NaN results compare by
NaN-ness and sign; the exact NaN rules of both sides are separate tests.
The full 2^32 sweep is sweep_ml_dtypes.py --type float16.
"""
import numpy as np
import pytest

import f32_peer_cases as cases
import floatscope

F16 = cases.NUMPY_F16


def all_f32_nans():
    """Every float32 NaN bit pattern, both signs (2 * (2^23 - 1))."""
    payload = np.arange(1, 1 << 23, dtype=np.uint32)
    pos = 0x7F800000 | payload
    return np.concatenate([pos, pos | 0x80000000])


def test_f32_to_f16_equals_numpy_astype_on_ci_sample():
    m = cases.compare(F16, cases.ci_inputs())
    if len(m.inputs):
        pytest.fail(f"{len(m.inputs)} float32 inputs convert differently:\n" +
                    cases.describe(F16, m), pytrace=False)


def test_every_f16_code_decodes_to_numpy_value():
    codes = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    peer = codes.view(np.float16).astype(np.float32)
    ours = floatscope.convert(codes, "f32", src="f16")
    both_nan = np.isnan(peer) & np.isnan(ours)
    same_sign = np.signbit(peer) == np.signbit(ours)
    ok = (peer.view(np.uint32) == ours.view(np.uint32)) | (both_nan & same_sign)
    bad = np.flatnonzero(~ok)
    assert bad.size == 0, ", ".join(
        f"0x{int(codes[i]):04x}: numpy 0x{int(peer.view(np.uint32)[i]):08x} "
        f"floatscope 0x{int(ours.view(np.uint32)[i]):08x}" for i in bad[:8])
    assert np.isnan(peer).sum() == 2 * 1023


def test_nan_rules_of_numpy_and_floatscope_on_every_f32_nan():
    x = all_f32_nans()
    sign = (x >> 16) & 0x8000
    top10 = (x >> 13) & 0x3FF
    quiet = (x & 0x00400000) != 0
    with np.errstate(invalid="ignore"):
        peer = x.view(np.float32).astype(np.float16).view(np.uint16).astype(np.uint32)
    ours = floatscope.convert(x.view(np.float32), "f16").view(np.uint16).astype(np.uint32)
    # numpy: payload truncated, signaling kept; 0x7c00 (infinity) bumped to 0x7c01.
    numpy_rule = sign | 0x7C00 | np.where(top10 == 0, 1, top10)
    # floatscope (NanPayload::kPreserve): payload truncated, quiet bit set.
    floatscope_rule = sign | 0x7E00 | top10
    assert np.array_equal(peer, numpy_rule)
    assert np.array_equal(ours, floatscope_rule)
    # Hence: identical on quiet NaNs, and only the quiet bit (plus numpy's
    # bump) differs on signaling ones.
    assert np.array_equal(peer[quiet], ours[quiet])
    assert not np.any(peer[~quiet] == ours[~quiet])


def test_numpy_widens_f16_nans_bit_for_bit_floatscope_quiets_them():
    codes = np.arange(0x7C01, 0x7C00 + 0x400, dtype=np.uint16)  # every positive NaN
    peer = codes.view(np.float16).astype(np.float32).view(np.uint32)
    ours = floatscope.convert(codes, "f32", src="f16").view(np.uint32)
    widened = codes.astype(np.uint32) << 13 | 0x70000000  # exponent 0x1f -> 0xff
    assert np.array_equal(peer, widened)
    assert np.array_equal(ours, widened | 0x00400000)
