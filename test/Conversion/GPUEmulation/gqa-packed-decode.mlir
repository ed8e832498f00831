// GQA-packed split-KV decoding, emulated on the CPU against the float64
// reference: a block per (key/value head, key split) whose rows are query
// position r % Sq of query head hkv * G + r / Sq, for G = 1, 2, 4, 8 and
// Sq = 1 (decoding) or 3 (speculative), in one warp or (G Sq > 16) two.
// Every mask, score modifier and region must see each row's own head and
// query position: ALiBi's slope is the head's, the mask_mod and score_mod
// read both, bottom-right causal and the window depend on the position.
// Odd key lengths (1, 17, 1003, 4099), f16, bf16 and f32 (tf32 operands,
// hence its tolerance), with lse.
//
// RUN: attn-run %s --entry g1_causal_f16 --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 41 --dim B=2 --dim Skv=1003 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry g2_window_sinks_sq3_bf16 --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 42 --dim B=2 --dim Skv=1003 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry g2_window_sinks_sq3_bf16 --target gpu-emulation --warps 1 --tile-kv 16 --split-kv always --random --seed 43 --dim B=1 --dim Skv=17 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry g4_alibi_f32 --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 44 --dim B=2 --dim Skv=1003 --check --tolerance 5e-3 | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry g8_softcap_sq3_bf16 --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 45 --dim B=1 --dim Skv=4099 --check | FileCheck %s --check-prefixes=CHECK,LSE
// Sq = 3 > Skv = 1 under bottom-right causal: the first two queries of
// every head have no key (o = 0, lse = -inf).
// RUN: attn-run %s --entry g8_softcap_sq3_bf16 --target gpu-emulation --warps 1 --tile-kv 16 --split-kv always --random --seed 46 --dim B=2 --dim Skv=1 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry g4_head_regions_f16 --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 47 --dim B=2 --dim Skv=1003 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry g4_head_regions_f16 --target gpu-emulation --warps 1 --tile-kv 16 --split-kv always --random --seed 48 --dim B=2 --dim Skv=1 --check | FileCheck %s --check-prefixes=CHECK,LSE
// f32 D = 72: the query fragments would not fit in registers, so the packed
// query tile is copied to shared memory, its rows running over two heads.
// RUN: attn-run %s --entry g2_wide_f32_sq3 --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 49 --dim B=2 --dim Skv=1003 --check --tolerance 5e-3 | FileCheck %s --check-prefixes=CHECK,LSE
// No query (static Sq = 0, G = 3): empty outputs; split-kv=always takes
// the unpacked split-KV family, its grids empty too (the emulator, like the
// runtime, launches no block). Regression test (found by test/property):
// packing G * 0 rows planned a block of no warp, and the compiler divided
// by zero.
// RUN: attn-run %s --entry g3_no_queries_f32 --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 849211215 --dim B=1 --dim Skv=33 --check --tolerance 5e-3 | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry g3_no_queries_f32 --target gpu-emulation --warps 1 --tile-kv 16 --split-kv always --random --seed 50 --dim B=2 --dim Skv=1003 --check --tolerance 5e-3 | FileCheck %s --check-prefixes=CHECK,LSE
// CHECK: check o    max relative error {{.*}} ok
// LSE:   check lse  max relative error {{.*}} ok

// G = 1: the packed block is one query head's rows.
func.func @g1_causal_f16(%q: tensor<?x4x1x64xf16>, %k: tensor<?x4x?x64xf16>,
                         %v: tensor<?x4x?x64xf16>)
    -> (tensor<?x4x1x64xf16>, tensor<?x4x1xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>)
      : tensor<?x4x1x64xf16>, tensor<?x4x?x64xf16>, tensor<?x4x?x64xf16>
      -> tensor<?x4x1x64xf16>, tensor<?x4x1xf32>
  return %o, %lse : tensor<?x4x1x64xf16>, tensor<?x4x1xf32>
}

