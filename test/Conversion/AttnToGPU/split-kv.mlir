// RUN: attn-opt %s --attn-to-gpu=warps=4 -split-input-file -verify-diagnostics | FileCheck %s

// Decoding (few static queries, many keys): the launch plan of split-KV.
// The host chooses the number of key splits at run time from the grid and
// the device's multiprocessor count, allocates f32 partials [splits, B, Hq,
// Sq, Dv] and their lse as workspaces, launches the partials kernel and
// then the merge kernel into o and lse. GQA packing: the 4 query heads of
// each of the 8 key/value heads share a block (4 rows, one warp), so the
// grid is (splits, Hkv, B) and the split formula counts B * Hkv blocks.
// CHECK-LABEL: func.func @decode
// CHECK:         %[[SMS:.*]] = attn.multiprocessor_count : index
// CHECK:         arith.ceildivui %{{.*}}, %[[BLOCKS:.*]] : index
// CHECK:         %[[SPLITS:.*]] = attn.launch_choice "kv_splits" %{{.*}} : index
// CHECK:         %[[OPARTS:.*]] = memref.alloc(%[[SPLITS]], %{{.*}}) : memref<?x?x32x1x128xf32>
// CHECK:         %[[LSEPARTS:.*]] = memref.alloc(%[[SPLITS]], %{{.*}}) : memref<?x?x32x1xf32>
// Three stages of 64-key K and V tiles ((128 + 8) bf16 a row): 104448
// bytes of shared memory.
// CHECK:         gpu.launch_func @attn_kernels::@decode_attention_partials blocks in (%[[SPLITS]], %c8{{.*}}, %{{.*}}) threads in (%c32
// CHECK-SAME:      dynamic_shared_memory_size %c104448_i32
// CHECK-SAME:      %[[OPARTS]] : memref<?x?x32x1x128xf32>, %[[LSEPARTS]] : memref<?x?x32x1xf32>, %[[SPLITS]] : index)
// CHECK:         gpu.launch_func @attn_kernels::@decode_merge
// CHECK-SAME:      args(%[[OPARTS]] : memref<?x?x32x1x128xf32>, %[[LSEPARTS]] : memref<?x?x32x1xf32>, %{{.*}} : memref<?x32x1x128xbf16>, %{{.*}} : memref<?x32x1xf32>)
// Both kernels live in the one kernel module.
// CHECK:       gpu.module @attn_kernels
// CHECK:         gpu.func @decode_attention_partials
// Block x is the split, block y the key/value head, whose first query head
// is 4 y; a row's query head is 4 y + (packed row) / Sq.
// CHECK:           %[[X:.*]] = gpu.block_id  x
// CHECK-NOT:       arith.divui %[[X]]
// CHECK:           %[[Y:.*]] = gpu.block_id  y
// CHECK:           %[[FIRST:.*]] = arith.muli %[[Y]], %c4
// CHECK:           %[[INGROUP:.*]] = arith.divui %{{.*}}, %c1
// CHECK:           arith.addi %[[FIRST]], %[[INGROUP]]
// K and V tiles are read at the block's key/value head. Two tiles start
// before the key loop, whose iteration i waits for tile i (one newer group
// may still be pending) and starts tile i + 2 into slot (i + 2) mod 3.
// CHECK:           nvgpu.device_async_copy %{{.*}}[%{{.*}}, %[[Y]], %{{.*}}, %{{.*}}], %{{.*}}[%{{.*}}, %{{.*}}], 8
// CHECK:           nvgpu.device_async_create_group
// CHECK:           nvgpu.device_async_create_group
// CHECK:           scf.for
// CHECK:             nvvm.cp.async.wait.group 1
// CHECK-NEXT:        gpu.barrier
// CHECK:             arith.remui %{{.*}}, %c3
// CHECK:             nvgpu.device_async_create_group
// CHECK:             nvgpu.mma.sync
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

// G * Sq = 16 * 8 = 128 rows are more than a packed block takes: a block
// per (query tile x split, query head), split (block x mod splits) of query
// tile (block x / splits), the key/value head the query head's / G.
// CHECK-LABEL: func.func @decode_unpacked
// CHECK:         %[[SPLITS:.*]] = attn.launch_choice "kv_splits" %{{.*}} : index
// CHECK:         %[[GRIDX:.*]] = arith.muli %{{.*}}, %[[SPLITS]] : index
// CHECK:         gpu.launch_func @attn_kernels::@decode_unpacked_attention_partials blocks in (%[[GRIDX]], %c32{{.*}}, %{{.*}}) threads in (%c128
// CHECK:       gpu.module @attn_kernels
// CHECK:         gpu.func @decode_unpacked_attention_partials
// CHECK:           %[[X:.*]] = gpu.block_id  x
// CHECK:           %[[Y:.*]] = gpu.block_id  y
// CHECK:           arith.remui %[[X]], %{{.*}} : index
// CHECK:           arith.divui %[[X]], %{{.*}} : index
// CHECK:           arith.divui %[[Y]], %c16
// CHECK:           nvgpu.mma.sync
func.func @decode_unpacked(%q: tensor<?x32x8x64xbf16>, %k: tensor<?x2x?x64xbf16>,
                           %v: tensor<?x2x?x64xbf16>) -> tensor<?x32x8x64xbf16> {
  %o = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>)
      : tensor<?x32x8x64xbf16>, tensor<?x2x?x64xbf16>, tensor<?x2x?x64xbf16>
      -> tensor<?x32x8x64xbf16>
  return %o : tensor<?x32x8x64xbf16>
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

// -----

// No query (static Sq = 0): one flash kernel on an empty grid, no partials.
// Regression test (found by test/property): G * Sq = 0 rows fit a packed
// block, whose plan then had no warp and the compiler divided by zero.
// CHECK-LABEL: func.func @no_queries
// CHECK-NOT:     attn.launch_choice
// CHECK:         %[[TILES:.*]] = arith.ceildivui %c0{{.*}}, %c64
// CHECK:         gpu.launch_func @attn_kernels::@no_queries_attention blocks in (%[[TILES]], %c6{{.*}}, %{{.*}}) threads in (%c128
// CHECK:       gpu.func @no_queries_attention
func.func @no_queries(%q: tensor<?x6x0x16xf32>, %k: tensor<?x2x?x16xf32>,
                      %v: tensor<?x2x?x16xf32>)
    -> (tensor<?x6x0x16xf32>, tensor<?x6x0xf32>) {
  %o, %lse = attn.attention %q, %k, %v
      : tensor<?x6x0x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
      -> tensor<?x6x0x16xf32>, tensor<?x6x0xf32>
  return %o, %lse : tensor<?x6x0x16xf32>, tensor<?x6x0xf32>
}
