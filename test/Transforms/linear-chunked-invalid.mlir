// RUN: not attn-opt %s --attn-linear-chunked=chunk-size=0 2>&1 | FileCheck %s

// CHECK: error: attn-linear-chunked: chunk-size must be >= 1, got 0
func.func @f(%q: tensor<1x1x8x8xf32>, %k: tensor<1x1x8x8xf32>, %v: tensor<1x1x8x8xf32>) -> tensor<1x1x8x8xf32> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.relu)
      : tensor<1x1x8x8xf32>, tensor<1x1x8x8xf32>, tensor<1x1x8x8xf32> -> tensor<1x1x8x8xf32>
  return %o : tensor<1x1x8x8xf32>
}
