#!/usr/bin/env python3
"""Compiles the GPU benchmark kernels on the development machine:
  * .device/bench: attention (bf16, B=2, H=16, S=8192, D=64 and 128) that
    bench/gpu/bench.py times against PyTorch SDPA (flash, cuDNN) and
    FlexAttention;
  * .device/bench_linear: causal linear attention (bf16, B=1, H=16,
    D=Dv=64, S from 1024 to 65536; elu+1, retention, simple GLA) that
    bench/gpu/bench_linear.py times against a PyTorch implementation of the
    same chunked algorithm, flash-linear-attention's Triton kernels (its
    wheels are put in the bundle) and softmax attention;
  * .device/bench_decode: decoding (bf16, B=8, Hq=32, Hkv=8, D=128, Sq=1,
    Skv from 1024 to 65536, split-KV) that bench/gpu/bench_decode.py times
    against SDPA and FlexAttention's decoding path;
  * .device/bench_paged: decoding from a paged KV cache (bf16, Hq=32,
    Hkv=8, D=128, Sq=1, NHD pages of 16 keys), one kernel with dynamic B,
    pool size and table width for every case (B 8-64, Skv 1k-32k, equal
    and ragged lengths), that bench/gpu/bench_paged.py times against SDPA
    on the gathered cache and FlexAttention's PagedAttention;
  * .device/bench_backward: the backward (bf16, B=2, H=16, S=8192, D=64
    and 128; dense, causal, 4 documents) that bench/gpu/bench_backward.py
    times against FlexAttention's and SDPA's (flash, cuDNN) backward.

  bench/gpu/prepare.py [--build build] [--out .device] [--chip sm_90]
                       [--only REGEX]

--only (a regular expression searched in the bundle names, e.g.
'^bench_paged$') rebuilds some bundles and leaves the others as they are.
"""
import argparse
import json
import pathlib
import re
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
    # The same on tokens in 8x8 blocks (neighborhood_order), and GNA with a
    # stride of one block, whose every visited tile is full.
    "neighborhood_13x13_on_128x64_blocks_8x8": (
        "mask(#attn.neighborhood<grid = [128, 64], kernel = [13, 13], "
        "tile = [8, 8]>)", "", ""),
    "gna_24x24_stride_8_on_128x64_blocks_8x8": (
        "mask(#attn.neighborhood<grid = [128, 64], kernel = [24, 24], "
        "stride = [8, 8], tile = [8, 8]>)", "", ""),
}


# Linear attention: name -> (feature map, extra clauses, extra arguments).
# flash-linear-attention's benchmark shapes: (B, T) swept at H=16, D=128.
LINEAR_H, LINEAR_D = 16, 128
LINEAR_SHAPES = ((1, 4096), (1, 32768), (8, 4096), (8, 32768))
LINEAR = {
    "elu_plus_one": ("#attn.elu_plus_one", "", ""),
    # RetNet's retention: raw q (scaled by D^-1/2) and k, a decay per head.
    "retention": ("#attn.identity",
                  "decay(%gamma : tensor<{H}xf32>) normalization(none)",
                  ", %gamma: tensor<{H}xf32>"),
    # Simple GLA / Mamba2: a log-space gate per token and head.
    "simple_gla": ("#attn.identity",
                   "gate(%g : tensor<{B}x{H}x{S}xf32>) normalization(none)",
                   ", %g: tensor<{B}x{H}x{S}xf32>"),
}


# Decoding: one new token per sequence against a KV cache (GQA 4:1).
DECODE_B, DECODE_HQ, DECODE_HKV, DECODE_D = 8, 32, 8, 128
DECODE_LENGTHS = (1024, 2048, 4096, 8192, 16384, 32768, 65536)


# Paged decoding: the bench_decode shapes against a page pool (vLLM's NHD
# layout). Every dimension the cases vary is dynamic, so one kernel serves
# them all; bench/gpu/bench_paged.py draws the pools and tables.
PAGED_HQ, PAGED_HKV, PAGED_D, PAGE_SIZE = 32, 8, 128, 16
PAGED_BATCHES = (8, 32, 64)
PAGED_LENGTHS = (1024, 4096, 16384, 32768)


def paged_spec():
    q = f"tensor<?x{PAGED_HQ}x1x{PAGED_D}xbf16>"
    pool = f"tensor<?x{PAGE_SIZE}x{PAGED_HKV}x{PAGED_D}xbf16>"
    table, lens = "tensor<?x?xi32>", "tensor<?xi32>"
    return (f"func.func @bench(%q: {q}, %k: {pool}, %v: {pool}, "
            f"%block_table: {table}, %kv_lens: {lens}) -> {q} {{\n"
            f"  %o = attn.attention %q, %k, %v paged_kv(%block_table, %kv_lens : {table}, {lens})\n"
            f"      mask(#attn.causal<align = bottom_right>)\n"
            f"      : {q}, {pool}, {pool} -> {q}\n"
            f"  return %o : {q}\n}}\n")


def decode_spec(s):
    q = f"tensor<{DECODE_B}x{DECODE_HQ}x1x{DECODE_D}xbf16>"
    kv = f"tensor<{DECODE_B}x{DECODE_HKV}x{s}x{DECODE_D}xbf16>"
    return (f"func.func @bench(%q: {q}, %k: {kv}, %v: {kv}) -> {q} {{\n"
            f"  %o = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>)\n"
            f"      : {q}, {kv}, {kv} -> {q}\n"
            f"  return %o : {q}\n}}\n")


