// RUN: attn-opt %s -split-input-file -verify-diagnostics

func.func @packed_rank(%q: tensor<?x4x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x32xf32>) {
  // expected-error @+1 {{'q' must be a rank-4 tensor [B, Hq, Sq, D], got 'tensor<?x4x32xf32>'; packed sequences [T, H, D] need cu_seqlens_q}}
  %o = attn.attention %q, %k, %v : tensor<?x4x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<?x4x32xf32>
  return
}

// -----

func.func @packed_q_needs_rank3(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %cq: tensor<2xi32>) {
  // expected-error @+1 {{'q' must be a rank-3 tensor [Tq, Hq, D], got 'tensor<1x4x16x32xf32>'}}
  %o = attn.attention %q, %k, %k cu_seqlens_q(%cq : tensor<2xi32>) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @cu_seqlens_type(%q: tensor<?x4x32xf32>, %k: tensor<?x4x32xf32>, %cq: tensor<5xi64>, %ck: tensor<5xi32>) {
  // expected-error @+1 {{'cu_seqlens_q' must be a rank-1 tensor of i32 [B + 1], got 'tensor<5xi64>'}}
  %o = attn.attention %q, %k, %k cu_seqlens_q(%cq : tensor<5xi64>) cu_seqlens_kv(%ck : tensor<5xi32>) : tensor<?x4x32xf32>, tensor<?x4x32xf32>, tensor<?x4x32xf32> -> tensor<?x4x32xf32>
  return
}

// -----

func.func @cu_seqlens_empty(%q: tensor<?x4x32xf32>, %k: tensor<?x4x32xf32>, %cq: tensor<0xi32>, %ck: tensor<0xi32>) {
  // expected-error @+1 {{cumulative sequence lengths hold B + 1 >= 1 entries (the first is 0), got 'tensor<0xi32>'}}
  %o = attn.attention %q, %k, %k cu_seqlens_q(%cq : tensor<0xi32>) cu_seqlens_kv(%ck : tensor<0xi32>) : tensor<?x4x32xf32>, tensor<?x4x32xf32>, tensor<?x4x32xf32> -> tensor<?x4x32xf32>
  return
}

// -----

func.func @batch_mismatch(%q: tensor<?x4x32xf32>, %k: tensor<?x4x32xf32>, %cq: tensor<5xi32>, %ck: tensor<4xi32>) {
  // expected-error @+1 {{the number of sequences differs: size(cu_seqlens_q) - 1 is 4 but size(cu_seqlens_kv) - 1 is 3}}
  %o = attn.attention %q, %k, %k cu_seqlens_q(%cq : tensor<5xi32>) cu_seqlens_kv(%ck : tensor<4xi32>) : tensor<?x4x32xf32>, tensor<?x4x32xf32>, tensor<?x4x32xf32> -> tensor<?x4x32xf32>
  return
}

// -----

func.func @table_batch(%q: tensor<2x4x1x32xf32>, %k: tensor<?x16x4x32xf32>, %t: tensor<3x8xi32>, %l: tensor<3xi32>) {
  // expected-error @+1 {{the number of sequences differs: the batch size of 'q' is 2 but the rows of 'block_table' is 3}}
  %o = attn.attention %q, %k, %k paged_kv(%t, %l : tensor<3x8xi32>, tensor<3xi32>) : tensor<2x4x1x32xf32>, tensor<?x16x4x32xf32>, tensor<?x16x4x32xf32> -> tensor<2x4x1x32xf32>
  return
}

// -----

func.func @table_rank(%q: tensor<2x4x1x32xf32>, %k: tensor<?x16x4x32xf32>, %t: tensor<16xi32>, %l: tensor<2xi32>) {
  // expected-error @+1 {{'block_table' must be a rank-2 tensor of i32 [B, max_pages], got 'tensor<16xi32>'}}
  %o = attn.attention %q, %k, %k paged_kv(%t, %l : tensor<16xi32>, tensor<2xi32>) : tensor<2x4x1x32xf32>, tensor<?x16x4x32xf32>, tensor<?x16x4x32xf32> -> tensor<2x4x1x32xf32>
  return
}

// -----

func.func @dynamic_page(%q: tensor<2x4x1x32xf32>, %k: tensor<?x?x4x32xf32>, %t: tensor<2x8xi32>, %l: tensor<2xi32>) {
  // expected-error @+1 {{the page size P of paged 'k' must be static, got 'tensor<?x?x4x32xf32>'}}
  %o = attn.attention %q, %k, %k paged_kv(%t, %l : tensor<2x8xi32>, tensor<2xi32>) : tensor<2x4x1x32xf32>, tensor<?x?x4x32xf32>, tensor<?x?x4x32xf32> -> tensor<2x4x1x32xf32>
  return
}

// -----

func.func @paged_heads(%q: tensor<2x6x1x32xf32>, %k: tensor<?x16x4x32xf32>, %t: tensor<2x8xi32>, %l: tensor<2xi32>) {
  // expected-error @+1 {{query heads (6) must be a multiple of key/value heads (4)}}
  %o = attn.attention %q, %k, %k paged_kv(%t, %l : tensor<2x8xi32>, tensor<2xi32>) : tensor<2x6x1x32xf32>, tensor<?x16x4x32xf32>, tensor<?x16x4x32xf32> -> tensor<2x6x1x32xf32>
  return
}

// -----

func.func @page_mismatch(%q: tensor<2x4x1x32xf32>, %k: tensor<?x16x4x32xf32>, %v: tensor<?x32x4x32xf32>, %t: tensor<2x8xi32>, %l: tensor<2xi32>) {
  // expected-error @+1 {{page sizes (P) of 'k' (16) and 'v' (32) must be equal}}
  %o = attn.attention %q, %k, %v paged_kv(%t, %l : tensor<2x8xi32>, tensor<2xi32>) : tensor<2x4x1x32xf32>, tensor<?x16x4x32xf32>, tensor<?x32x4x32xf32> -> tensor<2x4x1x32xf32>
  return
}

// -----

func.func @packed_and_paged(%q: tensor<2x4x1x32xf32>, %k: tensor<?x16x4x32xf32>, %ck: tensor<3xi32>, %t: tensor<2x8xi32>, %l: tensor<2xi32>) {
  // expected-error @+1 {{keys and values are either packed ('cu_seqlens_kv') or paged ('paged_kv'), not both}}
  %o = attn.attention %q, %k, %k cu_seqlens_kv(%ck : tensor<3xi32>) paged_kv(%t, %l : tensor<2x8xi32>, tensor<2xi32>) : tensor<2x4x1x32xf32>, tensor<?x16x4x32xf32>, tensor<?x16x4x32xf32> -> tensor<2x4x1x32xf32>
  return
}

// -----

func.func @packed_result(%q: tensor<?x4x32xf32>, %k: tensor<?x4x32xf32>, %v: tensor<?x4x16xf32>, %cq: tensor<3xi32>) {
  // expected-error @+1 {{result 'o' must be 'tensor<?x4x16xf32>' ([Tq, Hq, Dv] with the element type of 'q'), got 'tensor<?x4x32xf32>'}}
  %o = attn.attention %q, %k, %v cu_seqlens_q(%cq : tensor<3xi32>) cu_seqlens_kv(%cq : tensor<3xi32>) : tensor<?x4x32xf32>, tensor<?x4x32xf32>, tensor<?x4x16xf32> -> tensor<?x4x32xf32>
  return
}

// -----

func.func @packed_lse(%q: tensor<?x4x32xf32>, %k: tensor<?x4x32xf32>, %cq: tensor<3xi32>) {
  // expected-error @+1 {{result 'lse' must be 'tensor<?x4xf32>' ([Tq, Hq] in the accumulation type), got 'tensor<4x?xf32>'}}
  %o, %lse = attn.attention %q, %k, %k cu_seqlens_q(%cq : tensor<3xi32>) cu_seqlens_kv(%cq : tensor<3xi32>) : tensor<?x4x32xf32>, tensor<?x4x32xf32>, tensor<?x4x32xf32> -> tensor<?x4x32xf32>, tensor<4x?xf32>
  return
}

// -----

// A block table without lengths (only expressible generically).
func.func @table_without_lengths(%q: tensor<1x2x1x8xf32>, %k: tensor<3x16x2x8xf32>, %t: tensor<1x4xi32>) {
  // expected-error @+1 {{'block_table' and 'kv_lens' come together (paged_kv)}}
  %o = "attn.attention"(%q, %k, %k, %t) <{operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0>, resultSegmentSizes = array<i32: 1, 0, 0>}> ({}, {}) : (tensor<1x2x1x8xf32>, tensor<3x16x2x8xf32>, tensor<3x16x2x8xf32>, tensor<1x4xi32>) -> tensor<1x2x1x8xf32>
  return
}

// -----

func.func @positions_type(%q: tensor<1x4x16x32xf32>, %p: tensor<2xi64>) {
  // expected-error @+1 {{'positions' must be a tensor<4xi64> (or i32) of [q_offset, kv_offset, q_total, kv_total], got 'tensor<2xi64>'}}
  %o = attn.attention %q, %q, %q positions(%p : tensor<2xi64>) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @positions_float(%q: tensor<1x4x16x32xf32>, %p: tensor<4xf32>) {
  // expected-error @+1 {{'positions' must be a tensor<4xi64> (or i32)}}
  %o = attn.attention %q, %q, %q positions(%p : tensor<4xf32>) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @positions_packed(%q: tensor<?x4x32xf32>, %cq: tensor<3xi32>, %p: tensor<4xi64>) {
  // expected-error @+1 {{'positions' places a dense shard of a sequence; it excludes 'cu_seqlens_q' (packed or paged sequences)}}
  %o = attn.attention %q, %q, %q cu_seqlens_q(%cq : tensor<3xi32>) cu_seqlens_kv(%cq : tensor<3xi32>) positions(%p : tensor<4xi64>) : tensor<?x4x32xf32>, tensor<?x4x32xf32>, tensor<?x4x32xf32> -> tensor<?x4x32xf32>
  return
}

// -----

func.func @positions_block_sparse(%q: tensor<1x4x16x32xf32>, %l: tensor<1x4x1x1xi8>, %p: tensor<4xi64>) {
  // expected-error @+1 {{'positions' does not support #attn.block_sparse (its layout is the shard's) yet; compute the shard without 'positions'}}
  %o = attn.attention %q, %q, %q layout(%l : tensor<1x4x1x1xi8>) positions(%p : tensor<4xi64>) mask(#attn.block_sparse<block = [16, 16]>) allow_empty_rows : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @positions_needs_empty_rows(%q: tensor<1x4x16x32xf32>, %p: tensor<4xi64>) {
  // expected-error @+1 {{with 'positions' a mask may leave rows of the shard without a key; add `allow_empty_rows` (o = 0, lse = -inf for them)}}
  %o = attn.attention %q, %q, %q positions(%p : tensor<4xi64>) mask(#attn.causal) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @positions_region_reads_tensor(%q: tensor<1x4x16x32xf32>, %p: tensor<4xi64>, %ids: tensor<64xi32>) {
  // expected-error @+1 {{with 'positions' the mask_mod and score_mod regions see global positions, so they may not read tensors indexed by them; pass segment ids or a bias as operands instead}}
  %o = attn.attention %q, %q, %q positions(%p : tensor<4xi64>) allow_empty_rows mask_mod {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %a = tensor.extract %ids[%i] : tensor<64xi32>
    %c = tensor.extract %ids[%j] : tensor<64xi32>
    %e = arith.cmpi eq, %a, %c : i32
    attn.yield %e : i1
  } : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}
