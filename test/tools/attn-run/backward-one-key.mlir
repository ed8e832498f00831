// With one key per row, softmax's gradient by the scores vanishes (dS =
// P (dP - delta) with P = 1 and dP = delta), so grad_q and grad_k are 0 up
// to rounding. --check judges the gradients of a backward on one scale, the
// largest of their magnitudes (here grad_v's, P^T grad_o): their own would
// be ~0 and make rounding noise an error of 1e+300.
// RUN: attn-run %s --random --seed 750 --dim Skv=1 --check | FileCheck %s
// CHECK: check grad_q max relative error {{.*}} ok
// CHECK: check grad_k max relative error {{.*}} ok
// CHECK: check grad_v max relative error {{.*}} ok

func.func @one_key(%q: tensor<1x3x1x17xf32>, %k: tensor<1x1x?x17xf32>, %v: tensor<1x1x?x17xf32>,
                   %o: tensor<1x3x1x17xf32>, %grad_o: tensor<1x3x1x17xf32>, %lse: tensor<1x3x1xf32>)
    -> (tensor<1x3x1x17xf32>, tensor<1x1x?x17xf32>, tensor<1x1x?x17xf32>) {
  %dq, %dk, %dv = attn.attention_backward %q, %k, %v, %o, %grad_o lse(%lse : tensor<1x3x1xf32>)
      : tensor<1x3x1x17xf32>, tensor<1x1x?x17xf32>, tensor<1x1x?x17xf32>, tensor<1x3x1x17xf32>, tensor<1x3x1x17xf32>
      -> tensor<1x3x1x17xf32>, tensor<1x1x?x17xf32>, tensor<1x1x?x17xf32>
  return %dq, %dk, %dv : tensor<1x3x1x17xf32>, tensor<1x1x?x17xf32>, tensor<1x1x?x17xf32>
}
