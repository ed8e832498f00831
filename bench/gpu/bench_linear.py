#!/usr/bin/env python3
"""Times the linear attention kernels of bench/gpu/prepare.py against
a PyTorch implementation of the same chunked algorithm (Lightning
Attention-2: quadratic within chunks of 64 with a causal mask, the state
carried across chunks; bf16 matmuls, f32 state), against
flash-linear-attention's Triton chunk kernels (chunk_retention,
chunk_simple_gla; installed from the bundle's wheels) and against softmax
attention (SDPA flash, causal) on the same shapes, in one run. Each output
is checked against the PyTorch chunked one (relative Frobenius error).

  python3 bench/gpu/bench_linear.py .device      # prints a table

Times are the median of triton.testing.do_bench (CUDA events).
"""
import json
import pathlib
import subprocess
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench import Runtime, bench, relative_error  # noqa: E402

# flash-linear-attention's benchmark shapes: H=16, D=128, B and T swept
# (prepare.py compiles one kernel per (B, T)).
H, D = 16, 128
CHUNK = 64
# The forms with raw queries and keys: q scaled by D^-1/2, no denominator.
RAW = ("retention", "simple_gla")


def query_features(name, q):
    return q.float() * q.shape[-1] ** -0.5 if name in RAW else F.elu(q.float()) + 1


def key_features(name, k):
    return k.float() if name in RAW else F.elu(k.float()) + 1


def retention_gammas(device):
    return 1 - 2.0 ** (-5 - torch.arange(H, device=device, dtype=torch.float32))


def torch_chunked(name, q, k, v, decay=None):
    """o_i = phi(q_i) S_i / (phi(q_i) z_i + 1e-6) (elu+1), or phi(q_i) S_i
    with S_i = a_i S_{i-1} + phi(k_i) v_i^T: a_i = gamma per head
    (retention, `decay` [H]) or exp(g_i) (simple GLA, `decay` the log gates
    [B, H, S]), chunk by chunk with the decays as exp of differences of
    cumulative log decays within the chunk."""
    device = q.device
    B, H, s_len, D = q.shape
    pq = query_features(name, q).to(q.dtype)
    pk = key_features(name, k).to(k.dtype)
    state = torch.zeros(B, H, D, D, device=device, dtype=torch.float32)
    norm = torch.zeros(B, H, D, device=device, dtype=torch.float32)
    idx = torch.arange(CHUNK, device=device)
    causal = idx[:, None] >= idx[None, :]
    out = torch.empty_like(v)
    for c0 in range(0, s_len, CHUNK):
        n = min(CHUNK, s_len - c0)
        qc, kc, vc = (x[:, :, c0:c0 + n] for x in (pq, pk, v))
        mask = causal[:n, :n]
        if decay is None:
            logs = torch.zeros(B, H, n, device=device)
        elif decay.dim() == 1:                      # a gamma per head
            logs = torch.log(decay).view(1, H, 1).expand(B, H, n)
        else:                                       # log gates [B, H, S]
            logs = decay[:, :, c0:c0 + n].float()
        c = logs.cumsum(-1)                         # [B, H, n]
        diff = torch.where(mask, c[..., :, None] - c[..., None, :], 0.0)
        weights = torch.where(mask, diff.exp(), 0.0)
        scores = (qc @ kc.transpose(-1, -2)).float() * weights
        num = (scores.to(v.dtype) @ vc).float()
        num += (qc @ state.to(q.dtype)).float() * c.exp()[..., None]
        if name in RAW:
            out[:, :, c0:c0 + n] = num.to(v.dtype)
        else:
            den = scores.sum(-1) + (qc.float() @ norm[..., None]).squeeze(-1)
            out[:, :, c0:c0 + n] = (num / (den[..., None] + 1e-6)).to(v.dtype)
            norm += kc.float().sum(2)
        key_weight = (c[..., -1:] - c).exp()        # [B, H, n]
        kd = (kc.float() * key_weight[..., None]).to(kc.dtype)
        state = (state * c[..., -1].exp()[..., None, None]
                 + (kd.transpose(-1, -2) @ vc).float())
    return out


def fla_peer(name):
    """flash-linear-attention's Triton chunk kernel for `name` (q, k, v in
    [B, H, S, D]; the extra input as ours), or None without fla."""
    try:
        from fla.ops.retention import chunk_retention
        from fla.ops.simple_gla import chunk_simple_gla
    except ImportError:
        return None
    bthd = lambda x: x.transpose(1, 2).contiguous()
    if name == "retention":
        return lambda q, k, v, extra: chunk_retention(bthd(q), bthd(k), bthd(v))[0]
    if name == "simple_gla":
        return lambda q, k, v, extra: chunk_simple_gla(
            bthd(q), bthd(k), bthd(v), bthd(extra))[0]
    return None


def install_fla(bundle):
    """pip install --no-deps the wheels prepare.py put in the bundle."""
    wheels = sorted((bundle / "wheels").glob("*.whl"))
    if wheels:
        r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                            "--no-deps", *map(str, wheels)],
                           capture_output=True, text=True)
        if r.returncode:
            print(f"fla-core not installed: {r.stderr.strip()}")


def main():
    bundle = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".device")
    install_fla(bundle / "bench_linear")
    runtime = Runtime(bundle / "libattn_runtime.so")
    cases = json.loads((bundle / "bench_linear" / "cases.json").read_text())
    torch.manual_seed(0)
    rows = []
    for case in cases:
        name, b, s = case["name"], case["b"], case["s"]
        q, k, v = (torch.randn(b, H, s, D, device="cuda", dtype=torch.bfloat16)
                   for _ in range(3))
        extra = None
        if name == "retention":
            extra = retention_gammas("cuda")
        elif name == "simple_gla":
            extra = F.logsigmoid(torch.randn(b, H, s, device="cuda") + 3.0)
        o = torch.full_like(q, float("nan"))
        kernel = runtime.load(bundle / "bench_linear" / case["image"],
                              bundle / "bench_linear" / case["manifest"])
        inputs = [q, k, v] + ([extra] if extra is not None else [])
        ours = kernel.prepare(inputs, [o])
        ours()
        torch.cuda.synchronize()
        ref = torch_chunked(name, q, k, v, extra)
        err = relative_error(o.float(), ref.float())
        times = {"attn-mlir": bench(ours),
                 "PyTorch chunked": bench(lambda: torch_chunked(name, q, k, v, extra))}
        peer = fla_peer(name)
        if peer is not None:
            fla_err = relative_error(peer(q, k, v, extra).transpose(1, 2).float(),
                                     ref.float())
            times["fla Triton"] = bench(lambda: peer(q, k, v, extra))
            err = f"{err:.1e} (fla {fla_err:.1e})"
        else:
            err = f"{err:.1e}"
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            times["SDPA flash (softmax)"] = bench(
                lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
        rows.append((name, b, s, err, times))
        del q, k, v, o, ref

    peers = ["attn-mlir", "PyTorch chunked", "fla Triton", "SDPA flash (softmax)"]
    print(f"\n{torch.cuda.get_device_name()}, bf16, causal, H={H} "
          f"D=Dv={D}; median ms (and ns per token of the batch)")
    print("| form | B | T | rel. err vs PyTorch | " + " | ".join(peers) + " |")
    print("|---" * (4 + len(peers)) + "|")
    for name, b, s, err, times in rows:
        cells = [f"{times[p]:.3f} ({times[p] * 1e6 / (b * s):.1f})"
                 if p in times else "-" for p in peers]
        print(f"| {name} | {b} | {s} | {err} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
