#!/usr/bin/env python3
"""The attention backward on the CPU: attn_mlir's (torch autograd through
the compiled attn.attention_backward) against PyTorch SDPA's and
FlexAttention's CPU backward, in one run, on the same inputs.

  CUDA_VISIBLE_DEVICES="" PYTHONPATH=build/python python3 bench/cpu/bench_backward.py
  ... --seq 256 1024 --dtype f32 --masks dense causal causal_bias

Each point times the backward alone (the forward and its saved tensors are
built once; backward(retain_graph=True) is timed), median of --repeats
calls, and reports TFLOP/s of useful work as FlashAttention counts it: 2.5x
the forward's 4 * B * H * Sq * Skv * D flops, halved for causal. Every
implementation's dq is compared with a float64 SDPA backward first.
`causal_bias` adds a learned [B, H, S, S] bias (requiring grad, so each
backward also computes its gradient): SDPA takes it as a float attn_mask
with the causal -inf folded in, FlexAttention as a score_mod reading it.
FlexAttention runs eagerly (its CPU path without torch.compile); where it
has no CPU backward (torch 2.15 raises NotImplementedError) its cells say
n/a and the reason is printed under the table.
"""
import warnings

import torch
import torch.nn.functional as F
from torch.nn.attention import flex_attention as flex

import attn_mlir as am
from peers import print_header, shape_parser, timed

TORCH = {"f32": torch.float32, "bf16": torch.bfloat16}


def backward_of(forward, q, k, v, do):
    """A function that runs the backward of `forward` once (its graph kept),
    and the dq it computes."""
    leaves = [t.detach().clone().requires_grad_() for t in (q, k, v)]
    o = forward(*leaves)

    def run():
        for t in leaves:
            t.grad = None
        o.backward(do, retain_graph=True)
        return leaves[0].grad

    return run


def point(batch, heads, seq, dim, dtype, mask, repeats, gen):
    t = TORCH[dtype]
    q, k, v, do = (torch.randn(batch, heads, seq, dim, generator=gen).to(t)
                   for _ in range(4))
    causal = mask in ("causal", "causal_bias")
    block = flex.create_block_mask(
        (lambda b, h, i, j: j <= i) if causal else (lambda b, h, i, j: j >= 0),
        None, None, seq, seq, device="cpu")
    bias = None
    if mask == "causal_bias":
        bias = torch.randn(batch, heads, seq, seq, generator=gen).to(t)
        bias.requires_grad_()
    above = ~torch.ones(seq, seq, dtype=torch.bool).tril()

    def sdpa(q, k, v, bias):
        if bias is None:
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias.masked_fill(above, float("-inf")))

    ours = dict(score_mods=[am.bias()], bias=bias) if bias is not None else {}
    impls = {
        "attn-mlir": lambda q, k, v: am.attention(
            q, k, v, mask=am.causal() if causal else None, **ours),
        "SDPA": lambda q, k, v: sdpa(q, k, v, bias),
        "FlexAttention": lambda q, k, v: flex.flex_attention(
            q, k, v, block_mask=block,
            score_mod=None if bias is None else
            (lambda s, b, h, i, j: s + bias[b, h, i, j])),
    }
    ref = backward_of(
        lambda q, k, v: sdpa(q, k, v, None if bias is None
                             else bias.detach().double()),
        q.double(), k.double(), v.double(), do.double())()
    flops = 2.5 * 4 * batch * heads * seq * seq * dim * (0.5 if causal else 1)
    row = {}
    for name, forward in impls.items():
        try:
            row[name] = timed(backward_of(forward, q, k, v, do), ref, flops,
                              repeats, 1e12)
        except NotImplementedError as e:  # FlexAttention: no CPU backward
            row[name] = str(e).split(".")[0]
    return row


def main():
    parser = shape_parser(__doc__.split("\n")[0], [256, 512, 1024])
    parser.add_argument("--dtype", choices=sorted(TORCH), default="f32")
    parser.add_argument("--masks", nargs="+", default=["dense", "causal"],
                        choices=["dense", "causal", "causal_bias"])
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="flex_attention called without")
    gen = torch.Generator().manual_seed(0)
    names = ["attn-mlir", "SDPA", "FlexAttention"]
    print_header("attention backward", args, args.dtype, names, "TFLOP/s",
                 ["attn-mlir speed vs SDPA",
                  "max rel. err. of dq (ours, SDPA, Flex)"])
    untimed = {}
    for mask in args.masks:
        for seq in args.seq:
            row = point(args.batch, args.heads, seq, args.dim, args.dtype, mask,
                        args.repeats, gen)
            measured = [n for n in names if isinstance(row[n], tuple)]
            cells = [f"{row[n][0] * 1e3:.1f} ({row[n][1]:.3f})"
                     if n in measured else "n/a" for n in names]
            ratio = row["SDPA"][0] / row["attn-mlir"][0]
            errs = ", ".join(f"{row[n][2]:.1e}" if n in measured else "n/a"
                             for n in names)
            print(f"| {mask} | {seq} | " + " | ".join(cells) +
                  f" | {ratio:.2f}x | {errs} |")
            for n in names:
                if not isinstance(row[n], tuple):
                    untimed.setdefault(n, row[n])
    for n, why in untimed.items():
        print(f"\n{n}: n/a ({why}).")


if __name__ == "__main__":
    main()
