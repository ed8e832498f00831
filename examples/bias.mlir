// An additive bias tensor broadcast over the batch (e.g. a learned relative
// position bias per head, T5 / Swin style), then soft-capped.
// RUN: attn-run %s --random --seed 1 --check

func.func @biased(%q: tensor<3x4x96x32xf32>, %k: tensor<3x4x96x32xf32>,
                  %v: tensor<3x4x96x32xf32>, %bias: tensor<1x4x96x96xf32>)
    -> tensor<3x4x96x32xf32> {
  %o = attn.attention %q, %k, %v bias(%bias : tensor<1x4x96x96xf32>)
      score_mods([#attn.bias, #attn.softcap<30.0>])
      : tensor<3x4x96x32xf32>, tensor<3x4x96x32xf32>, tensor<3x4x96x32xf32>
      -> tensor<3x4x96x32xf32>
  return %o : tensor<3x4x96x32xf32>
}
