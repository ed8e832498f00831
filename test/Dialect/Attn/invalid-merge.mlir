// RUN: attn-opt %s -split-input-file -verify-diagnostics

func.func @no_partials() {
  // expected-error @+1 {{needs at least one partial result: pass o(...) and lse(...)}}
  %o = "attn.merge"() <{operandSegmentSizes = array<i32: 0, 0>}> : () -> tensor<1x2x3x4xf32>
  return
}

// -----

func.func @counts(%o1: tensor<1x2x3x4xf32>, %o2: tensor<1x2x3x4xf32>, %l1: tensor<1x2x3xf32>) {
  // expected-error @+1 {{takes one 'lse' per 'o' partial, got 2 'o' and 1 'lse'}}
  %o = attn.merge o(%o1, %o2 : tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) lse(%l1 : tensor<1x2x3xf32>) -> tensor<1x2x3x4xf32>
  return
}

// -----

func.func @split_in_list(%o1: tensor<2x1x2x3x4xf32>, %o2: tensor<1x2x3x4xf32>, %l1: tensor<2x1x2x3xf32>, %l2: tensor<1x2x3xf32>) {
  // expected-error @+1 {{the split form takes one 'o' [N, B, H, S, Dv] and one 'lse' [N, B, H, S]; pass a list of partials as rank-4 'o' [B, H, S, Dv] and rank-3 'lse' [B, H, S] instead}}
  %o = attn.merge o(%o1, %o2 : tensor<2x1x2x3x4xf32>, tensor<1x2x3x4xf32>) lse(%l1, %l2 : tensor<2x1x2x3xf32>, tensor<1x2x3xf32>) -> tensor<1x2x3x4xf32>
  return
}

// -----

func.func @o_rank(%o1: tensor<1x2x3x4xf32>, %o2: tensor<2x3x4xf32>, %l1: tensor<1x2x3xf32>, %l2: tensor<1x2x3xf32>) {
  // expected-error @+1 {{'o' partial #1 must be a rank-4 tensor [B, H, S, Dv], got 'tensor<2x3x4xf32>'}}
  %o = attn.merge o(%o1, %o2 : tensor<1x2x3x4xf32>, tensor<2x3x4xf32>) lse(%l1, %l2 : tensor<1x2x3xf32>, tensor<1x2x3xf32>) -> tensor<1x2x3x4xf32>
  return
}

// -----

func.func @split_lse_rank(%o1: tensor<2x1x2x3x4xf32>, %l1: tensor<1x2x3xf32>) {
  // expected-error @+1 {{'lse' must be a rank-4 tensor [N, B, H, S], got 'tensor<1x2x3xf32>'}}
  %o = attn.merge o(%o1 : tensor<2x1x2x3x4xf32>) lse(%l1 : tensor<1x2x3xf32>) -> tensor<1x2x3x4xf32>
  return
}

// -----

func.func @o_element(%o1: tensor<1x2x3x4xi32>, %l1: tensor<1x2x3xf32>) {
  // expected-error @+1 {{unsupported element type 'i32' of 'o' partial #0; use f16, bf16 or f32 (f64 for references)}}
  %o = attn.merge o(%o1 : tensor<1x2x3x4xi32>) lse(%l1 : tensor<1x2x3xf32>) -> tensor<1x2x3x4xf32>
  return
}

// -----

func.func @o_elements_differ(%o1: tensor<1x2x3x4xf32>, %o2: tensor<1x2x3x4xf16>, %l1: tensor<1x2x3xf32>, %l2: tensor<1x2x3xf32>) {
  // expected-error @+1 {{'o' partials must have one element type, got 'f32' and 'f16' ('o' partial #1)}}
  %o = attn.merge o(%o1, %o2 : tensor<1x2x3x4xf32>, tensor<1x2x3x4xf16>) lse(%l1, %l2 : tensor<1x2x3xf32>, tensor<1x2x3xf32>) -> tensor<1x2x3x4xf32>
  return
}

// -----

func.func @lse_element(%o1: tensor<1x2x3x4xbf16>, %l1: tensor<1x2x3xbf16>) {
  // expected-error @+1 {{'lse' partial #0 must hold 'f32' (the accumulation type of 'bf16' partials), got 'bf16'}}
  %o = attn.merge o(%o1 : tensor<1x2x3x4xbf16>) lse(%l1 : tensor<1x2x3xbf16>) -> tensor<1x2x3x4xbf16>
  return
}

// -----

