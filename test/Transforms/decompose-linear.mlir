// RUN: attn-opt %s -split-input-file --attn-decompose --canonicalize --cse | FileCheck %s

// The reference is the quadratic form over the whole sequence: scores
// [B, Hq, Sq, Skv] masked causally, times V, divided by their row sums plus
// eps; no loops.

// CHECK-LABEL: func @causal
// CHECK-DAG: %[[EPS:.*]] = arith.constant 9.99999997E-7 : f32
// CHECK-NOT: scf.for
// CHECK: %[[SCORES:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]{{.*}} outs(%{{.*}} : tensor<2x4x?x?xf32>)
// CHECK: %[[MASKED:.*]] = linalg.generic {{.*}} ins(%[[SCORES]] : tensor<2x4x?x?xf32>)
// CHECK:   arith.cmpi ule
// CHECK: linalg.generic {{.*}} ins(%[[MASKED]], %arg2 : tensor<2x4x?x?xf32>, tensor<2x2x?x8xf16>)
// CHECK: %[[SUMS:.*]] = linalg.generic {{.*}} ins(%[[MASKED]] : tensor<2x4x?x?xf32>) outs(%{{.*}} : tensor<2x4x?xf32>)
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[SUMS]] : tensor<2x4x?x8xf32>, tensor<2x4x?xf32>) outs(%{{.*}} : tensor<2x4x?x8xf16>)
// CHECK:   arith.addf %{{.*}}, %[[EPS]] : f32
// CHECK:   arith.divf
// CHECK:   arith.truncf
func.func @causal(%q: tensor<2x4x?x16xf16>, %k: tensor<2x2x?x16xf16>, %v: tensor<2x2x?x8xf16>) -> tensor<2x4x?x8xf16> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.elu_plus_one) causal
      : tensor<2x4x?x16xf16>, tensor<2x2x?x16xf16>, tensor<2x2x?x8xf16> -> tensor<2x4x?x8xf16>
  return %o : tensor<2x4x?x8xf16>
}

// -----

// FAVOR+ with a seed: the random features are a constant W^T [D, m] (so
// the projection updates rows of features, loops (b, h, n, d, f));
// features are exp(s (w . x) - s^2 |x|^2 / 2) / sqrt(m).

// CHECK-LABEL: func @favor
// CHECK: arith.constant dense<{{.*}}> : tensor<16x4xf32>
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel", "parallel", "reduction", "parallel"]}
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x2x10x4xf32>)
// CHECK: math.exp
func.func @favor(%q: tensor<1x2x10x16xf32>, %k: tensor<1x2x10x16xf32>, %v: tensor<1x2x10x16xf32>) -> tensor<1x2x10x16xf32> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.favor<features = 4, seed = 3>)
      : tensor<1x2x10x16xf32>, tensor<1x2x10x16xf32>, tensor<1x2x10x16xf32> -> tensor<1x2x10x16xf32>
  return %o : tensor<1x2x10x16xf32>
}

// -----

// cosFormer reads positions and M = max(Sq, Skv) (here 10 and 12).

// CHECK-LABEL: func @cosformer
// CHECK-DAG: arith.constant 1.200000e+01 : f32
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x2x10x32xf32>)
// CHECK:   math.cos
// CHECK:   math.sin
func.func @cosformer(%q: tensor<1x2x10x16xf32>, %k: tensor<1x2x12x16xf32>, %v: tensor<1x2x12x16xf32>) -> tensor<1x2x10x16xf32> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.cosformer)
      : tensor<1x2x10x16xf32>, tensor<1x2x12x16xf32>, tensor<1x2x12x16xf32> -> tensor<1x2x10x16xf32>
  return %o : tensor<1x2x10x16xf32>
}

// -----

// Gates per token and feature (GLA): each score sums over the features
// phi(q_i)_f phi(k_j)_f exp(c_if - c_jf), c the cumulative gates, with the
// exponent -inf for a key after the query (no overflow to mask away); the
// key of query head h is key head h / 2. scale(1.0): the identity map's
// default D^-1/2 is not applied.
// CHECK-DAG: #[[ROWF:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
// CHECK-DAG: #[[KEYF:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1 floordiv 2, d3, d4)>
// CHECK-DAG: #[[COLF:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d3, d4)>
// CHECK-LABEL: func @feature_gate
// CHECK-DAG: %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK-NOT: arith.constant 2.500000e-01
// CHECK:     linalg.generic {indexing_maps = [#[[ROWF]], #[[KEYF]], #[[ROWF]], #[[COLF]], #{{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%arg0, %arg1, %[[CUM:.*]], %[[CUM]] :
// CHECK:       %[[ALLOWED:.*]] = arith.cmpi ule
// CHECK-NEXT:  %[[D:.*]] = arith.subf
// CHECK-NEXT:  %[[E:.*]] = arith.select %[[ALLOWED]], %[[D]], %[[NEGINF]] : f32
// CHECK-NEXT:  math.exp %[[E]]
func.func @feature_gate(%q: tensor<1x2x10x16xf32>, %k: tensor<1x1x10x16xf32>, %v: tensor<1x1x10x8xf32>, %g: tensor<1x2x10x16xf32>) -> tensor<1x2x10x8xf32> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.identity) causal gate(%g : tensor<1x2x10x16xf32>) scale(1.0) normalization(none)
      : tensor<1x2x10x16xf32>, tensor<1x1x10x16xf32>, tensor<1x1x10x8xf32> -> tensor<1x2x10x8xf32>
  return %o : tensor<1x2x10x8xf32>
}
