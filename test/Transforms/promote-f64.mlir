// RUN: attn-opt %s --attn-promote-f64 | FileCheck %s

// CHECK-LABEL: func @f(
// CHECK-SAME: tensor<2x8x37x40xf64>, %{{.*}}: tensor<2x2x101x40xf64>, %{{.*}}: tensor<2x2x101x40xf64>) -> (tensor<2x8x37x40xf64>, tensor<2x8x37xf64>)
// CHECK: attn.attention {{.*}} mask(#attn.causal<align = bottom_right>) : tensor<2x8x37x40xf64>, tensor<2x2x101x40xf64>, tensor<2x2x101x40xf64> -> tensor<2x8x37x40xf64>, tensor<2x8x37xf64>
// CHECK: return {{.*}} : tensor<2x8x37x40xf64>, tensor<2x8x37xf64>
func.func @f(%q: tensor<2x8x37x40xbf16>, %k: tensor<2x2x101x40xbf16>, %v: tensor<2x2x101x40xbf16>) -> (tensor<2x8x37x40xbf16>, tensor<2x8x37xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>) : tensor<2x8x37x40xbf16>, tensor<2x2x101x40xbf16>, tensor<2x2x101x40xbf16> -> tensor<2x8x37x40xbf16>, tensor<2x8x37xf32>
  return %o, %lse : tensor<2x8x37x40xbf16>, tensor<2x8x37xf32>
}

// Dynamic shapes keep their dimensions.
// CHECK-LABEL: func @g(
// CHECK-SAME: tensor<?x4x?x16xf64>
// CHECK: -> tensor<?x4x?x16xf64>
func.func @g(%q: tensor<?x4x?x16xf16>, %k: tensor<?x4x?x16xf16>, %v: tensor<?x4x?x16xf16>) -> tensor<?x4x?x16xf16> {
  %o = attn.attention %q, %k, %v : tensor<?x4x?x16xf16>, tensor<?x4x?x16xf16>, tensor<?x4x?x16xf16> -> tensor<?x4x?x16xf16>
  return %o : tensor<?x4x?x16xf16>
}
