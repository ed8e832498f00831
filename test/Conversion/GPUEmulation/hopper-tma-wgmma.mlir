// The Hopper parts of the emulator: TMA copies with the 128-byte swizzle,
// completed on an mbarrier, feed wgmma through shared-memory descriptors
// decoded bit by bit. One warpgroup computes D1 = A B^T (B K-major, as keys
// are) and D2 = A V (V MN-major, as values are), 64 x 64 x 64 in bf16 on
// small integers, so the products are exact; the host maps each thread's
// accumulators to (row, column) by the PTX ISA's wgmma D layout and counts
// the mismatches against its own sums.
// RUN: attn-opt %s --attn-emulate-gpu-on-cpu | mlir-runner -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils | FileCheck %s --check-prefix=OK
// OK: mismatches 0 0
//
// A stride byte offset of 512 bytes instead of 1024 reads rows 8-15 of
// each 16 from the wrong place; descriptors without the swizzle (with a
// leading byte offset of 16 bytes) read past shared memory, which stops the
// run.
// RUN: sed 's/%fieldStride = arith.constant 274877906944/%fieldStride = arith.constant 137438953472/' %s | attn-opt --attn-emulate-gpu-on-cpu | mlir-runner -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils | FileCheck %s --check-prefix=STRIDE
// STRIDE: mismatches {{[1-9][0-9]*}} {{[1-9][0-9]*}}
// RUN: sed 's/%mode = arith.constant 4611686018427387904/%mode = arith.constant 0/' %s | attn-opt --attn-emulate-gpu-on-cpu > %t.plain.mlir
// RUN: not --crash stdbuf -oL mlir-runner %t.plain.mlir -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils 2>&1 | FileCheck %s --check-prefix=PLAIN
// PLAIN: attn-emulate-gpu: out-of-bounds wgmma read of memref<?xbf16>
//
// Without the wait, the products read the copies' bytes before their
// phase completes; expecting 16 KiB instead of 24 completes the phase with
// the first two copies, so V's bytes belong to the next phase, which
// nothing waits for.
// RUN: sed 's/nvgpu.mbarrier.try_wait.parity .*$//' %s | attn-opt --attn-emulate-gpu-on-cpu > %t.early.mlir
// RUN: not --crash stdbuf -oL mlir-runner %t.early.mlir -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils 2>&1 | FileCheck %s --check-prefix=EARLY
// RUN: sed 's/%expectedBytes = arith.constant 24576/%expectedBytes = arith.constant 16384/' %s | attn-opt --attn-emulate-gpu-on-cpu > %t.short.mlir
// RUN: not --crash stdbuf -oL mlir-runner %t.short.mlir -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils 2>&1 | FileCheck %s --check-prefix=EARLY
// EARLY: attn-emulate-gpu: shared-memory race at loc({{.*}}): a thread reads what a TMA copy writes before waiting on its mbarrier phase
//
// Waiting on parity 1 after phase 0 has completed waits for phase 1, which
// nothing completes.
// The products are asynchronous: reading their results before the wait
// that retires their group, keeping the group (wait 1 after one commit) or
// arriving on an mbarrier (releasing shared memory the products may still
// read) while they run stops the emulation before it runs.
// RUN: sed 's/nvvm.wgmma.wait.group.sync.aligned 0//' %s | not attn-opt --attn-emulate-gpu-on-cpu 2>&1 | FileCheck %s --check-prefix=UNWAITED
// RUN: sed 's/nvvm.wgmma.wait.group.sync.aligned 0/nvvm.wgmma.wait.group.sync.aligned 1/' %s | not attn-opt --attn-emulate-gpu-on-cpu 2>&1 | FileCheck %s --check-prefix=UNWAITED
// UNWAITED: error: 'vector.maskedstore' op attn-emulate-gpu: reads a wgmma result before a wgmma.wait.group retires its group
// RUN: sed 's/^      nvvm.wgmma.commit.group.sync.aligned/      %%early = nvgpu.mbarrier.arrive %%bars[%%c0] : !bars -> !nvgpu.mbarrier.token\n&/' %s | not attn-opt --attn-emulate-gpu-on-cpu 2>&1 | FileCheck %s --check-prefix=ARRIVE
// ARRIVE: error: 'nvgpu.mbarrier.arrive' op attn-emulate-gpu: arrives while a wgmma is in flight
// A loop that commits must retire within each iteration what it issues:
// a commit in the first chain's loop leaves its product in flight into the
// next iteration.
// RUN: sed '0,/scf.yield %%next/s//nvvm.wgmma.commit.group.sync.aligned\n        scf.yield %%next/' %s | not attn-opt --attn-emulate-gpu-on-cpu 2>&1 | FileCheck %s --check-prefix=LOOP
// LOOP: error: 'scf.for' op attn-emulate-gpu: a wgmma group is still in flight at the end of the loop body
// RUN: sed 's/%waitParity = arith.constant false/%waitParity = arith.constant true/' %s | attn-opt --attn-emulate-gpu-on-cpu > %t.parity.mlir
// RUN: not --crash stdbuf -oL mlir-runner %t.parity.mlir -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils 2>&1 | FileCheck %s --check-prefix=NEVER
// NEVER: attn-emulate-gpu: mbarrier wait at loc({{.*}}) can never complete

