// RUN: attn-opt %s --pass-pipeline="builtin.module(attn-lower-to-cpu)" | FileCheck %s
// RUN: attn-opt %s --pass-pipeline="builtin.module(attn-reference)" | FileCheck %s --check-prefix=REF
// RUN: attn-opt %s --pass-pipeline="builtin.module(attn-lower-to-cpu{tile-q=16 tile-kv=16})" | FileCheck %s --check-prefix=KERNEL
// RUN: attn-opt %s --pass-pipeline="builtin.module(attn-lower-to-cpu{parallel=false})" | FileCheck %s --check-prefix=SERIAL

// The kernel: query tiles in an OpenMP parallel loop, FMA micro-kernels,
// no libm exp left (polynomial).
// KERNEL: omp.parallel
// KERNEL: omp.wsloop
// KERNEL: llvm.intr.fmuladd(%{{.*}}, %{{.*}}, %{{.*}}) : (vector<8xf32>, vector<8xf32>, vector<8xf32>) -> vector<8xf32>
// KERNEL-NOT: llvm.intr.exp
// SERIAL-NOT: omp.
// SERIAL: llvm.func @_mlir_ciface_f

// The CPU pipeline ends in the LLVM dialect. The results became out-parameters:
// @f takes five memref descriptors (q, k, v, o, lse) through its C wrapper.

// CHECK-NOT: attn.
// CHECK-NOT: linalg.
// CHECK-LABEL: llvm.func @f(
// CHECK-LABEL: llvm.func @_mlir_ciface_f(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr)
// CHECK: llvm.call @f(

// REF-LABEL: func @f(
// REF-NOT: attn.attention
// REF: linalg.generic
// REF: return %{{.*}}, %{{.*}} : tensor<1x4x33x16xf32>, tensor<1x4x33xf32>
func.func @f(%q: tensor<1x4x33x16xf32>, %k: tensor<1x2x40x16xf32>, %v: tensor<1x2x40x16xf32>) -> (tensor<1x4x33x16xf32>, tensor<1x4x33xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.window<left = 4, right = 4>) : tensor<1x4x33x16xf32>, tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32> -> tensor<1x4x33x16xf32>, tensor<1x4x33xf32>
  return %o, %lse : tensor<1x4x33x16xf32>, tensor<1x4x33xf32>
}
