// 3-D neighborhood attention for video (4 frames of 8x10 tokens): causal
// along time (a frame sees itself and the previous one), a 5x5 window in
// space with stride 2 (queries share windows in 2x2 groups).
// RUN: attn-run %s --random --seed 1 --check

func.func @video(%q: tensor<1x4x320x32xf32>, %k: tensor<1x4x320x32xf32>,
                 %v: tensor<1x4x320x32xf32>) -> tensor<1x4x320x32xf32> {
  %o = attn.attention %q, %k, %v
      mask(#attn.neighborhood<grid = [4, 8, 10], kernel = [2, 5, 5],
                              stride = [1, 2, 2], causal = [true, false, false]>)
      : tensor<1x4x320x32xf32>, tensor<1x4x320x32xf32>, tensor<1x4x320x32xf32>
      -> tensor<1x4x320x32xf32>
  return %o : tensor<1x4x320x32xf32>
}
