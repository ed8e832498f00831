// RUN: attn-opt %s --attn-to-gpu -split-input-file -verify-diagnostics

func.func @f64(%q: tensor<1x2x16x64xf64>, %k: tensor<1x2x16x64xf64>,
               %v: tensor<1x2x16x64xf64>) -> tensor<1x2x16x64xf64> {
  // expected-error @below {{cannot be compiled for the GPU: elements must be f16, bf16 or f32 (tf32 tensor cores), got 'f64'}}
  %o = attn.attention %q, %k, %v
      : tensor<1x2x16x64xf64>, tensor<1x2x16x64xf64>, tensor<1x2x16x64xf64>
      -> tensor<1x2x16x64xf64>
  return %o : tensor<1x2x16x64xf64>
}

// -----

func.func @head_dim(%q: tensor<1x2x16x20xf16>, %k: tensor<1x2x16x20xf16>,
                    %v: tensor<1x2x16x20xf16>) -> tensor<1x2x16x20xf16> {
  // expected-error @below {{cannot be compiled for the GPU: D = 20 must be a multiple of 8 and at most 256 (pad the head dimension with zeros)}}
  %o = attn.attention %q, %k, %v
      : tensor<1x2x16x20xf16>, tensor<1x2x16x20xf16>, tensor<1x2x16x20xf16>
      -> tensor<1x2x16x20xf16>
  return %o : tensor<1x2x16x20xf16>
}

// -----

func.func @value_dim(%q: tensor<1x2x16x64xbf16>, %k: tensor<1x2x16x64xbf16>,
                     %v: tensor<1x2x16x264xbf16>) -> tensor<1x2x16x264xbf16> {
  // expected-error @below {{cannot be compiled for the GPU: Dv = 264 must be a multiple of 8 and at most 256}}
  %o = attn.attention %q, %k, %v
      : tensor<1x2x16x64xbf16>, tensor<1x2x16x64xbf16>, tensor<1x2x16x264xbf16>
      -> tensor<1x2x16x264xbf16>
  return %o : tensor<1x2x16x264xbf16>
}

// -----

func.func @linear_hedgehog(%q: tensor<1x2x16x64xf16>, %k: tensor<1x2x16x64xf16>,
                           %v: tensor<1x2x16x64xf16>, %w: tensor<64x8xf32>)
    -> tensor<1x2x16x64xf16> {
  // expected-error @below {{cannot be compiled for the GPU: the feature map #attn.hedgehog<features = 8> has no per-element form for the GPU kernel (its features depend on each other); run it on the CPU}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.hedgehog<features = 8>)
      feature_weights(%w : tensor<64x8xf32>) causal
      : tensor<1x2x16x64xf16>, tensor<1x2x16x64xf16>, tensor<1x2x16x64xf16>
      -> tensor<1x2x16x64xf16>
  return %o : tensor<1x2x16x64xf16>
}

// -----

func.func @linear_gate(%q: tensor<1x2x16x64xf16>, %k: tensor<1x2x16x64xf16>,
                       %v: tensor<1x2x16x64xf16>, %g: tensor<1x2x16x64xf32>)
    -> tensor<1x2x16x64xf16> {
  // expected-error @below {{cannot be compiled for the GPU: gates per feature are not in the GPU kernel yet (gates per token are); lower this op on the CPU (attn-lower-to-cpu)}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.identity) causal
      gate(%g : tensor<1x2x16x64xf32>) normalization(none)
      : tensor<1x2x16x64xf16>, tensor<1x2x16x64xf16>, tensor<1x2x16x64xf16>
      -> tensor<1x2x16x64xf16>
  return %o : tensor<1x2x16x64xf16>
}

// -----

func.func @linear_delta_rule(%q: tensor<1x2x16x64xf16>, %k: tensor<1x2x16x64xf16>,
                             %v: tensor<1x2x16x64xf16>, %beta: tensor<1x2x16xf32>)
    -> tensor<1x2x16x64xf16> {
  // expected-error @below {{cannot be compiled for the GPU: the delta rule is not in the GPU kernel yet; lower this op on the CPU (attn-lower-to-cpu)}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.identity) causal
      delta_rule(%beta : tensor<1x2x16xf32>) normalization(none)
      : tensor<1x2x16x64xf16>, tensor<1x2x16x64xf16>, tensor<1x2x16x64xf16>
      -> tensor<1x2x16x64xf16>
  return %o : tensor<1x2x16x64xf16>
}

// -----

func.func @linear_f64(%q: tensor<1x2x16x8xf64>, %k: tensor<1x2x16x8xf64>,
                      %v: tensor<1x2x16x8xf64>) -> tensor<1x2x16x8xf64> {
  // expected-error @below {{cannot be compiled for the GPU: elements must be f16, bf16 or f32 (tf32 tensor cores), got 'f64'}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.relu)
      : tensor<1x2x16x8xf64>, tensor<1x2x16x8xf64>, tensor<1x2x16x8xf64>
      -> tensor<1x2x16x8xf64>
  return %o : tensor<1x2x16x8xf64>
}

// -----

// 1 + 64 + 64^2 = 4161 Taylor features: one chunk of 16 rows of features
// alone takes 2 x 133 KB.
func.func @linear_too_many_features(%q: tensor<1x2x16x64xbf16>, %k: tensor<1x2x16x64xbf16>,
                                    %v: tensor<1x2x16x64xbf16>) -> tensor<1x2x16x64xbf16> {
  // expected-error @below {{cannot be compiled for the GPU: the kernel needs 420672 bytes of shared memory for 4161 features per row (D = 64) even with chunks of 16 positions, more than the 163840 a block can have; use a feature map with fewer features}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.taylor<order = 2>) causal
      : tensor<1x2x16x64xbf16>, tensor<1x2x16x64xbf16>, tensor<1x2x16x64xbf16>
      -> tensor<1x2x16x64xbf16>
  return %o : tensor<1x2x16x64xbf16>
}

// -----

func.func @backward(%q: tensor<1x2x16x20xf16>, %lse: tensor<1x2x16xf32>) -> tensor<1x2x16x20xf16> {
  // expected-error @below {{cannot be compiled for the GPU: D = 20 must be a multiple of 8 and at most 256 (pad the head dimension with zeros)}}
  %dq, %dk, %dv = attn.attention_backward %q, %q, %q, %q, %q lse(%lse : tensor<1x2x16xf32>)
      : tensor<1x2x16x20xf16>, tensor<1x2x16x20xf16>, tensor<1x2x16x20xf16>, tensor<1x2x16x20xf16>, tensor<1x2x16x20xf16>
      -> tensor<1x2x16x20xf16>, tensor<1x2x16x20xf16>, tensor<1x2x16x20xf16>
  return %dq : tensor<1x2x16x20xf16>
}
