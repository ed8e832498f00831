// 2-D neighborhood attention (NATTEN) on a 16x24 grid of image tokens: each
// token attends to a 7x7 window around it (shifted inward at the borders),
// and a second layer uses dilation 2 (every other token, 5x5).
// RUN: attn-run %s --entry natten --random --seed 1 --check
// RUN: attn-run %s --entry dilated --random --seed 2 --check

func.func @natten(%q: tensor<2x4x384x32xf16>, %k: tensor<2x4x384x32xf16>,
                  %v: tensor<2x4x384x32xf16>) -> tensor<2x4x384x32xf16> {
  %o = attn.attention %q, %k, %v
      mask(#attn.neighborhood<grid = [16, 24], kernel = [7, 7]>)
      : tensor<2x4x384x32xf16>, tensor<2x4x384x32xf16>, tensor<2x4x384x32xf16>
      -> tensor<2x4x384x32xf16>
  return %o : tensor<2x4x384x32xf16>
}

func.func @dilated(%q: tensor<2x4x384x32xf16>, %k: tensor<2x4x384x32xf16>,
                   %v: tensor<2x4x384x32xf16>) -> tensor<2x4x384x32xf16> {
  %o = attn.attention %q, %k, %v
      mask(#attn.neighborhood<grid = [16, 24], kernel = [5, 5], dilation = [2, 2]>)
      : tensor<2x4x384x32xf16>, tensor<2x4x384x32xf16>, tensor<2x4x384x32xf16>
      -> tensor<2x4x384x32xf16>
  return %o : tensor<2x4x384x32xf16>
}
