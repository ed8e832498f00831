// ReLU attention divided by the length with no keys: o = 0 (the empty-row
// rule), on the CPU kernel, the GPU emulation and the reference. Regression
// test (found by test/property): every path divided by Skv = 0 and returned
// NaN.
// RUN: attn-run %s --entry static_no_keys --random --seed 1 --check | FileCheck %s
// RUN: attn-run %s --entry static_no_keys --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 1 --check | FileCheck %s
// RUN: attn-run %s --entry dynamic_keys --random --seed 2 --dim Sq=5 --dim Skv=0 --check | FileCheck %s
// RUN: attn-run %s --entry dynamic_keys --random --seed 3 --dim Sq=5 --dim Skv=37 --check | FileCheck %s --check-prefix=SOME
// RUN: attn-run %s --entry static_no_keys --reference --random --seed 1 --output o=%t.npy
// RUN: %python -c "import numpy as np, sys; o = np.load(sys.argv[1]); assert o.shape == (1, 2, 4, 16) and (o == 0).all(), o" %t.npy
// CHECK: check o    max relative error 0.000e+00 {{.*}} ok
// SOME: check o    max relative error {{.*}} ok

func.func @static_no_keys(%q: tensor<1x2x4x16xf16>, %k: tensor<1x2x0x16xf16>, %v: tensor<1x2x0x16xf16>)
    -> tensor<1x2x4x16xf16> {
  %o = attn.attention %q, %k, %v normalization(#attn.relu<divide_by_length = true>) allow_empty_rows
      : tensor<1x2x4x16xf16>, tensor<1x2x0x16xf16>, tensor<1x2x0x16xf16> -> tensor<1x2x4x16xf16>
  return %o : tensor<1x2x4x16xf16>
}

func.func @dynamic_keys(%q: tensor<1x1x?x8xf32>, %k: tensor<1x1x?x8xf32>, %v: tensor<1x1x?x8xf32>)
    -> tensor<1x1x?x8xf32> {
  %o = attn.attention %q, %k, %v normalization(#attn.relu<divide_by_length = true>)
      : tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32> -> tensor<1x1x?x8xf32>
  return %o : tensor<1x1x?x8xf32>
}
