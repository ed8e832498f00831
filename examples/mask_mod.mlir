// A free-form mask_mod region, ANDed with the mask attribute: causal
// attention in which queries see only keys of the same parity (an arbitrary
// rule no attribute spells). Regions take (b, h, q_idx, kv_idx : index).
// RUN: attn-run %s --random --seed 1 --check

func.func @parity(%q: tensor<1x4x130x32xf32>, %k: tensor<1x4x130x32xf32>,
                  %v: tensor<1x4x130x32xf32>) -> tensor<1x4x130x32xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.causal)
      mask_mod {
      ^bb0(%b: index, %h: index, %i: index, %j: index):
        %c2 = arith.constant 2 : index
        %pi = arith.remui %i, %c2 : index
        %pj = arith.remui %j, %c2 : index
        %same = arith.cmpi eq, %pi, %pj : index
        attn.yield %same : i1
      }
      : tensor<1x4x130x32xf32>, tensor<1x4x130x32xf32>, tensor<1x4x130x32xf32>
      -> tensor<1x4x130x32xf32>
  return %o : tensor<1x4x130x32xf32>
}
