"""Writes .npy inputs (good and malformed) and checks attn-run outputs
against an independent NumPy float64 attention."""
import sys

import numpy as np


def shape_of(text):
    return tuple(int(d) for d in text.split("x"))


def random(path, shape, dtype, seed, order="C"):
    rng = np.random.default_rng(int(seed))
    a = rng.standard_normal(shape_of(shape)).astype(dtype)
    if order == "F":
        a = np.asfortranarray(a)
    np.save(path, a)


def bools(path, shape, seed):
    rng = np.random.default_rng(int(seed))
    np.save(path, rng.random(shape_of(shape)) < 0.5)


def sorted_ids(path, shape, documents):
    rows, length = shape_of(shape)
    ids = np.repeat(np.arange(int(documents)), -(-length // int(documents)))
    np.save(path, np.tile(ids[:length], (rows, 1)).astype(np.int32))


def truncate(path, nbytes):
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) - int(nbytes)])


def append(path, nbytes):
    with open(path, "ab") as f:
        f.write(b"\0" * int(nbytes))


def big_endian(path, shape):
    np.save(path, np.ones(shape_of(shape), dtype=">f4"))


def garbage(path):
    open(path, "wb").write(b"this is not a numpy file at all\n")


def reference(q, k, v, scale=None, causal=None):
    """Float64 attention with GQA; causal is None, 'top_left' or 'bottom_right'."""
    q, k, v = (np.load(p).astype(np.float64) for p in (q, k, v))
    B, Hq, Sq, D = q.shape
    Hkv, Skv = k.shape[1], k.shape[2]
    group = Hq // Hkv
    k = np.repeat(k, group, axis=1)
    v = np.repeat(v, group, axis=1)
    scale = 1.0 / np.sqrt(D) if scale is None else float(scale)
    s = np.einsum("bhid,bhjd->bhij", q, k) * scale
    if causal:
        offset = Skv - Sq if causal == "bottom_right" else 0
        i = np.arange(Sq)[:, None]
        j = np.arange(Skv)[None, :]
        s = np.where(j <= i + offset, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    p = np.exp(s - m)
    l = p.sum(axis=-1, keepdims=True)
    return np.einsum("bhij,bhjd->bhid", p, v) / l, (m + np.log(l))[..., 0]


def compare(q, k, v, o, lse, tol, causal=None):
    ref_o, ref_lse = reference(q, k, v, causal=causal)
    got_o = np.load(o)
    assert got_o.dtype == np.float32, got_o.dtype
    err = np.abs(got_o - ref_o).max() / np.abs(ref_o).max()
    err_lse = np.abs(np.load(lse) - ref_lse).max() / np.abs(ref_lse).max()
    status = "OK" if err < float(tol) and err_lse < float(tol) else "MISMATCH"
    print(f"{status} o error {err:.2e} lse error {err_lse:.2e}")


if __name__ == "__main__":
    globals()[sys.argv[1]](*sys.argv[2:])
