// Batch size and sequence lengths fixed at run time, not compile time:
// one compiled kernel serves every size.
// RUN: attn-run %s --random --seed 1 --dim B=3 --dim Sq=97 --dim Skv=97 --check
// RUN: attn-run %s --random --seed 2 --dim B=1 --dim Sq=5 --dim Skv=300 --check

func.func @dynamic(%q: tensor<?x8x?x64xf32>, %k: tensor<?x2x?x64xf32>,
                   %v: tensor<?x2x?x64xf32>)
    -> (tensor<?x8x?x64xf32>, tensor<?x8x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>)
      : tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>
      -> tensor<?x8x?x64xf32>, tensor<?x8x?xf32>
  return %o, %lse : tensor<?x8x?x64xf32>, tensor<?x8x?xf32>
}