func.func @lse_rank(%o1: tensor<1x2x3x4xf32>, %l1: tensor<1x2x3x1xf32>) {
  // expected-error @+1 {{'lse' partial #0 must be a rank-3 tensor [B, H, S], got 'tensor<1x2x3x1xf32>'}}
  %o = attn.merge o(%o1 : tensor<1x2x3x4xf32>) lse(%l1 : tensor<1x2x3x1xf32>) -> tensor<1x2x3x4xf32>
  return
}

// -----

func.func @dynamic_heads(%o1: tensor<1x?x3x4xf32>, %l1: tensor<1x?x3xf32>) {
  // expected-error @+1 {{the head count H and value dimension Dv of 'o' partial #0 must be static, got shape [1, ?, 3, 4] for [B, H, S, Dv]}}
  %o = attn.merge o(%o1 : tensor<1x?x3x4xf32>) lse(%l1 : tensor<1x?x3xf32>) -> tensor<1x?x3x4xf32>
  return
}

// -----

func.func @lse_f64(%o1: tensor<1x2x3x4xf64>, %l1: tensor<1x2x3xf32>) {
  // expected-error @+1 {{'lse' partial #0 must hold 'f64' (the accumulation type of 'f64' partials), got 'f32'}}
  %o = attn.merge o(%o1 : tensor<1x2x3x4xf64>) lse(%l1 : tensor<1x2x3xf32>) -> tensor<1x2x3x4xf64>
  return
}

// -----

func.func @dynamic_value_dim(%o1: tensor<?x1x2x3x?xf32>, %l1: tensor<?x1x2x3xf32>) {
  // expected-error @+1 {{the head count H and value dimension Dv of 'o' must be static, got shape [?, 1, 2, 3, ?] for [N, B, H, S, Dv]}}
  %o = attn.merge o(%o1 : tensor<?x1x2x3x?xf32>) lse(%l1 : tensor<?x1x2x3xf32>) -> tensor<1x2x3x4xf32>
  return
}

// -----

func.func @sizes(%o1: tensor<?x2x3x4xf32>, %o2: tensor<?x2x5x4xf32>, %l1: tensor<?x2x3xf32>, %l2: tensor<?x2x?xf32>) {
  // expected-error @+1 {{dimension S of 'o' partial #0 (3) and 'o' partial #1 (5) must be equal}}
  %o = attn.merge o(%o1, %o2 : tensor<?x2x3x4xf32>, tensor<?x2x5x4xf32>) lse(%l1, %l2 : tensor<?x2x3xf32>, tensor<?x2x?xf32>) -> tensor<?x2x3x4xf32>
  return
}

// -----

func.func @split_count(%o1: tensor<3x1x2x3x4xf32>, %l1: tensor<4x1x2x3xf32>) {
  // expected-error @+1 {{dimension N of 'o' (3) and 'lse' (4) must be equal}}
  %o = attn.merge o(%o1 : tensor<3x1x2x3x4xf32>) lse(%l1 : tensor<4x1x2x3xf32>) -> tensor<1x2x3x4xf32>
  return
}

// -----

func.func @result_element(%o1: tensor<1x2x3x4xf32>, %l1: tensor<1x2x3xf32>) {
  // expected-error @+1 {{unsupported element type 'i8' of result 'o'; use f16, bf16, f32 or f64}}
  %o = attn.merge o(%o1 : tensor<1x2x3x4xf32>) lse(%l1 : tensor<1x2x3xf32>) -> tensor<1x2x3x4xi8>
  return
}

// -----

func.func @result_shape(%o1: tensor<1x2x?x4xf32>, %l1: tensor<1x2x?xf32>) {
  // expected-error @+1 {{result 'o' must be 'tensor<1x2x?x4xbf16>' ([B, H, S, Dv] of the partials), got 'tensor<1x2x7x4xbf16>'}}
  %o = attn.merge o(%o1 : tensor<1x2x?x4xf32>) lse(%l1 : tensor<1x2x?xf32>) -> tensor<1x2x7x4xbf16>
  return
}

// -----

func.func @result_lse(%o1: tensor<1x2x3x4xf16>, %l1: tensor<1x2x3xf32>) {
  // expected-error @+1 {{result 'lse' must be 'tensor<1x2x3xf32>' ([B, H, S] in the type of the 'lse' partials), got 'tensor<1x2x3xf16>'}}
  %o, %lse = attn.merge o(%o1 : tensor<1x2x3x4xf16>) lse(%l1 : tensor<1x2x3xf32>) -> tensor<1x2x3x4xf16>, tensor<1x2x3xf16>
  return
}
