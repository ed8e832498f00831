// attn-emulate-gpu reports shared-memory races that lock step would hide:
// each thread stores to shared memory, then reads its neighbour's element.
// With the barrier between them the program prints thread 0's value; without
// it the emulated kernel stops with the race. (cf.assert prints with puts
// before abort: stdbuf keeps the message from dying in a pipe's buffer.)
// RUN: sed 's/BARRIER/gpu.barrier/' %s | attn-opt --attn-emulate-gpu-on-cpu | mlir-runner -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils | FileCheck %s --check-prefix=OK
// RUN: sed 's/BARRIER//' %s | attn-opt --attn-emulate-gpu-on-cpu > %t.racy.mlir
// RUN: not --crash stdbuf -oL mlir-runner %t.racy.mlir -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils 2>&1 | FileCheck %s --check-prefix=RACE
// OK: 42
// RACE: attn-emulate-gpu: shared-memory race at loc("<stdin>":30:12): a thread reads what another thread wrote since the last barrier

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @neighbour(%out: memref<64xf32>) kernel {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %c64 = arith.constant 64 : index
      %smem = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
      %tile = memref.view %smem[%c0][] : memref<?xi8, #gpu.address_space<workgroup>>
          to memref<64xf32, #gpu.address_space<workgroup>>
      %tid = gpu.thread_id x
      %i = arith.index_cast %tid : index to i32
      %x = arith.sitofp %i : i32 to f32
      %c42 = arith.constant 42.0 : f32
      %y = arith.addf %x, %c42 : f32
      memref.store %y, %tile[%tid] : memref<64xf32, #gpu.address_space<workgroup>>
      BARRIER
      %plus = arith.addi %tid, %c1 : index
      %next = arith.remui %plus, %c64 : index
      %z = memref.load %tile[%next] : memref<64xf32, #gpu.address_space<workgroup>>
      memref.store %z, %out[%tid] : memref<64xf32>
      gpu.return
    }
  }
  func.func @main() {
    %c1 = arith.constant 1 : index
    %c63 = arith.constant 63 : index
    %c64 = arith.constant 64 : index
    %bytes = arith.constant 256 : i32
    %out = memref.alloc() : memref<64xf32>
    gpu.launch_func @kernels::@neighbour blocks in (%c1, %c1, %c1)
        threads in (%c64, %c1, %c1) dynamic_shared_memory_size %bytes
        args(%out : memref<64xf32>)
    %last = memref.load %out[%c63] : memref<64xf32>
    vector.print %last : f32
    return
  }
}
