"""attn_mlir.linear_attention against flash-linear-attention's own pure-PyTorch
reference implementations (PyPI fla-core, the ``naive`` modules), run on the
CPU: retention, simple GLA, GLA, Based, the delta rule and the gated delta
rule, on awkward sizes, in pieces with state passing where fla passes state.

fla's package ``__init__`` imports its Triton kernels; its naive modules need
only torch and einops, so they are loaded from their files."""
import importlib.util
import pathlib

import numpy as np
import pytest

import attn_mlir as am
from reference import relative_error

torch = pytest.importorskip("torch")
pytest.importorskip("einops")


def fla_naive(module):
    """fla/ops/<module>/naive.py, loaded without importing the package."""
    spec = importlib.util.find_spec("fla")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("fla-core is not installed (scripts/setup installs it)")
    path = (pathlib.Path(next(iter(spec.submodule_search_locations))) / "ops" /
            module / "naive.py")
    loaded = importlib.util.spec_from_file_location(f"fla_naive_{module}",
                                                    path)
    naive = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(naive)
    return naive


def normal(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def log_sigmoid(rng, *shape):
    """Gates as the models make them: log sigmoid of a projection."""
    x = rng.standard_normal(shape) + 2.0
    return (-np.log1p(np.exp(-x))).astype(np.float32)


def bthd(x):
    """[B, H, T, ...] to fla's [B, T, H, ...] (a torch tensor)."""
    return torch.from_numpy(np.ascontiguousarray(np.swapaxes(x, 1, 2)))


def from_bthd(t):
    return np.swapaxes(t.detach().numpy(), 1, 2)


TOLERANCE = 2e-5  # both sides compute in f32


def test_retention_matches_fla(rng):
    naive = fla_naive("retention")
    B, H, S, D = 2, 4, 77, 16
    q, k, v = (normal(rng, B, H, S, D) for _ in range(3))
    gamma = (1 - 2.0 ** (-5.0 - np.arange(H))).astype(np.float32)
    o = am.linear_attention(q, k, v, feature_map=am.identity(), causal=True,
                            decay=gamma, normalize=False, chunk_size=16)
    ref = naive.naive_retention(*(torch.from_numpy(x) for x in (q, k, v)))
    assert relative_error(o, ref.numpy()) < TOLERANCE


def check_in_pieces(lengths, ref, q, k, v, **per_token):
    """Runs the sequence in consecutive pieces (axis 2), each starting from
    the state the previous one returned, checks each piece's output against
    `ref` and returns the final state. `per_token` arrays (gates, beta) are
    cut like q, k and v; other keywords pass through."""
    options = {n: x for n, x in per_token.items() if not isinstance(x, np.ndarray)}
    arrays = {n: x for n, x in per_token.items() if isinstance(x, np.ndarray)}
    state, begin = None, 0
    for n in lengths:
        piece = slice(begin, begin + n)
        part = lambda x: np.ascontiguousarray(x[:, :, piece])
        o, state = am.linear_attention(
            part(q), part(k), part(v),
            **{name: part(x) for name, x in arrays.items()}, **options,
            initial_state=state, return_state=True)
        assert relative_error(o, ref[:, :, piece]) < TOLERANCE
        begin += n
    return state


@pytest.mark.parametrize("chunk_size", [8, 64])
def test_simple_gla_in_pieces_matches_fla(rng, chunk_size):
    naive = fla_naive("simple_gla")
    B, H, D, Dv = 2, 3, 16, 12
    lengths = (41, 30)
    S = sum(lengths)
    q, k = normal(rng, B, H, S, D), normal(rng, B, H, S, D)
    v = normal(rng, B, H, S, Dv)
    g = log_sigmoid(rng, B, H, S)
    ref, ref_state = naive.naive_recurrent_simple_gla(
        bthd(q), bthd(k), bthd(v), bthd(g), output_final_state=True)
    ref = from_bthd(ref)
    state = check_in_pieces(lengths, ref, q, k, v, gate=g, causal=True,
                            feature_map=am.identity(), normalize=False,
                            chunk_size=chunk_size)
    assert relative_error(state, ref_state.numpy()) < TOLERANCE


def test_gla_matches_fla(rng):
    naive = fla_naive("gla")
    B, H, S, D, Dv = 1, 2, 90, 16, 8
    q, k = normal(rng, B, H, S, D), normal(rng, B, H, S, D)
    v = normal(rng, B, H, S, Dv)
    gk = log_sigmoid(rng, B, H, S, D)
    s0 = normal(rng, B, H, D, Dv)
    o, state = am.linear_attention(q, k, v, feature_map=am.identity(),
                                   causal=True, gate=gk, normalize=False,
                                   initial_state=s0, return_state=True,
                                   chunk_size=32)
    ref, ref_state = naive.naive_recurrent_gla(
        bthd(q), bthd(k), bthd(v), bthd(gk),
        initial_state=torch.from_numpy(s0), output_final_state=True)
    assert relative_error(o, from_bthd(ref)) < TOLERANCE
    assert relative_error(state, ref_state.numpy()) < TOLERANCE


def test_based_matches_fla(rng):
    # Based: the second-order Taylor features of exp(q.k / sqrt(D)),
    # normalized, eps 1e-6 on both sides.
    naive = fla_naive("based")
    B, H, S, D, Dv = 1, 2, 50, 8, 16
    q, k = normal(rng, B, H, S, D, scale=0.5), normal(rng, B, H, S, D, scale=0.5)
    v = normal(rng, B, H, S, Dv)
    o = am.linear_attention(q, k, v, feature_map=am.taylor(2), causal=True,
                            chunk_size=16)
    ref = naive.naive_parallel_based(*(torch.from_numpy(x) for x in (q, k, v)))
    assert relative_error(o, ref.numpy()) < TOLERANCE


def l2_rows(x):
    """fla's l2norm, which DeltaNet applies to q and k before the kernel."""
    return (x / np.sqrt((x.astype(np.float64) ** 2).sum(-1, keepdims=True)
                        + 1e-6)).astype(np.float32)


def sigmoid(rng, *shape):
    return (1 / (1 + np.exp(-rng.standard_normal(shape)))).astype(np.float32)


def test_delta_rule_matches_fla(rng):
    # Our l2_normalize map on raw q, k against fla on rows normalized here.
    naive = fla_naive("delta_rule")
    B, H, S, D, Dv = 2, 2, 83, 16, 12
    q, k = normal(rng, B, H, S, D), normal(rng, B, H, S, D)
    v = normal(rng, B, H, S, Dv)
    beta = sigmoid(rng, B, H, S)
    s0 = normal(rng, B, H, D, Dv)
    o, state = am.linear_attention(q, k, v, feature_map=am.l2_normalize(),
                                   causal=True, beta=beta, normalize=False,
                                   initial_state=s0, return_state=True,
                                   chunk_size=32)
    ref, ref_state = naive.delta_rule_recurrence(
        *(torch.from_numpy(x) for x in (l2_rows(q), l2_rows(k), v, beta)),
        initial_state=torch.from_numpy(s0))
    assert relative_error(o, ref.numpy()) < TOLERANCE
    assert relative_error(state, ref_state.numpy()) < TOLERANCE


@pytest.mark.parametrize("chunk_size", [16, 64])
def test_gated_delta_rule_in_pieces_matches_fla(rng, chunk_size):
    naive = fla_naive("gated_delta_rule")
    B, H, D, Dv = 1, 3, 16, 16
    lengths = (70, 29)
    S = sum(lengths)
    q, k = l2_rows(normal(rng, B, H, S, D)), l2_rows(normal(rng, B, H, S, D))
    v = normal(rng, B, H, S, Dv)
    beta = sigmoid(rng, B, H, S)
    g = log_sigmoid(rng, B, H, S)
    ref, ref_state = naive.naive_recurrent_gated_delta_rule(
        bthd(q), bthd(k), bthd(v), bthd(beta), bthd(g),
        output_final_state=True)
    ref = from_bthd(ref)
    state = check_in_pieces(lengths, ref, q, k, v, gate=g, beta=beta,
                            feature_map=am.identity(), causal=True,
                            normalize=False, chunk_size=chunk_size)
    assert relative_error(state, ref_state.numpy()) < TOLERANCE
