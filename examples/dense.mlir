// Dense multi-head attention in f32: softmax(q k^T / sqrt(D)) v.
// RUN: attn-run %s --random --seed 1 --check

func.func @dense(%q: tensor<2x8x128x64xf32>, %k: tensor<2x8x128x64xf32>,
                 %v: tensor<2x8x128x64xf32>) -> tensor<2x8x128x64xf32> {
  %o = attn.attention %q, %k, %v
      : tensor<2x8x128x64xf32>, tensor<2x8x128x64xf32>, tensor<2x8x128x64xf32>
      -> tensor<2x8x128x64xf32>
  return %o : tensor<2x8x128x64xf32>
}
