// f32 on tf32 tensor cores (10-bit mantissa: tolerance 5e-3), a sliding
// window with sinks, the log-sum-exp, emulated.
// RUN: attn-run %s --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 3 --dim B=1 --dim Sq=53 --dim Skv=53 --check --tolerance 5e-3 | FileCheck %s
// CHECK: check o    max relative error {{.*}} ok
// CHECK: check lse  max relative error {{.*}} ok

func.func @window(%q: tensor<?x2x?x16xf32>, %k: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x16xf32>)
    -> (tensor<?x2x?x16xf32>, tensor<?x2x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v
      mask(#attn.or<[#attn.window<left = 20, right = 0>, #attn.sinks<3>]>)
      : tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
      -> tensor<?x2x?x16xf32>, tensor<?x2x?xf32>
  return %o, %lse : tensor<?x2x?x16xf32>, tensor<?x2x?xf32>
}
