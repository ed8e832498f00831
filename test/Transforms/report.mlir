// RUN: attn-opt %s --attn-report --mlir-print-op-on-diagnostic=false -o /dev/null 2>&1 | FileCheck %s
// RUN: attn-opt %s --attn-report="tile-q=128 tile-kv=32 q-len=1000 kv-len=1000" --mlir-print-op-on-diagnostic=false -o /dev/null 2>&1 | FileCheck %s --check-prefix=OPTS

// Causal on 2048 x 2048 with 64 x 64 tiles: 32 diagonal tiles are partial,
// the 496 below full, the 496 above empty.
// CHECK: remark: attn-report: Sq = 2048, Skv = 2048, mask #attn.causal
// CHECK-NEXT: density: 0.5002
// CHECK-NEXT: 64x64 tiles: 496 empty, 496 full, 32 partial of 1024; a kernel visits 51.6% of the tiles
// The backward walks the queries at or after each key tile: the same tiles.
// CHECK-NEXT: backward: its key-tile loops visit 528 of 1024 tiles (51.6%)
// A causal window of 256 keys (left = 255): 6.25 tiles per row band.
// CHECK: mask #attn.window<left = 255, right = 0>
// CHECK-NEXT: density: 0.1172
// CHECK-NEXT: 64x64 tiles: 874 empty, 90 full, 60 partial of 1024
// CHECK-NEXT: backward: its key-tile loops visit 150 of 1024 tiles (14.6%)
// No mask: everything is full.
// CHECK: mask none
// CHECK-NEXT: density: 1.0000
// CHECK-NEXT: 64x64 tiles: 0 empty, 1024 full, 0 partial of 1024
// CHECK-NEXT: backward: its key-tile loops visit 1024 of 1024 tiles (100.0%)
// The layout decides at run time.
// CHECK: mask #attn.block_sparse<block = [64, 64]>
// CHECK-NEXT: density: unknown
// CHECK-NEXT: 64x64 tiles: 0 empty, 0 full, 1024 partial (1024 classified at run time) of 1024
// A mask_mod region makes full tiles partial.
// CHECK: mask #attn.causal and mask_mod
// CHECK-NEXT: density: unknown
// CHECK-NEXT: 64x64 tiles: 496 empty, 0 full, 528 partial of 1024
// CHECK-NEXT: backward: its key-tile loops visit 528 of 1024 tiles (51.6%)
// A 7x7 neighborhood on a 64x32 grid in 4x4 blocks: 16x16 tiles (the block),
// the 3x3 blocks around each reached, the middle one full. Row-major tokens
// need 15.2% of the 64x64 tiles, all partial.
// CHECK: mask #attn.neighborhood<grid = [64, 32], kernel = [7, 7], tile = [4, 4]>
// CHECK-NEXT: density: 0.0239
// CHECK-NEXT: 16x16 tiles: 15372 empty, 128 full, 884 partial of 16384; a kernel visits 6.2% of the tiles
// GNA with a stride of one 8x8 block and a kernel of three: every visited
// tile is full, as many as the density says.
// CHECK: mask #attn.neighborhood<grid = [64, 32], kernel = [24, 24], stride = [8, 8], tile = [8, 8]>
// CHECK-NEXT: density: 0.2812
// CHECK-NEXT: 64x64 tiles: 736 empty, 288 full, 0 partial of 1024; a kernel visits 28.1% of the tiles
// The 3-D video case in 1x4x4 blocks: 14.6% of the tiles against 37.5%.
// CHECK: mask #attn.neighborhood<grid = [8, 16, 16], kernel = [3, 7, 7], tile = [1, 4, 4]>
// CHECK-NEXT: density: 0.0718
// CHECK-NEXT: 16x16 tiles: 13984 empty, 384 full, 2016 partial of 16384; a kernel visits 14.6% of the tiles
// An approximation: the tiles are the exact support's, the rest is
// estimated; no backward line.
// CHECK: mask #attn.window<left = 63, right = 63>
// CHECK-NEXT: density: 0.0611
// CHECK-NEXT: 64x64 tiles: 930 empty, 32 full, 62 partial of 1024; a kernel visits 9.2% of the tiles
// CHECK-NEXT: approximation #attn.favor<features = 32, seed = 1>: the pairs outside the support get 32-feature estimates, from one state over all keys per key/value head, joined to the support's softmax
// CHECK-NOT: backward
// CHECK: mask #attn.window<left = 63, right = 63>
// CHECK-NEXT: density: 0.0611
// CHECK-NEXT: 64x64 tiles: 930 empty, 32 full, 62 partial of 1024; a kernel visits 9.2% of the tiles
// CHECK-NEXT: approximation #attn.elu_plus_one: the pairs outside the support get 64-feature estimates, from one state over all keys per key/value head, returned apart as o_linear (SLA)
// CHECK-NOT: backward
// Dynamic lengths need q-len / kv-len.
// CHECK: remark: attn-report: Sq or Skv is dynamic; pass q-len=N kv-len=N
// OPTS: remark: attn-report: Sq = 1000, Skv = 1000, mask #attn.sinks<4>
// OPTS-NEXT: density: 0.0040
// OPTS-NEXT: 128x32 tiles: 248 empty, 0 full, 8 partial of 256
// Only the key tile holding the sinks has queries.
// OPTS-NEXT: backward: its key-tile loops visit 8 of 256 tiles (3.1%)

