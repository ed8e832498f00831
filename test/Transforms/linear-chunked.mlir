// RUN: attn-opt %s -split-input-file --attn-linear-chunked=chunk-size=32 --canonicalize --cse | FileCheck %s

// Causal, GQA (2 query heads per key/value head), decay and final state:
// one parallel iteration per (batch, query head), reading key/value head
// h / 2; a loop over full chunks of 32 positions (static shapes), then one
// over the rest (at most one chunk, of dynamic size), both carrying
// S [1, 1, F, Dv], z [1, 1, F] and the output rows. Inside, the unit batch
// and head dimensions are dropped: chunk products are 2-D. Nothing is
// [Sq, Skv]: the only score tensor is chunk x chunk. The keys' features are
// computed once, before the parallel loop, since the two query heads of a
// group share them.

// CHECK-LABEL: func @causal_decay
// CHECK:     %[[PHIK:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<?x2x?x16xf32>) outs(%{{.*}} : tensor<?x2x?x16xf32>)
// CHECK:       math.exp
// CHECK: scf.forall (%[[B:.*]], %[[H:.*]]) in (%{{.*}}, 4) shared_outs(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (tensor<?x4x?x8xbf16>, tensor<?x4x16x8xf32>, tensor<?x4x16xf32>)
// CHECK:   %[[KV:.*]] = arith.divui %[[H]], %c2
// CHECK:   tensor.extract_slice %[[PHIK]][%[[B]], %[[KV]], 0, 0] [1, 1, %{{.*}}, 16]
// CHECK:   tensor.extract_slice %arg3[%[[H]]] [1] [1] : tensor<4xf32> to tensor<1xf32>
// log2(gamma) once per head, outside the chunk loop.
// CHECK:   math.log2
// CHECK:   %[[FULL:.*]] = arith.muli
// CHECK:   %[[MAIN:.*]]:3 = scf.for %[[T:.*]] = %c0 to %[[FULL]] step %c32 iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (tensor<1x1x16x8xf32>, tensor<1x1x16xf32>, tensor<1x1x?x8xbf16>)
// The feature map is applied to the chunk's rows, inside the loop.
// CHECK:     math.exp
// Scores within the chunk, then causal with gamma^(i - j) as
// exp2((i - j) log2 gamma), 1 on the diagonal.
// CHECK:     linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%{{.*}}, %{{.*}} : tensor<32x16xf32>, tensor<32x16xf32>) outs(%{{.*}} : tensor<32x32xf32>)
// CHECK:     linalg.generic {{.*}} outs(%{{.*}} : tensor<32x32xf32>)
// CHECK:       math.exp2
// CHECK:       arith.cmpi ule
// Scores times values, in the micro-kernels' loop order (i, j, e).
// CHECK:     linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel"]} ins(%{{.*}}, %{{.*}} : tensor<32x32xf32>, tensor<32x8xbf16>) outs(%{{.*}} : tensor<32x8xf32>)
// CHECK:     tensor.insert_slice %{{.*}} into %{{.*}}[0, 0, %[[T]], 0] [1, 1, 32, 8]
// CHECK:     scf.yield
// CHECK:   scf.for %{{.*}} = %[[FULL]] to %{{.*}} step %c32 iter_args(%{{.*}} = %[[MAIN]]#0, %{{.*}} = %[[MAIN]]#1, %{{.*}} = %[[MAIN]]#2)
// CHECK:     tensor<?x?xf32>
// CHECK: scf.forall.in_parallel
// CHECK-NOT: tensor<?x4x?x?x
func.func @causal_decay(%q: tensor<?x4x?x16xbf16>, %k: tensor<?x2x?x16xbf16>, %v: tensor<?x2x?x8xbf16>, %g: tensor<4xf32>) -> (tensor<?x4x?x8xbf16>, tensor<?x4x16x8xf32>, tensor<?x4x16xf32>) {
  %o, %s, %z = attn.linear_attention %q, %k, %v feature_map(#attn.elu_plus_one) causal decay(%g : tensor<4xf32>)
      : tensor<?x4x?x16xbf16>, tensor<?x2x?x16xbf16>, tensor<?x2x?x8xbf16> -> tensor<?x4x?x8xbf16>, tensor<?x4x16x8xf32>, tensor<?x4x16xf32>
  return %o, %s, %z : tensor<?x4x?x8xbf16>, tensor<?x4x16x8xf32>, tensor<?x4x16xf32>
}

// -----

// Not causal: loops over key chunks build the state, then loops over query
// chunks apply it; no scores at all.

// CHECK-LABEL: func @non_causal
// CHECK: scf.forall
// CHECK: scf.for {{.*}} step %c32 iter_args(%{{.*}} = %{{.*}}) -> (tensor<1x1x16x16xf32>)
// CHECK:   arith.maximumf
// CHECK: scf.for {{.*}} step %c32 iter_args(%{{.*}} = %{{.*}}) -> (tensor<1x1x16x16xf32>)
// CHECK: scf.for {{.*}} step %c32 iter_args(%{{.*}} = %{{.*}}) -> (tensor<1x1x?x16xf32>)
// CHECK:   linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<32x16xf32>, tensor<16x16xf32>)
// CHECK-NOT: tensor<32x32xf32>
func.func @non_causal(%q: tensor<1x3x?x16xf32>, %k: tensor<1x3x?x16xf32>, %v: tensor<1x3x?x16xf32>) -> tensor<1x3x?x16xf32> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.relu) normalization(none)
      : tensor<1x3x?x16xf32>, tensor<1x3x?x16xf32>, tensor<1x3x?x16xf32> -> tensor<1x3x?x16xf32>
  return %o : tensor<1x3x?x16xf32>
}

