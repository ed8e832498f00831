// The backward launch plan of attn-to-gpu (delta, the key/value kernel,
// the query kernel), emulated on the CPU one block at a time at odd sizes,
// against the float64 reference backward. attn-run --random takes o and lse
// from the spec's forward (on the CPU). One or two warps and 16- or 32-row
// tiles keep the emulated code small; the kernels' logic is the same at
// any size.
// RUN: attn-run %s --entry causal_gqa_bf16 --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 5 --dim B=1 --dim Sq=37 --dim Skv=45 --check | FileCheck %s
// RUN: attn-run %s --entry documents_f16 --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 7 --dim B=2 --dim Sq=50 --dim Skv=50 --check | FileCheck %s
// RUN: attn-run %s --entry window_sinks_bf16 --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 8 --dim Sq=29 --dim Skv=83 --check | FileCheck %s
// RUN: attn-run %s --entry softcap_region_f16 --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 9 --dim Sq=40 --dim Skv=23 --check | FileCheck %s
// RUN: attn-run %s --entry neighborhood_2d_bf16 --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 10 --check | FileCheck %s
// RUN: attn-run %s --entry alibi_bias_f32 --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 11 --dim Sq=21 --dim Skv=35 --check --tolerance 5e-3 | FileCheck %s --check-prefixes=CHECK,BIAS
// RUN: attn-run %s --entry key_bias_bf16 --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 13 --dim B=2 --dim Sq=18 --dim Skv=33 --check | FileCheck %s --check-prefixes=CHECK,BIAS
// RUN: attn-run %s --entry empty_rows_sigmoid_f16 --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 12 --dim Sq=41 --dim Skv=19 --check | FileCheck %s
// CHECK: check grad_q max relative error {{.*}} ok
// CHECK: check grad_k max relative error {{.*}} ok
// CHECK: check grad_v max relative error {{.*}} ok
// BIAS: check grad_bias max relative error {{.*}} ok

