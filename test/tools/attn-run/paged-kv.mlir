// Paged and packed (varlen) sequences on the CPU kernel against the float64
// reference, which gathers the pages. attn-run --random keeps the data
// contract: shuffled and shared pages, unused table entries out of range
// (read by no kernel), cache lengths 0, 1, page multiples and full tables,
// packed batches with an empty sequence.
// RUN: attn-run %s --entry decode_nhd --random --seed 1 --dim Pages=37 --dim MaxPages=5 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry decode_nhd --random --seed 2 --dim Pages=9 --dim MaxPages=3 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry page1_hnd_window_sinks --random --seed 3 --dim Pages=50 --dim MaxPages=41 --dim B=5 --check | FileCheck %s
// RUN: attn-run %s --entry speculative_alibi_softcap --random --seed 4 --dim Pages=11 --dim MaxPages=4 --check | FileCheck %s
// RUN: attn-run %s --entry varlen_causal --random --seed 5 --dim B1=5 --dim Tq=61 --dim Tk=77 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry varlen_causal --random --seed 6 --dim B1=2 --dim Tq=1 --dim Tk=130 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry chunked_prefill --random --seed 7 --dim B1=4 --dim B=3 --dim Tq=45 --dim Pages=20 --dim MaxPages=6 --check | FileCheck %s
// RUN: attn-run %s --entry sigmoid_paged --random --seed 8 --dim Pages=7 --dim MaxPages=3 --check | FileCheck %s
// RUN: attn-run %s --entry varlen_regions --random --seed 9 --dim B1=4 --dim Tq=40 --dim Tk=40 --check | FileCheck %s
// The GPU kernels, run by the emulator: the GQA-packed split-KV decode
// family (auto for one query), the flash family (split-kv=never), packed
// query tiles past their sequence. f32 runs on tf32 tensor cores (10-bit
// mantissas): tolerance 5e-3, as the other emulation tests.
// RUN: attn-run %s --entry decode_nhd --target gpu-emulation --warps 1 --tile-kv 16 --multiprocessors 4 --random --seed 1 --dim Pages=37 --dim MaxPages=5 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry decode_nhd --target gpu-emulation --warps 1 --tile-kv 16 --split-kv never --random --seed 2 --dim Pages=9 --dim MaxPages=3 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry page1_hnd_window_sinks --target gpu-emulation --tolerance 5e-3 --warps 1 --tile-kv 16 --random --seed 3 --dim Pages=50 --dim MaxPages=41 --dim B=5 --check | FileCheck %s
// RUN: attn-run %s --entry speculative_alibi_softcap --target gpu-emulation --warps 1 --tile-kv 32 --split-kv always --random --seed 4 --dim Pages=11 --dim MaxPages=4 --check | FileCheck %s
// RUN: attn-run %s --entry varlen_causal --target gpu-emulation --tolerance 5e-3 --warps 1 --tile-kv 16 --random --seed 5 --dim B1=5 --dim Tq=61 --dim Tk=77 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry chunked_prefill --target gpu-emulation --warps 2 --tile-kv 16 --random --seed 7 --dim B1=4 --dim B=3 --dim Tq=45 --dim Pages=20 --dim MaxPages=6 --check | FileCheck %s
// RUN: attn-run %s --entry sigmoid_paged --target gpu-emulation --tolerance 5e-3 --warps 1 --tile-kv 16 --random --seed 8 --dim Pages=7 --dim MaxPages=3 --check | FileCheck %s
// RUN: attn-run %s --entry varlen_regions --target gpu-emulation --tolerance 5e-3 --warps 1 --tile-kv 16 --random --seed 9 --dim B1=4 --dim Tq=40 --dim Tk=40 --check | FileCheck %s
// CHECK: check o    max relative error {{.*}} ok
// LSE:   check lse  max relative error {{.*}} ok

