"""NVFP4's two recipes (`floatscope quantize --scheme nvfp4 --recipe te|torchao`)
against independent transcriptions of their rules in numpy and ml_dtypes,
written here from the public descriptions, not from floatscope's code:

  te       NVIDIA TransformerEngine's NVFP4 recipe (its float32 operations,
           docs/QUANTIZATION.md): global encode scale 448*6/amax, block scale
           e4m3 of amax_b/6 * S_enc rounded to nearest even and saturated
           (a subnormal or zero scale is kept), elements x * 1/(s_b * S_dec).
  torchao  PyTorch AO's nvfp4_quantize with per_tensor_scale =
           per_tensor_amax_to_scale(amax) = amax / (448*6)
           (torchao/prototype/mx_formats/nvfp4_tensor.py): block scale
           clamp((amax_b/6) / P, finfo(float8_e4m3fn).tiny, 448) cast to e4m3,
           elements clamp(x / (P * s_b), -6, 6) cast to e2m1, dequantized as
           q * (P * s_b).

The tensors have a wide dynamic range (block amaxes spread over 2^-40 ..
2^10), where the two recipes differ on purpose: te lets a small block's
scale round to an E4M3 subnormal or to zero (the block is dropped), torchao
clamps it to E4M3's smallest normal 2^-6. Each recipe must match its own
transcription bit for bit and differ from the other on most blocks.
"""
import json
import os
import subprocess

import ml_dtypes
import numpy as np
import pytest

EXE = os.environ.get("FLOATSCOPE", "floatscope")
F32 = np.float32
FLT_MAX = np.finfo(np.float32).max
E4M3 = ml_dtypes.float8_e4m3fn
E2M1 = ml_dtypes.float4_e2m1fn
E4M3_TINY = F32(ml_dtypes.finfo(E4M3).tiny)  # 2^-6, as torch.finfo(torch.float8_e4m3fn).tiny


def blocks_of(x):
    """(rows, k/16, 16) view of a float32 (rows, k) tensor, k a multiple of 16."""
    return x.reshape(x.shape[0], -1, 16)


def e2m1(v):
    """Round-to-nearest-even into E2M1, saturating at +-6 (values already clamped by the callers)."""
    return np.clip(v, F32(-6), F32(6)).astype(E2M1)


def te_reference(x):
    with np.errstate(divide="ignore", over="ignore"):
        amax = F32(np.max(np.abs(x)))
        s_enc = F32(F32(448 * 6) / amax)
        s_enc = min(s_enc, FLT_MAX)
        if amax == 0 or s_enc == 0:
            s_enc = F32(1)
        s_dec = F32(F32(1) / s_enc)
        amax_b = np.max(np.abs(blocks_of(x)), axis=-1)
        s = np.minimum(amax_b / F32(6) * s_enc, FLT_MAX).astype(np.float32)
        s_b = np.minimum(s, F32(448)).astype(E4M3)  # satfinite: (448, 464) rounds to 448 anyway
        sv = s_b.astype(np.float32)
        k = np.minimum(F32(1) / (sv * s_dec), FLT_MAX).astype(np.float32)
        q = e2m1(blocks_of(x) * k[..., None])
        deq = q.astype(np.float32) * (sv * s_dec)[..., None]
    return {"codes": q.view(np.uint8).reshape(x.shape), "scales": s_b.view(np.uint8), "global": s_dec,
            "deq": deq.reshape(x.shape)}


def torchao_reference(x):
    amax = F32(np.max(np.abs(x)))
    per_tensor = F32(amax / F32(448.0 * 6.0))
    block_scale = np.max(np.abs(blocks_of(x)), axis=-1) / F32(6.0)
    scaled = block_scale / per_tensor
    s_b = np.clip(scaled, E4M3_TINY, F32(448.0)).astype(E4M3)
    total = per_tensor * s_b.astype(np.float32)
    q = e2m1(np.clip(blocks_of(x) / total[..., None], F32(-6), F32(6)))
    deq = q.astype(np.float32) * total[..., None]
    return {"codes": q.view(np.uint8).reshape(x.shape), "scales": s_b.view(np.uint8), "global": per_tensor,
            "deq": deq.reshape(x.shape)}


REFERENCES = {"te": te_reference, "torchao": torchao_reference}


