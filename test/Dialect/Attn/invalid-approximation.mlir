// RUN: attn-opt %s -split-input-file -verify-diagnostics

func.func @not_an_estimate(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{the approximation #attn.elu_plus_one does not estimate exp(q . k / sqrt(D)) with positive weights; use #attn.favor<features = m, seed = s> or #attn.taylor<order = 2>}}
  %o = attn.attention %q, %k, %v mask(#attn.causal) approximation(#attn.elu_plus_one) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @taylor_order_one(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{the approximation #attn.taylor<order = 1> does not estimate}}
  %o = attn.attention %q, %k, %v mask(#attn.causal) approximation(#attn.taylor<order = 1>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @favor_weights_missing(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{the approximation #attn.favor<features = 16> reads a 'feature_weights' operand of type 'tensor<16x8xf32>'; pass one, or give the map a seed (e.g. seed = 1) so the compiler generates the weights}}
  %o = attn.attention %q, %k, %v mask(#attn.causal) approximation(#attn.favor<features = 16>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @favor_weights_shape(%q: tensor<1x2x16x8xf16>, %k: tensor<1x2x16x8xf16>, %v: tensor<1x2x16x8xf16>, %w: tensor<16x8xf16>) {
  // expected-error @+1 {{'feature_weights' must be 'tensor<16x8xf32>' (the weights of the feature map, in the accumulation type), got 'tensor<16x8xf16>'}}
  %o = attn.attention %q, %k, %v mask(#attn.causal) approximation(#attn.favor<features = 16>) feature_weights(%w : tensor<16x8xf16>) : tensor<1x2x16x8xf16>, tensor<1x2x16x8xf16>, tensor<1x2x16x8xf16> -> tensor<1x2x16x8xf16>
  return
}

// -----

func.func @weights_read_by_none(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>, %w: tensor<16x8xf32>) {
  // expected-error @+1 {{the 'feature_weights' operand is given but the approximation #attn.favor<features = 16, seed = 2> reads none}}
  %o = attn.attention %q, %k, %v mask(#attn.causal) approximation(#attn.favor<features = 16, seed = 2>) feature_weights(%w : tensor<16x8xf32>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @weights_without_approximation(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>, %w: tensor<16x8xf32>) {
  // expected-error @+1 {{the 'feature_weights' operand is read by an approximation's feature map; add approximation(#attn.favor<...>) or drop it}}
  %o = attn.attention %q, %k, %v mask(#attn.causal) feature_weights(%w : tensor<16x8xf32>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @scale(%q: tensor<1x2x16x16xf32>, %k: tensor<1x2x16x16xf32>, %v: tensor<1x2x16x16xf32>) {
  // expected-error @+1 {{an approximation estimates exp(q . k / sqrt(D)), so the scale must be 1/sqrt(D) = 0.25, got 0.5; drop 'scale' (or scale q instead)}}
  %o = attn.attention %q, %k, %v mask(#attn.causal) scale(0.5) approximation(#attn.taylor<order = 2>) : tensor<1x2x16x16xf32>, tensor<1x2x16x16xf32>, tensor<1x2x16x16xf32> -> tensor<1x2x16x16xf32>
  return
}

// -----

func.func @score_mods(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{score modifiers would make the exact weights disagree with the approximation's estimate of exp(q . k / sqrt(D)); drop them or the approximation}}
  %o = attn.attention %q, %k, %v mask(#attn.causal) score_mods([#attn.softcap<30.0>]) approximation(#attn.taylor<order = 2>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @normalization(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{an approximation estimates softmax's weights; drop the normalization #attn.sigmoid}}
  %o = attn.attention %q, %k, %v mask(#attn.causal) normalization(#attn.sigmoid) approximation(#attn.taylor<order = 2>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @no_mask(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{an approximation needs a mask, the exact support (without one every pair is exact); add one, e.g. mask(#attn.window<...>)}}
  %o = attn.attention %q, %k, %v approximation(#attn.taylor<order = 2>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @packed(%q: tensor<?x2x8xf32>, %k: tensor<?x2x8xf32>, %v: tensor<?x2x8xf32>, %cq: tensor<?xi32>, %ck: tensor<?xi32>) {
  // expected-error @+1 {{an approximation needs dense sequences ([B, H, S, D]) without 'positions'}}
  %o = attn.attention %q, %k, %v cu_seqlens_q(%cq : tensor<?xi32>) cu_seqlens_kv(%ck : tensor<?xi32>) mask(#attn.causal) approximation(#attn.taylor<order = 2>) : tensor<?x2x8xf32>, tensor<?x2x8xf32>, tensor<?x2x8xf32> -> tensor<?x2x8xf32>
  return
}

// -----

func.func @shard(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>, %p: tensor<4xi64>) {
  // expected-error @+1 {{an approximation needs dense sequences ([B, H, S, D]) without 'positions'}}
  %o = attn.attention %q, %k, %v positions(%p : tensor<4xi64>) mask(#attn.causal) allow_empty_rows approximation(#attn.taylor<order = 2>) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32>
  return
}

// -----

func.func @linear_output_without_approximation(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{the result 'o_linear' is the linear attention over the pairs outside an approximation's support; add approximation(#attn.elu_plus_one) (or another feature map) or drop the result}}
  %o, %ol = attn.attention %q, %k, %v mask(#attn.causal) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32> linear tensor<1x2x16x8xf32>
  return
}

// -----

func.func @linear_output_positional(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{the approximation #attn.cosformer depends on the sequence position, which the estimate outside the support does not track; use a map without positions (e.g. #attn.elu_plus_one)}}
  %o, %ol = attn.attention %q, %k, %v mask(#attn.causal) approximation(#attn.cosformer) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32> linear tensor<1x2x16x8xf32>
  return
}

// -----

func.func @linear_output_type(%q: tensor<1x2x16x8xf16>, %k: tensor<1x2x16x8xf16>, %v: tensor<1x2x16x8xf16>) {
  // expected-error @+1 {{result 'o_linear' must be 'tensor<1x2x16x8xf16>' (that of 'o'), got 'tensor<1x2x16x8xf32>'}}
  %o, %ol = attn.attention %q, %k, %v mask(#attn.causal) approximation(#attn.elu_plus_one) : tensor<1x2x16x8xf16>, tensor<1x2x16x8xf16>, tensor<1x2x16x8xf16> -> tensor<1x2x16x8xf16> linear tensor<1x2x16x8xf32>
  return
}

// -----

func.func @linear_output_score_mods(%q: tensor<1x2x16x8xf32>, %k: tensor<1x2x16x8xf32>, %v: tensor<1x2x16x8xf32>) {
  // expected-error @+1 {{the kernels tell the pairs outside an approximation's support by their scores, which score modifiers could change; drop them or the approximation}}
  %o, %ol = attn.attention %q, %k, %v mask(#attn.causal) score_mods([#attn.softcap<20.0>]) approximation(#attn.elu_plus_one) : tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32>, tensor<1x2x16x8xf32> -> tensor<1x2x16x8xf32> linear tensor<1x2x16x8xf32>
  return
}
