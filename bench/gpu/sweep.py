#!/usr/bin/env python3
"""Times our benchmark kernels only, for several compile configurations
(bundles made by bench/gpu/prepare.py --out DIR --warps W --tile-kv T), to
choose the defaults. Correctness is bench.py's job.

  python3 bench/gpu/sweep.py .device/w4t64 .device/w8t64 ...
"""
import json
import pathlib
import sys

import triton.testing

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "test" / "gpu"))
from check import Runtime  # noqa: E402
from bench import document_ids, load_case  # noqa: E402


def main():
    docs = document_ids()
    results = {}
    for bundle in map(pathlib.Path, sys.argv[1:]):
        runtime = Runtime(bundle / "libattn_runtime.so")
        for case in json.loads((bundle / "bench" / "cases.json").read_text()):
            d = case["d"]
            *_, run = load_case(runtime, bundle, case, docs)
            ms = triton.testing.do_bench(run, warmup=25, rep=100, return_mode="median")
            regs = case["ptxas"].splitlines()[-2].split("Used")[1].split(",")[0]
            results.setdefault((case["name"], d), {})[bundle.name] = f"{ms:.3f} ({regs.strip()})"
    names = [pathlib.Path(b).name for b in sys.argv[1:]]
    print("| mask | D | " + " | ".join(names) + " |")
    for (name, d), row in results.items():
        print(f"| {name} | {d} | " + " | ".join(row.get(n, "-") for n in names) + " |")


if __name__ == "__main__":
    main()
