#!/usr/bin/env python3
"""Times the paged decoding kernel bench/gpu/prepare.py compiled (one kernel
for every case: B, the pool size and the table width are dynamic) against
  * SDPA flash and cuDNN on the cache gathered into dense [B, Hkv, Skv, D]
    (timed without the gather; the gather's own time is a separate column),
  * FlexAttention's paged attention (PagedAttention's page table and
    convert_logical_block_mask, flex_attention through torch.compile) on
    the same page pool,
in one run, on the same bf16 inputs, and checks our output and
FlexAttention's against SDPA's math back end in float32 on the gathered
cache, one sequence at a time.

  python3 bench/gpu/bench_paged.py .device     # prints a table

Pages are drawn from a shuffled free list by PagedAttention.reserve, so no
page is shared and a sequence's pages lie in random order; table entries
past a sequence's pages stay -1 (read by no kernel). Ragged cases draw
each length uniformly from [Skv/2, Skv]. GB/s count the K/V bytes a
sequence needs, 2 * sum(kv_lens) * Hkv * D * 2, also for SDPA (which reads
the padding of the ragged cases too). The peer-construction functions run
without CUDA or triton: python/tests/test_bench_paged_peers.py checks them
on the CPU against a float64 reference.
"""
import json
import pathlib
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.nn.attention.experimental._paged_attention import PagedAttention
from torch.nn.attention.flex_attention import create_block_mask

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench import (PEAK_BYTES_PER_S, Runtime, bandwidth_cells,  # noqa: E402
                   bench, compiled_flex_attention,
                   relative_error, time_sdpa)

HQ, HKV, D = 32, 8, 128


def kv_lengths(batch, s, lengths, generator):
    """[B] int32 cache lengths: all `s`, or (ragged) uniform in [s/2, s]."""
    if lengths == "equal":
        return torch.full((batch,), s, dtype=torch.int32,
                          device=generator.device)
    return torch.randint(s // 2, s + 1, (batch,), dtype=torch.int32,
                         generator=generator, device=generator.device)


def paged_cache(kv_lens, page_size, hkv, d, dtype, generator):
    """(paged, k_pool, v_pool, block_table): random NHD pools [pages,
    page_size, Hkv, D] with just the pages the sequences need, allocated by
    FlexAttention's PagedAttention from a shuffled free list, and its page
    table as ours, [B, pages of the longest sequence] int32."""
    device = generator.device
    pages_each = (kv_lens.long() + page_size - 1) // page_size
    pages = int(pages_each.sum())
    paged = PagedAttention(pages, page_size, kv_lens.numel(), device=device)
    paged.empty_pages = torch.randperm(pages, generator=generator,
                                       device=device).tolist()
    for b, n in enumerate(kv_lens.tolist()):
        paged.reserve(torch.tensor([b], device=device),
                      torch.tensor([n], device=device))
    k_pool, v_pool = (torch.randn(pages, page_size, hkv, d, generator=generator,
                                  device=device, dtype=dtype) for _ in range(2))
    table = paged.page_table[:, :int(pages_each.max())].int().contiguous()
    return paged, k_pool, v_pool, table


def flex_cache(pool):
    """An NHD pool as FlexAttention's paged cache [1, Hkv, pages * P, D]: a
    view of the same memory."""
    pages, page_size, hkv, d = pool.shape
    return pool.view(1, pages * page_size, hkv, d).transpose(1, 2)


def flex_block_mask(paged, kv_lens, sq, table_width):
    """Bottom-right causal attention over each sequence's own keys (the
    mask of our spec), as a block mask of logical pages converted to the
    physical ones; the converted mask_mod (PagedAttention.get_mask_mod)
    also drops keys past kv_lens."""
    def bottom_right_causal(b, h, q, k):
        return k <= q + kv_lens[b] - sq
    logical = create_block_mask(bottom_right_causal, kv_lens.numel(), None, sq,
                                table_width * paged.page_size,
                                BLOCK_SIZE=paged.page_size,
                                device=kv_lens.device)
    return paged.convert_logical_block_mask(logical, kv_len=kv_lens)


def gather_dense(pool, block_table, s):
    """The first `s` keys of every sequence, [B, Hkv, s, D] (a copy in the
    BSHD order FlashAttention reads natively). Table entries past a
    sequence's pages (-1) read page 0, which sdpa_mask hides."""
    page_size, hkv, d = pool.shape[1:]
    pages = (s + page_size - 1) // page_size
    dense = pool[block_table[:, :pages].clamp(min=0)]
    return dense.view(block_table.shape[0], pages * page_size, hkv, d)[:, :s] \
        .transpose(1, 2)


