// A mask_mod and a score_mod region reading a captured tensor, emulated.
// RUN: attn-run %s --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 8 --check | FileCheck %s
// CHECK: check o    max relative error {{.*}} ok

func.func @regions(%q: tensor<1x2x33x16xf16>, %k: tensor<1x2x33x16xf16>,
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
