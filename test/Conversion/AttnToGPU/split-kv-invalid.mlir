// RUN: attn-opt %s --attn-to-gpu=split-kv=always -verify-diagnostics -split-input-file

func.func @sigmoid(%q: tensor<2x8x1x64xf16>, %k: tensor<2x8x?x64xf16>,
                   %v: tensor<2x8x?x64xf16>) -> tensor<2x8x1x64xf16> {
  // expected-error @+1 {{cannot be compiled with split-kv=always: key splits are merged by their log-sum-exp, which needs the softmax normalization (use split-kv=auto or never)}}
  %o = attn.attention %q, %k, %v normalization(#attn.sigmoid<bias = -2.0>)
      : tensor<2x8x1x64xf16>, tensor<2x8x?x64xf16>, tensor<2x8x?x64xf16>
      -> tensor<2x8x1x64xf16>
  return %o : tensor<2x8x1x64xf16>
}

// -----

// Fits as one kernel (split-kv=auto or never), not as the runs' kernels.
func.func @taylor_decay_runs(%q: tensor<1x2x?x32xbf16>, %k: tensor<1x2x?x32xbf16>,
                             %v: tensor<1x2x?x16xbf16>, %gamma: tensor<2xf32>)
    -> tensor<1x2x?x16xbf16> {
  // expected-error @+1 {{the kernel needs 178112 bytes of shared memory for 1057 features per row (D = 32) even with chunks of 16 positions, more than the 163840 a block can have; use a feature map with fewer features (or split-kv=never: the parallel runs' kernels also stage the state in shared memory)}}
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.taylor<order = 2>)
      causal decay(%gamma : tensor<2xf32>)
      : tensor<1x2x?x32xbf16>, tensor<1x2x?x32xbf16>, tensor<1x2x?x16xbf16>
      -> tensor<1x2x?x16xbf16>
  return %o : tensor<1x2x?x16xbf16>
}
