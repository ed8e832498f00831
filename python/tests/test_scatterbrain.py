"""attention(..., approximation=) (Scatterbrain: an exact support plus a
low-rank estimate elsewhere) against its formula in float64 NumPy, written
here independently of the compiler:

    w[i, j] = allowed(i, j) ? exp(q_i . k_j / sqrt(D)) : phi(q_i) . phi(k_j)
    o_i = sum_j w[i, j] v_j / sum_j w[i, j],   lse_i = log sum_j w[i, j]
"""
import numpy as np
import pytest

import attn_mlir as am
from reference import TOLERANCE, NUMPY, favor_with, relative_error, taylor


def scatterbrain_reference(q, k, v, allowed, phi):
    q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
    B, H, Sq, D = q.shape
    group = H // k.shape[1]
    k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
    s = np.einsum("bhid,bhjd->bhij", q, k) / np.sqrt(D)
    estimate = np.einsum("bhif,bhjf->bhij", phi(q), phi(k))
    b, h, i, j = np.meshgrid(np.arange(B), np.arange(H), np.arange(Sq),
                             np.arange(k.shape[2]), indexing="ij")
    w = np.where(allowed(b, h, i, j), np.exp(s), estimate)
    l = w.sum(-1)
    return np.einsum("bhij,bhjd->bhid", w, v) / l[..., None], np.log(l)


def inputs(rng, dtype, B=2, H=4, Hkv=2, Sq=37, Skv=53, D=16, Dv=12):
    shapes = [(B, H, Sq, D), (B, Hkv, Skv, D), (B, Hkv, Skv, Dv)]
    # Moderate scores, as Performer's inputs are (exp(w.x) of FAVOR+).
    return [(0.7 * rng.standard_normal(s)).astype(NUMPY[dtype]) for s in shapes]


def window(left, right):
    return lambda b, h, i, j: (j >= i - left) & (j <= i + right)


@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize("estimate", ["favor", "favor_gaussian", "taylor"])
def test_window_plus_estimate_matches_formula(rng, dtype, estimate):
    q, k, v = inputs(rng, dtype, D=8 if estimate == "taylor" else 16)
    d = q.shape[-1]
    seed = int(rng.integers(1 << 31))
    if estimate == "taylor":
        fmap, phi = am.taylor(2), taylor
    else:
        orthogonal = estimate == "favor"
        fmap = am.favor(48, seed=seed, orthogonal=orthogonal)
        phi = favor_with(am.favor_weights(48, d, seed, orthogonal))
    o, lse = am.attention(q, k, v, mask=am.window(5, 3), approximation=fmap,
                          return_lse=True)
    ref_o, ref_lse = scatterbrain_reference(q, k, v, window(5, 3), phi)
    assert relative_error(o, ref_o) < TOLERANCE[dtype]
    assert relative_error(lse, ref_lse) < 1e-5
    # The estimate is not ignored: the window alone differs.
    exact_o = am.attention(q, k, v, mask=am.window(5, 3))
    assert relative_error(exact_o, ref_o) > 10 * TOLERANCE[dtype]


def test_favor_weights_from_an_operand(rng):
    """Performer's W [m, D] passed in (e.g. redrawn during training)."""
    q, k, v = inputs(rng, "f32", Sq=29, Skv=41)
    w = rng.standard_normal((32, q.shape[-1])).astype(np.float32)
    o, lse = am.attention(q, k, v, mask=am.causal(), approximation=am.favor(32),
                          feature_weights=w, return_lse=True)
    causal = lambda b, h, i, j: j <= i
    ref_o, ref_lse = scatterbrain_reference(q, k, v, causal, favor_with(w))
    assert relative_error(o, ref_o) < TOLERANCE["f32"]
    assert relative_error(lse, ref_lse) < 1e-5


