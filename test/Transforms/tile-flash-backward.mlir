// RUN: attn-opt %s --attn-tile-flash-backward="tile-q=16 tile-kv=8" --canonicalize --split-input-file | FileCheck %s
// RUN: not attn-opt %s --attn-tile-flash-backward="tile-kv=0" --split-input-file 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: error: attn-tile-flash-backward: tile sizes must be >= 1, got tile-q = 64, tile-kv = 0

// Causal GQA softmax with dynamic lengths: delta = rowsum(grad_o * o); a
// parallel loop over (b, key/value head, key tile) whose loop over the two
// query heads of the group runs over the query tiles the causal mask
// allows (from the key tile's first key on), skipping empty tiles and
// masking only partial ones; keys are rows of the transposed tiles
// [tile-kv, tile-q]; then a parallel loop over (b, query head, query tile)
// for grad_q over the allowed key tiles. No [Sq, Skv] tensor exists.
// CHECK-LABEL: func @causal_gqa
// CHECK-NOT: tensor<1x4x?x?xf32>
// delta
// CHECK: linalg.generic {{.*}} ins(%arg4, %arg3 : tensor<1x4x?x32xf16>, tensor<1x4x?x32xf16>) outs(%{{.*}} : tensor<1x4x?xf32>)
// grad_k, grad_v
// CHECK: %[[KV:.*]]:2 = scf.forall (%{{.*}}, %{{.*}}) in (2, %{{.*}}) shared_outs(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (tensor<1x2x?x32xf16>, tensor<1x2x?x32xf16>)
// CHECK:   scf.for %{{.*}} = %c0 to %c2 step %c1 iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (tensor<8x32xf32>, tensor<8x32xf32>)
// The query tiles from the one holding the key tile's first key.
// CHECK:     %[[QLO:.*]] = arith.muli %{{.*}}, %c16
// CHECK:     scf.for %{{.*}} = %[[QLO]] to %{{.*}} step %c16
// CHECK:       scf.if
// CHECK:       } else {
// CHECK:         scf.if
// Full tiles: s^T = k . q^T, dP^T = v . grad_o^T, no mask code.
// CHECK:           linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%{{.*}}, %{{.*}} : tensor<8x32xf16>, tensor<16x32xf16>) outs(%{{.*}} : tensor<8x16xf32>)
// CHECK:           linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%{{.*}}, %{{.*}} : tensor<8x32xf16>, tensor<16x32xf16>) outs(%{{.*}} : tensor<8x16xf32>)
// CHECK:           linalg.generic {{.*}} outs(%{{.*}}, %{{.*}} : tensor<8x16xf32>, tensor<8x16xf32>)
// CHECK-NOT:         arith.cmpi
// CHECK:             math.exp
// CHECK:           linalg.yield
// grad_k += dX^T . q, grad_v += P^T . grad_o.
// CHECK:           linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]} ins(%{{.*}}, %{{.*}} : tensor<8x16xf32>, tensor<16x32xf16>) outs(%{{.*}} : tensor<8x32xf32>)
// CHECK:           linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]} ins(%{{.*}}, %{{.*}} : tensor<8x16xf32>, tensor<16x32xf16>) outs(%{{.*}} : tensor<8x32xf32>)
// CHECK:         } else {
// Partial tiles: the padding and the causal predicate.
// CHECK:           linalg.generic {{.*}} outs(%{{.*}}, %{{.*}} : tensor<8x16xf32>, tensor<8x16xf32>)
// CHECK:             arith.cmpi sle
// CHECK:             arith.select
// CHECK:   scf.forall.in_parallel
// CHECK:     tensor.parallel_insert_slice %{{.*}} into %{{.*}}[0, %{{.*}}, %{{.*}}, 0] [1, 1, %{{.*}}, 32] [1, 1, 1, 1] : tensor<?x32xf16> into tensor<1x2x?x32xf16>
// CHECK:     tensor.parallel_insert_slice %{{.*}} into %{{.*}}[0, %{{.*}}, %{{.*}}, 0] [1, 1, %{{.*}}, 32] [1, 1, 1, 1] : tensor<?x32xf16> into tensor<1x2x?x32xf16>
// grad_q
// CHECK: %[[Q:.*]] = scf.forall (%{{.*}}, %{{.*}}) in (4, %{{.*}}) shared_outs(%{{.*}} = %{{.*}}) -> (tensor<1x4x?x32xf16>)
// CHECK:   scf.for %{{.*}} = %c0 to %{{.*}} step %c8 iter_args(%{{.*}} = %{{.*}}) -> (tensor<16x32xf32>)
// CHECK:     linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]} ins(%{{.*}}, %{{.*}} : tensor<16x8xf32>, tensor<8x32xf16>) outs(%{{.*}} : tensor<16x32xf32>)
// CHECK: return %[[Q]], %[[KV]]#0, %[[KV]]#1
func.func @causal_gqa(%q: tensor<1x4x?x32xf16>, %k: tensor<1x2x?x32xf16>, %v: tensor<1x2x?x32xf16>,
                      %o: tensor<1x4x?x32xf16>, %do: tensor<1x4x?x32xf16>, %lse: tensor<1x4x?xf32>)
    -> (tensor<1x4x?x32xf16>, tensor<1x2x?x32xf16>, tensor<1x2x?x32xf16>) {
  %dq, %dk, %dv = attn.attention_backward %q, %k, %v, %o, %do lse(%lse : tensor<1x4x?xf32>) mask(#attn.causal)
      : tensor<1x4x?x32xf16>, tensor<1x2x?x32xf16>, tensor<1x2x?x32xf16>, tensor<1x4x?x32xf16>, tensor<1x4x?x32xf16>
      -> tensor<1x4x?x32xf16>, tensor<1x2x?x32xf16>, tensor<1x2x?x32xf16>
  return %dq, %dk, %dv : tensor<1x4x?x32xf16>, tensor<1x2x?x32xf16>, tensor<1x2x?x32xf16>
}

// -----

// Sigmoid has no row statistics: no delta, no lse; dS = dP w (1 - w). With
// no mask and lengths that are tile multiples, no tile is classified.
// CHECK-LABEL: func @sigmoid_dense
// CHECK-NOT: scf.if
// CHECK-NOT: tensor<2x2x32xf32>
// CHECK: scf.forall {{.*}} in (2, 2, 4)
// CHECK:   scf.for %{{.*}} = %c0 to %c32 step %c16
// CHECK:     linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<8x16xf32>, tensor<8x16xf32>) outs(%{{.*}}, %{{.*}} : tensor<8x16xf32>, tensor<8x16xf32>)
// CHECK:       arith.divf
// CHECK:       arith.subf
// CHECK: scf.forall {{.*}} in (2, 2, 2)
// CHECK:   scf.for %{{.*}} = %c0 to %c32 step %c8
func.func @sigmoid_dense(%q: tensor<2x2x32x16xf32>, %o: tensor<2x2x32x16xf32>)
    -> (tensor<2x2x32x16xf32>, tensor<2x2x32x16xf32>) {
  %dq, %dk, %dv = attn.attention_backward %q, %q, %q, %o, %o normalization(#attn.sigmoid)
      : tensor<2x2x32x16xf32>, tensor<2x2x32x16xf32>, tensor<2x2x32x16xf32>, tensor<2x2x32x16xf32>, tensor<2x2x32x16xf32>
      -> tensor<2x2x32x16xf32>, tensor<2x2x32x16xf32>, tensor<2x2x32x16xf32>
  return %dq, %dk : tensor<2x2x32x16xf32>, tensor<2x2x32x16xf32>
}

// -----

// A bias with one element per score [B, Hq, Sq, Skv]: the grad_q pass
// writes its gradient too, the tile's rows of every key in a band (zeros
// where a key tile is skipped: here, above the causal diagonal), each key
// tile's columns inserted after the tile is visited; bf16 bias, bf16
// gradient.
// CHECK-LABEL: func @score_shaped_bias_gradient
// CHECK-NOT: attn.attention_backward
// CHECK: %[[Q:.*]]:2 = scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (2, 2, 2) shared_outs(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (tensor<2x2x19x16xf32>, tensor<2x2x19x19xbf16>)
// CHECK:   linalg.fill {{.*}} -> tensor<16x19xf32>
// CHECK:   scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (tensor<16x16xf32>, tensor<16x19xf32>)
// CHECK:     linalg.generic {{.*}} outs(%{{.*}}, %{{.*}} : tensor<16x8xf32>, tensor<16x8xf32>)
// CHECK:     tensor.insert_slice %{{.*}} into %{{.*}}[0, %{{.*}}] [16, %{{.*}}] [1, 1] : tensor<16x?xf32> into tensor<16x19xf32>
// CHECK:   tensor.parallel_insert_slice %{{.*}} into %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}, 0] [1, 1, %{{.*}}, 19] [1, 1, 1, 1] : tensor<?x19xbf16> into tensor<2x2x19x19xbf16>
// CHECK: return %[[Q]]#0, %[[Q]]#1
func.func @score_shaped_bias_gradient(%q: tensor<2x2x19x16xf32>, %o: tensor<2x2x19x16xf32>, %lse: tensor<2x2x19xf32>,
                                      %bias: tensor<2x2x19x19xbf16>) -> (tensor<2x2x19x16xf32>, tensor<2x2x19x19xbf16>) {
  %dq, %dk, %dv, %db = attn.attention_backward %q, %q, %q, %o, %o lse(%lse : tensor<2x2x19xf32>)
      bias(%bias : tensor<2x2x19x19xbf16>) mask(#attn.causal) score_mods([#attn.bias])
      : tensor<2x2x19x16xf32>, tensor<2x2x19x16xf32>, tensor<2x2x19x16xf32>, tensor<2x2x19x16xf32>, tensor<2x2x19x16xf32>
      -> tensor<2x2x19x16xf32>, tensor<2x2x19x16xf32>, tensor<2x2x19x16xf32>, tensor<2x2x19x19xbf16>
  return %dq, %db : tensor<2x2x19x16xf32>, tensor<2x2x19x19xbf16>
}

// -----

// The gradient of a broadcast bias sums the scores of several threads into
// one element: such a backward is left to attn-decompose.
// CHECK-LABEL: func @bias_gradient
// CHECK: attn.attention_backward
func.func @bias_gradient(%q: tensor<1x2x9x16xf32>, %o: tensor<1x2x9x16xf32>, %lse: tensor<1x2x9xf32>,
                         %bias: tensor<1x1x9x9xf32>) -> tensor<1x1x9x9xf32> {
  %dq, %dk, %dv, %db = attn.attention_backward %q, %q, %q, %o, %o lse(%lse : tensor<1x2x9xf32>)
      bias(%bias : tensor<1x1x9x9xf32>) score_mods([#attn.bias])
      : tensor<1x2x9x16xf32>, tensor<1x2x9x16xf32>, tensor<1x2x9x16xf32>, tensor<1x2x9x16xf32>, tensor<1x2x9x16xf32>
      -> tensor<1x2x9x16xf32>, tensor<1x2x9x16xf32>, tensor<1x2x9x16xf32>, tensor<1x1x9x9xf32>
  return %db : tensor<1x1x9x9xf32>
}
