"""attn_mlir against a NumPy float64 reference: specs, masks, traced
regions, the one-call API, errors, and (skipped without CUDA) the GPU."""
import pathlib
import re

import numpy as np
import pytest

import attn_mlir as am
from conftest import cuda_available
from reference import attention_reference, relative_error

F32_TOL = 2e-5
F16_TOL = 2e-3


def qkv(rng, B=2, H=4, Hkv=2, Sq=37, Skv=53, D=24, Dv=40, dtype=np.float32):
    def r(*shape):
        return rng.standard_normal(shape).astype(dtype)
    return r(B, H, Sq, D), r(B, Hkv, Skv, D), r(B, Hkv, Skv, Dv)


CASES = {
    "dense": (None, lambda b, h, i, j: True),
    "causal": (am.causal(), lambda b, h, i, j: j <= i),
    "causal_bottom_right": (am.causal(align="bottom_right"),
                            lambda b, h, i, j: j <= i + (53 - 37)),
    "window_or_sinks": (am.window(5) | am.sinks(3),
                        lambda b, h, i, j: ((j <= i) & (j >= i - 5)) | (j < 3)),
    "not_prefix_lm": (~am.prefix_lm(10) | am.sinks(1),
                      lambda b, h, i, j: ~((j < 10) | (j <= i)) | (j < 1)),
    "strided": (am.strided(7), None),
}


@pytest.mark.parametrize("name", [n for n, (_, ref) in CASES.items() if ref])
def test_masks_match_the_float64_reference(name, rng):
    mask, allowed = CASES[name]
    q, k, v = qkv(rng)
    kernel = am.compile(am.Spec(heads=4, kv_heads=2, head_dim=24, value_dim=40,
                                dtype="f32", mask=mask, return_lse=True))
    o, lse = kernel(q, k, v)
    ref_o, ref_lse = attention_reference(q, k, v, allowed)
    assert relative_error(o, ref_o) < F32_TOL
    assert relative_error(lse, ref_lse) < F32_TOL


def test_fully_masked_rows_give_zero_and_minus_infinity(rng):
    q, k, v = qkv(rng, Sq=20, Skv=20)
    # Rows 0..4 see nothing: keys j >= 5 that are also <= i.
    kernel = am.compile(am.Spec(heads=4, kv_heads=2, head_dim=24, value_dim=40,
                                dtype="f32", mask=am.causal() & ~am.sinks(5),
                                return_lse=True))
    o, lse = kernel(q, k, v)
    assert np.all(o[:, :, :5] == 0) and np.all(np.isneginf(lse[:, :, :5]))
    ref_o, ref_lse = attention_reference(q, k, v, lambda b, h, i, j: (j <= i) & (j >= 5))
    assert relative_error(o, ref_o) < F32_TOL
    assert relative_error(lse, ref_lse) < F32_TOL


