// The factorized patterns of the Sparse Transformer (Child et al. 2019):
// strided (a local band of 16 plus every 16th key back) and fixed (the own
// block of 32 plus the last 4 "summary" positions of every block).
// RUN: attn-run %s --entry strided --random --seed 1 --check
// RUN: attn-run %s --entry fixed --random --seed 2 --check

func.func @strided(%q: tensor<1x4x300x32xf32>, %k: tensor<1x4x300x32xf32>,
                   %v: tensor<1x4x300x32xf32>) -> tensor<1x4x300x32xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.strided<stride = 16>)
      : tensor<1x4x300x32xf32>, tensor<1x4x300x32xf32>, tensor<1x4x300x32xf32>
      -> tensor<1x4x300x32xf32>
  return %o : tensor<1x4x300x32xf32>
}

func.func @fixed(%q: tensor<1x4x300x32xf32>, %k: tensor<1x4x300x32xf32>,
                 %v: tensor<1x4x300x32xf32>) -> tensor<1x4x300x32xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.fixed<stride = 32, summary = 4>)
      : tensor<1x4x300x32xf32>, tensor<1x4x300x32xf32>, tensor<1x4x300x32xf32>
      -> tensor<1x4x300x32xf32>
  return %o : tensor<1x4x300x32xf32>
}
