// RUN: attn-opt %s --split-input-file | attn-opt --split-input-file | FileCheck %s
// RUN: attn-opt %s --split-input-file --mlir-print-op-generic | attn-opt --split-input-file | FileCheck %s

// Score modifiers apply in the order listed; normalizations; regions.

// CHECK-LABEL: func @mods
// CHECK: bias(%{{.*}} : tensor<1x8x1x300xf16>) alibi_slopes(%{{.*}} : tensor<8xf32>) mask(#attn.causal) score_mods([#attn.alibi<symmetric = true>, #attn.bias, #attn.softcap<3.000000e+01>])
func.func @mods(%q: tensor<2x8x300x64xf16>, %k: tensor<2x8x300x64xf16>, %v: tensor<2x8x300x64xf16>, %b: tensor<1x8x1x300xf16>, %s: tensor<8xf32>) -> tensor<2x8x300x64xf16> {
  %o = attn.attention %q, %k, %v bias(%b : tensor<1x8x1x300xf16>) alibi_slopes(%s : tensor<8xf32>) mask(#attn.causal) score_mods([#attn.alibi<symmetric = true>, #attn.bias, #attn.softcap<30.0>]) : tensor<2x8x300x64xf16>, tensor<2x8x300x64xf16>, tensor<2x8x300x64xf16> -> tensor<2x8x300x64xf16>
  return %o : tensor<2x8x300x64xf16>
}

// -----

// CHECK-LABEL: func @alibi_forms
// CHECK: score_mods([#attn.alibi])
// CHECK: score_mods([#attn.alibi<align = bottom_right>])
func.func @alibi_forms(%q: tensor<1x4x8x16xf32>, %k: tensor<1x4x12x16xf32>, %v: tensor<1x4x12x16xf32>) -> tensor<1x4x8x16xf32> {
  %o = attn.attention %q, %k, %v score_mods([#attn.alibi<symmetric = false>]) : tensor<1x4x8x16xf32>, tensor<1x4x12x16xf32>, tensor<1x4x12x16xf32> -> tensor<1x4x8x16xf32>
  %o2 = attn.attention %q, %k, %v score_mods([#attn.alibi<align = bottom_right>]) : tensor<1x4x8x16xf32>, tensor<1x4x12x16xf32>, tensor<1x4x12x16xf32> -> tensor<1x4x8x16xf32>
  return %o : tensor<1x4x8x16xf32>
}

// -----

// CHECK-LABEL: func @normalizations
// CHECK: normalization(#attn.sigmoid<bias = -5.000000e+00>)
// CHECK: normalization(#attn.sigmoid)
// CHECK: normalization(#attn.relu<divide_by_length = true>)
// CHECK: normalization(#attn.relu)
// CHECK: normalization(#attn.softmax) : {{.*}} -> tensor<1x4x8x16xf32>, tensor<1x4x8xf32>
func.func @normalizations(%q: tensor<1x4x8x16xf32>, %k: tensor<1x4x8x16xf32>, %v: tensor<1x4x8x16xf32>) -> tensor<1x4x8x16xf32> {
  %o = attn.attention %q, %k, %v normalization(#attn.sigmoid<bias = -5.0>) : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32> -> tensor<1x4x8x16xf32>
  %o2 = attn.attention %q, %k, %v normalization(#attn.sigmoid<bias = 0.0>) : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32> -> tensor<1x4x8x16xf32>
  %o3 = attn.attention %q, %k, %v normalization(#attn.relu<divide_by_length = true>) : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32> -> tensor<1x4x8x16xf32>
  %o4 = attn.attention %q, %k, %v normalization(#attn.relu) : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32> -> tensor<1x4x8x16xf32>
  %o5, %lse = attn.attention %q, %k, %v normalization(#attn.softmax) : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32> -> tensor<1x4x8x16xf32>, tensor<1x4x8xf32>
  return %o : tensor<1x4x8x16xf32>
}

// -----

// CHECK-LABEL: func @score_mod_region
// CHECK: score_mod {
// CHECK-NEXT: ^bb0(%{{.*}}: f32, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index, %{{.*}}: index):
// CHECK: tensor.extract
// CHECK: attn.yield %{{.*}} : f32
func.func @score_mod_region(%q: tensor<1x4x8x16xf32>, %k: tensor<1x4x8x16xf32>, %v: tensor<1x4x8x16xf32>, %t: tensor<4xf32>) -> tensor<1x4x8x16xf32> {
  %o = attn.attention %q, %k, %v score_mod {
  ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
    %x = tensor.extract %t[%h] : tensor<4xf32>
    %r = arith.addf %s, %x : f32
    attn.yield %r : f32
  } : tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32> -> tensor<1x4x8x16xf32>
  return %o : tensor<1x4x8x16xf32>
}
