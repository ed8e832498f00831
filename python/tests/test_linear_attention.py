"""attn_mlir.linear_attention against a float64 NumPy quadratic form, with
each feature map written here independently of the compiler."""
import numpy as np
import pytest

import attn_mlir as am
from conftest import cuda_available
from reference import (favor_with, linear_attention_reference, relative_error,
                       taylor)


def elu1(x, pos):
    return np.where(x > 0, x + 1, np.exp(x))


def relu(x, pos):
    return np.maximum(x, 0)


def cosformer(m):
    def phi(x, pos):
        angle = (np.pi * pos / (2 * m))[:, None]
        r = np.maximum(x, 0)
        return np.concatenate([r * np.cos(angle), r * np.sin(angle)], -1)
    return phi


def hedgehog_with(w):
    def phi(x, pos):
        z = x @ w
        sm = lambda t: np.exp(t - t.max(-1, keepdims=True)) / np.exp(
            t - t.max(-1, keepdims=True)).sum(-1, keepdims=True)
        return np.concatenate([sm(z), sm(-z)], -1)
    return phi


def inputs(rng, B=2, H=4, Hkv=2, S=45, Skv=None, D=8, Dv=12, scale=1.0):
    Skv = S if Skv is None else Skv
    f = lambda *s: (rng.standard_normal(s) * scale).astype(np.float32)
    return f(B, H, S, D), f(B, Hkv, Skv, D), rng.standard_normal(
        (B, Hkv, Skv, Dv)).astype(np.float32)


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("name", ["elu_plus_one", "relu", "cosformer", "taylor"])
def test_feature_maps_match_the_float64_quadratic_form(name, causal, rng):
    q, k, v = inputs(rng, S=45, Skv=45 if causal else 29, D=4 if name == "taylor" else 8)
    fmap, phi = {"elu_plus_one": (am.elu_plus_one(), elu1),
                 "relu": (am.relu(), relu),
                 "cosformer": (am.cosformer(), cosformer(45)),
                 "taylor": (am.taylor(), taylor)}[name]
    o = am.linear_attention(q, k, v, feature_map=fmap, causal=causal, chunk_size=16)
    ref, _, _ = linear_attention_reference(q, k, v, phi, causal=causal)
    assert relative_error(o, ref) < 2e-5


def test_favor_and_hedgehog_read_their_weights(rng):
    q, k, v = inputs(rng, scale=0.5)
    w = rng.standard_normal((24, 8)).astype(np.float32)
    o = am.linear_attention(q, k, v, feature_map=am.favor(24), feature_weights=w,
                            causal=True)
    ref, _, _ = linear_attention_reference(q, k, v, favor_with(w), causal=True)
    assert relative_error(o, ref) < 2e-5
    w = rng.standard_normal((8, 6)).astype(np.float32)
    o = am.linear_attention(q, k, v, feature_map=am.hedgehog(6), feature_weights=w)
    ref, _, _ = linear_attention_reference(q, k, v, hedgehog_with(w))
    assert relative_error(o, ref) < 2e-5


def test_decay_and_state_in_two_pieces_equal_one_run(rng):
    q, k, v = inputs(rng, S=70)
    gamma = rng.uniform(0.85, 1.0, 4).astype(np.float32)
    kw = dict(feature_map=am.relu(), causal=True, decay=gamma, normalize=False,
              return_state=True, chunk_size=16)
    o, s = am.linear_attention(q, k, v, **kw)
    ref, ref_s, _ = linear_attention_reference(q, k, v, relu, causal=True,
                                               gamma=gamma, normalize=False)
    assert relative_error(o, ref) < 2e-5 and relative_error(s, ref_s) < 2e-5
    cut = 29
    o1, s1 = am.linear_attention(q[:, :, :cut], k[:, :, :cut], v[:, :, :cut], **kw)
    o2, s2 = am.linear_attention(q[:, :, cut:], k[:, :, cut:], v[:, :, cut:],
                                 initial_state=s1, **kw)
    assert relative_error(np.concatenate([o1, o2], 2), o) < 1e-5
    assert relative_error(s2, s) < 1e-5


def test_spec_prints_mlir_that_compiles(rng):
    spec = am.LinearSpec(heads=4, kv_heads=2, head_dim=8, feature_map=am.favor(16, seed=3),
                         causal=True, initial_state=True, return_state=True)
    kernel = am.compile(str(spec))
    assert [p[0] for p in kernel.inputs] == ["q", "k", "v", "initial_state",
                                             "initial_normalizer"]
    assert [p[0] for p in kernel.outputs] == ["o", "final_state", "final_normalizer"]


def test_bad_input_raises_clear_errors(rng):
    q, k, v = inputs(rng)
    with pytest.raises(TypeError, match="feature_map must be"):
        am.LinearSpec(heads=4, head_dim=8, feature_map="#attn.causal")
    with pytest.raises(am.Error, match="reads a 'feature_weights' operand"):
        am.compile(str(am.LinearSpec(heads=4, head_dim=8, feature_map=am.hedgehog(4))
                       ).replace(", %w: tensor<8x4xf32>", "").replace(
                           "\n      feature_weights(%w : tensor<8x4xf32>)", ""))
    with pytest.raises(am.Error, match="Sq and Skv must be equal"):
        am.compile(str(am.LinearSpec(heads=4, head_dim=8, q_len=10, kv_len=12,
                                     feature_map=am.relu())).replace(
            "feature_map(#attn.relu)", "feature_map(#attn.relu)\n      causal"))


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_available(), reason="no CUDA GPU and driver")
def test_cuda_tensors_run_the_gpu_kernel(rng):
    import torch
    q, k, v = inputs(rng, S=150, D=16, Dv=24)
    gamma = rng.uniform(0.85, 1.0, 4).astype(np.float32)
    ref, ref_s, _ = linear_attention_reference(q, k, v, relu, causal=True,
                                               gamma=gamma, normalize=False)
    cuda = lambda x: torch.from_numpy(x).cuda()
    o, s = am.linear_attention(
        cuda(q).bfloat16(), cuda(k).bfloat16(), cuda(v).bfloat16(),
        feature_map=am.relu(), causal=True, decay=cuda(gamma),
        normalize=False, return_state=True)
    assert o.is_cuda and o.dtype == torch.bfloat16 and s.is_cuda
    assert relative_error(o.float().cpu().numpy(), ref) < 1e-2
    assert relative_error(s.cpu().numpy(), ref_s) < 1e-2
