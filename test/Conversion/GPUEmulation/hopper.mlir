// The sm_90a family (FlashHopper: TMA tiles on mbarriers, wgmma, 64 query
// rows per warpgroup), emulated on the CPU against the float64 reference:
// its descriptors and swizzles are decoded as the hardware's, so a wrong
// layout fails here. One warpgroup and 16-key tiles keep the emulated code
// small, except where two warpgroups and longer tiles are the point.
// RUN: attn-run %s --entry causal_gqa_bf16 --target gpu-emulation --chip sm_90a --warps 4 --tile-kv 16 --random --seed 5 --dim B=2 --dim Sq=37 --dim Skv=45 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry documents_f16 --target gpu-emulation --chip sm_90a --warps 4 --tile-kv 16 --random --seed 7 --dim B=2 --dim Sq=70 --dim Skv=70 --check | FileCheck %s
// Two warpgroups (128 query rows; the 32-key tiles are tested below).
// RUN: attn-run %s --entry documents_f16 --target gpu-emulation --chip sm_90a --warps 8 --tile-kv 16 --random --seed 17 --dim B=1 --dim Sq=150 --dim Skv=150 --check | FileCheck %s
// RUN: attn-run %s --entry window_sinks_bf16 --target gpu-emulation --chip sm_90a --warps 4 --tile-kv 16 --random --seed 8 --dim Sq=29 --dim Skv=83 --check | FileCheck %s
// RUN: attn-run %s --entry neighborhood_2d_bf16 --target gpu-emulation --chip sm_90a --warps 4 --tile-kv 16 --random --seed 10 --check | FileCheck %s
// RUN: attn-run %s --entry softcap_alibi_bf16 --target gpu-emulation --chip sm_90a --warps 4 --tile-kv 32 --random --seed 11 --dim Sq=65 --dim Skv=90 --check | FileCheck %s
// RUN: attn-run %s --entry regions_f16 --target gpu-emulation --chip sm_90a --warps 4 --tile-kv 16 --random --seed 12 --check | FileCheck %s
// Head dimensions of one, two and four 64-column chunks (D = 256: one
// wgmma of N = 256 per 16 keys for P V), sizes that are not tile multiples.
// RUN: attn-run %s --entry dense_d64_bf16 --target gpu-emulation --chip sm_90a --warps 4 --tile-kv 32 --random --seed 13 --dim Sq=70 --dim Skv=77 --check | FileCheck %s
// RUN: attn-run %s --entry causal_d128_f16 --target gpu-emulation --chip sm_90a --warps 4 --tile-kv 32 --random --seed 14 --dim Sq=66 --dim Skv=66 --check | FileCheck %s
// RUN: attn-run %s --entry dense_d256_bf16 --target gpu-emulation --chip sm_90a --warps 4 --tile-kv 16 --random --seed 15 --dim Sq=20 --dim Skv=35 --check | FileCheck %s
// Rows that no key may see (bottom-right causal, Sq > Skv): zero outputs.
// RUN: attn-run %s --entry empty_rows_sigmoid_f16 --target gpu-emulation --chip sm_90a --warps 4 --tile-kv 16 --random --seed 16 --dim Sq=40 --dim Skv=21 --check | FileCheck %s
// CHECK: check o    max relative error {{.*}} ok
// LSE: check lse  max relative error {{.*}} ok

func.func @causal_gqa_bf16(%q: tensor<?x4x?x24xbf16>, %k: tensor<?x2x?x24xbf16>, %v: tensor<?x2x?x40xbf16>)
    -> (tensor<?x4x?x40xbf16>, tensor<?x4x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>)
      : tensor<?x4x?x24xbf16>, tensor<?x2x?x24xbf16>, tensor<?x2x?x40xbf16>
      -> tensor<?x4x?x40xbf16>, tensor<?x4x?xf32>
  return %o, %lse : tensor<?x4x?x40xbf16>, tensor<?x4x?xf32>
}

