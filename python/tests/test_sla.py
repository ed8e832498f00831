"""attention(..., approximation=, linear_output=True) (sparse-linear
attention, SLA) and sla_layout against their formulas in float64 NumPy,
written here independently of the compiler:

    o_i        = softmax over the support (allowed pairs) alone
    o_linear_i = sum_{j outside} phi(q_i) . phi(k_j) v_j
               / sum_{j outside} phi(q_i) . phi(k_j)   (0 where that is 0)
"""
import numpy as np
import pytest

import attn_mlir as am
from reference import NUMPY, TOLERANCE, attention_reference, relative_error


def elu1(x):
    return np.where(x > 0, x + 1, np.exp(x))


def hedgehog_with(w):
    def phi(x):
        z = x @ w
        sm = lambda t: np.exp(t - t.max(-1, keepdims=True)) / np.exp(
            t - t.max(-1, keepdims=True)).sum(-1, keepdims=True)
        return np.concatenate([sm(z), sm(-z)], -1)
    return phi


def linear_outside_reference(q, k, v, allowed, phi):
    q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
    B, H, Sq, _ = q.shape
    group = H // k.shape[1]
    k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
    b, h, i, j = np.meshgrid(np.arange(B), np.arange(H), np.arange(Sq),
                             np.arange(k.shape[2]), indexing="ij")
    w = np.where(allowed(b, h, i, j), 0.0,
                 np.einsum("bhif,bhjf->bhij", phi(q), phi(k)))
    total = w.sum(-1, keepdims=True)
    return np.einsum("bhij,bhjd->bhid", w, v) / np.where(total == 0, 1, total)


def inputs(rng, dtype, B=2, H=4, Hkv=2, Sq=70, Skv=83, D=16, Dv=12):
    shapes = [(B, H, Sq, D), (B, Hkv, Skv, D), (B, Hkv, Skv, Dv)]
    return [rng.standard_normal(s).astype(NUMPY[dtype]) for s in shapes]


def blocks(layout, bq, bk):
    return lambda b, h, i, j: layout[b, h, i // bq, j // bk] != 0


@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_critical_blocks_exact_marginal_linear(rng, dtype):
    """sla_layout's critical blocks exact, the rest linear (elu + 1), GQA,
    lengths that are no multiple of the blocks."""
    q, k, v = inputs(rng, dtype)
    layout = am.sla_layout(q, k, block=(16, 16), critical=0.3)
    o, lse, o_linear = am.attention(
        q, k, v, mask=am.block_sparse((16, 16)), layout=layout,
        approximation=am.elu_plus_one(), linear_output=True, return_lse=True)
    allowed = blocks(layout, 16, 16)
    ref_o, ref_lse = attention_reference(q, k, v, allowed)
    ref_linear = linear_outside_reference(q, k, v, allowed, elu1)
    assert relative_error(o, ref_o) < TOLERANCE[dtype]
    assert relative_error(lse, ref_lse) < 1e-5
    assert relative_error(o_linear, ref_linear) < TOLERANCE[dtype]
    # Apart means apart: o is the block-sparse attention alone.
    alone = am.attention(q, k, v, mask=am.block_sparse((16, 16)), layout=layout)
    assert relative_error(o, alone) < TOLERANCE[dtype]


def test_rows_whose_keys_are_all_exact_have_no_linear_part(rng):
    """Causal support on Sq = Skv: the last row's keys are all exact, so its
    o_linear is exactly 0 (not the rounding of all-keys minus support);
    Hedgehog features read their weights from an operand."""
    q, k, v = inputs(rng, "f32", Sq=45, Skv=45, D=8)
    w = rng.standard_normal((8, 6)).astype(np.float32)
    o, o_linear = am.attention(
        q, k, v, mask=am.causal(), approximation=am.hedgehog(6),
        feature_weights=w, linear_output=True)
    causal = lambda b, h, i, j: j <= i
    ref = linear_outside_reference(q, k, v, causal, hedgehog_with(w))
    # The second-last row has one key outside of 45: the kernel's outside is
    # no difference of f32 sums (that would lose ~ 44 eps here).
    assert relative_error(o_linear, ref) < TOLERANCE["f32"]
    assert np.all(np.asarray(o_linear)[:, :, -1] == 0)
    assert np.all(np.abs(np.asarray(o_linear)[:, :, :-1]).max(-1) > 0)


def test_sla_layout_matches_pooled_scores(rng):
    """Each query block keeps its top fraction of key blocks by
    mean(q block) . mean(k block - mean k), computed block by block here."""
    q = rng.standard_normal((1, 4, 50, 8))
    k = rng.standard_normal((1, 2, 70, 8))
    layout = am.sla_layout(q, k, block=(16, 16), critical=0.5)
    assert layout.shape == (1, 4, 4, 5) and layout.dtype == np.int8
    centred = k - k.mean(axis=2, keepdims=True)
    for h in range(4):
        for i in range(4):
            pq = q[0, h, 16 * i:16 * i + 16].mean(0)
            scores = [pq @ centred[0, h // 2, 16 * j:16 * j + 16].mean(0)
                      for j in range(5)]
            top = set(np.argsort(scores)[-2:])  # int(0.5 * 5) = 2 blocks
            assert set(np.flatnonzero(layout[0, h, i])) == top
    # At least one critical block per query block, however small the fraction.
    assert (am.sla_layout(q, k, block=(16, 16), critical=0.01).sum(-1) == 1).all()
    with pytest.raises(am.Error, match="critical must be in"):
        am.sla_layout(q, k, critical=0.0)


def test_refusals(rng):
    q, k, v = inputs(rng, "f32", Sq=8, Skv=8)
    with pytest.raises(ValueError, match="linear_output returns the linear"):
        am.attention(q, k, v, mask=am.causal(), linear_output=True)
    with pytest.raises(am.Error, match="depends on the sequence position"):
        am.attention(q, k, v, mask=am.causal(), approximation=am.cosformer(),
                     linear_output=True)
    with pytest.raises(am.Error, match="tell the pairs outside"):
        am.attention(q, k, v, mask=am.causal(), score_mods=[am.softcap(20.0)],
                     approximation=am.elu_plus_one(), linear_output=True)
