// The GPU kernel (attn-to-gpu), emulated on the CPU one block at a time, at
// odd sizes against the float64 reference. One warp and 16-key tiles keep
// the emulated code small; the kernel's logic is the same at any size.
// RUN: attn-run %s --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 5 --dim B=2 --dim Sq=37 --dim Skv=45 --check | FileCheck %s
// CHECK: check o    max relative error {{.*}} ok
// CHECK: check lse  max relative error {{.*}} ok

func.func @tiny(%q: tensor<?x2x?x24xbf16>, %k: tensor<?x1x?x24xbf16>, %v: tensor<?x1x?x40xbf16>)
    -> (tensor<?x2x?x40xbf16>, tensor<?x2x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>)
      : tensor<?x2x?x24xbf16>, tensor<?x1x?x24xbf16>, tensor<?x1x?x40xbf16>
      -> tensor<?x2x?x40xbf16>, tensor<?x2x?xf32>
  return %o, %lse : tensor<?x2x?x40xbf16>, tensor<?x2x?xf32>
}
