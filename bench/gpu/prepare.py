#!/usr/bin/env python3
"""Compiles the GPU benchmark kernels (bf16, B=2, H=16, S=8192, D=64 and 128)
on the development machine into .device/bench; bench/gpu/bench.py times them
on the GPU against PyTorch SDPA (flash, cuDNN) and FlexAttention.

  bench/gpu/prepare.py [--build build] [--out .device] [--chip sm_90]
"""
import argparse
import json
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
B, H, S = 2, 16, 8192
# name -> (mask attribute, extra operands clause, extra arguments)
MASKS = {
    "dense": ("", "", ""),
    "causal": ("mask(#attn.causal)", "", ""),
    "causal_window_1024": ("mask(#attn.window<left = 1023, right = 0>)", "", ""),
    "documents_4": ("mask(#attn.document)",
                    "segments(%q_ids, %kv_ids : tensor<{B}x{S}xi32>, tensor<{B}x{S}xi32>)",
                    ", %q_ids: tensor<{B}x{S}xi32>, %kv_ids: tensor<{B}x{S}xi32>"),
    "neighborhood_13x13_on_128x64": (
        "mask(#attn.neighborhood<grid = [128, 64], kernel = [13, 13]>)", "", ""),
}


def spec(mask, operands, extra, d):
    t = f"tensor<{B}x{H}x{S}x{d}xbf16>"
    fmt = lambda s: s.format(B=B, S=S)
    return (f"func.func @bench(%q: {t}, %k: {t}, %v: {t}{fmt(extra)}) -> {t} {{\n"
            f"  %o = attn.attention %q, %k, %v {fmt(operands)} {mask}\n"
            f"      : {t}, {t}, {t} -> {t}\n"
            f"  return %o : {t}\n}}\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=ROOT / "build", type=pathlib.Path)
    parser.add_argument("--out", default=ROOT / ".device", type=pathlib.Path)
    parser.add_argument("--chip", default="sm_90")
    parser.add_argument("--warps", default="4")
    parser.add_argument("--tile-kv", default="64")
    args = parser.parse_args()
    out = args.out / "bench"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copy(args.build / "lib" / "libattn_runtime.so", args.out)
    cases = []
    for d in (64, 128):
        for name, (mask, operands, extra) in MASKS.items():
            case = f"{name}.d{d}"
            (out / f"{case}.mlir").write_text(spec(mask, operands, extra, d))
            cmd = [args.build / "bin" / "attn-translate", out / f"{case}.mlir",
                   "--emit=cubin", "--chip", args.chip, "--warps", args.warps,
                   "--tile-kv", args.tile_kv, "-o", out / f"{case}.cubin",
                   "--manifest", out / f"{case}.json"]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode:
                sys.exit(r.stderr)
            ptxas = subprocess.run(
                [args.build / "bin" / "attn-translate", out / f"{case}.mlir",
                 "--emit=ptx", "--chip", args.chip, "--warps", args.warps,
                 "--tile-kv", args.tile_kv, "-o", out / f"{case}.ptx"],
                capture_output=True, text=True)
            if ptxas.returncode:
                sys.exit(ptxas.stderr)
            usage = subprocess.run(
                ["/usr/local/cuda/bin/ptxas", "-v", f"-arch={args.chip}",
                 out / f"{case}.ptx", "-o", "/dev/null"],
                capture_output=True, text=True).stderr
            (out / f"{case}.ptx").unlink()
            cases.append({"name": name, "d": d, "image": f"{case}.cubin",
                          "manifest": f"{case}.json", "ptxas": usage.strip()})
    (out / "cases.json").write_text(json.dumps(cases, indent=1))
    print(f"prepared {len(cases)} benchmark kernels in {out}")


if __name__ == "__main__":
    main()
