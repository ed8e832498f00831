"""Gradients through attn_mlir.attention on torch CPU tensors: gradcheck in
float64 (finite differences of our own forward), parity with PyTorch's SDPA
autograd and with torch autograd of a dense float64 formulation (FlexAttention
has no CPU backward), the bias gradient, and the training-step example; on
CUDA tensors (gpu mark) the GPU backward kernels against float64 autograd.
Skips without torch."""
import importlib.util
import pathlib

import pytest

import attn_mlir as am
from conftest import cuda_available

torch = pytest.importorskip("torch")
F = torch.nn.functional


def rel(got, ref):
    return ((got.double() - ref).abs().max() / ref.abs().max()).item()


def leaves(seed, dtype, B=1, H=2, Hkv=1, Sq=5, Skv=7, D=8, Dv=4):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=g).to(dtype).requires_grad_()
            for shape in ((B, H, Sq, D), (B, Hkv, Skv, D), (B, Hkv, Skv, Dv))]


@pytest.mark.parametrize("case", ["dense", "causal_gqa", "softcap_alibi",
                                  "sigmoid", "relu", "window_sinks"])
def test_gradcheck_float64(rng, case):
    q, k, v = leaves(int(rng.integers(1 << 31)), torch.float64,
                     H=2, Hkv=1 if case == "causal_gqa" else 2)
    kwargs = {
        "dense": {},
        "causal_gqa": {"mask": am.causal()},
        "softcap_alibi": {"mask": am.causal("bottom_right"),
                          "score_mods": [am.alibi(), am.softcap(2.0)]},
        "sigmoid": {"normalization": am.sigmoid(-1.0)},
        "relu": {"normalization": am.relu(divide_by_length=True)},
        "window_sinks": {"mask": am.window(2) | am.sinks(1)},
    }[case]
    assert torch.autograd.gradcheck(
        lambda q, k, v: am.attention(q, k, v, **kwargs), (q, k, v),
        eps=1e-6, atol=1e-6, rtol=1e-5)


def test_gradcheck_bias_and_fully_masked_rows(rng):
    # Bottom-right causal with Sq > Skv leaves the first rows without keys:
    # their gradients are exactly zero, not NaN.
    q, k, v = leaves(int(rng.integers(1 << 31)), torch.float64, Sq=9, Skv=5)
    bias = torch.randn(1, 1, 9, 5, dtype=torch.float64, requires_grad=True)
    fn = lambda q, k, v, bias: am.attention(
        q, k, v, mask=am.causal("bottom_right"),
        score_mods=[am.bias(), am.softcap(3.0)], bias=bias)
    assert torch.autograd.gradcheck(fn, (q, k, v, bias), eps=1e-6, atol=1e-6,
                                    rtol=1e-5)
    o = fn(q, k, v, bias)
    o.sum().backward()
    assert torch.isfinite(q.grad).all() and (q.grad[:, :, :4] == 0).all()


def test_gradcheck_score_shaped_bias(rng):
    # A bias of one element per score ([B, Hq, Sq, Skv], B = 1 included)
    # takes the tiled backward, which writes its gradient tile by tile.
    q, k, v = leaves(int(rng.integers(1 << 31)), torch.float64, H=4, Hkv=2,
                     Sq=11, Skv=13)
    bias = torch.randn(1, 4, 11, 13, dtype=torch.float64, requires_grad=True)
    fn = lambda q, k, v, bias: am.attention(
        q, k, v, mask=am.causal(), score_mods=[am.bias(), am.softcap(2.0)],
        bias=bias)
    assert torch.autograd.gradcheck(fn, (q, k, v, bias), eps=1e-6, atol=1e-6,
                                    rtol=1e-5)


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-4),
                                       (torch.bfloat16, 5e-2)])
def test_matches_sdpa_autograd(rng, dtype, tol):
    seed = int(rng.integers(1 << 31))
    q, k, v = leaves(seed, dtype, B=2, H=4, Hkv=2, Sq=37, Skv=53, D=32, Dv=24)
    do = torch.randn(2, 4, 37, 24, generator=torch.Generator().manual_seed(seed + 1))
    am.attention(q, k, v, mask=am.causal()).backward(do.to(dtype))
    ours = [t.grad for t in (q, k, v)]
    q64, k64, v64 = [t.detach().double().requires_grad_() for t in (q, k, v)]
    F.scaled_dot_product_attention(q64, k64, v64, is_causal=True,
                                   enable_gqa=True).backward(do.double())
    for got, ref in zip(ours, (q64.grad, k64.grad, v64.grad)):
        assert got.dtype == dtype
        assert rel(got, ref) <= tol


