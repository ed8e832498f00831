#!/usr/bin/env python3
"""Times our benchmark kernels only, for several compile configurations
(bundles made by bench/gpu/prepare.py --out DIR --warps W --tile-kv T), to
choose the defaults. Correctness is bench.py's job.

  python3 bench/gpu/sweep.py .device/w4t64 .device/w8t64 ...
"""
import json
import pathlib
import sys

import torch
import triton.testing

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "test" / "gpu"))
from check import Runtime  # noqa: E402

B, H, S = 2, 16, 8192


def main():
    docs = (torch.arange(S, device="cuda") * 4 // S).int().expand(B, S).contiguous()
    results = {}
    for bundle in map(pathlib.Path, sys.argv[1:]):
        runtime = Runtime(bundle / "libattn_runtime.so")
        for case in json.loads((bundle / "bench" / "cases.json").read_text()):
            d = case["d"]
            q, k, v = (torch.randn(B, H, S, d, device="cuda", dtype=torch.bfloat16)
                       for _ in range(3))
            o = torch.empty_like(q)
            kernel = runtime.load(bundle / "bench" / case["image"],
                                  bundle / "bench" / case["manifest"])
            inputs = [q, k, v] + ([docs, docs] if case["name"] == "documents_4" else [])
            run = kernel.prepare(inputs, [o])
            ms = triton.testing.do_bench(run, warmup=25, rep=100, return_mode="median")
            regs = case["ptxas"].splitlines()[-2].split("Used")[1].split(",")[0]
            results.setdefault((case["name"], d), {})[bundle.name] = f"{ms:.3f} ({regs.strip()})"
    names = [pathlib.Path(b).name for b in sys.argv[1:]]
    print("| mask | D | " + " | ".join(names) + " |")
    for (name, d), row in results.items():
        print(f"| {name} | {d} | " + " | ".join(row.get(n, "-") for n in names) + " |")


if __name__ == "__main__":
    main()