def test_block_sparse_support_with_empty_rows(rng):
    """Query blocks whose layout row is all zeros have no exact key: their
    rows are the estimate alone, never o = 0."""
    q, k, v = inputs(rng, "f32", Sq=70, Skv=70)
    B, H = q.shape[:2]
    layout = (rng.random((B, H, 5, 5)) < 0.4).astype(np.int8)
    layout[0, 1, 2, :] = 0
    seed = int(rng.integers(1 << 31))
    o, lse = am.attention(q, k, v, mask=am.block_sparse([16, 16]), layout=layout,
                          approximation=am.favor(64, seed=seed), return_lse=True)
    allowed = lambda b, h, i, j: layout[b, h, i // 16, j // 16] != 0
    phi = favor_with(am.favor_weights(64, q.shape[-1], seed))
    ref_o, ref_lse = scatterbrain_reference(q, k, v, allowed, phi)
    assert relative_error(o, ref_o) < TOLERANCE["f32"]
    assert relative_error(lse, ref_lse) < 1e-5
    assert np.abs(o[0, 1, 32:48]).max() > 0


def test_more_features_estimate_softmax_better(rng):
    """Outside a window FAVOR+ estimates what the window drops: the hybrid
    is closer to exact softmax attention than the window alone, and the
    closer the more features (its variance falls as 1/m). Inputs are small
    enough for FAVOR+'s variance (exp |q' + k'|^2) to stay moderate; the
    margins are wide (errors about 2, 0.35 and 0.035 over seeds)."""
    q, k = (0.4 * rng.standard_normal((1, 2, 96, 16)) for _ in range(2))
    v = rng.standard_normal((1, 2, 96, 16))
    q, k, v = (x.astype(np.float32) for x in (q, k, v))
    exact = np.asarray(am.attention(q, k, v), dtype=np.float64)
    error = lambda o: np.linalg.norm(o - exact) / np.linalg.norm(exact)
    seed = int(rng.integers(1 << 31))
    sparse = error(am.attention(q, k, v, mask=am.window(8, 8)))
    few, many = (error(am.attention(q, k, v, mask=am.window(8, 8),
                                    approximation=am.favor(m, seed=seed)))
                 for m in (8, 1024))
    assert many < few / 3 < sparse / 3


def test_bad_approximations_are_refused(rng):
    q, k, v = inputs(rng, "f32")
    with pytest.raises(am.Error, match="scale must be 1/sqrt"):
        am.attention(q, k, v, mask=am.causal(), scale=0.5,
                     approximation=am.taylor(2))
    with pytest.raises(am.Error, match="needs a mask"):
        am.attention(q, k, v, approximation=am.taylor(2))
    with pytest.raises(am.Error, match="reads a 'feature_weights' operand"):
        am.compile(str(am.Spec(heads=4, kv_heads=2, head_dim=16, dtype="f32",
                               mask=am.causal(), approximation=am.favor(16)))
                   .replace(" feature_weights(%feature_weights : tensor<16x16xf32>)", ""))
    with pytest.raises(am.Error, match="does not estimate"):
        am.attention(q, k, v, mask=am.causal(), approximation=am.taylor(1))
    with pytest.raises(am.Error, match="score modifiers"):
        am.attention(q, k, v, mask=am.causal(), score_mods=[am.softcap(20.0)],
                     approximation=am.taylor(2))
    with pytest.raises(TypeError, match="approximation must be a FeatureMap"):
        am.attention(q, k, v, mask=am.causal(), approximation="#attn.taylor")
    torch = pytest.importorskip("torch")
    with pytest.raises(am.Error, match="an approximation has no backward"):
        am.attention(torch.tensor(q, requires_grad=True), torch.tensor(k),
                     torch.tensor(v), mask=am.causal(),
                     approximation=am.taylor(2))
    with pytest.raises(ValueError, match="no backward"):
        am.Spec(heads=4, head_dim=16, mask=am.causal(), backward=True,
                approximation=am.taylor(2))
