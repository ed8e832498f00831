#!/usr/bin/env python3
"""Times the kernels bench/gpu/prepare.py compiled against PyTorch SDPA
(flash and cuDNN back ends) and FlexAttention, in one run, on the same
bf16 inputs, and checks each of our outputs against FlexAttention's.

  python3 bench/gpu/bench.py .device      # prints a table

TFLOP/s count useful work only: 4 * B * H * D * (allowed query-key pairs),
so a mask that skips work is credited with what it skips. Times are the
median of triton.testing.do_bench (CUDA events, after warm-up).
"""
import json
import pathlib
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.nn.attention.flex_attention import create_block_mask, flex_attention

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "test" / "gpu"))
from check import Runtime, relative_error  # noqa: E402

B, H, S = 2, 16, 8192
GRID = (128, 64)
# name -> (kernel, stride, block of the token order or None for row-major)
NEIGHBORHOODS = {
    "neighborhood_13x13_on_128x64": ((13, 13), (1, 1), None),
    "neighborhood_13x13_on_128x64_blocks_8x8": ((13, 13), (1, 1), (8, 8)),
    "gna_24x24_stride_8_on_128x64_blocks_8x8": ((24, 24), (8, 8), (8, 8)),
}


def document_ids():
    """Four equal documents per batch row, the same for queries and keys."""
    return (torch.arange(S, device="cuda") * 4 // S).int().expand(B, S).contiguous()


def load_case(runtime, bundle, case, docs):
    """Random bf16 q, k, v of a benchmark case, its NaN-filled output and a
    launcher of our kernel on them: (q, k, v, o, launch)."""
    q, k, v = (torch.randn(B, H, S, case["d"], device="cuda", dtype=torch.bfloat16)
               for _ in range(3))
    o = torch.full_like(q, float("nan"))
    kernel = runtime.load(bundle / "bench" / case["image"],
                          bundle / "bench" / case["manifest"])
    inputs = [q, k, v] + ([docs, docs] if case["name"] == "documents_4" else [])
    return q, k, v, o, kernel.prepare(inputs, [o])


def block_order(grid, block):
    """Row-major index of each position in the block token order
    (attn_mlir.neighborhood_order without dilation)."""
    rows, cols = grid
    r, c = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
    key = ((r // block[0]) * (cols // block[1]) + c // block[1]) * (
        block[0] * block[1]) + (r % block[0]) * block[1] + c % block[1]
    return torch.argsort(key.flatten())


def natten_mask_mod(kernel, stride, block, device="cuda"):
    """NATTEN's rules per axis (no dilation), on row-major positions or,
    with `block`, on positions in block order."""
    order = block_order(GRID, block).to(device) if block else None

    def axis_allowed(x, y, length, window, s):
        lead = x if s == 1 else torch.clamp(x // s * s + s // 2, max=length - 1)
        start = (lead - window // 2).clamp(0, length - window)
        return (y >= start) & (y < start + window)

    def mask_mod(b, h, q, k):
        if order is not None:
            q, k = order[q], order[k]
        qr, qc = q // GRID[1], q % GRID[1]
        kr, kc = k // GRID[1], k % GRID[1]
        return (axis_allowed(qr, kr, GRID[0], kernel[0], stride[0]) &
                axis_allowed(qc, kc, GRID[1], kernel[1], stride[1]))
    return mask_mod


def mask_mod_for(name, docs):
    """The FlexAttention mask_mod with the semantics of our attribute."""
    if name == "causal":
        return lambda b, h, q, k: k <= q
    if name == "causal_window_1024":
        return lambda b, h, q, k: (k <= q) & (q - k < 1024)
    if name == "documents_4":
        return lambda b, h, q, k: docs[b, q] == docs[b, k]
    if name in NEIGHBORHOODS:
        return natten_mask_mod(*NEIGHBORHOODS[name])
    return None


def allowed_pairs(mask_mod):
    if mask_mod is None:
        return B * S * S
    total = 0
    idx = torch.arange(S, device="cuda")
    for b in range(B):
        for q0 in range(0, S, 1024):
            q = idx[q0:q0 + 1024, None]
            total += int(mask_mod(b, 0, q, idx[None, :]).sum())
    return total


def bench(fn):
    # Imported here: CPU tests import these helpers where triton is missing.
    import triton.testing
    return triton.testing.do_bench(fn, warmup=25, rep=200, return_mode="median")


# The H200's HBM bandwidth, for the decoding benchmarks' fractions.
PEAK_BYTES_PER_S = 4.8e12


def bandwidth_cells(peers, times, kv_bytes):
    """Table cells `us / GB/s (fraction of HBM bandwidth)` of reading
    `kv_bytes` in each peer's median time (ms; "-" where it did not run)."""
    cells = []
    for p in peers:
        t = times.get(p)
        if t is None:
            cells.append("-")
            continue
        rate = kv_bytes / (t * 1e-3)
        cells.append(f"{t * 1e3:.1f} / {rate / 1e9:.0f} "
                     f"({rate / PEAK_BYTES_PER_S:.2f})")
    return cells


def time_sdpa(backends, q, k, v, **kwargs):
    """{label: median ms} of SDPA on each back end, None where the back end
    refuses the inputs (the reason goes to stderr)."""
    times = {}
    for label, backend in backends.items():
        try:
            with sdpa_kernel(backend):
                F.scaled_dot_product_attention(q, k, v, **kwargs)
                times[label] = bench(
                    lambda: F.scaled_dot_product_attention(q, k, v, **kwargs))
        except RuntimeError as e:
            times[label] = None
            print(f"{label} unavailable for q {tuple(q.shape)}, k "
                  f"{tuple(k.shape)}: {e}", file=sys.stderr)
    return times


PEERS = ["attn-mlir", "SDPA flash", "SDPA cuDNN", "FlexAttention"]


def print_tflops_table(title, err_label, rows):
    """The table of (name, D, density, error, {peer: ms}, flops, ...) rows:
    median ms / TFLOP/s per peer, "-" where one did not run."""
    print(f"\n{torch.cuda.get_device_name()}, {title}")
    print(f"| mask | D | density | {err_label} | " + " | ".join(PEERS) + " |")
    print("|---" * (4 + len(PEERS)) + "|")
    for name, d, density, err, times, flops, *_ in rows:
        cells = []
        for p in PEERS:
            t = times.get(p)
            cells.append("-" if t is None else f"{t:.3f} / {flops / t / 1e9:.0f}")
        print(f"| {name} | {d} | {density:.3f} | {err:.1e} | " +
              " | ".join(cells) + " |")


def compiled_flex_attention():
    """FlexAttention through torch.compile, allowed one compiled variant per
    benchmark case: the default limit (8) would silently fall back to the
    unfused implementation."""
    torch._dynamo.config.recompile_limit = 64
    torch._dynamo.config.cache_size_limit = 64
    return torch.compile(flex_attention)


def main():
    bundle = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".device")
    runtime = Runtime(bundle / "libattn_runtime.so")
    cases = json.loads((bundle / "bench" / "cases.json").read_text())
    flex = compiled_flex_attention()
    torch.manual_seed(0)
    docs = document_ids()
    rows = []
    for case in cases:
        d, name = case["d"], case["name"]
        q, k, v, o, ours = load_case(runtime, bundle, case, docs)
        ours()
        torch.cuda.synchronize()

        mask_mod = mask_mod_for(name, docs)
        block_mask = (create_block_mask(mask_mod, B, None, S, S)
                      if mask_mod else None)
        ref = flex(q, k, v, block_mask=block_mask)
        err = relative_error(o.float(), ref.float())
        flops = 4 * H * d * allowed_pairs(mask_mod)
        times = {"attn-mlir": bench(ours),
                 "FlexAttention": bench(lambda: flex(q, k, v, block_mask=block_mask))}
        if name in ("dense", "causal"):
            times.update(time_sdpa({"SDPA flash": SDPBackend.FLASH_ATTENTION,
                                    "SDPA cuDNN": SDPBackend.CUDNN_ATTENTION},
                                   q, k, v, is_causal=name == "causal"))
        density = flops / (4 * H * d * B * S * S)
        rows.append((name, d, density, err, times, flops,
                     case["ptxas"].splitlines()[-2].split(":", 1)[-1].strip()))
        del q, k, v, o, ref

    print_tflops_table(f"bf16, B={B} H={H} S={S}; median ms / TFLOP/s of "
                       "useful work", "rel. err vs Flex", rows)
    print("\nptxas (sm_90):")
    for name, d, *_, usage in rows:
        print(f"  {name} D={d}: {usage}")


if __name__ == "__main__":
    main()
