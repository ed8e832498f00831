"""Packed (varlen) and paged sequences on the CPU kernel against an
independent float64 reference that gathers each sequence's keys from its
pages and runs dense attention per sequence."""
import numpy as np
import pytest

import attn_mlir as am
from reference import attention_reference, relative_error

TOLERANCE = {"f32": 2e-5, "f16": 4e-3, "bf16": 2e-2}
NUMPY = {"f32": np.float32, "f16": np.float16}


def _as(x, dtype):
    """float64 data rounded to `dtype` (bf16 by truncating f32 mantissas),
    as a float64 array (what the kernel sees) and the array to pass."""
    if dtype == "bf16":
        import torch
        t = torch.tensor(x, dtype=torch.float32).to(torch.bfloat16)
        return t.double().numpy(), t
    a = x.astype(NUMPY[dtype])
    return a.astype(np.float64), a


def _per_sequence(qs, ks, vs, mask, scale=None):
    """Dense attention of each sequence on its own: o rows and lse."""
    outs, lses = [], []
    for q, k, v in zip(qs, ks, vs):
        sq, skv = q.shape[1], k.shape[1]
        if skv == 0:  # no key: o = 0, lse = -inf
            outs.append(np.zeros(q.shape[:2] + v.shape[2:]))
            lses.append(np.full(q.shape[:2], -np.inf))
            continue
        allowed = (lambda b, h, i, j, sq=sq, skv=skv: mask(i, j, sq, skv))
        o, lse = attention_reference(q[None], k[None], v[None], allowed, scale)
        outs.append(o[0])
        lses.append(lse[0])
    return outs, lses


