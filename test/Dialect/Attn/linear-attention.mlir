// RUN: attn-opt %s -split-input-file | FileCheck %s
// RUN: attn-opt %s -split-input-file | attn-opt -split-input-file | FileCheck %s

// CHECK-LABEL: func @elu_causal
// CHECK: attn.linear_attention %{{.*}}, %{{.*}}, %{{.*}} feature_map(#attn.elu_plus_one) causal : tensor<2x8x?x64xf16>, tensor<2x2x?x64xf16>, tensor<2x2x?x32xf16> -> tensor<2x8x?x32xf16>
func.func @elu_causal(%q: tensor<2x8x?x64xf16>, %k: tensor<2x2x?x64xf16>, %v: tensor<2x2x?x32xf16>) -> tensor<2x8x?x32xf16> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.elu_plus_one) causal
      : tensor<2x8x?x64xf16>, tensor<2x2x?x64xf16>, tensor<2x2x?x32xf16> -> tensor<2x8x?x32xf16>
  return %o : tensor<2x8x?x32xf16>
}

// -----

// CHECK-LABEL: func @relu_unnormalized_cross
// CHECK: feature_map(#attn.relu) normalization(none) : tensor<1x4x10x16xf32>, tensor<1x4x30x16xf32>
func.func @relu_unnormalized_cross(%q: tensor<1x4x10x16xf32>, %k: tensor<1x4x30x16xf32>, %v: tensor<1x4x30x16xf32>) -> tensor<1x4x10x16xf32> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.relu) normalization(none)
      : tensor<1x4x10x16xf32>, tensor<1x4x30x16xf32>, tensor<1x4x30x16xf32> -> tensor<1x4x10x16xf32>
  return %o : tensor<1x4x10x16xf32>
}

// -----

// CHECK-LABEL: func @favor_generated_with_state
// CHECK: feature_map(#attn.favor<features = 32, seed = 7>) causal decay(%{{.*}} : tensor<4xf32>) eps(1.000000e-03) initial_state(%{{.*}} : tensor<1x4x32x16xf32>) initial_normalizer(%{{.*}} : tensor<1x4x32xf32>)
// CHECK-SAME: -> tensor<1x4x20x16xbf16>, tensor<1x4x32x16xf32>, tensor<1x4x32xf32>
func.func @favor_generated_with_state(%q: tensor<1x4x20x16xbf16>, %k: tensor<1x4x20x16xbf16>, %v: tensor<1x4x20x16xbf16>,
    %gamma: tensor<4xf32>, %s0: tensor<1x4x32x16xf32>, %z0: tensor<1x4x32xf32>)
    -> (tensor<1x4x20x16xbf16>, tensor<1x4x32x16xf32>, tensor<1x4x32xf32>) {
  %o, %s, %z = attn.linear_attention %q, %k, %v feature_map(#attn.favor<features = 32, seed = 7, orthogonal = true>)
      causal decay(%gamma : tensor<4xf32>) eps(1.0e-3)
      initial_state(%s0 : tensor<1x4x32x16xf32>) initial_normalizer(%z0 : tensor<1x4x32xf32>)
      : tensor<1x4x20x16xbf16>, tensor<1x4x20x16xbf16>, tensor<1x4x20x16xbf16>
      -> tensor<1x4x20x16xbf16>, tensor<1x4x32x16xf32>, tensor<1x4x32xf32>
  return %o, %s, %z : tensor<1x4x20x16xbf16>, tensor<1x4x32x16xf32>, tensor<1x4x32xf32>
}

// -----

// CHECK-LABEL: func @favor_weights_operand
// CHECK: feature_map(#attn.favor<features = 8, orthogonal = false>) feature_weights(%{{.*}} : tensor<8x16xf32>)
func.func @favor_weights_operand(%q: tensor<1x2x5x16xf32>, %k: tensor<1x2x5x16xf32>, %v: tensor<1x2x5x16xf32>, %w: tensor<8x16xf32>) -> tensor<1x2x5x16xf32> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.favor<features = 8, orthogonal = false>) feature_weights(%w : tensor<8x16xf32>)
      : tensor<1x2x5x16xf32>, tensor<1x2x5x16xf32>, tensor<1x2x5x16xf32> -> tensor<1x2x5x16xf32>
  return %o : tensor<1x2x5x16xf32>
}

