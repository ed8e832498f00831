"""Serving through the Python API: attn_mlir.paged_attention (decoding,
speculative verification and chunked prefill against a paged KV cache) and
attn_mlir.varlen_attention (packed sequences), on random page tables
(shuffled pages, pages shared between sequences, partial last pages, lengths
0, 1 and page multiples), against the independent float64 reference that
gathers each sequence's pages; the host checks of the data contract; and
parity with PyTorch SDPA on the gathered cache."""
import numpy as np
import pytest

import attn_mlir as am
from reference import (TOLERANCE, as_dtype, causal_bottom_right, cumulative,
                       gather_pages, pack_rows, per_sequence_reference,
                       random_block_table, relative_error)


def _numpy(x):
    return x.float().numpy() if hasattr(x, "float") else np.asarray(x)


def _cache(rng, dtype, lengths, page_size, layout, kv_heads, head_dim,
           value_dim=None, pages=None):
    """A random page pool pair, its table and the gathered float64 keys and
    values of every sequence."""
    pages = pages or sum(-(-n // page_size) for n in lengths) + 3
    table = random_block_table(rng, lengths, pages, page_size)

    def pool(d):
        shape = ((pages, page_size, kv_heads, d) if layout == "nhd"
                 else (pages, kv_heads, page_size, d))
        return as_dtype(rng.standard_normal(shape), dtype)

    (k64, k), (v64, v) = pool(head_dim), pool(value_dim or head_dim)
    ks = [gather_pages(k64, table, b, n, page_size, layout)
          for b, n in enumerate(lengths)]
    vs = [gather_pages(v64, table, b, n, page_size, layout)
          for b, n in enumerate(lengths)]
    return k, v, table, np.array(lengths, np.int32), ks, vs


def _lengths(rng, page_size):
    """Empty, one key, exact page multiples, a partial last page, random."""
    return [0, 1, page_size, 3 * page_size, 2 * page_size + 1,
            int(rng.integers(1, 5 * page_size))]


@pytest.mark.parametrize("dtype,page_size,layout", [
    ("f32", 16, "nhd"), ("f16", 1, "hnd"), ("bf16", 32, "nhd"),
    ("f32", 128, "hnd"), ("bf16", 16, "hnd"), ("f16", 32, "nhd")])
@pytest.mark.parametrize("sq", [1, 3])
def test_paged_decode(rng, dtype, page_size, layout, sq):
    Hq, Hkv, D, Dv = 8, 2, 32, 24
    lengths = _lengths(rng, page_size)
    k, v, table, lens, ks, vs = _cache(rng, dtype, lengths, page_size, layout,
                                       Hkv, D, Dv)
    q64, q = as_dtype(rng.standard_normal((len(lengths), Hq, sq, D)), dtype)
    o_ref, lse_ref = per_sequence_reference(list(q64), ks, vs,
                                            causal_bottom_right)
    if dtype == "bf16":  # one kind of array per call
        import torch
        table, lens = torch.from_numpy(table), torch.from_numpy(lens)
    o, lse = am.paged_attention(q, k, v, table, lens, page_layout=layout,
                                mask=am.causal("bottom_right"),
                                return_lse=True)
    assert o.shape == (len(lengths), Hq, sq, Dv)
    assert relative_error(_numpy(o), np.stack(o_ref)) < TOLERANCE[dtype]
    assert relative_error(_numpy(lse), np.stack(lse_ref)) < 1e-5


def _alibi_slope(h, heads=8):
    return 2.0 ** (-8.0 * (h + 1) / heads)


# (mask, mask_mod, score_mods, score_mod) and the reference's (allowed, score);
# positions are counted from each sequence's start, lengths its own.
MODIFIED = {
    "window_sinks": (
        dict(mask=am.window(5, align="bottom_right") | am.sinks(2)),
        lambda b, h, i, j, sq, skv: ((j <= i + skv - sq) & (j >= i + skv - sq - 5))
        | (j < 2),
        None),
    "alibi_softcap": (
        dict(mask=am.causal("bottom_right"),
             score_mods=(am.alibi(align="bottom_right"), am.softcap(3.0))),
        causal_bottom_right,
        lambda s, b, h, i, j, sq, skv: 3.0 * np.tanh(
            (s + _alibi_slope(h) * (j - (i + skv - sq))) / 3.0)),
    "traced_regions": (
        dict(mask_mod=lambda b, h, i, j: ((j + h) % 3 != 0) | (j == 0),
             score_mod=lambda s, b, h, i, j: s * 0.5 + 0.01 * (i - j) + 0.1 * b),
        lambda b, h, i, j, sq, skv: ((j + h) % 3 != 0) | (j == 0),
        lambda s, b, h, i, j, sq, skv: s * 0.5 + 0.01 * (i - j) + 0.1 * b),
}


@pytest.mark.parametrize("case", sorted(MODIFIED))
def test_paged_masks_and_modifiers(rng, case):
    Hq, Hkv, D, P, sq = 8, 2, 16, 16, 2
    kwargs, allowed, score = MODIFIED[case]
    lengths = _lengths(rng, P)
    k, v, table, lens, ks, vs = _cache(rng, "f32", lengths, P, "nhd", Hkv, D)
    q64, q = as_dtype(rng.standard_normal((len(lengths), Hq, sq, D)), "f32")
    o_ref, lse_ref = per_sequence_reference(list(q64), ks, vs, allowed, score)
    o, lse = am.paged_attention(q, k, v, table, lens, return_lse=True, **kwargs)
    assert relative_error(o, np.stack(o_ref)) < TOLERANCE["f32"]
    assert relative_error(lse, np.stack(lse_ref)) < 1e-5


@pytest.mark.parametrize("dtype", ["bf16", "f32"])
def test_chunked_prefill(rng, dtype):
    """Packed query chunks (one empty) against a paged cache that already
    holds each chunk's keys at its end."""
    Hq, Hkv, D, P = 4, 1, 64, 16
    q_lens = [5, 0, 16, 1, 23]
    lengths = [n + int(rng.integers(0, 40)) for n in q_lens]
    k, v, table, lens, ks, vs = _cache(rng, dtype, lengths, P, "nhd", Hkv, D)
    qs = [rng.standard_normal((Hq, n, D)) for n in q_lens]
    q64, q = as_dtype(pack_rows(qs), dtype)
    o_ref, lse_ref = per_sequence_reference(
        [x.transpose(1, 0, 2) for x in np.split(q64, np.cumsum(q_lens)[:-1])],
        ks, vs, causal_bottom_right)
    cu = cumulative(q_lens)
    if dtype == "bf16":
        import torch
        table, lens, cu = (torch.from_numpy(x) for x in (table, lens, cu))
    o, lse = am.paged_attention(q, k, v, table, lens, cu_seqlens_q=cu,
                                mask=am.causal("bottom_right"), return_lse=True)
    assert o.shape == (sum(q_lens), Hq, D)
    assert relative_error(_numpy(o), pack_rows(o_ref)) < TOLERANCE[dtype]
    assert relative_error(_numpy(lse),
                          np.concatenate([x.T for x in lse_ref])) < 1e-5


@pytest.mark.parametrize("dtype", ["f16", "f32"])
def test_varlen(rng, dtype):
    """Packed queries and keys, empty sequences on either side, GQA, a
    bottom-right window; int64 cumulative lengths (NumPy's default)."""
    Hq, Hkv, D, Dv = 6, 2, 32, 16
    q_lens = [7, 0, 33, 1, 64, 4]
    kv_lens = [7, 5, 40, 0, 64, 9]
    qs = [rng.standard_normal((Hq, n, D)) for n in q_lens]
    ks = [rng.standard_normal((Hkv, n, D)) for n in kv_lens]
    vs = [rng.standard_normal((Hkv, n, Dv)) for n in kv_lens]
    (q64, q), (k64, k), (v64, v) = (as_dtype(pack_rows(x), dtype)
                                    for x in (qs, ks, vs))
    split = lambda x, ns: [y.transpose(1, 0, 2) for y in np.split(x, np.cumsum(ns)[:-1])]
    o_ref, lse_ref = per_sequence_reference(
        split(q64, q_lens), split(k64, kv_lens), split(v64, kv_lens),
        lambda b, h, i, j, sq, skv: (j <= i + skv - sq) & (j >= i + skv - sq - 8))
    o, lse = am.varlen_attention(
        q, k, v, cumulative(q_lens).astype(np.int64),
        cumulative(kv_lens).astype(np.int64),
        mask=am.window(8, align="bottom_right"), return_lse=True)
    assert o.shape == (sum(q_lens), Hq, Dv) and lse.shape == (sum(q_lens), Hq)
    assert relative_error(o, pack_rows(o_ref)) < TOLERANCE[dtype]
    assert relative_error(lse, np.concatenate([x.T for x in lse_ref])) < 1e-5


torch = pytest.importorskip("torch")


def test_torch_int64_tables(rng):
    """torch CPU tensors with int64 tables and lengths (torch's default
    integers), bf16 pools in the HND layout."""
    Hq, Hkv, D, P = 8, 4, 64, 16
    lengths = _lengths(rng, P)
    k, v, table, lens, ks, vs = _cache(rng, "bf16", lengths, P, "hnd", Hkv, D)
    q64, q = as_dtype(rng.standard_normal((len(lengths), Hq, 1, D)), "bf16")
    o_ref, _ = per_sequence_reference(list(q64), ks, vs)
    o = am.paged_attention(q, k, v, torch.from_numpy(table).long(),
                           torch.from_numpy(lens).long(), page_layout="hnd")
    assert o.dtype == torch.bfloat16
    assert relative_error(_numpy(o), np.stack(o_ref)) < TOLERANCE["bf16"]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_matches_sdpa_on_gathered_cache(rng, dtype):
    """Parity with SDPA run per sequence on its gathered keys (bottom-right
    causal as an explicit boolean mask), both judged by SDPA in float64."""
    Hq, Hkv, D, P, sq = 8, 2, 64, 16, 4
    lengths = [4, 16, 37, 100, 64]
    g = torch.Generator().manual_seed(int(rng.integers(1 << 31)))
    pages = 40
    table = torch.from_numpy(random_block_table(rng, lengths, pages, P))
    lens = torch.tensor(lengths, dtype=torch.int32)
    q = torch.randn(len(lengths), Hq, sq, D, generator=g).to(dtype)
    k, v = (torch.randn(pages, P, Hkv, D, generator=g).to(dtype) for _ in range(2))
    o = am.paged_attention(q, k, v, table, lens, mask=am.causal("bottom_right"))
    F = torch.nn.functional
    for b, n in enumerate(lengths):
        rows = torch.arange(n)
        kb, vb = (x[table[b, rows // P].long(), rows % P].transpose(0, 1)[None]
                  for x in (k, v))
        mask = torch.arange(n)[None, :] <= torch.arange(sq)[:, None] + n - sq
        sdpa = lambda t: F.scaled_dot_product_attention(
            q[b:b + 1].to(t), kb.to(t), vb.to(t), attn_mask=mask, enable_gqa=True)
        ref, theirs = sdpa(torch.float64), sdpa(dtype)
        ours_err = ((o[b:b + 1].double() - ref).abs().max() / ref.abs().max()).item()
        sdpa_err = ((theirs.double() - ref).abs().max() / ref.abs().max()).item()
        assert ours_err <= max(2 * sdpa_err, 2e-6), (b, ours_err, sdpa_err)


# -- The data contract, checked on the host before the call ----------------

def _small_case():
    q = np.zeros((2, 4, 1, 16), np.float32)
    pool = np.zeros((6, 8, 2, 16), np.float32)
    table = np.array([[0, 1], [2, 3]], np.int32)
    return q, pool, table


@pytest.mark.parametrize("table_entry,lens,message", [
    ((1, 1, 9), [3, 16], r"'block_table'\[1, 1\] = 9 is not a page of the cache"),
    ((1, 0, -1), [3, 5], r"'block_table'\[1, 0\] = -1 is not a page"),
    (None, [3, 17], r"'kv_lens'\[1\] = 17"),
    (None, [-1, 4], r"'kv_lens'\[0\] = -1"),
])
def test_bad_tables_raise(table_entry, lens, message):
    q, pool, table = _small_case()
    if table_entry:
        table[table_entry[0], table_entry[1]] = table_entry[2]
    with pytest.raises(am.Error, match=message):
        am.paged_attention(q, pool, pool, table, np.array(lens, np.int32))


def test_bad_cu_seqlens_raise():
    x = np.zeros((5, 2, 8), np.float32)
    ok = np.array([0, 2, 5], np.int32)
    with pytest.raises(am.Error, match=r"'cu_seqlens_q'.*decrease"):
        am.varlen_attention(x, x, x, np.array([0, 3, 2, 5], np.int32), ok[[0, 1, 1, 2]])
    with pytest.raises(am.Error, match=r"'cu_seqlens_kv'.*end"):
        am.varlen_attention(x, x, x, ok, np.array([0, 2, 4], np.int32))


def test_bad_index_dtypes_raise():
    q, pool, table = _small_case()
    lens = np.array([3, 5], np.int32)
    with pytest.raises(am.Error, match="block_table must hold int32 .* got float32"):
        am.paged_attention(q, pool, pool, table.astype(np.float32), lens)
    with pytest.raises(am.Error, match="kv_lens holds 4294967296, which int32 cannot hold"):
        am.paged_attention(q, pool, pool, table, np.array([3, 2**32], np.int64))
    with pytest.raises(am.Error, match=r"block_table must be 2-D, got shape \(4,\)"):
        am.paged_attention(q, pool, pool, table.ravel(), lens)
    with pytest.raises(am.Error, match=r"q must be \[B, Hq, Sq, D\]"):
        am.paged_attention(q[0], pool, pool, table, lens)
    with pytest.raises(am.Error, match="page_layout must be 'nhd' or 'hnd'"):
        am.paged_attention(q, pool, pool, table, lens, page_layout="nph")


def test_spec_forms():
    spec = am.Spec(heads=4, kv_heads=2, head_dim=16, dtype="f32", q_len=1,
                   key_form="paged", page_size=16, page_layout="hnd",
                   return_lse=True)
    text = str(spec)
    assert "paged_kv(%block_table, %kv_lens : tensor<?x?xi32>, tensor<?xi32>)" in text
    assert "page_layout(hnd)" in text and "tensor<?x2x16x16xf32>" in text
    kernel = am.compile(spec)
    assert [p[0] for p in kernel.inputs] == ["q", "k", "v", "block_table", "kv_lens"]
    packed = str(am.Spec(heads=4, head_dim=16, query_form="packed",
                         key_form="packed", return_lse=True))
    assert "cu_seqlens_q(%cu_seqlens_q" in packed and "tensor<?x4xf32>" in packed
    with pytest.raises(ValueError, match="page_size is given exactly when"):
        am.Spec(heads=4, head_dim=16, key_form="paged")
    with pytest.raises(ValueError, match="key_form must be"):
        am.Spec(heads=4, head_dim=16, key_form="ragged")
