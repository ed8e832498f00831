"""FlexAttention code, unchanged, through attn_mlir.flex_attention: mask_mod
and score_mod functions written as FlexAttention users write them (torch
functions, tensor methods, captured tensors indexed by the traced indices),
checked on random data of odd sizes against a float64 evaluation of the same
functions on index tensors (independent of our tracing) and against
torch.nn.attention.flex_attention on the CPU."""
import math

import numpy as np
import pytest

import attn_mlir as am

torch = pytest.importorskip("torch")
flex = pytest.importorskip("torch.nn.attention.flex_attention")


def rel(got, ref):
    return ((got.double() - ref).abs().max() / ref.abs().max()).item()


def over_bhqkv(fn, score=False):
    """``fn`` of scalar indices (and a score) on [B, H, Q, KV], the way
    FlexAttention calls it: torch.vmap over each index."""
    lead = (0,) if score else ()
    for dims in ((None, None, None, 0), (None, None, 0, None),
                 (None, 0, None, None), (0, None, None, None)):
        fn = torch.vmap(fn, in_dims=lead + dims)
    return fn


def reference(q, k, v, score_mod=None, mask_mod=None, scale=None):
    """float64 attention whose scores and mask come from calling the
    functions on scalar index tensors, as torch evaluates them; fully masked
    rows give 0."""
    B, H, Sq, D = q.shape
    group = H // k.shape[1]
    k = k.double().repeat_interleave(group, dim=1)
    v = v.double().repeat_interleave(group, dim=1)
    s = q.double() @ k.transpose(-1, -2) * (scale or 1 / math.sqrt(D))
    idx = (torch.arange(B), torch.arange(H), torch.arange(Sq),
           torch.arange(k.shape[2]))
    if score_mod is not None:
        s = over_bhqkv(score_mod, score=True)(s, *idx).double()
    if mask_mod is not None:
        s = s.masked_fill(~over_bhqkv(mask_mod)(*idx), -math.inf)
    p = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return p @ v


def random_qkv(seed, B=2, H=4, Hkv=2, S=77, D=16):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, H, S, D, generator=g),
            torch.randn(B, Hkv, S, D, generator=g),
            torch.randn(B, Hkv, S, D, generator=g))


S = 77
DOC = torch.tensor([0] * 20 + [1] * 31 + [2] * 26)
SLOPES = torch.tensor([0.5, 0.25, 0.125, 0.0625])
TABLE = torch.randn(2 * S - 1)          # relative bias by q_idx - kv_idx
BIAS = torch.randn(4, S, S)             # a per-head bias table


