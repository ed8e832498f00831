// Shards of a longer attention (the `positions` operand, ring attention):
// the tiled CPU kernel, whose tile classes and key ranges come from global
// positions, against the float64 reference, which evaluates the mask at
// every score. attn-run --random places each shard before, across or after
// the causal diagonal (so some rows have no key) in sequences up to three
// times longer; segment ids and the bias stay the shard's own.
// RUN: attn-run %s --entry causal_alibi_gqa --random --seed 1 --dim Sq=37 --dim Skv=53 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry causal_alibi_gqa --random --seed 2 --dim Sq=64 --dim Skv=64 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry causal_alibi_gqa --random --seed 3 --dim Sq=130 --dim Skv=7 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry window_sinks_bottom_right --random --seed 4 --dim Sq=45 --dim Skv=99 --check | FileCheck %s
// RUN: attn-run %s --entry window_sinks_bottom_right --random --seed 5 --dim Sq=1 --dim Skv=200 --check | FileCheck %s
// RUN: attn-run %s --entry window --random --seed 10 --dim Sq=90 --dim Skv=70 --check | FileCheck %s
// RUN: attn-run %s --entry window --random --seed 11 --dim Sq=90 --dim Skv=70 --check | FileCheck %s
// RUN: attn-run %s --entry documents_softcap --random --seed 6 --dim Sq=70 --dim Skv=81 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry bias_prefix_lm --random --seed 27 --dim Sq=33 --dim Skv=65 --check | FileCheck %s
// RUN: attn-run %s --entry regions --random --seed 8 --dim Sq=50 --dim Skv=50 --check | FileCheck %s
// RUN: attn-run %s --entry causal_backward --random --seed 9 --dim Sq=41 --dim Skv=66 --check | FileCheck %s --check-prefix=GRAD
// The GPU kernels (the flash family, split-KV decoding, the backward), run
// by the emulator.
// RUN: attn-run %s --entry causal_alibi_gqa --target gpu-emulation --tolerance 5e-3 --warps 1 --tile-kv 16 --random --seed 1 --dim Sq=37 --dim Skv=53 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry causal_alibi_gqa --target gpu-emulation --tolerance 5e-3 --warps 1 --tile-kv 16 --split-kv always --random --seed 3 --dim Sq=5 --dim Skv=90 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry documents_softcap --target gpu-emulation --tolerance 5e-3 --warps 1 --tile-kv 16 --random --seed 6 --dim Sq=70 --dim Skv=81 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry causal_backward --target gpu-emulation --tolerance 5e-3 --warps 1 --tile-kv 16 --random --seed 9 --dim Sq=41 --dim Skv=66 --check | FileCheck %s --check-prefix=GRAD
// CHECK: check o    max relative error {{.*}} ok
// LSE:   check lse  max relative error {{.*}} ok
// GRAD: check grad_q max relative error {{.*}} ok
// GRAD: check grad_k max relative error {{.*}} ok
// GRAD: check grad_v max relative error {{.*}} ok

