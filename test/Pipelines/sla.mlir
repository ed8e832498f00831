// Sparse-linear attention (SLA): approximation(...) with a result o_linear
// returns the softmax over the support and the linear attention over the
// pairs outside it apart. The tiled CPU kernel against the float64
// reference of the formula (which python/tests/test_sla.py checks against
// NumPy): random block layouts (query blocks with no exact key), causal
// supports whose last rows cover every key (o_linear = 0 there), relu and
// Hedgehog (weights operand) features, GQA, bf16, a scale of its own,
// dynamic shapes, tiles that do and do not divide, one token and no keys.
// RUN: attn-run %s --entry block_elu --random --seed 1 --tile-q 16 --tile-kv 16 --check | FileCheck %s
// RUN: attn-run %s --entry block_elu --random --seed 2 --tile-q 8 --tile-kv 32 --check | FileCheck %s
// RUN: attn-run %s --entry causal_relu_gqa_bf16 --random --seed 3 --check | FileCheck %s
// RUN: attn-run %s --entry causal_relu_gqa_bf16 --random --seed 4 --tile-q 8 --tile-kv 16 --check | FileCheck %s
// RUN: attn-run %s --entry window_hedgehog_dynamic --random --seed 5 --dim B=2 --dim Sq=77 --dim Skv=93 --tile-q 8 --tile-kv 16 --check | FileCheck %s
// RUN: attn-run %s --entry window_hedgehog_dynamic --random --seed 6 --dim B=1 --dim Sq=1 --dim Skv=1 --check | FileCheck %s
// RUN: attn-run %s --entry window_hedgehog_dynamic --random --seed 7 --dim B=2 --dim Sq=5 --dim Skv=0 --check | FileCheck %s
// Rows whose support holds all keys but one: the kernel's outside is no
// difference of f32 sums (which lost ~ eps * Skv: 2.9e-5 at Skv = 1000).
// RUN: attn-run %s --entry not_causal_elu --random --seed 8 --dim B=2 --dim Skv=1000 --check | FileCheck %s
// RUN: attn-run %s --entry not_causal_elu --random --seed 9 --dim B=1 --dim Skv=300 --tile-q 16 --tile-kv 16 --check | FileCheck %s
// Static key lengths (the f64 outside state once failed to lower there).
// RUN: attn-run %s --entry not_causal_static --random --seed 10 --dim B=3 --check | FileCheck %s
// CHECK: check o {{.*}} ok
// CHECK: check o_linear {{.*}} ok
// CHECK-NOT: FAIL

// No GPU kernel computes it yet.
// RUN: not attn-run %s --entry block_elu --target gpu-emulation --random --check 2>&1 | FileCheck %s --check-prefix=GPU
// GPU: error: 'attn.attention' op has approximation(#attn.elu_plus_one), which no GPU kernel computes yet

func.func @block_elu(%q: tensor<1x2x70x16xf32>, %k: tensor<1x2x70x16xf32>, %v: tensor<1x2x70x8xf32>, %layout: tensor<1x2x5x5xi8>) -> (tensor<1x2x70x8xf32>, tensor<1x2x70x8xf32>) {
  %o, %ol = attn.attention %q, %k, %v layout(%layout : tensor<1x2x5x5xi8>) mask(#attn.block_sparse<block = [16, 16]>) approximation(#attn.elu_plus_one)
      : tensor<1x2x70x16xf32>, tensor<1x2x70x16xf32>, tensor<1x2x70x8xf32> -> tensor<1x2x70x8xf32> linear tensor<1x2x70x8xf32>
  return %o, %ol : tensor<1x2x70x8xf32>, tensor<1x2x70x8xf32>
}

func.func @causal_relu_gqa_bf16(%q: tensor<2x4x45x16xbf16>, %k: tensor<2x2x45x16xbf16>, %v: tensor<2x2x45x16xbf16>) -> (tensor<2x4x45x16xbf16>, tensor<2x4x45xf32>, tensor<2x4x45x16xbf16>) {
  %o, %lse, %ol = attn.attention %q, %k, %v mask(#attn.causal) scale(0.5) approximation(#attn.relu)
      : tensor<2x4x45x16xbf16>, tensor<2x2x45x16xbf16>, tensor<2x2x45x16xbf16> -> tensor<2x4x45x16xbf16>, tensor<2x4x45xf32> linear tensor<2x4x45x16xbf16>
  return %o, %lse, %ol : tensor<2x4x45x16xbf16>, tensor<2x4x45xf32>, tensor<2x4x45x16xbf16>
}

func.func @window_hedgehog_dynamic(%q: tensor<?x2x?x8xf32>, %k: tensor<?x2x?x8xf32>, %v: tensor<?x2x?x8xf32>, %w: tensor<8x6xf32>) -> (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>) {
  %o, %ol = attn.attention %q, %k, %v mask(#attn.window<left = 5, right = 3>) allow_empty_rows approximation(#attn.hedgehog<features = 6>) feature_weights(%w : tensor<8x6xf32>)
      : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32> -> tensor<?x2x?x8xf32> linear tensor<?x2x?x8xf32>
  return %o, %ol : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>
}

func.func @not_causal_elu(%q: tensor<?x1x129x17xf32>, %k: tensor<?x1x?x17xf32>, %v: tensor<?x1x?x17xf32>) -> (tensor<?x1x129x17xf32>, tensor<?x1x129x17xf32>) {
  %o, %ol = attn.attention %q, %k, %v mask(#attn.not<#attn.causal>) allow_empty_rows approximation(#attn.elu_plus_one)
      : tensor<?x1x129x17xf32>, tensor<?x1x?x17xf32>, tensor<?x1x?x17xf32> -> tensor<?x1x129x17xf32> linear tensor<?x1x129x17xf32>
  return %o, %ol : tensor<?x1x129x17xf32>, tensor<?x1x129x17xf32>
}

func.func @not_causal_static(%q: tensor<?x1x129x17xf32>, %k: tensor<?x1x63x17xf32>, %v: tensor<?x1x63x17xf32>) -> (tensor<?x1x129x17xf32>, tensor<?x1x129x17xf32>) {
  %o, %ol = attn.attention %q, %k, %v mask(#attn.not<#attn.causal>) allow_empty_rows approximation(#attn.taylor<order = 2>)
      : tensor<?x1x129x17xf32>, tensor<?x1x63x17xf32>, tensor<?x1x63x17xf32> -> tensor<?x1x129x17xf32> linear tensor<?x1x129x17xf32>
  return %o, %ol : tensor<?x1x129x17xf32>, tensor<?x1x129x17xf32>
}
