// Warp collectives under divergent control flow (as in a warpgroup role)
// run when whole warps take the branch; a warp split by the branch stops
// the run, which on a GPU would hang or read undefined lanes.
// RUN: sed 's/LIMIT/32/' %s | attn-opt --attn-emulate-gpu-on-cpu | mlir-runner -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils | FileCheck %s --check-prefix=WHOLE
// WHOLE: 1
// WHOLE-NEXT: 0
// WHOLE-NEXT: 30
// WHOLE-NEXT: -1
// RUN: sed 's/LIMIT/8/' %s | attn-opt --attn-emulate-gpu-on-cpu > %t.split.mlir
// RUN: not --crash stdbuf -oL mlir-runner %t.split.mlir -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils 2>&1 | FileCheck %s --check-prefix=SPLIT
// SPLIT: attn-emulate-gpu: some lanes of a warp execute the gpu.shuffle at loc({{.*}}) and others do not

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @shuffle(%out: memref<64xf32>) kernel {
      %tid = gpu.thread_id x
      %i = arith.index_cast %tid : index to i32
      %x = arith.sitofp %i : i32 to f32
      %c1 = arith.constant 1 : i32
      %c32 = arith.constant 32 : i32
      %limit = arith.constant LIMIT : index
      %low = arith.cmpi ult, %tid, %limit : index
      scf.if %low {
        %y, %valid = gpu.shuffle xor %x, %c1, %c32 : f32
        memref.store %y, %out[%tid] : memref<64xf32>
      }
      gpu.return
    }
  }
  func.func @main() {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    %out = memref.alloc() : memref<64xf32>
    %none = arith.constant -1.0 : f32
    scf.for %i = %c0 to %c64 step %c1 {
      memref.store %none, %out[%i] : memref<64xf32>
    }
    gpu.launch_func @kernels::@shuffle blocks in (%c1, %c1, %c1)
        threads in (%c64, %c1, %c1) args(%out : memref<64xf32>)
    // Lanes 0, 1 and 31 got their xor-1 neighbours; lane 32 did not run.
    %c31 = arith.constant 31 : index
    %c32 = arith.constant 32 : index
    scf.for %i = %c0 to %c64 step %c1 {
      %at0 = arith.cmpi ule, %i, %c1 : index
      %at31 = arith.cmpi eq, %i, %c31 : index
      %at32 = arith.cmpi eq, %i, %c32 : index
      %some = arith.ori %at0, %at31 : i1
      %shown = arith.ori %some, %at32 : i1
      scf.if %shown {
        %x = memref.load %out[%i] : memref<64xf32>
        vector.print %x : f32
      }
    }
    return
  }
}
