// RUN: attn-opt %s -split-input-file -verify-diagnostics

func.func @rank(%q: tensor<4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x32xf32>) {
  // expected-error @+1 {{'q' must be a rank-4 tensor [B, Hq, Sq, D], got 'tensor<4x16x32xf32>'}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.relu) : tensor<4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @gqa(%q: tensor<1x6x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x32xf32>) {
  // expected-error @+1 {{query heads (6) must be a multiple of key/value heads (4)}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.relu) : tensor<1x6x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x6x16x32xf32>
  return
}

// -----

func.func @output_type(%q: tensor<1x4x16x32xf16>, %k: tensor<1x4x16x32xf16>, %v: tensor<1x4x16x8xf16>) {
  // expected-error @+1 {{result 'o' must be 'tensor<1x4x16x8xf16>' ([B, Hq, Sq, Dv] with the element type of 'q'), got 'tensor<1x4x16x8xf32>'}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.relu) : tensor<1x4x16x32xf16>, tensor<1x4x16x32xf16>, tensor<1x4x16x8xf16> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @relu_divide(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x32xf32>) {
  // expected-error @+1 {{the relu feature map takes no divide_by_length; write feature_map(#attn.relu)}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.relu<divide_by_length = true>) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @not_a_feature_map(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x32xf32>) {
  // expected-error @+1 {{invalid kind of attribute specified}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.causal) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @causal_lengths(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x20x32xf32>, %v: tensor<1x4x20x32xf32>) {
  // expected-error @+1 {{causal linear attention runs over one sequence: Sq and Skv must be equal, got Sq = 16, Skv = 20}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.relu) causal : tensor<1x4x16x32xf32>, tensor<1x4x20x32xf32>, tensor<1x4x20x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @decay_needs_causal(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x32xf32>, %g: tensor<4xf32>) {
  // expected-error @+1 {{'decay' applies to the causal recurrence; add `causal` or drop the decay}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.relu) decay(%g : tensor<4xf32>) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @decay_type(%q: tensor<1x4x16x32xbf16>, %k: tensor<1x4x16x32xbf16>, %v: tensor<1x4x16x32xbf16>, %g: tensor<4xbf16>) {
  // expected-error @+1 {{operand 'decay' must be 'tensor<4xf32>' (one factor per query head, in the accumulation type), got 'tensor<4xbf16>'}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.relu) causal decay(%g : tensor<4xbf16>) : tensor<1x4x16x32xbf16>, tensor<1x4x16x32xbf16>, tensor<1x4x16x32xbf16> -> tensor<1x4x16x32xbf16>
  return
}

// -----

