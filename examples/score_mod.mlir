// A free-form score_mod region (FlexAttention's score_mod): a per-head
// learned distance penalty read from a tensor the region captures.
// Regions take (score : f32, b, h, q_idx, kv_idx : index) and yield f32.
// RUN: attn-run %s --random --seed 1 --check

func.func @score_mod(%q: tensor<1x4x120x32xf32>, %k: tensor<1x4x120x32xf32>,
                     %v: tensor<1x4x120x32xf32>, %penalty: tensor<4xf32>)
    -> tensor<1x4x120x32xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.causal)
      score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %d = arith.subi %i, %j : index
        %di = arith.index_cast %d : index to i64
        %df = arith.sitofp %di : i64 to f32
        %p = tensor.extract %penalty[%h] : tensor<4xf32>
        %scaled = arith.mulf %df, %p : f32
        %r = arith.subf %s, %scaled : f32
        attn.yield %r : f32
      }
      : tensor<1x4x120x32xf32>, tensor<1x4x120x32xf32>, tensor<1x4x120x32xf32>
      -> tensor<1x4x120x32xf32>
  return %o : tensor<1x4x120x32xf32>
}