// -----

// The initial state is sliced per (batch, head), copied (the loop updates
// its state in place, and must not write into the caller's) and carried in.

// CHECK-LABEL: func @initial_state
// CHECK: %[[S0:.*]] = tensor.extract_slice %arg3[%{{.*}}, %{{.*}}, 0, 0] [1, 1, 8, 4] [1, 1, 1, 1]
// CHECK: %[[S0COPY:.*]] = bufferization.alloc_tensor() copy(%[[S0]])
// CHECK: %[[Z0:.*]] = tensor.extract_slice %arg4[%{{.*}}, %{{.*}}, 0] [1, 1, 8] [1, 1, 1]
// CHECK: %[[Z0COPY:.*]] = bufferization.alloc_tensor() copy(%[[Z0]])
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %[[S0COPY]], %{{.*}} = %[[Z0COPY]], %{{.*}} = %{{.*}})
func.func @initial_state(%q: tensor<2x2x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x4xf32>, %s0: tensor<2x2x8x4xf32>, %z0: tensor<2x2x8xf32>) -> tensor<2x2x?x4xf32> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.relu) causal
      initial_state(%s0 : tensor<2x2x8x4xf32>) initial_normalizer(%z0 : tensor<2x2x8xf32>)
      : tensor<2x2x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x4xf32> -> tensor<2x2x?x4xf32>
  return %o : tensor<2x2x?x4xf32>
}

// -----

// A statically empty sequence has no chunk: the op is left for
// attn-decompose (attn-lower-to-cpu runs it next), whose reference form
// handles empty dimensions.
// CHECK-LABEL: func @empty_sequence
// CHECK-NOT:     scf.forall
// CHECK:         attn.linear_attention
func.func @empty_sequence(%q: tensor<1x1x0x16xbf16>, %k: tensor<1x1x0x16xbf16>, %v: tensor<1x1x0x24xbf16>) -> tensor<1x1x0x24xbf16> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.taylor<order = 1>) causal
      : tensor<1x1x0x16xbf16>, tensor<1x1x0x16xbf16>, tensor<1x1x0x24xbf16> -> tensor<1x1x0x24xbf16>
  return %o : tensor<1x1x0x24xbf16>
}

// -----

