// RUN: attn-opt %s --attn-decompose --split-input-file | FileCheck %s

// The reference materializes the [B, Hq, Sq, Skv] score matrix in f32,
// indexes k and v with h floordiv (Hq / Hkv) for GQA, masks with -inf,
// then max, exp, sum, weighted sum and division.

// CHECK-DAG: #[[QMAP:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
// CHECK-DAG: #[[KMAP:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1 floordiv 4, d3, d4)>
// CHECK-DAG: #[[VMAP:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1 floordiv 4, d4, d3)>
// CHECK-LABEL: func @causal_gqa
// CHECK-NOT: attn.attention
// CHECK: linalg.generic {indexing_maps = [#[[QMAP]], #[[KMAP]], {{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
// CHECK:   arith.extf {{.*}} : f16 to f32
// CHECK:   arith.mulf
// CHECK:   arith.addf
// CHECK: } -> tensor<2x8x37x101xf32>
// Scaling and the bottom-right causal predicate kv <= q + (101 - 37):
// CHECK: linalg.generic
// CHECK:   %[[Q:.*]] = linalg.index 2 : index
// CHECK:   %[[KV:.*]] = linalg.index 3 : index
// CHECK:   arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK:   %[[C64:.*]] = arith.constant 64 : index
// CHECK:   %[[DIAG:.*]] = arith.addi %[[Q]], %[[C64]] : index
// CHECK:   %[[OK:.*]] = arith.cmpi sle, %[[KV]], %[[DIAG]] : index
// CHECK:   arith.select %[[OK]], %{{.*}}, %{{.*}} : f32
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: arith.addf
// CHECK: linalg.generic {indexing_maps = [#[[QMAP]], #[[VMAP]], {{.*}}]
// CHECK: arith.divf
// CHECK: arith.truncf {{.*}} : f32 to f16
// CHECK: math.log
func.func @causal_gqa(%q: tensor<2x8x37x40xf16>, %k: tensor<2x2x101x40xf16>, %v: tensor<2x2x101x40xf16>) -> (tensor<2x8x37x40xf16>, tensor<2x8x37xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>) : tensor<2x8x37x40xf16>, tensor<2x2x101x40xf16>, tensor<2x2x101x40xf16> -> tensor<2x8x37x40xf16>, tensor<2x8x37xf32>
  return %o, %lse : tensor<2x8x37x40xf16>, tensor<2x8x37xf32>
}

// -----

// Dynamic sizes come from tensor.dim; the window predicate is
// q - 3 <= kv <= q + 1 (top-left: no offset).
// CHECK-LABEL: func @window_dynamic
// CHECK-DAG: tensor.dim %{{.*}}, %c0
// CHECK-DAG: tensor.dim %{{.*}}, %c2
// CHECK: tensor.empty(%{{.*}}, %{{.*}}, %{{.*}}) : tensor<?x2x?x?xf32>
// CHECK: linalg.generic
// CHECK:   %[[Q:.*]] = linalg.index 2 : index
// CHECK:   %[[KV:.*]] = linalg.index 3 : index
// CHECK-DAG:   %[[LO:.*]] = arith.subi %[[Q]], %{{.*}} : index
// CHECK-DAG:   %[[A:.*]] = arith.cmpi sle, %[[LO]], %[[KV]] : index
// CHECK-DAG:   %[[HI:.*]] = arith.addi %[[Q]], %{{.*}} : index
// CHECK-DAG:   %[[B:.*]] = arith.cmpi sle, %[[KV]], %[[HI]] : index
// CHECK:   arith.andi %{{.*}}, %{{.*}} : i1
func.func @window_dynamic(%q: tensor<?x2x?x16xf32>, %k: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.window<left = 3, right = 1>) : tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32> -> tensor<?x2x?x16xf32>
  return %o : tensor<?x2x?x16xf32>
}

// -----

// Without a mask there is no select on the scores; f64 computes in f64.
// CHECK-LABEL: func @dense_f64
// CHECK: linalg.generic
// CHECK-NOT: arith.extf
// CHECK: } -> tensor<1x1x4x4xf64>
// CHECK: linalg.generic
// CHECK-NOT: arith.select
// CHECK: arith.maximumf {{.*}} : f64
func.func @dense_f64(%q: tensor<1x1x4x8xf64>, %k: tensor<1x1x4x8xf64>, %v: tensor<1x1x4x8xf64>) -> tensor<1x1x4x8xf64> {
  %o = attn.attention %q, %k, %v : tensor<1x1x4x8xf64>, tensor<1x1x4x8xf64>, tensor<1x1x4x8xf64> -> tensor<1x1x4x8xf64>
  return %o : tensor<1x1x4x8xf64>
}

// -----

// An approximation: the masked scores' row maximum becomes the shift
// c = max(m, 0); the estimates phi(q) . phi(k) form a [B, Hq, Sq, Skv]
// matrix like the scores; each weight is exp(s - c) inside the support
// and exp(-c) phi(q) . phi(k) where the score is -inf.
// CHECK-LABEL: func @window_favor
// CHECK: arith.maximumf %in, %out : f32
// CHECK: %[[SHIFT:.*]] = linalg.generic
// CHECK:   arith.maximumf %in, %{{.*}} : f32
// CHECK: %[[EST:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<1x2x37x32xf32>, tensor<1x2x45x32xf32>) outs(%{{.*}} : tensor<1x2x37x45xf32>)
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[SHIFT]], %[[EST]] : tensor<1x2x37x45xf32>, tensor<1x2x37xf32>, tensor<1x2x37x45xf32>)
// CHECK: ^bb0(%[[S:.*]]: f32, %[[C:.*]]: f32, %[[E:.*]]: f32, %{{.*}}: f32):
// CHECK:   %[[OUT:.*]] = arith.cmpf oeq, %[[S]], %{{.*}} : f32
// CHECK:   %[[D:.*]] = arith.subf %[[S]], %[[C]] : f32
// CHECK:   %[[X:.*]] = math.exp %[[D]] : f32
// CHECK:   %[[N:.*]] = arith.negf %[[C]] : f32
// CHECK:   %[[Y:.*]] = math.exp %[[N]] : f32
// CHECK:   %[[Z:.*]] = arith.mulf %[[E]], %[[Y]] : f32
// CHECK:   arith.select %[[OUT]], %[[Z]], %[[X]] : f32
func.func @window_favor(%q: tensor<1x2x37x16xf32>, %k: tensor<1x2x45x16xf32>, %v: tensor<1x2x45x8xf32>) -> (tensor<1x2x37x8xf32>, tensor<1x2x37xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.window<left = 4, right = 4>) approximation(#attn.favor<features = 32, seed = 3>)
      : tensor<1x2x37x16xf32>, tensor<1x2x45x16xf32>, tensor<1x2x45x8xf32> -> tensor<1x2x37x8xf32>, tensor<1x2x37xf32>
  return %o, %lse : tensor<1x2x37x8xf32>, tensor<1x2x37xf32>
}
