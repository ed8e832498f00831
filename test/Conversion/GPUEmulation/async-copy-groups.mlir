// attn-emulate-gpu lands cp.async copies at once, but checks that a kernel
// waits for a copy's commit group before reading its bytes: here two groups
// (one element each per thread) are committed, then WAIT, a barrier and a
// read of the first group's element. cp.async.wait_group 1 (the newest group
// may stay in flight) or 0 allow it; wait_group 2 leaves both in flight and
// the emulated kernel stops; so does reading the second group's element after
// wait_group 1.
// RUN: sed 's/WAIT/1/; s/READ/%c0/' %s | attn-opt --attn-emulate-gpu-on-cpu | mlir-runner -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils | FileCheck %s --check-prefix=OK
// RUN: sed 's/WAIT/0/; s/READ/%c64/' %s | attn-opt --attn-emulate-gpu-on-cpu | mlir-runner -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils | FileCheck %s --check-prefix=OK2
// RUN: sed 's/WAIT/2/; s/READ/%c0/' %s | attn-opt --attn-emulate-gpu-on-cpu > %t.early.mlir
// RUN: not --crash stdbuf -oL mlir-runner %t.early.mlir -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils 2>&1 | FileCheck %s --check-prefix=RACE
// RUN: sed 's/WAIT/1/; s/READ/%c64/' %s | attn-opt --attn-emulate-gpu-on-cpu > %t.newest.mlir
// RUN: not --crash stdbuf -oL mlir-runner %t.newest.mlir -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils 2>&1 | FileCheck %s --check-prefix=RACE
// OK: 63
// OK2: 127
// RACE: attn-emulate-gpu: shared-memory race at loc("<stdin>":{{[0-9]+}}:{{[0-9]+}}): a thread reads what a cp.async copy writes whose group was not waited for (cp.async.wait_group)

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @staged(%in: memref<128xf32>, %out: memref<64xf32>) kernel {
      %c0 = arith.constant 0 : index
      %c64 = arith.constant 64 : index
      %smem = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
      %tile = memref.view %smem[%c0][] : memref<?xi8, #gpu.address_space<workgroup>>
          to memref<128xf32, #gpu.address_space<workgroup>>
      %tid = gpu.thread_id x
      %second = arith.addi %tid, %c64 : index
      %t0 = nvgpu.device_async_copy %in[%tid], %tile[%tid], 1
          : memref<128xf32> to memref<128xf32, #gpu.address_space<workgroup>>
      %g0 = nvgpu.device_async_create_group %t0
      %t1 = nvgpu.device_async_copy %in[%second], %tile[%second], 1
          : memref<128xf32> to memref<128xf32, #gpu.address_space<workgroup>>
      %g1 = nvgpu.device_async_create_group %t1
      nvvm.cp.async.wait.group WAIT
      gpu.barrier
      %at = arith.addi %tid, READ : index
      %z = memref.load %tile[%at] : memref<128xf32, #gpu.address_space<workgroup>>
      memref.store %z, %out[%tid] : memref<64xf32>
      gpu.return
    }
  }
  func.func @main() {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c63 = arith.constant 63 : index
    %c64 = arith.constant 64 : index
    %c128 = arith.constant 128 : index
    %bytes = arith.constant 512 : i32
    %in = memref.alloc() : memref<128xf32>
    scf.for %i = %c0 to %c128 step %c1 {
      %ii = arith.index_cast %i : index to i32
      %x = arith.sitofp %ii : i32 to f32
      memref.store %x, %in[%i] : memref<128xf32>
    }
    %out = memref.alloc() : memref<64xf32>
    gpu.launch_func @kernels::@staged blocks in (%c1, %c1, %c1)
        threads in (%c64, %c1, %c1) dynamic_shared_memory_size %bytes
        args(%in : memref<128xf32>, %out : memref<64xf32>)
    %last = memref.load %out[%c63] : memref<64xf32>
    vector.print %last : f32
    return
  }
}
