#!/usr/bin/env python3
"""Times the split-KV decoding kernels bench/gpu/prepare.py compiled against
PyTorch SDPA (flash, cuDNN and memory-efficient back ends) and
FlexAttention (torch.compile; its decoding kernel for one query), in one
run, on the same bf16 inputs, and checks our output against SDPA's math
back end in float32.

  python3 bench/gpu/bench_decode.py .device     # prints a table

Decoding reads the whole KV cache once per token: the table gives the
median time (us, triton.testing.do_bench), the K/V bytes read per second
(2 * B * Hkv * Skv * D * 2 bytes / time) and that as a fraction of the
H200's 4.8 TB/s.
"""
import json
import pathlib
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench import (PEAK_BYTES_PER_S, Runtime, bandwidth_cells,  # noqa: E402
                   bench, compiled_flex_attention,
                   relative_error, time_sdpa)

B, HQ, HKV, D = 8, 32, 8, 128


def main():
    bundle = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".device")
    runtime = Runtime(bundle / "libattn_runtime.so")
    cases = json.loads((bundle / "bench_decode" / "cases.json").read_text())
    flex = compiled_flex_attention()
    torch.manual_seed(0)
    peers = ["attn-mlir", "SDPA flash", "SDPA cuDNN", "SDPA efficient",
             "FlexAttention"]
    backends = {"SDPA flash": SDPBackend.FLASH_ATTENTION,
                "SDPA cuDNN": SDPBackend.CUDNN_ATTENTION,
                "SDPA efficient": SDPBackend.EFFICIENT_ATTENTION}
    rows = []
    for case in cases:
        s = case["s"]
        q = torch.randn(B, HQ, 1, D, device="cuda", dtype=torch.bfloat16)
        k, v = (torch.randn(B, HKV, s, D, device="cuda", dtype=torch.bfloat16)
                for _ in range(2))
        o = torch.full_like(q, float("nan"))
        kernel = runtime.load(bundle / "bench_decode" / case["image"],
                              bundle / "bench_decode" / case["manifest"])
        ours = kernel.prepare([q, k, v], [o])
        ours()
        torch.cuda.synchronize()
        with sdpa_kernel(SDPBackend.MATH):
            ref = F.scaled_dot_product_attention(q.float(), k.float(), v.float(),
                                                 enable_gqa=True)
        err = relative_error(o.float(), ref)
        times = {"attn-mlir": bench(ours),
                 "FlexAttention": bench(lambda: flex(q, k, v, enable_gqa=True))}
        times.update(time_sdpa(backends, q, k, v, enable_gqa=True))
        kv_bytes = 2 * B * HKV * s * D * 2
        rows.append((s, err, times, kv_bytes, case["kernels"]))
        del q, k, v, o, ref

    print(f"\n{torch.cuda.get_device_name()}, bf16 decoding, B={B} Hq={HQ} "
          f"Hkv={HKV} D={D} Sq=1; median us / GB/s of K/V read "
          f"(fraction of {PEAK_BYTES_PER_S / 1e12:.1f} TB/s)")
    print("| Skv | rel. err vs math | " + " | ".join(peers) + " |")
    print("|---" * (2 + len(peers)) + "|")
    for s, err, times, kv_bytes, _ in rows:
        cells = bandwidth_cells(peers, times, kv_bytes)
        print(f"| {s} | {err:.1e} | " + " | ".join(cells) + " |")
    print(f"\nkernels per launch plan: {', '.join(rows[0][4]) if rows else '-'}")


if __name__ == "__main__":
    main()