def wide_tensor(rows, cols, seed, lo=-40, hi=10):
    """Normal values with one 2^U(lo, hi) magnitude per 16-element block."""
    rng = np.random.default_rng(seed)
    mag = np.exp2(rng.uniform(lo, hi, (rows, cols // 16, 1)))
    return (rng.standard_normal((rows, cols // 16, 16)) * mag).reshape(rows, cols).astype(np.float32)


def run(tmp_path, x, *args, codes=False):
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "y.npy"
    cmd = [EXE, "quantize", "--format", "e2m1fn", "--scheme", "nvfp4", *map(str, args), "--json", "--no-progress",
           "--in", tmp_path / "x.npy", "--out", out]
    p = subprocess.run(list(map(str, cmd)) + (["--codes"] if codes else []), capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    if codes:
        return report, np.load(out), np.load(tmp_path / "y.scales.npy"), np.load(tmp_path / "y.global_scale.npy")
    return report, np.load(out)


def floatscope(tmp_path, x, recipe):
    report, codes, scales, g = run(tmp_path, x, "--recipe", recipe, codes=True)
    _, deq = run(tmp_path, x, "--recipe", recipe)
    assert report["recipe"] == recipe
    return {"codes": codes, "scales": scales, "global": g, "deq": deq}


@pytest.mark.parametrize("recipe", sorted(REFERENCES))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_recipe_matches_its_transcription_on_wide_dynamic_range(tmp_path, recipe, seed):
    x = wide_tensor(64, 128, seed)
    want = REFERENCES[recipe](x)
    got = floatscope(tmp_path, x, recipe)
    assert got["global"].dtype == np.float32 and got["global"] == want["global"]
    assert got["scales"].shape == (64, 8) and got["scales"].dtype == np.uint8
    bad = np.argwhere(got["scales"] != want["scales"])
    assert bad.size == 0, f"{len(bad)} block scales differ, first {bad[0]}: {got['scales'][tuple(bad[0])]:#04x} " \
                          f"vs {want['scales'][tuple(bad[0])]:#04x}"
    bad = np.argwhere(got["codes"] != want["codes"])
    assert bad.size == 0, f"{len(bad)} codes differ, first at {bad[0]}: x={x[tuple(bad[0])]!r}"
    assert np.array_equal(got["deq"].view(np.uint32), want["deq"].view(np.uint32))


def test_the_recipes_differ_where_they_should(tmp_path):
    """On wide dynamic range most block scales differ (te: subnormal or zero
    scales, torchao: 2^-6); te drops blocks torchao keeps."""
    x = wide_tensor(64, 128, 7)
    te, ao = floatscope(tmp_path, x, "te"), floatscope(tmp_path, x, "torchao")
    differ = np.mean(te["scales"] != ao["scales"])
    assert differ > 0.5, differ
    e4m3_values = te["scales"].view(E4M3).astype(np.float32)
    assert np.any(e4m3_values == 0)  # dropped blocks under te...
    dropped = np.repeat(e4m3_values == 0, 16, axis=1)
    assert np.all(te["deq"][dropped] == 0)
    assert np.any(ao["deq"][dropped] != 0)  # ...some of whose values torchao keeps
    assert np.all(ao["scales"].view(E4M3).astype(np.float32) >= E4M3_TINY)


def test_the_recipes_agree_on_a_narrow_range(tmp_path):
    """Without small blocks the two differ only where a rounding of their
    different float32 operations (a division against a reciprocal) lands
    on another side of an E4M3 or E2M1 rounding point: rarely."""
    x = wide_tensor(64, 128, 8, lo=-2, hi=2)
    te, ao = floatscope(tmp_path, x, "te"), floatscope(tmp_path, x, "torchao")
    assert np.mean(te["scales"] == ao["scales"]) > 0.98
    assert np.mean(te["codes"] == ao["codes"]) > 0.99


def test_float64_input_is_rounded_to_float32_first(tmp_path):
    x = wide_tensor(16, 64, 9)
    x64 = x.astype(np.float64) * (1 + 2.0**-40)
    want = torchao_reference(x64.astype(np.float32))
    got = floatscope(tmp_path, x64, "torchao")
    assert np.array_equal(got["codes"], want["codes"]) and np.array_equal(got["scales"], want["scales"])


def test_recipe_errors(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((2, 32), np.float32))
    for args, text in [(["--scheme", "nvfp4", "--format", "e2m1fn", "--recipe", "cutlass"], "unknown --recipe 'cutlass'"),
                       (["--scheme", "mx", "--format", "e2m1fn", "--recipe", "torchao"],
                        "--recipe applies to --scheme nvfp4, not to --scheme mx")]:
        p = subprocess.run([EXE, "quantize", *args, "--in", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy")],
                           capture_output=True, text=True)
        assert p.returncode == 2
        assert len(p.stderr.splitlines()) == 1 and p.stderr.startswith("floatscope: ") and text in p.stderr, p.stderr
        assert not (tmp_path / "y.npy").exists()
