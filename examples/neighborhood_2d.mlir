// 2-D neighborhood attention (NATTEN) on a 16x24 grid of image tokens: each
// token attends to a 7x7 window around it (shifted inward at the borders),
// and a second layer uses dilation 2 (every other token, 5x5). The last two
// take the tokens in 8x8 blocks of the grid (`tile`; permute them once with
// attn_mlir.neighborhood_order): kernel tiles are then blocks, classified per
// axis, and GNA with a stride of one block and a 24x24 kernel is exactly
// block-sparse (every visited tile is full).
// RUN: attn-run %s --entry natten --random --seed 1 --check
// RUN: attn-run %s --entry dilated --random --seed 2 --check
// RUN: attn-run %s --entry natten_blocks --random --seed 3 --check
// RUN: attn-run %s --entry gna_blocks --random --seed 4 --check

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

func.func @natten_blocks(%q: tensor<2x4x384x32xf16>, %k: tensor<2x4x384x32xf16>,
                         %v: tensor<2x4x384x32xf16>) -> tensor<2x4x384x32xf16> {
  %o = attn.attention %q, %k, %v
      mask(#attn.neighborhood<grid = [16, 24], kernel = [7, 7], tile = [8, 8]>)
      : tensor<2x4x384x32xf16>, tensor<2x4x384x32xf16>, tensor<2x4x384x32xf16>
      -> tensor<2x4x384x32xf16>
  return %o : tensor<2x4x384x32xf16>
}

func.func @gna_blocks(%q: tensor<2x4x384x32xf16>, %k: tensor<2x4x384x32xf16>,
                      %v: tensor<2x4x384x32xf16>) -> tensor<2x4x384x32xf16> {
  %o = attn.attention %q, %k, %v
      mask(#attn.neighborhood<grid = [16, 24], kernel = [8, 24], stride = [8, 8], tile = [8, 8]>)
      : tensor<2x4x384x32xf16>, tensor<2x4x384x32xf16>, tensor<2x4x384x32xf16>
      -> tensor<2x4x384x32xf16>
  return %o : tensor<2x4x384x32xf16>
}
