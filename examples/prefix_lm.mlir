// Prefix-LM (T5 / UL2 style): the first 96 tokens (the prompt) attend to
// each other bidirectionally; later tokens attend causally.
// RUN: attn-run %s --random --seed 1 --check

func.func @prefix_lm(%q: tensor<2x4x200x32xf32>, %k: tensor<2x4x200x32xf32>,
                     %v: tensor<2x4x200x32xf32>) -> tensor<2x4x200x32xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.prefix_lm<96>)
      : tensor<2x4x200x32xf32>, tensor<2x4x200x32xf32>, tensor<2x4x200x32xf32>
      -> tensor<2x4x200x32xf32>
  return %o : tensor<2x4x200x32xf32>
}