func.func @documents_f16(%q: tensor<?x2x?x32xf16>, %k: tensor<?x2x?x32xf16>,
                         %v: tensor<?x2x?x32xf16>,
                         %q_ids: tensor<?x?xi32>, %kv_ids: tensor<?x?xi32>)
    -> tensor<?x2x?x32xf16> {
  %o = attn.attention %q, %k, %v
      segments(%q_ids, %kv_ids : tensor<?x?xi32>, tensor<?x?xi32>)
      mask(#attn.and<[#attn.document, #attn.causal]>)
      : tensor<?x2x?x32xf16>, tensor<?x2x?x32xf16>, tensor<?x2x?x32xf16>
      -> tensor<?x2x?x32xf16>
  return %o : tensor<?x2x?x32xf16>
}

func.func @window_sinks_bf16(%q: tensor<1x3x?x16xbf16>, %k: tensor<1x1x?x16xbf16>, %v: tensor<1x1x?x16xbf16>)
    -> tensor<1x3x?x16xbf16> {
  %o = attn.attention %q, %k, %v
      mask(#attn.or<[#attn.window<left = 20, right = 0, align = bottom_right>, #attn.sinks<2>]>)
      : tensor<1x3x?x16xbf16>, tensor<1x1x?x16xbf16>, tensor<1x1x?x16xbf16> -> tensor<1x3x?x16xbf16>
  return %o : tensor<1x3x?x16xbf16>
}

func.func @neighborhood_2d_bf16(%q: tensor<1x2x54x16xbf16>, %k: tensor<1x2x54x16xbf16>, %v: tensor<1x2x54x16xbf16>)
    -> tensor<1x2x54x16xbf16> {
  %o = attn.attention %q, %k, %v mask(#attn.neighborhood<grid = [6, 9], kernel = [5, 5]>)
      : tensor<1x2x54x16xbf16>, tensor<1x2x54x16xbf16>, tensor<1x2x54x16xbf16> -> tensor<1x2x54x16xbf16>
  return %o : tensor<1x2x54x16xbf16>
}

func.func @softcap_alibi_bf16(%q: tensor<1x4x?x32xbf16>, %k: tensor<1x4x?x32xbf16>, %v: tensor<1x4x?x32xbf16>)
    -> tensor<1x4x?x32xbf16> {
  %o = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>)
      score_mods([#attn.alibi, #attn.softcap<5.0>])
      : tensor<1x4x?x32xbf16>, tensor<1x4x?x32xbf16>, tensor<1x4x?x32xbf16> -> tensor<1x4x?x32xbf16>
  return %o : tensor<1x4x?x32xbf16>
}

// A mask_mod and a score_mod region reading a captured tensor.
func.func @regions_f16(%q: tensor<1x2x33x16xf16>, %k: tensor<1x2x33x16xf16>,
                       %v: tensor<1x2x33x16xf16>, %penalty: tensor<2xf32>)
    -> tensor<1x2x33x16xf16> {
  %o = attn.attention %q, %k, %v mask(#attn.causal)
      score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %d = arith.subi %i, %j : index
        %di = arith.index_cast %d : index to i64
        %df = arith.sitofp %di : i64 to f32
        %p = tensor.extract %penalty[%h] : tensor<2xf32>
        %scaled = arith.mulf %df, %p : f32
        %r = arith.subf %s, %scaled : f32
        attn.yield %r : f32
      }
      mask_mod {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %c3 = arith.constant 3 : index
        %m = arith.remui %j, %c3 : index
        %c0 = arith.constant 0 : index
        %keep = arith.cmpi ne, %m, %c0 : index
        %diag = arith.cmpi eq, %i, %j : index
        %ok = arith.ori %keep, %diag : i1
        attn.yield %ok : i1
      }
      : tensor<1x2x33x16xf16>, tensor<1x2x33x16xf16>, tensor<1x2x33x16xf16>
      -> tensor<1x2x33x16xf16>
  return %o : tensor<1x2x33x16xf16>
}

func.func @dense_d64_bf16(%q: tensor<1x2x?x64xbf16>, %k: tensor<1x1x?x64xbf16>, %v: tensor<1x1x?x64xbf16>)
    -> tensor<1x2x?x64xbf16> {
  %o = attn.attention %q, %k, %v
      : tensor<1x2x?x64xbf16>, tensor<1x1x?x64xbf16>, tensor<1x1x?x64xbf16> -> tensor<1x2x?x64xbf16>
  return %o : tensor<1x2x?x64xbf16>
}

func.func @causal_d128_f16(%q: tensor<1x1x?x128xf16>, %k: tensor<1x1x?x128xf16>, %v: tensor<1x1x?x128xf16>)
    -> tensor<1x1x?x128xf16> {
  %o = attn.attention %q, %k, %v mask(#attn.causal)
      : tensor<1x1x?x128xf16>, tensor<1x1x?x128xf16>, tensor<1x1x?x128xf16> -> tensor<1x1x?x128xf16>
  return %o : tensor<1x1x?x128xf16>
}

func.func @dense_d256_bf16(%q: tensor<1x1x?x256xbf16>, %k: tensor<1x1x?x256xbf16>, %v: tensor<1x1x?x256xbf16>)
    -> tensor<1x1x?x256xbf16> {
  %o = attn.attention %q, %k, %v
      : tensor<1x1x?x256xbf16>, tensor<1x1x?x256xbf16>, tensor<1x1x?x256xbf16> -> tensor<1x1x?x256xbf16>
  return %o : tensor<1x1x?x256xbf16>
}

func.func @empty_rows_sigmoid_f16(%q: tensor<1x2x?x16xf16>, %k: tensor<1x2x?x16xf16>, %v: tensor<1x2x?x16xf16>)
    -> tensor<1x2x?x16xf16> {
  %o = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>)
      normalization(#attn.sigmoid) allow_empty_rows
      : tensor<1x2x?x16xf16>, tensor<1x2x?x16xf16>, tensor<1x2x?x16xf16> -> tensor<1x2x?x16xf16>
  return %o : tensor<1x2x?x16xf16>
}
