"""Packed (varlen) and paged sequences on the CPU kernel against an
independent float64 reference that gathers each sequence's keys from its
pages and runs dense attention per sequence."""
import numpy as np
import pytest

import attn_mlir as am
from reference import (TOLERANCE, as_dtype, causal_bottom_right, cumulative,
                       gather_pages, pack_rows, per_sequence_reference,
                       random_block_table, relative_error)


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16"])
@pytest.mark.parametrize("page_size,layout", [(16, "nhd"), (1, "hnd"), (32, "nhd")])
def test_paged_decode(rng, dtype, page_size, layout):
    B, Hq, Hkv, D, Sq = 5, 8, 2, 32, 2
    lengths = [0, 1, page_size, 3 * page_size + 5, int(rng.integers(1, 90))]
    pages = 23
    table = random_block_table(rng, lengths, pages, page_size)
    shape = ((pages, page_size, Hkv, D) if layout == "nhd"
             else (pages, Hkv, page_size, D))
    q64, q = as_dtype(rng.standard_normal((B, Hq, Sq, D)), dtype)
    k64, k = as_dtype(rng.standard_normal(shape), dtype)
    v64, v = as_dtype(rng.standard_normal(shape), dtype)
    ks = [gather_pages(k64, table, b, n, page_size, layout) for b, n in enumerate(lengths)]
    vs = [gather_pages(v64, table, b, n, page_size, layout) for b, n in enumerate(lengths)]
    o_ref, lse_ref = per_sequence_reference(list(q64), ks, vs, causal_bottom_right)

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
    o_ref, lse_ref = per_sequence_reference(qs, ks, vs, causal_bottom_right)
    pack = lambda xs: pack_rows(xs).astype(np.float32)
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
    o, lse = am.compile(spec)(pack(qs), pack(ks), pack(vs), cumulative(q_lens), cumulative(kv_lens))
    assert relative_error(o, pack_rows(o_ref)) < 2e-5
    assert relative_error(lse, np.concatenate([x.T for x in lse_ref])) < 1e-5
