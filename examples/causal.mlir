// Causal self-attention in f16 (decoder training), returning the
// log-sum-exp as well, e.g. to merge partial results.
// RUN: attn-run %s --random --seed 1 --check

func.func @causal(%q: tensor<1x16x256x64xf16>, %k: tensor<1x16x256x64xf16>,
                  %v: tensor<1x16x256x64xf16>)
    -> (tensor<1x16x256x64xf16>, tensor<1x16x256xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal)
      : tensor<1x16x256x64xf16>, tensor<1x16x256x64xf16>, tensor<1x16x256x64xf16>
      -> tensor<1x16x256x64xf16>, tensor<1x16x256xf32>
  return %o, %lse : tensor<1x16x256x64xf16>, tensor<1x16x256xf32>
}
