// Kernel options out of range are refused on the op, naming the range.
// RUN: not attn-opt %s --attn-to-gpu=warps=9 2>&1 | FileCheck %s --check-prefix=WARPS
// RUN: not attn-opt %s --attn-to-gpu=tile-kv=24 2>&1 | FileCheck %s --check-prefix=TILE
// RUN: not attn-opt %s --attn-to-gpu=tile-kv=256 2>&1 | FileCheck %s --check-prefix=TILE256
// RUN: not attn-opt %s --attn-to-gpu=chip=sm_75 2>&1 | FileCheck %s --check-prefix=OLDCHIP
// RUN: not attn-opt %s --attn-to-gpu=chip=hopper 2>&1 | FileCheck %s --check-prefix=CHIPNAME
// RUN: not attn-opt %s --attn-to-gpu=split-kv=sometimes 2>&1 | FileCheck %s --check-prefix=SPLIT
// RUN: attn-opt %s --attn-to-gpu=chip=sm_90a | FileCheck %s --check-prefix=SM90A

// WARPS: invalid-options.mlir:[[@LINE+12]]:8: error: 'attn.attention' op cannot be compiled for the GPU: warps = 9 must be between 1 and 8
// TILE: invalid-options.mlir:[[@LINE+11]]:8: error: 'attn.attention' op cannot be compiled for the GPU: tile-kv = 24 must be a multiple of 16 between 16 and 128
// TILE256: error: {{.*}} tile-kv = 256 must be a multiple of 16 between 16 and 128
// OLDCHIP: error: 'attn.attention' op cannot be compiled for sm_75: the kernels use bf16 mma.sync and cp.async, which need sm_80 or newer
// CHIPNAME: error: 'attn.attention' op cannot be compiled for chip 'hopper': expected sm_<major><minor>, e.g. sm_90
// SPLIT: error: attn-to-gpu: split-kv must be auto, always or never, got 'sometimes'
// sm_90a takes the Hopper family (test/Conversion/AttnToGPU/hopper.mlir).
// SM90A: gpu.launch_func @attn_kernels::@dense_attention
// SM90A: attn_gpu.wgmma

func.func @dense(%q: tensor<1x2x64x64xf16>, %k: tensor<1x2x64x64xf16>,
                 %v: tensor<1x2x64x64xf16>) -> tensor<1x2x64x64xf16> {
  %o = attn.attention %q, %k, %v
      : tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>
      -> tensor<1x2x64x64xf16>
  return %o : tensor<1x2x64x64xf16>
}
