// Serving: the KV cache lives in pages of a pool shared by every sequence
// (vLLM / FlashInfer's NHD layout [pages, P, Hkv, D]), a block table maps
// each sequence's logical pages to pool pages, and each sequence has its own
// length. Queries are either one (or a few) per sequence (decoding,
// speculative verification), or packed end to end with cumulative lengths
// (chunked prefill against the cache; FlashAttention's varlen interface).
// Masks see each sequence's own lengths: bottom-right causal aligns every
// sequence's last query to its last key.
//
// The data contract (attn.attention's description) is checked on the host
// by attn-run, the CPU kernels and Python; on the GPU with
// ATTN_CHECK_SEQUENCES=1. attn-run --random draws data that keeps it
// (shuffled and shared pages, empty sequences, full tables).
// RUN: attn-run %s --entry paged_decode --random --seed 1 --dim B=3 --dim Pages=40 --dim MaxPages=9 --check
// RUN: attn-run %s --entry paged_decode --target gpu-emulation --warps 1 --tile-kv 16 --multiprocessors 8 --random --seed 2 --dim B=2 --dim Pages=30 --dim MaxPages=7 --check
// RUN: attn-run %s --entry speculative_window_sinks --random --seed 3 --dim B=2 --dim Pages=20 --dim MaxPages=12 --check
// RUN: attn-run %s --entry chunked_prefill --random --seed 4 --dim B1=4 --dim B=3 --dim Tq=90 --dim Pages=24 --dim MaxPages=4 --check
// RUN: attn-run %s --entry varlen_prefill --random --seed 5 --dim B1=5 --dim Tq=150 --dim Tk=150 --check
// RUN: attn-run %s --entry varlen_prefill --target gpu-emulation --warps 2 --tile-kv 32 --random --seed 6 --dim B1=3 --dim Tq=70 --dim Tk=90 --check
// gpu-check dims: B=3 B1=4 Pages=40 MaxPages=9 Tq=90 Tk=120

// One new token per sequence against the paged cache (GQA 32:8), with the
// lse for merging with other partial results.
func.func @paged_decode(%q: tensor<?x32x1x128xbf16>, %k: tensor<?x16x8x128xbf16>,
                        %v: tensor<?x16x8x128xbf16>, %block_table: tensor<?x?xi32>,
                        %kv_lens: tensor<?xi32>)
    -> (tensor<?x32x1x128xbf16>, tensor<?x32x1xf32>) {
  %o, %lse = attn.attention %q, %k, %v
      paged_kv(%block_table, %kv_lens : tensor<?x?xi32>, tensor<?xi32>)
      mask(#attn.causal<align = bottom_right>) allow_empty_rows
      : tensor<?x32x1x128xbf16>, tensor<?x16x8x128xbf16>, tensor<?x16x8x128xbf16>
      -> tensor<?x32x1x128xbf16>, tensor<?x32x1xf32>
  return %o, %lse : tensor<?x32x1x128xbf16>, tensor<?x32x1xf32>
}

// Four draft tokens verified against the cache, through a sliding window of
// 256 keys plus 4 attention sinks, each counted from the sequence's end.
func.func @speculative_window_sinks(%q: tensor<?x8x4x64xf16>, %k: tensor<?x32x2x64xf16>,
                                    %v: tensor<?x32x2x64xf16>, %block_table: tensor<?x?xi32>,
                                    %kv_lens: tensor<?xi32>) -> tensor<?x8x4x64xf16> {
  %o = attn.attention %q, %k, %v
      paged_kv(%block_table, %kv_lens : tensor<?x?xi32>, tensor<?xi32>)
      mask(#attn.or<[#attn.window<left = 255, right = 0, align = bottom_right>, #attn.sinks<4>]>)
      allow_empty_rows
      : tensor<?x8x4x64xf16>, tensor<?x32x2x64xf16>, tensor<?x32x2x64xf16>
      -> tensor<?x8x4x64xf16>
  return %o : tensor<?x8x4x64xf16>
}

// Chunked prefill: packed chunks of new tokens [Tq, Hq, D] (sequence b is
// rows cu_seqlens_q[b] .. cu_seqlens_q[b+1]) against the paged cache that
// already holds them at its end.
func.func @chunked_prefill(%q: tensor<?x8x64xbf16>, %k: tensor<?x16x2x64xbf16>,
                           %v: tensor<?x16x2x64xbf16>, %cu_seqlens_q: tensor<?xi32>,
                           %block_table: tensor<?x?xi32>, %kv_lens: tensor<?xi32>)
    -> tensor<?x8x64xbf16> {
  %o = attn.attention %q, %k, %v cu_seqlens_q(%cu_seqlens_q : tensor<?xi32>)
      paged_kv(%block_table, %kv_lens : tensor<?x?xi32>, tensor<?xi32>)
      mask(#attn.causal<align = bottom_right>) allow_empty_rows
      : tensor<?x8x64xbf16>, tensor<?x16x2x64xbf16>, tensor<?x16x2x64xbf16>
      -> tensor<?x8x64xbf16>
  return %o : tensor<?x8x64xbf16>
}

// Varlen training or prefill: packed queries, keys and values with
// FlashAttention's cu_seqlens, a causal mask within each sequence and the
// lse [Tq, Hq] for the backward.
func.func @varlen_prefill(%q: tensor<?x4x64xf16>, %k: tensor<?x4x64xf16>,
                          %v: tensor<?x4x64xf16>, %cu_seqlens_q: tensor<?xi32>,
                          %cu_seqlens_kv: tensor<?xi32>)
    -> (tensor<?x4x64xf16>, tensor<?x4xf32>) {
  %o, %lse = attn.attention %q, %k, %v cu_seqlens_q(%cu_seqlens_q : tensor<?xi32>)
      cu_seqlens_kv(%cu_seqlens_kv : tensor<?xi32>)
      mask(#attn.causal<align = bottom_right>) allow_empty_rows
      : tensor<?x4x64xf16>, tensor<?x4x64xf16>, tensor<?x4x64xf16>
      -> tensor<?x4x64xf16>, tensor<?x4xf32>
  return %o, %lse : tensor<?x4x64xf16>, tensor<?x4xf32>
}
