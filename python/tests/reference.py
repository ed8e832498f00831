"""An independent float64 reference: the full score matrix in NumPy."""
import numpy as np


def attention_reference(q, k, v, allowed, scale=None, score=None):
    """``allowed(b, h, i, j)`` and ``score(s, b, h, i, j)`` take broadcast
    index arrays. Returns (o, lse) in float64; empty rows give o = 0 and
    lse = -inf."""
    q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
    B, H, Sq, D = q.shape
    group = H // k.shape[1]
    k = np.repeat(k, group, axis=1)
    v = np.repeat(v, group, axis=1)
    scale = 1 / np.sqrt(D) if scale is None else scale
    s = np.einsum("bhid,bhjd->bhij", q, k) * scale
    b, h, i, j = np.meshgrid(np.arange(B), np.arange(H), np.arange(Sq),
                             np.arange(k.shape[2]), indexing="ij")
    if score is not None:
        s = score(s, b, h, i, j)
    ok = np.broadcast_to(allowed(b, h, i, j), s.shape)
    s = np.where(ok, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    p = np.where(ok, np.exp(s - m), 0)
    l = p.sum(axis=-1, keepdims=True)
    o = np.einsum("bhij,bhjd->bhid", p / np.where(l > 0, l, 1), v)
    with np.errstate(divide="ignore"):
        lse = np.where(l[..., 0] > 0, np.log(l[..., 0]) + m[..., 0], -np.inf)
    return o, lse


def relative_error(got, ref):
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    both_inf = np.isinf(ref) & (got == ref)
    got, ref = np.where(both_inf, 0, got), np.where(both_inf, 0, ref)
    if not (np.isfinite(got).all() and np.isfinite(ref).all()):
        return np.inf
    return np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-300)
