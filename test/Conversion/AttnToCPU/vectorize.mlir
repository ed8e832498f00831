// RUN: attn-opt %s --pass-pipeline="builtin.module(func.func(attn-cpu-vectorize))" --split-input-file | FileCheck %s

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>

// Row maxima: one row at a time, a 64-wide vector combined in 8-lane
// chunks before the horizontal reduction.
// CHECK-LABEL: func @row_max
// CHECK: scf.for
// CHECK:   vector.transfer_read {{.*}} : tensor<1x64xf32>, vector<64xf32>
// CHECK:   vector.shape_cast %{{.*}} : vector<{{(1x)?}}64xf32> to vector<8x8xf32>
// CHECK-COUNT-7: arith.maximumf %{{.*}}, %{{.*}} : vector<8xf32>
// CHECK:   vector.reduction <maximumf>, %{{.*}}, %{{.*}} : vector<8xf32> into f32
func.func @row_max(%s: tensor<32x64xf32>, %init: tensor<32xf32>) -> tensor<32xf32> {
  %r = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%s : tensor<32x64xf32>) outs(%init : tensor<32xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %m = arith.maximumf %x, %acc : f32
    linalg.yield %m : f32
  } -> tensor<32xf32>
  return %r : tensor<32xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>

// Elementwise with a row operand and positions: vectors along the row; the
// row's maximum is read once and broadcast (a broadcast transfer from a
// strided view would not lower: Hedgehog with D = 1 failed in LLVM
// translation, see test/tools/attn-run/linear-unit-dims.mlir).
// CHECK-LABEL: func @weights
// CHECK: scf.for
// CHECK:   %[[MAX:.*]] = tensor.extract %{{.*}}[%{{.*}}] : tensor<1xf32>
// CHECK:   vector.broadcast %[[MAX]] : f32 to vector<64xf32>
// CHECK:   vector.step : vector<64xindex>
// CHECK:   math.exp %{{.*}} : vector<64xf32>
// CHECK:   vector.transfer_write
func.func @weights(%s: tensor<32x64xf32>, %m: tensor<32xf32>, %out: tensor<32x64xf32>) -> tensor<32x64xf32> {
  %r = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%s, %m : tensor<32x64xf32>, tensor<32xf32>) outs(%out : tensor<32x64xf32>) {
  ^bb0(%x: f32, %mx: f32, %o: f32):
    %j = linalg.index 1 : index
    %c10 = arith.constant 10 : index
    %keep = arith.cmpi slt, %j, %c10 : index
    %d = arith.subf %x, %mx : f32
    %e = math.exp %d : f32
    %z = arith.constant 0.0 : f32
    %w = arith.select %keep, %e, %z : f32
    linalg.yield %w : f32
  } -> tensor<32x64xf32>
  return %r : tensor<32x64xf32>
}

// -----

#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#bt = affine_map<(d0, d1, d2) -> (d1, d2)>
#c = affine_map<(d0, d1, d2) -> (d0, d1)>

// Matrix products are left to attn-cpu-microkernels.
// CHECK-LABEL: func @product
// CHECK: linalg.generic
// CHECK-NOT: vector.
func.func @product(%a: tensor<8x8xf32>, %b: tensor<8x8xf32>, %c: tensor<8x8xf32>) -> tensor<8x8xf32> {
  %r = linalg.generic {indexing_maps = [#a, #bt, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<8x8xf32>, tensor<8x8xf32>) outs(%c : tensor<8x8xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  } -> tensor<8x8xf32>
  return %r : tensor<8x8xf32>
}


// -----

#id = affine_map<(d0, d1) -> (d0, d1)>

// A generic that reads an i1 tensor (the reference form of a block-sparse
// layout) stays scalar: a buffer holds one byte per i1 but LLVM packs a
// vector<Nxi1> into bits, so a row's vector load read the wrong entries
// (the broadcast-bias backward with an i1 layout, see
// test/tools/attn-run/backward-i1-layout.mlir).
// CHECK-LABEL: func @i1_layout
// CHECK-NOT: vector.transfer_read
// CHECK: linalg.generic
// CHECK:   tensor.extract %{{.*}} : tensor<4x16xi1>
func.func @i1_layout(%s: tensor<4x16xf32>, %layout: tensor<4x16xi1>, %out: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %ninf = arith.constant 0xFF800000 : f32
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%s : tensor<4x16xf32>) outs(%out : tensor<4x16xf32>) {
  ^bb0(%x: f32, %o: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %keep = tensor.extract %layout[%i, %j] : tensor<4x16xi1>
    %y = arith.select %keep, %x, %ninf : f32
    linalg.yield %y : f32
  } -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>

// An i1 operand likewise.
// CHECK-LABEL: func @i1_operand
// CHECK-NOT: vector.transfer_read
// CHECK: linalg.generic
func.func @i1_operand(%s: tensor<4x16xf32>, %keep: tensor<4x16xi1>, %out: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %ninf = arith.constant 0xFF800000 : f32
  %r = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%s, %keep : tensor<4x16xf32>, tensor<4x16xi1>) outs(%out : tensor<4x16xf32>) {
  ^bb0(%x: f32, %k: i1, %o: f32):
    %y = arith.select %k, %x, %ninf : f32
    linalg.yield %y : f32
  } -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}
