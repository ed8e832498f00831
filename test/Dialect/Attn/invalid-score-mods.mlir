// RUN: attn-opt %s -split-input-file -verify-diagnostics

func.func @softcap_zero(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{the soft cap must be positive and finite, got 0}}
  %o = attn.attention %q, %k, %v score_mods([#attn.softcap<0.0>]) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @bias_missing(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{#attn.bias needs the 'bias(%b : tensor<...>)' operand}}
  %o = attn.attention %q, %k, %v score_mods([#attn.bias]) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @bias_shape(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>, %b: tensor<1x2x16x3xf32>) {
  // expected-error @+1 {{the bias must be a float tensor broadcastable to [B, Hq, Sq, Skv] (each dimension equal or 1), got 'tensor<1x2x16x3xf32>'}}
  %o = attn.attention %q, %k, %v bias(%b : tensor<1x2x16x3xf32>) score_mods([#attn.bias]) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @bias_type(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>, %b: tensor<1x1x16x16xi32>) {
  // expected-error @+1 {{the bias must be a float tensor broadcastable to [B, Hq, Sq, Skv]}}
  %o = attn.attention %q, %k, %v bias(%b : tensor<1x1x16x16xi32>) score_mods([#attn.bias]) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @slopes_shape(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>, %s: tensor<3xf32>) {
  // expected-error @+1 {{ALiBi slopes must be a tensor<2xf32> (one per query head), got 'tensor<3xf32>'}}
  %o = attn.attention %q, %k, %v alibi_slopes(%s : tensor<3xf32>) score_mods([#attn.alibi]) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @unused_bias(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>, %b: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{the 'bias' operand is given but no #attn.bias score modifier reads it}}
  %o = attn.attention %q, %k, %v bias(%b : tensor<1x2x16x8xf32>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @unused_slopes(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>, %s: tensor<2xf32>) {
  // expected-error @+1 {{the 'alibi_slopes' operand is given but no #attn.alibi score modifier reads it}}
  %o = attn.attention %q, %k, %v alibi_slopes(%s : tensor<2xf32>) score_mods([#attn.softcap<1.0>]) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @unused_layout(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>, %l: tensor<1x1x2x2xi8>) {
  // expected-error @+1 {{the 'layout' operand is given but no #attn.block_sparse mask reads it}}
  %o = attn.attention %q, %k, %v layout(%l : tensor<1x1x2x2xi8>) mask(#attn.causal) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @unused_segments(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>, %s: tensor<1x16xi32>) {
  // expected-error @+1 {{the 'q_segments' operand is given but no #attn.document mask reads it}}
  %o = attn.attention %q, %k, %v segments(%s, %s : tensor<1x16xi32>, tensor<1x16xi32>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

// Query segment ids without key segment ids (only expressible generically).
func.func @half_segments(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>, %s: tensor<1x16xi32>) {
  // expected-error @+1 {{'q_segments' and 'kv_segments' come together}}
  %o = "attn.attention"(%q, %k, %v, %s) <{mask = #attn.document, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0>, resultSegmentSizes = array<i32: 1, 0, 0>}> ({}, {}) : (tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x16xi32>) -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @lse_needs_softmax(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{'lse' is only defined for softmax normalization; drop the second result}}
  %o, %lse = attn.attention %q, %k, %v normalization(#attn.sigmoid) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>, tensor<1x2x16xf32>
  return
}

// -----

func.func @score_mod_args(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{the score_mod region must take (score: f32, b: index, h: index, q_idx: index, kv_idx: index), got ('f32', 'index', 'index', 'index')}}
  %o = attn.attention %q, %k, %v score_mod {
  ^bb0(%s: f32, %b: index, %h: index, %i: index):
    attn.yield %s : f32
  } : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @score_mod_yield(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{the score_mod region must end in attn.yield of 'f32'}}
  %o = attn.attention %q, %k, %v score_mod {
  ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
    attn.yield %i : index
  } : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @mask_mod_yield(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{the mask_mod region must end in attn.yield of 'i1'}}
  %o = attn.attention %q, %k, %v mask_mod {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %x = arith.constant 1.0 : f32
    attn.yield %x : f32
  } : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @mask_mod_blocks(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{the mask_mod region must have one block}}
  %o = attn.attention %q, %k, %v mask_mod {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    cf.br ^bb1
  ^bb1:
    %t = arith.constant true
    attn.yield %t : i1
  } : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @yield_outside(%x: f32) {
  // expected-error @+1 {{'attn.yield' op expects parent op to be one of 'attn.attention, attn.attention_backward'}}
  attn.yield %x : f32
}
