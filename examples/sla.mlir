// Sparse-linear attention (SLA, Zhang et al. 2025) for diffusion
// transformers: per query block, the critical key blocks (a block_sparse
// layout, e.g. from attn_mlir.sla_layout: the top fraction by pooled
// q . k) get exact softmax attention, and the marginal rest a linear
// attention, returned apart as o_linear. The model adds them as
// o + proj(o_linear) with its learned projection. One kernel: the flash
// loop visits the critical tiles only, and the linear part is one state
// over all keys minus the critical tiles' share.
// CPU only for now: the GPU kernels refuse it with a diagnostic.
// RUN: attn-run %s --entry video_blocks --random --seed 1 --check
// RUN: attn-run %s --entry hedgehog_window --random --seed 2 --check

// 64x64 blocks of a 1024-token latent, 16 heads of 64, bf16; elu + 1 for
// the marginal blocks.
func.func @video_blocks(%q: tensor<1x16x1024x64xbf16>, %k: tensor<1x16x1024x64xbf16>, %v: tensor<1x16x1024x64xbf16>, %critical: tensor<1x16x16x16xi8>)
    -> (tensor<1x16x1024x64xbf16>, tensor<1x16x1024x64xbf16>) {
  %o, %o_linear = attn.attention %q, %k, %v layout(%critical : tensor<1x16x16x16xi8>)
      mask(#attn.block_sparse<block = [64, 64]>) approximation(#attn.elu_plus_one)
      : tensor<1x16x1024x64xbf16>, tensor<1x16x1024x64xbf16>, tensor<1x16x1024x64xbf16>
      -> tensor<1x16x1024x64xbf16> linear tensor<1x16x1024x64xbf16>
  return %o, %o_linear : tensor<1x16x1024x64xbf16>, tensor<1x16x1024x64xbf16>
}

// A local window exact, learned Hedgehog features (W [D, 32]) elsewhere.
func.func @hedgehog_window(%q: tensor<2x4x300x32xf32>, %k: tensor<2x4x300x32xf32>, %v: tensor<2x4x300x32xf32>, %w: tensor<32x32xf32>)
    -> (tensor<2x4x300x32xf32>, tensor<2x4x300x32xf32>) {
  %o, %o_linear = attn.attention %q, %k, %v mask(#attn.window<left = 32, right = 32>)
      approximation(#attn.hedgehog<features = 32>) feature_weights(%w : tensor<32x32xf32>)
      : tensor<2x4x300x32xf32>, tensor<2x4x300x32xf32>, tensor<2x4x300x32xf32>
      -> tensor<2x4x300x32xf32> linear tensor<2x4x300x32xf32>
  return %o, %o_linear : tensor<2x4x300x32xf32>, tensor<2x4x300x32xf32>
}
