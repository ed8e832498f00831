// RUN: attn-opt %s --attn-to-gpu=warps=4 -split-input-file -verify-diagnostics | FileCheck %s

// Decoding (one static query tile, many keys): the launch plan of split-KV.
// The host chooses the number of key splits at run time from the grid and
// the device's multiprocessor count, allocates f32 partials [splits, B, Hq,
// Sq, Dv] and their lse as workspaces, launches the partials kernel over
// (query tiles x splits, Hq, B) and then the merge kernel into o and lse.
// CHECK-LABEL: func.func @decode
// CHECK:         %[[SMS:.*]] = attn.multiprocessor_count : index
// CHECK:         arith.ceildivui %{{.*}}, %[[BLOCKS:.*]] : index
// CHECK:         %[[SPLITS:.*]] = attn.launch_choice "kv_splits" %{{.*}} : index
// CHECK:         %[[OPARTS:.*]] = memref.alloc(%[[SPLITS]], %{{.*}}) : memref<?x?x32x1x128xf32>
// CHECK:         %[[LSEPARTS:.*]] = memref.alloc(%[[SPLITS]], %{{.*}}) : memref<?x?x32x1xf32>
// CHECK:         %[[GRIDX:.*]] = arith.muli %{{.*}}, %[[SPLITS]] : index
// CHECK:         gpu.launch_func @attn_kernels::@decode_attention_partials blocks in (%[[GRIDX]], %c32{{.*}}, %{{.*}}) threads in (%c128
// CHECK-SAME:      %[[OPARTS]] : memref<?x?x32x1x128xf32>, %[[LSEPARTS]] : memref<?x?x32x1xf32>, %[[SPLITS]] : index)
// CHECK:         gpu.launch_func @attn_kernels::@decode_merge
// CHECK-SAME:      args(%[[OPARTS]] : memref<?x?x32x1x128xf32>, %[[LSEPARTS]] : memref<?x?x32x1xf32>, %{{.*}} : memref<?x32x1x128xbf16>, %{{.*}} : memref<?x32x1xf32>)
// Both kernels live in the one kernel module.
// CHECK:       gpu.module @attn_kernels
// CHECK:         gpu.func @decode_attention_partials
// A block takes split (block x mod splits) of query tile (block x / splits).
// CHECK:           %[[X:.*]] = gpu.block_id  x
// CHECK:           arith.remui %[[X]], %{{.*}} : index
// CHECK:           arith.divui %[[X]], %{{.*}} : index
// CHECK:           nvgpu.mma.sync
// CHECK:         gpu.func @decode_merge
// CHECK:           scf.for
// CHECK:             arith.maximumf
// CHECK:           scf.for
// CHECK:             math.exp2
// CHECK-NOT:       nvgpu.mma.sync
// CHECK:           math.log
func.func @decode(%q: tensor<?x32x1x128xbf16>, %k: tensor<?x8x?x128xbf16>,
                  %v: tensor<?x8x?x128xbf16>)
    -> (tensor<?x32x1x128xbf16>, tensor<?x32x1xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>)
      : tensor<?x32x1x128xbf16>, tensor<?x8x?x128xbf16>, tensor<?x8x?x128xbf16>
      -> tensor<?x32x1x128xbf16>, tensor<?x32x1xf32>
  return %o, %lse : tensor<?x32x1x128xbf16>, tensor<?x32x1xf32>
}

// -----

// auto keeps the one-pass kernel when the query length is dynamic (the
// grid over query tiles may fill the GPU) ...
// CHECK-LABEL: func.func @prefill
// CHECK-NOT:     attn.launch_choice
// CHECK:         gpu.launch_func @attn_kernels::@prefill_attention
// CHECK-NOT:     gpu.launch_func
func.func @prefill(%q: tensor<?x8x?x64xf16>, %k: tensor<?x8x?x64xf16>,
                   %v: tensor<?x8x?x64xf16>) -> tensor<?x8x?x64xf16> {
  %o = attn.attention %q, %k, %v mask(#attn.causal)
      : tensor<?x8x?x64xf16>, tensor<?x8x?x64xf16>, tensor<?x8x?x64xf16>
      -> tensor<?x8x?x64xf16>
  return %o : tensor<?x8x?x64xf16>
}

// -----

// ... when the keys are too few to split, and for normalizations that have
// no log-sum-exp to merge by.
// CHECK-LABEL: func.func @few_keys
// CHECK-NOT:     attn.launch_choice
// CHECK:         gpu.launch_func @attn_kernels::@few_keys_attention
func.func @few_keys(%q: tensor<2x8x1x64xf16>, %k: tensor<2x8x256x64xf16>,
                    %v: tensor<2x8x256x64xf16>) -> tensor<2x8x1x64xf16> {
  %o = attn.attention %q, %k, %v
      : tensor<2x8x1x64xf16>, tensor<2x8x256x64xf16>, tensor<2x8x256x64xf16>
      -> tensor<2x8x1x64xf16>
  return %o : tensor<2x8x1x64xf16>
}
// CHECK-LABEL: func.func @sigmoid
// CHECK-NOT:     attn.launch_choice
// CHECK:         gpu.launch_func @attn_kernels::@sigmoid_attention
func.func @sigmoid(%q: tensor<2x8x1x64xf16>, %k: tensor<2x8x?x64xf16>,
                   %v: tensor<2x8x?x64xf16>) -> tensor<2x8x1x64xf16> {
  %o = attn.attention %q, %k, %v normalization(#attn.sigmoid<bias = -2.0>)
      : tensor<2x8x1x64xf16>, tensor<2x8x?x64xf16>, tensor<2x8x?x64xf16>
      -> tensor<2x8x1x64xf16>
  return %o : tensor<2x8x1x64xf16>
}