// Decoding one token per sequence against a paged cache (vLLM's NHD pages
// of 16 keys), GQA 8:2.
func.func @decode_nhd(%q: tensor<4x8x1x64xbf16>, %k: tensor<?x16x2x64xbf16>,
                      %v: tensor<?x16x2x64xbf16>, %table: tensor<4x?xi32>,
                      %lens: tensor<4xi32>)
    -> (tensor<4x8x1x64xbf16>, tensor<4x8x1xf32>) {
  %o, %lse = attn.attention %q, %k, %v
      paged_kv(%table, %lens : tensor<4x?xi32>, tensor<4xi32>)
      mask(#attn.causal<align = bottom_right>) allow_empty_rows
      : tensor<4x8x1x64xbf16>, tensor<?x16x2x64xbf16>, tensor<?x16x2x64xbf16>
      -> tensor<4x8x1x64xbf16>, tensor<4x8x1xf32>
  return %o, %lse : tensor<4x8x1x64xbf16>, tensor<4x8x1xf32>
}

// Pages of one key in the HND layout; a sliding window with sinks counted
// from each sequence's own end.
func.func @page1_hnd_window_sinks(%q: tensor<?x4x2x32xf32>,
                                  %k: tensor<?x1x1x32xf32>,
                                  %v: tensor<?x1x1x24xf32>,
                                  %table: tensor<?x?xi32>,
                                  %lens: tensor<?xi32>) -> tensor<?x4x2x24xf32> {
  %o = attn.attention %q, %k, %v
      paged_kv(%table, %lens : tensor<?x?xi32>, tensor<?xi32>) page_layout(hnd)
      mask(#attn.or<[#attn.window<left = 7, right = 0, align = bottom_right>, #attn.sinks<2>]>)
      allow_empty_rows
      : tensor<?x4x2x32xf32>, tensor<?x1x1x32xf32>, tensor<?x1x1x24xf32>
      -> tensor<?x4x2x24xf32>
  return %o : tensor<?x4x2x24xf32>
}

// Speculative verification: three draft tokens per sequence, ALiBi and a
// soft cap, pages of 32 keys.
func.func @speculative_alibi_softcap(%q: tensor<2x4x3x16xf16>,
                                     %k: tensor<?x32x4x16xf16>,
                                     %v: tensor<?x32x4x16xf16>,
                                     %table: tensor<2x?xi32>,
                                     %lens: tensor<2xi32>,
                                     %slopes: tensor<4xf32>) -> tensor<2x4x3x16xf16> {
  %o = attn.attention %q, %k, %v alibi_slopes(%slopes : tensor<4xf32>)
      paged_kv(%table, %lens : tensor<2x?xi32>, tensor<2xi32>)
      mask(#attn.causal<align = bottom_right>)
      score_mods([#attn.alibi, #attn.softcap<20.0>]) allow_empty_rows
      : tensor<2x4x3x16xf16>, tensor<?x32x4x16xf16>, tensor<?x32x4x16xf16>
      -> tensor<2x4x3x16xf16>
  return %o : tensor<2x4x3x16xf16>
}

// FlashAttention's varlen interface: packed queries and keys.
func.func @varlen_causal(%q: tensor<?x4x32xf32>, %k: tensor<?x2x32xf32>,
                         %v: tensor<?x2x32xf32>, %cq: tensor<?xi32>,
                         %ck: tensor<?xi32>)
    -> (tensor<?x4x32xf32>, tensor<?x4xf32>) {
  %o, %lse = attn.attention %q, %k, %v
      cu_seqlens_q(%cq : tensor<?xi32>) cu_seqlens_kv(%ck : tensor<?xi32>)
      mask(#attn.causal<align = bottom_right>) allow_empty_rows
      : tensor<?x4x32xf32>, tensor<?x2x32xf32>, tensor<?x2x32xf32>
      -> tensor<?x4x32xf32>, tensor<?x4xf32>
  return %o, %lse : tensor<?x4x32xf32>, tensor<?x4xf32>
}

// Chunked prefill: packed query chunks against a paged cache.
func.func @chunked_prefill(%q: tensor<?x2x64xbf16>, %k: tensor<?x16x1x64xbf16>,
                           %v: tensor<?x16x1x64xbf16>, %cq: tensor<?xi32>,
                           %table: tensor<?x?xi32>, %lens: tensor<?xi32>)
    -> tensor<?x2x64xbf16> {
  %o = attn.attention %q, %k, %v cu_seqlens_q(%cq : tensor<?xi32>)
      paged_kv(%table, %lens : tensor<?x?xi32>, tensor<?xi32>)
      mask(#attn.causal<align = bottom_right>) allow_empty_rows
      : tensor<?x2x64xbf16>, tensor<?x16x1x64xbf16>, tensor<?x16x1x64xbf16>
      -> tensor<?x2x64xbf16>
  return %o : tensor<?x2x64xbf16>
}

// Sigmoid attention weighs keys one by one: padding past a sequence must
// weigh nothing.
func.func @sigmoid_paged(%q: tensor<3x2x5x16xf32>, %k: tensor<?x8x2x16xf32>,
                         %v: tensor<?x8x2x16xf32>, %table: tensor<3x?xi32>,
                         %lens: tensor<3xi32>) -> tensor<3x2x5x16xf32> {
  %o = attn.attention %q, %k, %v
      paged_kv(%table, %lens : tensor<3x?xi32>, tensor<3xi32>)
      normalization(#attn.sigmoid<bias = -2.0>)
      : tensor<3x2x5x16xf32>, tensor<?x8x2x16xf32>, tensor<?x8x2x16xf32>
      -> tensor<3x2x5x16xf32>
  return %o : tensor<3x2x5x16xf32>
}

// Regions see positions within each sequence.
func.func @varlen_regions(%q: tensor<?x2x16xf32>, %k: tensor<?x2x16xf32>,
                          %v: tensor<?x2x16xf32>, %cq: tensor<?xi32>,
                          %ck: tensor<?xi32>) -> tensor<?x2x16xf32> {
  %o = attn.attention %q, %k, %v
      cu_seqlens_q(%cq : tensor<?xi32>) cu_seqlens_kv(%ck : tensor<?xi32>)
      allow_empty_rows
      score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %d = arith.subi %i, %j : index
        %di = arith.index_cast %d : index to i64
        %df = arith.sitofp %di : i64 to f32
        %c = arith.constant 0.05 : f32
        %t = arith.mulf %df, %c : f32
        %r = arith.addf %s, %t : f32
        attn.yield %r : f32
      }
      mask_mod {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %two = arith.constant 2 : index
        %m = arith.remui %j, %two : index
        %zero = arith.constant 0 : index
        %even = arith.cmpi eq, %m, %zero : index
        attn.yield %even : i1
      }
      : tensor<?x2x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32>
      -> tensor<?x2x16xf32>
  return %o : tensor<?x2x16xf32>
}
