// RUN: not attn-translate %s --emit=ptx -o /dev/null 2>&1 | FileCheck %s
// RUN: not attn-translate %s --emit=ptx --entry wide -o /dev/null 2>&1 | FileCheck %s --check-prefix=WIDE
// RUN: not attn-translate %s --emit=ptx --entry narrow -o %t.missing/dir/k.ptx 2>&1 | FileCheck %s --check-prefix=OUTPUT
// RUN: not attn-translate %t.no-such-spec.mlir 2>&1 | FileCheck %s --check-prefix=INPUT
// RUN: not attn-translate %s --emit=ptx --entry linear -o /dev/null 2>&1 | FileCheck %s --check-prefix=LINEAR
// RUN: not attn-translate %s --kernels --emit=ptx -o /dev/null 2>&1 | FileCheck %s --check-prefix=KERNELS
// RUN: not attn-translate %s --kernels --manifest %t.json -o /dev/null 2>&1 | FileCheck %s --check-prefix=KERNELS-MANIFEST

// OUTPUT: attn-translate: error: {{.*}}k.ptx
// KERNELS: error: expected one gpu.module to compile (one image), found 0
// KERNELS-MANIFEST: attn-translate: error: --manifest describes a spec's launches; --kernels has none
// INPUT: attn-translate: error: {{.*}}no-such-spec.mlir

// CHECK: error: the spec has 3 functions; name the entry (functions: wide, narrow, linear)

// WIDE: attn-translate-errors.mlir:[[@LINE+3]]:8: error: 'attn.attention' op cannot be compiled for the GPU: D = 12 must be a multiple of 8
func.func @wide(%q: tensor<1x2x16x12xf16>, %k: tensor<1x2x16x12xf16>,
                %v: tensor<1x2x16x12xf16>) -> tensor<1x2x16x12xf16> {
  %o = attn.attention %q, %k, %v
      : tensor<1x2x16x12xf16>, tensor<1x2x16x12xf16>, tensor<1x2x16x12xf16>
      -> tensor<1x2x16x12xf16>
  return %o : tensor<1x2x16x12xf16>
}

func.func @narrow(%q: tensor<1x2x16x16xf16>, %k: tensor<1x2x16x16xf16>,
                  %v: tensor<1x2x16x16xf16>) -> tensor<1x2x16x16xf16> {
  %o = attn.attention %q, %k, %v
      : tensor<1x2x16x16xf16>, tensor<1x2x16x16xf16>, tensor<1x2x16x16xf16>
      -> tensor<1x2x16x16xf16>
  return %o : tensor<1x2x16x16xf16>
}

// LINEAR: attn-translate-errors.mlir:[[@LINE+4]]:8: error: 'attn.linear_attention' op cannot be compiled for the GPU: the feature map #attn.hedgehog<features = 4> has no per-element form for the GPU kernel (its features depend on each other); run it on the CPU
func.func @linear(%q: tensor<1x2x16x16xf16>, %k: tensor<1x2x16x16xf16>,
                  %v: tensor<1x2x16x16xf16>, %w: tensor<16x4xf32>)
    -> tensor<1x2x16x16xf16> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.hedgehog<features = 4>)
      feature_weights(%w : tensor<16x4xf32>) causal
      : tensor<1x2x16x16xf16>, tensor<1x2x16x16xf16>, tensor<1x2x16x16xf16>
      -> tensor<1x2x16x16xf16>
  return %o : tensor<1x2x16x16xf16>
}
