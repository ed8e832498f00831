#!/usr/bin/env python3
"""FlexAttention code on the CPU: the same mask_mod / score_mod functions run
through attn_mlir.flex_attention, torch's flex_attention and (where a peer
can express the mask) torch SDPA, in one run, on the same inputs.

  CUDA_VISIBLE_DEVICES="" PYTHONPATH=build/python python3 bench/cpu/bench_flex_peers.py
  ... --seq 1024 2048 --cases dense causal window documents softcap

Each point is the median of --repeats forward calls after a warm-up call
(compilation and block-mask creation are not timed), in GFLOP/s of useful
work: 4 * B * H * D flops per allowed (query, key) pair. Every result is
compared with a float64 SDPA over the same dense mask and scores first.
FlexAttention runs eagerly (torch.compile's CPU path of flex_attention needs
a C++ toolchain at run time and is not what this machine's peers use), so
its numbers are those of its unfused CPU path; SDPA takes the mask as a
boolean tensor where the case has one, and has no score_mod.
"""
import math
import warnings

import torch
import torch.nn.functional as F
from torch.nn.attention import flex_attention as flex

import attn_mlir as am
from peers import print_header, shape_parser, timed


def cases(seq, gen):
    """name -> (mask_mod or None, score_mod or None)."""
    docs = torch.randint(0, 8, (seq,), generator=gen).sort().values
    return {
        "dense": (None, None),
        "causal": (lambda b, h, q, kv: q >= kv, None),
        "window": (lambda b, h, q, kv: (q >= kv) & (q - kv < 256), None),
        "documents": (lambda b, h, q, kv: (docs[q] == docs[kv]) & (q >= kv), None),
        "softcap": (lambda b, h, q, kv: q >= kv,
                    lambda s, b, h, q, kv: 30.0 * torch.tanh(s / 30.0)),
    }


def dense_mask(mask_mod, seq):
    """The [seq, seq] boolean mask of a mask_mod that reads no b or h."""
    if mask_mod is None:
        return None
    idx = torch.arange(seq)
    row = torch.vmap(lambda i, j: mask_mod(0, 0, i, j), in_dims=(None, 0))
    return torch.vmap(row, in_dims=(0, None))(idx, idx)


def point(batch, heads, seq, dim, case, mask_mod, score_mod, repeats, gen):
    q, k, v = (torch.randn(batch, heads, seq, dim, generator=gen)
               for _ in range(3))
    allowed = dense_mask(mask_mod, seq)
    pairs = allowed.sum().item() if allowed is not None else seq * seq
    flops = 4 * batch * heads * dim * pairs
    # float64 reference: SDPA on the dense mask, the score_mod applied to
    # dense scores (softcap only).
    s = q.double() @ k.double().transpose(-1, -2) / math.sqrt(dim)
    if score_mod is not None:
        s = 30.0 * torch.tanh(s / 30.0)
    if allowed is not None:
        s = s.masked_fill(~allowed, -math.inf)
    ref = torch.softmax(s, -1) @ v.double()

    ours_mask = (am.create_block_mask(mask_mod, None, None, seq, seq)
                 if mask_mod else None)
    theirs_mask = (flex.create_block_mask(mask_mod, None, None, seq, seq,
                                          device="cpu") if mask_mod else None)
    impls = {
        "attn-mlir": lambda: am.flex_attention(q, k, v, score_mod=score_mod,
                                               block_mask=ours_mask),
        "FlexAttention": lambda: flex.flex_attention(
            q, k, v, score_mod=score_mod, block_mask=theirs_mask),
    }
    if score_mod is None:
        impls["SDPA"] = lambda: F.scaled_dot_product_attention(
            q, k, v, attn_mask=allowed)
    return {name: timed(run, ref, flops, repeats, 1e9)
            for name, run in impls.items()}


def main():
    parser = shape_parser(__doc__.split("\n")[0], [1024, 2048])
    parser.add_argument("--cases", nargs="+",
                        default=["dense", "causal", "window", "documents",
                                 "softcap"])
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="flex_attention called without")
    gen = torch.Generator().manual_seed(0)
    names = ["attn-mlir", "FlexAttention", "SDPA"]
    print_header("forward", args, "f32", names, "GFLOP/s",
                 ["attn-mlir speed vs FlexAttention", "vs SDPA",
                  "max rel. err. (ours, Flex, SDPA)"])
    for seq in args.seq:
        table = cases(seq, gen)
        for case in args.cases:
            mask_mod, score_mod = table[case]
            row = point(args.batch, args.heads, seq, args.dim, case, mask_mod,
                        score_mod, args.repeats, gen)
            cells = [f"{row[n][0] * 1e3:.1f} ({row[n][1]:.1f})" if n in row
                     else "n/a" for n in names]
            ours = row["attn-mlir"][0]
            vs = [f"{row[n][0] / ours:.2f}x" if n in row else "n/a"
                  for n in ("FlexAttention", "SDPA")]
            errs = ", ".join(f"{row[n][2]:.1e}" if n in row else "n/a"
                             for n in names)
            print(f"| {case} | {seq} | " + " | ".join(cells) + " | "
                  + " | ".join(vs) + f" | {errs} |")


if __name__ == "__main__":
    main()
