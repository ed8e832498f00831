#!/usr/bin/env python3
"""Compiles the GPU benchmark kernels on the development machine:
  * .device/bench: attention (bf16, B=2, H=16, S=8192, D=64 and 128) that
    bench/gpu/bench.py times against PyTorch SDPA (flash, cuDNN) and
    FlexAttention;
  * .device/bench_linear: causal linear attention (bf16, B=1, H=16,
    D=Dv=64, S from 1024 to 65536) that bench/gpu/bench_linear.py times
    against a PyTorch implementation of the same chunked algorithm and
    softmax attention;
  * .device/bench_decode: decoding (bf16, B=8, Hq=32, Hkv=8, D=128, Sq=1,
    Skv from 1024 to 65536, split-KV) that bench/gpu/bench_decode.py times
    against SDPA and FlexAttention's decoding path.

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


# Linear attention: name -> (feature map, extra clauses, extra arguments).
LINEAR_B, LINEAR_H, LINEAR_D = 1, 16, 64
LINEAR_LENGTHS = (1024, 4096, 16384, 65536)
LINEAR = {
    "elu_plus_one": ("#attn.elu_plus_one", "", ""),
    "retnet_decay": ("#attn.relu",
                     "decay(%gamma : tensor<{H}xf32>) normalization(none)",
                     ", %gamma: tensor<{H}xf32>"),
}


# Decoding: one new token per sequence against a KV cache (GQA 4:1).
DECODE_B, DECODE_HQ, DECODE_HKV, DECODE_D = 8, 32, 8, 128
DECODE_LENGTHS = (1024, 2048, 4096, 8192, 16384, 32768, 65536)


def decode_spec(s):
    q = f"tensor<{DECODE_B}x{DECODE_HQ}x1x{DECODE_D}xbf16>"
    kv = f"tensor<{DECODE_B}x{DECODE_HKV}x{s}x{DECODE_D}xbf16>"
    return (f"func.func @bench(%q: {q}, %k: {kv}, %v: {kv}) -> {q} {{\n"
            f"  %o = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>)\n"
            f"      : {q}, {kv}, {kv} -> {q}\n"
            f"  return %o : {q}\n}}\n")


def linear_spec(feature_map, clauses, extra, s):
    t = f"tensor<{LINEAR_B}x{LINEAR_H}x{s}x{LINEAR_D}xbf16>"
    fmt = lambda x: x.format(H=LINEAR_H)
    return (f"func.func @bench(%q: {t}, %k: {t}, %v: {t}{fmt(extra)}) -> {t} {{\n"
            f"  %o = attn.linear_attention %q, %k, %v feature_map({feature_map})"
            f" causal {fmt(clauses)}\n"
            f"      : {t}, {t}, {t} -> {t}\n"
            f"  return %o : {t}\n}}\n")


def spec(mask, operands, extra, d):
    t = f"tensor<{B}x{H}x{S}x{d}xbf16>"
    fmt = lambda s: s.format(B=B, S=S)
    return (f"func.func @bench(%q: {t}, %k: {t}, %v: {t}{fmt(extra)}) -> {t} {{\n"
            f"  %o = attn.attention %q, %k, %v {fmt(operands)} {mask}\n"
            f"      : {t}, {t}, {t} -> {t}\n"
            f"  return %o : {t}\n}}\n")


def compile_case(args, out, case, text):
    """The cubin and manifest of one spec; returns ptxas's report."""
    (out / f"{case}.mlir").write_text(text)
    flags = ["--chip", args.chip, "--warps", args.warps, "--tile-kv", args.tile_kv]
    translate = [args.build / "bin" / "attn-translate", out / f"{case}.mlir"]
    for emit, extra in (("cubin", ["--manifest", out / f"{case}.json"]), ("ptx", [])):
        r = subprocess.run(translate + [f"--emit={emit}", "-o", out / f"{case}.{emit}"]
                           + flags + extra, capture_output=True, text=True)
        if r.returncode:
            sys.exit(r.stderr)
    usage = subprocess.run(
        ["/usr/local/cuda/bin/ptxas", "-v", f"-arch={args.chip}",
         out / f"{case}.ptx", "-o", "/dev/null"], capture_output=True, text=True).stderr
    (out / f"{case}.ptx").unlink()
    return usage.strip()


def fresh(path):
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=ROOT / "build", type=pathlib.Path)
    parser.add_argument("--out", default=ROOT / ".device", type=pathlib.Path)
    parser.add_argument("--chip", default="sm_90")
    parser.add_argument("--warps", default="4")
    parser.add_argument("--tile-kv", default="64")
    args = parser.parse_args()
    shutil.copy(args.build / "lib" / "libattn_runtime.so", args.out)

    out = fresh(args.out / "bench")
    cases = []
    for d in (64, 128):
        for name, (mask, operands, extra) in MASKS.items():
            case = f"{name}.d{d}"
            usage = compile_case(args, out, case, spec(mask, operands, extra, d))
            cases.append({"name": name, "d": d, "image": f"{case}.cubin",
                          "manifest": f"{case}.json", "ptxas": usage})
    (out / "cases.json").write_text(json.dumps(cases, indent=1))
    print(f"prepared {len(cases)} benchmark kernels in {out}")

    out = fresh(args.out / "bench_linear")
    cases = []
    for name, (feature_map, clauses, extra) in LINEAR.items():
        for s in LINEAR_LENGTHS:
            case = f"{name}.s{s}"
            usage = compile_case(args, out, case,
                                 linear_spec(feature_map, clauses, extra, s))
            cases.append({"name": name, "s": s, "image": f"{case}.cubin",
                          "manifest": f"{case}.json", "ptxas": usage})
    (out / "cases.json").write_text(json.dumps(cases, indent=1))
    print(f"prepared {len(cases)} linear attention kernels in {out}")

    out = fresh(args.out / "bench_decode")
    cases = []
    for s in DECODE_LENGTHS:
        case = f"decode.s{s}"
        usage = compile_case(args, out, case, decode_spec(s))
        manifest = json.loads((out / f"{case}.json").read_text())
        kernels = [k["symbol"] for k in manifest["kernels"]]
        cases.append({"name": "decode", "s": s, "image": f"{case}.cubin",
                      "manifest": f"{case}.json", "kernels": kernels,
                      "ptxas": usage})
    (out / "cases.json").write_text(json.dumps(cases, indent=1))
    print(f"prepared {len(cases)} decoding kernels in {out}")


if __name__ == "__main__":
    main()
