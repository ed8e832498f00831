// ReLU attention (Wortsman et al. 2023): weights relu(s) / Skv.
// RUN: attn-run %s --random --seed 1 --check

func.func @relu(%q: tensor<2x4x128x32xf32>, %k: tensor<2x4x128x32xf32>,
                %v: tensor<2x4x128x32xf32>) -> tensor<2x4x128x32xf32> {
  %o = attn.attention %q, %k, %v
      normalization(#attn.relu<divide_by_length = true>)
      : tensor<2x4x128x32xf32>, tensor<2x4x128x32xf32>, tensor<2x4x128x32xf32>
      -> tensor<2x4x128x32xf32>
  return %o : tensor<2x4x128x32xf32>
}
