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
  %5 = attn.attention %qd, %kd, %kd mask(#attn.sinks<4>) : tensor<1x4x?x64xf16>, tensor<1x4x?x64xf16>, tensor<1x4x?x64xf16> -> tensor<1x4x?x64xf16>
  return %0 : !t
}
