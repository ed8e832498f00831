// RUN: attn-opt %s --attn-decompose --split-input-file | FileCheck %s

// Score modifiers run in order after scaling, before the mask: the bias is
// read with tensor.extract (broadcast dimensions at index 0), then the soft
// cap, then the causal select.
// CHECK-LABEL: func @bias_softcap
// CHECK: linalg.generic
// CHECK: linalg.generic
// CHECK:   %[[B:.*]] = linalg.index 0 : index
// CHECK:   %[[H:.*]] = linalg.index 1 : index
// CHECK:   %[[Q:.*]] = linalg.index 2 : index
// CHECK:   %[[KV:.*]] = linalg.index 3 : index
// CHECK:   %[[S:.*]] = arith.mulf
// CHECK:   %[[C0:.*]] = arith.constant 0 : index
// CHECK:   %[[BIAS:.*]] = tensor.extract %{{.*}}[%[[C0]], %[[H]], %[[Q]], %[[KV]]] : tensor<1x4x33x33xf16>
// CHECK:   %[[BIAS32:.*]] = arith.extf %[[BIAS]] : f16 to f32
// CHECK:   %[[SB:.*]] = arith.addf %[[S]], %[[BIAS32]] : f32
// CHECK:   math.tanh
// CHECK:   arith.cmpi sle, %[[KV]], %[[Q]] : index
// CHECK:   arith.select
func.func @bias_softcap(%q: tensor<2x4x33x16xf32>, %k: tensor<2x4x33x16xf32>, %v: tensor<2x4x33x16xf32>, %b: tensor<1x4x33x33xf16>) -> tensor<2x4x33x16xf32> {
  %o = attn.attention %q, %k, %v bias(%b : tensor<1x4x33x33xf16>) mask(#attn.causal) score_mods([#attn.bias, #attn.softcap<20.0>]) : tensor<2x4x33x16xf32>, tensor<2x4x33x16xf32>, tensor<2x4x33x16xf32> -> tensor<2x4x33x16xf32>
  return %o : tensor<2x4x33x16xf32>
}

// -----

// Default ALiBi slopes are 2^(-8 (h + 1) / H).
// CHECK-LABEL: func @alibi
// CHECK:   %[[H:.*]] = linalg.index 1 : index
// CHECK:   arith.constant -1.000000e+00 : f32
// CHECK:   math.exp2
func.func @alibi(%q: tensor<1x8x16x16xf32>, %k: tensor<1x8x16x16xf32>, %v: tensor<1x8x16x16xf32>) -> tensor<1x8x16x16xf32> {
  %o = attn.attention %q, %k, %v score_mods([#attn.alibi]) : tensor<1x8x16x16xf32>, tensor<1x8x16x16xf32>, tensor<1x8x16x16xf32> -> tensor<1x8x16x16xf32>
  return %o : tensor<1x8x16x16xf32>
}

// -----

// Pointwise normalizations have no row max and no division: sigmoid is
// 1 / (1 + exp(-(s + bias))), then a weighted sum.
// CHECK-LABEL: func @sigmoid
// CHECK-NOT: arith.maximumf
// CHECK: arith.constant 2.500000e+00 : f32
// CHECK: math.exp
// CHECK: arith.divf
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]
// CHECK-NOT: arith.divf
// CHECK: return
func.func @sigmoid(%q: tensor<1x2x16x16xf32>, %k: tensor<1x2x16x16xf32>, %v: tensor<1x2x16x16xf32>) -> tensor<1x2x16x16xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.causal) normalization(#attn.sigmoid<bias = -2.5>) : tensor<1x2x16x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16x16xf32> -> tensor<1x2x16x16xf32>
  return %o : tensor<1x2x16x16xf32>
}

// -----

// ReLU weights, and the 1 / Skv output factor.
// CHECK-LABEL: func @relu
// CHECK: arith.maximumf %{{.*}}, %{{.*}} : f32
// CHECK: %[[SKV:.*]] = arith.sitofp %{{.*}} : i64 to f32
// CHECK: %[[FACTOR:.*]] = arith.divf %{{.*}}, %[[SKV]] : f32
// CHECK: arith.mulf %{{.*}}, %[[FACTOR]] : f32
func.func @relu(%q: tensor<1x2x?x16xf32>, %k: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x16xf32>) -> tensor<1x2x?x16xf32> {
  %o = attn.attention %q, %k, %v normalization(#attn.relu<divide_by_length = true>) : tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32> -> tensor<1x2x?x16xf32>
  return %o : tensor<1x2x?x16xf32>
}

// -----

// Block-sparse and document masks read their operands per element.
// CHECK-LABEL: func @data_masks
// CHECK:   %[[Q:.*]] = linalg.index 2 : index
// CHECK:   %[[KV:.*]] = linalg.index 3 : index
// CHECK-DAG: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<2x32xi32>
// CHECK-DAG: %[[QB:.*]] = arith.floordivsi %[[Q]], %{{.*}} : index
// CHECK-DAG: %[[KB:.*]] = arith.floordivsi %[[KV]], %{{.*}} : index
// CHECK-DAG: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}, %[[QB]], %[[KB]]] : tensor<2x1x2x4xi1>
// CHECK:   arith.select
func.func @data_masks(%q: tensor<2x2x32x16xf32>, %k: tensor<2x2x32x16xf32>, %v: tensor<2x2x32x16xf32>, %l: tensor<2x1x2x4xi1>, %qs: tensor<2x32xi32>, %ks: tensor<2x32xi32>) -> tensor<2x2x32x16xf32> {
  %o = attn.attention %q, %k, %v layout(%l : tensor<2x1x2x4xi1>) segments(%qs, %ks : tensor<2x32xi32>, tensor<2x32xi32>) mask(#attn.and<[#attn.block_sparse<block = [16, 8]>, #attn.document]>) : tensor<2x2x32x16xf32>, tensor<2x2x32x16xf32>, tensor<2x2x32x16xf32> -> tensor<2x2x32x16xf32>
  return %o : tensor<2x2x32x16xf32>
}

// -----

// Regions are inlined at every score: score_mod after the modifiers,
// mask_mod ANDed with the mask attribute.
// CHECK-LABEL: func @regions
// CHECK:   %[[Q:.*]] = linalg.index 2 : index
// CHECK:   %[[KV:.*]] = linalg.index 3 : index
// CHECK:   %[[S:.*]] = arith.mulf
// CHECK:   %[[TWO:.*]] = arith.constant 2.000000e+00 : f32
// CHECK:   %[[S2:.*]] = arith.mulf %[[S]], %[[TWO]] : f32
// CHECK:   %[[CAUSAL:.*]] = arith.cmpi sle, %[[KV]], %[[Q]] : index
// CHECK:   %[[NE:.*]] = arith.cmpi ne, %[[Q]], %[[KV]] : index
// CHECK:   %[[OK:.*]] = arith.andi %[[CAUSAL]], %[[NE]] : i1
// CHECK:   arith.select %[[OK]], %[[S2]], %{{.*}} : f32
func.func @regions(%q: tensor<1x2x16x16xf32>, %k: tensor<1x2x16x16xf32>, %v: tensor<1x2x16x16xf32>) -> tensor<1x2x16x16xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.causal) allow_empty_rows score_mod {
  ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
    %c = arith.constant 2.0 : f32
    %r = arith.mulf %s, %c : f32
    attn.yield %r : f32
  } mask_mod {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %ne = arith.cmpi ne, %i, %j : index
    attn.yield %ne : i1
  } : tensor<1x2x16x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16x16xf32> -> tensor<1x2x16x16xf32>
  return %o : tensor<1x2x16x16xf32>
}
