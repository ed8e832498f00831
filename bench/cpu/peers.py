"""What the CPU peer benchmarks share: timing, error against a float64
reference, and the shape arguments."""
import argparse
import statistics
import time


def median_s(fn, repeats):
    """The median time of ``repeats`` calls of ``fn`` after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def timed(run, ref, flops, repeats, unit):
    """(seconds, flops per second in ``unit``, max relative error against
    ``ref``) of ``run``, whose result is compared first."""
    out = run()
    err = ((out.double() - ref).abs().max() / ref.abs().max()).item()
    seconds = median_s(run, repeats)
    return seconds, flops / seconds / unit, err


def shape_parser(description, seq):
    """An argument parser with --batch, --heads, --dim, --seq and --repeats."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--seq", type=int, nargs="+", default=seq)
    parser.add_argument("--repeats", type=int, default=5)
    return parser


def machine():
    """The CPU and the threads torch uses, e.g. "x86_64, 2 threads"."""
    import platform

    import torch
    return (f"{platform.processor() or platform.machine()}, "
            f"{torch.get_num_threads()} threads")


def print_header(title, args, dtype, names, unit, extra):
    """The machine line and the table head: a time (and rate in ``unit``)
    column per implementation in ``names``, then the ``extra`` columns."""
    import torch
    print(f"# {title}, CPU ({machine()}), {dtype}, B={args.batch} "
          f"H={args.heads} D={args.dim}, torch {torch.__version__}")
    print("| case | S | " + " | ".join(f"{n} ms ({unit})" for n in names)
          + "".join(f" | {e}" for e in extra) + " |")
    print("|---|---|" + "---|" * (len(names) + len(extra)))
