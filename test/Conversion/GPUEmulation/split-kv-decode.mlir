// Split-KV decoding (flash-decoding), emulated on the CPU against the float64
// reference: a block per (query tile, key split) writes f32 partials and
// their lse, the merge kernel combines them. Few queries (Sq = 1, 4, 16),
// GQA 8:1 and MQA, bf16 and f16, at odd key lengths; the emulated device's
// multiprocessor count sets how many splits there are (the formula of the
// launch plan). Splits the mask leaves empty (window + sinks) write lse =
// -inf and merge to nothing; rows with no key at all give o = 0.
//
// RUN: attn-run %s --entry causal_gqa --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 21 --dim B=2 --dim Skv=4099 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry causal_gqa --target gpu-emulation --warps 1 --tile-kv 16 --multiprocessors 1 --random --seed 22 --dim B=1 --dim Skv=203 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry window_sinks_mqa --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 23 --dim B=2 --dim Skv=1533 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry documents --target gpu-emulation --warps 1 --tile-kv 32 --random --seed 24 --dim B=2 --dim Skv=777 --check | FileCheck %s
// RUN: attn-run %s --entry alibi_f16 --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 25 --dim B=1 --dim Skv=32771 --check | FileCheck %s
// Sq = 4 with the window's bottom-right end past a split's keys: forced
// splits even where auto would not split.
// RUN: attn-run %s --entry window_sinks_mqa --target gpu-emulation --warps 1 --tile-kv 16 --split-kv always --random --seed 26 --dim B=1 --dim Skv=40 --check | FileCheck %s --check-prefixes=CHECK,LSE
// No keys at all (every split empty), and Sq > Skv under bottom-right causal
// (the first rows have no key): o = 0, lse = -inf.
// RUN: attn-run %s --entry causal_gqa --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 27 --dim B=2 --dim Skv=0 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry causal_sq16_f16 --target gpu-emulation --warps 1 --tile-kv 16 --split-kv always --random --seed 28 --dim B=2 --dim Skv=9 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry causal_sq16_f16 --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 29 --dim B=1 --dim Skv=2500 --check | FileCheck %s --check-prefixes=CHECK,LSE
// CHECK: check o    max relative error {{.*}} ok
// LSE:   check lse  max relative error {{.*}} ok

func.func @causal_gqa(%q: tensor<?x8x1x64xbf16>, %k: tensor<?x1x?x64xbf16>,
                      %v: tensor<?x1x?x64xbf16>)
    -> (tensor<?x8x1x64xbf16>, tensor<?x8x1xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>)
      : tensor<?x8x1x64xbf16>, tensor<?x1x?x64xbf16>, tensor<?x1x?x64xbf16>
      -> tensor<?x8x1x64xbf16>, tensor<?x8x1xf32>
  return %o, %lse : tensor<?x8x1x64xbf16>, tensor<?x8x1xf32>
}

func.func @window_sinks_mqa(%q: tensor<?x8x4x32xf16>, %k: tensor<?x1x?x32xf16>,
                            %v: tensor<?x1x?x40xf16>)
    -> (tensor<?x8x4x40xf16>, tensor<?x8x4xf32>) {
  %o, %lse = attn.attention %q, %k, %v
      mask(#attn.or<[#attn.window<left = 100, right = 0, align = bottom_right>,
                     #attn.sinks<4>]>)
      : tensor<?x8x4x32xf16>, tensor<?x1x?x32xf16>, tensor<?x1x?x40xf16>
      -> tensor<?x8x4x40xf16>, tensor<?x8x4xf32>
  return %o, %lse : tensor<?x8x4x40xf16>, tensor<?x8x4xf32>
}

func.func @documents(%q: tensor<?x8x16x64xbf16>, %k: tensor<?x1x?x64xbf16>,
                     %v: tensor<?x1x?x64xbf16>,
                     %q_ids: tensor<?x16xi32>, %kv_ids: tensor<?x?xi32>)
    -> tensor<?x8x16x64xbf16> {
  %o = attn.attention %q, %k, %v
      segments(%q_ids, %kv_ids : tensor<?x16xi32>, tensor<?x?xi32>)
      mask(#attn.document) allow_empty_rows
      : tensor<?x8x16x64xbf16>, tensor<?x1x?x64xbf16>, tensor<?x1x?x64xbf16>
      -> tensor<?x8x16x64xbf16>
  return %o : tensor<?x8x16x64xbf16>
}

func.func @alibi_f16(%q: tensor<?x8x1x64xf16>, %k: tensor<?x1x?x64xf16>,
                     %v: tensor<?x1x?x64xf16>)
    -> tensor<?x8x1x64xf16> {
  %o = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>)
      score_mods([#attn.alibi])
      : tensor<?x8x1x64xf16>, tensor<?x1x?x64xf16>, tensor<?x1x?x64xf16>
      -> tensor<?x8x1x64xf16>
  return %o : tensor<?x8x1x64xf16>
}

func.func @causal_sq16_f16(%q: tensor<?x16x16x128xf16>, %k: tensor<?x2x?x128xf16>,
                           %v: tensor<?x2x?x128xf16>)
    -> (tensor<?x16x16x128xf16>, tensor<?x16x16xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>)
      : tensor<?x16x16x128xf16>, tensor<?x2x?x128xf16>, tensor<?x2x?x128xf16>
      -> tensor<?x16x16x128xf16>, tensor<?x16x16xf32>
  return %o, %lse : tensor<?x16x16x128xf16>, tensor<?x16x16xf32>
}