// -----

// CHECK-LABEL: func @cosformer
// CHECK: feature_map(#attn.cosformer<max_len = 100>) causal
// CHECK-SAME: -> tensor<1x2x5x8xf32>, tensor<1x2x32x8xf32>, tensor<1x2x32xf32>
func.func @cosformer(%q: tensor<1x2x5x16xf32>, %k: tensor<1x2x5x16xf32>, %v: tensor<1x2x5x8xf32>) -> (tensor<1x2x5x8xf32>, tensor<1x2x32x8xf32>, tensor<1x2x32xf32>) {
  %o, %s, %z = attn.linear_attention %q, %k, %v feature_map(#attn.cosformer<max_len = 100>) causal
      : tensor<1x2x5x16xf32>, tensor<1x2x5x16xf32>, tensor<1x2x5x8xf32> -> tensor<1x2x5x8xf32>, tensor<1x2x32x8xf32>, tensor<1x2x32xf32>
  return %o, %s, %z : tensor<1x2x5x8xf32>, tensor<1x2x32x8xf32>, tensor<1x2x32xf32>
}

// -----

// CHECK-LABEL: func @hedgehog
// CHECK: feature_map(#attn.hedgehog<features = 6>) feature_weights(%{{.*}} : tensor<16x6xf32>)
func.func @hedgehog(%q: tensor<1x2x5x16xf32>, %k: tensor<1x2x5x16xf32>, %v: tensor<1x2x5x8xf32>, %w: tensor<16x6xf32>) -> tensor<1x2x5x8xf32> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.hedgehog<features = 6>) feature_weights(%w : tensor<16x6xf32>)
      : tensor<1x2x5x16xf32>, tensor<1x2x5x16xf32>, tensor<1x2x5x8xf32> -> tensor<1x2x5x8xf32>
  return %o : tensor<1x2x5x8xf32>
}

// -----

// F = 1 + D + D^2 = 21 for D = 4; the state of normalization(none) has no normalizer.
// CHECK-LABEL: func @taylor
// CHECK: feature_map(#attn.taylor) causal normalization(none)
// CHECK-SAME: -> tensor<1x2x5x8xf64>, tensor<1x2x21x8xf64>
func.func @taylor(%q: tensor<1x2x5x4xf64>, %k: tensor<1x2x5x4xf64>, %v: tensor<1x2x5x8xf64>) -> (tensor<1x2x5x8xf64>, tensor<1x2x21x8xf64>) {
  %o, %s = attn.linear_attention %q, %k, %v feature_map(#attn.taylor<order = 2>) causal normalization(none)
      : tensor<1x2x5x4xf64>, tensor<1x2x5x4xf64>, tensor<1x2x5x8xf64> -> tensor<1x2x5x8xf64>, tensor<1x2x21x8xf64>
  return %o, %s : tensor<1x2x5x8xf64>, tensor<1x2x21x8xf64>
}

// -----

// F = 1 + D = 5 at order 1.
// CHECK-LABEL: func @taylor_first_order
// CHECK: feature_map(#attn.taylor<order = 1>)
// CHECK-SAME: -> tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5xf32>
func.func @taylor_first_order(%q: tensor<1x2x5x4xf32>, %k: tensor<1x2x5x4xf32>, %v: tensor<1x2x5x8xf32>) -> (tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5xf32>) {
  %o, %s, %z = attn.linear_attention %q, %k, %v feature_map(#attn.taylor<order = 1>)
      : tensor<1x2x5x4xf32>, tensor<1x2x5x4xf32>, tensor<1x2x5x8xf32> -> tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5xf32>
  return %o, %s, %z : tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5xf32>
}

// -----

// RetNet's retention: identity features, the default scale (no attribute).
// CHECK-LABEL: func @retention
// CHECK: feature_map(#attn.identity) causal decay(%{{.*}} : tensor<4xf32>) normalization(none) :
func.func @retention(%q: tensor<2x4x?x64xbf16>, %k: tensor<2x4x?x64xbf16>, %v: tensor<2x4x?x64xbf16>, %gamma: tensor<4xf32>) -> tensor<2x4x?x64xbf16> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.identity) causal decay(%gamma : tensor<4xf32>) normalization(none)
      : tensor<2x4x?x64xbf16>, tensor<2x4x?x64xbf16>, tensor<2x4x?x64xbf16> -> tensor<2x4x?x64xbf16>
  return %o : tensor<2x4x?x64xbf16>
}