func.func @causal_alibi_gqa(%q: tensor<2x4x?x32xf32>, %k: tensor<2x2x?x32xf32>, %v: tensor<2x2x?x24xf32>,
                            %p: tensor<4xi64>) -> (tensor<2x4x?x24xf32>, tensor<2x4x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v positions(%p : tensor<4xi64>) mask(#attn.causal)
      score_mods([#attn.alibi]) allow_empty_rows
      : tensor<2x4x?x32xf32>, tensor<2x2x?x32xf32>, tensor<2x2x?x24xf32> -> tensor<2x4x?x24xf32>, tensor<2x4x?xf32>
  return %o, %lse : tensor<2x4x?x24xf32>, tensor<2x4x?xf32>
}

// Bottom-right alignment aligns to the totals.
func.func @window_sinks_bottom_right(%q: tensor<1x2x?x16xbf16>, %k: tensor<1x2x?x16xbf16>, %v: tensor<1x2x?x16xbf16>,
                                     %p: tensor<4xi32>) -> tensor<1x2x?x16xbf16> {
  %o = attn.attention %q, %k, %v positions(%p : tensor<4xi32>)
      mask(#attn.or<[#attn.window<left = 20, right = 0, align = bottom_right>, #attn.sinks<5>]>) allow_empty_rows
      : tensor<1x2x?x16xbf16>, tensor<1x2x?x16xbf16>, tensor<1x2x?x16xbf16> -> tensor<1x2x?x16xbf16>
  return %o : tensor<1x2x?x16xbf16>
}

func.func @window(%q: tensor<1x2x?x16xf32>, %k: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x16xf32>,
                  %p: tensor<4xi64>) -> tensor<1x2x?x16xf32> {
  %o = attn.attention %q, %k, %v positions(%p : tensor<4xi64>)
      mask(#attn.window<left = 20, right = 5>) allow_empty_rows
      : tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32> -> tensor<1x2x?x16xf32>
  return %o : tensor<1x2x?x16xf32>
}

func.func @documents_softcap(%q: tensor<2x2x?x16xf32>, %k: tensor<2x2x?x16xf32>, %v: tensor<2x2x?x16xf32>,
                             %qs: tensor<2x?xi32>, %ks: tensor<2x?xi32>, %p: tensor<4xi64>)
    -> (tensor<2x2x?x16xf32>, tensor<2x2x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v segments(%qs, %ks : tensor<2x?xi32>, tensor<2x?xi32>)
      positions(%p : tensor<4xi64>) mask(#attn.and<[#attn.document, #attn.causal]>)
      score_mods([#attn.softcap<20.0>]) allow_empty_rows
      : tensor<2x2x?x16xf32>, tensor<2x2x?x16xf32>, tensor<2x2x?x16xf32> -> tensor<2x2x?x16xf32>, tensor<2x2x?xf32>
  return %o, %lse : tensor<2x2x?x16xf32>, tensor<2x2x?xf32>
}

func.func @bias_prefix_lm(%q: tensor<1x3x?x8xf32>, %k: tensor<1x3x?x8xf32>, %v: tensor<1x3x?x8xf32>,
                          %bias: tensor<1x3x?x?xf32>, %p: tensor<4xi64>) -> tensor<1x3x?x8xf32> {
  %o = attn.attention %q, %k, %v bias(%bias : tensor<1x3x?x?xf32>) positions(%p : tensor<4xi64>)
      mask(#attn.prefix_lm<40>) score_mods([#attn.bias]) allow_empty_rows
      : tensor<1x3x?x8xf32>, tensor<1x3x?x8xf32>, tensor<1x3x?x8xf32> -> tensor<1x3x?x8xf32>
  return %o : tensor<1x3x?x8xf32>
}

// The regions see global positions.
func.func @regions(%q: tensor<1x2x?x16xf32>, %k: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x16xf32>,
                   %p: tensor<4xi64>) -> tensor<1x2x?x16xf32> {
  %o = attn.attention %q, %k, %v positions(%p : tensor<4xi64>) allow_empty_rows
      score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %d = arith.subi %i, %j : index
        %di = arith.index_cast %d : index to i64
        %df = arith.sitofp %di : i64 to f32
        %c = arith.constant 0.01 : f32
        %m = arith.mulf %df, %c : f32
        %r = arith.subf %s, %m : f32
        attn.yield %r : f32
      }
      mask_mod {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %c3 = arith.constant 3 : index
        %im = arith.remui %i, %c3 : index
        %jm = arith.remui %j, %c3 : index
        %ne = arith.cmpi ne, %im, %jm : index
        %le = arith.cmpi ule, %j, %i : index
        %a = arith.andi %ne, %le : i1
        attn.yield %a : i1
      }
      : tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32> -> tensor<1x2x?x16xf32>
  return %o : tensor<1x2x?x16xf32>
}

func.func @causal_backward(%q: tensor<1x4x?x16xf32>, %k: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x16xf32>,
                           %p: tensor<4xi64>, %o: tensor<1x4x?x16xf32>, %grad_o: tensor<1x4x?x16xf32>,
                           %lse: tensor<1x4x?xf32>)
    -> (tensor<1x4x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>) {
  %dq, %dk, %dv = attn.attention_backward %q, %k, %v, %o, %grad_o lse(%lse : tensor<1x4x?xf32>)
      positions(%p : tensor<4xi64>) mask(#attn.causal) score_mods([#attn.alibi]) allow_empty_rows
      : tensor<1x4x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x4x?x16xf32>, tensor<1x4x?x16xf32>
      -> tensor<1x4x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>
  return %dq, %dk, %dv : tensor<1x4x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>
}