// G = 2, Sq = 3: 6 rows; the window ends at each query's own position.
func.func @g2_window_sinks_sq3_bf16(%q: tensor<?x4x3x64xbf16>,
                                    %k: tensor<?x2x?x64xbf16>,
                                    %v: tensor<?x2x?x48xbf16>)
    -> (tensor<?x4x3x48xbf16>, tensor<?x4x3xf32>) {
  %o, %lse = attn.attention %q, %k, %v
      mask(#attn.or<[#attn.window<left = 40, right = 0, align = bottom_right>,
                     #attn.sinks<2>]>)
      : tensor<?x4x3x64xbf16>, tensor<?x2x?x64xbf16>, tensor<?x2x?x48xbf16>
      -> tensor<?x4x3x48xbf16>, tensor<?x4x3xf32>
  return %o, %lse : tensor<?x4x3x48xbf16>, tensor<?x4x3xf32>
}

// G = 4, f32 (tf32 mma): ALiBi's slope differs per row of the block.
func.func @g4_alibi_f32(%q: tensor<?x8x1x32xf32>, %k: tensor<?x2x?x32xf32>,
                        %v: tensor<?x2x?x32xf32>)
    -> (tensor<?x8x1x32xf32>, tensor<?x8x1xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>)
      score_mods([#attn.alibi])
      : tensor<?x8x1x32xf32>, tensor<?x2x?x32xf32>, tensor<?x2x?x32xf32>
      -> tensor<?x8x1x32xf32>, tensor<?x8x1xf32>
  return %o, %lse : tensor<?x8x1x32xf32>, tensor<?x8x1xf32>
}

// G = 8 (MQA), Sq = 3: 24 rows in two warps.
func.func @g8_softcap_sq3_bf16(%q: tensor<?x8x3x64xbf16>,
                               %k: tensor<?x1x?x64xbf16>,
                               %v: tensor<?x1x?x64xbf16>)
    -> (tensor<?x8x3x64xbf16>, tensor<?x8x3xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>)
      score_mods([#attn.softcap<30.0>]) allow_empty_rows
      : tensor<?x8x3x64xbf16>, tensor<?x1x?x64xbf16>, tensor<?x1x?x64xbf16>
      -> tensor<?x8x3x64xbf16>, tensor<?x8x3xf32>
  return %o, %lse : tensor<?x8x3x64xbf16>, tensor<?x8x3xf32>
}

// G = 4, Sq = 3: regions that read the head and the query position; with
// Skv = 1 the rows with (h + q) % 4 = 3 have no key.
func.func @g4_head_regions_f16(%q: tensor<?x8x3x64xf16>,
                               %k: tensor<?x2x?x64xf16>,
                               %v: tensor<?x2x?x64xf16>)
    -> (tensor<?x8x3x64xf16>, tensor<?x8x3xf32>) {
  %o, %lse = attn.attention %q, %k, %v allow_empty_rows
      score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %hi = arith.index_cast %h : index to i32
        %ii = arith.index_cast %i : index to i32
        %hf = arith.sitofp %hi : i32 to f32
        %if = arith.sitofp %ii : i32 to f32
        %c1 = arith.constant 0.25 : f32
        %c2 = arith.constant -0.5 : f32
        %a = arith.mulf %hf, %c1 : f32
        %c = arith.mulf %if, %c2 : f32
        %t = arith.addf %s, %a : f32
        %r = arith.addf %t, %c : f32
        attn.yield %r : f32
      }
      mask_mod {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %c4 = arith.constant 4 : index
        %c3 = arith.constant 3 : index
        %sum = arith.addi %h, %i : index
        %all = arith.addi %sum, %j : index
        %m = arith.remui %all, %c4 : index
        %ok = arith.cmpi ne, %m, %c3 : index
        attn.yield %ok : i1
      }
      : tensor<?x8x3x64xf16>, tensor<?x2x?x64xf16>, tensor<?x2x?x64xf16>
      -> tensor<?x8x3x64xf16>, tensor<?x8x3xf32>
  return %o, %lse : tensor<?x8x3x64xf16>, tensor<?x8x3xf32>
}

// G = 2, Sq = 3, f32 with D = 72 (query tile in shared memory).
func.func @g2_wide_f32_sq3(%q: tensor<?x4x3x72xf32>, %k: tensor<?x2x?x72xf32>,
                           %v: tensor<?x2x?x40xf32>)
    -> (tensor<?x4x3x40xf32>, tensor<?x4x3xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>)
      score_mods([#attn.alibi])
      : tensor<?x4x3x72xf32>, tensor<?x2x?x72xf32>, tensor<?x2x?x40xf32>
      -> tensor<?x4x3x40xf32>, tensor<?x4x3xf32>
  return %o, %lse : tensor<?x4x3x40xf32>, tensor<?x4x3xf32>
}

// Sq = 0: nothing to pack.
func.func @g3_no_queries_f32(%q: tensor<?x6x0x16xf32>, %k: tensor<?x2x?x16xf32>,
                             %v: tensor<?x2x?x16xf32>, %bias: tensor<1x1x1x?xf32>)
    -> (tensor<?x6x0x16xf32>, tensor<?x6x0xf32>) {
  %o, %lse = attn.attention %q, %k, %v bias(%bias : tensor<1x1x1x?xf32>)
      score_mods([#attn.bias, #attn.softcap<1.0e+06>]) score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %d = arith.subi %i, %j : index
        %di = arith.index_cast %d : index to i64
        %df = arith.sitofp %di : i64 to f32
        %c = arith.constant 0.0 : f32
        %p = arith.mulf %df, %c : f32
        %r = arith.addf %s, %p : f32
        attn.yield %r : f32
      }
      : tensor<?x6x0x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
      -> tensor<?x6x0x16xf32>, tensor<?x6x0xf32>
  return %o, %lse : tensor<?x6x0x16xf32>, tensor<?x6x0xf32>
}
