// RUN: attn-opt %s --attn-promote-f64 --split-input-file | FileCheck %s

// Inputs keep their types; the op computes on f64 copies and the function
// returns f64 results.
// CHECK-LABEL: func @f(
// CHECK-SAME: %[[Q:.*]]: tensor<2x8x37x40xbf16>, %[[K:.*]]: tensor<2x2x101x40xbf16>, %[[V:.*]]: tensor<2x2x101x40xbf16>) -> (tensor<2x8x37x40xf64>, tensor<2x8x37xf64>)
// CHECK: %[[Q64:.*]] = linalg.generic {{.*}} ins(%[[Q]] : tensor<2x8x37x40xbf16>)
// CHECK:   arith.extf {{.*}} : bf16 to f64
// CHECK: %[[K64:.*]] = linalg.generic {{.*}} ins(%[[K]]
// CHECK: %[[V64:.*]] = linalg.generic {{.*}} ins(%[[V]]
// CHECK: attn.attention %[[Q64]], %[[K64]], %[[V64]] mask(#attn.causal<align = bottom_right>) : tensor<2x8x37x40xf64>, tensor<2x2x101x40xf64>, tensor<2x2x101x40xf64> -> tensor<2x8x37x40xf64>, tensor<2x8x37xf64>
// CHECK: return {{.*}} : tensor<2x8x37x40xf64>, tensor<2x8x37xf64>
func.func @f(%q: tensor<2x8x37x40xbf16>, %k: tensor<2x2x101x40xbf16>, %v: tensor<2x2x101x40xbf16>) -> (tensor<2x8x37x40xbf16>, tensor<2x8x37xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>) : tensor<2x8x37x40xbf16>, tensor<2x2x101x40xbf16>, tensor<2x2x101x40xbf16> -> tensor<2x8x37x40xbf16>, tensor<2x8x37xf32>
  return %o, %lse : tensor<2x8x37x40xbf16>, tensor<2x8x37xf32>
}

// -----

// Dynamic shapes keep their dimensions; integer operands (segment ids) and
// tensors the regions read are left alone; float operands (the bias) are
// promoted.
// CHECK-LABEL: func @g(
// CHECK-SAME: %[[QS:[a-z0-9]+]]: tensor<?x?xi32>, %[[KS:[a-z0-9]+]]: tensor<?x?xi32>, %[[B:[a-z0-9]+]]: tensor<1x4x1x1xf16>, %[[W:[a-z0-9]+]]: tensor<4xf32>) -> tensor<?x4x?x16xf64>
// CHECK: tensor.empty(%{{.*}}, %{{.*}}) : tensor<?x4x?x16xf64>
// CHECK: %[[B64:.*]] = linalg.generic {{.*}} ins(%[[B]] : tensor<1x4x1x1xf16>)
// CHECK: attn.attention {{.*}} segments(%[[QS]], %[[KS]] : tensor<?x?xi32>, tensor<?x?xi32>) bias(%[[B64]] : tensor<1x4x1x1xf64>)
// CHECK: tensor.extract %[[W]][%{{.*}}] : tensor<4xf32>
func.func @g(%q: tensor<?x4x?x16xf16>, %k: tensor<?x4x?x16xf16>, %v: tensor<?x4x?x16xf16>, %qs: tensor<?x?xi32>, %ks: tensor<?x?xi32>, %bias: tensor<1x4x1x1xf16>, %w: tensor<4xf32>) -> tensor<?x4x?x16xf16> {
  %o = attn.attention %q, %k, %v segments(%qs, %ks : tensor<?x?xi32>, tensor<?x?xi32>) bias(%bias : tensor<1x4x1x1xf16>) mask(#attn.document) score_mods([#attn.bias]) score_mod {
  ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
    %x = tensor.extract %w[%h] : tensor<4xf32>
    %r = arith.addf %s, %x : f32
    attn.yield %r : f32
  } : tensor<?x4x?x16xf16>, tensor<?x4x?x16xf16>, tensor<?x4x?x16xf16> -> tensor<?x4x?x16xf16>
  return %o : tensor<?x4x?x16xf16>
}