def sdpa_mask(kv_lens, sq, s):
    """Bottom-right causal attention over each sequence's own keys as SDPA's
    boolean attn_mask [B, 1, Sq, s], or None where it allows every pair (the
    flash back end takes no mask)."""
    rows = torch.arange(sq, device=kv_lens.device)[:, None]
    keys = torch.arange(s, device=kv_lens.device)
    mask = keys <= rows + kv_lens[:, None, None, None] - sq
    return None if bool(mask.all()) else mask


def math_reference(q, k_dense, v_dense, kv_lens):
    """SDPA's math back end in float32, one sequence at a time on its own
    keys (so a ragged batch needs no padding)."""
    out = torch.empty(q.shape, dtype=torch.float32, device=q.device)
    sq = q.shape[2]
    with sdpa_kernel(SDPBackend.MATH):
        for b, n in enumerate(kv_lens.tolist()):
            out[b] = F.scaled_dot_product_attention(
                q[b:b + 1].float(), k_dense[b:b + 1, :, :n].float(),
                v_dense[b:b + 1, :, :n].float(),
                attn_mask=sdpa_mask(kv_lens[b:b + 1], sq, n), enable_gqa=True)[0]
    return out


def main():
    bundle = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".device")
    runtime = Runtime(bundle / "libattn_runtime.so")
    cases = json.loads((bundle / "bench_paged" / "cases.json").read_text())
    flex = compiled_flex_attention()
    generator = torch.Generator(device="cuda").manual_seed(0)
    peers = ["attn-mlir", "SDPA flash", "SDPA cuDNN", "FlexAttention"]
    backends = {"SDPA flash": SDPBackend.FLASH_ATTENTION,
                "SDPA cuDNN": SDPBackend.CUDNN_ATTENTION}
    kernels = {}
    rows = []
    for case in cases:
        image = case["image"]
        if image not in kernels:
            kernels[image] = runtime.load(bundle / "bench_paged" / image,
                                          bundle / "bench_paged" / case["manifest"])
        kv_lens = kv_lengths(case["b"], case["s"], case["lengths"], generator)
        paged, k_pool, v_pool, table = paged_cache(
            kv_lens, case["page_size"], HKV, D, torch.bfloat16, generator)
        q = torch.randn(case["b"], HQ, 1, D, generator=generator,
                        device="cuda", dtype=torch.bfloat16)
        o = torch.full_like(q, float("nan"))
        ours = kernels[image].prepare([q, k_pool, v_pool, table, kv_lens], [o])
        ours()

        s_max = int(kv_lens.max())
        gather = lambda: (gather_dense(k_pool, table, s_max),
                          gather_dense(v_pool, table, s_max))
        k_dense, v_dense = gather()
        ref = math_reference(q, k_dense, v_dense, kv_lens)
        k_flex, v_flex = flex_cache(k_pool), flex_cache(v_pool)
        block_mask = flex_block_mask(paged, kv_lens, 1, table.shape[1])
        run_flex = lambda: flex(q, k_flex, v_flex, block_mask=block_mask,
                                enable_gqa=True)
        torch.cuda.synchronize()
        errors = (relative_error(o.float(), ref),
                  relative_error(run_flex().float(), ref))
        times = {"attn-mlir": bench(ours), "FlexAttention": bench(run_flex),
                 "gather": bench(gather)}
        times.update(time_sdpa(backends, q, k_dense, v_dense,
                               attn_mask=sdpa_mask(kv_lens, 1, s_max),
                               enable_gqa=True))
        kv_bytes = 2 * int(kv_lens.sum()) * HKV * D * 2
        rows.append((case, errors, times, kv_bytes))
        del paged, k_pool, v_pool, table, q, o, k_dense, v_dense, ref, block_mask

    print(f"\n{torch.cuda.get_device_name()}, bf16 paged decoding, Hq={HQ} "
          f"Hkv={HKV} D={D} Sq=1, pages of {cases[0]['page_size']} (NHD); "
          f"median us / GB/s of K/V read (fraction of "
          f"{PEAK_BYTES_PER_S / 1e12:.1f} TB/s); ragged: lengths uniform in "
          "[Skv/2, Skv]; SDPA on the gathered cache, without the gather")
    print("| B | Skv | lengths | rel. err vs math | Flex rel. err | " +
          " | ".join(peers) + " | gather us |")
    print("|---" * (6 + len(peers)) + "|")
    for case, errors, times, kv_bytes in rows:
        cells = bandwidth_cells(peers, times, kv_bytes)
        print(f"| {case['b']} | {case['s']} | {case['lengths']} | "
              f"{errors[0]:.1e} | {errors[1]:.1e} | " + " | ".join(cells) +
              f" | {times['gather'] * 1e3:.1f} |")
    print(f"\nkernels per launch plan: {', '.join(cases[0]['kernels'])}")
    print("ptxas (sm_90):")
    for line in cases[0]["ptxas"].splitlines():
        if "Used" in line:
            print(f"  {line.split(':', 1)[-1].strip()}")


if __name__ == "__main__":
    main()
