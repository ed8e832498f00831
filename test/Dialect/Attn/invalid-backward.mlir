// RUN: attn-opt %s -split-input-file -verify-diagnostics

func.func @softmax_needs_lse(%q: tensor<1x2x8x16xf32>) {
  // expected-error @+1 {{the softmax backward needs the forward's log-sum-exp: add 'lse(%lse : tensor<1x2x8xf32>)'}}
  %dq, %dk, %dv = attn.attention_backward %q, %q, %q, %q, %q
      : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
      -> tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
  return
}

// -----

func.func @pointwise_takes_no_lse(%q: tensor<1x2x8x16xf32>, %lse: tensor<1x2x8xf32>) {
  // expected-error @+1 {{'lse' is only defined for softmax normalization; a pointwise normalization's backward needs none, drop it}}
  %dq, %dk, %dv = attn.attention_backward %q, %q, %q, %q, %q lse(%lse : tensor<1x2x8xf32>) normalization(#attn.relu)
      : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
      -> tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
  return
}

// -----

func.func @lse_type(%q: tensor<1x2x8x16xf16>, %lse: tensor<1x2x8xf16>) {
  // expected-error @+1 {{operand 'lse' must be 'tensor<1x2x8xf32>' ([B, Hq, Sq] in the accumulation type), got 'tensor<1x2x8xf16>'}}
  %dq, %dk, %dv = attn.attention_backward %q, %q, %q, %q, %q lse(%lse : tensor<1x2x8xf16>)
      : tensor<1x2x8x16xf16>, tensor<1x2x8x16xf16>, tensor<1x2x8x16xf16>, tensor<1x2x8x16xf16>, tensor<1x2x8x16xf16>
      -> tensor<1x2x8x16xf16>, tensor<1x2x8x16xf16>, tensor<1x2x8x16xf16>
  return
}

// -----

func.func @grad_o_shape(%q: tensor<1x2x8x16xf32>, %do: tensor<1x2x4x16xf32>, %lse: tensor<1x2x8xf32>) {
  // expected-error @+1 {{operand 'grad_o' must be 'tensor<1x2x8x16xf32>' ([B, Hq, Sq, Dv] with the element type of 'q'), got 'tensor<1x2x4x16xf32>'}}
  %dq, %dk, %dv = attn.attention_backward %q, %q, %q, %q, %do lse(%lse : tensor<1x2x8xf32>)
      : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x4x16xf32>
      -> tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
  return
}

// -----

func.func @grad_k_type(%q: tensor<1x4x8x16xf32>, %k: tensor<1x2x8x16xf32>, %lse: tensor<1x4x8xf32>) {
  // expected-error @+1 {{result 'grad_k' must have the type of 'k', 'tensor<1x2x8x16xf32>', got 'tensor<1x4x8x16xf32>'}}
  %dq, %dk, %dv = attn.attention_backward %q, %k, %k, %q, %q lse(%lse : tensor<1x4x8xf32>)
      : tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>
      -> tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>, tensor<1x2x8x16xf32>
  return
}

// -----

func.func @grad_bias_without_bias(%q: tensor<1x2x8x16xf32>, %lse: tensor<1x2x8xf32>) {
  // expected-error @+1 {{'grad_bias' is the gradient of the 'bias' operand, which is absent}}
  %dq, %dk, %dv, %db = attn.attention_backward %q, %q, %q, %q, %q lse(%lse : tensor<1x2x8xf32>)
      : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
      -> tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x8xf32>
  return
}

// -----

func.func @grad_bias_type(%q: tensor<1x2x8x16xf32>, %lse: tensor<1x2x8xf32>, %bias: tensor<1x1x8x8xf32>) {
  // expected-error @+1 {{result 'grad_bias' must have the type of 'bias', 'tensor<1x1x8x8xf32>', got 'tensor<1x2x8x8xf32>'}}
  %dq, %dk, %dv, %db = attn.attention_backward %q, %q, %q, %q, %q lse(%lse : tensor<1x2x8xf32>)
      bias(%bias : tensor<1x1x8x8xf32>) score_mods([#attn.bias])
      : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
      -> tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x8xf32>
  return
}

// -----

func.func @packed(%q: tensor<?x2x16xf32>, %cq: tensor<3xi32>, %lse: tensor<?x2xf32>) {
  // expected-error @+1 {{the backward takes dense q, k and v ([B, H, S, D]); packed (cu_seqlens) and paged sequences are not supported by it}}
  %dq, %dk, %dv = attn.attention_backward %q, %q, %q, %q, %q lse(%lse : tensor<?x2xf32>)
      cu_seqlens_q(%cq : tensor<3xi32>) cu_seqlens_kv(%cq : tensor<3xi32>)
      : tensor<?x2x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32>
      -> tensor<?x2x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32>
  return
}

// -----

func.func @undifferentiable(%q: tensor<1x2x8x16xf32>, %lse: tensor<1x2x8xf32>) {
  // expected-error @+1 {{cannot differentiate 'math.copysign' in the score_mod region: the backward supports arith and math ops on the score}}
  %dq, %dk, %dv = attn.attention_backward %q, %q, %q, %q, %q lse(%lse : tensor<1x2x8xf32>)
      score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %c = arith.constant -1.0 : f32
        // expected-note @+1 {{the op that depends on the score}}
        %r = math.copysign %s, %c : f32
        attn.yield %r : f32
      }
      : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
      -> tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
  return
}

// -----

// What does not depend on the score needs no derivative: integer position
// arithmetic, comparisons, and a select whose condition alone depends on it
// are accepted.
func.func @position_code_is_fine(%q: tensor<1x2x8x16xf32>, %lse: tensor<1x2x8xf32>) {
  %dq, %dk, %dv = attn.attention_backward %q, %q, %q, %q, %q lse(%lse : tensor<1x2x8xf32>)
      score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %d = arith.subi %i, %j : index
        %di = arith.index_cast %d : index to i64
        %df = arith.sitofp %di : i64 to f32
        %z = arith.constant 0.0 : f32
        %pos = arith.cmpf ogt, %s, %z : f32
        %m = arith.select %pos, %df, %z : f32
        %f = math.floor %s : f32
        %r = arith.addf %s, %m : f32
        %r2 = arith.addf %r, %f : f32
        attn.yield %r2 : f32
      }
      : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
      -> tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
  return
}

// -----

func.func @empty_rows(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x4x16xf32>, %lse: tensor<1x2x8xf32>) {
  // expected-error @+1 {{the mask leaves query row 0 without any key (Sq = 8, Skv = 4)}}
  %dq, %dk, %dv = attn.attention_backward %q, %k, %k, %q, %q lse(%lse : tensor<1x2x8xf32>) mask(#attn.causal<align = bottom_right>)
      : tensor<1x2x8x16xf32>, tensor<1x2x4x16xf32>, tensor<1x2x4x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
      -> tensor<1x2x8x16xf32>, tensor<1x2x4x16xf32>, tensor<1x2x4x16xf32>
  return
}
