// RUN: attn-opt %s --attn-to-gpu -split-input-file -verify-diagnostics | FileCheck %s

// attn.merge: one launch of the merge kernel, a thread per output element
// over (ceil(S Dv / 128), H, B); the partials of the list form are unrolled,
// the stacked form loops over its leading axis.
// CHECK-LABEL: func.func @list
// CHECK:         %[[ELEMENTS:.*]] = arith.muli %{{.*}}, %c64
// CHECK:         %[[BLOCKS:.*]] = arith.ceildivui %[[ELEMENTS]], %c128
// CHECK:         gpu.launch_func @attn_kernels::@list_merge blocks in (%[[BLOCKS]], %{{.*}}, %{{.*}}) threads in (%c128
// CHECK:       gpu.func @list_merge
// CHECK-NOT:     scf.for
// CHECK:         math.exp2
// CHECK:         math.exp2
// CHECK-NOT:     math.exp2
// CHECK:         math.log
func.func @list(%o1: tensor<?x8x?x64xf32>, %o2: tensor<?x8x?x64xf32>,
                %l1: tensor<?x8x?xf32>, %l2: tensor<?x8x?xf32>)
    -> (tensor<?x8x?x64xbf16>, tensor<?x8x?xf32>) {
  %o, %lse = attn.merge o(%o1, %o2 : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>)
      lse(%l1, %l2 : tensor<?x8x?xf32>, tensor<?x8x?xf32>)
      -> tensor<?x8x?x64xbf16>, tensor<?x8x?xf32>
  return %o, %lse : tensor<?x8x?x64xbf16>, tensor<?x8x?xf32>
}

// -----

// CHECK-LABEL: func.func @stacked
// CHECK:         gpu.launch_func @attn_kernels::@stacked_merge
// CHECK:       gpu.func @stacked_merge
// CHECK:         %[[N:.*]] = memref.dim %arg0, %{{.*}} : memref<?x2x8x1x128xf32>
// CHECK:         scf.for %{{.*}} = %{{.*}} to %[[N]]
// CHECK:           arith.maximumf
// CHECK:         scf.for %{{.*}} = %{{.*}} to %[[N]]
// CHECK:           math.exp2
func.func @stacked(%o: tensor<?x2x8x1x128xf32>, %l: tensor<?x2x8x1xf32>)
    -> tensor<2x8x1x128xf16> {
  %r = attn.merge o(%o : tensor<?x2x8x1x128xf32>) lse(%l : tensor<?x2x8x1xf32>)
      -> tensor<2x8x1x128xf16>
  return %r : tensor<2x8x1x128xf16>
}

// -----

func.func @f64(%o: tensor<2x1x2x4x8xf64>, %l: tensor<2x1x2x4xf64>)
    -> tensor<1x2x4x8xf64> {
  // expected-error @+1 {{cannot be compiled for the GPU: elements must be f16, bf16 or f32, got 'f64' (merge f64 partials on the CPU)}}
  %r = attn.merge o(%o : tensor<2x1x2x4x8xf64>) lse(%l : tensor<2x1x2x4xf64>)
      -> tensor<1x2x4x8xf64>
  return %r : tensor<1x2x4x8xf64>
}
