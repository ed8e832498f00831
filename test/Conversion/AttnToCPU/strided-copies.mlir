// RUN: attn-opt %s --split-input-file --attn-cpu-strided-copies | FileCheck %s
// Through the LLVM lowering: no call of the C runner utilities is left.
// RUN: attn-opt %s --split-input-file --attn-cpu-strided-copies --convert-linalg-to-loops --expand-strided-metadata --finalize-memref-to-llvm --convert-scf-to-cf --convert-to-llvm --reconcile-unrealized-casts | FileCheck %s --check-prefix=LLVM

// A copy between strided views (a tile of a larger buffer) becomes a
// linalg.copy.
// CHECK-LABEL: func @strided_tile
// CHECK-NOT: memref.copy
// CHECK: linalg.copy ins(%{{.*}} : memref<4x8xf32, strided<[16, 1], offset: ?>>) outs(%{{.*}} : memref<4x8xf32>)
// LLVM-NOT: memrefCopy
func.func @strided_tile(%buffer: memref<16x16xf32>, %i: index, %out: memref<4x8xf32>) {
  %tile = memref.subview %buffer[%i, 0] [4, 8] [1, 1] : memref<16x16xf32> to memref<4x8xf32, strided<[16, 1], offset: ?>>
  memref.copy %tile, %out : memref<4x8xf32, strided<[16, 1], offset: ?>> to memref<4x8xf32>
  return
}

// -----

// Dynamic sizes with a strided view: also loops.
// CHECK-LABEL: func @dynamic_strided
// CHECK: linalg.copy
// LLVM-NOT: memrefCopy
func.func @dynamic_strided(%a: memref<?x?xf16, strided<[?, 1], offset: ?>>, %b: memref<?x?xf16>) {
  memref.copy %a, %b : memref<?x?xf16, strided<[?, 1], offset: ?>> to memref<?x?xf16>
  return
}

// -----

// Copies that lower to memcpy are left alone: identity layouts (static or
// dynamic) and contiguous static views.
// CHECK-LABEL: func @contiguous
// CHECK-COUNT-3: memref.copy
// CHECK-NOT: linalg.copy
// LLVM-NOT: memrefCopy
func.func @contiguous(%a: memref<?x8xf32>, %b: memref<?x8xf32>, %c: memref<4x8xf32>, %d: memref<4x8xf32, strided<[8, 1], offset: 8>>) {
  memref.copy %a, %b : memref<?x8xf32> to memref<?x8xf32>
  memref.copy %c, %c : memref<4x8xf32> to memref<4x8xf32>
  memref.copy %c, %d : memref<4x8xf32> to memref<4x8xf32, strided<[8, 1], offset: 8>>
  return
}
