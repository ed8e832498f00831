// Sigmoid attention (FlashSigmoid, Ramapuram et al. 2024): each allowed score
// weighs sigmoid(s + b) with b = -log(Skv); no row normalization.
// RUN: attn-run %s --random --seed 1 --check

func.func @sigmoid(%q: tensor<2x4x200x64xf16>, %k: tensor<2x4x200x64xf16>,
                   %v: tensor<2x4x200x64xf16>) -> tensor<2x4x200x64xf16> {
  %o = attn.attention %q, %k, %v mask(#attn.causal)
      normalization(#attn.sigmoid<bias = -5.3>)
      : tensor<2x4x200x64xf16>, tensor<2x4x200x64xf16>, tensor<2x4x200x64xf16>
      -> tensor<2x4x200x64xf16>
  return %o : tensor<2x4x200x64xf16>
}
