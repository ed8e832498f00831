// When a mask leaves a query row without keys, that row's output is 0 and
// its log-sum-exp is -inf. Here 10 queries are bottom-right aligned to 6
// keys, so queries 0..3 see nothing; the verifier proves it and asks for
// `allow_empty_rows` to accept it.
// RUN: attn-run %s --random --seed 1 --check

func.func @empty_rows(%q: tensor<1x2x10x16xf32>, %k: tensor<1x2x6x16xf32>,
                      %v: tensor<1x2x6x16xf32>)
    -> (tensor<1x2x10x16xf32>, tensor<1x2x10xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>)
      allow_empty_rows
      : tensor<1x2x10x16xf32>, tensor<1x2x6x16xf32>, tensor<1x2x6x16xf32>
      -> tensor<1x2x10x16xf32>, tensor<1x2x10xf32>
  return %o, %lse : tensor<1x2x10x16xf32>, tensor<1x2x10xf32>
}
