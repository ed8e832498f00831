// Statically empty sequences are valid specs: their outputs are empty (or,
// for a state, the initial one / zero) on every path, checked against the
// float64 reference. Regression test: the issue's Taylor spec failed with
// "offset 2 is out-of-bounds: 0 >= 0" (a head slice of the chunked form),
// and then crashed in upstream tiling (the CPU vectorizer tiled a zero-size
// loop).
// RUN: attn-run %s --entry taylor_causal --random --seed 1 --check | FileCheck %s
// RUN: attn-run %s --entry taylor_causal --target gpu-emulation --random --seed 1 --check | FileCheck %s
// RUN: attn-run %s --entry no_keys_state --random --seed 2 --check | FileCheck %s --check-prefixes=CHECK,STATE
// RUN: attn-run %s --entry no_keys_state --target gpu-emulation --warps 1 --random --seed 2 --check | FileCheck %s --check-prefixes=CHECK,STATE
// RUN: attn-run %s --entry no_queries_cross --random --seed 3 --check | FileCheck %s --check-prefixes=CHECK,STATE
// RUN: attn-run %s --entry gated_delta_no_tokens --random --seed 6 --check | FileCheck %s --check-prefixes=CHECK,STATE
// An empty batch (B = 0 static) of the delta rule: the property test's seed
// 338150705 failed with "offset 0 is out-of-bounds: 0 >= 0" (a row slice of
// the forward substitution).
// RUN: attn-run %s --entry delta_no_batch --random --seed 7 --dim Sq=128 --dim Skv=128 --check | FileCheck %s
// RUN: attn-run %s --entry attention_no_queries --random --seed 4 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry attention_no_keys --random --seed 5 --check | FileCheck %s --check-prefixes=CHECK,LSE
// RUN: attn-run %s --entry attention_no_keys --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 5 --check | FileCheck %s --check-prefixes=CHECK,LSE
// CHECK: check o    max relative error {{.*}} ok
// STATE: check final_state max relative error {{.*}} ok
// LSE:   check lse  max relative error {{.*}} ok

func.func @taylor_causal(%q: tensor<1x1x0x16xbf16>, %k: tensor<1x1x0x16xbf16>,
                         %v: tensor<1x1x0x24xbf16>) -> tensor<1x1x0x24xbf16> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.taylor<order = 1>) causal
      : tensor<1x1x0x16xbf16>, tensor<1x1x0x16xbf16>, tensor<1x1x0x24xbf16>
      -> tensor<1x1x0x24xbf16>
  return %o : tensor<1x1x0x24xbf16>
}

// No keys, an initial state: the final state is the initial one.
func.func @no_keys_state(%q: tensor<2x2x0x16xf32>, %k: tensor<2x2x0x16xf32>,
                         %v: tensor<2x2x0x8xf32>, %s: tensor<2x2x16x8xf32>)
    -> (tensor<2x2x0x8xf32>, tensor<2x2x16x8xf32>) {
  %o, %state = attn.linear_attention %q, %k, %v feature_map(#attn.relu) causal
      normalization(none) initial_state(%s : tensor<2x2x16x8xf32>)
      : tensor<2x2x0x16xf32>, tensor<2x2x0x16xf32>, tensor<2x2x0x8xf32>
      -> tensor<2x2x0x8xf32>, tensor<2x2x16x8xf32>
  return %o, %state : tensor<2x2x0x8xf32>, tensor<2x2x16x8xf32>
}

// No queries, 5 keys (non-causal): the state still sums the keys.
func.func @no_queries_cross(%q: tensor<1x2x0x16xf32>, %k: tensor<1x2x5x16xf32>,
                            %v: tensor<1x2x5x8xf32>)
    -> (tensor<1x2x0x8xf32>, tensor<1x2x16x8xf32>) {
  %o, %state = attn.linear_attention %q, %k, %v feature_map(#attn.relu)
      normalization(none)
      : tensor<1x2x0x16xf32>, tensor<1x2x5x16xf32>, tensor<1x2x5x8xf32>
      -> tensor<1x2x0x8xf32>, tensor<1x2x16x8xf32>
  return %o, %state : tensor<1x2x0x8xf32>, tensor<1x2x16x8xf32>
}

func.func @attention_no_queries(%q: tensor<1x2x0x16xf32>, %k: tensor<1x2x5x16xf32>,
                                %v: tensor<1x2x5x8xf32>)
    -> (tensor<1x2x0x8xf32>, tensor<1x2x0xf32>) {
  %o, %l = attn.attention %q, %k, %v mask(#attn.causal)
      : tensor<1x2x0x16xf32>, tensor<1x2x5x16xf32>, tensor<1x2x5x8xf32>
      -> tensor<1x2x0x8xf32>, tensor<1x2x0xf32>
  return %o, %l : tensor<1x2x0x8xf32>, tensor<1x2x0xf32>
}

func.func @attention_no_keys(%q: tensor<1x2x3x16xf32>, %k: tensor<1x2x0x16xf32>,
                             %v: tensor<1x2x0x8xf32>)
    -> (tensor<1x2x3x8xf32>, tensor<1x2x3xf32>) {
  %o, %l = attn.attention %q, %k, %v allow_empty_rows
      : tensor<1x2x3x16xf32>, tensor<1x2x0x16xf32>, tensor<1x2x0x8xf32>
      -> tensor<1x2x3x8xf32>, tensor<1x2x3xf32>
  return %o, %l : tensor<1x2x3x8xf32>, tensor<1x2x3xf32>
}

// The delta rule over no tokens, gated, an initial state: no triangular
// system to solve (a row slice of an empty one was out of bounds), the state
// passes through.
func.func @gated_delta_no_tokens(%q: tensor<1x2x0x16xf32>, %k: tensor<1x2x0x16xf32>,
                                 %v: tensor<1x2x0x8xf32>, %g: tensor<1x2x0xf32>,
                                 %beta: tensor<1x2x0xf32>, %s: tensor<1x2x16x8xf32>)
    -> (tensor<1x2x0x8xf32>, tensor<1x2x16x8xf32>) {
  %o, %state = attn.linear_attention %q, %k, %v feature_map(#attn.l2_normalize)
      causal gate(%g : tensor<1x2x0xf32>) delta_rule(%beta : tensor<1x2x0xf32>)
      normalization(none) initial_state(%s : tensor<1x2x16x8xf32>)
      : tensor<1x2x0x16xf32>, tensor<1x2x0x16xf32>, tensor<1x2x0x8xf32>
      -> tensor<1x2x0x8xf32>, tensor<1x2x16x8xf32>
  return %o, %state : tensor<1x2x0x8xf32>, tensor<1x2x16x8xf32>
}

func.func @delta_no_batch(%q: tensor<0x1x?x16xf32>, %k: tensor<0x1x?x16xf32>,
                          %v: tensor<0x1x?x16xf32>, %beta: tensor<0x1x?xf32>)
    -> tensor<0x1x?x16xf32> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.l2_normalize) causal
      delta_rule(%beta : tensor<0x1x?xf32>) normalization(none)
      : tensor<0x1x?x16xf32>, tensor<0x1x?x16xf32>, tensor<0x1x?x16xf32>
      -> tensor<0x1x?x16xf32>
  return %o : tensor<0x1x?x16xf32>
}
