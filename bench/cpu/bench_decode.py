#!/usr/bin/env python3
"""Paged decoding on the CPU: attn_mlir.paged_attention against PyTorch SDPA
on a gathered (dense) cache, in one run, on the same inputs.

  CUDA_VISIBLE_DEVICES="" PYTHONPATH=build/python python3 bench/cpu/bench_decode.py
  ... --batch 8 16 --kv-len 1024 4096 --dtype f32 --max-gb 2

One query per sequence (Sq = 1), Hq = 32, Hkv = 8, D = 128, pages of 16 keys
shuffled in the pool. SDPA is timed on a cache already gathered into
[B, Hkv, Skv, D]; the gather (what a paged cache costs SDPA) is timed on
its own. Decoding reads every key and value once per token, so the table
gives the median time per call (us), the K/V bytes read per second
(2 * B * Hkv * Skv * D * element size / time) and attn-mlir's time over
SDPA's. Points whose cache exceeds --max-gb (the pool and its dense copy
both live in memory) are skipped and listed.
"""
import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

import attn_mlir as am
from peers import machine

HQ, HKV, D, PAGE = 32, 8, 128, 16
TORCH = {"f32": torch.float32, "bf16": torch.bfloat16}


def median_us(fn, repeats, budget_s):
    """Median wall time of `fn` in us, after one warm-up call; fewer than
    `repeats` runs when they would exceed `budget_s`."""
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < repeats and (len(times) < 3 or
                                    time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def relative_error(got, ref):
    got, ref = got.double(), ref.double()
    return ((got - ref).abs().max() / ref.abs().max()).item()


def point(b, s, dtype, repeats, budget_s, gen):
    pages_per_seq = -(-s // PAGE)
    pages = b * pages_per_seq
    t = TORCH[dtype]
    q = torch.randn(b, HQ, 1, D, generator=gen).to(t)
    k_pool = torch.randn(pages, PAGE, HKV, D, generator=gen).to(t)
    v_pool = torch.randn(pages, PAGE, HKV, D, generator=gen).to(t)
    table = torch.randperm(pages, generator=gen).reshape(b, pages_per_seq).int()
    lens = torch.full((b,), s, dtype=torch.int32)
    kernel = am.compile(am.Spec(heads=HQ, kv_heads=HKV, head_dim=D, dtype=dtype,
                                q_len=1, key_form="paged", page_size=PAGE))

    def gather(pool):  # [B, Hkv, Skv, D], what SDPA needs
        return pool[table.long()].reshape(b, pages_per_seq * PAGE, HKV, D)[
            :, :s].transpose(1, 2).contiguous()

    k, v = gather(k_pool), gather(v_pool)
    ours = kernel(q, k_pool, v_pool, table, lens)
    theirs = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    err = relative_error(ours, theirs)
    times = {
        "attn-mlir": median_us(lambda: kernel(q, k_pool, v_pool, table, lens),
                               repeats, budget_s),
        "SDPA": median_us(lambda: F.scaled_dot_product_attention(
            q, k, v, enable_gqa=True), repeats, budget_s),
        "gather": median_us(lambda: (gather(k_pool), gather(v_pool)), repeats,
                            budget_s),
    }
    return err, times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--kv-len", type=int, nargs="+",
                        default=[1024, 4096, 16384, 32768])
    parser.add_argument("--dtype", choices=sorted(TORCH), default="bf16")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--budget", type=float, default=5.0,
                        help="seconds of timed runs per measurement at most")
    parser.add_argument("--max-gb", type=float, default=2.0,
                        help="largest K/V cache (GB) a point may use")
    args = parser.parse_args()
    gen = torch.Generator().manual_seed(0)
    size = torch.tensor([], dtype=TORCH[args.dtype]).element_size()
    rows, skipped = [], []
    for b in args.batch:
        for s in args.kv_len:
            kv_bytes = 2 * b * HKV * s * D * size
            if kv_bytes > args.max_gb * 1e9:
                skipped.append(f"B={b} Skv={s} ({kv_bytes / 1e9:.1f} GB)")
                continue
            err, times = point(b, s, args.dtype, args.repeats, args.budget, gen)
            rows.append((b, s, kv_bytes, err, times))
            print(f"B={b} Skv={s}: " + ", ".join(
                f"{k} {v:.0f} us" for k, v in times.items()), flush=True)

    print(f"\n{time.strftime('%Y-%m-%d')}, {machine()}, {args.dtype} paged decoding, "
          f"Hq={HQ} Hkv={HKV} D={D} Sq=1, pages of {PAGE}; median us / GB/s of K/V read")
    print("| B | Skv | attn-mlir | SDPA (dense cache) | attn-mlir / SDPA | "
          "gather for SDPA (us) | rel. err vs SDPA |")
    print("|---" * 7 + "|")
    for b, s, kv_bytes, err, times in rows:
        rate = lambda us: kv_bytes / (us * 1e-6) / 1e9
        ours, sdpa = times["attn-mlir"], times["SDPA"]
        print(f"| {b} | {s} | {ours:.0f} / {rate(ours):.1f} | "
              f"{sdpa:.0f} / {rate(sdpa):.1f} | {ours / sdpa:.2f} | "
              f"{times['gather']:.0f} | {err:.1e} |")
    if skipped:
        print(f"skipped (over --max-gb {args.max_gb}): {', '.join(skipped)}")


if __name__ == "__main__":
    main()
