// Kernel options out of range are refused on the op, naming the range.
// RUN: not attn-opt %s --attn-to-gpu=warps=9 2>&1 | FileCheck %s --check-prefix=WARPS
// RUN: not attn-opt %s --attn-to-gpu=tile-kv=24 2>&1 | FileCheck %s --check-prefix=TILE
// RUN: not attn-opt %s --attn-to-gpu=tile-kv=256 2>&1 | FileCheck %s --check-prefix=TILE256

// WARPS: invalid-options.mlir:[[@LINE+6]]:8: error: 'attn.attention' op cannot be compiled for the GPU: warps = 9 must be between 1 and 8
// TILE: invalid-options.mlir:[[@LINE+5]]:8: error: 'attn.attention' op cannot be compiled for the GPU: tile-kv = 24 must be a multiple of 16 between 16 and 128
// TILE256: error: {{.*}} tile-kv = 256 must be a multiple of 16 between 16 and 128

func.func @dense(%q: tensor<1x2x64x64xf16>, %k: tensor<1x2x64x64xf16>,
                 %v: tensor<1x2x64x64xf16>) -> tensor<1x2x64x64xf16> {
  %o = attn.attention %q, %k, %v
      : tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>
      -> tensor<1x2x64x64xf16>
  return %o : tensor<1x2x64x64xf16>
}
