// Neighborhoods over tokens in block order (`tile`), against the float64
// reference: the tiled CPU kernel, the emulated mma.sync flash kernel (f32
// on tf32 tensor cores) and the backward, on grids that are and are not tile multiples, with
// dilation, stride, per-axis causal, 3-D grids and other masks.
// RUN: attn-run %s --entry grid_12x10_f32 --random --seed 1 --check | FileCheck %s
// RUN: attn-run %s --entry grid_12x10_f32 --random --seed 2 --tile-q 16 --tile-kv 16 --check | FileCheck %s
// RUN: attn-run %s --entry dilated_11x13_f16 --random --seed 3 --tile-q 8 --tile-kv 8 --check | FileCheck %s
// RUN: attn-run %s --entry strided_10x12_bf16 --random --seed 4 --tile-q 16 --tile-kv 16 --check | FileCheck %s
// RUN: attn-run %s --entry video_4x6x5_causal_f32 --random --seed 5 --tile-q 8 --tile-kv 8 --check | FileCheck %s
// RUN: attn-run %s --entry with_sinks_softcap_f32 --random --seed 6 --tile-q 16 --tile-kv 16 --check | FileCheck %s
// RUN: attn-run %s --entry grid_12x10_f32 --target gpu-emulation --tolerance 5e-3 --warps 1 --tile-kv 16 --random --seed 7 --check | FileCheck %s
// RUN: attn-run %s --entry dilated_11x13_f16 --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 8 --check | FileCheck %s
// RUN: attn-run %s --entry video_4x6x5_causal_f32 --target gpu-emulation --tolerance 5e-3 --warps 1 --tile-kv 16 --random --seed 9 --check | FileCheck %s
// RUN: attn-run %s --entry backward_strided_f32 --random --seed 10 --tile-q 16 --tile-kv 16 --check | FileCheck %s
// RUN: attn-run %s --entry backward_strided_f32 --target gpu-emulation --tolerance 5e-3 --warps 1 --tile-kv 16 --random --seed 11 --check | FileCheck %s
// CHECK: check {{.*}} max relative error {{.*}} ok
// CHECK-NOT: FAIL

// 7x7 on a 12x10 grid in 4x4 blocks: the second axis is not a multiple.
func.func @grid_12x10_f32(%q: tensor<1x2x120x16xf32>, %k: tensor<1x2x120x16xf32>, %v: tensor<1x2x120x24xf32>) -> tensor<1x2x120x24xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.neighborhood<grid = [12, 10], kernel = [7, 7], tile = [4, 4]>)
      : tensor<1x2x120x16xf32>, tensor<1x2x120x16xf32>, tensor<1x2x120x24xf32> -> tensor<1x2x120x24xf32>
  return %o : tensor<1x2x120x24xf32>
}

// Dilation 2 x 3 on an 11x13 grid: six groups of different shapes, each in
// 2x4 blocks.
func.func @dilated_11x13_f16(%q: tensor<1x2x143x16xf16>, %k: tensor<1x1x143x16xf16>, %v: tensor<1x1x143x16xf16>) -> tensor<1x2x143x16xf16> {
  %o = attn.attention %q, %k, %v mask(#attn.neighborhood<grid = [11, 13], kernel = [3, 3], dilation = [2, 3], tile = [2, 4]>)
      : tensor<1x2x143x16xf16>, tensor<1x1x143x16xf16>, tensor<1x1x143x16xf16> -> tensor<1x2x143x16xf16>
  return %o : tensor<1x2x143x16xf16>
}

// GNA stride 2 x 4 with a 5x5 kernel, 4x4 blocks.
func.func @strided_10x12_bf16(%q: tensor<2x2x120x16xbf16>, %k: tensor<2x2x120x16xbf16>, %v: tensor<2x2x120x16xbf16>) -> tensor<2x2x120x16xbf16> {
  %o = attn.attention %q, %k, %v mask(#attn.neighborhood<grid = [10, 12], kernel = [5, 5], stride = [2, 4], tile = [4, 4]>)
      : tensor<2x2x120x16xbf16>, tensor<2x2x120x16xbf16>, tensor<2x2x120x16xbf16> -> tensor<2x2x120x16xbf16>
  return %o : tensor<2x2x120x16xbf16>
}

// 3-D, causal in time, 2x2x2 blocks (the last axis is odd).
func.func @video_4x6x5_causal_f32(%q: tensor<1x2x120x16xf32>, %k: tensor<1x2x120x16xf32>, %v: tensor<1x2x120x16xf32>) -> tensor<1x2x120x16xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.neighborhood<grid = [4, 6, 5], kernel = [3, 3, 3], causal = [true, false, false], tile = [2, 2, 2]>)
      : tensor<1x2x120x16xf32>, tensor<1x2x120x16xf32>, tensor<1x2x120x16xf32> -> tensor<1x2x120x16xf32>
  return %o : tensor<1x2x120x16xf32>
}

// Or-ed with sinks (the first tokens of the block order) and soft-capped.
func.func @with_sinks_softcap_f32(%q: tensor<1x2x96x16xf32>, %k: tensor<1x2x96x16xf32>, %v: tensor<1x2x96x16xf32>) -> tensor<1x2x96x16xf32> {
  %o = attn.attention %q, %k, %v
      mask(#attn.or<[#attn.neighborhood<grid = [8, 12], kernel = [3, 5], tile = [4, 4]>, #attn.sinks<3>]>)
      score_mods([#attn.softcap<20.0>])
      : tensor<1x2x96x16xf32>, tensor<1x2x96x16xf32>, tensor<1x2x96x16xf32> -> tensor<1x2x96x16xf32>
  return %o : tensor<1x2x96x16xf32>
}

func.func @backward_strided_f32(%q: tensor<1x2x120x16xf32>, %k: tensor<1x2x120x16xf32>, %v: tensor<1x2x120x16xf32>,
                                %o: tensor<1x2x120x16xf32>, %do: tensor<1x2x120x16xf32>, %lse: tensor<1x2x120xf32>)
    -> (tensor<1x2x120x16xf32>, tensor<1x2x120x16xf32>, tensor<1x2x120x16xf32>) {
  %dq, %dk, %dv = attn.attention_backward %q, %k, %v, %o, %do lse(%lse : tensor<1x2x120xf32>)
      mask(#attn.neighborhood<grid = [10, 12], kernel = [5, 5], dilation = [1, 2], stride = [2, 1], tile = [4, 4]>)
      : tensor<1x2x120x16xf32>, tensor<1x2x120x16xf32>, tensor<1x2x120x16xf32>, tensor<1x2x120x16xf32>, tensor<1x2x120x16xf32>
      -> tensor<1x2x120x16xf32>, tensor<1x2x120x16xf32>, tensor<1x2x120x16xf32>
  return %dq, %dk, %dv : tensor<1x2x120x16xf32>, tensor<1x2x120x16xf32>, tensor<1x2x120x16xf32>
}