// A gate per token (simple GLA): per chunk, the chunk's gates, their
// cumulative sums c (a product with the lower-triangular ones, the reduction
// loop last) and total; the scores weighted by exp(c_i - c_j) (the exponent
// 0 where the key is masked), phi(q) exp(c_i) against the state carried in,
// keys weighted by exp(total - c_j) and the state by exp(total). The query
// features carry the default scale D^-1/2 = 0.25.
// CHECK-LABEL: func @token_gate
// CHECK-DAG: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-DAG: %[[SCALE:.*]] = arith.constant 2.500000e-01 : f32
// CHECK:     scf.for %[[T:.*]] = %c0 to %{{.*}} step %c32
// CHECK:       arith.mulf %{{.*}}, %[[SCALE]] : f32
// CHECK:       tensor.extract_slice %{{.*}}[0, 0, %[[T]]] [1, 1, 32] [1, 1, 1] : tensor<1x1x?xf32> to tensor<1x1x32xf32>
// CHECK:       arith.cmpi ule
// CHECK-NEXT:  arith.select %{{.*}}, %[[ONE]], %{{.*}} : f32
// CHECK:       %[[CUM:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%{{.*}}, %{{.*}} : tensor<32x32xf32>, tensor<32xf32>)
// CHECK:       %[[TOTAL:.*]] = linalg.generic {{.*}} iterator_types = ["reduction"]} ins(%{{.*}} : tensor<32xf32>)
// CHECK:       linalg.generic {{.*}} ins(%{{.*}}, %[[CUM]], %[[CUM]] : tensor<32x32xf32>, tensor<32xf32>, tensor<32xf32>)
// CHECK:         %[[D:.*]] = arith.subf
// CHECK-NEXT:    %[[E:.*]] = arith.select %{{.*}}, %[[D]], %{{.*}} : f32
// CHECK-NEXT:    math.exp %[[E]] : f32
// CHECK:       linalg.generic {{.*}} ins(%{{.*}}, %[[CUM]] : tensor<32x16xf32>, tensor<32xf32>)
// CHECK-NEXT:  ^bb0
// CHECK-NEXT:    math.exp
// CHECK:       ins(%{{.*}}, %[[TOTAL]], %[[CUM]] :
// CHECK:         arith.subf
// CHECK-NEXT:    math.exp
// CHECK:       ins(%[[TOTAL]] :
// CHECK-NEXT:  ^bb0
// CHECK-NEXT:    math.exp
// CHECK-NOT: math.exp2
func.func @token_gate(%q: tensor<1x2x?x16xf32>, %k: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x8xf32>, %g: tensor<1x2x?xf32>) -> (tensor<1x2x?x8xf32>, tensor<1x2x16x8xf32>) {
  %o, %s = attn.linear_attention %q, %k, %v feature_map(#attn.identity) causal gate(%g : tensor<1x2x?xf32>) normalization(none)
      : tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x8xf32> -> tensor<1x2x?x8xf32>, tensor<1x2x16x8xf32>
  return %o, %s : tensor<1x2x?x8xf32>, tensor<1x2x16x8xf32>
}

// -----

// The delta rule: per chunk, the strictly lower beta_i k_i . k_j, the
// right-hand side beta (v - k S), then the forward substitution for the
// pseudo-values U (one row of 8 values per step of a loop over the chunk's
// 32 rows), which the chunk's causal product and state update then use as
// their values.
// CHECK-LABEL: func @delta_rule
// CHECK:     scf.for %[[T:.*]] = %c0 to %{{.*}} step %c32 iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (tensor<1x1x16x8xf32>, tensor<1x1x?x8xf32>)
// CHECK:       arith.cmpi ult
// CHECK:       %[[U:.*]] = scf.for %[[I:.*]] = %c0 to %c32 step %c1 iter_args(%[[ACC:.*]] = %{{.*}}) -> (tensor<1x1x32x8xf32>)
// CHECK:         tensor.insert_slice %{{.*}} into %[[ACC]][0, 0, %[[I]], 0] [1, 1, 1, 8]
// CHECK:         scf.yield
// CHECK:       arith.cmpi ule
// CHECK:       %[[UR:.*]] = tensor.extract_slice %[[U]][0, 0, 0, 0] [1, 1, 32, 8]
// CHECK:       ins(%{{.*}}, %[[UR]] : tensor<32x32xf32>, tensor<32x8xf32>)
func.func @delta_rule(%q: tensor<1x2x?x16xf32>, %k: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x8xf32>, %beta: tensor<1x2x?xf32>) -> tensor<1x2x?x8xf32> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.identity) causal delta_rule(%beta : tensor<1x2x?xf32>) normalization(none)
      : tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x8xf32> -> tensor<1x2x?x8xf32>
  return %o : tensor<1x2x?x8xf32>
}