func.func @missing_weights(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x32xf32>) {
  // expected-error @+1 {{the feature map #attn.hedgehog<features = 8> reads a 'feature_weights' operand of type 'tensor<32x8xf32>'; pass one}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.hedgehog<features = 8>) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @unread_weights(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x32xf32>, %w: tensor<8x32xf32>) {
  // expected-error @+1 {{the 'feature_weights' operand is given but the feature map #attn.favor<features = 8, seed = 1> reads none}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.favor<features = 8, seed = 1>) feature_weights(%w : tensor<8x32xf32>) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @weights_shape(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x32xf32>, %w: tensor<32x8xf32>) {
  // expected-error @+1 {{operand 'feature_weights' must be 'tensor<8x32xf32>' (the weights of the feature map, in the accumulation type), got 'tensor<32x8xf32>'}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.favor<features = 8>) feature_weights(%w : tensor<32x8xf32>) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @eps(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x32xf32>) {
  // expected-error @+1 {{eps must be finite and >= 0, got -1.000000e+00}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.relu) eps(-1.0) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @state_type(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x8xf32>, %s: tensor<1x4x8x32xf32>) {
  // expected-error @+1 {{operand 'initial_state' must be 'tensor<1x4x32x8xf32>' ([B, Hq, F, Dv] in the accumulation type, F = the number of features), got 'tensor<1x4x8x32xf32>'}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.relu) normalization(none) initial_state(%s : tensor<1x4x8x32xf32>) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @state_needs_normalizer(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x8xf32>, %s: tensor<1x4x32x8xf32>) {
  // expected-error @+1 {{with the denominator normalization, 'initial_state' comes with 'initial_normalizer' ('tensor<1x4x32xf32>')}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.relu) initial_state(%s : tensor<1x4x32x8xf32>) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

func.func @normalizer_without_denominator(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x8xf32>) {
  // expected-error @+1 {{'final_normalizer' belongs to the denominator normalization; drop it with normalization(none)}}
  %o, %s, %z = attn.linear_attention %q, %k, %v feature_map(#attn.relu) normalization(none) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x8xf32> -> tensor<1x4x16x8xf32>, tensor<1x4x32x8xf32>, tensor<1x4x32xf32>
  return
}

// -----

func.func @final_state_needs_normalizer(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x8xf32>) {
  // expected-error @+1 {{with the denominator normalization, 'final_state' comes with 'final_normalizer' ('tensor<1x4x32xf32>')}}
  %o, %s = attn.linear_attention %q, %k, %v feature_map(#attn.relu) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x8xf32> -> tensor<1x4x16x8xf32>, tensor<1x4x32x8xf32>
  return
}

// -----

func.func @positional_pieces(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x8xf32>, %s: tensor<1x4x64x8xf32>, %z: tensor<1x4x64xf32>) {
  // expected-error @+1 {{the feature map #attn.cosformer depends on positions, which restart at 0 in each op: process the sequence in one piece (no 'initial_state')}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.cosformer) causal initial_state(%s : tensor<1x4x64x8xf32>) initial_normalizer(%z : tensor<1x4x64xf32>) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x8xf32> -> tensor<1x4x16x8xf32>
  return
}

// -----

// expected-error @+1 {{#attn.favor needs features > 0, got 0}}
func.func @favor_features() attributes {f = #attn.favor<features = 0, seed = 1>} {
  return
}

// -----

// expected-error @+1 {{#attn.taylor supports order 1 or 2, got 3}}
func.func @taylor_order() attributes {f = #attn.taylor<order = 3>} {
  return
}

// -----

// expected-error @+1 {{#attn.cosformer needs max_len > 0, got 0}}
func.func @cosformer_length() attributes {f = #attn.cosformer<max_len = 0>} {
  return
}

// -----

// expected-error @+1 {{#attn.hedgehog needs features > 0, got -2}}
func.func @hedgehog_features() attributes {f = #attn.hedgehog<features = -2>} {
  return
}

// -----

func.func @gate_not_causal(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x32xf32>, %g: tensor<1x4x16xf32>) {
  // expected-error @+1 {{'gate' applies to the causal recurrence; add `causal` or drop the gate}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.identity) gate(%g : tensor<1x4x16xf32>) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @gate_and_decay(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x32xf32>, %gamma: tensor<4xf32>, %g: tensor<1x4x16xf32>) {
  // expected-error @+1 {{'gate' and 'decay' both decay the state; fold the decay into the gate (g + log(gamma) per head) and drop 'decay'}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.identity) causal decay(%gamma : tensor<4xf32>) gate(%g : tensor<1x4x16xf32>) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @gate_per_token_shape(%q: tensor<1x4x16x32xbf16>, %k: tensor<1x2x16x32xbf16>, %v: tensor<1x2x16x32xbf16>, %g: tensor<1x2x16xf32>) {
  // expected-error @+1 {{operand 'gate' must be 'tensor<1x4x16xf32>' ([B, Hq, S] (a log-space gate per token) or [B, Hq, S, F] (per token and feature), in the accumulation type), got 'tensor<1x2x16xf32>'}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.identity) causal gate(%g : tensor<1x2x16xf32>) : tensor<1x4x16x32xbf16>, tensor<1x2x16x32xbf16>, tensor<1x2x16x32xbf16> -> tensor<1x4x16x32xbf16>
  return
}

// -----

func.func @gate_per_feature_shape(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x32xf32>, %g: tensor<1x4x16x32xf32>) {
  // expected-error @+1 {{operand 'gate' must be 'tensor<1x4x16x64xf32>' ([B, Hq, S, F]: a log-space gate per token and feature, in the accumulation type), got 'tensor<1x4x16x32xf32>'}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.cosformer) causal gate(%g : tensor<1x4x16x32xf32>) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @gate_element_type(%q: tensor<1x4x16x32xf16>, %k: tensor<1x4x16x32xf16>, %v: tensor<1x4x16x32xf16>, %g: tensor<1x4x16xf16>) {
  // expected-error @+1 {{operand 'gate' must be 'tensor<1x4x16xf32>'}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.identity) causal gate(%g : tensor<1x4x16xf16>) : tensor<1x4x16x32xf16>, tensor<1x4x16x32xf16>, tensor<1x4x16x32xf16> -> tensor<1x4x16x32xf16>
  return
}

// -----

func.func @scale_not_finite(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x32xf32>) {
  // expected-error @+1 {{scale must be finite, got INF}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.identity) scale(0x7FF0000000000000) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @delta_not_causal(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x32xf32>, %beta: tensor<1x4x16xf32>) {
  // expected-error @+1 {{the delta rule is a causal recurrence; add `causal`}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.l2_normalize) delta_rule(%beta : tensor<1x4x16xf32>) normalization(none) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @delta_denominator(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x32xf32>, %beta: tensor<1x4x16xf32>) {
  // expected-error @+1 {{the delta rule has no normalizer; add normalization(none)}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.l2_normalize) causal delta_rule(%beta : tensor<1x4x16xf32>) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @delta_decay(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x32xf32>, %beta: tensor<1x4x16xf32>, %gamma: tensor<4xf32>) {
  // expected-error @+1 {{the delta rule takes its decay as a gate per token: pass log(gamma) for every token as 'gate' and drop 'decay'}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.l2_normalize) causal decay(%gamma : tensor<4xf32>) delta_rule(%beta : tensor<1x4x16xf32>) normalization(none) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @delta_feature_gate(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x32xf32>, %beta: tensor<1x4x16xf32>, %g: tensor<1x4x16x32xf32>) {
  // expected-error @+1 {{per-feature gates with the delta rule (Kimi Delta Attention) are not supported yet; use a gate per token [B, Hq, S]}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.l2_normalize) causal gate(%g : tensor<1x4x16x32xf32>) delta_rule(%beta : tensor<1x4x16xf32>) normalization(none) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}

// -----

func.func @delta_beta_shape(%q: tensor<1x4x16x32xf32>, %k: tensor<1x4x16x32xf32>, %v: tensor<1x4x16x32xf32>, %beta: tensor<1x4x17xf32>) {
  // expected-error @+1 {{operand 'beta' must be 'tensor<1x4x16xf32>' ([B, Hq, S]: the delta rule's write strength per token, in the accumulation type), got 'tensor<1x4x17xf32>'}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.l2_normalize) causal delta_rule(%beta : tensor<1x4x17xf32>) normalization(none) : tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32> -> tensor<1x4x16x32xf32>
  return
}
