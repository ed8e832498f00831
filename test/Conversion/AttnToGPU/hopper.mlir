// RUN: attn-opt %s --attn-to-gpu="chip=sm_90a warps=8 tile-kv=128" -split-input-file | FileCheck %s
// RUN: attn-opt %s --attn-to-gpu="chip=sm_90a warps=1 tile-kv=64" -split-input-file | FileCheck %s --check-prefix=ONE

// sm_90a, bf16, D = 128: the FlashHopper kernel. The host builds the tensor
// maps of q, k and v (boxes of one tile's rows and 64 columns, 128-byte
// swizzle) and launches two warpgroups (128 query rows) with the query tile
// and three key/value slots in 1 KiB-aligned shared memory (the consumers
// hold two: tile i's P V runs in step i + 1).
// CHECK-LABEL: func.func @causal
// CHECK-COUNT-3: nvgpu.tma.create.descriptor %{{.*}} box[%{{.*}}, %{{.*}}, %c128{{.*}}, %c64{{.*}}] : memref<*xbf16> -> <tensor = memref<1x1x128x64xbf16, #gpu.address_space<workgroup>>, swizzle = swizzle_128b
// CHECK:         gpu.launch_func @attn_kernels::@causal_attention blocks in ({{.*}}) threads in (%c384, %c1{{.*}}, %c1{{.*}}) dynamic_shared_memory_size %c230400_i32
// Two consumer warpgroups take registers from the producer: the kernel
// launches at 168 registers a thread (nvvm.maxnreg; without it ptxas drops
// the setmaxnreg) so that 24 + 2 x 240 fit in 3 x 168.
// CHECK:         gpu.func @causal_attention({{.*}}, %{{.*}}: !nvgpu.tensormap.descriptor<{{.*}}>, %{{.*}}: !nvgpu.tensormap.descriptor<{{.*}}>, %{{.*}}: !nvgpu.tensormap.descriptor<{{.*}}>) kernel attributes {nvvm.maxnreg = 168 : i32}
// An mbarrier for the query tile; per key/value slot one that its tiles
// have landed (two arrivals: the key and the value tile) and one that the
// 256 consumer threads have released it; initialized by thread 0.
// CHECK:         nvgpu.mbarrier.create -> <memorySpace = #gpu.address_space<workgroup>>
// CHECK:         nvgpu.mbarrier.init %{{.*}}[%{{.*}}], %c1
// CHECK:         nvgpu.mbarrier.create -> <memorySpace = #gpu.address_space<workgroup>, num_barriers = 6>
// CHECK:         nvgpu.mbarrier.init %{{.*}}[%{{.*}}], %c2{{(_[0-9]+)?}} :
// CHECK:         nvgpu.mbarrier.init %{{.*}}[%{{.*}}], %c256{{(_[0-9]+)?}} :
// CHECK:         nvgpu.mbarrier.init %{{.*}}[%{{.*}}], %c2{{(_[0-9]+)?}} :
// CHECK:         nvgpu.mbarrier.init %{{.*}}[%{{.*}}], %c256{{(_[0-9]+)?}} :
// CHECK:         nvgpu.mbarrier.init %{{.*}}[%{{.*}}], %c2{{(_[0-9]+)?}} :
// CHECK:         nvgpu.mbarrier.init %{{.*}}[%{{.*}}], %c256{{(_[0-9]+)?}} :
// CHECK:         gpu.barrier
// Warpgroup 0 produces: the query tile (two 64-column chunks of 128 rows),
// then per key tile a wait for its slot's release and the copies (an empty
// tile completes its slot's phase with two arrivals).
// CHECK:         scf.if
// CHECK-NEXT:      nvvm.setmaxregister  decrease 24
// CHECK:           nvgpu.mbarrier.arrive.expect_tx %{{.*}}[%{{.*}}], %c32768
// CHECK-COUNT-2:   nvgpu.tma.async.load
// CHECK:           scf.for
// CHECK:             nvgpu.mbarrier.try_wait.parity
// CHECK:             nvgpu.mbarrier.arrive.expect_tx
// CHECK-COUNT-2:     nvgpu.tma.async.load
// CHECK:             nvgpu.mbarrier.arrive.expect_tx
// CHECK-COUNT-2:     nvgpu.tma.async.load
// CHECK:             nvgpu.mbarrier.arrive %
// CHECK-NEXT:        nvgpu.mbarrier.arrive %
// The consumers: no block barrier after the query tile's wait.
// CHECK:         } else {
// CHECK-NEXT:      nvvm.setmaxregister  increase 240
// CHECK:           nvgpu.mbarrier.try_wait.parity
// CHECK-NOT:       gpu.barrier
// CHECK:           scf.for
// CHECK:             nvgpu.mbarrier.try_wait.parity
// An empty tile finishes the pending P V (a whole group under its branch)
// and frees the previous tile's slot.
// CHECK:             scf.if
// CHECK:               nvvm.wgmma.fence.aligned
// CHECK-COUNT-8:       attn_gpu.wgmma {{.*}} {element_type = bf16, transpose_b} : vector<8xbf16>, vector<64xf32>
// CHECK:               nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT:          nvvm.wgmma.wait.group.sync.aligned 0
// CHECK:               nvgpu.mbarrier.arrive %
// A tile with keys: Q K^T (eight m64n128k16 from shared memory), then the
// previous tile's P V (eight, P in registers, V MN-major) as the second
// group; the softmax runs after the first group's wait, under P V; then
// the previous slot's release.
// CHECK:             nvvm.wgmma.fence.aligned
// CHECK-COUNT-8:     attn_gpu.wgmma %{{.*}}, %{{.*}}, %{{.*}} {element_type = bf16} : i64, vector<64xf32>
// CHECK-NOT:         math.exp2
// CHECK:             nvvm.wgmma.commit.group.sync.aligned
// CHECK:             arith.select
// CHECK-COUNT-8:     attn_gpu.wgmma {{.*}} {element_type = bf16, transpose_b} : vector<8xbf16>, vector<64xf32>
// CHECK-NOT:         math.exp2
// CHECK:             nvvm.wgmma.commit.group.sync.aligned
// CHECK-NOT:         math.exp2
// CHECK:             nvvm.wgmma.wait.group.sync.aligned 1
// CHECK:             math.exp2
// CHECK:             nvvm.wgmma.wait.group.sync.aligned 0
// CHECK:             nvgpu.mbarrier.arrive %
// After the loop: the last P V and the last slot's release.
// CHECK:           nvvm.wgmma.fence.aligned
// CHECK-COUNT-8:   attn_gpu.wgmma {{.*}} {element_type = bf16, transpose_b}
// CHECK:           nvvm.wgmma.wait.group.sync.aligned 0
// CHECK:           nvgpu.mbarrier.arrive %
// CHECK-NOT:     nvgpu.mma.sync
// CHECK-NOT:     nvgpu.device_async_copy
// One warp asked for: one consumer warpgroup (and the producer), 64-key tiles.
// ONE-LABEL: func.func @causal
// ONE:         gpu.launch_func @attn_kernels::@causal_attention blocks in ({{.*}}) threads in (%c256,
// With one consumer warpgroup there are no registers to move: no maxnreg,
// no setmaxnreg, ptxas allocates freely.
// ONE-NOT:     nvvm.maxnreg
// ONE-NOT:     nvvm.setmaxregister
// ONE:         attn_gpu.wgmma {{.*}} : i64, vector<32xf32>
func.func @causal(%q: tensor<2x4x?x128xbf16>, %k: tensor<2x2x?x128xbf16>, %v: tensor<2x2x?x128xbf16>) -> tensor<2x4x?x128xbf16> {
  %o = attn.attention %q, %k, %v mask(#attn.causal)
      : tensor<2x4x?x128xbf16>, tensor<2x2x?x128xbf16>, tensor<2x2x?x128xbf16> -> tensor<2x4x?x128xbf16>
  return %o : tensor<2x4x?x128xbf16>
}

// -----

// f32 stays on the mma.sync kernel (tf32) on sm_90a.
// CHECK-LABEL: func.func @f32
// CHECK-NOT:     nvgpu.tma.create.descriptor
// CHECK:         nvgpu.mma.sync
// CHECK-NOT:     attn_gpu.wgmma
// ONE-LABEL: func.func @f32
// ONE-NOT:     attn_gpu.wgmma
func.func @f32(%q: tensor<1x2x?x64xf32>, %k: tensor<1x2x?x64xf32>, %v: tensor<1x2x?x64xf32>) -> tensor<1x2x?x64xf32> {
  %o = attn.attention %q, %k, %v
      : tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32> -> tensor<1x2x?x64xf32>
  return %o : tensor<1x2x?x64xf32>
}
