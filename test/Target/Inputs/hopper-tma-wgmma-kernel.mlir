// The kernel of test/Conversion/GPUEmulation/hopper-tma-wgmma.mlir (TMA
// copies completed on an mbarrier, wgmma from shared-memory descriptors
// with K-major and MN-major B), plus one wgmma with A from registers; the
// input of test/Target/ptxas-hopper-wgmma.test.

!map = !nvgpu.tensormap.descriptor<tensor = memref<64x64xbf16, 3>, swizzle = swizzle_128b, l2promo = none, oob = zero, interleave = none>
!bars = !nvgpu.mbarrier.group<memorySpace = #gpu.address_space<workgroup>>
!tile = memref<64x64xbf16, #gpu.address_space<workgroup>>
!smem = memref<?xi8, #gpu.address_space<workgroup>>

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @products(%mapA: !map, %mapB: !map, %mapV: !map,
                       %d1: memref<128x32xf32>, %d2: memref<128x32xf32>,
                       %d3: memref<128x32xf32>) kernel {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %c4 = arith.constant 4 : index
      %c32 = arith.constant 32 : index
      %c2048 = arith.constant 2048 : index
      %c8192 = arith.constant 8192 : index
      %c16384 = arith.constant 16384 : index
      %expectedBytes = arith.constant 24576 : index
      %ticks = arith.constant 10000000 : index
      %waitParity = arith.constant false
      // Descriptor fields: 128-byte swizzle (mode 1 in bits 62-63), stride
      // byte offset 1024 (8 rows of 128 bytes; >> 4 in bits 32-45), leading
      // byte offset (>> 4 in bits 16-29) 16 for A and B (unused: a k16 step
      // stays in one swizzled row), 8192 for V (the next 64 columns).
      %mode = arith.constant 4611686018427387904 : i64
      %fieldStride = arith.constant 274877906944 : i64
      %lbo = arith.constant 65536 : i64
      %lboV = arith.constant 33554432 : i64
      %hi = arith.ori %mode, %fieldStride : i64
      %hiK = arith.ori %hi, %lbo : i64
      %hiV = arith.ori %hi, %lboV : i64
      %c4i = arith.constant 4 : i64
      %field = arith.constant 16383 : i64
      %smem = gpu.dynamic_shared_memory : !smem
      %sA = memref.view %smem[%c0][] : !smem to !tile
      %sB = memref.view %smem[%c8192][] : !smem to !tile
      %sV = memref.view %smem[%c16384][] : !smem to !tile
      %tid = gpu.thread_id x
      %first = arith.cmpi eq, %tid, %c0 : index
      %bars = nvgpu.mbarrier.create -> !bars
      scf.if %first {
        nvgpu.mbarrier.init %bars[%c0], %c1 : !bars
      }
      gpu.barrier
      scf.if %first {
        nvgpu.mbarrier.arrive.expect_tx %bars[%c0], %expectedBytes : !bars
        nvgpu.tma.async.load %mapA[%c0, %c0], %bars[%c0] to %sA : !map, !bars -> !tile
        nvgpu.tma.async.load %mapB[%c0, %c0], %bars[%c0] to %sB : !map, !bars -> !tile
        nvgpu.tma.async.load %mapV[%c0, %c0], %bars[%c0] to %sV : !map, !bars -> !tile
      }
      nvgpu.mbarrier.try_wait.parity %bars[%c0], %waitParity, %ticks : !bars

      %base = memref.extract_aligned_pointer_as_index %smem : !smem -> index
      %zero = arith.constant dense<0.0> : vector<32xf32>
      nvvm.wgmma.fence.aligned
      // K-major A and B: each k16 step starts 32 bytes further into the
      // swizzled rows.
      %r1 = scf.for %s = %c0 to %c4 step %c1 iter_args(%acc = %zero) -> vector<32xf32> {
        %step = arith.muli %s, %c32 : index
        %a0 = arith.addi %base, %step : index
        %b0 = arith.addi %a0, %c8192 : index
        %descAi = arith.index_cast %a0 : index to i64
        %descAs = arith.shrui %descAi, %c4i : i64
        %descAf = arith.andi %descAs, %field : i64
        %descA = arith.ori %descAf, %hiK : i64
        %descBi = arith.index_cast %b0 : index to i64
        %descBs = arith.shrui %descBi, %c4i : i64
        %descBf = arith.andi %descBs, %field : i64
        %descB = arith.ori %descBf, %hiK : i64
        %next = attn_gpu.wgmma %descA, %descB, %acc {element_type = bf16} : i64, vector<32xf32>
        scf.yield %next : vector<32xf32>
      }
      // MN-major V: each k16 step is 16 rows (2048 bytes) further.
      %r2 = scf.for %s = %c0 to %c4 step %c1 iter_args(%acc = %zero) -> vector<32xf32> {
        %stepA = arith.muli %s, %c32 : index
        %a0 = arith.addi %base, %stepA : index
        %stepV = arith.muli %s, %c2048 : index
        %v1 = arith.addi %base, %c16384 : index
        %v0 = arith.addi %v1, %stepV : index
        %descAi = arith.index_cast %a0 : index to i64
        %descAs = arith.shrui %descAi, %c4i : i64
        %descAf = arith.andi %descAs, %field : i64
        %descA = arith.ori %descAf, %hiK : i64
        %descVi = arith.index_cast %v0 : index to i64
        %descVs = arith.shrui %descVi, %c4i : i64
        %descVf = arith.andi %descVs, %field : i64
        %descV = arith.ori %descVf, %hiV : i64
        %next = attn_gpu.wgmma %descA, %descV, %acc {element_type = bf16, transpose_b} : i64, vector<32xf32>
        scf.yield %next : vector<32xf32>
      }
      nvvm.wgmma.commit.group.sync.aligned
      nvvm.wgmma.wait.group.sync.aligned 0
      // A from registers, as a softmax's probabilities feed the second
      // product: D1's first eight accumulators in bf16 are this thread's
      // part of a 64 x 16 A (the D and A fragments share their layout),
      // times V's first 16 rows.
      %p = vector.shuffle %r1, %r1 [0, 1, 2, 3, 4, 5, 6, 7] : vector<32xf32>, vector<32xf32>
      %pA = arith.truncf %p : vector<8xf32> to vector<8xbf16>
      %v0 = arith.addi %base, %c16384 : index
      %descVi = arith.index_cast %v0 : index to i64
      %descVs = arith.shrui %descVi, %c4i : i64
      %descVf = arith.andi %descVs, %field : i64
      %descV = arith.ori %descVf, %hiV : i64
      nvvm.wgmma.fence.aligned
      %r3 = attn_gpu.wgmma %pA, %descV, %zero {element_type = bf16, transpose_b} : vector<8xbf16>, vector<32xf32>
      nvvm.wgmma.commit.group.sync.aligned
      nvvm.wgmma.wait.group.sync.aligned 0
      %all = arith.constant dense<true> : vector<32xi1>
      vector.maskedstore %d1[%tid, %c0], %all, %r1 : memref<128x32xf32>, vector<32xi1>, vector<32xf32>
      vector.maskedstore %d2[%tid, %c0], %all, %r2 : memref<128x32xf32>, vector<32xi1>, vector<32xf32>
      vector.maskedstore %d3[%tid, %c0], %all, %r3 : memref<128x32xf32>, vector<32xi1>, vector<32xf32>
      gpu.return
    }
  }
}
