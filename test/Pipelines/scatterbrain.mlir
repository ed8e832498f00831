// Sparse + low-rank hybrids (approximation) on the tiled CPU kernel,
// against the float64 reference of the formula (which
// python/tests/test_scatterbrain.py checks against NumPy): windows, a
// block-sparse layout with empty query blocks, sinks, GQA, f16/bf16,
// dynamic shapes, tiles that do and do not divide the lengths, and a
// sequence of one token, no keys at all (o = 0, lse = -inf), and FAVOR+
// weights from an operand.
// RUN: attn-run %s --entry window_favor --random --seed 1 --check | FileCheck %s
// RUN: attn-run %s --entry window_favor --random --seed 2 --tile-q 8 --tile-kv 16 --check | FileCheck %s
// RUN: attn-run %s --entry causal_taylor_gqa_f16 --random --seed 3 --check | FileCheck %s
// RUN: attn-run %s --entry block_sparse_bf16 --random --seed 4 --tile-q 16 --tile-kv 16 --check | FileCheck %s
// RUN: attn-run %s --entry dynamic_sinks --random --seed 5 --dim B=2 --dim Sq=100 --dim Skv=131 --tile-q 8 --tile-kv 16 --check | FileCheck %s
// RUN: attn-run %s --entry dynamic_sinks --random --seed 6 --dim B=1 --dim Sq=1 --dim Skv=1 --check | FileCheck %s
// RUN: attn-run %s --entry dynamic_sinks --random --seed 7 --dim B=2 --dim Sq=5 --dim Skv=0 --check | FileCheck %s
// RUN: attn-run %s --entry favor_operand --random --seed 8 --tile-q 16 --tile-kv 16 --check | FileCheck %s
// CHECK: check {{.*}} max relative error {{.*}} ok
// CHECK-NOT: FAIL

// No GPU kernel computes it yet: a diagnostic, not the sparse part alone.
// RUN: not attn-run %s --entry window_favor --target gpu-emulation --random --check 2>&1 | FileCheck %s --check-prefix=GPU
// GPU: error: 'attn.attention' op has approximation(#attn.favor<features = 32, seed = 3>), which no GPU kernel computes yet; run it on the CPU (attn-lower-to-cpu) or drop the approximation

func.func @window_favor(%q: tensor<1x2x37x16xf32>, %k: tensor<1x2x45x16xf32>, %v: tensor<1x2x45x8xf32>) -> (tensor<1x2x37x8xf32>, tensor<1x2x37xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.window<left = 4, right = 4>) approximation(#attn.favor<features = 32, seed = 3>)
      : tensor<1x2x37x16xf32>, tensor<1x2x45x16xf32>, tensor<1x2x45x8xf32> -> tensor<1x2x37x8xf32>, tensor<1x2x37xf32>
  return %o, %lse : tensor<1x2x37x8xf32>, tensor<1x2x37xf32>
}

func.func @causal_taylor_gqa_f16(%q: tensor<2x4x37x8xf16>, %k: tensor<2x2x53x8xf16>, %v: tensor<2x2x53x8xf16>) -> (tensor<2x4x37x8xf16>, tensor<2x4x37xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal) approximation(#attn.taylor<order = 2>)
      : tensor<2x4x37x8xf16>, tensor<2x2x53x8xf16>, tensor<2x2x53x8xf16> -> tensor<2x4x37x8xf16>, tensor<2x4x37xf32>
  return %o, %lse : tensor<2x4x37x8xf16>, tensor<2x4x37xf32>
}

// Random i8 layouts leave query blocks without exact keys.
func.func @block_sparse_bf16(%q: tensor<1x2x70x16xbf16>, %k: tensor<1x2x70x16xbf16>, %v: tensor<1x2x70x16xbf16>, %layout: tensor<1x2x5x5xi8>) -> tensor<1x2x70x16xbf16> {
  %o = attn.attention %q, %k, %v layout(%layout : tensor<1x2x5x5xi8>) mask(#attn.block_sparse<block = [16, 16]>) approximation(#attn.favor<features = 64, seed = 9>)
      : tensor<1x2x70x16xbf16>, tensor<1x2x70x16xbf16>, tensor<1x2x70x16xbf16> -> tensor<1x2x70x16xbf16>
  return %o : tensor<1x2x70x16xbf16>
}

func.func @dynamic_sinks(%q: tensor<?x2x?x16xf32>, %k: tensor<?x1x?x16xf32>, %v: tensor<?x1x?x24xf32>) -> (tensor<?x2x?x24xf32>, tensor<?x2x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.or<[#attn.window<left = 8, right = 0>, #attn.sinks<4>]>) approximation(#attn.favor<features = 48, seed = 2, orthogonal = false>)
      : tensor<?x2x?x16xf32>, tensor<?x1x?x16xf32>, tensor<?x1x?x24xf32> -> tensor<?x2x?x24xf32>, tensor<?x2x?xf32>
  return %o, %lse : tensor<?x2x?x24xf32>, tensor<?x2x?xf32>
}

func.func @favor_operand(%q: tensor<1x2x37x16xf32>, %k: tensor<1x1x45x16xf32>, %v: tensor<1x1x45x8xf32>, %w: tensor<24x16xf32>) -> (tensor<1x2x37x8xf32>, tensor<1x2x37xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal) approximation(#attn.favor<features = 24>) feature_weights(%w : tensor<24x16xf32>)
      : tensor<1x2x37x16xf32>, tensor<1x1x45x16xf32>, tensor<1x1x45x8xf32> -> tensor<1x2x37x8xf32>, tensor<1x2x37xf32>
  return %o, %lse : tensor<1x2x37x8xf32>, tensor<1x2x37xf32>
}