def test_documents_and_block_sparse_read_their_operands(rng):
    q, k, v = qkv(rng, Sq=45, Skv=45)
    ids = np.sort(rng.integers(0, 4, size=(2, 45))).astype(np.int32)
    kernel = am.compile(am.Spec(heads=4, kv_heads=2, head_dim=24, value_dim=40,
                                dtype="f32", mask=am.document() & am.causal()))
    o = kernel(q, k, v, q_segments=ids, kv_segments=ids)
    ref, _ = attention_reference(
        q, k, v, lambda b, h, i, j: (ids[b, i] == ids[b, j]) & (j <= i))
    assert relative_error(o, ref) < F32_TOL

    layout = (rng.random((2, 4, 3, 3)) < 0.5).astype(np.int8)
    layout[..., 0] = 1  # every row sees something
    kernel = am.compile(am.Spec(heads=4, kv_heads=2, head_dim=24, value_dim=40,
                                dtype="f32", q_len=45, kv_len=45,
                                mask=am.block_sparse([16, 16])))
    o = kernel(q, k, v, layout=layout)
    ref, _ = attention_reference(q, k, v,
                                 lambda b, h, i, j: layout[b, h, i // 16, j // 16] != 0)
    assert relative_error(o, ref) < F32_TOL


def test_neighborhood_2d(rng):
    q, k, v = qkv(rng, Sq=48, Skv=48, H=2, Hkv=2)
    kernel = am.compile(am.Spec(heads=2, head_dim=24, value_dim=40, dtype="f32",
                                q_len=48, kv_len=48,
                                mask=am.neighborhood(grid=[6, 8], kernel=[3, 5])))
    o = kernel(q, k, v)

    def start(c, length, w):
        return np.clip(c - w // 2, 0, length - w)

    def allowed(b, h, i, j):
        ri, ci, rj, cj = i // 8, i % 8, j // 8, j % 8
        r0, c0 = start(ri, 6, 3), start(ci, 8, 5)
        return (rj >= r0) & (rj < r0 + 3) & (cj >= c0) & (cj < c0 + 5)
    ref, _ = attention_reference(q, k, v, allowed)
    assert relative_error(o, ref) < F32_TOL


def natten_allowed(grid, kernel, dilation, stride, causal):
    """[tokens, tokens] booleans of NATTEN's rules on row-major tokens, one
    axis at a time."""
    coords = np.stack(np.unravel_index(np.arange(int(np.prod(grid))), grid), 1)
    ok = True
    for a, (n, w, d, s, c) in enumerate(zip(grid, kernel, dilation, stride,
                                            causal)):
        x = coords[:, a]
        group, local = x % d, x // d
        length = (n - group + d - 1) // d
        lead = local if s == 1 else np.minimum(local // s * s + s // 2,
                                               length - 1)
        lo = (np.maximum(lead - w + 1, 0) if c
              else np.clip(lead - w // 2, 0, length - w))
        hi = lead if c else lo + w - 1
        ok = ok & (group[:, None] == group[None, :]) \
            & (local[None, :] >= lo[:, None]) & (local[None, :] <= hi[:, None])
    return ok


@pytest.mark.parametrize("grid, kernel, dilation, stride, causal, tile", [
    ([12, 10], [7, 7], [1, 1], [1, 1], [False, False], [4, 4]),
    ([11, 13], [3, 3], [2, 3], [1, 1], [False, False], [2, 4]),
    ([10, 12], [5, 5], [1, 1], [2, 4], [False, False], [4, 4]),
    ([4, 6, 5], [3, 3, 3], [1, 2, 1], [1, 1, 1], [True, False, False],
     [2, 2, 2]),
    ([37], [9], [3], [2], [True], [5]),
])
def test_neighborhood_in_block_order(rng, grid, kernel, dilation, stride,
                                     causal, tile):
    """Tokens permuted by neighborhood_order through the block-ordered mask
    equal NATTEN on row-major tokens, computed here in float64."""
    n = int(np.prod(grid))
    q, k, v = qkv(rng, B=1, H=2, Hkv=1, Sq=n, Skv=n, D=16, Dv=8)
    order = am.neighborhood_order(grid, tile, dilation)
    assert sorted(order) == list(range(n))
    mask = am.neighborhood(grid, kernel, dilation=dilation, stride=stride,
                           causal=causal, tile=tile)
    kernel_fn = am.compile(am.Spec(heads=2, kv_heads=1, head_dim=16,
                                   value_dim=8, dtype="f32", q_len=n,
                                   kv_len=n, mask=mask))
    o = kernel_fn(q[:, :, order], k[:, :, order], v[:, :, order])
    o = o[:, :, np.argsort(order)]
    ok = natten_allowed(grid, kernel, dilation, stride, causal)
    ref, _ = attention_reference(q, k, v, lambda b, h, i, j: ok[i, j])
    assert relative_error(o, ref) < F32_TOL


def test_traced_mask_mod_equals_the_mask_attribute(rng):
    q, k, v = qkv(rng)
    by_attr = am.compile(am.Spec(heads=4, kv_heads=2, head_dim=24, value_dim=40,
                                 dtype="f32", mask=am.causal() & am.window(9)))
    traced = am.compile(am.Spec(
        heads=4, kv_heads=2, head_dim=24, value_dim=40, dtype="f32",
        mask_mod=lambda b, h, i, j: (j <= i) & (i - j <= 9)))
    np.testing.assert_allclose(traced(q, k, v), by_attr(q, k, v), rtol=0, atol=1e-6)


def test_traced_score_mod_and_index_arithmetic(rng):
    q, k, v = qkv(rng)

    def score_mod(s, b, h, i, j):
        return am.where((i - j) % 2 == 0, s * 1.5, s - 0.25 * abs(i - j)) + h

    kernel = am.compile(am.Spec(heads=4, kv_heads=2, head_dim=24, value_dim=40,
                                dtype="f32", mask=am.causal(),
                                score_mod=score_mod))
    o = kernel(q, k, v)
    ref, _ = attention_reference(
        q, k, v, lambda b, h, i, j: j <= i,
        score=lambda s, b, h, i, j: np.where((i - j) % 2 == 0, s * 1.5,
                                             s - 0.25 * np.abs(i - j)) + h)
    assert relative_error(o, ref) < F32_TOL


def test_score_modifiers_softcap_and_alibi(rng):
    q, k, v = qkv(rng, H=4, Hkv=4)
    kernel = am.compile(am.Spec(heads=4, head_dim=24, value_dim=40, dtype="f32",
                                mask=am.causal(),
                                score_mods=[am.alibi(), am.softcap(5.0)]))
    o = kernel(q, k, v)
    slopes = 2.0 ** (-8.0 * (np.arange(4) + 1) / 4)
    ref, _ = attention_reference(
        q, k, v, lambda b, h, i, j: j <= i,
        score=lambda s, b, h, i, j: 5.0 * np.tanh((s - slopes[h] * (i - j)) / 5.0))
    assert relative_error(o, ref) < F32_TOL


def test_f16_inputs(rng):
    q, k, v = qkv(rng, dtype=np.float16)
    o = am.attention(q, k, v, mask=am.causal())
    assert o.dtype == np.float16
    ref, _ = attention_reference(q, k, v, lambda b, h, i, j: j <= i)
    assert relative_error(o, ref) < F16_TOL


def test_one_call_attention_compiles_once_for_every_length(rng):
    am.clear_memory_cache()
    for sq in (17, 64, 100):
        q, k, v = qkv(rng, Sq=sq, Skv=sq)
        o = am.attention(q, k, v, mask=am.causal())
        ref, _ = attention_reference(q, k, v, lambda b, h, i, j: j <= i)
        assert relative_error(o, ref) < F32_TOL
    spec = am.Spec(heads=4, kv_heads=2, head_dim=24, value_dim=40, dtype="f32",
                   mask=am.causal())
    assert am.compile(spec).origin == "memory cache"


def test_spec_prints_mlir_that_compiles_from_text(rng):
    spec = am.Spec(heads=8, kv_heads=2, head_dim=64, dtype="bf16",
                   mask=am.causal() & am.window(1024) | am.sinks(4))
    text = str(spec)
    assert "mask(#attn.or<[#attn.and<[#attn.causal, #attn.window<left = 1024, " \
           "right = 0>]>, #attn.sinks<4>]>)" in text
    assert "tensor<?x8x?x64xbf16>" in text
    kernel = am.compile(text)
    assert [p[0] for p in kernel.inputs] == ["q", "k", "v"]
    assert kernel.outputs[0][1] == "bf16"


def test_bad_input_raises_clear_errors(rng):
    q, k, v = qkv(rng)
    kernel = am.compile(am.Spec(heads=4, kv_heads=2, head_dim=24, value_dim=40,
                                dtype="f32"))
    with pytest.raises(am.Error, match="input 'q' has element type f64, the kernel expects f32"):
        kernel(q.astype(np.float64), k, v)
    with pytest.raises(am.Error, match="dimension Skv is 52 in 'v' but 53 in 'k'"):
        kernel(q, k, v[:, :, :52])
    with pytest.raises(am.Error, match="missing input"):
        kernel(q, k)
    with pytest.raises(am.Error, match="no input named 'bias'"):
        kernel(q, k, v, bias=q)
    with pytest.raises(am.Error, match=r"spec:\d+:\d+: error"):
        am.compile("func.func @f(%q: tensor<1x1x4x8xf16>) {\n  return\n}\n")
    with pytest.raises(am.Error, match=r"query heads \(3\) must be a multiple of key/value heads \(2\)"):
        am.compile(am.Spec(heads=3, kv_heads=2, head_dim=8, dtype="f32"))
    with pytest.raises(am.Error, match="unknown target 'tpu'"):
        am.compile(am.Spec(heads=2, head_dim=8), target="tpu")
    with pytest.raises(ValueError, match="dtype must be one of"):
        am.Spec(heads=2, head_dim=8, dtype="i8")
    with pytest.raises(TypeError, match="use & and \\| instead of and/or"):
        str(am.Spec(heads=2, head_dim=8, mask_mod=lambda b, h, i, j: j <= i and i < 4))
    bf16 = am.compile(am.Spec(heads=4, kv_heads=2, head_dim=24, value_dim=40,
                              dtype="bf16"))
    with pytest.raises(am.Error, match="input 'q' has element type f32, the kernel expects bf16"):
        bf16(q, k, v)


def test_readme_example_runs_as_written():
    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Python")[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_available(), reason="no CUDA GPU and driver")
def test_cuda_tensors_without_copies(rng):
    import torch
    q, k, v = (torch.randn(s, device="cuda", dtype=torch.bfloat16)
               for s in ((2, 4, 77, 64), (2, 2, 77, 64), (2, 2, 77, 64)))
    o = am.attention(q, k, v, mask=am.causal())
    assert o.is_cuda and o.dtype == torch.bfloat16
    ref, _ = attention_reference(q.float().cpu().numpy(), k.float().cpu().numpy(),
                                 v.float().cpu().numpy(), lambda b, h, i, j: j <= i)
    assert relative_error(o.float().cpu().numpy(), ref) < 1e-2
