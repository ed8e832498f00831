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

func.func @linear(%q: tensor<1x2x16x64xf16>, %k: tensor<1x2x16x64xf16>,
                  %v: tensor<1x2x16x64xf16>) -> tensor<1x2x16x64xf16> {
  // expected-error @below {{cannot be compiled for the GPU yet: linear attention runs on the CPU (attn-lower-to-cpu, attn-run --target cpu)}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.elu_plus_one) causal
      : tensor<1x2x16x64xf16>, tensor<1x2x16x64xf16>, tensor<1x2x16x64xf16>
      -> tensor<1x2x16x64xf16>
  return %o : tensor<1x2x16x64xf16>
}
