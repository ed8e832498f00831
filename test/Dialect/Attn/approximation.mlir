// RUN: attn-opt %s --split-input-file | attn-opt --split-input-file | FileCheck %s
// RUN: attn-opt %s --canonicalize --split-input-file | FileCheck %s --check-prefix=CANON

// The approximation clause round-trips after the spec's clauses, before the
// regions.
// CHECK-LABEL: func @window_favor
// CHECK: mask(#attn.window<left = 4, right = 4>) approximation(#attn.favor<features = 32, seed = 3>) :
// CANON-LABEL: func @window_favor
// CANON: approximation(#attn.favor<features = 32, seed = 3>)
func.func @window_favor(%q: tensor<1x2x37x16xf32>, %k: tensor<1x2x45x16xf32>, %v: tensor<1x2x45x8xf32>) -> (tensor<1x2x37x8xf32>, tensor<1x2x37xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.window<left = 4, right = 4>) approximation(#attn.favor<features = 32, seed = 3>)
      : tensor<1x2x37x16xf32>, tensor<1x2x45x16xf32>, tensor<1x2x45x8xf32> -> tensor<1x2x37x8xf32>, tensor<1x2x37xf32>
  return %o, %lse : tensor<1x2x37x8xf32>, tensor<1x2x37xf32>
}

// -----

// FAVOR+ reading its W [m, D] from an operand, in the accumulation type.
// CHECK-LABEL: func @favor_operand
// CHECK: approximation(#attn.favor<features = 24>) feature_weights(%{{.*}} : tensor<24x16xf32>) :
func.func @favor_operand(%q: tensor<1x2x37x16xbf16>, %k: tensor<1x1x45x16xbf16>, %v: tensor<1x1x45x8xbf16>, %w: tensor<24x16xf32>) -> tensor<1x2x37x8xbf16> {
  %o = attn.attention %q, %k, %v mask(#attn.causal) approximation(#attn.favor<features = 24>) feature_weights(%w : tensor<24x16xf32>)
      : tensor<1x2x37x16xbf16>, tensor<1x1x45x16xbf16>, tensor<1x1x45x8xbf16> -> tensor<1x2x37x8xbf16>
  return %o : tensor<1x2x37x8xbf16>
}

// -----

// A support that leaves rows empty needs no allow_empty_rows: outside it
// every key has its estimate.
// CHECK-LABEL: func @mask_mod_taylor
// CHECK: approximation(#attn.taylor) mask_mod {
func.func @mask_mod_taylor(%q: tensor<1x1x16x4xf32>, %k: tensor<1x1x16x4xf32>, %v: tensor<1x1x16x4xf32>) -> tensor<1x1x16x4xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.window<left = 0, right = 0, align = bottom_right>) approximation(#attn.taylor<order = 2>) mask_mod {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %c8 = arith.constant 8 : index
    %early = arith.cmpi ult, %i, %c8 : index
    attn.yield %early : i1
  } : tensor<1x1x16x4xf32>, tensor<1x1x16x4xf32>, tensor<1x1x16x4xf32> -> tensor<1x1x16x4xf32>
  return %o : tensor<1x1x16x4xf32>
}

// -----

// A mask that allows every pair leaves nothing to approximate: the
// canonicalizer drops both.
// CANON-LABEL: func @wide_window
// CANON: attn.attention %{{.*}}, %{{.*}}, %{{.*}} :
// CANON-NOT: approximation
func.func @wide_window(%q: tensor<1x2x10x16xf32>, %k: tensor<1x2x10x16xf32>, %v: tensor<1x2x10x16xf32>) -> tensor<1x2x10x16xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.window<left = 10, right = 10>) approximation(#attn.favor<features = 8, seed = 1>)
      : tensor<1x2x10x16xf32>, tensor<1x2x10x16xf32>, tensor<1x2x10x16xf32> -> tensor<1x2x10x16xf32>
  return %o : tensor<1x2x10x16xf32>
}

// -----

// So do the weights that only the approximation read.
// CANON-LABEL: func @wide_window_weights
// CANON: attn.attention %{{.*}}, %{{.*}}, %{{.*}} :
// CANON-NOT: approximation
// CANON-NOT: feature_weights
func.func @wide_window_weights(%q: tensor<1x2x10x16xf32>, %k: tensor<1x2x10x16xf32>, %v: tensor<1x2x10x16xf32>, %w: tensor<8x16xf32>) -> tensor<1x2x10x16xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.window<left = 10, right = 10>) approximation(#attn.favor<features = 8>) feature_weights(%w : tensor<8x16xf32>)
      : tensor<1x2x10x16xf32>, tensor<1x2x10x16xf32>, tensor<1x2x10x16xf32> -> tensor<1x2x10x16xf32>
  return %o : tensor<1x2x10x16xf32>
}

// -----

// SLA: the linear attention outside the support comes apart as o_linear
// (after `linear`), any map without positions, any scale.
// CHECK-LABEL: func @sla_blocks
// CHECK: %{{.*}}, %{{.*}}, %{{.*}} = attn.attention {{.*}} mask(#attn.block_sparse<block = [16, 16]>) scale(5.000000e-01) approximation(#attn.elu_plus_one) : {{.*}} -> tensor<1x2x64x8xf32>, tensor<1x2x64xf32> linear tensor<1x2x64x8xf32>
// Its mask stays even when it allows every pair: o_linear cannot go.
// CANON-LABEL: func @sla_blocks
// CANON-LABEL: func @sla_wide_window
// CANON: mask(#attn.window<left = 10, right = 10>) approximation(#attn.relu)
func.func @sla_blocks(%q: tensor<1x2x64x8xf32>, %k: tensor<1x2x64x8xf32>, %v: tensor<1x2x64x8xf32>, %layout: tensor<1x2x4x4xi8>) -> (tensor<1x2x64x8xf32>, tensor<1x2x64xf32>, tensor<1x2x64x8xf32>) {
  %o, %lse, %ol = attn.attention %q, %k, %v layout(%layout : tensor<1x2x4x4xi8>) mask(#attn.block_sparse<block = [16, 16]>) scale(0.5) approximation(#attn.elu_plus_one)
      : tensor<1x2x64x8xf32>, tensor<1x2x64x8xf32>, tensor<1x2x64x8xf32> -> tensor<1x2x64x8xf32>, tensor<1x2x64xf32> linear tensor<1x2x64x8xf32>
  return %o, %lse, %ol : tensor<1x2x64x8xf32>, tensor<1x2x64xf32>, tensor<1x2x64x8xf32>
}

func.func @sla_wide_window(%q: tensor<1x2x10x16xf32>, %k: tensor<1x2x10x16xf32>, %v: tensor<1x2x10x16xf32>) -> (tensor<1x2x10x16xf32>, tensor<1x2x10x16xf32>) {
  %o, %ol = attn.attention %q, %k, %v mask(#attn.window<left = 10, right = 10>) approximation(#attn.relu)
      : tensor<1x2x10x16xf32>, tensor<1x2x10x16xf32>, tensor<1x2x10x16xf32> -> tensor<1x2x10x16xf32> linear tensor<1x2x10x16xf32>
  return %o, %ol : tensor<1x2x10x16xf32>, tensor<1x2x10x16xf32>
}