def test_score_mod_matches_float64_autograd(rng):
    # FlexAttention has no CPU backward; the same semantics written with
    # dense torch ops in float64 are differentiated by torch instead.
    seed = int(rng.integers(1 << 31))
    q, k, v = leaves(seed, torch.float32, B=1, H=2, Hkv=2, Sq=29, Skv=29,
                     D=16, Dv=16)

    def relative(score, b, h, q_idx, kv_idx):
        return score + (q_idx - kv_idx) * 0.05

    def causal(b, h, q_idx, kv_idx):
        return kv_idx <= q_idx

    am.attention(q, k, v, mask_mod=causal, score_mod=relative).sum().backward()
    theirs = [t.detach().double().requires_grad_() for t in (q, k, v)]
    i, j = torch.arange(29)[:, None], torch.arange(29)[None, :]
    scores = theirs[0] @ theirs[1].transpose(-1, -2) / 4.0 + (i - j) * 0.05
    scores = scores.masked_fill(j > i, float("-inf"))
    (scores.softmax(-1) @ theirs[2]).sum().backward()
    for got, ref in zip((q, k, v), theirs):
        assert rel(got.grad, ref.grad) <= 1e-4


def test_no_grad_runs_the_forward_only(rng):
    q, k, v = leaves(int(rng.integers(1 << 31)), torch.float32)
    with torch.no_grad():
        o = am.attention(q, k, v)
    assert not o.requires_grad


def test_training_step_example_learns():
    path = pathlib.Path(__file__).resolve().parents[2] / "examples" / "python" / "train_step.py"
    spec = importlib.util.spec_from_file_location("train_step", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    losses = example.main(steps=30)
    assert losses[-1] < 0.8 * losses[0]


def dense_attention64(q, k, v, bias=None, causal=False, softcap=None):
    """Attention written with dense torch ops in float64 (GQA by repeating
    k and v), for torch autograd to differentiate."""
    group = q.shape[1] // k.shape[1]
    k, v = (x.repeat_interleave(group, dim=1) for x in (k, v))
    s = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
    if bias is not None:
        s = s + bias
    if softcap is not None:
        s = softcap * torch.tanh(s / softcap)
    if causal:
        allowed = torch.ones(s.shape[-2:], dtype=torch.bool).tril()
        s = s.masked_fill(~allowed, float("-inf"))
    return torch.softmax(s, dim=-1) @ v


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_available(), reason="no CUDA GPU and driver")
@pytest.mark.parametrize("dtype,tol", [(torch.bfloat16, 5e-2),
                                       (torch.float16, 1e-2),
                                       (torch.float32, 5e-3)])
def test_cuda_backward_matches_float64(rng, dtype, tol):
    # Causal GQA with a learned bias of one element per score (its gradient
    # written by the query kernel) and softcapping, at lengths that are not
    # tile multiples; f32 runs on tf32 tensor cores.
    seed = int(rng.integers(1 << 31))
    q, k, v = leaves(seed, torch.float64, B=2, H=4, Hkv=2, Sq=133, Skv=133,
                     D=64, Dv=64)
    g = torch.Generator().manual_seed(seed + 1)
    bias = torch.randn(2, 4, 133, 133, generator=g, dtype=torch.float64,
                       requires_grad=True)
    do = torch.randn(2, 4, 133, 64, generator=g, dtype=torch.float64)
    cuda = [t.detach().to("cuda", dtype).requires_grad_()
            for t in (q, k, v, bias)]
    o = am.attention(*cuda[:3], mask=am.causal(),
                     score_mods=[am.bias(), am.softcap(20.0)], bias=cuda[3])
    o.backward(do.to("cuda", dtype))
    dense_attention64(q, k, v, bias, causal=True, softcap=20.0).backward(do)
    for got, ref in zip(cuda, (q, k, v, bias)):
        assert got.grad.is_cuda and got.grad.dtype == dtype
        assert rel(got.grad.cpu(), ref.grad) <= tol
