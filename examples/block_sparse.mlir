// Block-sparse attention: a layout operand (one entry per 32x32 block of the
// score matrix, per head) says which blocks are computed, as in FlashInfer's
// BSR format or Sparse Transformer / MInference patterns computed by the
// user. Rows whose blocks are all off give o = 0 and lse = -inf.
// RUN: attn-run %s --random --seed 1 --check

func.func @block_sparse(%q: tensor<2x4x256x64xf16>, %k: tensor<2x4x256x64xf16>,
                        %v: tensor<2x4x256x64xf16>, %layout: tensor<1x4x8x8xi8>)
    -> (tensor<2x4x256x64xf16>, tensor<2x4x256xf32>) {
  %o, %lse = attn.attention %q, %k, %v layout(%layout : tensor<1x4x8x8xi8>)
      mask(#attn.block_sparse<block = [32, 32]>)
      : tensor<2x4x256x64xf16>, tensor<2x4x256x64xf16>, tensor<2x4x256x64xf16>
      -> tensor<2x4x256x64xf16>, tensor<2x4x256xf32>
  return %o, %lse : tensor<2x4x256x64xf16>, tensor<2x4x256xf32>
}
