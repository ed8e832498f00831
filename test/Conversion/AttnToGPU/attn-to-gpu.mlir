// RUN: attn-opt %s --attn-to-gpu -split-input-file | FileCheck %s

// A causal bf16 kernel. The host launches ceil(Sq / 64) x Hq x B blocks of
// four warps with two K/V buffers of dynamic shared memory; nothing holds a
// [Sq, Skv] score matrix.
// CHECK-LABEL: func.func @causal
// CHECK-NOT:     memref.alloc{{.*}}?x?x
// CHECK:         %[[TILES:.*]] = arith.ceildivui %{{.*}}, %c64
// CHECK:         gpu.launch_func @attn_kernels::@causal_attention blocks in (%[[TILES]], %c4, %{{.*}}) threads in (%c128, %c1, %c1{{.*}}) dynamic_shared_memory_size %c28672_i32
// CHECK-LABEL: gpu.module @attn_kernels
// CHECK:         gpu.func @causal_attention({{.*}}) kernel
// CHECK-NOT:     memref.alloc
// The first key tile is loaded before the loop with 16-byte asynchronous
// copies; each iteration waits for its tile and starts the next one.
// CHECK:         nvgpu.device_async_copy {{.*}}, 8, %{{.*}} {bypassL1}
// CHECK:         nvgpu.device_async_create_group
// CHECK:         scf.for {{.*}} iter_args(
// CHECK:           nvvm.cp.async.wait.group 0
// CHECK-NEXT:      gpu.barrier
// CHECK:           nvgpu.device_async_copy
// Empty tiles are skipped...
// CHECK:           scf.if %{{.*}} -> (vector<2xf32>, vector<2xf32>, vector<4x2x2xf32>) {
// CHECK-NEXT:        scf.yield
// CHECK-NEXT:      } else {
// ...full tiles run on tensor cores without any mask code...
// CHECK:             scf.if %{{.*}} -> (vector<2xf32>, vector<2xf32>, vector<4x2x2xf32>) {
// CHECK-NOT:           arith.cmpi
// CHECK:               nvgpu.ldmatrix %{{.*}} {numTiles = 4 : i32, transpose = false} : memref<64x72xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// CHECK-NOT:           arith.cmpi
// CHECK:               nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xbf16>, vector<2x2xbf16>, vector<2x2xf32>) -> vector<2x2xf32>
// CHECK-NOT:           arith.cmpi
// CHECK:               gpu.shuffle {{ *}}xor %{{.*}}, %c1_i32
// CHECK-NOT:           arith.cmpi
// CHECK:               nvgpu.ldmatrix %{{.*}} {numTiles = 4 : i32, transpose = true} : memref<64x40xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// CHECK-NOT:           arith.cmpi
// ...and only partial tiles evaluate the mask (key <= row).
// CHECK:             } else {
// CHECK:               arith.cmpi sle
func.func @causal(%q: tensor<?x4x?x64xbf16>, %k: tensor<?x2x?x64xbf16>,
                  %v: tensor<?x2x?x32xbf16>) -> tensor<?x4x?x32xbf16> {
  %o = attn.attention %q, %k, %v mask(#attn.causal)
      : tensor<?x4x?x64xbf16>, tensor<?x2x?x64xbf16>, tensor<?x2x?x32xbf16>
      -> tensor<?x4x?x32xbf16>
  return %o : tensor<?x4x?x32xbf16>
}

// -----

// f32 runs on tf32 tensor cores (m16n8k4). Without a mask every tile is
// full (Skv = 128 is a multiple of the tile): the kernel has no tile
// classes at all.
// CHECK-LABEL: gpu.func @dense_attention
// CHECK:         scf.for
// CHECK-NOT:       scf.if %{{.*}} -> (vector<2xf32>
// CHECK:           nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 4], tf32Enabled} : (vector<2x1xf32>, vector<1x1xf32>, vector<2x2xf32>) -> vector<2x2xf32>
// CHECK-NOT:       scf.if %{{.*}} -> (vector<2xf32>
// CHECK:         gpu.return
func.func @dense(%q: tensor<2x8x128x32xf32>, %k: tensor<2x8x128x32xf32>,
                 %v: tensor<2x8x128x32xf32>) -> tensor<2x8x128x32xf32> {
  %o = attn.attention %q, %k, %v
      : tensor<2x8x128x32xf32>, tensor<2x8x128x32xf32>, tensor<2x8x128x32xf32>
      -> tensor<2x8x128x32xf32>
  return %o : tensor<2x8x128x32xf32>
}

// -----

// Documents: a tile's id range is a warp-wide min/max (strided reads and
// redux.sync), the segment ids are kernel parameters.
// CHECK-LABEL: gpu.func @packed_attention
// CHECK-SAME:    %{{.*}}: memref<1x?xi32>, %{{.*}}: memref<1x?xi32>
// CHECK:         scf.for {{.*}} step %c32
// CHECK:           memref.load %{{.*}} : memref<1x?xi32>
// CHECK:         nvvm.redux.sync min %{{.*}}, %{{.*}} : i32 -> i32
// CHECK:         nvvm.redux.sync max %{{.*}}, %{{.*}} : i32 -> i32
func.func @packed(%q: tensor<1x4x?x64xf16>, %k: tensor<1x4x?x64xf16>,
                  %v: tensor<1x4x?x64xf16>, %qi: tensor<1x?xi32>,
                  %ki: tensor<1x?xi32>) -> tensor<1x4x?x64xf16> {
  %o = attn.attention %q, %k, %v segments(%qi, %ki : tensor<1x?xi32>, tensor<1x?xi32>)
      mask(#attn.document)
      : tensor<1x4x?x64xf16>, tensor<1x4x?x64xf16>, tensor<1x4x?x64xf16>
      -> tensor<1x4x?x64xf16>
  return %o : tensor<1x4x?x64xf16>
}

// -----

// A key range that may be empty (here Skv = 0: the layout has no key
// block) is not classified at all: the prologue (the first tile's layout
// read and copies) and the key-tile loop run under one branch on
// kvLo < kvHi, which otherwise yields the initial state (m = -inf, l = 0,
// o = 0). Regression test (issue 17).
// CHECK-LABEL: gpu.func @sparse_attention
// CHECK:         %[[M0:.*]] = arith.constant dense<0xFF800000> : vector<2xf32>
// CHECK-NEXT:    %[[L0:.*]] = arith.constant dense<0.000000e+00> : vector<2xf32>
// CHECK-NEXT:    %[[O0:.*]] = arith.constant dense<0.000000e+00> : vector<4x2x2xf32>
// CHECK:         %[[LO:.*]] = arith.muli
// CHECK:         %[[NONEMPTY:.*]] = arith.cmpi slt, %[[LO]], %[[HI:.*]] : index
// CHECK-NEXT:    %[[FINAL:.*]]:3 = scf.if %[[NONEMPTY]] -> (vector<2xf32>, vector<2xf32>, vector<4x2x2xf32>) {
// CHECK:           memref.load %{{.*}} : memref<1x2x?x?xi8>
// CHECK:           nvgpu.device_async_create_group
// CHECK:           scf.for %{{.*}} = %[[LO]] to %[[HI]] step
// CHECK:             memref.load %{{.*}} : memref<1x2x?x?xi8>
// CHECK:           scf.yield %[[M0]], %[[L0]], %[[O0]] : vector<2xf32>, vector<2xf32>, vector<4x2x2xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    vector.extract %[[FINAL]]#1
func.func @sparse(%q: tensor<1x2x?x64xbf16>, %k: tensor<1x2x?x64xbf16>,
                  %v: tensor<1x2x?x32xbf16>, %layout: tensor<1x2x?x?xi8>)
    -> tensor<1x2x?x32xbf16> {
  %o = attn.attention %q, %k, %v layout(%layout : tensor<1x2x?x?xi8>)
      mask(#attn.block_sparse<block = [64, 64]>) allow_empty_rows
      : tensor<1x2x?x64xbf16>, tensor<1x2x?x64xbf16>, tensor<1x2x?x32xbf16>
      -> tensor<1x2x?x32xbf16>
  return %o : tensor<1x2x?x32xbf16>
}
