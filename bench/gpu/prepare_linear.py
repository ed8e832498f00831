#!/usr/bin/env python3
"""Compiles the linear attention benchmark kernels (bf16, B=1, H=16,
D=Dv=64, causal) for several lengths into .device/bench_linear;
bench/gpu/bench_linear.py times them on the GPU against a PyTorch
implementation of the same chunked algorithm and against softmax attention
(SDPA flash) on the same shapes.

  bench/gpu/prepare_linear.py [--build build] [--out .device] [--chip sm_90]
"""
import argparse
import json
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
B, H, D = 1, 16, 64
LENGTHS = (1024, 4096, 16384, 65536)
# name -> (feature map, extra clauses, extra arguments)
VARIANTS = {
    "elu_plus_one": ("#attn.elu_plus_one", "", ""),
    "retnet_decay": ("#attn.relu",
                     "decay(%gamma : tensor<{H}xf32>) normalization(none)",
                     ", %gamma: tensor<{H}xf32>"),
}


def spec(feature_map, clauses, extra, s):
    t = f"tensor<{B}x{H}x{s}x{D}xbf16>"
    fmt = lambda x: x.format(H=H)
    return (f"func.func @bench(%q: {t}, %k: {t}, %v: {t}{fmt(extra)}) -> {t} {{\n"
            f"  %o = attn.linear_attention %q, %k, %v feature_map({feature_map})"
            f" causal {fmt(clauses)}\n"
            f"      : {t}, {t}, {t} -> {t}\n"
            f"  return %o : {t}\n}}\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=ROOT / "build", type=pathlib.Path)
    parser.add_argument("--out", default=ROOT / ".device", type=pathlib.Path)
    parser.add_argument("--chip", default="sm_90")
    parser.add_argument("--warps", default="4")
    args = parser.parse_args()
    out = args.out / "bench_linear"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copy(args.build / "lib" / "libattn_runtime.so", args.out)
    cases = []
    for name, (feature_map, clauses, extra) in VARIANTS.items():
        for s in LENGTHS:
            case = f"{name}.s{s}"
            (out / f"{case}.mlir").write_text(spec(feature_map, clauses, extra, s))
            r = subprocess.run(
                [args.build / "bin" / "attn-translate", out / f"{case}.mlir",
                 "--emit=cubin", "--chip", args.chip, "--warps", args.warps,
                 "-o", out / f"{case}.cubin", "--manifest", out / f"{case}.json"],
                capture_output=True, text=True)
            if r.returncode:
                sys.exit(r.stderr)
            cases.append({"name": name, "s": s, "image": f"{case}.cubin",
                          "manifest": f"{case}.json"})
    (out / "cases.json").write_text(json.dumps(cases, indent=1))
    print(f"prepared {len(cases)} linear attention kernels in {out}")


if __name__ == "__main__":
    main()
