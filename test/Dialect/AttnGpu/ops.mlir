// RUN: attn-opt %s | attn-opt | FileCheck %s

// CHECK-LABEL: func.func @shared_a
// CHECK: attn_gpu.wgmma %{{.*}}, %{{.*}}, %{{.*}} {element_type = bf16} : i64, vector<64xf32>
func.func @shared_a(%a: i64, %b: i64, %c: vector<64xf32>) -> vector<64xf32> {
  %d = attn_gpu.wgmma %a, %b, %c {element_type = bf16} : i64, vector<64xf32>
  return %d : vector<64xf32>
}

// CHECK-LABEL: func.func @register_a
// CHECK: attn_gpu.wgmma %{{.*}}, %{{.*}}, %{{.*}} {element_type = f16, transpose_b} : vector<8xf16>, vector<128xf32>
func.func @register_a(%a: vector<8xf16>, %b: i64, %c: vector<128xf32>) -> vector<128xf32> {
  %d = attn_gpu.wgmma %a, %b, %c {element_type = f16, transpose_b} : vector<8xf16>, vector<128xf32>
  return %d : vector<128xf32>
}

// CHECK-LABEL: func.func @transposed_a
// CHECK: attn_gpu.wgmma %{{.*}}, %{{.*}}, %{{.*}} {element_type = bf16, transpose_a} : i64, vector<4xf32>
func.func @transposed_a(%a: i64, %b: i64, %c: vector<4xf32>) -> vector<4xf32> {
  %d = attn_gpu.wgmma %a, %b, %c {element_type = bf16, transpose_a} : i64, vector<4xf32>
  return %d : vector<4xf32>
}
