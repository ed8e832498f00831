func.func @sparse_docs(%q: tensor<1x2x?x16xf32>, %k: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x16xf32>,
                       %layout: tensor<1x1x4x4xi1>, %qs: tensor<1x?xi32>, %ks: tensor<1x?xi32>)
    -> (tensor<1x2x?x16xf32>, tensor<1x2x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v layout(%layout : tensor<1x1x4x4xi1>)
      segments(%qs, %ks : tensor<1x?xi32>, tensor<1x?xi32>)
      mask(#attn.or<[#attn.block_sparse<block = [16, 16]>, #attn.document]>)
      : tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>
      -> tensor<1x2x?x16xf32>, tensor<1x2x?xf32>
  return %o, %lse : tensor<1x2x?x16xf32>, tensor<1x2x?xf32>
}
