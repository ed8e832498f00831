// RUN: attn-opt %s --attn-to-gpu=split-kv=always -verify-diagnostics

func.func @sigmoid(%q: tensor<2x8x1x64xf16>, %k: tensor<2x8x?x64xf16>,
                   %v: tensor<2x8x?x64xf16>) -> tensor<2x8x1x64xf16> {
  // expected-error @+1 {{cannot be compiled with split-kv=always: key splits are merged by their log-sum-exp, which needs the softmax normalization (use split-kv=auto or never)}}
  %o = attn.attention %q, %k, %v normalization(#attn.sigmoid<bias = -2.0>)
      : tensor<2x8x1x64xf16>, tensor<2x8x?x64xf16>, tensor<2x8x?x64xf16>
      -> tensor<2x8x1x64xf16>
  return %o : tensor<2x8x1x64xf16>
}