!map = !nvgpu.tensormap.descriptor<tensor = memref<64x64xbf16, 3>, swizzle = swizzle_128b, l2promo = none, oob = zero, interleave = none>
!bars = !nvgpu.mbarrier.group<memorySpace = #gpu.address_space<workgroup>>
!tile = memref<64x64xbf16, #gpu.address_space<workgroup>>
!smem = memref<?xi8, #gpu.address_space<workgroup>>

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @products(%mapA: !map, %mapB: !map, %mapV: !map,
                       %d1: memref<128x32xf32>, %d2: memref<128x32xf32>) kernel {
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
      %all = arith.constant dense<true> : vector<32xi1>
      vector.maskedstore %d1[%tid, %c0], %all, %r1 : memref<128x32xf32>, vector<32xi1>, vector<32xf32>
      vector.maskedstore %d2[%tid, %c0], %all, %r2 : memref<128x32xf32>, vector<32xi1>, vector<32xf32>
      gpu.return
    }
  }

  // x(i, j) = ((i * p + j * q) mod m) - h, exact in bf16.
  func.func @fill(%t: memref<64x64xbf16>, %p: index, %q: index, %m: index, %h: index) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    scf.for %i = %c0 to %c64 step %c1 {
      scf.for %j = %c0 to %c64 step %c1 {
        %ip = arith.muli %i, %p : index
        %jq = arith.muli %j, %q : index
        %s = arith.addi %ip, %jq : index
        %r = arith.remui %s, %m : index
        %v = arith.subi %r, %h : index
        %vi = arith.index_cast %v : index to i32
        %f = arith.sitofp %vi : i32 to bf16
        memref.store %f, %t[%i, %j] : memref<64x64xbf16>
      }
    }
    return
  }

  // Counts the threads' accumulators that differ from sum_k A[r][k] X(k, c),
  // X(k, c) = B[c][k] (kMajor) or V[k][c]. Thread t, accumulator i = 4 j + q:
  // row 16 (t / 32) + (t % 32) / 4 + 8 (q / 2), column 8 j + 2 (t % 4) + q % 2.
  func.func @mismatches(%d: memref<128x32xf32>, %a: memref<64x64xbf16>,
                        %x: memref<64x64xbf16>, %kMajor: i1) -> index {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c4 = arith.constant 4 : index
    %c8 = arith.constant 8 : index
    %c16 = arith.constant 16 : index
    %c32 = arith.constant 32 : index
    %c64 = arith.constant 64 : index
    %c128 = arith.constant 128 : index
    %zero = arith.constant 0.0 : f32
    %count = scf.for %t = %c0 to %c128 step %c1 iter_args(%n = %c0) -> index {
      %inner = scf.for %i = %c0 to %c32 step %c1 iter_args(%m = %n) -> index {
        %warp = arith.divui %t, %c32 : index
        %lane = arith.remui %t, %c32 : index
        %g = arith.divui %lane, %c4 : index
        %tt = arith.remui %lane, %c4 : index
        %j = arith.divui %i, %c4 : index
        %q = arith.remui %i, %c4 : index
        %w16 = arith.muli %warp, %c16 : index
        %r0 = arith.addi %w16, %g : index
        %qh = arith.divui %q, %c2 : index
        %q8 = arith.muli %qh, %c8 : index
        %row = arith.addi %r0, %q8 : index
        %j8 = arith.muli %j, %c8 : index
        %t2 = arith.muli %tt, %c2 : index
        %ql = arith.remui %q, %c2 : index
        %c00 = arith.addi %j8, %t2 : index
        %col = arith.addi %c00, %ql : index
        %sum = scf.for %k = %c0 to %c64 step %c1 iter_args(%acc = %zero) -> f32 {
          %av = memref.load %a[%row, %k] : memref<64x64xbf16>
          %xv = scf.if %kMajor -> bf16 {
            %y = memref.load %x[%col, %k] : memref<64x64xbf16>
            scf.yield %y : bf16
          } else {
            %y = memref.load %x[%k, %col] : memref<64x64xbf16>
            scf.yield %y : bf16
          }
          %af = arith.extf %av : bf16 to f32
          %xf = arith.extf %xv : bf16 to f32
          %p = arith.mulf %af, %xf : f32
          %s = arith.addf %acc, %p : f32
          scf.yield %s : f32
        }
        %got = memref.load %d[%t, %i] : memref<128x32xf32>
        %same = arith.cmpf oeq, %got, %sum : f32
        %plus = arith.addi %m, %c1 : index
        %next = arith.select %same, %m, %plus : index
        scf.yield %next : index
      }
      scf.yield %inner : index
    }
    return %count : index
  }

  func.func @main() {
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c3 = arith.constant 3 : index
    %c4 = arith.constant 4 : index
    %c5 = arith.constant 5 : index
    %c7 = arith.constant 7 : index
    %c9 = arith.constant 9 : index
    %c11 = arith.constant 11 : index
    %c13 = arith.constant 13 : index
    %c64 = arith.constant 64 : index
    %c128 = arith.constant 128 : index
    %bytes = arith.constant 24576 : i32
    %a = memref.alloc() : memref<64x64xbf16>
    %b = memref.alloc() : memref<64x64xbf16>
    %v = memref.alloc() : memref<64x64xbf16>
    func.call @fill(%a, %c7, %c3, %c9, %c4) : (memref<64x64xbf16>, index, index, index, index) -> ()
    func.call @fill(%b, %c5, %c11, %c7, %c3) : (memref<64x64xbf16>, index, index, index, index) -> ()
    func.call @fill(%v, %c3, %c13, %c5, %c2) : (memref<64x64xbf16>, index, index, index, index) -> ()
    %ua = memref.cast %a : memref<64x64xbf16> to memref<*xbf16>
    %ub = memref.cast %b : memref<64x64xbf16> to memref<*xbf16>
    %uv = memref.cast %v : memref<64x64xbf16> to memref<*xbf16>
    %mapA = nvgpu.tma.create.descriptor %ua box[%c64, %c64] : memref<*xbf16> -> !map
    %mapB = nvgpu.tma.create.descriptor %ub box[%c64, %c64] : memref<*xbf16> -> !map
    %mapV = nvgpu.tma.create.descriptor %uv box[%c64, %c64] : memref<*xbf16> -> !map
    %d1 = memref.alloc() : memref<128x32xf32>
    %d2 = memref.alloc() : memref<128x32xf32>
    gpu.launch_func @kernels::@products blocks in (%c1, %c1, %c1)
        threads in (%c128, %c1, %c1) dynamic_shared_memory_size %bytes
        args(%mapA : !map, %mapB : !map, %mapV : !map,
             %d1 : memref<128x32xf32>, %d2 : memref<128x32xf32>)
    %true = arith.constant true
    %false = arith.constant false
    %n1 = func.call @mismatches(%d1, %a, %b, %true) : (memref<128x32xf32>, memref<64x64xbf16>, memref<64x64xbf16>, i1) -> index
    %n2 = func.call @mismatches(%d2, %a, %v, %false) : (memref<128x32xf32>, memref<64x64xbf16>, memref<64x64xbf16>, i1) -> index
    vector.print str "mismatches "
    vector.print %n1 : index punctuation <no_punctuation>
    vector.print str " "
    vector.print %n2 : index
    return
  }
}
