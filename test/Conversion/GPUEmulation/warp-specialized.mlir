// Warpgroups that run different code: warpgroup 0 produces (TMA copies of
// five 64 x 64 tiles into a ring of two slots, each slot completed on its
// "full" mbarrier), warpgroups 1 and 2 consume (wait for the slot, sum its
// columns, release it on its "empty" mbarrier, which the producer waits on
// before reusing the slot). The producer gives registers back (setmaxnreg)
// to the consumers. Each consumer thread's sum of its column over all 320
// rows is checked against the host's.
// RUN: attn-opt %s --attn-emulate-gpu-on-cpu | mlir-runner -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils | FileCheck %s --check-prefix=OK
// OK: mismatches 0
//
// Consumers that never release a slot: the producer waits for the third
// tile's slot while the consumers wait for that tile.
// RUN: sed 's/%released = nvgpu.mbarrier.arrive %bars.*$//' %s | attn-opt --attn-emulate-gpu-on-cpu > %t.noarrive.mlir
// RUN: not --crash stdbuf -oL mlir-runner %t.noarrive.mlir -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils 2>&1 | FileCheck %s --check-prefix=STUCK
// STUCK: attn-emulate-gpu: the warpgroup roles of the scf.if at loc({{.*}}) wait on each other: neither can start its next iteration (a wait at loc({{.*}}:[[@LINE+74]]:{{[0-9]+}})) (a wait at loc({{.*}}:[[@LINE+95]]:{{[0-9]+}}))
//
// A producer that does not wait for the release overwrites the first slot
// while the consumers' reads of it are not ordered before the copy.
// RUN: sed 's/nvgpu.mbarrier.try_wait.parity %bars\[%emptyId\].*$//' %s | attn-opt --attn-emulate-gpu-on-cpu > %t.nowait.mlir
// RUN: not --crash stdbuf -oL mlir-runner %t.nowait.mlir -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils 2>&1 | FileCheck %s --check-prefix=WAR
// WAR: attn-emulate-gpu: shared-memory race at loc({{.*}}:[[@LINE+75]]:{{[0-9]+}}): a thread overwrites what another thread read since the last barrier (or, in another warpgroup, before an arrival the writer's mbarrier waits acquired)
//
// Consumers that read a slot without waiting for its copy.
// RUN: sed 's/nvgpu.mbarrier.try_wait.parity %bars\[%fullId\].*$//' %s | attn-opt --attn-emulate-gpu-on-cpu > %t.early.mlir
// RUN: not --crash stdbuf -oL mlir-runner %t.early.mlir -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils 2>&1 | FileCheck %s --check-prefix=EARLY
// EARLY: attn-emulate-gpu: shared-memory race at loc({{.*}}): a thread reads what a TMA copy writes before waiting on its mbarrier phase
//
// A producer that keeps its registers leaves too few for the consumers'
// increase: 168 + 232 + 232 per thread of 3 x 128 is more than 64K.
// RUN: sed 's/nvvm.setmaxregister decrease 40//' %s | attn-opt --attn-emulate-gpu-on-cpu > %t.registers.mlir
// RUN: not --crash stdbuf -oL mlir-runner %t.registers.mlir -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils 2>&1 | FileCheck %s --check-prefix=REGISTERS
// REGISTERS: attn-emulate-gpu: setmaxnreg at loc({{.*}}): the warpgroups' register counts exceed the 64K registers of the block's multiprocessor
//
// An increase that lowers the count.
// RUN: sed 's/nvvm.setmaxregister increase 232/nvvm.setmaxregister increase 160/' %s | attn-opt --attn-emulate-gpu-on-cpu > %t.lower.mlir
// RUN: not --crash stdbuf -oL mlir-runner %t.lower.mlir -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils 2>&1 | FileCheck %s --check-prefix=LOWER
// LOWER: attn-emulate-gpu: setmaxnreg at loc({{.*}}): an increase to 160 registers goes the other way from warpgroup 1's count
//
// setmaxnreg in a kernel without nvvm.maxnreg (which ptxas would drop), and
// a launch count 384 threads cannot have.
// RUN: sed 's/ attributes {nvvm.maxnreg = 168 : i32}//' %s | not attn-opt --attn-emulate-gpu-on-cpu 2>&1 | FileCheck %s --check-prefix=NOMAXNREG
// NOMAXNREG: error: 'nvvm.setmaxregister' op attn-emulate-gpu: setmaxnreg needs the kernel's nvvm.maxnreg (its registers at launch); without it ptxas drops the setmaxnreg
// RUN: sed 's/nvvm.maxnreg = 168/nvvm.maxnreg = 176/' %s | not attn-opt --attn-emulate-gpu-on-cpu 2>&1 | FileCheck %s --check-prefix=LAUNCH
// LAUNCH: error: 'nvvm.setmaxregister' op attn-emulate-gpu: the kernel's nvvm.maxnreg of 176 registers for 384 threads is more than a multiprocessor's 64K: the launch would fail

