// Linear attention with one value column or one feature, over more than
// one chunk, against the float64 reference. Regression test (found by
// test/property): the CPU kernel failed with "LLVM Translation failed for
// operation: builtin.unrealized_conversion_cast" (attn-cpu-vectorize turned
// one-element rows into transfers of strided views the host lowering leaves
// unconverted), and Hedgehog with D = 1 likewise (a broadcast transfer of
// x[d] from a strided view).
// RUN: attn-run %s --entry one_value_column --random --seed 1 --check | FileCheck %s
// RUN: attn-run %s --entry one_feature --random --seed 2 --dim Sq=129 --check | FileCheck %s
// RUN: attn-run %s --entry hedgehog_one_dim --random --seed 3 --check | FileCheck %s
// CHECK: check o    max relative error {{.*}} ok

func.func @one_value_column(%q: tensor<1x2x129x8xf32>, %k: tensor<1x1x129x8xf32>, %v: tensor<1x1x129x1xf32>)
    -> tensor<1x2x129x1xf32> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.relu) causal
      : tensor<1x2x129x8xf32>, tensor<1x1x129x8xf32>, tensor<1x1x129x1xf32> -> tensor<1x2x129x1xf32>
  return %o : tensor<1x2x129x1xf32>
}

func.func @one_feature(%q: tensor<2x1x?x1xf32>, %k: tensor<2x1x?x1xf32>, %v: tensor<2x1x?x8xf32>)
    -> tensor<2x1x?x8xf32> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.relu) causal
      : tensor<2x1x?x1xf32>, tensor<2x1x?x1xf32>, tensor<2x1x?x8xf32> -> tensor<2x1x?x8xf32>
  return %o : tensor<2x1x?x8xf32>
}

func.func @hedgehog_one_dim(%q: tensor<1x2x1x1xf32>, %k: tensor<1x2x2x1xf32>, %v: tensor<1x2x2x3xf32>,
                            %w: tensor<1x16xf32>) -> tensor<1x2x1x3xf32> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.hedgehog<features = 16>)
      feature_weights(%w : tensor<1x16xf32>)
      : tensor<1x2x1x1xf32>, tensor<1x2x2x1xf32>, tensor<1x2x2x3xf32> -> tensor<1x2x1x3xf32>
  return %o : tensor<1x2x1x3xf32>
}
