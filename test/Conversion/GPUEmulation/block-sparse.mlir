// Block-sparse layouts on the GPU kernel, emulated, against the float64
// reference. Regression test (found by test/property): an i1 layout made the
// emulation stop with "control flow diverges across the block", because the
// emulator gathered i1 lanes through memory where a vector of i1 is packed
// bits and a memref of i1 a byte per element. bf16 keeps the tolerance
// independent of tf32.
// RUN: attn-run %s --entry layout_i1 --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 1 --check | FileCheck %s
// RUN: attn-run %s --entry layout_i1 --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 4 --check | FileCheck %s
// RUN: attn-run %s --entry layout_i8_dynamic --target gpu-emulation --warps 2 --tile-kv 16 --random --seed 2 --dim Sq=45 --dim Skv=70 --check | FileCheck %s
// Skv = 0, 1, 15, 16 (no key block, one partial tile, one full tile),
// also split into key ranges. Regression test (issue 17): with no key the
// layout has no key block, and the key-tile prefetch classified the
// range's first tile anyway, reading the layout out of bounds (a crash at
// Skv = 0); the prefetched loop now runs only on a non-empty range.
// RUN: attn-run %s --entry layout_i8_dynamic --target gpu-emulation --warps 2 --tile-kv 16 --random --seed 2 --dim Sq=45 --dim Skv=0 --check | FileCheck %s
// RUN: attn-run %s --entry layout_i8_dynamic --target gpu-emulation --warps 2 --tile-kv 16 --split-kv always --random --seed 3 --dim Sq=45 --dim Skv=0 --check | FileCheck %s
// RUN: attn-run %s --entry layout_i8_dynamic --target gpu-emulation --warps 2 --tile-kv 16 --random --seed 5 --dim Sq=45 --dim Skv=1 --check | FileCheck %s
// RUN: attn-run %s --entry layout_i8_dynamic --target gpu-emulation --warps 2 --tile-kv 16 --random --seed 6 --dim Sq=45 --dim Skv=15 --check | FileCheck %s
// RUN: attn-run %s --entry layout_i8_dynamic --target gpu-emulation --warps 2 --tile-kv 16 --random --seed 7 --dim Sq=45 --dim Skv=16 --check | FileCheck %s
// RUN: attn-run %s --entry layout_i8_dynamic --target gpu-emulation --warps 2 --tile-kv 16 --split-kv always --random --seed 8 --dim Sq=45 --dim Skv=70 --check | FileCheck %s
// CHECK: check o    max relative error {{.*}} ok
// CHECK: check lse  max relative error {{.*}} ok

func.func @layout_i1(%q: tensor<1x2x16x16xbf16>, %k: tensor<1x2x32x16xbf16>,
                     %v: tensor<1x2x32x16xbf16>, %layout: tensor<1x2x1x2xi1>)
    -> (tensor<1x2x16x16xbf16>, tensor<1x2x16xf32>) {
  %o, %lse = attn.attention %q, %k, %v layout(%layout : tensor<1x2x1x2xi1>)
      mask(#attn.block_sparse<block = [16, 16]>) allow_empty_rows
      : tensor<1x2x16x16xbf16>, tensor<1x2x32x16xbf16>, tensor<1x2x32x16xbf16>
      -> tensor<1x2x16x16xbf16>, tensor<1x2x16xf32>
  return %o, %lse : tensor<1x2x16x16xbf16>, tensor<1x2x16xf32>
}

func.func @layout_i8_dynamic(%q: tensor<1x1x?x16xf16>, %k: tensor<1x1x?x16xf16>,
                             %v: tensor<1x1x?x16xf16>, %layout: tensor<1x1x?x?xi8>)
    -> (tensor<1x1x?x16xf16>, tensor<1x1x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v layout(%layout : tensor<1x1x?x?xi8>)
      mask(#attn.or<[#attn.block_sparse<block = [16, 32]>, #attn.sinks<2>]>)
      : tensor<1x1x?x16xf16>, tensor<1x1x?x16xf16>, tensor<1x1x?x16xf16>
      -> tensor<1x1x?x16xf16>, tensor<1x1x?xf32>
  return %o, %lse : tensor<1x1x?x16xf16>, tensor<1x1x?xf32>
}
