// RUN: attn-opt %s -split-input-file --attn-linear-chunked=chunk-size=32 --canonicalize --cse | FileCheck %s

// Causal, GQA (2 query heads per key/value head), decay and final state:
// one parallel iteration per (batch, key/value head), one loop over chunks of
// 32 positions carrying S [1, 2, F, Dv], z [1, 2, F] and the output rows.
// Nothing is [Sq, Skv]: the only score tensor is chunk x chunk.

// CHECK-LABEL: func @causal_decay
// CHECK: scf.forall (%[[B:.*]], %[[H:.*]]) in (%{{.*}}, 2) shared_outs(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (tensor<?x4x?x8xbf16>, tensor<?x4x16x8xf32>, tensor<?x4x16xf32>)
// CHECK: tensor.extract_slice %arg3[%{{.*}}] [2] [1] : tensor<4xf32> to tensor<2xf32>
// CHECK: scf.for %[[T:.*]] = %c0 to %{{.*}} step %c32 iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (tensor<1x2x16x8xf32>, tensor<1x2x16xf32>, tensor<1x2x?x8xbf16>)
// CHECK:   %[[N:.*]] = arith.minui
// The feature map is applied to the chunk's rows, inside the loop.
// CHECK:   tensor.extract_slice %{{.*}}[0, 0, %[[T]], 0] [1, 2, %[[N]], 16]
// CHECK:   math.exp
// Scores within the chunk, causal with gamma^(i - j).
// CHECK:   linalg.generic {{.*}} outs(%{{.*}} : tensor<1x2x?x?xf32>)
// CHECK:     arith.cmpi ule
// CHECK:     math.powf
// CHECK:   tensor.insert_slice %{{.*}} into %{{.*}}[0, 0, %[[T]], 0] [1, 2, %[[N]], 8]
// The state after the chunk.
// CHECK:   scf.yield %{{.*}}, %{{.*}}, %{{.*}} : tensor<1x2x16x8xf32>, tensor<1x2x16xf32>, tensor<1x2x?x8xbf16>
// CHECK: scf.forall.in_parallel
// CHECK-NOT: tensor<?x4x?x?x
func.func @causal_decay(%q: tensor<?x4x?x16xbf16>, %k: tensor<?x2x?x16xbf16>, %v: tensor<?x2x?x8xbf16>, %g: tensor<4xf32>) -> (tensor<?x4x?x8xbf16>, tensor<?x4x16x8xf32>, tensor<?x4x16xf32>) {
  %o, %s, %z = attn.linear_attention %q, %k, %v feature_map(#attn.elu_plus_one) causal decay(%g : tensor<4xf32>)
      : tensor<?x4x?x16xbf16>, tensor<?x2x?x16xbf16>, tensor<?x2x?x8xbf16> -> tensor<?x4x?x8xbf16>, tensor<?x4x16x8xf32>, tensor<?x4x16xf32>
  return %o, %s, %z : tensor<?x4x?x8xbf16>, tensor<?x4x16x8xf32>, tensor<?x4x16xf32>
}

// -----

// Not causal: one loop over key chunks builds the state, then one over query
// chunks applies it; no scores at all.

// CHECK-LABEL: func @non_causal
// CHECK: scf.forall
// CHECK: %[[STATE:.*]] = scf.for {{.*}} step %c32 iter_args(%{{.*}} = %{{.*}}) -> (tensor<1x1x16x16xf32>)
// CHECK:   arith.maximumf
// CHECK: scf.for {{.*}} step %c32 iter_args(%{{.*}} = %{{.*}}) -> (tensor<1x1x?x16xf32>)
// CHECK:   linalg.generic {{.*}} ins(%{{.*}}, %[[STATE]] : tensor<1x1x?x16xf32>, tensor<1x1x16x16xf32>)
// CHECK-NOT: tensor<1x1x?x?xf32>
func.func @non_causal(%q: tensor<1x3x?x16xf32>, %k: tensor<1x3x?x16xf32>, %v: tensor<1x3x?x16xf32>) -> tensor<1x3x?x16xf32> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.relu) normalization(none)
      : tensor<1x3x?x16xf32>, tensor<1x3x?x16xf32>, tensor<1x3x?x16xf32> -> tensor<1x3x?x16xf32>
  return %o : tensor<1x3x?x16xf32>
}

// -----

// The initial state is sliced per (batch, head group) and carried in.

// CHECK-LABEL: func @initial_state
// CHECK: %[[S0:.*]] = tensor.extract_slice %arg3[%{{.*}}, %{{.*}}, 0, 0] [1, 1, 8, 4] [1, 1, 1, 1]
// CHECK: %[[Z0:.*]] = tensor.extract_slice %arg4[%{{.*}}, %{{.*}}, 0] [1, 1, 8] [1, 1, 1]
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %[[S0]], %{{.*}} = %[[Z0]], %{{.*}} = %{{.*}})
func.func @initial_state(%q: tensor<2x2x?x8xf32>, %k: tensor<2x2x?x8xf32>, %v: tensor<2x2x?x4xf32>, %s0: tensor<2x2x8x4xf32>, %z0: tensor<2x2x8xf32>) -> tensor<2x2x?x4xf32> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.relu) causal
      initial_state(%s0 : tensor<2x2x8x4xf32>) initial_normalizer(%z0 : tensor<2x2x8xf32>)
      : tensor<2x2x?x8xf32>, tensor<2x2x?x8xf32>, tensor<2x2x?x4xf32> -> tensor<2x2x?x4xf32>
  return %o : tensor<2x2x?x4xf32>
}
