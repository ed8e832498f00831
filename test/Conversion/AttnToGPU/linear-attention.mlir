// RUN: attn-opt %s --attn-to-gpu --canonicalize --split-input-file | FileCheck %s

// Causal FAVOR+ with decay, GQA, Dv = 96 in two value tiles of 64. The
// seed's weights become a constant global of the kernel's module; 40
// features pad to 64 (16 rows per warp); 66816 bytes of shared memory
// (query and key rows are staged in bf16, as read).
// CHECK-LABEL: func.func @favor
// CHECK-DAG:     %[[C2:.*]] = arith.constant 2 : index
// CHECK-DAG:     %[[C4:.*]] = arith.constant 4 : index
// CHECK-DAG:     %[[C128:.*]] = arith.constant 128 : index
// CHECK-DAG:     %[[SMEM:.*]] = arith.constant 66816 : i32
// CHECK-DAG:     %[[B:.*]] = tensor.dim %arg0, %c0
// CHECK-DAG:     %[[SQ:.*]] = tensor.dim %arg0, %[[C2]]
// The results' sizes are the op's reifyResultShapes: (B, Sq) and (B).
// CHECK:         memref.alloc(%{{.*}}, %[[SQ]]) : memref<?x4x?x96xbf16>
// CHECK:         memref.alloc(%{{.*}}) : memref<?x4x40x96xf32>
// CHECK:         gpu.launch_func @attn_kernels::@favor_linear_attention blocks in (%[[C2]], %[[C4]], %[[B]]) threads in (%[[C128]], %{{.*}}, %{{.*}}) dynamic_shared_memory_size %[[SMEM]]
// CHECK-SAME:      memref<?x4x?x32xbf16>, {{.*}}memref<?x2x?x32xbf16>, {{.*}}memref<?x2x?x96xbf16>, {{.*}}memref<4xf32>, {{.*}}memref<?x4x?x96xbf16>, {{.*}}memref<?x4x40x96xf32>
// CHECK:       gpu.module @attn_kernels
// CHECK:         memref.global "private" constant @feature_weights : memref<40x32xf32>
// CHECK:         gpu.func @favor_linear_attention
// CHECK:           memref.get_global @feature_weights : memref<40x32xf32>
// CHECK:           gpu.dynamic_shared_memory
// The loop over chunks of 64 positions carries this warp's state rows.
// CHECK:           scf.for {{.*}} step %c64 iter_args(%{{.*}} = %{{.*}}) -> (vector<1x8x2x2xf32>)
// CHECK:             gpu.barrier
// Features per element, FAVOR+'s projection a loop over D.
// CHECK:             scf.for %{{.*}} = %c0 to %c32 step %c1 iter_args
// CHECK:               math.fma
// CHECK:             math.exp
// CHECK:             nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xbf16>, vector<2x2xbf16>, vector<2x2xf32>) -> vector<2x2xf32>
// Decay powers are exp2(n log2 gamma), not powf.
// CHECK-NOT:       math.powf
// CHECK:           gpu.return

func.func @favor(%q: tensor<?x4x?x32xbf16>, %k: tensor<?x2x?x32xbf16>,
                 %v: tensor<?x2x?x96xbf16>, %gamma: tensor<4xf32>)
    -> (tensor<?x4x?x96xbf16>, tensor<?x4x40x96xf32>) {
  %o, %s = attn.linear_attention %q, %k, %v
      feature_map(#attn.favor<features = 40, seed = 1>) causal
      decay(%gamma : tensor<4xf32>) normalization(none)
      : tensor<?x4x?x32xbf16>, tensor<?x2x?x32xbf16>, tensor<?x2x?x96xbf16>
      -> tensor<?x4x?x96xbf16>, tensor<?x4x40x96xf32>
  return %o, %s : tensor<?x4x?x96xbf16>, tensor<?x4x40x96xf32>
}

// -----

// Bidirectional relu in f32: tf32 tensor cores; one loop builds the state
// over the keys, a second one writes the outputs.
// CHECK-LABEL: func.func @relu_f32
// CHECK:         gpu.launch_func @attn_kernels::@relu_f32_linear_attention
// CHECK:       gpu.func @relu_f32_linear_attention
// CHECK-NOT:     memref.get_global
// CHECK:         scf.for {{.*}} iter_args({{.*}}) -> (vector<1x2x2x2xf32>)
// CHECK:           nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 4], tf32Enabled}
// CHECK:         scf.for
// CHECK:           nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 4], tf32Enabled}
// CHECK:           vector.maskedstore
func.func @relu_f32(%q: tensor<1x2x10x16xf32>, %k: tensor<1x2x30x16xf32>,
                    %v: tensor<1x2x30x16xf32>) -> tensor<1x2x10x16xf32> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.relu)
      : tensor<1x2x10x16xf32>, tensor<1x2x30x16xf32>, tensor<1x2x30x16xf32>
      -> tensor<1x2x10x16xf32>
  return %o : tensor<1x2x10x16xf32>
}
