// Sparse + low-rank attention (Scatterbrain, Chen et al. 2021): the mask is
// the exact support, and every pair outside it weighs the feature map's
// estimate phi(q) . phi(k) of exp(q . k / sqrt(D)) instead of nothing.
// The CPU kernel visits only the support's tiles and adds the estimates
// from one linear-attention state per key/value head, so a long sequence
// costs the window plus one linear attention, yet no key is dropped.
// CPU only for now: the GPU kernels refuse it with a diagnostic.
// RUN: attn-run %s --entry local_plus_performer --random --seed 1 --check
// RUN: attn-run %s --entry blocks_plus_taylor --random --seed 2 --check

// A local window of 64 keys each side, FAVOR+ with 128 generated features
// for the rest (bf16 activations, GQA).
func.func @local_plus_performer(%q: tensor<1x8x1024x64xbf16>, %k: tensor<1x2x1024x64xbf16>, %v: tensor<1x2x1024x64xbf16>)
    -> (tensor<1x8x1024x64xbf16>, tensor<1x8x1024xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.window<left = 64, right = 64>)
      approximation(#attn.favor<features = 128, seed = 17>)
      : tensor<1x8x1024x64xbf16>, tensor<1x2x1024x64xbf16>, tensor<1x2x1024x64xbf16>
        -> tensor<1x8x1024x64xbf16>, tensor<1x8x1024xf32>
  return %o, %lse : tensor<1x8x1024x64xbf16>, tensor<1x8x1024xf32>
}

// A block-sparse support (the layout marks the exact 32 x 32 blocks; a
// query block may have none) with Based's second-order Taylor estimate
// for the other blocks, at a small head dimension (F = 1 + D + D^2).
func.func @blocks_plus_taylor(%q: tensor<2x4x300x16xf32>, %k: tensor<2x4x300x16xf32>, %v: tensor<2x4x300x32xf32>,
                              %layout: tensor<2x4x10x10xi8>) -> tensor<2x4x300x32xf32> {
  %o = attn.attention %q, %k, %v layout(%layout : tensor<2x4x10x10xi8>)
      mask(#attn.block_sparse<block = [32, 32]>) approximation(#attn.taylor<order = 2>)
      : tensor<2x4x300x16xf32>, tensor<2x4x300x16xf32>, tensor<2x4x300x32xf32> -> tensor<2x4x300x32xf32>
  return %o : tensor<2x4x300x32xf32>
}
