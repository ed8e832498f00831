// Head dimensions whose query fragments would not fit in registers keep the
// query tile in shared memory (ldmatrix for bf16, loads for tf32), emulated.
// RUN: attn-run %s --entry wide_bf16 --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 21 --dim B=1 --dim Sq=29 --dim Skv=41 --check | FileCheck %s
// RUN: attn-run %s --entry wide_f32 --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 22 --dim B=1 --dim Sq=29 --dim Skv=41 --check --tolerance 5e-3 | FileCheck %s
// CHECK: check o    max relative error {{.*}} ok

func.func @wide_bf16(%q: tensor<?x2x?x136xbf16>, %k: tensor<?x1x?x136xbf16>,
                     %v: tensor<?x1x?x16xbf16>) -> tensor<?x2x?x16xbf16> {
  %o = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>)
      : tensor<?x2x?x136xbf16>, tensor<?x1x?x136xbf16>, tensor<?x1x?x16xbf16>
      -> tensor<?x2x?x16xbf16>
  return %o : tensor<?x2x?x16xbf16>
}

func.func @wide_f32(%q: tensor<?x2x?x72xf32>, %k: tensor<?x2x?x72xf32>,
                    %v: tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32> {
  %o = attn.attention %q, %k, %v
      : tensor<?x2x?x72xf32>, tensor<?x2x?x72xf32>, tensor<?x2x?x16xf32>
      -> tensor<?x2x?x16xf32>
  return %o : tensor<?x2x?x16xf32>
}