!t = tensor<1x4x2048x64xf16>
func.func @f(%q: !t, %k: !t, %v: !t, %l: tensor<1x1x32x32xi8>, %qd: tensor<1x4x?x64xf16>, %kd: tensor<1x4x?x64xf16>) -> !t {
  %0 = attn.attention %q, %k, %v mask(#attn.causal) : !t, !t, !t -> !t
  %1 = attn.attention %q, %k, %v mask(#attn.window<left = 255, right = 0>) : !t, !t, !t -> !t
  %2 = attn.attention %q, %k, %v : !t, !t, !t -> !t
  %3 = attn.attention %q, %k, %v layout(%l : tensor<1x1x32x32xi8>) mask(#attn.block_sparse<block = [64, 64]>) : !t, !t, !t -> !t
  %4 = attn.attention %q, %k, %v mask(#attn.causal) allow_empty_rows mask_mod {
  ^bb0(%b: index, %h: index, %i: index, %j: index):
    %c = arith.cmpi ne, %i, %j : index
    attn.yield %c : i1
  } : !t, !t, !t -> !t
  %6 = attn.attention %q, %k, %v mask(#attn.neighborhood<grid = [64, 32], kernel = [7, 7], tile = [4, 4]>) : !t, !t, !t -> !t
  %7 = attn.attention %q, %k, %v mask(#attn.neighborhood<grid = [64, 32], kernel = [24, 24], stride = [8, 8], tile = [8, 8]>) : !t, !t, !t -> !t
  %8 = attn.attention %q, %k, %v mask(#attn.neighborhood<grid = [8, 16, 16], kernel = [3, 7, 7], tile = [1, 4, 4]>) : !t, !t, !t -> !t
  %9 = attn.attention %q, %k, %v mask(#attn.window<left = 63, right = 63>) approximation(#attn.favor<features = 32, seed = 1>) : !t, !t, !t -> !t
  %10, %11 = attn.attention %q, %k, %v mask(#attn.window<left = 63, right = 63>) approximation(#attn.elu_plus_one) : !t, !t, !t -> !t linear !t
  %5 = attn.attention %qd, %kd, %kd mask(#attn.sinks<4>) : tensor<1x4x?x64xf16>, tensor<1x4x?x64xf16>, tensor<1x4x?x64xf16> -> tensor<1x4x?x64xf16>
  return %0 : !t
}
