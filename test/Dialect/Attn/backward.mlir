// RUN: attn-opt %s | FileCheck %s
// RUN: attn-opt %s | attn-opt | FileCheck %s

// The backward of attn.attention takes the forward's spec (operands,
// attributes, regions) and o, grad_o and (softmax) lse; it returns the
// gradients of q, k, v and, when asked, of the bias.

// CHECK-LABEL: func @causal_gqa
// CHECK: attn.attention_backward %arg0, %arg1, %arg2, %arg3, %arg4 lse(%arg5 : tensor<2x8x?xf32>) mask(#attn.causal) scale(1.250000e-01)
// CHECK-SAME: : tensor<2x8x?x64xbf16>, tensor<2x2x?x64xbf16>, tensor<2x2x?x64xbf16>, tensor<2x8x?x64xbf16>, tensor<2x8x?x64xbf16> -> tensor<2x8x?x64xbf16>, tensor<2x2x?x64xbf16>, tensor<2x2x?x64xbf16>
func.func @causal_gqa(%q: tensor<2x8x?x64xbf16>, %k: tensor<2x2x?x64xbf16>, %v: tensor<2x2x?x64xbf16>,
                      %o: tensor<2x8x?x64xbf16>, %do: tensor<2x8x?x64xbf16>, %lse: tensor<2x8x?xf32>)
    -> (tensor<2x8x?x64xbf16>, tensor<2x2x?x64xbf16>, tensor<2x2x?x64xbf16>) {
  %dq, %dk, %dv = attn.attention_backward %q, %k, %v, %o, %do lse(%lse : tensor<2x8x?xf32>)
      mask(#attn.causal) scale(0.125)
      : tensor<2x8x?x64xbf16>, tensor<2x2x?x64xbf16>, tensor<2x2x?x64xbf16>, tensor<2x8x?x64xbf16>, tensor<2x8x?x64xbf16>
      -> tensor<2x8x?x64xbf16>, tensor<2x2x?x64xbf16>, tensor<2x2x?x64xbf16>
  return %dq, %dk, %dv : tensor<2x8x?x64xbf16>, tensor<2x2x?x64xbf16>, tensor<2x2x?x64xbf16>
}

// CHECK-LABEL: func @bias_gradient
// CHECK: attn.attention_backward %arg0, %arg1, %arg1, %arg2, %arg2 lse(%arg3 : tensor<1x4x16xf32>) segments(%arg5, %arg5 : tensor<1x16xi32>, tensor<1x16xi32>) bias(%arg4 : tensor<1x4x16x16xf32>)
// CHECK-SAME: mask(#attn.and<[#attn.document, #attn.window<left = 4, right = 4>]>) score_mods([#attn.bias, #attn.softcap<3.000000e+01>])
// CHECK-SAME: -> tensor<1x4x16x32xf32>, tensor<1x1x16x32xf32>, tensor<1x1x16x32xf32>, tensor<1x4x16x16xf32>
func.func @bias_gradient(%q: tensor<1x4x16x32xf32>, %k: tensor<1x1x16x32xf32>, %o: tensor<1x4x16x32xf32>,
                         %lse: tensor<1x4x16xf32>, %bias: tensor<1x4x16x16xf32>, %ids: tensor<1x16xi32>)
    -> tensor<1x4x16x16xf32> {
  %dq, %dk, %dv, %db = attn.attention_backward %q, %k, %k, %o, %o lse(%lse : tensor<1x4x16xf32>)
      segments(%ids, %ids : tensor<1x16xi32>, tensor<1x16xi32>) bias(%bias : tensor<1x4x16x16xf32>)
      mask(#attn.and<[#attn.document, #attn.window<left = 4, right = 4>]>)
      score_mods([#attn.bias, #attn.softcap<30.0>])
      : tensor<1x4x16x32xf32>, tensor<1x1x16x32xf32>, tensor<1x1x16x32xf32>, tensor<1x4x16x32xf32>, tensor<1x4x16x32xf32>
      -> tensor<1x4x16x32xf32>, tensor<1x1x16x32xf32>, tensor<1x1x16x32xf32>, tensor<1x4x16x16xf32>
  return %db : tensor<1x4x16x16xf32>
}

// A pointwise normalization needs no lse; the score_mod region is
// differentiated by the lowering.
// CHECK-LABEL: func @sigmoid_score_mod
// CHECK: attn.attention_backward %arg0, %arg1, %arg1, %arg0, %arg0 normalization(#attn.sigmoid<bias = -2.000000e+00>) score_mod {
// CHECK: math.tanh
// CHECK: attn.yield
func.func @sigmoid_score_mod(%q: tensor<1x2x8x16xf16>, %k: tensor<1x2x8x16xf16>)
    -> tensor<1x2x8x16xf16> {
  %dq, %dk, %dv = attn.attention_backward %q, %k, %k, %q, %q
      normalization(#attn.sigmoid<bias = -2.0>)
      score_mod {
      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
        %c = arith.constant 0.05 : f32
        %x = arith.mulf %s, %c : f32
        %t = math.tanh %x : f32
        %r = arith.divf %t, %c : f32
        attn.yield %r : f32
      }
      : tensor<1x2x8x16xf16>, tensor<1x2x8x16xf16>, tensor<1x2x8x16xf16>, tensor<1x2x8x16xf16>, tensor<1x2x8x16xf16>
      -> tensor<1x2x8x16xf16>, tensor<1x2x8x16xf16>, tensor<1x2x8x16xf16>
  return %dq : tensor<1x2x8x16xf16>
}
