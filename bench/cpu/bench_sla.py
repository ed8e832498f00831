#!/usr/bin/env python3
"""Sparse-linear attention (SLA: critical blocks exact, the rest linear) on
the CPU, in one run on the same inputs:

  CUDA_VISIBLE_DEVICES="" PYTHONPATH=build/python python3 bench/cpu/bench_sla.py
  ... --seq 4096 8192 16384 --critical 0.05 0.1 0.2 --repeats 3

1. Time: exact softmax attention (PyTorch SDPA and attn-mlir), the
   critical blocks alone (block-sparse attention), and SLA (the critical
   blocks plus elu + 1 linear attention over the rest, o and o_linear in
   one kernel) at each S and critical fraction. The layout comes from
   attn_mlir.sla_layout (pooled q . k, 64x64 blocks), timed apart.
2. Error against exact softmax attention (relative Frobenius norm of o) on
   smooth random fields: the critical blocks alone, and SLA's
   o + o_linear W with the projection W fitted by least squares to the
   exact output (a stand-in for the projection SLA learns in fine-tuning).
"""
import numpy as np
import torch
import torch.nn.functional as F

import attn_mlir as am
from bench_scatterbrain import inputs, relative_error
from peers import machine, median_s, shape_parser

BLOCK = (64, 64)


def time_table(args, gen):
    print(f"## Time (ms): B={args.batch} H={args.heads} D={args.dim} f32, "
          f"{BLOCK[0]}x{BLOCK[1]} blocks, elu + 1 features")
    names = ["SDPA exact", "attn-mlir exact"]
    for c in args.critical:
        names += [f"{c:.0%} blocks alone", f"SLA {c:.0%}"]
    print("| S | " + " | ".join(names) + " | sla_layout |")
    print("|---|" + "---|" * (len(names) + 1))
    mask = am.block_sparse(BLOCK)
    for s in args.seq:
        q, k, v = inputs(gen, args.batch, args.heads, s, args.dim,
                         args.smoothness, args.scale)
        runs = [lambda: F.scaled_dot_product_attention(q, k, v),
                lambda: am.attention(q, k, v)]
        for c in args.critical:
            layout = am.sla_layout(q, k, block=BLOCK, critical=c)
            runs += [lambda l=layout: am.attention(q, k, v, mask=mask, layout=l),
                     lambda l=layout: am.attention(
                         q, k, v, mask=mask, layout=l,
                         approximation=am.elu_plus_one(), linear_output=True)]
        runs.append(lambda: am.sla_layout(q, k, block=BLOCK,
                                          critical=args.critical[0]))
        times = [median_s(run, args.repeats) * 1e3 for run in runs]
        print(f"| {s} | " + " | ".join(f"{t:.1f}" for t in times) + " |",
              flush=True)


def fitted_error(o, o_linear, exact):
    """min over W [Dv, Dv] of |o + o_linear W - exact| / |exact|, one W for
    all heads (as SLA's projection is shared)."""
    x = o_linear.double().reshape(-1, o.shape[-1]).numpy()
    y = (exact - o).double().reshape(-1, o.shape[-1]).numpy()
    w, *_ = np.linalg.lstsq(x, y, rcond=None)
    fitted = o.double() + torch.from_numpy(x @ w).reshape(o.shape)
    return relative_error(fitted, exact)


def error_table(args, gen):
    s = args.error_seq
    q, k, v = inputs(gen, args.batch, args.heads, s, args.dim,
                     args.smoothness, args.scale)
    exact = am.attention(q, k, v)
    print(f"\n## Error against exact softmax: relative Frobenius norm of o, "
          f"S={s}, B={args.batch} H={args.heads} D={args.dim} f32, smooth "
          f"fields over {args.smoothness} tokens (std {args.scale})")
    print("| critical blocks | blocks alone | SLA, fitted projection |")
    print("|---|---|---|")
    mask = am.block_sparse(BLOCK)
    for c in args.error_critical:
        layout = am.sla_layout(q, k, block=BLOCK, critical=c)
        o, o_linear = am.attention(q, k, v, mask=mask, layout=layout,
                                   approximation=am.elu_plus_one(),
                                   linear_output=True)
        print(f"| {c:.0%} | {relative_error(o, exact):.4f} | "
              f"{fitted_error(o, o_linear, exact):.4f} |", flush=True)


def main():
    parser = shape_parser(__doc__.splitlines()[0], [4096, 8192, 16384])
    parser.set_defaults(heads=4, repeats=3)
    parser.add_argument("--critical", type=float, nargs="+", default=[0.05, 0.2])
    parser.add_argument("--smoothness", type=int, default=64)
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--error-seq", type=int, default=4096)
    parser.add_argument("--error-critical", type=float, nargs="+",
                        default=[0.02, 0.05, 0.1, 0.2, 0.5])
    parser.add_argument("--skip-time", action="store_true")
    args = parser.parse_args()
    gen = torch.Generator().manual_seed(0)
    print(f"# SLA on the CPU ({machine()}), torch {torch.__version__}")
    if not args.skip_time:
        time_table(args, gen)
    error_table(args, gen)


if __name__ == "__main__":
    main()
