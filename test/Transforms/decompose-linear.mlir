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

// FAVOR+ with a seed: the random features are a constant [m, D] tensor;
// features are exp(s (w . x) - s^2 |x|^2 / 2) / sqrt(m).

// CHECK-LABEL: func @favor
// CHECK: arith.constant dense<{{.*}}> : tensor<4x16xf32>
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
