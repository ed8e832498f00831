// RUN: attn-opt %s | attn-opt | FileCheck %s
// RUN: attn-opt %s --mlir-print-op-generic | attn-opt | FileCheck %s

// CHECK-LABEL: func @dense
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
func.func @dense(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x32xf32>) -> tensor<1x4x16x32xf32> {
  %o = attn.attention %q, %k, %v : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return %o : tensor<1x4x16x32xf32>
}

// CHECK-LABEL: func @causal_lse_scale
// CHECK: attn.attention {{.*}} mask(#attn.causal) scale(1.250000e-01) : {{.*}} -> tensor<2x8x128x64xf16>, tensor<2x8x128xf32>
func.func @causal_lse_scale(%q: tensor<2x8x128x64xf16>, %k: tensor<2x8x128x64xf16>, %v: tensor<2x8x128x64xf16>) -> (tensor<2x8x128x64xf16>, tensor<2x8x128xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal) scale(0.125) : tensor<2x8x128x64xf16>, tensor<2x8x128x64xf16>, tensor<2x8x128x64xf16> -> tensor<2x8x128x64xf16>, tensor<2x8x128xf32>
  return %o, %lse : tensor<2x8x128x64xf16>, tensor<2x8x128xf32>
}

// The default alignment is elided when printing.
// CHECK-LABEL: func @causal_top_left_explicit
// CHECK: mask(#attn.causal)
func.func @causal_top_left_explicit(%q: tensor<1x1x8x16xbf16>, %k: tensor<1x1x8x16xbf16>, %v: tensor<1x1x8x16xbf16>) -> tensor<1x1x8x16xbf16> {
  %o = attn.attention %q, %k, %v mask(#attn.causal<align = top_left>) : tensor<1x1x8x16xbf16>, tensor<1x1x8x16xbf16>, tensor<1x1x8x16xbf16> -> tensor<1x1x8x16xbf16>
  return %o : tensor<1x1x8x16xbf16>
}

// Grouped-query cross attention, bottom-right causal (decoding against a cache).
// CHECK-LABEL: func @gqa_cross_bottom_right
// CHECK: mask(#attn.causal<align = bottom_right>) : tensor<2x8x37x40xf16>, tensor<2x2x101x40xf16>, tensor<2x2x101x24xf16> -> tensor<2x8x37x24xf16>
func.func @gqa_cross_bottom_right(%q: tensor<2x8x37x40xf16>, %k: tensor<2x2x101x40xf16>, %v: tensor<2x2x101x24xf16>) -> tensor<2x8x37x24xf16> {
  %o = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>) : tensor<2x8x37x40xf16>, tensor<2x2x101x40xf16>, tensor<2x2x101x24xf16> -> tensor<2x8x37x24xf16>
  return %o : tensor<2x8x37x24xf16>
}

// Multi-query attention (one key/value head), dynamic batch and lengths.
// CHECK-LABEL: func @mqa_dynamic_window
// CHECK: mask(#attn.window<left = 256, right = 0>) : tensor<?x16x?x64xf32>, tensor<?x1x?x64xf32>, tensor<?x1x?x64xf32> -> tensor<?x16x?x64xf32>, tensor<?x16x?xf32>
func.func @mqa_dynamic_window(%q: tensor<?x16x?x64xf32>, %k: tensor<?x1x?x64xf32>, %v: tensor<?x1x?x64xf32>) -> (tensor<?x16x?x64xf32>, tensor<?x16x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.window<left = 256, right = 0>) : tensor<?x16x?x64xf32>, tensor<?x1x?x64xf32>, tensor<?x1x?x64xf32> -> tensor<?x16x?x64xf32>, tensor<?x16x?xf32>
  return %o, %lse : tensor<?x16x?x64xf32>, tensor<?x16x?xf32>
}

// CHECK-LABEL: func @window_bottom_right
// CHECK: mask(#attn.window<left = 4, right = 2, align = bottom_right>)
func.func @window_bottom_right(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x12x16xf32>, %v: tensor<1x2x12x16xf32>) -> tensor<1x2x8x16xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.window<left = 4, right = 2, align = bottom_right>) : tensor<1x2x8x16xf32>, tensor<1x2x12x16xf32>, tensor<1x2x12x16xf32> -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// Rows 0..3 have no key under bottom-right causal with Sq = 8 > Skv = 4;
// allow_empty_rows accepts it (those rows give o = 0, lse = -inf).
// CHECK-LABEL: func @empty_rows_allowed
// CHECK: mask(#attn.causal<align = bottom_right>) allow_empty_rows : {{.*}} -> tensor<1x1x8x16xf64>, tensor<1x1x8xf64>
func.func @empty_rows_allowed(%q: tensor<1x1x8x16xf64>, %k: tensor<1x1x4x16xf64>, %v: tensor<1x1x4x16xf64>) -> (tensor<1x1x8x16xf64>, tensor<1x1x8xf64>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>) allow_empty_rows : tensor<1x1x8x16xf64>, tensor<1x1x4x16xf64>, tensor<1x1x4x16xf64> -> tensor<1x1x8x16xf64>, tensor<1x1x8xf64>
  return %o, %lse : tensor<1x1x8x16xf64>, tensor<1x1x8xf64>
}
