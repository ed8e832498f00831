// RUN: attn-opt %s --attn-cpu-approximate-math | FileCheck %s

// f32 exp, log and tanh (scalar or vector) become polynomial arithmetic;
// f64 keeps the library functions.
// CHECK-LABEL: func @approximate
// CHECK-NOT: math.exp {{.*}} : f32
// CHECK-NOT: math.log {{.*}} : vector<8xf32>
// CHECK-NOT: math.tanh {{.*}} : f32
// CHECK: math.fma
// CHECK: math.exp %{{.*}} : f64
func.func @approximate(%x: f32, %v: vector<8xf32>, %d: f64) -> (f32, vector<8xf32>, f32, f64) {
  %e = math.exp %x : f32
  %l = math.log %v : vector<8xf32>
  %t = math.tanh %x : f32
  %ed = math.exp %d : f64
  return %e, %l, %t, %ed : f32, vector<8xf32>, f32, f64
}
