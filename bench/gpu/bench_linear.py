#!/usr/bin/env python3
"""Times the linear attention kernels of bench/gpu/prepare.py against
a PyTorch implementation of the same chunked algorithm (Lightning
Attention-2: quadratic within chunks of 64 with a causal mask, the state
carried across chunks; bf16 matmuls, f32 state) and against softmax
attention (SDPA flash, causal) on the same shapes, in one run. Each output
is checked against the PyTorch chunked one (relative Frobenius error).

  python3 bench/gpu/bench_linear.py .device      # prints a table

Times are the median of triton.testing.do_bench (CUDA events).
"""
import json
import pathlib
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench import Runtime, bench, relative_error  # noqa: E402

B, H, D = 1, 16, 64
CHUNK = 64


def features(name, x):
    x = x.float()
    return F.elu(x) + 1 if name == "elu_plus_one" else F.relu(x)


def torch_chunked(name, q, k, v, gamma):
    """o_i = phi(q_i) S_i / (phi(q_i) z_i + 1e-6) (elu+1), or phi(q_i) S_i
    with S_i = gamma S_{i-1} + phi(k_i) v_i^T (RetNet), chunk by chunk."""
    s_len = q.shape[2]
    pq = features(name, q).to(q.dtype)
    pk = features(name, k).to(k.dtype)
    state = torch.zeros(B, H, D, D, device="cuda", dtype=torch.float32)
    norm = torch.zeros(B, H, D, device="cuda", dtype=torch.float32)
    idx = torch.arange(CHUNK, device="cuda", dtype=torch.float32)
    causal = idx[:, None] >= idx[None, :]
    if gamma is None:
        decay = causal.float()
        inter = torch.ones(CHUNK, device="cuda")
        key_weight = torch.ones(CHUNK, device="cuda")
        chunk_decay = torch.ones(H, 1, 1, device="cuda")
    else:
        g = gamma.view(H, 1, 1)
        decay = torch.where(causal, g ** (idx[:, None] - idx[None, :]), 0.0)
        inter = g.view(H, 1) ** (idx + 1)                   # [H, C]
        key_weight = g.view(H, 1) ** (CHUNK - 1 - idx)      # [H, C]
        chunk_decay = g ** CHUNK                            # [H, 1, 1]
    out = torch.empty_like(v)
    for c0 in range(0, s_len, CHUNK):
        qc, kc, vc = pq[:, :, c0:c0 + CHUNK], pk[:, :, c0:c0 + CHUNK], v[:, :, c0:c0 + CHUNK]
        scores = (qc @ kc.transpose(-1, -2)).float() * decay
        num = (scores.to(v.dtype) @ vc).float()
        num += (qc @ state.to(q.dtype)).float() * inter[..., None]
        if gamma is None:
            den = scores.sum(-1) + (qc.float() @ norm[..., None]).squeeze(-1)
            out[:, :, c0:c0 + CHUNK] = (num / (den[..., None] + 1e-6)).to(v.dtype)
            norm += kc.float().sum(2)
        else:
            out[:, :, c0:c0 + CHUNK] = num.to(v.dtype)
        kd = kc * key_weight[..., None].to(kc.dtype) if gamma is not None else kc
        state = state * chunk_decay + (kd.transpose(-1, -2) @ vc).float()
    return out


def main():
    bundle = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".device")
    runtime = Runtime(bundle / "libattn_runtime.so")
    cases = json.loads((bundle / "bench_linear" / "cases.json").read_text())
    torch.manual_seed(0)
    rows = []
    for case in cases:
        name, s = case["name"], case["s"]
        q, k, v = (torch.randn(B, H, s, D, device="cuda", dtype=torch.bfloat16)
                   for _ in range(3))
        gamma = (1 - 2.0 ** (-5 - torch.arange(H, device="cuda", dtype=torch.float32))
                 if name == "retnet_decay" else None)
        o = torch.full_like(q, float("nan"))
        kernel = runtime.load(bundle / "bench_linear" / case["image"],
                              bundle / "bench_linear" / case["manifest"])
        inputs = [q, k, v] + ([gamma] if gamma is not None else [])
        ours = kernel.prepare(inputs, [o])
        ours()
        torch.cuda.synchronize()
        ref = torch_chunked(name, q, k, v, gamma)
        err = relative_error(o.float(), ref.float())
        times = {"attn-mlir": bench(ours),
                 "PyTorch chunked": bench(lambda: torch_chunked(name, q, k, v, gamma))}
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            times["SDPA flash (softmax)"] = bench(
                lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
        rows.append((name, s, err, times))
        del q, k, v, o, ref

    peers = ["attn-mlir", "PyTorch chunked", "SDPA flash (softmax)"]
    print(f"\n{torch.cuda.get_device_name()}, bf16, causal, B={B} H={H} "
          f"D=Dv={D}; median ms (and us per position)")
    print("| map | S | rel. err vs PyTorch | " + " | ".join(peers) + " |")
    print("|---" * (3 + len(peers)) + "|")
    for name, s, err, times in rows:
        cells = [f"{times[p]:.3f} ({times[p] * 1e3 / s:.3f})" for p in peers]
        print(f"| {name} | {s} | {err:.1e} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
