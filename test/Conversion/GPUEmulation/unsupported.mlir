// attn-emulate-gpu names what it cannot emulate: an op no op family has a
// hook for, and the cases a hook rejects.
// RUN: attn-opt %s --attn-emulate-gpu --split-input-file --verify-diagnostics

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @no_hook(%out: memref<64xf32>) kernel {
      %tid = gpu.thread_id x
      %i = arith.index_cast %tid : index to i32
      %x = arith.sitofp %i : i32 to f32
      // expected-error @+1 {{'gpu.subgroup_reduce' op attn-emulate-gpu: cannot emulate this op}}
      %sum = gpu.subgroup_reduce add %x : (f32) -> f32
      memref.store %sum, %out[%tid] : memref<64xf32>
      gpu.return
    }
  }
  func.func @main(%out: memref<64xf32>) {
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    gpu.launch_func @kernels::@no_hook blocks in (%c1, %c1, %c1)
        threads in (%c64, %c1, %c1) args(%out : memref<64xf32>)
    return
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @shuffle_down(%out: memref<64xf32>) kernel {
      %tid = gpu.thread_id x
      %i = arith.index_cast %tid : index to i32
      %x = arith.sitofp %i : i32 to f32
      %c1 = arith.constant 1 : i32
      %c32 = arith.constant 32 : i32
      // expected-error @+1 {{only xor shuffles of scalars with constant offsets over whole warps are emulated}}
      %y, %valid = gpu.shuffle down %x, %c1, %c32 : f32
      memref.store %y, %out[%tid] : memref<64xf32>
      gpu.return
    }
  }
  func.func @main(%out: memref<64xf32>) {
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    gpu.launch_func @kernels::@shuffle_down blocks in (%c1, %c1, %c1)
        threads in (%c64, %c1, %c1) args(%out : memref<64xf32>)
    return
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @redux_add(%out: memref<64xi32>) kernel {
      %tid = gpu.thread_id x
      %i = arith.index_cast %tid : index to i32
      %mask = arith.constant -1 : i32
      // expected-error @+1 {{only i32 min and max reductions are emulated}}
      %r = nvvm.redux.sync add %i, %mask : i32 -> i32
      memref.store %r, %out[%tid] : memref<64xi32>
      gpu.return
    }
  }
  func.func @main(%out: memref<64xi32>) {
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    gpu.launch_func @kernels::@redux_add blocks in (%c1, %c1, %c1)
        threads in (%c64, %c1, %c1) args(%out : memref<64xi32>)
    return
  }
}
