#!/usr/bin/env python3
"""Times the backward launch plans bench/gpu/prepare.py compiled (bundle
bench_backward: prepare, key/value and query kernels) against the backward
of FlexAttention and of PyTorch SDPA (flash and cuDNN back ends), in one
run, on the same bf16 inputs, and checks our dq, dk, dv against
FlexAttention's.

  python3 bench/gpu/bench_backward.py .device      # prints a table

TFLOP/s count useful work as FlashAttention counts a backward: 2.5 times
the forward's 4 * B * H * D * (allowed query-key pairs). Each peer's time
is the median (triton.testing.do_bench) of its backward alone: torch's
autograd.grad through a graph kept from one forward.
"""
import json
import pathlib
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.nn.attention.flex_attention import create_block_mask

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "test" / "gpu"))
from bench import (B, H, S, allowed_pairs, bench, compiled_flex_attention,  # noqa: E402
                   document_ids, mask_mod_for, print_tflops_table)
from check import Runtime, relative_error  # noqa: E402


def logsumexp_rows(q, k, mask_mod):
    """The forward's lse [B, H, S] in f32, a block of queries at a time."""
    scale = q.shape[-1] ** -0.5
    lse = torch.empty(B, H, S, device="cuda", dtype=torch.float32)
    idx = torch.arange(S, device="cuda")
    for b in range(B):
        for q0 in range(0, S, 1024):
            s = (q[b, :, q0:q0 + 1024].float() @ k[b].float().transpose(-1, -2)) * scale
            if mask_mod is not None:
                allowed = mask_mod(b, 0, idx[q0:q0 + 1024, None], idx[None, :])
                s = s.masked_fill(~allowed, float("-inf"))
            lse[b, :, q0:q0 + 1024] = torch.logsumexp(s, dim=-1)
    return lse


def time_backward(forward, leaves, grad_o):
    """Median ms of the backward of `forward(*leaves)` alone."""
    out = forward(*leaves)
    grad = lambda: torch.autograd.grad(out, leaves, grad_o, retain_graph=True)
    grads = grad()
    return bench(grad), grads


def main():
    bundle = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".device")
    runtime = Runtime(bundle / "libattn_runtime.so")
    cases = json.loads((bundle / "bench_backward" / "cases.json").read_text())
    flex = compiled_flex_attention()
    torch.manual_seed(0)
    docs = document_ids()
    rows = []
    for case in cases:
        d, name = case["d"], case["name"]
        q, k, v, grad_o = (torch.randn(B, H, S, d, device="cuda",
                                       dtype=torch.bfloat16) for _ in range(4))
        mask_mod = mask_mod_for(name, docs)
        block_mask = (create_block_mask(mask_mod, B, None, S, S)
                      if mask_mod else None)
        leaves = [x.detach().requires_grad_() for x in (q, k, v)]
        flex_fn = lambda q, k, v: flex(q, k, v, block_mask=block_mask)
        times = {}
        times["FlexAttention"], ref = time_backward(flex_fn, leaves, grad_o)
        with torch.no_grad():
            o = flex_fn(q, k, v)
        lse = logsumexp_rows(q, k, mask_mod)

        kernel = runtime.load(bundle / "bench_backward" / case["image"],
                              bundle / "bench_backward" / case["manifest"])
        named = {"q": q, "k": k, "v": v, "o": o, "grad_o": grad_o, "lse": lse,
                 "q_ids": docs, "kv_ids": docs}
        inputs = [named[p["name"]] for p in kernel.manifest["inputs"]]
        grads = [torch.full_like(x, float("nan")) for x in (q, k, v)]
        ours = kernel.prepare(inputs, grads)
        ours()
        torch.cuda.synchronize()
        err = max(relative_error(g.float(), r.float()) for g, r in zip(grads, ref))
        times["attn-mlir"] = bench(ours)
        if name in ("dense", "causal"):
            for label, backend in {"SDPA flash": SDPBackend.FLASH_ATTENTION,
                                   "SDPA cuDNN": SDPBackend.CUDNN_ATTENTION}.items():
                try:
                    with sdpa_kernel(backend):
                        sdpa = lambda q, k, v: F.scaled_dot_product_attention(
                            q, k, v, is_causal=name == "causal")
                        times[label], _ = time_backward(sdpa, leaves, grad_o)
                except RuntimeError as e:
                    times[label] = None
                    print(f"{label} backward unavailable: {e}", file=sys.stderr)
        flops = 2.5 * 4 * H * d * allowed_pairs(mask_mod)
        density = allowed_pairs(mask_mod) / (B * S * S)
        rows.append((name, d, density, err, times, flops, case["ptxas"]))
        del q, k, v, grad_o, o, lse, leaves, ref, grads

    print_tflops_table(f"bf16 backward, B={B} H={H} S={S}; median ms / "
                       "TFLOP/s of useful work (2.5x the forward's)",
                       "max rel. err vs Flex (dq, dk, dv)", rows)
    print("\nptxas (sm_90), per kernel of the plan:")
    for name, d, *_, usage in rows:
        for line in usage.splitlines():
            if "Compiling entry" in line or "Used" in line or "spill" in line:
                print(f"  {name} D={d}: {line.split(':', 1)[-1].strip()}")


if __name__ == "__main__":
    main()