MASKS = {
    "causal": lambda b, h, q, kv: q >= kv,
    "sliding_window": lambda b, h, q, kv: (q >= kv) & (q - kv <= 16),
    "prefix_lm": lambda b, h, q, kv: (kv < 11) | (q >= kv),
    "documents": lambda b, h, q, kv: (DOC[q] == DOC[kv]) & (q >= kv),
    # 7 x 11 tokens, a 3 x 5 neighborhood, from index arithmetic.
    "neighborhood_2d": lambda b, h, q, kv: (
        ((q // 11 - kv // 11).abs() <= 1) & ((q % 11 - kv % 11).abs() <= 2)),
    "per_head_window": lambda b, h, q, kv: (q - kv).abs() <= 4 * (h + 1),
    "causal_through_where": lambda b, h, q, kv: torch.where(q >= kv, True, False),
}

SCORES = {
    "relative_position": lambda s, b, h, q, kv: s + (q - kv) * 0.01,
    "softcap_tanh": lambda s, b, h, q, kv: 5.0 * torch.tanh(s / 5.0),
    "alibi_captured_slopes": lambda s, b, h, q, kv: s - SLOPES[h] * (q - kv).abs(),
    "relative_bias_table": lambda s, b, h, q, kv: s + TABLE[q - kv + S - 1],
    "bias_table": lambda s, b, h, q, kv: s + BIAS[h, q, kv],
    "causal_through_where": lambda s, b, h, q, kv: torch.where(
        q >= kv, s, -float("inf")),
    "sigmoid_gate_methods": lambda s, b, h, q, kv: s * (
        (q - kv).float().abs().clamp(max=8.0) / 8.0).sigmoid(),
}


@pytest.mark.parametrize("name", sorted(MASKS))
def test_mask_mods(rng, name):
    mask_mod = MASKS[name]
    q, k, v = random_qkv(int(rng.integers(1 << 31)))
    block = am.create_block_mask(mask_mod, None, None, S, S, BLOCK_SIZE=16)
    ours = am.flex_attention(q, k, v, block_mask=block, enable_gqa=True)
    ref = reference(q, k, v, mask_mod=mask_mod)
    theirs = flex.flex_attention(
        q, k, v, block_mask=flex.create_block_mask(mask_mod, None, None, S, S,
                                                   device="cpu"),
        enable_gqa=True)
    assert rel(ours, ref) <= 2e-5
    assert rel(theirs, ref) <= 2e-5


@pytest.mark.parametrize("name", sorted(SCORES))
def test_score_mods(rng, name):
    score_mod = SCORES[name]
    q, k, v = random_qkv(int(rng.integers(1 << 31)))
    ours, lse = am.flex_attention(q, k, v, score_mod=score_mod,
                                  enable_gqa=True, return_lse=True)
    ref = reference(q, k, v, score_mod=score_mod)
    theirs, their_lse = flex.flex_attention(q, k, v, score_mod=score_mod,
                                            enable_gqa=True, return_lse=True)
    assert rel(ours, ref) <= 2e-5
    assert rel(theirs, ref) <= 2e-5
    # The same log-sum-exp (natural log, of the modified scores).
    assert (lse - their_lse).abs().max().item() <= 1e-4


def test_documents_and_alibi_bf16_with_scale(rng):
    q, k, v = (x.to(torch.bfloat16) for x in random_qkv(int(rng.integers(1 << 31))))
    mask_mod, score_mod = MASKS["documents"], SCORES["alibi_captured_slopes"]
    block = am.create_block_mask(mask_mod, 2, None, S, S)
    ours = am.flex_attention(q, k, v, score_mod=score_mod, block_mask=block,
                             scale=0.3, enable_gqa=True)
    assert ours.dtype == torch.bfloat16
    ref = reference(q, k, v, score_mod, mask_mod, scale=0.3)
    assert rel(ours, ref) <= 1e-2


def test_block_mask_keeps_the_blocks_with_an_allowed_pair():
    docs = torch.tensor([0] * 20 + [1] * 20)
    block = am.create_block_mask(lambda b, h, q, kv: docs[q] == docs[kv],
                                 None, None, 40, 40, BLOCK_SIZE=16)
    assert block.mask is None and block.mask_mod is not None
    assert block.layout.tolist() == [[[[1, 1, 0], [1, 1, 1], [0, 1, 1]]]]
    assert "7 of 9 blocks kept" in repr(block)


def test_positional_masks_become_attributes():
    made = lambda fn, Q=50, KV=50: am.create_block_mask(fn, None, None, Q, KV)
    assert str(made(MASKS["causal"]).mask) == "#attn.causal"
    assert str(made(MASKS["causal_through_where"]).mask) == "#attn.causal"
    assert (str(made(MASKS["sliding_window"]).mask) ==
            "#attn.window<left = 16, right = 0>")
    assert (str(made(lambda b, h, q, kv: (q - kv).abs() <= 3).mask) ==
            "#attn.window<left = 3, right = 3>")
    dense = made(lambda b, h, q, kv: kv >= 0)
    assert dense.mask is None and dense.mask_mod is None and dense.layout is None
    # Not a band on these lengths, reads the head, or reads a tensor: the
    # region stays.
    for fn in (MASKS["prefix_lm"], MASKS["per_head_window"], MASKS["documents"]):
        kept = made(fn, S, S)
        assert kept.mask is None and kept.mask_mod is fn
    # Top-left causal with more keys than queries is the attribute too.
    assert str(made(MASKS["causal"], 30, 50).mask) == "#attn.causal"


def test_fully_masked_rows_are_zero(rng):
    q, k, v = random_qkv(int(rng.integers(1 << 31)))
    # Queries before 10 see no key.
    mask_mod = lambda b, h, qi, kv: (qi >= 10) & (kv <= qi)
    ours = am.flex_attention(q, k, v, block_mask=am.create_block_mask(
        mask_mod, None, None, S, S, BLOCK_SIZE=16), enable_gqa=True)
    assert torch.all(ours[:, :, :10] == 0)
    assert rel(ours, reference(q, k, v, mask_mod=mask_mod)) <= 2e-5


def test_new_values_of_a_captured_tensor_do_not_recompile(rng):
    q, k, v = random_qkv(int(rng.integers(1 << 31)))
    slopes = torch.rand(4)
    score_mod = lambda s, b, h, qi, kv: s - slopes[h] * (qi - kv).abs()
    spec = am.Spec(heads=4, kv_heads=2, head_dim=16, dtype="f32",
                   score_mod=score_mod)
    text = str(spec)
    am.flex_attention(q, k, v, score_mod=score_mod, enable_gqa=True)
    slopes.copy_(torch.rand(4) * 4)
    assert str(spec) == text  # only the shape and dtype are compiled in
    assert am.compile(text).origin == "memory cache"
    ours = am.flex_attention(q, k, v, score_mod=score_mod, enable_gqa=True)
    assert rel(ours, reference(q, k, v, score_mod=score_mod)) <= 2e-5


def test_captured_integer_and_partial_indexing(rng):
    q, k, v = random_qkv(int(rng.integers(1 << 31)))
    heads_docs = torch.stack([DOC, DOC.flip(0)]).to(torch.int32)  # [2, S]
    mask_mod = lambda b, h, qi, kv: heads_docs[h % 2][qi] == heads_docs[h % 2][kv]
    ours = am.flex_attention(q, k, v, block_mask=am.create_block_mask(
        mask_mod, None, 4, S, S, BLOCK_SIZE=32), enable_gqa=True)
    assert rel(ours, reference(q, k, v, mask_mod=mask_mod)) <= 2e-5


def test_gradients_through_a_traced_mask(rng):
    g = torch.Generator().manual_seed(int(rng.integers(1 << 31)))
    q, k, v = (torch.randn(1, 2, 13, 8, generator=g, dtype=torch.float64,
                           requires_grad=True) for _ in range(3))
    docs = torch.tensor([0] * 5 + [1] * 8)
    mask_mod = lambda b, h, qi, kv: (docs[qi] == docs[kv]) & (qi >= kv)
    block = am.create_block_mask(mask_mod, None, None, 13, 13, BLOCK_SIZE=4)
    torch.autograd.gradcheck(
        lambda q, k, v: am.flex_attention(q, k, v, block_mask=block), (q, k, v))


def test_what_cannot_be_traced_is_named():
    q, k, v = random_qkv(0, H=2)
    with pytest.raises(TypeError, match="cannot trace torch function 'erfinv' in a"):
        am.flex_attention(q, k, v, score_mod=lambda s, b, h, qi, kv: torch.erfinv(s))
    with pytest.raises(TypeError, match="indexed to one element"):
        am.flex_attention(q, k, v, score_mod=lambda s, b, h, qi, kv: s + BIAS)
    with pytest.raises(TypeError, match="index all its 3 dimensions"):
        am.flex_attention(q, k, v, score_mod=lambda s, b, h, qi, kv: s + BIAS[h])
    with pytest.raises(TypeError, match="no slices"):
        am.flex_attention(q, k, v, score_mod=lambda s, b, h, qi, kv: s + BIAS[h, :, kv])


def test_flexattention_rules():
    q, k, v = random_qkv(0)
    with pytest.raises(am.Error, match="enable_gqa=True"):
        am.flex_attention(q, k, v)
    block = am.create_block_mask(MASKS["causal"], None, None, 64, 64)
    with pytest.raises(am.Error, match="create it for these lengths"):
        am.flex_attention(q, k, v, block_mask=block, enable_gqa=True)
    bias = torch.randn(4, requires_grad=True)
    with pytest.raises(am.Error, match="captures has no gradient"):
        am.flex_attention(q, k, v, enable_gqa=True,
                          score_mod=lambda s, b, h, qi, kv: s + bias[h])


def test_a_mask_attribute_needs_no_layout(rng):
    q, k, v = random_qkv(int(rng.integers(1 << 31)))
    block = am.create_block_mask(am.causal(), None, None, S, S)
    assert block.layout is None
    ours = am.flex_attention(q, k, v, block_mask=block, enable_gqa=True)
    assert rel(ours, reference(q, k, v, mask_mod=MASKS["causal"])) <= 2e-5


DOC_NP = DOC.numpy().astype(np.int32)   # a module's NumPy array


def test_captured_numpy_arrays(rng):
    """NumPy arrays that the functions name (a global, a closure variable, a
    default argument) are read like captured torch tensors, with torch or
    NumPy inputs; new values do not recompile."""
    seed = int(rng.integers(1 << 31))
    q, k, v = random_qkv(seed)
    slopes = np.random.default_rng(seed).random(4).astype(np.float32)
    mask_mod = lambda b, h, qi, kv: (DOC_NP[qi] == DOC_NP[kv]) & (qi >= kv)
    score_mod = lambda s, b, h, qi, kv, table=TABLE.numpy(): (
        s - slopes[h] * (qi - kv).abs() + table[qi - kv + S - 1])

    def torch_score(s, b, h, qi, kv):
        return (s - torch.from_numpy(slopes)[h] * (qi - kv).abs()
                + TABLE[qi - kv + S - 1])

    block = am.create_block_mask(mask_mod, None, None, S, S, BLOCK_SIZE=16)
    ours = am.flex_attention(q, k, v, score_mod=score_mod, block_mask=block,
                             enable_gqa=True)
    ref = reference(q, k, v, torch_score, MASKS["documents"])
    assert rel(ours, ref) <= 2e-5
    ours = am.attention(q.numpy(), k.numpy(), v.numpy(), mask_mod=mask_mod,
                        score_mod=score_mod)
    assert isinstance(ours, np.ndarray)
    assert rel(torch.from_numpy(ours), ref) <= 2e-5
    slopes *= 3
    text = str(am.Spec(heads=4, kv_heads=2, head_dim=16, dtype="f32",
                       mask_mod=mask_mod, score_mod=score_mod))
    assert am.compile(text).origin == "memory cache"
    ours = am.attention(q, k, v, mask_mod=mask_mod, score_mod=score_mod)
    assert rel(ours, reference(q, k, v, torch_score, MASKS["documents"])) <= 2e-5


def test_numpy_array_reached_through_an_attribute_is_named():
    q, k, v = random_qkv(0, H=2)

    class Holder:
        ids = DOC_NP

    with pytest.raises(TypeError, match="named by the function itself"):
        am.flex_attention(q, k, v, score_mod=lambda s, b, h, qi, kv: s + Holder.ids[qi])
