// Documents (segment ids read by warp-wide min/max), f16, emulated.
// RUN: attn-run %s --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 11 --dim B=2 --dim Sq=70 --dim Skv=70 --check | FileCheck %s
// Two warps and 32-key tiles: rows split across warps, copies across 64 threads.
// RUN: attn-run %s --target gpu-emulation --warps 2 --tile-kv 32 --random --seed 12 --dim B=1 --dim Sq=97 --dim Skv=97 --check | FileCheck %s
// CHECK: check o    max relative error {{.*}} ok

func.func @packed(%q: tensor<?x2x?x32xf16>, %k: tensor<?x2x?x32xf16>,
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
