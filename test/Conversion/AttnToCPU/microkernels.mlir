// RUN: attn-opt %s --pass-pipeline="builtin.module(func.func(attn-cpu-microkernels))" --split-input-file | FileCheck %s

#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#bt = affine_map<(d0, d1, d2) -> (d1, d2)>
#c = affine_map<(d0, d1, d2) -> (d0, d1)>

// C = A . B^T from a zero fill: B is transposed into an f32 scratch by 8x8
// register blocks, the fill disappears, and 4 x 16 blocks of C accumulate in
// eight vectors over the reduction.
// CHECK-LABEL: func @scores
// CHECK-NOT: linalg.fill
// CHECK: %[[BT:.*]] = memref.alloca() : memref<64x32xf32>
// CHECK: vector.transpose %{{.*}}, [1, 0] : vector<8x8xf32> to vector<8x8xf32>
// CHECK: scf.for %{{.*}} = %c{{.*}} to %c64{{.*}} step %c4
// CHECK:   scf.for %{{.*}} = %c{{.*}} to %c32{{.*}} step %c16
// CHECK:     %[[Z:.*]] = arith.constant dense<0.000000e+00> : vector<8xf32>
// CHECK:     scf.for %{{.*}} = %c{{.*}} to %c64{{.*}} step %c1{{.*}} iter_args(%{{.*}} = %[[Z]], %{{.*}} = %[[Z]], %{{.*}} = %[[Z]], %{{.*}} = %[[Z]], %{{.*}} = %[[Z]], %{{.*}} = %[[Z]], %{{.*}} = %[[Z]], %{{.*}} = %[[Z]]) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK-COUNT-2: vector.load %[[BT]]
// CHECK:         memref.load
// CHECK:         vector.broadcast
// CHECK-COUNT-2: vector.fma
// CHECK:         scf.yield
// CHECK-COUNT-8: vector.store
// CHECK-NOT: linalg.generic
func.func @scores(%a: memref<64x64xf32>, %b: memref<32x64xf16>, %c: memref<64x32xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<64x32xf32>)
  linalg.generic {indexing_maps = [#a, #bt, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<64x64xf32>, memref<32x64xf16>) outs(%c : memref<64x32xf32>) {
  ^bb0(%x: f32, %y: f16, %acc: f32):
    %ye = arith.extf %y : f16 to f32
    %p = arith.mulf %x, %ye : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#p = affine_map<(d0, d1, d2) -> (d0, d1)>
#v = affine_map<(d0, d1, d2) -> (d1, d2)>
#o = affine_map<(d0, d1, d2) -> (d0, d2)>

// C += A . B with 6 rows (a block of 4 and 2 single rows) and 20 columns
// (a block of 16, then 4 columns through masked loads and stores);
// the accumulator starts from C.
// CHECK-LABEL: func @values
// CHECK: scf.for %{{.*}} = %c{{.*}} to %c4{{.*}} step %c4
// CHECK:   vector.load %{{.*}} : memref<6x20xf32>, vector<8xf32>
// CHECK:   vector.constant_mask [4] : vector<8xi1>
// CHECK:   vector.maskedload %{{.*}} : memref<6x20xf32>, vector<8xi1>, vector<8xf32> into vector<8xf32>
// CHECK:   vector.maskedstore
// Two single-row tails.
// CHECK: vector.maskedstore
// CHECK: vector.maskedstore
// CHECK-NOT: linalg.generic
func.func @values(%a: memref<6x9xf32>, %b: memref<9x20xbf16>, %c: memref<6x20xf32>) {
  linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %b : memref<6x9xf32>, memref<9x20xbf16>) outs(%c : memref<6x20xf32>) {
  ^bb0(%x: f32, %y: bf16, %acc: f32):
    %ye = arith.extf %y : bf16 to f32
    %p = arith.mulf %x, %ye : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#p = affine_map<(d0, d1, d2) -> (d0, d1)>
#v = affine_map<(d0, d1, d2) -> (d1, d2)>
#o = affine_map<(d0, d1, d2) -> (d0, d2)>

// Not products (a max-plus "product", an f64 accumulator): left alone.
// CHECK-LABEL: func @not_products
// CHECK-COUNT-2: linalg.generic
func.func @not_products(%a: memref<4x4xf32>, %b: memref<4x4xf32>, %c: memref<4x4xf32>, %d: memref<4x4xf64>, %e: memref<4x4xf64>, %f: memref<4x4xf64>) {
  linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %b : memref<4x4xf32>, memref<4x4xf32>) outs(%c : memref<4x4xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.addf %x, %y : f32
    %s = arith.maximumf %p, %acc : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%d, %e : memref<4x4xf64>, memref<4x4xf64>) outs(%f : memref<4x4xf64>) {
  ^bb0(%x: f64, %y: f64, %acc: f64):
    %p = arith.mulf %x, %y : f64
    %s = arith.addf %p, %acc : f64
    linalg.yield %s : f64
  }
  return
}

// -----

#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#bt = affine_map<(d0, d1, d2) -> (d1, d2)>
#c = affine_map<(d0, d1, d2) -> (d0, d1)>

// In a key-tile loop, the transpose scratch goes to the function (or the
// parallel iteration), not to the scf.for: its lowering frees nothing, so an
// alloca there would grow the stack on every key tile.
// CHECK-LABEL: func @scratch_outside_loops
// CHECK-NEXT: memref.alloca() : memref<64x32xf32>
// CHECK: scf.for
// CHECK-NOT: memref.alloca
func.func @scratch_outside_loops(%a: memref<64x64xf32>, %b: memref<32x64xf32>, %c: memref<64x32xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %c0 to %n step %c1 {
    linalg.generic {indexing_maps = [#a, #bt, #c], iterator_types = ["parallel", "parallel", "reduction"]}
        ins(%a, %b : memref<64x64xf32>, memref<32x64xf32>) outs(%c : memref<64x32xf32>) {
    ^bb0(%x: f32, %y: f32, %acc: f32):
      %p = arith.mulf %x, %y : f32
      %s = arith.addf %p, %acc : f32
      linalg.yield %s : f32
    }
  }
  return
}