// Causal (bottom right) GQA, 2 query heads per key/value head; D = 24 and
// Dv = 40 are padded to the mma's k inside the kernels.
func.func @causal_gqa_bf16(%q: tensor<?x4x?x24xbf16>, %k: tensor<?x2x?x24xbf16>, %v: tensor<?x2x?x40xbf16>,
                           %o: tensor<?x4x?x40xbf16>, %do: tensor<?x4x?x40xbf16>, %lse: tensor<?x4x?xf32>)
    -> (tensor<?x4x?x24xbf16>, tensor<?x2x?x24xbf16>, tensor<?x2x?x40xbf16>) {
  %dq, %dk, %dv = attn.attention_backward %q, %k, %v, %o, %do lse(%lse : tensor<?x4x?xf32>)
      mask(#attn.causal<align = bottom_right>) allow_empty_rows
      : tensor<?x4x?x24xbf16>, tensor<?x2x?x24xbf16>, tensor<?x2x?x40xbf16>, tensor<?x4x?x40xbf16>, tensor<?x4x?x40xbf16>
      -> tensor<?x4x?x24xbf16>, tensor<?x2x?x24xbf16>, tensor<?x2x?x40xbf16>
  return %dq, %dk, %dv : tensor<?x4x?x24xbf16>, tensor<?x2x?x24xbf16>, tensor<?x2x?x40xbf16>
}

// Packed documents (segment ids, tile ranges by warp-wide min/max), causal.
func.func @documents_f16(%q: tensor<?x2x?x32xf16>, %k: tensor<?x2x?x32xf16>, %v: tensor<?x2x?x32xf16>,
                         %o: tensor<?x2x?x32xf16>, %do: tensor<?x2x?x32xf16>, %lse: tensor<?x2x?xf32>,
                         %q_ids: tensor<?x?xi32>, %kv_ids: tensor<?x?xi32>)
    -> (tensor<?x2x?x32xf16>, tensor<?x2x?x32xf16>, tensor<?x2x?x32xf16>) {
  %dq, %dk, %dv = attn.attention_backward %q, %k, %v, %o, %do lse(%lse : tensor<?x2x?xf32>)
      segments(%q_ids, %kv_ids : tensor<?x?xi32>, tensor<?x?xi32>)
      mask(#attn.and<[#attn.document, #attn.causal]>) allow_empty_rows
      : tensor<?x2x?x32xf16>, tensor<?x2x?x32xf16>, tensor<?x2x?x32xf16>, tensor<?x2x?x32xf16>, tensor<?x2x?x32xf16>
      -> tensor<?x2x?x32xf16>, tensor<?x2x?x32xf16>, tensor<?x2x?x32xf16>
  return %dq, %dk, %dv : tensor<?x2x?x32xf16>, tensor<?x2x?x32xf16>, tensor<?x2x?x32xf16>
}

// A sliding window with attention sinks, MQA.
func.func @window_sinks_bf16(%q: tensor<1x3x?x16xbf16>, %k: tensor<1x1x?x16xbf16>, %v: tensor<1x1x?x16xbf16>,
                             %o: tensor<1x3x?x16xbf16>, %do: tensor<1x3x?x16xbf16>, %lse: tensor<1x3x?xf32>)
    -> (tensor<1x3x?x16xbf16>, tensor<1x1x?x16xbf16>, tensor<1x1x?x16xbf16>) {
  %dq, %dk, %dv = attn.attention_backward %q, %k, %v, %o, %do lse(%lse : tensor<1x3x?xf32>)
      mask(#attn.or<[#attn.window<left = 20, right = 0, align = bottom_right>, #attn.sinks<2>]>)
      : tensor<1x3x?x16xbf16>, tensor<1x1x?x16xbf16>, tensor<1x1x?x16xbf16>, tensor<1x3x?x16xbf16>, tensor<1x3x?x16xbf16>
      -> tensor<1x3x?x16xbf16>, tensor<1x1x?x16xbf16>, tensor<1x1x?x16xbf16>
  return %dq, %dk, %dv : tensor<1x3x?x16xbf16>, tensor<1x1x?x16xbf16>, tensor<1x1x?x16xbf16>
}

// Gemma-style softcapping written as a score_mod region: its derivative
// (1 - tanh^2) comes from differentiating the region.
func.func @softcap_region_f16(%q: tensor<1x2x?x32xf16>, %k: tensor<1x2x?x32xf16>, %v: tensor<1x2x?x32xf16>,
                              %o: tensor<1x2x?x32xf16>, %do: tensor<1x2x?x32xf16>, %lse: tensor<1x2x?xf32>)
    -> (tensor<1x2x?x32xf16>, tensor<1x2x?x32xf16>, tensor<1x2x?x32xf16>) {
  %dq, %dk, %dv = attn.attention_backward %q, %k, %v, %o, %do lse(%lse : tensor<1x2x?xf32>)
      score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %cap = arith.constant 2.0 : f32
        %x = arith.divf %s, %cap : f32
        %t = math.tanh %x : f32
        %r = arith.mulf %t, %cap : f32
        attn.yield %r : f32
      }
      : tensor<1x2x?x32xf16>, tensor<1x2x?x32xf16>, tensor<1x2x?x32xf16>, tensor<1x2x?x32xf16>, tensor<1x2x?x32xf16>
      -> tensor<1x2x?x32xf16>, tensor<1x2x?x32xf16>, tensor<1x2x?x32xf16>
  return %dq, %dk, %dv : tensor<1x2x?x32xf16>, tensor<1x2x?x32xf16>, tensor<1x2x?x32xf16>
}

// A 5x5 neighborhood on a 6x9 grid (54 tokens: not a tile multiple).
func.func @neighborhood_2d_bf16(%q: tensor<1x2x54x16xbf16>, %k: tensor<1x2x54x16xbf16>, %v: tensor<1x2x54x16xbf16>,
                                %o: tensor<1x2x54x16xbf16>, %do: tensor<1x2x54x16xbf16>, %lse: tensor<1x2x54xf32>)
    -> (tensor<1x2x54x16xbf16>, tensor<1x2x54x16xbf16>, tensor<1x2x54x16xbf16>) {
  %dq, %dk, %dv = attn.attention_backward %q, %k, %v, %o, %do lse(%lse : tensor<1x2x54xf32>)
      mask(#attn.neighborhood<grid = [6, 9], kernel = [5, 5]>)
      : tensor<1x2x54x16xbf16>, tensor<1x2x54x16xbf16>, tensor<1x2x54x16xbf16>, tensor<1x2x54x16xbf16>, tensor<1x2x54x16xbf16>
      -> tensor<1x2x54x16xbf16>, tensor<1x2x54x16xbf16>, tensor<1x2x54x16xbf16>
  return %dq, %dk, %dv : tensor<1x2x54x16xbf16>, tensor<1x2x54x16xbf16>, tensor<1x2x54x16xbf16>
}

// ALiBi and a learned bias of one element per score, whose gradient the
// query kernel writes at each visited score (tf32 tensor cores: f32).
func.func @alibi_bias_f32(%q: tensor<1x2x?x16xf32>, %k: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x16xf32>,
                          %o: tensor<1x2x?x16xf32>, %do: tensor<1x2x?x16xf32>, %lse: tensor<1x2x?xf32>,
                          %bias: tensor<1x2x?x?xf32>)
    -> (tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x?xf32>) {
  %dq, %dk, %dv, %db = attn.attention_backward %q, %k, %v, %o, %do lse(%lse : tensor<1x2x?xf32>)
      bias(%bias : tensor<1x2x?x?xf32>) mask(#attn.causal)
      score_mods([#attn.alibi, #attn.bias])
      : tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>
      -> tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x?xf32>
  return %dq, %dk, %dv, %db : tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x?xf32>
}

// A bias broadcast over heads and queries ([B, 1, 1, Skv], e.g. a learned
// key-padding bias): the query kernel writes each score's gradient into an
// f32 workspace, which backward_bias_reduce sums over the broadcast
// dimensions.
func.func @key_bias_bf16(%q: tensor<?x2x?x16xbf16>, %k: tensor<?x2x?x16xbf16>, %v: tensor<?x2x?x16xbf16>,
                         %o: tensor<?x2x?x16xbf16>, %do: tensor<?x2x?x16xbf16>, %lse: tensor<?x2x?xf32>,
                         %bias: tensor<?x1x1x?xbf16>)
    -> (tensor<?x2x?x16xbf16>, tensor<?x2x?x16xbf16>, tensor<?x2x?x16xbf16>, tensor<?x1x1x?xbf16>) {
  %dq, %dk, %dv, %db = attn.attention_backward %q, %k, %v, %o, %do lse(%lse : tensor<?x2x?xf32>)
      bias(%bias : tensor<?x1x1x?xbf16>) score_mods([#attn.bias])
      : tensor<?x2x?x16xbf16>, tensor<?x2x?x16xbf16>, tensor<?x2x?x16xbf16>, tensor<?x2x?x16xbf16>, tensor<?x2x?x16xbf16>
      -> tensor<?x2x?x16xbf16>, tensor<?x2x?x16xbf16>, tensor<?x2x?x16xbf16>, tensor<?x1x1x?xbf16>
  return %dq, %dk, %dv, %db : tensor<?x2x?x16xbf16>, tensor<?x2x?x16xbf16>, tensor<?x2x?x16xbf16>, tensor<?x1x1x?xbf16>
}

// Sigmoid weights (no lse, no delta) and rows with no key: with Sq > Skv a
// bottom-right causal mask leaves the first Sq - Skv queries empty; their
// grad_q is 0, not NaN.
func.func @empty_rows_sigmoid_f16(%q: tensor<1x2x?x16xf16>, %k: tensor<1x2x?x16xf16>, %v: tensor<1x2x?x16xf16>,
                                  %o: tensor<1x2x?x16xf16>, %do: tensor<1x2x?x16xf16>)
    -> (tensor<1x2x?x16xf16>, tensor<1x2x?x16xf16>, tensor<1x2x?x16xf16>) {
  %dq, %dk, %dv = attn.attention_backward %q, %k, %v, %o, %do
      mask(#attn.causal<align = bottom_right>) normalization(#attn.sigmoid) allow_empty_rows
      : tensor<1x2x?x16xf16>, tensor<1x2x?x16xf16>, tensor<1x2x?x16xf16>, tensor<1x2x?x16xf16>, tensor<1x2x?x16xf16>
      -> tensor<1x2x?x16xf16>, tensor<1x2x?x16xf16>, tensor<1x2x?x16xf16>
  return %dq, %dk, %dv : tensor<1x2x?x16xf16>, tensor<1x2x?x16xf16>, tensor<1x2x?x16xf16>
}