!map = !nvgpu.tensormap.descriptor<tensor = memref<64x64xbf16, 3>, swizzle = none, l2promo = none, oob = zero, interleave = none>
!bars = !nvgpu.mbarrier.group<memorySpace = #gpu.address_space<workgroup>, num_barriers = 4>
!tile = memref<64x64xbf16, #gpu.address_space<workgroup>>
!smem = memref<?xi8, #gpu.address_space<workgroup>>

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @ring(%map: !map, %out: memref<256xf32>) kernel attributes {nvvm.maxnreg = 168 : i32} {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %c2 = arith.constant 2 : index
      %c5 = arith.constant 5 : index
      %c64 = arith.constant 64 : index
      %c128 = arith.constant 128 : index
      %c256 = arith.constant 256 : index
      %c8192 = arith.constant 8192 : index
      %ticks = arith.constant 10000000 : index
      %smem = gpu.dynamic_shared_memory : !smem
      %tid = gpu.thread_id x
      %first = arith.cmpi eq, %tid, %c0 : index
      // Barriers 0 and 1: the slots are full; 2 and 3: released.
      %bars = nvgpu.mbarrier.create -> !bars
      scf.if %first {
        nvgpu.mbarrier.init %bars[%c0], %c1 : !bars
        nvgpu.mbarrier.init %bars[%c1], %c1 : !bars
        %c3 = arith.constant 3 : index
        nvgpu.mbarrier.init %bars[%c2], %c256 : !bars
        nvgpu.mbarrier.init %bars[%c3], %c256 : !bars
      }
      gpu.barrier
      %group = arith.divui %tid, %c128 : index
      %producer = arith.cmpi eq, %group, %c0 : index
      scf.if %producer {
        nvvm.setmaxregister decrease 40
        scf.for %t = %c0 to %c5 step %c1 {
          %fullId = arith.remui %t, %c2 : index
          %emptyId = arith.addi %fullId, %c2 : index
          // The slot's first use waits for the phase before phase 0,
          // which counts as complete.
          %round = arith.divui %t, %c2 : index
          %after = arith.addi %round, %c1 : index
          %bit = arith.remui %after, %c2 : index
          %parity = arith.cmpi eq, %bit, %c1 : index
          nvgpu.mbarrier.try_wait.parity %bars[%emptyId], %parity, %ticks : !bars
          scf.if %first {
            %bytes = arith.constant 8192 : index
            nvgpu.mbarrier.arrive.expect_tx %bars[%fullId], %bytes : !bars
            %offset = arith.muli %fullId, %c8192 : index
            %view = memref.view %smem[%offset][] : !smem to !tile
            %row = arith.muli %t, %c64 : index
            nvgpu.tma.async.load %map[%c0, %row], %bars[%fullId] to %view : !map, !bars -> !tile
          }
        }
      } else {
        nvvm.setmaxregister increase 232
        %consumer = arith.subi %tid, %c128 : index
        %column = arith.remui %consumer, %c64 : index
        %zero = arith.constant 0.0 : f32
        %sum = scf.for %t = %c0 to %c5 step %c1 iter_args(%acc = %zero) -> f32 {
          %fullId = arith.remui %t, %c2 : index
          %emptyId = arith.addi %fullId, %c2 : index
          %round = arith.divui %t, %c2 : index
          %bit = arith.remui %round, %c2 : index
          %parity = arith.cmpi eq, %bit, %c1 : index
          nvgpu.mbarrier.try_wait.parity %bars[%fullId], %parity, %ticks : !bars
          %offset = arith.muli %fullId, %c8192 : index
          %view = memref.view %smem[%offset][] : !smem to !tile
          %tile = scf.for %r = %c0 to %c64 step %c1 iter_args(%s = %acc) -> f32 {
            %x = memref.load %view[%r, %column] : !tile
            %xf = arith.extf %x : bf16 to f32
            %next = arith.addf %s, %xf : f32
            scf.yield %next : f32
          }
          %released = nvgpu.mbarrier.arrive %bars[%emptyId] : !bars -> !nvgpu.mbarrier.token
          scf.yield %tile : f32
        }
        memref.store %sum, %out[%consumer] : memref<256xf32>
      }
      gpu.return
    }
  }

  // x(i, j) = ((7 i + 3 j) mod 9) - 4, exact in bf16.
  func.func @fill(%x: memref<320x64xbf16>) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c3 = arith.constant 3 : index
    %c4 = arith.constant 4 : index
    %c7 = arith.constant 7 : index
    %c9 = arith.constant 9 : index
    %c64 = arith.constant 64 : index
    %c320 = arith.constant 320 : index
    scf.for %i = %c0 to %c320 step %c1 {
      scf.for %j = %c0 to %c64 step %c1 {
        %i7 = arith.muli %i, %c7 : index
        %j3 = arith.muli %j, %c3 : index
        %s = arith.addi %i7, %j3 : index
        %r = arith.remui %s, %c9 : index
        %v = arith.subi %r, %c4 : index
        %vi = arith.index_cast %v : index to i32
        %f = arith.sitofp %vi : i32 to bf16
        memref.store %f, %x[%i, %j] : memref<320x64xbf16>
      }
    }
    return
  }

  func.func @main() {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    %c256 = arith.constant 256 : index
    %c320 = arith.constant 320 : index
    %c384 = arith.constant 384 : index
    %bytes = arith.constant 16384 : i32
    %x = memref.alloc() : memref<320x64xbf16>
    func.call @fill(%x) : (memref<320x64xbf16>) -> ()
    %ux = memref.cast %x : memref<320x64xbf16> to memref<*xbf16>
    %map = nvgpu.tma.create.descriptor %ux box[%c64, %c64] : memref<*xbf16> -> !map
    %out = memref.alloc() : memref<256xf32>
    gpu.launch_func @kernels::@ring blocks in (%c1, %c1, %c1)
        threads in (%c384, %c1, %c1) dynamic_shared_memory_size %bytes
        args(%map : !map, %out : memref<256xf32>)
    %zero = arith.constant 0.0 : f32
    %count = scf.for %t = %c0 to %c256 step %c1 iter_args(%n = %c0) -> index {
      %column = arith.remui %t, %c64 : index
      %want = scf.for %i = %c0 to %c320 step %c1 iter_args(%s = %zero) -> f32 {
        %v = memref.load %x[%i, %column] : memref<320x64xbf16>
        %vf = arith.extf %v : bf16 to f32
        %next = arith.addf %s, %vf : f32
        scf.yield %next : f32
      }
      %got = memref.load %out[%t] : memref<256xf32>
      %same = arith.cmpf oeq, %got, %want : f32
      %plus = arith.addi %n, %c1 : index
      %next = arith.select %same, %n, %plus : index
      scf.yield %next : index
    }
    vector.print str "mismatches "
    vector.print %count : index
    return
  }
}