def linear_spec(feature_map, clauses, extra, b, s):
    t = f"tensor<{b}x{LINEAR_H}x{s}x{LINEAR_D}xbf16>"
    fmt = lambda x: x.format(B=b, H=LINEAR_H, S=s)
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


# The backward: the forward benchmark's masks that training uses.
BACKWARD_MASKS = ("dense", "causal", "documents_4")


def backward_spec(mask, operands, extra, d):
    t = f"tensor<{B}x{H}x{S}x{d}xbf16>"
    lse = f"tensor<{B}x{H}x{S}xf32>"
    fmt = lambda s: s.format(B=B, S=S)
    return (f"func.func @bench(%q: {t}, %k: {t}, %v: {t}, %o: {t}, %grad_o: {t}, "
            f"%lse: {lse}{fmt(extra)}) -> ({t}, {t}, {t}) {{\n"
            f"  %dq, %dk, %dv = attn.attention_backward %q, %k, %v, %o, %grad_o "
            f"lse(%lse : {lse}) {fmt(operands)} {mask}\n"
            f"      : {t}, {t}, {t}, {t}, {t} -> {t}, {t}, {t}\n"
            f"  return %dq, %dk, %dv : {t}, {t}, {t}\n}}\n")


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


def kernel_symbols(out, case):
    manifest = json.loads((out / f"{case}.json").read_text())
    return [k["symbol"] for k in manifest["kernels"]]


def prepare_bench(args, out):
    cases = []
    for d in (64, 128):
        for name, (mask, operands, extra) in MASKS.items():
            case = f"{name}.d{d}"
            usage = compile_case(args, out, case, spec(mask, operands, extra, d))
            cases.append({"name": name, "d": d, "image": f"{case}.cubin",
                          "manifest": f"{case}.json", "ptxas": usage})
    return cases, "benchmark kernels"


def prepare_linear(args, out):
    cases = []
    for name, (feature_map, clauses, extra) in LINEAR.items():
        for b, s in LINEAR_SHAPES:
            case = f"{name}.b{b}.s{s}"
            usage = compile_case(args, out, case,
                                 linear_spec(feature_map, clauses, extra, b, s))
            cases.append({"name": name, "b": b, "s": s, "image": f"{case}.cubin",
                          "manifest": f"{case}.json", "ptxas": usage})
    # flash-linear-attention's Triton kernels, the peers: the device reaches
    # no registry, so its wheels travel in the bundle (bench_linear.py
    # installs them there with --no-deps).
    r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                        "--quiet", "-d", out / "wheels", "fla-core==0.6.0",
                        "einops"], capture_output=True, text=True)
    if r.returncode:
        print("prepare: no fla-core wheel (bench_linear.py will time without "
              f"it): {r.stderr.strip()}")
    return cases, "linear attention kernels"


def prepare_decode(args, out):
    cases = []
    for s in DECODE_LENGTHS:
        case = f"decode.s{s}"
        usage = compile_case(args, out, case, decode_spec(s))
        cases.append({"name": "decode", "s": s, "image": f"{case}.cubin",
                      "manifest": f"{case}.json",
                      "kernels": kernel_symbols(out, case), "ptxas": usage})
    return cases, "decoding kernels"


def prepare_paged(args, out):
    """One kernel; a case per (B, Skv, equal or ragged lengths) names it."""
    usage = compile_case(args, out, "paged", paged_spec())
    kernels = kernel_symbols(out, "paged")
    cases = [{"name": "paged", "b": b, "s": s, "lengths": lengths,
              "page_size": PAGE_SIZE, "image": "paged.cubin",
              "manifest": "paged.json", "kernels": kernels, "ptxas": usage}
             for b in PAGED_BATCHES for s in PAGED_LENGTHS
             for lengths in ("equal", "ragged")]
    return cases, "paged decoding cases (one kernel)"


def prepare_backward(args, out):
    cases = []
    for d in (64, 128):
        for name in BACKWARD_MASKS:
            case = f"{name}.d{d}"
            usage = compile_case(args, out, case,
                                 backward_spec(*MASKS[name], d))
            cases.append({"name": name, "d": d, "image": f"{case}.cubin",
                          "manifest": f"{case}.json",
                          "kernels": kernel_symbols(out, case), "ptxas": usage})
    return cases, "backward launch plans"


BUNDLES = {"bench": prepare_bench, "bench_linear": prepare_linear,
           "bench_decode": prepare_decode, "bench_paged": prepare_paged,
           "bench_backward": prepare_backward}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=ROOT / "build", type=pathlib.Path)
    parser.add_argument("--out", default=ROOT / ".device", type=pathlib.Path)
    parser.add_argument("--chip", default="sm_90")
    parser.add_argument("--warps", default="4")
    parser.add_argument("--tile-kv", default="64")
    parser.add_argument("--only", default="",
                        help="regular expression the bundle names must contain")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    shutil.copy(args.build / "lib" / "libattn_runtime.so", args.out)
    for name, prepare in BUNDLES.items():
        if not re.search(args.only, name):
            continue
        out = fresh(args.out / name)
        cases, what = prepare(args, out)
        (out / "cases.json").write_text(json.dumps(cases, indent=1))
        print(f"prepared {len(cases)} {what} in {out}")


if __name__ == "__main__":
    main()
