// bf16 with head or value dimensions of 8k + 1, checked against the float64
// reference. Regression test (found by test/property): on hosts with
// AVX512-BF16 these aborted in LLVM's X86 instruction selection ("Do not
// know how to soft promote this operator's operand") on <9 x bfloat> selects
// (padded tile rows) and <17 x bfloat> rows copied across blocks (full query
// tiles); the CPU JIT now compiles without that feature.
// RUN: attn-run %s --entry dv9 --random --seed 1 --check | FileCheck %s
// RUN: attn-run %s --entry dv17_gqa --random --seed 2 --dim Skv=65 --check | FileCheck %s
// RUN: attn-run %s --entry d17_full_tile --random --seed 3 --check | FileCheck %s
// CHECK: check o    max relative error {{.*}} ok

func.func @dv9(%q: tensor<1x2x17x8xbf16>, %k: tensor<1x2x65x8xbf16>, %v: tensor<1x2x65x9xbf16>)
    -> tensor<1x2x17x9xbf16> {
  %o = attn.attention %q, %k, %v
      : tensor<1x2x17x8xbf16>, tensor<1x2x65x8xbf16>, tensor<1x2x65x9xbf16>
      -> tensor<1x2x17x9xbf16>
  return %o : tensor<1x2x17x9xbf16>
}

func.func @dv17_gqa(%q: tensor<2x6x17x3xbf16>, %k: tensor<2x2x?x3xbf16>, %v: tensor<2x2x?x17xbf16>)
    -> tensor<2x6x17x17xbf16> {
  %o = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>)
      : tensor<2x6x17x3xbf16>, tensor<2x2x?x3xbf16>, tensor<2x2x?x17xbf16>
      -> tensor<2x6x17x17xbf16>
  return %o : tensor<2x6x17x17xbf16>
}

func.func @d17_full_tile(%q: tensor<1x1x64x17xbf16>, %k: tensor<1x1x5x17xbf16>, %v: tensor<1x1x5x8xbf16>)
    -> tensor<1x1x64x8xbf16> {
  %o = attn.attention %q, %k, %v
      : tensor<1x1x64x17xbf16>, tensor<1x1x5x17xbf16>, tensor<1x1x5x8xbf16> -> tensor<1x1x64x8xbf16>
  return %o : tensor<1x1x64x8xbf16>
}
