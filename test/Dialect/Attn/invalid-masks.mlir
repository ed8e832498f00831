// RUN: attn-opt %s -split-input-file -verify-diagnostics

func.func @sinks_zero(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{the number of sink tokens must be in [1, 2^40], got 0}}
  %o = attn.attention %q, %k, %v mask(#attn.sinks<0>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @prefix_zero(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{the prefix length must be in [1, 2^40], got 0}}
  %o = attn.attention %q, %k, %v mask(#attn.prefix_lm<0>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @strided_zero(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{the stride must be in [1, 2^40], got 0}}
  %o = attn.attention %q, %k, %v mask(#attn.strided<stride = 0>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @fixed_stride(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{the stride must be in [1, 2^40], got -4}}
  %o = attn.attention %q, %k, %v mask(#attn.fixed<stride = -4, summary = 1>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @fixed_summary(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{the summary size must be in [1, stride = 4], got 5}}
  %o = attn.attention %q, %k, %v mask(#attn.fixed<stride = 4, summary = 5>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @neighborhood_rank(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{a neighborhood grid has 1, 2 or 3 axes, got 4}}
  %o = attn.attention %q, %k, %v mask(#attn.neighborhood<grid = [2, 2, 2, 2], kernel = [1, 1, 1, 1]>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @neighborhood_kernel_size(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{'kernel' has 1 entries but the grid has 2 axes}}
  %o = attn.attention %q, %k, %v mask(#attn.neighborhood<grid = [4, 4], kernel = [3]>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @neighborhood_causal_size(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{'causal' has 1 entries but the grid has 2 axes}}
  %o = attn.attention %q, %k, %v mask(#attn.neighborhood<grid = [4, 4], kernel = [3, 3], causal = [true]>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @neighborhood_tile_size(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{'tile' has 3 entries but the grid has 2 axes}}
  %o = attn.attention %q, %k, %v mask(#attn.neighborhood<grid = [4, 4], kernel = [3, 3], tile = [2, 2, 2]>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @neighborhood_zero_tile(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{tile axis 1 must have 1 to 2^30 positions, got 0}}
  %o = attn.attention %q, %k, %v mask(#attn.neighborhood<grid = [4, 4], kernel = [3, 3], tile = [2, 0]>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @neighborhood_grid_axis(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{grid axis 1 must have 1 to 2^30 positions, got 0}}
  %o = attn.attention %q, %k, %v mask(#attn.neighborhood<grid = [4, 0], kernel = [3, 3]>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @neighborhood_zero_kernel(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{kernel, dilation and stride must be >= 1 (axis 0)}}
  %o = attn.attention %q, %k, %v mask(#attn.neighborhood<grid = [16], kernel = [0]>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @neighborhood_dilation(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{dilation 20 along axis 0 exceeds the axis length 16}}
  %o = attn.attention %q, %k, %v mask(#attn.neighborhood<grid = [16], kernel = [1], dilation = [20]>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @neighborhood_kernel_too_big(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{kernel 5 along axis 1 exceeds the 4 positions of the smallest dilation group (axis length 8 / dilation 2); use a smaller kernel or dilation}}
  %o = attn.attention %q, %k, %v mask(#attn.neighborhood<grid = [2, 8], kernel = [1, 5], dilation = [1, 2]>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @neighborhood_stride(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{stride 4 along axis 0 exceeds the kernel 3}}
  %o = attn.attention %q, %k, %v mask(#attn.neighborhood<grid = [16], kernel = [3], stride = [4]>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @neighborhood_tokens(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{the neighborhood grid has 12 tokens, but Sq = 16 and Skv = 16; both must equal the product of the grid}}
  %o = attn.attention %q, %k, %v mask(#attn.neighborhood<grid = [3, 4], kernel = [3, 3]>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @neighborhood_dynamic(%q: tensor<1x2x?x8xf32>, %k: tensor<1x2x?x8xf32>, %v: tensor<1x2x?x8xf32>) {
  // expected-error @+1 {{a neighborhood mask needs static Sq and Skv (the grid has 16 tokens)}}
  %o = attn.attention %q, %k, %v mask(#attn.neighborhood<grid = [4, 4], kernel = [3, 3]>) : tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32> -> tensor<1x2x?x8xf32>
  return
}

// -----

func.func @block_sparse_block(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{block_sparse takes block = [bq, bk] with sizes >= 1}}
  %o = attn.attention %q, %k, %v mask(#attn.block_sparse<block = [16]>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @block_sparse_no_layout(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{#attn.block_sparse needs the 'layout(%l : tensor<...>)' operand}}
  %o = attn.attention %q, %k, %v mask(#attn.block_sparse<block = [8, 8]>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @block_sparse_layout_type(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>, %l: tensor<1x2x2x2xi32>) {
  // expected-error @+1 {{the block-sparse layout must have i1 or i8 elements, got 'i32'}}
  %o = attn.attention %q, %k, %v layout(%l : tensor<1x2x2x2xi32>) mask(#attn.block_sparse<block = [8, 8]>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @block_sparse_layout_shape(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>, %l: tensor<1x2x2x3xi8>) {
  // expected-error @+1 {{the block-sparse layout must have shape [B or 1, Hq or 1, ceil(Sq / 8), ceil(Skv / 8)] = [1 or 1, 2 or 1, 2, 2] (? is dynamic), got 'tensor<1x2x2x3xi8>'}}
  %o = attn.attention %q, %k, %v layout(%l : tensor<1x2x2x3xi8>) mask(#attn.block_sparse<block = [8, 8]>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @document_no_segments(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{#attn.document needs the 'segments(%q_ids, %kv_ids : tensor<BxSqxi32>, tensor<BxSkvxi32>)' operand}}
  %o = attn.attention %q, %k, %v mask(#attn.document) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @document_segment_type(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>, %qs: tensor<1x16xi64>, %ks: tensor<1x16xi32>) {
  // expected-error @+1 {{the query segment ids must be an i32 tensor [B, Sq], got 'tensor<1x16xi64>'}}
  %o = attn.attention %q, %k, %v segments(%qs, %ks : tensor<1x16xi64>, tensor<1x16xi32>) mask(#attn.document) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @document_segment_shape(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x20x8xf32>, %v: tensor<1x2x20x8xf32>, %qs: tensor<1x16xi32>, %ks: tensor<1x16xi32>) {
  // expected-error @+1 {{the key segment ids must be an i32 tensor [B, Skv], got 'tensor<1x16xi32>'}}
  %o = attn.attention %q, %k, %v segments(%qs, %ks : tensor<1x16xi32>, tensor<1x16xi32>) mask(#attn.document) : tensor<1x2x16x8xf32>, tensor<1x2x20x8xf32>, tensor<1x2x20x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @empty_and(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{#attn.and needs at least one mask}}
  %o = attn.attention %q, %k, %v mask(#attn.and<[]>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @empty_or(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{#attn.or needs at least one mask}}
  %o = attn.attention %q, %k, %v mask(#attn.or<[]>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

// Combinators check their operands against the op.
func.func @nested_check(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{#attn.document needs the 'segments}}
  %o = attn.attention %q, %k, %v mask(#attn.not<#attn.or<[#attn.causal, #attn.document]>>) allow_empty_rows : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

// A provably empty row through combinators.
func.func @empty_row_not(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{the mask leaves query row 0 without any key}}
  %o = attn.attention %q, %k, %v mask(#attn.and<[#attn.causal, #attn.not<#attn.sinks<1>>]>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @bad_bool(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+2 {{expected 'true' or 'false'}}
  // expected-error @+1 {{failed to parse Attn_NeighborhoodAttr parameter 'causal'}}
  %o = attn.attention %q, %k, %v mask(#attn.neighborhood<grid = [16], kernel = [3], causal = [yes]>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}
