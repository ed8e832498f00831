#!/usr/bin/env python3
"""Context parallelism: ring attention, all-to-all over heads (Ulysses) and
LASP-2 against the one-device kernel on the whole sequence, in one run.

Prints, per method and mask: the time of one forward (the slowest rank, the
median of --repeats), the one-device time, the blocks (query piece x key
piece) the mask left empty and skipped, and the bytes all ranks sent.

  CPU (gloo, processes on one machine):
    python3 bench/distributed/bench_context_parallel.py --world 4 --seq 4096
  GPUs (NCCL, one process per GPU):
    python3 bench/distributed/bench_context_parallel.py --backend nccl \\
        --world 8 --seq 131072 --seq 1048576 --dtype bf16
"""
import argparse
import os
import socket
import statistics
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import attn_mlir as am

MASKS = {
    "dense": lambda: (None, ()),
    "causal": lambda: (am.causal(), ()),
    "window 1024 + 4 sinks": lambda: (am.window(1024, 0) | am.sinks(4), ()),
    "documents (8) + causal": lambda: (am.document() & am.causal(), ()),
    "causal + alibi": lambda: (am.causal(), (am.alibi(),)),
    "causal + softcap": lambda: (am.causal(), (am.softcap(30.0),)),
}


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn, repeats, device, group=None):
    """The median over repeats of the slowest rank's time, in ms."""
    fn()  # compile and warm up
    times = []
    for _ in range(repeats):
        dist.barrier(group)
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        elapsed = torch.tensor([time.perf_counter() - start])
        dist.all_reduce(elapsed, op=dist.ReduceOp.MAX, group=group)
        times.append(elapsed.item() * 1e3)
    return statistics.median(times)


def _documents(seq, count, device):
    cuts = torch.linspace(0, seq, count + 1)[1:-1].long()
    return (torch.arange(seq)[:, None] >= cuts[None, :]).sum(1).to(
        torch.int32).to(device)[None]


def _worker(rank, args, port, results):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group(args.backend, rank=rank, world_size=args.world)
    device = (torch.device("cuda", rank) if args.backend == "nccl"
              else torch.device("cpu"))
    if device.type == "cpu":
        torch.set_num_threads(max(1, os.cpu_count() // args.world))
    dtype = {"f32": torch.float32, "bf16": torch.bfloat16,
             "f16": torch.float16}[args.dtype]
    rows = []
    for seq in args.seq:
        g = torch.Generator().manual_seed(seq)
        shape = (1, args.heads, seq, args.dim)
        q, k, v = (torch.randn(shape, generator=g).to(dtype).to(device)
                   for _ in range(3))
        n = seq // args.world
        mine = slice(rank * n, (rank + 1) * n)
        shard = [x[:, :, mine].contiguous() for x in (q, k, v)]
        segments = _documents(seq, 8, device)
        for name, make in MASKS.items():
            mask, mods = make()
            documents = mask is not None and "document" in mask.attr()
            whole = ({"q_segments": segments, "kv_segments": segments}
                     if documents else {})
            # The one-device time: rank 0 alone, the others waiting.
            one = None
            if rank == 0 and seq <= args.max_one_device:
                one = statistics.median(
                    _time_alone(lambda: am.attention(q, k, v, mask=mask,
                                                     score_mods=mods, **whole),
                                args.repeats, device))
            dist.barrier()
            for layout in ("contiguous", "zigzag"):
                if layout == "zigzag":
                    rows_z = _zigzag(seq, args.world, rank)
                    local = [x[:, :, rows_z].contiguous() for x in (q, k, v)]
                    local_segments = segments[:, rows_z].contiguous()
                else:
                    local, local_segments = shard, segments[:, mine]
                ms = _time(lambda: am.distributed.ring_attention(
                    *local, mask=mask, score_mods=mods, layout=layout,
                    segments=local_segments if documents else None),
                    args.repeats, device)
                stats = am.distributed.last_stats["forward"]
                counts = torch.tensor([stats.skipped, stats.full,
                                       stats.partial, stats.bytes_sent])
                dist.all_reduce(counts)
                rows.append(("ring " + layout, name, seq, ms, one,
                             *counts.tolist()))
            if args.heads % args.world == 0 and "alibi" not in name:
                ms = _time(lambda: am.distributed.ulysses_attention(
                    *shard, mask=mask, score_mods=mods,
                    segments=segments[:, mine] if documents else None),
                    args.repeats, device)
                rows.append(("ulysses", name, seq, ms, one, 0, 0, 0,
                             _bytes_sent("ulysses")))
        decay = torch.full((args.heads,), 0.99, device=device)
        with torch.no_grad():
            ms = _time(lambda: am.distributed.lasp2_linear_attention(
                *shard, feature_map=am.identity(), decay=decay,
                normalize=False), args.repeats, device)
            one = None
            if rank == 0 and seq <= args.max_one_device:
                one = statistics.median(_time_alone(
                    lambda: am.linear_attention(q, k, v,
                                                feature_map=am.identity(),
                                                causal=True, decay=decay,
                                                normalize=False),
                    args.repeats, device))
            dist.barrier()
        rows.append(("lasp2", "retention", seq, ms, one, 0, 0, 0,
                     _bytes_sent("lasp2")))
    if rank == 0:
        results.extend(rows)
    dist.destroy_process_group()


def _bytes_sent(method):
    """The bytes every rank sent in its last call of ``method``."""
    sent = torch.tensor([am.distributed.last_stats[method].bytes_sent])
    dist.all_reduce(sent)
    return sent.item()


def _time_alone(fn, repeats, device):
    fn()
    out = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        out.append((time.perf_counter() - start) * 1e3)
    return out


def _zigzag(seq, world, rank):
    chunk = seq // (2 * world)
    first = torch.arange(rank * chunk, (rank + 1) * chunk)
    last = torch.arange((2 * world - 1 - rank) * chunk,
                        (2 * world - rank) * chunk)
    return torch.cat([first, last])


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", type=int, default=4)
    parser.add_argument("--backend", choices=("gloo", "nccl"), default="gloo")
    parser.add_argument("--seq", type=int, action="append")
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--dtype", choices=("f32", "bf16", "f16"), default="f32")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-one-device", type=int, default=1 << 20,
                        help="longest sequence also timed on one device")
    args = parser.parse_args()
    args.seq = args.seq or [4096]
    for s in args.seq:
        if s % (2 * args.world):
            parser.error(f"--seq {s} must be a multiple of 2 x --world")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    results = mp.Manager().list()
    mp.spawn(_worker, args=(args, port, results), nprocs=args.world, join=True)
    device = "CPU processes (gloo)" if args.backend == "gloo" else "GPUs (NCCL)"
    print(f"# {time.strftime('%Y-%m-%d')}, {args.world} {device}, B=1, "
          f"H={args.heads}, D={args.dim}, {args.dtype}")
    print(f"{'method':<17} {'mask':<24} {'S':>8} {'ms':>9} {'one dev':>9} "
          f"{'speedup':>7} {'skipped':>7} {'full':>5} {'partial':>7} "
          f"{'MB sent':>9}")
    for method, mask, seq, ms, one, skipped, full, partial, sent in results:
        speed = f"{one / ms:7.2f}" if one else "      -"
        one_text = f"{one:9.1f}" if one else "        -"
        print(f"{method:<17} {mask:<24} {seq:>8} {ms:9.1f} {one_text} {speed} "
              f"{skipped:>7} {full:>5} {partial:>7} {sent / 1e6:9.2f}")


if __name__ == "__main__":
    main()
