// RUN: attn-opt %s --attn-lower-gpu-ops -split-input-file -verify-diagnostics | FileCheck %s

// A from a descriptor: nvvm.wgmma.mma_async on the accumulators packed into
// a struct, always accumulating (scale-d one). K-major A is row, K-major B
// col (NVVM prints imm-trans-a = layoutA, imm-trans-b = 1 - layoutB).

// CHECK-LABEL: gpu.func @descriptors_bf16_n8
// CHECK-SAME: (%[[A:.*]]: i64, %[[B:.*]]: i64, %[[C:.*]]: vector<4xf32>)
// CHECK: %[[P:.*]] = llvm.mlir.poison : !llvm.struct<(f32, f32, f32, f32)>
// CHECK: %[[C0:.*]] = vector.extract %[[C]][0]
// CHECK: %[[C3:.*]] = vector.extract %[[C]][3]
// CHECK: %[[S0:.*]] = llvm.insertvalue %[[C0]], %[[P]][0]
// CHECK: %[[S3:.*]] = llvm.insertvalue %[[C3]], %{{.*}}[3]
// CHECK: %[[D:.*]] = nvvm.wgmma.mma_async %[[A]], %[[B]], %[[S3]], <m = 64, n = 8, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>] : !llvm.struct<(f32, f32, f32, f32)> -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK: %[[D0:.*]] = llvm.extractvalue %[[D]][0]
// CHECK: %[[D1:.*]] = llvm.extractvalue %[[D]][1]
// CHECK: %[[D2:.*]] = llvm.extractvalue %[[D]][2]
// CHECK: %[[D3:.*]] = llvm.extractvalue %[[D]][3]
// CHECK: %[[R:.*]] = vector.from_elements %[[D0]], %[[D1]], %[[D2]], %[[D3]] : vector<4xf32>
// CHECK: gpu.return %[[R]]
gpu.module @kernels {
  gpu.func @descriptors_bf16_n8(%a: i64, %b: i64, %c: vector<4xf32>) -> vector<4xf32> {
    %d = attn_gpu.wgmma %a, %b, %c {element_type = bf16} : i64, vector<4xf32>
    gpu.return %d : vector<4xf32>
  }
}

// -----

// MN-major operands take the other layout: transposed A is col, transposed
// B row.

// CHECK-LABEL: gpu.func @descriptors_f16_n64_transposed
// CHECK: nvvm.wgmma.mma_async {{.*}}, <m = 64, n = 64, k = 16>, D[<f32>, <one>], A[<f16>, <one>, <col>], B[<f16>, <one>, <row>] : !llvm.struct<([[F32x32:(f32, ){31}f32]])> -> !llvm.struct<([[F32x32]])>
// CHECK: nvvm.wgmma.mma_async {{.*}}, <m = 64, n = 64, k = 16>, D[<f32>, <one>], A[<f16>, <one>, <row>], B[<f16>, <one>, <row>]
// CHECK: nvvm.wgmma.mma_async {{.*}}, <m = 64, n = 64, k = 16>, D[<f32>, <one>], A[<f16>, <one>, <col>], B[<f16>, <one>, <col>]
// CHECK-NOT: attn_gpu.wgmma
gpu.module @kernels {
  gpu.func @descriptors_f16_n64_transposed(%a: i64, %b: i64, %c: vector<32xf32>) -> vector<32xf32> {
    %d = attn_gpu.wgmma %a, %b, %c {element_type = f16, transpose_a, transpose_b} : i64, vector<32xf32>
    %e = attn_gpu.wgmma %a, %b, %d {element_type = f16, transpose_b} : i64, vector<32xf32>
    %f = attn_gpu.wgmma %a, %b, %e {element_type = f16, transpose_a} : i64, vector<32xf32>
    gpu.return %f : vector<32xf32>
  }
}

// -----

// The widest shape: 128 accumulators per thread.

// CHECK-LABEL: gpu.func @descriptors_bf16_n256
// CHECK: nvvm.wgmma.mma_async {{.*}}, <m = 64, n = 256, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>] : !llvm.struct<({{(f32, ){127}f32}})>
// CHECK: llvm.extractvalue %{{.*}}[127]
// CHECK: vector.from_elements {{.*}} : vector<128xf32>
gpu.module @kernels {
  gpu.func @descriptors_bf16_n256(%a: i64, %b: i64, %c: vector<128xf32>) -> vector<128xf32> {
    %d = attn_gpu.wgmma %a, %b, %c {element_type = bf16} : i64, vector<128xf32>
    gpu.return %d : vector<128xf32>
  }
}

// -----

// A in registers: inline PTX. Operands $0-$3 are the accumulators (outputs
// tied to inputs 4-7), $8-$11 A's four registers (pairs of halves bitcast to
// i32), $12 B's descriptor; scale-d is a predicate set to true, imm-scale-a/b
// are 1 and imm-trans-b follows transpose_b.

