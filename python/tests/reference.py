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


def linear_attention_reference(q, k, v, phi, causal=False, gamma=None,
                               normalize=True, eps=1e-6, s0=None, z0=None):
    """Linear attention as the quadratic form ``(phi(Q) phi(K)^T * M) V``
    (``M`` the causal mask with ``gamma^(i - j)``), plus the initial state
    seen through ``gamma^(i + 1)``, in float64. ``phi(x, positions)`` maps
    ``[B, H, S, D]`` rows to features. Returns (o, S, z) with the final
    state."""
    q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
    B, H, Sq, _ = q.shape
    group = H // k.shape[1]
    k = np.repeat(k, group, axis=1)
    v = np.repeat(v, group, axis=1)
    fq, fk = phi(q, np.arange(Sq)), phi(k, np.arange(k.shape[2]))
    F, Dv = fq.shape[-1], v.shape[-1]
    g = np.ones(H) if gamma is None else np.asarray(gamma, dtype=np.float64)
    a = np.einsum("bhif,bhjf->bhij", fq, fk)
    i, j = np.arange(Sq)[:, None], np.arange(k.shape[2])[None, :]
    if causal:
        with np.errstate(divide="ignore"):
            power = np.where(j <= i, i - j, 0)
        a = a * np.where(j <= i, g[:, None, None] ** power, 0)[None]
    s0 = np.zeros((B, H, F, Dv)) if s0 is None else np.asarray(s0, np.float64)
    z0 = np.zeros((B, H, F)) if z0 is None else np.asarray(z0, np.float64)
    carried = (g[:, None] ** (np.arange(Sq) + 1)[None])[None, :, :, None] \
        if causal else 1.0
    num = a @ v + np.einsum("bhif,bhfe->bhie", fq * carried, s0)
    den = a.sum(-1) + np.einsum("bhif,bhf->bhi", fq * carried, z0)
    o = num / (den[..., None] + eps) if normalize else num
    n = k.shape[2]
    weights = (g[:, None] ** (n - 1 - np.arange(n))[None])[None, :, :, None]
    s = (g ** n)[None, :, None, None] * s0 + np.einsum(
        "bhjf,bhje->bhfe", fk * weights, v)
    z = (g ** n)[None, :, None] * z0 + (fk * weights).sum(2)
    return o, s, z
