#!/usr/bin/env python3
"""Sparse + low-rank attention (Scatterbrain: a window exact, FAVOR+
elsewhere) on the CPU, in one run on the same inputs:

  CUDA_VISIBLE_DEVICES="" PYTHONPATH=build/python python3 bench/cpu/bench_scatterbrain.py
  ... --seq 4096 8192 16384 --window 64 --features 64 256 --repeats 3

1. Time: exact softmax attention (PyTorch SDPA and attn-mlir, no mask),
   the window alone, and the window plus FAVOR+ with m features, at each
   S. The hybrid's cost is the window's plus one linear attention, so it
   grows as S (w + m) instead of S^2.
2. Error against exact softmax attention (relative Frobenius norm of o),
   on data with local structure (queries and keys are smooth random fields
   along the sequence, so attention concentrates near the diagonal but
   keeps a long tail), as the window and the number of features grow: the
   window alone drops the tail, FAVOR+ alone is noisy, the hybrid is
   better than both, the more so the more features (the trade-off the
   Scatterbrain paper reports).
"""
import numpy as np
import torch
import torch.nn.functional as F

import attn_mlir as am
from peers import machine, median_s, shape_parser


def smooth_field(gen, b, h, s, d, length, scale):
    """A random field along the sequence, smooth over ``length`` tokens
    (white noise averaged by a moving window), with element std ``scale``."""
    noise = torch.randn(b * h * d, 1, s + length - 1, generator=gen,
                        dtype=torch.float64)
    kernel = torch.ones(1, 1, length, dtype=torch.float64) / length ** 0.5
    field = F.conv1d(noise, kernel).reshape(b, h, d, s).transpose(-1, -2)
    return (scale * field).float().contiguous()


def inputs(gen, b, h, s, d, length, scale):
    q = smooth_field(gen, b, h, s, d, length, scale)
    # Keys near their query in position are near it in value: attention is
    # local, with the tail a window drops.
    k = q + 0.3 * scale * torch.randn(b, h, s, d, generator=gen)
    v = torch.randn(b, h, s, d, generator=gen)
    return q, k, v


def relative_error(o, ref):
    o, ref = o.double(), ref.double()
    return ((o - ref).norm() / ref.norm()).item()


def time_table(args, gen):
    print(f"## Time (ms): B={args.batch} H={args.heads} D={args.dim} f32, "
          f"window {args.window} each side, FAVOR+ seed 1")
    names = ["SDPA exact", "attn-mlir exact", "window alone"] + [
        f"window + {m} features" for m in args.features]
    print("| S | " + " | ".join(names) + " | hybrid / exact |")
    print("|---|" + "---|" * (len(names) + 1))
    window = am.window(args.window, args.window)
    for s in args.seq:
        q, k, v = inputs(gen, args.batch, args.heads, s, args.dim,
                         args.smoothness, args.scales[0])
        runs = [lambda: F.scaled_dot_product_attention(q, k, v),
                lambda: am.attention(q, k, v),
                lambda: am.attention(q, k, v, mask=window)]
        runs += [lambda m=m: am.attention(q, k, v, mask=window,
                                          approximation=am.favor(m, seed=1))
                 for m in args.features]
        times = [median_s(run, args.repeats) * 1e3 for run in runs]
        print(f"| {s} | " + " | ".join(f"{t:.1f}" for t in times)
              + f" | {times[-1] / times[1]:.2f} |", flush=True)


def error_table(args, gen, scale):
    s = args.error_seq
    q, k, v = inputs(gen, args.batch, args.heads, s, args.dim,
                     args.smoothness, scale)
    exact = am.attention(q, k, v)
    print(f"\n## Error against exact softmax: relative Frobenius norm of o, "
          f"S={s}, B={args.batch} H={args.heads} D={args.dim} f32, smooth "
          f"fields over {args.smoothness} tokens (std {scale}); the "
          f"mean over {args.trials} FAVOR+ seeds")
    print("| window (each side) | window alone | "
          + " | ".join(f"+ {m} features" for m in args.error_features)
          + " | FAVOR+ alone, most features |")
    print("|---|---|" + "---|" * (len(args.error_features) + 1))
    # FAVOR+ alone: a linear attention over all keys with the same map.
    most = args.error_features[-1]
    alone = np.mean([relative_error(am.linear_attention(
        q, k, v, feature_map=am.favor(most, seed=t), scale=1.0), exact)
        for t in range(args.trials)])
    for w in args.error_windows:
        mask = am.window(w, w)
        row = [relative_error(am.attention(q, k, v, mask=mask), exact)]
        for m in args.error_features:
            row.append(np.mean([relative_error(am.attention(
                q, k, v, mask=mask, approximation=am.favor(m, seed=t)), exact)
                for t in range(args.trials)]))
        print(f"| {w} | " + " | ".join(f"{e:.4f}" for e in row)
              + f" | {alone:.4f} |", flush=True)


def main():
    parser = shape_parser(__doc__.splitlines()[0], [4096, 8192, 16384])
    parser.set_defaults(heads=4, repeats=3)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--features", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--smoothness", type=int, default=64)
    # The element std of q and k: small gives diffuse attention (the tail
    # outweighs the window), large peaked attention (but FAVOR+'s variance
    # grows as exp |q' + k'|^2).
    parser.add_argument("--scales", type=float, nargs="+", default=[0.35, 0.7])
    parser.add_argument("--error-seq", type=int, default=4096)
    parser.add_argument("--error-windows", type=int, nargs="+",
                        default=[16, 64, 256])
    parser.add_argument("--error-features", type=int, nargs="+",
                        default=[16, 64, 256, 1024])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--skip-time", action="store_true")
    args = parser.parse_args()
    gen = torch.Generator().manual_seed(0)
    print(f"# Scatterbrain on the CPU ({machine()}), torch {torch.__version__}")
    if not args.skip_time:
        time_table(args, gen)
    for scale in args.scales:
        error_table(args, gen, scale)


if __name__ == "__main__":
    main()