// CHECK-LABEL: gpu.func @registers_f16_n8
// CHECK-SAME: (%[[A:.*]]: vector<8xf16>, %[[B:.*]]: i64, %[[C:.*]]: vector<4xf32>)
// CHECK: %[[C0:.*]] = vector.extract %[[C]][0] : f32 from vector<4xf32>
// CHECK: %[[C1:.*]] = vector.extract %[[C]][1] : f32 from vector<4xf32>
// CHECK: %[[C2:.*]] = vector.extract %[[C]][2] : f32 from vector<4xf32>
// CHECK: %[[C3:.*]] = vector.extract %[[C]][3] : f32 from vector<4xf32>
// CHECK: %[[W:.*]] = vector.bitcast %[[A]] : vector<8xf16> to vector<4xi32>
// CHECK: %[[W0:.*]] = vector.extract %[[W]][0] : i32 from vector<4xi32>
// CHECK: %[[W1:.*]] = vector.extract %[[W]][1] : i32 from vector<4xi32>
// CHECK: %[[W2:.*]] = vector.extract %[[W]][2] : i32 from vector<4xi32>
// CHECK: %[[W3:.*]] = vector.extract %[[W]][3] : i32 from vector<4xi32>
// CHECK: %[[D:.*]] = llvm.inline_asm has_side_effects asm_dialect = att "{\0A.reg .pred p;\0Asetp.ne.b32 p, 1, 0;\0Awgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16 {$0, $1, $2, $3}, {$8, $9, $10, $11}, $12, p, 1, 1, 0;\0A}\0A", "=f,=f,=f,=f,0,1,2,3,r,r,r,r,l" %[[C0]], %[[C1]], %[[C2]], %[[C3]], %[[W0]], %[[W1]], %[[W2]], %[[W3]], %[[B]] : (f32, f32, f32, f32, i32, i32, i32, i32, i64) -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK: llvm.extractvalue %[[D]][3]
// CHECK: vector.from_elements {{.*}} : vector<4xf32>
gpu.module @kernels {
  gpu.func @registers_f16_n8(%a: vector<8xf16>, %b: i64, %c: vector<4xf32>) -> vector<4xf32> {
    %d = attn_gpu.wgmma %a, %b, %c {element_type = f16} : vector<8xf16>, vector<4xf32>
    gpu.return %d : vector<4xf32>
  }
}

// -----

// CHECK-LABEL: gpu.func @registers_bf16_n64_transposed_b
// CHECK: llvm.inline_asm has_side_effects asm_dialect = att "{\0A.reg .pred p;\0Asetp.ne.b32 p, 1, 0;\0Awgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {$0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31}, {$64, $65, $66, $67}, $68, p, 1, 1, 1;\0A}\0A", "{{(=f,)+}}0,1,2,{{([0-9]+,)+}}31,r,r,r,r,l"
// CHECK-SAME: -> !llvm.struct<({{(f32, ){31}f32}})>
gpu.module @kernels {
  gpu.func @registers_bf16_n64_transposed_b(%a: vector<8xbf16>, %b: i64, %c: vector<32xf32>) -> vector<32xf32> {
    %d = attn_gpu.wgmma %a, %b, %c {element_type = bf16, transpose_b} : vector<8xbf16>, vector<32xf32>
    gpu.return %d : vector<32xf32>
  }
}

// -----

// CHECK-LABEL: gpu.func @registers_bf16_n256
// CHECK: llvm.inline_asm {{.*}}wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {$0, {{.*}}, $127}, {$256, $257, $258, $259}, $260, p, 1, 1, 0;
// CHECK-SAME: -> !llvm.struct<({{(f32, ){127}f32}})>
gpu.module @kernels {
  gpu.func @registers_bf16_n256(%a: vector<8xbf16>, %b: i64, %c: vector<128xf32>) -> vector<128xf32> {
    %d = attn_gpu.wgmma %a, %b, %c {element_type = bf16} : vector<8xbf16>, vector<128xf32>
    gpu.return %d : vector<128xf32>
  }
}

// -----

// A kernel's tensor map is the address of a CUtensorMap: the argument
// becomes !llvm.ptr, cast back to the descriptor for the TMA op.

!map = !nvgpu.tensormap.descriptor<tensor = memref<64x64xbf16, 3>, swizzle = swizzle_128b, l2promo = none, oob = zero, interleave = none>
!bars = !nvgpu.mbarrier.group<memorySpace = #gpu.address_space<workgroup>>
!tile = memref<64x64xbf16, #gpu.address_space<workgroup>>

// CHECK-LABEL: gpu.func @tensor_maps
// CHECK-SAME: (%[[MAPA:.*]]: !llvm.ptr, %[[N:.*]]: index, %[[MAPB:.*]]: !llvm.ptr, %{{.*}}: !nvgpu.mbarrier.group
// CHECK-SAME: kernel
// CHECK-NEXT: %[[DESCA:.*]] = builtin.unrealized_conversion_cast %[[MAPA]] : !llvm.ptr to !nvgpu.tensormap.descriptor<tensor = memref<64x64xbf16, 3>
// CHECK-NEXT: %[[DESCB:.*]] = builtin.unrealized_conversion_cast %[[MAPB]] : !llvm.ptr to !nvgpu.tensormap.descriptor<tensor = memref<64x64xbf16, 3>
// CHECK: nvgpu.tma.async.load %[[DESCA]][%[[N]], %{{.*}}]
// CHECK: nvgpu.tma.async.load %[[DESCB]][%[[N]], %{{.*}}]
gpu.module @kernels {
  gpu.func @tensor_maps(%mapA: !map, %n: index, %mapB: !map, %bars: !bars, %sA: !tile, %sB: !tile) kernel {
    %c0 = arith.constant 0 : index
    nvgpu.tma.async.load %mapA[%n, %c0], %bars[%c0] to %sA : !map, !bars -> !tile
    nvgpu.tma.async.load %mapB[%n, %c0], %bars[%c0] to %sB : !map, !bars -> !tile
    gpu.return
  }
}

// -----

!map = !nvgpu.tensormap.descriptor<tensor = memref<64x64xbf16, 3>, swizzle = swizzle_128b, l2promo = none, oob = zero, interleave = none>

gpu.module @kernels {
  // expected-error @below {{'gpu.func' op takes a !nvgpu.tensormap.descriptor, which only a kernel's arguments can (the launch passes the CUtensorMap's address); inline it into the kernel}}
  gpu.func @device_function(%map: !map) {
    gpu.return
  }
}
