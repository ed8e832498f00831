// RUN: attn-opt %s -split-input-file | FileCheck %s
// RUN: attn-opt %s -split-input-file | attn-opt -split-input-file | FileCheck %s

// CHECK-LABEL: func @list
// CHECK: attn.merge o(%{{.*}}, %{{.*}} : tensor<2x8x?x64xf32>, tensor<2x8x?x64xf32>) lse(%{{.*}}, %{{.*}} : tensor<2x8x?xf32>, tensor<2x8x?xf32>) -> tensor<2x8x?x64xbf16>, tensor<2x8x?xf32>
func.func @list(%o1: tensor<2x8x?x64xf32>, %o2: tensor<2x8x?x64xf32>,
                %l1: tensor<2x8x?xf32>, %l2: tensor<2x8x?xf32>)
    -> (tensor<2x8x?x64xbf16>, tensor<2x8x?xf32>) {
  %o, %lse = attn.merge o(%o1, %o2 : tensor<2x8x?x64xf32>, tensor<2x8x?x64xf32>)
      lse(%l1, %l2 : tensor<2x8x?xf32>, tensor<2x8x?xf32>)
      -> tensor<2x8x?x64xbf16>, tensor<2x8x?xf32>
  return %o, %lse : tensor<2x8x?x64xbf16>, tensor<2x8x?xf32>
}

// -----

// The split form, without the lse result; N and B dynamic.
// CHECK-LABEL: func @split
// CHECK: attn.merge o(%{{.*}} : tensor<?x?x4x7x16xf16>) lse(%{{.*}} : tensor<?x?x4x7xf32>) -> tensor<?x4x7x16xf16>
// CHECK-NOT: ,
func.func @split(%o: tensor<?x?x4x7x16xf16>, %l: tensor<?x?x4x7xf32>) -> tensor<?x4x7x16xf16> {
  %m = attn.merge o(%o : tensor<?x?x4x7x16xf16>) lse(%l : tensor<?x?x4x7xf32>)
      -> tensor<?x4x7x16xf16>
  return %m : tensor<?x4x7x16xf16>
}

// -----

// A static size of any partial makes the result's size static; f64
// partials have f64 lse.
// CHECK-LABEL: func @mixed_static
// CHECK: attn.merge o(%{{.*}}, %{{.*}}, %{{.*}} : tensor<?x2x5x8xf64>, tensor<3x2x5x8xf64>, tensor<?x2x5x8xf64>) lse(%{{.*}}, %{{.*}}, %{{.*}} : tensor<?x2x5xf64>, tensor<?x2x5xf64>, tensor<?x2x?xf64>) -> tensor<3x2x5x8xf32>, tensor<3x2x5xf64>
func.func @mixed_static(%o1: tensor<?x2x5x8xf64>, %o2: tensor<3x2x5x8xf64>, %o3: tensor<?x2x5x8xf64>,
                        %l1: tensor<?x2x5xf64>, %l2: tensor<?x2x5xf64>, %l3: tensor<?x2x?xf64>)
    -> (tensor<3x2x5x8xf32>, tensor<3x2x5xf64>) {
  %o, %lse = attn.merge o(%o1, %o2, %o3 : tensor<?x2x5x8xf64>, tensor<3x2x5x8xf64>, tensor<?x2x5x8xf64>)
      lse(%l1, %l2, %l3 : tensor<?x2x5xf64>, tensor<?x2x5xf64>, tensor<?x2x?xf64>)
      -> tensor<3x2x5x8xf32>, tensor<3x2x5xf64>
  return %o, %lse : tensor<3x2x5x8xf32>, tensor<3x2x5xf64>
}
