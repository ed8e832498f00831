// ALiBi (Press et al.): a per-head linear bias by distance, with the default
// slopes 2^(-8 (h+1) / H) (causal decoder), and with slopes given as an
// operand and the symmetric form -slope * |i - j| (bidirectional encoder).
// RUN: attn-run %s --entry decoder --random --seed 1 --check
// RUN: attn-run %s --entry encoder --random --seed 2 --check

func.func @decoder(%q: tensor<2x8x150x64xf16>, %k: tensor<2x8x150x64xf16>,
                   %v: tensor<2x8x150x64xf16>) -> tensor<2x8x150x64xf16> {
  %o = attn.attention %q, %k, %v mask(#attn.causal) score_mods([#attn.alibi])
      : tensor<2x8x150x64xf16>, tensor<2x8x150x64xf16>, tensor<2x8x150x64xf16>
      -> tensor<2x8x150x64xf16>
  return %o : tensor<2x8x150x64xf16>
}

func.func @encoder(%q: tensor<2x8x150x64xf32>, %k: tensor<2x8x150x64xf32>,
                   %v: tensor<2x8x150x64xf32>, %slopes: tensor<8xf32>)
    -> tensor<2x8x150x64xf32> {
  %o = attn.attention %q, %k, %v alibi_slopes(%slopes : tensor<8xf32>)
      score_mods([#attn.alibi<symmetric = true>])
      : tensor<2x8x150x64xf32>, tensor<2x8x150x64xf32>, tensor<2x8x150x64xf32>
      -> tensor<2x8x150x64xf32>
  return %o : tensor<2x8x150x64xf32>
}
