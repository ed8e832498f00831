"""torch.compile of modules that call attn_mlir: the attn_mlir::call custom
op is opaque to Dynamo (no graph break), traced by its fake implementation,
and differentiable through the compiled backward. Compared with eager
attn_mlir.flex_attention and a float64 evaluation."""
import math

import pytest

import attn_mlir as am

torch = pytest.importorskip("torch")

S = 45
DOCS = torch.tensor([0] * 17 + [1] * 28)
SLOPES = torch.tensor([0.5, 0.25, 0.125, 0.0625])


def mask_mod(b, h, q, kv):
    return (DOCS[q] == DOCS[kv]) & (q >= kv)


def score_mod(s, b, h, q, kv):
    return 20.0 * torch.tanh(s / 20.0) - SLOPES[h] * (q - kv)


class Layer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(16, 16, dtype=torch.float64)
        self.attn = am.FlexAttention(
            heads=4, kv_heads=2, head_dim=16, dtype=torch.float64,
            score_mod=score_mod, enable_gqa=True,
            block_mask=am.create_block_mask(mask_mod, None, None, S, S,
                                            BLOCK_SIZE=16))

    def forward(self, q, k, v):
        return self.proj(self.attn(q, k, v)).sum(dim=-1)


def inputs(seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(2, h, S, 16, generator=g, dtype=torch.float64,
                        requires_grad=True) for h in (4, 2, 2)]


def test_no_graph_break(rng):
    layer = Layer()
    explained = torch._dynamo.explain(layer)(*inputs(int(rng.integers(1 << 31))))
    assert explained.graph_break_count == 0
    assert explained.graph_count == 1


def test_compiled_forward_and_backward_match_eager(rng):
    torch._dynamo.reset()
    layer = Layer()
    compiled = torch.compile(layer, backend="aot_eager", fullgraph=True)
    seed = int(rng.integers(1 << 31))
    xs, ys = inputs(seed), inputs(seed)
    out = compiled(*xs)
    ref = layer.proj(am.flex_attention(*ys, score_mod=score_mod,
                                       block_mask=layer.attn.block_mask,
                                       enable_gqa=True)).sum(dim=-1)
    assert torch.allclose(out, ref, rtol=1e-6, atol=1e-6)
    out.square().sum().backward()
    ref.square().sum().backward()
    for x, y in zip(xs, ys):
        assert torch.allclose(x.grad, y.grad, rtol=1e-5, atol=1e-6)


def test_module_against_float64(rng):
    q, k, v = (x.detach().float() for x in inputs(int(rng.integers(1 << 31))))
    attn = am.FlexAttention(heads=4, kv_heads=2, head_dim=16, enable_gqa=True,
                            score_mod=score_mod, return_lse=True)
    o, lse = attn(q, k, v)
    kk, vv = (x.double().repeat_interleave(2, dim=1) for x in (k, v))
    s = q.double() @ kk.transpose(-1, -2) / math.sqrt(16)
    i = torch.arange(S).view(-1, 1)
    j = torch.arange(S).view(1, -1)
    s = 20.0 * torch.tanh(s / 20.0) - SLOPES.double().view(1, 4, 1, 1) * (i - j)
    ref = torch.softmax(s, -1) @ vv
    assert ((o.double() - ref).abs().max() / ref.abs().max()).item() <= 2e-5
    assert (lse.double() - torch.logsumexp(s, -1)).abs().max().item() <= 1e-4


def test_checked_before_any_graph():
    with pytest.raises(am.Error, match="enable_gqa=True"):
        am.FlexAttention(heads=4, kv_heads=2, head_dim=16)
    with pytest.raises(TypeError, match="cannot trace torch function"):
        am.FlexAttention(heads=4, head_dim=16,
                         score_mod=lambda s, b, h, q, kv: torch.erfinv(s))
    attn = am.FlexAttention(heads=2, head_dim=8, block_mask=am.create_block_mask(
        mask_mod, None, None, S, S))
    x = torch.randn(1, 2, 10, 8)
    with pytest.raises(am.Error, match="create it for these lengths"):
        attn(x, x, x)
