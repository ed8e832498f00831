"""The peers bench/gpu/bench_paged.py times our paged decoding kernel
against, built by its own functions on CPU tensors and judged by a NumPy
float64 reference that reads the pages itself: FlexAttention's paged path
(PagedAttention's page table, convert_logical_block_mask; eager, and once
through torch.compile), SDPA on the gathered cache and the float32 math
reference the benchmark checks against. So the GPU run's peers compute the
same attention before one is lent. Without torch these skip."""
import pathlib
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch.nn.attention.experimental._paged_attention")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench" / "gpu"))
import bench_paged as bp  # noqa: E402
from torch.nn.attention.flex_attention import flex_attention  # noqa: E402

PAGE = 16
# Lengths of one, a page multiple and neither; ragged ones drawn as the
# benchmark draws them.
LENGTHS = [101, 64, 7]
TOL = {torch.float32: 1e-5, torch.bfloat16: 1e-2}


def reference(q, k_pool, v_pool, table, kv_lens):
    """Float64 attention of each sequence over its own keys, read page by
    page through the table, bottom-right causal."""
    q, k_pool, v_pool = (t.double().numpy() for t in (q, k_pool, v_pool))
    b, hq, sq, d = q.shape
    group = hq // k_pool.shape[2]
    out = np.zeros(q.shape)
    for i, n in enumerate(kv_lens.tolist()):
        slots = np.arange(n)
        pages = table[i].numpy()[slots // PAGE]
        k, v = k_pool[pages, slots % PAGE], v_pool[pages, slots % PAGE]
        allowed = slots[None, :] <= np.arange(sq)[:, None] + n - sq
        for h in range(hq):
            s = q[i, h] @ k[:, h // group].T / np.sqrt(d)
            s = np.where(allowed, s, -np.inf)
            w = np.exp(s - s.max(axis=1, keepdims=True))
            out[i, h] = (w / w.sum(axis=1, keepdims=True)) @ v[:, h // group]
    return torch.from_numpy(out)


def rel(got, ref):
    return ((got.double() - ref).abs().max() / ref.abs().max()).item()


def case(seed, dtype, sq, lengths):
    g = torch.Generator().manual_seed(seed)
    kv_lens = (torch.tensor(LENGTHS, dtype=torch.int32) if lengths == "fixed"
               else bp.kv_lengths(3, 100, lengths, g))
    paged, k_pool, v_pool, table = bp.paged_cache(kv_lens, PAGE, bp.HKV, bp.D,
                                                  dtype, g)
    q = torch.randn(3, bp.HQ, sq, bp.D, generator=g, dtype=dtype)
    return kv_lens, paged, k_pool, v_pool, table, q


def test_lengths():
    g = torch.Generator().manual_seed(0)
    assert bp.kv_lengths(4, 96, "equal", g).tolist() == [96] * 4
    ragged = bp.kv_lengths(1000, 96, "ragged", g)
    assert ragged.dtype == torch.int32
    assert ragged.min() == 48 and ragged.max() == 96


def test_pages_are_shuffled_and_shared_nowhere(rng):
    kv_lens, paged, k_pool, v_pool, table, _ = case(
        int(rng.integers(1 << 31)), torch.float32, 1, "fixed")
    pages = [(n + PAGE - 1) // PAGE for n in LENGTHS]
    assert k_pool.shape == v_pool.shape == (sum(pages), PAGE, bp.HKV, bp.D)
    assert table.dtype == torch.int32 and table.shape == (3, max(pages))
    used = torch.cat([table[i, :p] for i, p in enumerate(pages)])
    assert sorted(used.tolist()) == list(range(sum(pages)))
    # In allocation order with probability 1/12! only.
    assert used.tolist() != sorted(used.tolist())
    for i, p in enumerate(pages):
        assert (table[i, p:] == -1).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("sq", [1, 3])
@pytest.mark.parametrize("lengths", ["fixed", "equal", "ragged"])
def test_peers_match_float64(rng, dtype, sq, lengths):
    kv_lens, paged, k_pool, v_pool, table, q = case(
        int(rng.integers(1 << 31)), dtype, sq, lengths)
    ref = reference(q, k_pool, v_pool, table, kv_lens)

    block_mask = bp.flex_block_mask(paged, kv_lens, sq, table.shape[1])
    flex = flex_attention(q, bp.flex_cache(k_pool), bp.flex_cache(v_pool),
                          block_mask=block_mask, enable_gqa=True)
    assert rel(flex, ref) <= TOL[dtype]

    s = int(kv_lens.max())
    k_dense, v_dense = (bp.gather_dense(p, table, s) for p in (k_pool, v_pool))
    mask = bp.sdpa_mask(kv_lens, sq, s)
    # Flash takes no mask: equal lengths and one query must need none
    # (ragged lengths drawn equal too: 3 draws from 51 values, 1 in 2601).
    equal = len(set(kv_lens.tolist())) == 1
    assert (mask is None) == (equal and sq == 1)
    sdpa = torch.nn.functional.scaled_dot_product_attention(
        q, k_dense, v_dense, attn_mask=mask, enable_gqa=True)
    assert rel(sdpa, ref) <= TOL[dtype]

    math = bp.math_reference(q, k_dense, v_dense, kv_lens)
    assert math.dtype == torch.float32
    assert rel(math, ref) <= TOL[dtype]


def test_compiled_flex_matches_float64(rng):
    """The torch.compile path the GPU run takes (inductor's CPU template
    here: 30-90 s to compile on two cores)."""
    kv_lens, paged, k_pool, v_pool, table, q = case(
        int(rng.integers(1 << 31)), torch.float32, 1, "ragged")
    block_mask = bp.flex_block_mask(paged, kv_lens, 1, table.shape[1])
    flex = bp.compiled_flex_attention()(
        q, bp.flex_cache(k_pool), bp.flex_cache(v_pool),
        block_mask=block_mask, enable_gqa=True)
    assert rel(flex, reference(q, k_pool, v_pool, table, kv_lens)) <= 1e-5
