// A spec of two attn ops: the signature takes both ops' tensors. k and v,
// which both ops take, tie their B, Skv and D; each op's own query length
// is its own dimension (the second op's Sq and q become Sq_1 and q_1).
// RUN: attn-run %s --random --dim B=2 --dim Sq=7 --dim Skv=9 --dim Sq_1=3 --check | FileCheck %s
// RUN: not attn-run %s --random --dim B=2 --dim Sq=7 --dim Skv=9 2>&1 | FileCheck %s --check-prefix=DIM
// CHECK: ran two: o [2, 2, 7, 32] f32 lse [2, 2, 7] f32 o_1 [2, 2, 3, 32] f32
// CHECK: check o {{.*}} ok
// CHECK: check lse {{.*}} ok
// CHECK: check o_1 {{.*}} ok
// DIM: attn-run: error: dimension Sq_1 of 'q_1' is dynamic; pass --dim Sq_1=N

func.func @two(%q: tensor<?x2x?x32xf32>, %k: tensor<?x2x?x32xf32>,
               %v: tensor<?x2x?x32xf32>, %q2: tensor<?x2x?x32xf32>)
    -> (tensor<?x2x?x32xf32>, tensor<?x2x?xf32>, tensor<?x2x?x32xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal)
      : tensor<?x2x?x32xf32>, tensor<?x2x?x32xf32>, tensor<?x2x?x32xf32>
      -> tensor<?x2x?x32xf32>, tensor<?x2x?xf32>
  %o2 = attn.attention %q2, %k, %v
      : tensor<?x2x?x32xf32>, tensor<?x2x?x32xf32>, tensor<?x2x?x32xf32>
      -> tensor<?x2x?x32xf32>
  return %o, %lse, %o2
      : tensor<?x2x?x32xf32>, tensor<?x2x?xf32>, tensor<?x2x?x32xf32>
}
