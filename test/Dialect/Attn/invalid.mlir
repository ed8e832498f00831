// RUN: attn-opt %s -split-input-file -verify-diagnostics

func.func @rank(%q: tensor<4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x32xf32>) {
  // expected-error @+1 {{'q' must be a rank-4 tensor [B, Hq, Sq, D], got 'tensor<4x16x32xf32>'}}
  %o = attn.attention %q, %k, %v : tensor<4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @element_type(%q: tensor<1x4x16x32xi8>, %k: tensor<1x4x16x32xi8>, %v: tensor<1x4x16x32xi8>) {
  // expected-error @+1 {{unsupported element type 'i8' of 'q'; use f16, bf16 or f32 (f64 for references)}}
  %o = attn.attention %q, %k, %v : tensor<1x4x16x32xi8>, tensor<1x4x16x32xi8>, tensor<1x4x16x32xi8> -> tensor<1x4x16x32xi8>
  return
}

// -----

func.func @element_type_mix(%q: tensor<1x4x16x32xf16>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x32xf16>) {
  // expected-error @+1 {{'q', 'k' and 'v' must have one element type, got 'f16', 'f32', 'f16'; convert the inputs (arith.extf / arith.truncf) first}}
  %o = attn.attention %q, %k, %v : tensor<1x4x16x32xf16>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf16> -> tensor<1x4x16x32xf16>
  return
}

// -----

func.func @dynamic_heads(%q: tensor<1x?x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x32xf32>) {
  // expected-error @+1 {{the head count and head dimension of 'q' must be static, got shape [1, ?, 16, 32] for [B, Hq, Sq, D]}}
  %o = attn.attention %q, %k, %v : tensor<1x?x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x?x16x32xf32>
  return
}

// -----

func.func @dynamic_value_dim(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x?xf32>) {
  // expected-error @+1 {{the head count and head dimension of 'v' must be static, got shape [1, 4, 16, ?] for [B, Hkv, Skv, Dv]}}
  %o = attn.attention %q, %k, %v : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x?xf32> -> tensor<1x4x16x?xf32>
  return
}

// -----

func.func @batch_q_k(%q: tensor<2x4x16x32xf32>, %k: tensor<3x4x16x32xf32>, %v: tensor<3x4x16x32xf32>) {
  // expected-error @+1 {{batch sizes of 'q' (2) and 'k' (3) must be equal}}
  %o = attn.attention %q, %k, %v : tensor<2x4x16x32xf32>, tensor<3x4x16x32xf32>, tensor<3x4x16x32xf32> -> tensor<2x4x16x32xf32>
  return
}

// -----

func.func @batch_k_v(%q: tensor<2x4x16x32xf32>, %k: tensor<2x4x16x32xf32>, %v: tensor<1x4x16x32xf32>) {
  // expected-error @+1 {{batch sizes of 'k' (2) and 'v' (1) must be equal}}
  %o = attn.attention %q, %k, %v : tensor<2x4x16x32xf32>, tensor<2x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<2x4x16x32xf32>
  return
}

// -----

func.func @kv_heads(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x2x16x32xf32>) {
  // expected-error @+1 {{key/value head counts of 'k' (4) and 'v' (2) must be equal}}
  %o = attn.attention %q, %k, %v : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x2x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @kv_length(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x17x32xf32>) {
  // expected-error @+1 {{key lengths (Skv) of 'k' (16) and 'v' (17) must be equal}}
  %o = attn.attention %q, %k, %v : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x17x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @head_dim(%q: tensor<1x4x16x64xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x32xf32>) {
  // expected-error @+1 {{head dimension D of 'q' (64) and 'k' (32) must be equal}}
  %o = attn.attention %q, %k, %v : tensor<1x4x16x64xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @gqa_ratio(%q: tensor<1x8x16x32xf32>, %k: tensor<1x3x16x32xf32>, %v: tensor<1x3x16x32xf32>) {
  // expected-error @+1 {{query heads (8) must be a multiple of key/value heads (3): in grouped-query attention each key/value head serves Hq / Hkv query heads}}
  %o = attn.attention %q, %k, %v : tensor<1x8x16x32xf32>, tensor<1x3x16x32xf32>, tensor<1x3x16x32xf32> -> tensor<1x8x16x32xf32>
  return
}

// -----

func.func @output_type(%q: tensor<1x4x16x32xf16>, %k: tensor<1x4x20x32xf16>, %v: tensor<1x4x20x8xf16>) {
  // expected-error @+1 {{result 'o' must be 'tensor<1x4x16x8xf16>' ([B, Hq, Sq, Dv] with the element type of 'q'), got 'tensor<1x4x16x8xf32>'}}
  %o = attn.attention %q, %k, %v : tensor<1x4x16x32xf16>, tensor<1x4x20x32xf16>, tensor<1x4x20x8xf16> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @output_shape(%q: tensor<?x4x16x32xf32>, %k: tensor<?x4x20x32xf32>, %v: tensor<?x4x20x32xf32>) {
  // expected-error @+1 {{result 'o' must be 'tensor<?x4x16x32xf32>' ([B, Hq, Sq, Dv] with the element type of 'q'), got 'tensor<?x4x20x32xf32>'}}
  %o = attn.attention %q, %k, %v : tensor<?x4x16x32xf32>, tensor<?x4x20x32xf32>, tensor<?x4x20x32xf32> -> tensor<?x4x20x32xf32>
  return
}

// -----

func.func @lse_type(%q: tensor<1x4x16x32xf16>, %k: tensor<1x4x16x32xf16>, %v: tensor<1x4x16x32xf16>) {
  // expected-error @+1 {{result 'lse' must be 'tensor<1x4x16xf32>' ([B, Hq, Sq] in the accumulation type), got 'tensor<1x4x16xf16>'}}
  %o, %lse = attn.attention %q, %k, %v : tensor<1x4x16x32xf16>, tensor<1x4x16x32xf16>, tensor<1x4x16x32xf16> -> tensor<1x4x16x32xf16>, tensor<1x4x16xf16>
  return
}

// -----

func.func @scale_not_finite(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x32xf32>) {
  // expected-error @+1 {{scale must be finite, got INF}}
  %o = attn.attention %q, %k, %v scale(0x7FF0000000000000) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @empty_row(%q: tensor<1x1x8x16xf32>, %k: tensor<1x1x4x16xf32>, %v: tensor<1x1x4x16xf32>) {
  // expected-error @+1 {{the mask leaves query row 0 without any key (Sq = 8, Skv = 4); fix the mask (e.g. the alignment of a causal mask) or add `allow_empty_rows` to get o = 0 and lse = -inf for such rows}}
  %o = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>) : tensor<1x1x8x16xf32>, tensor<1x1x4x16xf32>, tensor<1x1x4x16xf32> -> tensor<1x1x8x16xf32>
  return
}

// -----

// A window that ends before the first key leaves the later rows empty.
func.func @empty_row_window(%q: tensor<1x1x8x16xf32>, %k: tensor<1x1x4x16xf32>, %v: tensor<1x1x4x16xf32>) {
  // expected-error @+1 {{the mask leaves query row 6 without any key (Sq = 8, Skv = 4)}}
  %o = attn.attention %q, %k, %v mask(#attn.window<left = 2, right = 0>) : tensor<1x1x8x16xf32>, tensor<1x1x4x16xf32>, tensor<1x1x4x16xf32> -> tensor<1x1x8x16xf32>
  return
}

// -----

func.func @no_keys(%q: tensor<1x1x8x16xf32>, %k: tensor<1x1x0x16xf32>, %v: tensor<1x1x0x16xf32>) {
  // expected-error @+1 {{the mask leaves query row 0 without any key (Sq = 8, Skv = 0)}}
  %o = attn.attention %q, %k, %v : tensor<1x1x8x16xf32>, tensor<1x1x0x16xf32>, tensor<1x1x0x16xf32> -> tensor<1x1x8x16xf32>
  return
}

// -----

func.func @window_negative(%q: tensor<1x1x8x16xf32>, %k: tensor<1x1x8x16xf32>, %v: tensor<1x1x8x16xf32>) {
  // expected-error @+1 {{window extents must be in [0, 2^40], got left = -1, right = 0 (use #attn.causal for an unbounded left side)}}
  %o = attn.attention %q, %k, %v mask(#attn.window<left = -1, right = 0>) : tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32> -> tensor<1x1x8x16xf32>
  return
}

// -----

func.func @unknown_alignment(%q: tensor<1x1x8x16xf32>, %k: tensor<1x1x8x16xf32>, %v: tensor<1x1x8x16xf32>) {
  // expected-error @+2 {{expected ::attn::Alignment to be one of: top_left, bottom_right}}
  // expected-error @+1 {{failed to parse Attn_CausalAttr parameter 'align'}}
  %o = attn.attention %q, %k, %v mask(#attn.causal<align = center>) : tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32> -> tensor<1x1x8x16xf32>
  return
}

// -----

func.func @not_a_mask(%q: tensor<1x1x8x16xf32>, %k: tensor<1x1x8x16xf32>, %v: tensor<1x1x8x16xf32>) {
  // expected-error @+1 {{invalid kind of attribute specified}}
  %o = attn.attention %q, %k, %v mask(42 : i32) : tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32>, tensor<1x1x8x16xf32> -> tensor<1x1x8x16xf32>
  return
}
