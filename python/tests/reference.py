"""An independent float64 reference: the full score matrix in NumPy, and
helpers for sequences of different lengths (packed rows, paged caches)."""
import numpy as np

#: Relative error tolerances of o for inputs of each dtype.
TOLERANCE = {"f32": 2e-5, "f16": 4e-3, "bf16": 2e-2}
NUMPY = {"f32": np.float32, "f16": np.float16}


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


def taylor(x, pos=None):
    """Based's second-order Taylor features of rows ``x [..., D]``:
    ``phi(q) . phi(k) = 1 + q.k/sqrt(D) + (q.k)^2 / 2D``."""
    d = x.shape[-1]
    quad = np.einsum("...a,...c->...ac", x, x).reshape(*x.shape[:-1], d * d)
    return np.concatenate([np.ones(x.shape[:-1] + (1,)), x / d ** 0.25,
                           quad / (np.sqrt(2) * np.sqrt(d))], -1)


def favor_with(w):
    """FAVOR+ positive random features with ``W [m, D]``."""
    def phi(x, pos=None):
        d = x.shape[-1]
        x = x * d ** -0.25
        return np.exp(x @ w.T - (x * x).sum(-1, keepdims=True) / 2) / np.sqrt(len(w))
    return phi


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


def as_dtype(x, dtype):
    """float64 data rounded to `dtype` (bf16 by round-to-nearest-even via
    torch), as a float64 array (what the kernel sees) and the array to pass
    (a torch tensor for bf16, which NumPy cannot hold)."""
    if dtype == "bf16":
        import torch
        t = torch.tensor(x, dtype=torch.float32).to(torch.bfloat16)
        return t.double().numpy(), t
    a = x.astype(NUMPY[dtype])
    return a.astype(np.float64), a


def per_sequence_reference(qs, ks, vs, allowed=None, score=None, scale=None):
    """Dense attention of each sequence on its own (``qs[b] [Hq, sq, D]``,
    ``ks[b] [Hkv, skv, D]``): lists of o ``[Hq, sq, Dv]`` and lse ``[Hq, sq]``.
    ``allowed(b, h, i, j, sq, skv)`` and ``score(s, b, h, i, j, sq, skv)`` see
    the sequence index, its lengths and positions from its start."""
    outs, lses = [], []
    for b, (q, k, v) in enumerate(zip(qs, ks, vs)):
        sq, skv = q.shape[1], k.shape[1]
        if skv == 0:  # no key: o = 0, lse = -inf
            outs.append(np.zeros(q.shape[:2] + v.shape[2:]))
            lses.append(np.full(q.shape[:2], -np.inf))
            continue
        mask = ((lambda _, h, i, j, b=b, sq=sq, skv=skv: allowed(b, h, i, j, sq, skv))
                if allowed else (lambda *_: True))
        mod = (None if score is None else
               lambda s, _, h, i, j, b=b, sq=sq, skv=skv: score(s, b, h, i, j, sq, skv))
        o, lse = attention_reference(q[None], k[None], v[None], mask, scale, mod)
        outs.append(o[0])
        lses.append(lse[0])
    return outs, lses


def causal_bottom_right(b, h, i, j, sq, skv):
    return j <= i + skv - sq


def random_block_table(rng, lengths, pages, page_size):
    """A block table naming random pages (shuffled, some shared between
    sequences) for each sequence's used pages and an out-of-range page for
    the rest, which no kernel may read."""
    max_pages = max(1, max(-(-n // page_size) for n in lengths))
    table = rng.integers(0, pages, (len(lengths), max_pages)).astype(np.int32)
    for b, n in enumerate(lengths):
        table[b, -(-n // page_size):] = pages + 3
    return table


def gather_pages(pool, table, b, n, page_size, layout):
    """The n keys of sequence b of a page pool (``[pages, P, H, D]`` "nhd"
    or ``[pages, H, P, D]`` "hnd") as ``[H, n, D]``."""
    rows = [pool[table[b, j // page_size], j % page_size] if layout == "nhd"
            else pool[table[b, j // page_size], :, j % page_size]
            for j in range(n)]
    if not rows:
        heads = pool.shape[2] if layout == "nhd" else pool.shape[1]
        return np.zeros((heads, 0, pool.shape[3]))
    return np.stack(rows, axis=1)


def pack_rows(xs):
    """Sequences ``[H, n, D]`` packed end to end as ``[T, H, D]``."""
    return np.concatenate([x.transpose(1, 0, 2) for x in xs])


def cumulative(lengths):
    """FlashAttention's cu_seqlens of `lengths` (int32, from 0)."""
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
