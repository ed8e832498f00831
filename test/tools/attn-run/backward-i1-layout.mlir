// The backward with an i1 block-sparse layout and a broadcast bias (whose
// gradient takes the reference form on the CPU), against the float64
// reference. Regression test (found by test/property, seed 885295250): the
// gradients were off by up to 5e12 because attn-cpu-vectorize loaded rows of
// the i1 layout as bit-packed vectors from a byte-per-element buffer.
// The i8 layout (a byte either way) always passed.
// RUN: attn-run %s --entry i1_layout --random --seed 885295250 --check | FileCheck %s
// RUN: attn-run %s --entry i1_layout_mods --random --seed 7 --check | FileCheck %s
// CHECK-DAG: check grad_q max relative error {{.*}} ok
// CHECK-DAG: check grad_k max relative error {{.*}} ok
// CHECK-DAG: check grad_v max relative error {{.*}} ok
// CHECK-DAG: check grad_bias max relative error {{.*}} ok

func.func @i1_layout(%q: tensor<1x1x63x32xf32>, %k: tensor<1x1x17x32xf32>, %v: tensor<1x1x17x32xf32>, %layout: tensor<1x1x63x17xi1>, %bias: tensor<1x1x1x17xf32>, %o: tensor<1x1x63x32xf32>, %grad_o: tensor<1x1x63x32xf32>, %lse: tensor<1x1x63xf32>)
    -> (tensor<1x1x63x32xf32>, tensor<1x1x17x32xf32>, tensor<1x1x17x32xf32>, tensor<1x1x1x17xf32>) {
  %grad_q, %grad_k, %grad_v, %grad_bias = attn.attention_backward %q, %k, %v, %o, %grad_o lse(%lse : tensor<1x1x63xf32>) layout(%layout : tensor<1x1x63x17xi1>) bias(%bias : tensor<1x1x1x17xf32>) mask(#attn.block_sparse<block = [1, 1]>) score_mods([#attn.bias]) scale(4.0) allow_empty_rows
      : tensor<1x1x63x32xf32>, tensor<1x1x17x32xf32>, tensor<1x1x17x32xf32>, tensor<1x1x63x32xf32>, tensor<1x1x63x32xf32>
      -> tensor<1x1x63x32xf32>, tensor<1x1x17x32xf32>, tensor<1x1x17x32xf32>, tensor<1x1x1x17xf32>
  return %grad_q, %grad_k, %grad_v, %grad_bias : tensor<1x1x63x32xf32>, tensor<1x1x17x32xf32>, tensor<1x1x17x32xf32>, tensor<1x1x1x17xf32>
}

// Several heads and blocks of 2 x 16 (the layout is read per element all the
// same), with ALiBi and a softcap around the bias.
func.func @i1_layout_mods(%q: tensor<1x2x37x16xf32>, %k: tensor<1x2x41x16xf32>, %v: tensor<1x2x41x16xf32>, %layout: tensor<1x2x19x3xi1>, %bias: tensor<1x2x1x41xf32>, %o: tensor<1x2x37x16xf32>, %grad_o: tensor<1x2x37x16xf32>, %lse: tensor<1x2x37xf32>)
    -> (tensor<1x2x37x16xf32>, tensor<1x2x41x16xf32>, tensor<1x2x41x16xf32>, tensor<1x2x1x41xf32>) {
  %grad_q, %grad_k, %grad_v, %grad_bias = attn.attention_backward %q, %k, %v, %o, %grad_o lse(%lse : tensor<1x2x37xf32>) layout(%layout : tensor<1x2x19x3xi1>) bias(%bias : tensor<1x2x1x41xf32>) mask(#attn.block_sparse<block = [2, 16]>) score_mods([#attn.alibi, #attn.bias, #attn.softcap<30.0>]) allow_empty_rows
      : tensor<1x2x37x16xf32>, tensor<1x2x41x16xf32>, tensor<1x2x41x16xf32>, tensor<1x2x37x16xf32>, tensor<1x2x37x16xf32>
      -> tensor<1x2x37x16xf32>, tensor<1x2x41x16xf32>, tensor<1x2x41x16xf32>, tensor<1x2x1x41xf32>
  return %grad_q, %grad_k, %grad_v, %grad_bias : tensor<1x2x37x16xf32>, tensor<1x2x41x16xf32>, tensor<1x2x41x16xf32>, tensor<1x2x1x41xf32>
}