def _random_table(rng, lengths, pages, page_size):
    """A block table naming random (shared, shuffled) pages for each
    sequence's used pages and an out-of-range page for the rest, which no
    kernel may read."""
    max_pages = max(1, max(-(-n // page_size) for n in lengths))
    table = rng.integers(0, pages, (len(lengths), max_pages)).astype(np.int32)
    for b, n in enumerate(lengths):
        table[b, -(-n // page_size):] = pages + 3
    return table


def _gather(pool, table, b, n, page_size, layout):
    """The n keys of sequence b as [H, n, D]."""
    rows = [pool[table[b, j // page_size], j % page_size] if layout == "nhd"
            else pool[table[b, j // page_size], :, j % page_size]
            for j in range(n)]
    if not rows:
        heads = pool.shape[2] if layout == "nhd" else pool.shape[1]
        return np.zeros((heads, 0, pool.shape[3]))
    return np.stack(rows, axis=1)


def _causal_bottom_right(i, j, sq, skv):
    return j <= i + skv - sq


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16"])
@pytest.mark.parametrize("page_size,layout", [(16, "nhd"), (1, "hnd"), (32, "nhd")])
def test_paged_decode(rng, dtype, page_size, layout):
    B, Hq, Hkv, D, Sq = 5, 8, 2, 32, 2
    lengths = [0, 1, page_size, 3 * page_size + 5, int(rng.integers(1, 90))]
    pages = 23
    table = _random_table(rng, lengths, pages, page_size)
    shape = ((pages, page_size, Hkv, D) if layout == "nhd"
             else (pages, Hkv, page_size, D))
    q64, q = _as(rng.standard_normal((B, Hq, Sq, D)), dtype)
    k64, k = _as(rng.standard_normal(shape), dtype)
    v64, v = _as(rng.standard_normal(shape), dtype)
    ks = [_gather(k64, table, b, n, page_size, layout) for b, n in enumerate(lengths)]
    vs = [_gather(v64, table, b, n, page_size, layout) for b, n in enumerate(lengths)]
    o_ref, lse_ref = _per_sequence(list(q64), ks, vs, _causal_bottom_right)

    P = page_size
    kshape = f"?x{P}x{Hkv}x{D}" if layout == "nhd" else f"?x{Hkv}x{P}x{D}"
    spec = f"""
func.func @decode(%q: tensor<?x{Hq}x{Sq}x{D}x{dtype}>, %k: tensor<{kshape}x{dtype}>,
                  %v: tensor<{kshape}x{dtype}>, %t: tensor<?x?xi32>, %l: tensor<?xi32>)
    -> (tensor<?x{Hq}x{Sq}x{D}x{dtype}>, tensor<?x{Hq}x{Sq}xf32>) {{
  %o, %lse = attn.attention %q, %k, %v paged_kv(%t, %l : tensor<?x?xi32>, tensor<?xi32>)
      page_layout({layout}) mask(#attn.causal<align = bottom_right>) allow_empty_rows
      : tensor<?x{Hq}x{Sq}x{D}x{dtype}>, tensor<{kshape}x{dtype}>, tensor<{kshape}x{dtype}>
      -> tensor<?x{Hq}x{Sq}x{D}x{dtype}>, tensor<?x{Hq}x{Sq}xf32>
  return %o, %lse : tensor<?x{Hq}x{Sq}x{D}x{dtype}>, tensor<?x{Hq}x{Sq}xf32>
}}"""
    lens = np.array(lengths, np.int32)
    if dtype == "bf16":  # one kind of array per call
        import torch
        table, lens = torch.from_numpy(table), torch.from_numpy(lens)
    o, lse = am.compile(spec)(q, k, v, table, lens)
    o = o.float().numpy() if hasattr(o, "float") else o
    lse = lse.numpy() if hasattr(lse, "numpy") else lse
    assert relative_error(o, np.stack(o_ref)) < TOLERANCE[dtype]
    assert relative_error(lse, np.stack(lse_ref)) < 1e-5


def test_varlen_causal(rng):
    Hq, Hkv, D = 4, 2, 16
    q_lens = [3, 0, 17, 1, 64]
    kv_lens = [3, 5, 20, 9, 64]
    qs = [rng.standard_normal((Hq, n, D)) for n in q_lens]
    ks = [rng.standard_normal((Hkv, n, D)) for n in kv_lens]
    vs = [rng.standard_normal((Hkv, n, D)) for n in kv_lens]
    o_ref, lse_ref = _per_sequence(qs, ks, vs, _causal_bottom_right)
    pack = lambda xs: np.concatenate([x.transpose(1, 0, 2) for x in xs]).astype(np.float32)
    cu = lambda ns: np.concatenate([[0], np.cumsum(ns)]).astype(np.int32)
    spec = f"""
func.func @varlen(%q: tensor<?x{Hq}x{D}xf32>, %k: tensor<?x{Hkv}x{D}xf32>,
                  %v: tensor<?x{Hkv}x{D}xf32>, %cq: tensor<?xi32>, %ck: tensor<?xi32>)
    -> (tensor<?x{Hq}x{D}xf32>, tensor<?x{Hq}xf32>) {{
  %o, %lse = attn.attention %q, %k, %v cu_seqlens_q(%cq : tensor<?xi32>)
      cu_seqlens_kv(%ck : tensor<?xi32>) mask(#attn.causal<align = bottom_right>)
      : tensor<?x{Hq}x{D}xf32>, tensor<?x{Hkv}x{D}xf32>, tensor<?x{Hkv}x{D}xf32>
      -> tensor<?x{Hq}x{D}xf32>, tensor<?x{Hq}xf32>
  return %o, %lse : tensor<?x{Hq}x{D}xf32>, tensor<?x{Hq}xf32>
}}"""
    o, lse = am.compile(spec)(pack(qs), pack(ks), pack(vs), cu(q_lens), cu(kv_lens))
    assert relative_error(o, np.concatenate([x.transpose(1, 0, 2) for x in o_ref])) < 2e-5
    assert relative_error(lse, np.concatenate([x.T for x in lse_ref])) < 1e-5