// -----

// Simple GLA: a gate per token and head, an explicit scale, the state out.
// CHECK-LABEL: func @simple_gla
// CHECK: feature_map(#attn.identity) causal gate(%{{.*}} : tensor<?x8x?xf32>) scale(1.250000e-01) normalization(none) :
// CHECK-SAME: -> tensor<?x8x?x32xf16>, tensor<?x8x64x32xf32>
func.func @simple_gla(%q: tensor<?x8x?x64xf16>, %k: tensor<?x2x?x64xf16>, %v: tensor<?x2x?x32xf16>, %g: tensor<?x8x?xf32>) -> (tensor<?x8x?x32xf16>, tensor<?x8x64x32xf32>) {
  %o, %s = attn.linear_attention %q, %k, %v feature_map(#attn.identity) causal gate(%g : tensor<?x8x?xf32>) scale(0.125) normalization(none)
      : tensor<?x8x?x64xf16>, tensor<?x2x?x64xf16>, tensor<?x2x?x32xf16> -> tensor<?x8x?x32xf16>, tensor<?x8x64x32xf32>
  return %o, %s : tensor<?x8x?x32xf16>, tensor<?x8x64x32xf32>
}

// -----

// GLA-style gates per token and feature (F = D = 16 for elu + 1).
// CHECK-LABEL: func @gla_features
// CHECK: feature_map(#attn.elu_plus_one) causal gate(%{{.*}} : tensor<1x2x10x16xf32>) :
func.func @gla_features(%q: tensor<1x2x10x16xf32>, %k: tensor<1x2x10x16xf32>, %v: tensor<1x2x10x8xf32>, %g: tensor<1x2x10x16xf32>) -> tensor<1x2x10x8xf32> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.elu_plus_one) causal gate(%g : tensor<1x2x10x16xf32>)
      : tensor<1x2x10x16xf32>, tensor<1x2x10x16xf32>, tensor<1x2x10x8xf32> -> tensor<1x2x10x8xf32>
  return %o : tensor<1x2x10x8xf32>
}

// -----

// Gated DeltaNet: unit-norm features, a gate and write strengths per token.
// CHECK-LABEL: func @gated_delta_net
// CHECK: feature_map(#attn.l2_normalize) causal gate(%{{.*}} : tensor<2x4x?xf32>) delta_rule(%{{.*}} : tensor<2x4x?xf32>) normalization(none) initial_state(%{{.*}} : tensor<2x4x64x64xf32>) :
func.func @gated_delta_net(%q: tensor<2x4x?x64xbf16>, %k: tensor<2x4x?x64xbf16>, %v: tensor<2x4x?x64xbf16>, %g: tensor<2x4x?xf32>, %beta: tensor<2x4x?xf32>, %s0: tensor<2x4x64x64xf32>) -> tensor<2x4x?x64xbf16> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.l2_normalize) causal gate(%g : tensor<2x4x?xf32>) delta_rule(%beta : tensor<2x4x?xf32>) normalization(none) initial_state(%s0 : tensor<2x4x64x64xf32>)
      : tensor<2x4x?x64xbf16>, tensor<2x4x?x64xbf16>, tensor<2x4x?x64xbf16> -> tensor<2x4x?x64xbf16>
  return %o : tensor<2x4x?x64xbf16>
}
