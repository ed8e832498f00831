// RUN: attn-opt %s --canonicalize --split-input-file | FileCheck %s

// CHECK-LABEL: func @duplicate
// CHECK: mask(#attn.causal) :
func.func @duplicate(%q: tensor<1x2x100x8xf32>, %k: tensor<1x2x100x8xf32>, %v: tensor<1x2x100x8xf32>) -> tensor<1x2x100x8xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.and<[#attn.causal, #attn.causal]>) : tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32> -> tensor<1x2x100x8xf32>
  return %o : tensor<1x2x100x8xf32>
}

// -----

// A window wider than the sequence allows every pair: no mask.
// CHECK-LABEL: func @wide_window
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} : 
// CHECK-NOT: mask(
func.func @wide_window(%q: tensor<1x2x100x8xf32>, %k: tensor<1x2x100x8xf32>, %v: tensor<1x2x100x8xf32>) -> tensor<1x2x100x8xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.window<left = 100, right = 100>) : tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32> -> tensor<1x2x100x8xf32>
  return %o : tensor<1x2x100x8xf32>
}

// -----

// A left window reaching key 0 from every row is causal.
// CHECK-LABEL: func @window_to_causal
// CHECK: mask(#attn.causal) :
func.func @window_to_causal(%q: tensor<1x2x100x8xf32>, %k: tensor<1x2x100x8xf32>, %v: tensor<1x2x100x8xf32>) -> tensor<1x2x100x8xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.window<left = 99, right = 0>) : tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32> -> tensor<1x2x100x8xf32>
  return %o : tensor<1x2x100x8xf32>
}

// -----

// CHECK-LABEL: func @causal_and_window
// CHECK: mask(#attn.window<left = 16, right = 0>) :
func.func @causal_and_window(%q: tensor<1x2x100x8xf32>, %k: tensor<1x2x100x8xf32>, %v: tensor<1x2x100x8xf32>) -> tensor<1x2x100x8xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.and<[#attn.window<left = 16, right = 5>, #attn.causal]>) : tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32> -> tensor<1x2x100x8xf32>
  return %o : tensor<1x2x100x8xf32>
}

// -----

// Nested ands flatten and deduplicate; not<not<m>> is m; an or with a part
// that allows everything allows everything.
// CHECK-LABEL: func @nested
// CHECK: mask(#attn.and<[#attn.sinks<4>, #attn.prefix_lm<8>]>) allow_empty_rows :
// CHECK: mask(#attn.causal<align = bottom_right>) :
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} : 
func.func @nested(%q: tensor<1x2x100x8xf32>, %k: tensor<1x2x100x8xf32>, %v: tensor<1x2x100x8xf32>) -> (tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32>) {
  %o = attn.attention %q, %k, %v mask(#attn.and<[#attn.and<[#attn.sinks<4>, #attn.prefix_lm<8>]>, #attn.sinks<4>]>) allow_empty_rows : tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32> -> tensor<1x2x100x8xf32>
  %o2 = attn.attention %q, %k, %v mask(#attn.not<#attn.not<#attn.causal<align = bottom_right>>>) : tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32> -> tensor<1x2x100x8xf32>
  %o3 = attn.attention %q, %k, %v mask(#attn.or<[#attn.causal, #attn.sinks<500>]>) : tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32> -> tensor<1x2x100x8xf32>
  return %o, %o2, %o3 : tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32>
}

// -----

// Dynamic lengths: only the structural rules apply.
// CHECK-LABEL: func @dynamic
// CHECK: mask(#attn.window<left = 100, right = 100>) :
// CHECK: mask(#attn.window<left = 7, right = 0, align = bottom_right>) :
func.func @dynamic(%q: tensor<1x2x?x8xf32>, %k: tensor<1x2x?x8xf32>, %v: tensor<1x2x?x8xf32>) -> (tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>) {
  %o = attn.attention %q, %k, %v mask(#attn.window<left = 100, right = 100>) : tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32> -> tensor<1x2x?x8xf32>
  %o2 = attn.attention %q, %k, %v mask(#attn.and<[#attn.causal<align = bottom_right>, #attn.window<left = 7, right = 3, align = bottom_right>]>) : tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32> -> tensor<1x2x?x8xf32>
  return %o, %o2 : tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>
}

// -----

// Different alignments do not merge; a mask that reads an operand stays even
// when another part covers everything (the operand keeps its reader).
// CHECK-LABEL: func @kept
// CHECK: mask(#attn.and<[#attn.causal<align = bottom_right>, #attn.window<left = 7, right = 0>]>)
// CHECK: mask(#attn.or<[#attn.block_sparse<block = [64, 64]>, #attn.sinks<200>]>)
func.func @kept(%q: tensor<1x2x100x8xf32>, %k: tensor<1x2x100x8xf32>, %v: tensor<1x2x100x8xf32>, %l: tensor<1x1x2x2xi8>) -> (tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32>) {
  %o = attn.attention %q, %k, %v mask(#attn.and<[#attn.causal<align = bottom_right>, #attn.window<left = 7, right = 0>]>) : tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32> -> tensor<1x2x100x8xf32>
  %o2 = attn.attention %q, %k, %v layout(%l : tensor<1x1x2x2xi8>) mask(#attn.or<[#attn.block_sparse<block = [64, 64]>, #attn.sinks<200>]>) : tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32> -> tensor<1x2x100x8xf32>
  return %o, %o2 : tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32>
}

// -----

// A shard's own lengths say nothing of the window: it stays.
// CHECK-LABEL: func @shard_keeps_window
// CHECK: mask(#attn.window<left = 100, right = 100>)
func.func @shard_keeps_window(%q: tensor<1x2x100x8xf32>, %k: tensor<1x2x100x8xf32>, %v: tensor<1x2x100x8xf32>, %p: tensor<4xi64>) -> tensor<1x2x100x8xf32> {
  %o = attn.attention %q, %k, %v positions(%p : tensor<4xi64>) mask(#attn.window<left = 100, right = 100>) allow_empty_rows : tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32>, tensor<1x2x100x8xf32> -> tensor<1x2x100x8xf32>
  return %o : tensor<1x2x100x8xf32>
}
