// RUN: attn-opt %s -split-input-file --attn-decompose --canonicalize --cse | FileCheck %s
// RUN: attn-opt %s -split-input-file --attn-decompose=ops=attn.merge | FileCheck %s --check-prefix=ONLY
// RUN: not attn-opt %s -split-input-file --attn-decompose=ops=attn.mystery 2>&1 | FileCheck %s --check-prefix=UNKNOWN

// The list form: one elementwise op computes lse from the row max and the
// sum of shifted exponentials (an empty partial, lse_i = -inf, selects 0;
// an all-empty row selects -inf), then one weight per partial and row, then
// the weighted sum, converted to the result's type.

// CHECK-LABEL: func @list
// CHECK-DAG: %[[NEG_INF:.*]] = arith.constant 0xFF800000 : f32
// CHECK-DAG: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[LSE:.*]] = linalg.generic {{.*}} ins(%arg2, %arg3 : tensor<2x8x?xf32>, tensor<2x8x?xf32>)
// CHECK:   %[[M:.*]] = arith.maximumf
// CHECK:   math.exp
// CHECK:   %[[EMPTY:.*]] = arith.cmpf oeq, %{{.*}}, %[[NEG_INF]]
// CHECK:   arith.select %[[EMPTY]], %[[ZERO]]
// CHECK:   %[[LOG:.*]] = math.log
// CHECK:   %[[SUM:.*]] = arith.addf %[[M]], %[[LOG]]
// CHECK:   %[[NO_ROW:.*]] = arith.cmpf oeq, %[[M]], %[[NEG_INF]]
// CHECK:   arith.select %[[NO_ROW]], %[[NEG_INF]], %[[SUM]]
// CHECK: %[[W0:.*]] = linalg.generic {{.*}} ins(%arg2, %[[LSE]] :
// CHECK:   math.exp
// CHECK:   arith.select
// CHECK: %[[W1:.*]] = linalg.generic {{.*}} ins(%arg3, %[[LSE]] :
// CHECK: %[[O:.*]] = linalg.generic {{.*}} ins(%arg0, %arg1, %[[W0]], %[[W1]] : {{.*}}) outs(%{{.*}} : tensor<2x8x?x64xbf16>)
// CHECK:   arith.mulf
// CHECK:   arith.mulf
// CHECK:   arith.truncf %{{.*}} : f32 to bf16
// CHECK: return %[[O]], %[[LSE]]

// ONLY-LABEL: func @list
// ONLY-NOT: attn.merge
func.func @list(%o1: tensor<2x8x?x64xf32>, %o2: tensor<2x8x?x64xf32>,
                %l1: tensor<2x8x?xf32>, %l2: tensor<2x8x?xf32>)
    -> (tensor<2x8x?x64xbf16>, tensor<2x8x?xf32>) {
  %o, %lse = attn.merge o(%o1, %o2 : tensor<2x8x?x64xf32>, tensor<2x8x?x64xf32>)
      lse(%l1, %l2 : tensor<2x8x?xf32>, tensor<2x8x?xf32>)
      -> tensor<2x8x?x64xbf16>, tensor<2x8x?xf32>
  return %o, %lse : tensor<2x8x?x64xbf16>, tensor<2x8x?xf32>
}

// -----

// The split form reduces over N, the outermost loop of every op: the max,
// the sum of shifted exponentials, and the weighted sum of the o partials
// (accumulated in f32, then truncated to f16).

// CHECK-LABEL: func @split
// CHECK: %[[M:.*]] = linalg.generic {{.*}} iterator_types = ["reduction", "parallel", "parallel", "parallel"]{{.*}} ins(%arg1 : tensor<?x?x4x7xf32>)
// CHECK:   arith.maximumf
// CHECK: %[[P:.*]] = linalg.generic {{.*}} ins(%arg1, %[[M]] :
// CHECK:   math.exp
// CHECK: %[[L:.*]] = linalg.generic {{.*}} iterator_types = ["reduction", "parallel", "parallel", "parallel"]{{.*}} ins(%[[P]] :
// CHECK:   arith.addf
// CHECK: %[[LSE:.*]] = linalg.generic {{.*}} ins(%[[M]], %[[L]] :
// CHECK:   math.log
// CHECK: %[[W:.*]] = linalg.generic {{.*}} ins(%arg1, %[[LSE]] :
// CHECK: %[[ACC:.*]] = linalg.generic {{.*}} iterator_types = ["reduction", "parallel", "parallel", "parallel", "parallel"]{{.*}} ins(%[[W]], %arg0 : tensor<?x?x4x7xf32>, tensor<?x?x4x7x16xf16>) outs(%{{.*}} : tensor<?x4x7x16xf32>)
// CHECK:   arith.extf
// CHECK:   arith.mulf
// CHECK:   arith.addf
// CHECK: %[[O:.*]] = linalg.generic {{.*}} ins(%[[ACC]] : tensor<?x4x7x16xf32>) outs(%{{.*}} : tensor<?x4x7x16xf16>)
// CHECK:   arith.truncf
// CHECK: return %[[O]]
func.func @split(%o: tensor<?x?x4x7x16xf16>, %l: tensor<?x?x4x7xf32>) -> tensor<?x4x7x16xf16> {
  %m = attn.merge o(%o : tensor<?x?x4x7x16xf16>) lse(%l : tensor<?x?x4x7xf32>)
      -> tensor<?x4x7x16xf16>
  return %m : tensor<?x4x7x16xf16>
}

// -----

// With ops=attn.merge, other attn ops stay.

// ONLY-LABEL: func @attention_stays
// ONLY: attn.attention
// UNKNOWN: attn-decompose: unknown op 'attn.mystery' in ops=; use attn.attention, attn.attention_backward, attn.linear_attention, attn.merge
func.func @attention_stays(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %o = attn.attention %q, %k, %v : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32> -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}
