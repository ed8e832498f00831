// Bidirectional local attention: each query sees 32 keys on either side
// (Longformer-style local band, encoder models).
// RUN: attn-run %s --random --seed 1 --check

func.func @local(%q: tensor<2x4x150x32xf32>, %k: tensor<2x4x150x32xf32>,
                 %v: tensor<2x4x150x32xf32>) -> tensor<2x4x150x32xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.window<left = 32, right = 32>)
      : tensor<2x4x150x32xf32>, tensor<2x4x150x32xf32>, tensor<2x4x150x32xf32>
      -> tensor<2x4x150x32xf32>
  return %o : tensor<2x4x150x32xf32>
}
