// Masks compose: causal AND NOT a small window (attend only to keys more
// than 8 tokens back) OR 2 sink tokens. Rows 0..1 see only sinks; none are
// empty because the sinks are OR-ed in.
// RUN: attn-run %s --random --seed 1 --check
// RUN: attn-opt %s --attn-report --mlir-print-op-on-diagnostic=false -o /dev/null 2>&1 | FileCheck %s
// CHECK: remark: attn-report: Sq = 160, Skv = 160
// CHECK: 64x64 tiles: 3 empty, 1 full, 5 partial of 9

func.func @combined(%q: tensor<1x2x160x32xf32>, %k: tensor<1x2x160x32xf32>,
                    %v: tensor<1x2x160x32xf32>) -> tensor<1x2x160x32xf32> {
  %o = attn.attention %q, %k, %v
      mask(#attn.or<[#attn.and<[#attn.causal,
                                #attn.not<#attn.window<left = 8, right = 0>>]>,
                     #attn.sinks<2>]>)
      : tensor<1x2x160x32xf32>, tensor<1x2x160x32xf32>, tensor<1x2x160x32xf32>
      -> tensor<1x2x160x32xf32>
  return %o : tensor<1x2x160x32xf32>
}
