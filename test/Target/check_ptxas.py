#!/usr/bin/env python3
"""Compiles every function of every example to PTX for each chip with
attn-translate, assembles it with `ptxas -v`, prints registers, spills and
shared memory per kernel (every kernel of a launch plan: split-KV decoding
has a partials and a merge kernel), and exits 1 if any kernel spills or fails.

  check_ptxas.py --translate attn-translate --ptxas ptxas --examples DIR
"""
import argparse
import concurrent.futures
import os
import pathlib
import re
import subprocess
import sys
import tempfile

# The diagnostics of specs the GPU kernels do not cover (feature maps
# without a per-element form, by design; linear-attention forms and
# approximations not in the GPU kernels yet); any other failure fails the
# check.
CPU_ONLY = ("has no per-element form for the GPU kernel",
            "not in the GPU kernel yet",
            "which no GPU kernel computes yet")


def compile_one(args, spec, entry, chip, tmp):
    ptx = pathlib.Path(tmp) / f"{spec.stem}.{entry}.{chip}.ptx"
    r = subprocess.run([args.translate, spec, "--emit=ptx", "--chip", chip,
                        "--entry", entry, "-o", ptx], capture_output=True,
                       text=True)
    reason = next((m for m in CPU_ONLY if m in r.stderr), None)
    if r.returncode and reason:
        return f"{spec.stem + '.' + entry:40s} {chip}  skipped (CPU only: {reason})", True
    if r.returncode:
        return f"{spec.stem}.{entry} {chip}: attn-translate failed\n{r.stderr}", False
    r = subprocess.run([args.ptxas, "-v", f"-arch={chip}", ptx, "-o", os.devnull],
                       capture_output=True, text=True)
    if r.returncode:
        return f"{spec.stem}.{entry} {chip}: ptxas failed\n{r.stderr}", False
    # One block of ptxas's report per kernel of the launch plan.
    blocks = re.split(r"Compiling entry function '(\w+)'", r.stderr)[1:]
    kernels = list(zip(blocks[0::2], blocks[1::2]))
    results = []
    for kernel, report in kernels:
        name = spec.stem + "." + entry
        if len(kernels) > 1:  # e.g. decode/attention_partials, decode/merge
            name += "/" + kernel.removeprefix(entry + "_")
        regs = re.search(r"Used (\d+) registers", report)
        spill = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", report)
        stores, loads = (int(spill.group(1)), int(spill.group(2))) if spill else (0, 0)
        ok = regs is not None and stores == 0 and loads == 0
        results.append((f"{name:40s} {chip}  registers {regs.group(1) if regs else '?':>3}"
                        f"  spill stores {stores:3d} loads {loads:3d}  {'ok' if ok else 'SPILLS'}",
                        ok))
    if not results:
        return f"{spec.stem}.{entry} {chip}: no kernel in ptxas's report", False
    return "\n".join(line for line, _ in results), all(ok for _, ok in results)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--translate", required=True)
    parser.add_argument("--ptxas", required=True)
    parser.add_argument("--examples", required=True, type=pathlib.Path)
    parser.add_argument("--chips", default="sm_80,sm_90")
    args = parser.parse_args()
    jobs = []
    for spec in sorted(args.examples.glob("*.mlir")):
        for entry in re.findall(r"func\.func\s+@([\w$.]+)", spec.read_text()):
            for chip in args.chips.split(","):
                jobs.append((spec, entry, chip))
    with tempfile.TemporaryDirectory() as tmp, \
            concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        results = list(pool.map(lambda j: compile_one(args, *j, tmp), jobs))
    for line, _ in results:
        print(line)
    lines = [line for text, _ in results for line in text.splitlines()]
    failed = sum(not ok for _, ok in results)
    skipped = sum("skipped" in line for line in lines)
    assembled = sum(" registers " in line for line in lines)
    print(f"{assembled} kernels assembled, {failed} failed or "
          f"spilled, {skipped} CPU-only skipped")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
