// attn.merge on the GPU (the merge kernel split-KV decoding uses too),
// emulated against the float64 reference: a list of three f16 partials into
// f16 with dynamic B and S, and stacked f32 partials (N dynamic: 5, 1 and
// 0) into bf16; odd Dv and S so that the last block has idle threads.
// attn-run draws lse partials with -inf entries (empty partials, and rows
// where every partial is empty).
// RUN: attn-run %s --entry list_f16 --target gpu-emulation --random --seed 31 --dim B=2 --dim S=77 --check | FileCheck %s
// RUN: attn-run %s --entry stacked --target gpu-emulation --random --seed 32 --dim N=5 --dim B=3 --dim S=33 --check | FileCheck %s
// RUN: attn-run %s --entry stacked --target gpu-emulation --random --seed 33 --dim N=1 --dim B=1 --dim S=5 --check | FileCheck %s
// RUN: attn-run %s --entry stacked --target gpu-emulation --random --seed 34 --dim N=0 --dim B=2 --dim S=9 --check | FileCheck %s
// CHECK: check o    max relative error {{.*}} ok
// CHECK: check lse  max relative error {{.*}} ok

func.func @list_f16(%o1: tensor<?x4x?x40xf16>, %o2: tensor<?x4x?x40xf16>,
                    %o3: tensor<?x4x?x40xf16>, %l1: tensor<?x4x?xf32>,
                    %l2: tensor<?x4x?xf32>, %l3: tensor<?x4x?xf32>)
    -> (tensor<?x4x?x40xf16>, tensor<?x4x?xf32>) {
  %o, %lse = attn.merge
      o(%o1, %o2, %o3 : tensor<?x4x?x40xf16>, tensor<?x4x?x40xf16>, tensor<?x4x?x40xf16>)
      lse(%l1, %l2, %l3 : tensor<?x4x?xf32>, tensor<?x4x?xf32>, tensor<?x4x?xf32>)
      -> tensor<?x4x?x40xf16>, tensor<?x4x?xf32>
  return %o, %lse : tensor<?x4x?x40xf16>, tensor<?x4x?xf32>
}

func.func @stacked(%o_parts: tensor<?x?x2x?x24xf32>, %lse_parts: tensor<?x?x2x?xf32>)
    -> (tensor<?x2x?x24xbf16>, tensor<?x2x?xf32>) {
  %o, %lse = attn.merge o(%o_parts : tensor<?x?x2x?x24xf32>)
      lse(%lse_parts : tensor<?x?x2x?xf32>)
      -> tensor<?x2x?x24xbf16>, tensor<?x2x?xf32>
  return %o, %lse : tensor<?x2x?x24xbf16>, tensor<?x2x?xf32>
}
