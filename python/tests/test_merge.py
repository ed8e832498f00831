"""attn_mlir.merge against a float64 NumPy merge written here, and the real
use: attention over disjoint key ranges, merged, against attention over all
keys."""
import numpy as np
import pytest

import attn_mlir as am
from reference import attention_reference, relative_error


def merge_reference(o_parts, lse_parts):
    """(o, lse) over the union, in float64, with empty partials (lse = -inf)
    weighing exactly 0 and rows without partials giving 0 and -inf."""
    o = np.asarray(o_parts, dtype=np.float64)
    lse = np.asarray(lse_parts, dtype=np.float64)
    m = lse.max(axis=0, initial=-np.inf)
    shift = np.where(np.isfinite(m), m, 0)
    p = np.where(np.isinf(lse), 0, np.exp(lse - shift))
    total = p.sum(axis=0)
    with np.errstate(divide="ignore"):
        merged_lse = np.where(total > 0, shift + np.log(total), -np.inf)
    w = p / np.where(total > 0, total, 1)
    return np.einsum("nbhs,nbhsd->bhsd", w, o), merged_lse


def partials(rng, n, B=2, H=3, S=17, Dv=5, empty=0.3):
    o = rng.standard_normal((n, B, H, S, Dv)).astype(np.float32)
    lse = rng.uniform(-3, 3, (n, B, H, S)).astype(np.float32)
    lse[rng.random(lse.shape) < empty] = -np.inf
    lse[:, 0, 0, 0] = -np.inf  # one row with no key at all
    return o, lse


@pytest.mark.parametrize("n", [1, 2, 3])
def test_list_form_matches_float64_merge(n, rng):
    o, lse = partials(rng, n)
    got_o, got_lse = am.merge(list(o), list(lse))
    ref_o, ref_lse = merge_reference(o, lse)
    assert got_o.dtype == np.float32 and got_lse.dtype == np.float32
    assert relative_error(got_o, ref_o) < 2e-5
    assert relative_error(got_lse, ref_lse) < 2e-5
    assert np.all(got_o[0, 0, 0] == 0) and got_lse[0, 0, 0] == -np.inf


@pytest.mark.parametrize("n", [0, 1, 4])
def test_split_form_matches_float64_merge(n, rng):
    o, lse = partials(rng, n, B=3, S=9, Dv=7)
    got_o, got_lse = am.merge(o, lse)
    ref_o, ref_lse = merge_reference(o, lse)
    assert relative_error(got_o, ref_o) < 2e-5
    assert relative_error(got_lse, ref_lse) < 2e-5


def test_empty_partials_contribute_nothing_whatever_their_o(rng):
    o, lse = partials(rng, 2, empty=0.0)
    lse[1] = -np.inf
    o[1] = 1e30  # finite garbage under an empty partial
    got_o, got_lse = am.merge(list(o), list(lse))
    ref_o, ref_lse = merge_reference(o[:1], lse[:1])
    assert relative_error(got_o, ref_o) < 2e-5
    assert relative_error(got_lse, ref_lse) < 2e-5


def test_f32_partials_into_f16_output(rng):
    o, lse = partials(rng, 3)
    got_o = am.merge(list(o), list(lse), dtype="f16", return_lse=False)
    assert got_o.dtype == np.float16
    assert relative_error(got_o, merge_reference(o, lse)[0]) < 2e-3


def test_attention_over_key_ranges_merges_to_attention_over_all_keys(rng):
    B, H, Hkv, S, Skv, D, Dv = 2, 4, 2, 13, 70, 16, 8
    q = rng.standard_normal((B, H, S, D)).astype(np.float32)
    k = rng.standard_normal((B, Hkv, Skv, D)).astype(np.float32)
    v = rng.standard_normal((B, Hkv, Skv, Dv)).astype(np.float32)
    cuts = [0, 9, 41, Skv]
    pieces = [am.attention(q, k[:, :, a:b], v[:, :, a:b], return_lse=True)
              for a, b in zip(cuts, cuts[1:])]
    got_o, got_lse = am.merge([p[0] for p in pieces], [p[1] for p in pieces])
    ref_o, ref_lse = attention_reference(q, k, v, lambda b, h, i, j: True)
    assert relative_error(got_o, ref_o) < 2e-5
    assert relative_error(got_lse, ref_lse) < 2e-5


def test_mismatched_partials_are_reported(rng):
    o, lse = partials(rng, 2)
    with pytest.raises(am.Error, match="one lse per o partial"):
        am.merge(list(o), list(lse[:1]))
    with pytest.raises(am.Error, match="5-D"):
        am.merge(o[0], lse[0])
