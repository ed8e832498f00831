func.func @gqa(%q: tensor<2x4x37x40xf16>, %k: tensor<2x2x53x40xf16>, %v: tensor<2x2x53x24xf16>) -> (tensor<2x4x37x24xf16>, tensor<2x4x37xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>) : tensor<2x4x37x40xf16>, tensor<2x2x53x40xf16>, tensor<2x2x53x24xf16> -> tensor<2x4x37x24xf16>, tensor<2x4x37xf32>
  return %o, %lse : tensor<2x4x37x24xf16>, tensor<2x4x37xf32>
}
