// RUN: attn-opt %s --split-input-file | attn-opt --split-input-file | FileCheck %s
// RUN: attn-opt %s --split-input-file --mlir-print-op-generic | attn-opt --split-input-file | FileCheck %s

// Every mask attribute round-trips; defaults are elided.

// CHECK-LABEL: func @sinks_or_window
// CHECK: mask(#attn.or<[#attn.window<left = 128, right = 0>, #attn.sinks<4>]>)
func.func @sinks_or_window(%q: tensor<1x2x256x16xf32>, %k: tensor<1x2x256x16xf32>, %v: tensor<1x2x256x16xf32>) -> tensor<1x2x256x16xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.or<[#attn.window<left = 128, right = 0>, #attn.sinks<4>]>) : tensor<1x2x256x16xf32>, tensor<1x2x256x16xf32>, tensor<1x2x256x16xf32> -> tensor<1x2x256x16xf32>
  return %o : tensor<1x2x256x16xf32>
}

// -----

// CHECK-LABEL: func @neighborhoods
// CHECK: mask(#attn.neighborhood<grid = [64, 32], kernel = [7, 7]>)
// CHECK: mask(#attn.neighborhood<grid = [8, 16, 16], kernel = [3, 5, 5], dilation = [1, 2, 2], stride = [1, 2, 1], causal = [true, false, false]>)
// CHECK: mask(#attn.neighborhood<grid = [2048], kernel = [33], causal = [false]>)
// CHECK: mask(#attn.neighborhood<grid = [64, 32], kernel = [7, 7], dilation = [2, 1], tile = [4, 8]>)
func.func @neighborhoods(%q: tensor<1x2x2048x16xf32>, %k: tensor<1x2x2048x16xf32>, %v: tensor<1x2x2048x16xf32>) -> tensor<1x2x2048x16xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.neighborhood<grid = [64, 32], kernel = [7, 7]>) : tensor<1x2x2048x16xf32>, tensor<1x2x2048x16xf32>, tensor<1x2x2048x16xf32> -> tensor<1x2x2048x16xf32>
  %o2 = attn.attention %q, %k, %v mask(#attn.neighborhood<causal = [true, false, false], grid = [8, 16, 16], kernel = [3, 5, 5], dilation = [1, 2, 2], stride = [1, 2, 1]>) : tensor<1x2x2048x16xf32>, tensor<1x2x2048x16xf32>, tensor<1x2x2048x16xf32> -> tensor<1x2x2048x16xf32>
  %o3 = attn.attention %q, %k, %v mask(#attn.neighborhood<grid = [2048], kernel = [33], causal = [false]>) : tensor<1x2x2048x16xf32>, tensor<1x2x2048x16xf32>, tensor<1x2x2048x16xf32> -> tensor<1x2x2048x16xf32>
  %o4 = attn.attention %q, %k, %v mask(#attn.neighborhood<tile = [4, 8], grid = [64, 32], kernel = [7, 7], dilation = [2, 1]>) : tensor<1x2x2048x16xf32>, tensor<1x2x2048x16xf32>, tensor<1x2x2048x16xf32> -> tensor<1x2x2048x16xf32>
  return %o : tensor<1x2x2048x16xf32>
}

// -----

// CHECK-LABEL: func @block_sparse
// CHECK: layout(%{{.*}} : tensor<?x1x?x?xi1>) mask(#attn.block_sparse<block = [128, 64]>)
func.func @block_sparse(%q: tensor<?x8x?x64xf16>, %k: tensor<?x8x?x64xf16>, %v: tensor<?x8x?x64xf16>, %l: tensor<?x1x?x?xi1>) -> tensor<?x8x?x64xf16> {
  %o = attn.attention %q, %k, %v layout(%l : tensor<?x1x?x?xi1>) mask(#attn.block_sparse<block = [128, 64]>) : tensor<?x8x?x64xf16>, tensor<?x8x?x64xf16>, tensor<?x8x?x64xf16> -> tensor<?x8x?x64xf16>
  return %o : tensor<?x8x?x64xf16>
}

// -----

// CHECK-LABEL: func @documents
// CHECK: segments(%{{.*}}, %{{.*}} : tensor<2x100xi32>, tensor<2x100xi32>) mask(#attn.and<[#attn.document, #attn.causal]>)
func.func @documents(%q: tensor<2x4x100x16xbf16>, %k: tensor<2x4x100x16xbf16>, %v: tensor<2x4x100x16xbf16>, %qs: tensor<2x100xi32>, %ks: tensor<2x100xi32>) -> tensor<2x4x100x16xbf16> {
  %o = attn.attention %q, %k, %v segments(%qs, %ks : tensor<2x100xi32>, tensor<2x100xi32>) mask(#attn.and<[#attn.document, #attn.causal]>) : tensor<2x4x100x16xbf16>, tensor<2x4x100x16xbf16>, tensor<2x4x100x16xbf16> -> tensor<2x4x100x16xbf16>
  return %o : tensor<2x4x100x16xbf16>
}

// -----

// CHECK-LABEL: func @patterns
// CHECK: mask(#attn.prefix_lm<32>)
// CHECK: mask(#attn.strided<stride = 16>)
// CHECK: mask(#attn.fixed<stride = 16, summary = 2>)
// CHECK: mask(#attn.and<[#attn.causal<align = bottom_right>, #attn.not<#attn.window<left = 2, right = 0, align = bottom_right>>]>)
func.func @patterns(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x64x16xf32>, %v: tensor<1x2x64x16xf32>) -> tensor<1x2x64x16xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.prefix_lm<32>) : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32> -> tensor<1x2x64x16xf32>
  %o2 = attn.attention %q, %k, %v mask(#attn.strided<stride = 16>) : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32> -> tensor<1x2x64x16xf32>
  %o3 = attn.attention %q, %k, %v mask(#attn.fixed<stride = 16, summary = 2>) : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32> -> tensor<1x2x64x16xf32>
  %o4 = attn.attention %q, %k, %v mask(#attn.and<[#attn.causal<align = bottom_right>, #attn.not<#attn.window<left = 2, right = 0, align = bottom_right>>]>) allow_empty_rows : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32> -> tensor<1x2x64x16xf32>
  return %o : tensor<1x2x64x16xf32>
}

// -----

// CHECK-LABEL: func @mask_mod
// CHECK: mask(#attn.causal) mask_mod {
// CHECK-NEXT: ^bb0(%{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index):
// CHECK: attn.yield %{{.*}} : i1
func.func @mask_mod(%q: tensor<1x2x64x16xf32>, %k: tensor<1x2x64x16xf32>, %v: tensor<1x2x64x16xf32>) -> tensor<1x2x64x16xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.causal) mask_mod {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %c = arith.cmpi ne, %h, %b : index
    attn.yield %c : i1
  } : tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32>, tensor<1x2x64x16xf32> -> tensor<1x2x64x16xf32>
  return %o : tensor<1x2x64x16xf32>
}
