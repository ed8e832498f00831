// RUN: attn-opt %s -split-input-file --attn-decompose --canonicalize --cse | FileCheck %s

// The softmax backward: P = exp(s - lse) (0 for masked scores), dP =
// grad_o . v^T, delta = rowsum(grad_o * o), dS = P * (dP - delta); the
// softcap's derivative 1 - tanh^2 comes from differentiating its code;
// grad_k and grad_v sum over the query heads of each key/value head through
// [B, Hkv, G, ...] views; grad_bias sums over the bias's broadcast
// dimensions.

// CHECK-LABEL: func @softmax_gqa_bias
// CHECK-DAG: %[[NEG_INF:.*]] = arith.constant 0xFF800000 : f32
// CHECK-DAG: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// Scores, then P with a select for masked entries.
// CHECK: %[[DOTS:.*]] = linalg.generic {{.*}} ins(%arg0, %arg1 :
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %arg5 : tensor<1x4x9x7xf32>, tensor<1x4x9xf32>)
// CHECK:   arith.cmpf oeq, %{{.*}}, %[[NEG_INF]]
// CHECK:   math.exp
// CHECK:   arith.select
// delta = rowsum(grad_o * o)
// CHECK: linalg.generic {{.*}} ins(%arg4, %arg3 : tensor<1x4x9x8xf32>, tensor<1x4x9x8xf32>)
// CHECK: arith.subf
// dX: the softcap's tangent (tanh' = 1 - tanh^2) times dS, 0 where masked.
// CHECK: linalg.generic {{.*}} ins(%[[DOTS]], %{{.*}} : tensor<1x4x9x7xf32>, tensor<1x4x9x7xf32>)
// CHECK:   %[[T:.*]] = math.tanh
// CHECK:   %[[T2:.*]] = arith.mulf %[[T]], %[[T]]
// CHECK:   arith.subf %[[ONE]], %[[T2]]
// CHECK:   arith.select
// grad_q, then grad_k and grad_v over the grouped views.
// CHECK: tensor.expand_shape %arg0 {{.*}} output_shape [1, 2, 2, 9, 16]
// CHECK: tensor.expand_shape {{.*}} output_shape [1, 2, 2, 9, 7]
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]
// grad_bias: summed over B and H (size 1 in the bias), then reshaped.
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction", "reduction", "parallel", "parallel"]
// CHECK-SAME: outs(%{{.*}} : tensor<9x7xf32>)
// CHECK: return %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<1x4x9x16xf32>, tensor<1x2x7x16xf32>, tensor<1x2x7x8xf32>, tensor<1x1x9x7xf32>
func.func @softmax_gqa_bias(%q: tensor<1x4x9x16xf32>, %k: tensor<1x2x7x16xf32>, %v: tensor<1x2x7x8xf32>,
              %o: tensor<1x4x9x8xf32>, %do: tensor<1x4x9x8xf32>, %lse: tensor<1x4x9xf32>, %bias: tensor<1x1x9x7xf32>)
    -> (tensor<1x4x9x16xf32>, tensor<1x2x7x16xf32>, tensor<1x2x7x8xf32>, tensor<1x1x9x7xf32>) {
  %dq, %dk, %dv, %db = attn.attention_backward %q, %k, %v, %o, %do lse(%lse : tensor<1x4x9xf32>)
      bias(%bias : tensor<1x1x9x7xf32>) mask(#attn.causal) score_mods([#attn.bias, #attn.softcap<5.0>])
      : tensor<1x4x9x16xf32>, tensor<1x2x7x16xf32>, tensor<1x2x7x8xf32>, tensor<1x4x9x8xf32>, tensor<1x4x9x8xf32>
      -> tensor<1x4x9x16xf32>, tensor<1x2x7x16xf32>, tensor<1x2x7x8xf32>, tensor<1x1x9x7xf32>
  return %dq, %dk, %dv, %db : tensor<1x4x9x16xf32>, tensor<1x2x7x16xf32>, tensor<1x2x7x8xf32>, tensor<1x1x9x7xf32>
}

// -----

// Sigmoid: no lse; dS = dP * w (1 - w).
// CHECK-LABEL: func @sigmoid
// CHECK-NOT: math.log
// CHECK: %[[W:.*]] = arith.divf
// CHECK: %[[C:.*]] = arith.subf %{{.*}}, %[[W]]
// CHECK: arith.mulf %[[W]], %[[C]]
func.func @sigmoid(%q: tensor<2x2x5x16xf32>, %o: tensor<2x2x5x16xf32>) -> tensor<2x2x5x16xf32> {
  %dq, %dk, %dv = attn.attention_backward %q, %q, %q, %o, %o normalization(#attn.sigmoid)
      : tensor<2x2x5x16xf32>, tensor<2x2x5x16xf32>, tensor<2x2x5x16xf32>, tensor<2x2x5x16xf32>, tensor<2x2x5x16xf32>
      -> tensor<2x2x5x16xf32>, tensor<2x2x5x16xf32>, tensor<2x2x5x16xf32>
  return %dq : tensor<2x2x5x16xf32>
}
