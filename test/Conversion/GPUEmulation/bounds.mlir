// attn-emulate-gpu stops a kernel that reads or writes past a buffer (on a
// GPU it would read another buffer's data, or fault): each thread reads its
// neighbour's element, OFFSET away. At OFFSET = 0 the program prints thread
// 63's value; at OFFSET = 1 thread 63 reads element 64 of 64. A cp.async
// copy of no source element (zero fill) reads nothing, wherever it points;
// an empty grid (x = 0) runs no block, as the runtime launches none, so its
// kernel's wild store never happens. (cf.assert prints with puts before
// abort: stdbuf keeps the message from dying in a pipe's buffer.)
// RUN: sed 's/OFFSET/0/; s/SOURCE_ELEMENTS/%none/; s/WILD_BLOCKS/%c0/' %s | attn-opt --attn-emulate-gpu-on-cpu | mlir-runner -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils | FileCheck %s --check-prefix=OK
// RUN: sed 's/OFFSET/1/; s/SOURCE_ELEMENTS/%none/; s/WILD_BLOCKS/%c0/' %s | attn-opt --attn-emulate-gpu-on-cpu > %t.read.mlir
// RUN: not --crash stdbuf -oL mlir-runner %t.read.mlir -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils 2>&1 | FileCheck %s --check-prefix=READ
// RUN: sed 's/OFFSET/0/; s/SOURCE_ELEMENTS/%c1/; s/WILD_BLOCKS/%c0/' %s | attn-opt --attn-emulate-gpu-on-cpu > %t.copy.mlir
// RUN: not --crash stdbuf -oL mlir-runner %t.copy.mlir -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils 2>&1 | FileCheck %s --check-prefix=COPY
// RUN: sed 's/OFFSET/0/; s/SOURCE_ELEMENTS/%none/; s/WILD_BLOCKS/%c1/' %s | attn-opt --attn-emulate-gpu-on-cpu > %t.grid.mlir
// RUN: not --crash stdbuf -oL mlir-runner %t.grid.mlir -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils 2>&1 | FileCheck %s --check-prefix=GRID
// OK: 105
// READ: attn-emulate-gpu: out-of-bounds read of memref<64xf32> at loc("<stdin>":33:12)
// COPY: attn-emulate-gpu: out-of-bounds cp.async read of memref<64xf32> at loc("<stdin>":36:15)
// GRID: attn-emulate-gpu: out-of-bounds write of memref<64xf32> at loc("<stdin>":44:7)

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @neighbour(%in: memref<64xf32>, %out: memref<64xf32>) kernel {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %c64 = arith.constant 64 : index
      %offset = arith.constant OFFSET : index
      %smem = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
      %tile = memref.view %smem[%c0][] : memref<?xi8, #gpu.address_space<workgroup>>
          to memref<64xf32, #gpu.address_space<workgroup>>
      %tid = gpu.thread_id x
      %at = arith.addi %tid, %offset : index
      %x = memref.load %in[%at] : memref<64xf32>
      %none = arith.constant 0 : index
            %past = arith.addi %tid, %c64 : index
      %copy = nvgpu.device_async_copy %in[%past], %tile[%tid], 1, SOURCE_ELEMENTS
          : memref<64xf32> to memref<64xf32, #gpu.address_space<workgroup>>
      memref.store %x, %out[%tid] : memref<64xf32>
      gpu.return
    }
    gpu.func @wild(%out: memref<64xf32>) kernel {
      %c100 = arith.constant 100 : index
      %c1 = arith.constant 1.0 : f32
      memref.store %c1, %out[%c100] : memref<64xf32>
      gpu.return
    }
  }
  func.func @main() {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c63 = arith.constant 63 : index
    %c64 = arith.constant 64 : index
    %bytes = arith.constant 256 : i32
    %in = memref.alloc() : memref<64xf32>
    %out = memref.alloc() : memref<64xf32>
    %f42 = arith.constant 42.0 : f32
    scf.for %i = %c0 to %c64 step %c1 {
      %ii = arith.index_cast %i : index to i32
      %fi = arith.sitofp %ii : i32 to f32
      %v = arith.addf %fi, %f42 : f32
      memref.store %v, %in[%i] : memref<64xf32>
    }
    gpu.launch_func @kernels::@neighbour blocks in (%c1, %c1, %c1)
        threads in (%c64, %c1, %c1) dynamic_shared_memory_size %bytes
        args(%in : memref<64xf32>, %out : memref<64xf32>)
    gpu.launch_func @kernels::@wild blocks in (WILD_BLOCKS, %c1, %c1)
        threads in (%c1, %c1, %c1) args(%out : memref<64xf32>)
    %last = memref.load %out[%c63] : memref<64xf32>
    vector.print %last : f32
    return
  }
}
