// The linear attention kernel (attn-to-gpu), emulated on the CPU one block
// at a time, against the float64 reference (the quadratic form over the
// whole sequence). Lengths are not multiples of the chunk (16 x warps);
// value dimensions not multiples of 8; several value tiles; every feature
// map with a per-element form; f16, bf16 and f32. f32 runs on tf32 tensor
// cores (10-bit mantissa: tolerance 5e-3). The states are sums of products
// of tensor-core operands in the input's type, so they get that type's
// tolerance, not f32's. Causal ops run as parallel runs of the sequence
// (split-kv=auto; with the emulated 132 multiprocessors every chunk is a run
// here); --split-kv never keeps the one kernel, and --split-kv always with
// one multiprocessor makes two runs of several chunks (positions, gates,
// decays and normalizers carried across runs).
// RUN: attn-run %s --entry elu_causal_gqa --target gpu-emulation --warps 1 --random --seed 5 --dim B=2 --dim Sq=37 --check | FileCheck %s --check-prefix=ELU
// RUN: attn-run %s --entry elu_causal_gqa --target gpu-emulation --warps 1 --split-kv never --random --seed 5 --dim B=2 --dim Sq=37 --check | FileCheck %s --check-prefix=ELU
// RUN: attn-run %s --entry favor_weights_state --target gpu-emulation --warps 1 --split-kv always --multiprocessors 1 --random --seed 8 --check --tolerance 2e-3 | FileCheck %s --check-prefix=FAVORW
// RUN: attn-run %s --entry cosformer_f16 --target gpu-emulation --warps 1 --split-kv always --multiprocessors 1 --random --seed 9 --check | FileCheck %s --check-prefix=COS
// RUN: attn-run %s --entry simple_gla_state --target gpu-emulation --warps 1 --split-kv always --multiprocessors 1 --random --seed 14 --dim Sq=77 --check --tolerance 1e-2 | FileCheck %s --check-prefix=SIMPLEGLA
// ELU: check o    max relative error {{.*}} ok
// RUN: attn-run %s --entry relu_decay_state --target gpu-emulation --warps 2 --random --seed 6 --check --tolerance 5e-3 | FileCheck %s --check-prefix=RETNET
// RETNET: check o    max relative error {{.*}} ok
// RETNET: check final_state max relative error {{.*}} ok
// RUN: attn-run %s --entry favor_seed_cross --target gpu-emulation --warps 1 --random --seed 7 --check | FileCheck %s --check-prefix=FAVOR
// FAVOR: check o    max relative error {{.*}} ok
// RUN: attn-run %s --entry favor_weights_state --target gpu-emulation --warps 1 --random --seed 8 --check --tolerance 2e-3 | FileCheck %s --check-prefix=FAVORW
// FAVORW: check o    max relative error {{.*}} ok
// FAVORW: check final_state max relative error {{.*}} ok
// FAVORW: check final_normalizer max relative error {{.*}} ok
// RUN: attn-run %s --entry cosformer_f16 --target gpu-emulation --warps 1 --random --seed 9 --check | FileCheck %s --check-prefix=COS
// COS: check o    max relative error {{.*}} ok
// RUN: attn-run %s --entry taylor_wide_value --target gpu-emulation --random --seed 10 --dim Sq=70 --check --tolerance 5e-3 | FileCheck %s --check-prefix=TAYLOR
// TAYLOR: check o    max relative error {{.*}} ok
// RUN: attn-run %s --entry relu_odd_value_f16 --target gpu-emulation --warps 2 --random --seed 11 --check | FileCheck %s --check-prefix=ODDV
// ODDV: check o    max relative error {{.*}} ok
// RUN: attn-run %s --entry retention_bf16 --target gpu-emulation --warps 2 --random --seed 12 --dim Sq=53 --check --tolerance 1e-2 | FileCheck %s --check-prefix=RETENTION
// RETENTION: check o    max relative error {{.*}} ok
// RETENTION: check final_state max relative error {{.*}} ok
// RUN: attn-run %s --entry identity_scaled_cross --target gpu-emulation --warps 1 --random --seed 13 --check | FileCheck %s --check-prefix=SCALED
// SCALED: check o    max relative error {{.*}} ok
// RUN: attn-run %s --entry simple_gla_state --target gpu-emulation --warps 2 --random --seed 14 --dim Sq=77 --check --tolerance 1e-2 | FileCheck %s --check-prefix=SIMPLEGLA
// SIMPLEGLA: check o    max relative error {{.*}} ok
// SIMPLEGLA: check final_state max relative error {{.*}} ok
// Non-causal ops as runs too: states of key runs, their sum, outputs of
// query runs (one run per chunk by default; two runs of several chunks with
// one multiprocessor; one kernel with --split-kv never).
// RUN: attn-run %s --entry favor_seed_cross --target gpu-emulation --warps 1 --split-kv never --random --seed 7 --check | FileCheck %s --check-prefix=FAVOR
// RUN: attn-run %s --entry identity_scaled_cross --target gpu-emulation --warps 1 --split-kv always --multiprocessors 1 --random --seed 13 --check | FileCheck %s --check-prefix=SCALED
// RUN: attn-run %s --entry elu_bidirectional_state --target gpu-emulation --warps 1 --random --seed 16 --dim Sq=29 --dim Skv=70 --check --tolerance 2e-3 | FileCheck %s --check-prefix=BIDI
// RUN: attn-run %s --entry elu_bidirectional_state --target gpu-emulation --warps 1 --split-kv always --multiprocessors 1 --random --seed 17 --dim Sq=70 --dim Skv=29 --check --tolerance 2e-3 | FileCheck %s --check-prefix=BIDI
// Generated weights under the causal plan (both chunk kernels read them).
// RUN: attn-run %s --entry favor_seed_causal --target gpu-emulation --warps 1 --split-kv always --multiprocessors 1 --random --seed 18 --check | FileCheck %s --check-prefix=FAVOR
// RUN: attn-run %s --entry gated_elu_f16 --target gpu-emulation --warps 1 --random --seed 15 --check | FileCheck %s --check-prefix=GATEDELU
// GATEDELU: check o    max relative error {{.*}} ok
// BIDI: check o    max relative error {{.*}} ok
// BIDI: check final_state max relative error {{.*}} ok
// BIDI: check final_normalizer max relative error {{.*}} ok

func.func @elu_causal_gqa(%q: tensor<?x2x?x24xbf16>, %k: tensor<?x1x?x24xbf16>,
                          %v: tensor<?x1x?x40xbf16>) -> tensor<?x2x?x40xbf16> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.elu_plus_one) causal
      : tensor<?x2x?x24xbf16>, tensor<?x1x?x24xbf16>, tensor<?x1x?x40xbf16>
      -> tensor<?x2x?x40xbf16>
  return %o : tensor<?x2x?x40xbf16>
}

// RetNet: relu features, decay, no denominator, state in and out; f32.
func.func @relu_decay_state(%q: tensor<1x2x45x16xf32>, %k: tensor<1x2x45x16xf32>,
                            %v: tensor<1x2x45x12xf32>, %gamma: tensor<2xf32>,
                            %s0: tensor<1x2x16x12xf32>)
    -> (tensor<1x2x45x12xf32>, tensor<1x2x16x12xf32>) {
  %o, %s = attn.linear_attention %q, %k, %v feature_map(#attn.relu) causal
      decay(%gamma : tensor<2xf32>) normalization(none)
      initial_state(%s0 : tensor<1x2x16x12xf32>)
      : tensor<1x2x45x16xf32>, tensor<1x2x45x16xf32>, tensor<1x2x45x12xf32>
      -> tensor<1x2x45x12xf32>, tensor<1x2x16x12xf32>
  return %o, %s : tensor<1x2x45x12xf32>, tensor<1x2x16x12xf32>
}

// Performer, bidirectional, Sq != Skv, weights from the seed (a constant
// global of the kernel's module).
func.func @favor_seed_cross(%q: tensor<1x2x21x16xbf16>, %k: tensor<1x2x38x16xbf16>,
                            %v: tensor<1x2x38x16xbf16>) -> tensor<1x2x21x16xbf16> {
  %o = attn.linear_attention %q, %k, %v
      feature_map(#attn.favor<features = 24, seed = 3>)
      : tensor<1x2x21x16xbf16>, tensor<1x2x38x16xbf16>, tensor<1x2x38x16xbf16>
      -> tensor<1x2x21x16xbf16>
  return %o : tensor<1x2x21x16xbf16>
}

// Performer with the weights operand, causal with decay, states in and out.
func.func @favor_weights_state(%q: tensor<2x2x30x8xf16>, %k: tensor<2x2x30x8xf16>,
                               %v: tensor<2x2x30x8xf16>, %w: tensor<20x8xf32>,
                               %gamma: tensor<2xf32>, %s0: tensor<2x2x20x8xf32>,
                               %z0: tensor<2x2x20xf32>)
    -> (tensor<2x2x30x8xf16>, tensor<2x2x20x8xf32>, tensor<2x2x20xf32>) {
  %o, %s, %z = attn.linear_attention %q, %k, %v
      feature_map(#attn.favor<features = 20>) feature_weights(%w : tensor<20x8xf32>)
      causal decay(%gamma : tensor<2xf32>)
      initial_state(%s0 : tensor<2x2x20x8xf32>) initial_normalizer(%z0 : tensor<2x2x20xf32>)
      : tensor<2x2x30x8xf16>, tensor<2x2x30x8xf16>, tensor<2x2x30x8xf16>
      -> tensor<2x2x30x8xf16>, tensor<2x2x20x8xf32>, tensor<2x2x20xf32>
  return %o, %s, %z : tensor<2x2x30x8xf16>, tensor<2x2x20x8xf32>, tensor<2x2x20xf32>
}

func.func @cosformer_f16(%q: tensor<1x1x50x16xf16>, %k: tensor<1x1x50x16xf16>,
                         %v: tensor<1x1x50x24xf16>) -> tensor<1x1x50x24xf16> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.cosformer) causal
      : tensor<1x1x50x16xf16>, tensor<1x1x50x16xf16>, tensor<1x1x50x24xf16>
      -> tensor<1x1x50x24xf16>
  return %o : tensor<1x1x50x24xf16>
}

// 1 + 8 + 64 = 73 features; Dv = 72 spans two value tiles; 4 warps.
func.func @taylor_wide_value(%q: tensor<1x1x?x8xf32>, %k: tensor<1x1x?x8xf32>,
                             %v: tensor<1x1x?x72xf32>) -> tensor<1x1x?x72xf32> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.taylor<order = 2>) causal
      : tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x72xf32>
      -> tensor<1x1x?x72xf32>
  return %o : tensor<1x1x?x72xf32>
}

// Dv = 20 f16 values: rows are not whole 16-byte units, so the tile loader
// copies them element by element instead of with cp.async.
func.func @relu_odd_value_f16(%q: tensor<1x2x41x16xf16>, %k: tensor<1x2x41x16xf16>,
                              %v: tensor<1x2x41x20xf16>) -> tensor<1x2x41x20xf16> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.relu) causal
      : tensor<1x2x41x16xf16>, tensor<1x2x41x16xf16>, tensor<1x2x41x20xf16>
      -> tensor<1x2x41x20xf16>
  return %o : tensor<1x2x41x20xf16>
}

// RetNet's retention: identity features, q scaled by the default D^-1/2,
// a decay per head, no normalizer.
func.func @retention_bf16(%q: tensor<1x2x?x32xbf16>, %k: tensor<1x2x?x32xbf16>,
                          %v: tensor<1x2x?x24xbf16>, %gamma: tensor<2xf32>)
    -> (tensor<1x2x?x24xbf16>, tensor<1x2x32x24xf32>) {
  %o, %s = attn.linear_attention %q, %k, %v feature_map(#attn.identity) causal
      decay(%gamma : tensor<2xf32>) normalization(none)
      : tensor<1x2x?x32xbf16>, tensor<1x2x?x32xbf16>, tensor<1x2x?x24xbf16>
      -> tensor<1x2x?x24xbf16>, tensor<1x2x32x24xf32>
  return %o, %s : tensor<1x2x?x24xbf16>, tensor<1x2x32x24xf32>
}

// An explicit scale (identity features have no positive denominator to
// divide by: their models use none).
func.func @identity_scaled_cross(%q: tensor<1x2x19x16xf16>, %k: tensor<1x2x35x16xf16>,
                                 %v: tensor<1x2x35x8xf16>) -> tensor<1x2x19x8xf16> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.identity) scale(3.0)
      normalization(none)
      : tensor<1x2x19x16xf16>, tensor<1x2x35x16xf16>, tensor<1x2x35x8xf16>
      -> tensor<1x2x19x8xf16>
  return %o : tensor<1x2x19x8xf16>
}

// Simple GLA: a log-space gate per token (the chunk's cumulative gates in
// shared memory), GQA, the state in and out.
func.func @simple_gla_state(%q: tensor<1x2x?x32xbf16>, %k: tensor<1x1x?x32xbf16>,
                            %v: tensor<1x1x?x24xbf16>, %g: tensor<1x2x?xf32>,
                            %s0: tensor<1x2x32x24xf32>)
    -> (tensor<1x2x?x24xbf16>, tensor<1x2x32x24xf32>) {
  %o, %s = attn.linear_attention %q, %k, %v feature_map(#attn.identity) causal
      gate(%g : tensor<1x2x?xf32>) normalization(none)
      initial_state(%s0 : tensor<1x2x32x24xf32>)
      : tensor<1x2x?x32xbf16>, tensor<1x1x?x32xbf16>, tensor<1x1x?x24xbf16>
      -> tensor<1x2x?x24xbf16>, tensor<1x2x32x24xf32>
  return %o, %s : tensor<1x2x?x24xbf16>, tensor<1x2x32x24xf32>
}

// Gates with elu + 1 features and the denominator (both sums gated).
func.func @gated_elu_f16(%q: tensor<2x2x45x16xf16>, %k: tensor<2x2x45x16xf16>,
                         %v: tensor<2x2x45x8xf16>, %g: tensor<2x2x45xf32>)
    -> tensor<2x2x45x8xf16> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.elu_plus_one) causal
      gate(%g : tensor<2x2x45xf32>)
      : tensor<2x2x45x16xf16>, tensor<2x2x45x16xf16>, tensor<2x2x45x8xf16>
      -> tensor<2x2x45x8xf16>
  return %o : tensor<2x2x45x8xf16>
}

// Non-causal with GQA, dynamic lengths, several value tiles, state and
// normalizer in and out.
func.func @elu_bidirectional_state(%q: tensor<2x4x?x16xf16>, %k: tensor<2x2x?x16xf16>,
                                   %v: tensor<2x2x?x40xf16>, %s0: tensor<2x4x16x40xf32>,
                                   %z0: tensor<2x4x16xf32>)
    -> (tensor<2x4x?x40xf16>, tensor<2x4x16x40xf32>, tensor<2x4x16xf32>) {
  %o, %s, %z = attn.linear_attention %q, %k, %v feature_map(#attn.elu_plus_one)
      initial_state(%s0 : tensor<2x4x16x40xf32>) initial_normalizer(%z0 : tensor<2x4x16xf32>)
      : tensor<2x4x?x16xf16>, tensor<2x2x?x16xf16>, tensor<2x2x?x40xf16>
      -> tensor<2x4x?x40xf16>, tensor<2x4x16x40xf32>, tensor<2x4x16xf32>
  return %o, %s, %z : tensor<2x4x?x40xf16>, tensor<2x4x16x40xf32>, tensor<2x4x16xf32>
}

func.func @favor_seed_causal(%q: tensor<1x2x38x16xbf16>, %k: tensor<1x2x38x16xbf16>,
                             %v: tensor<1x2x38x16xbf16>) -> tensor<1x2x38x16xbf16> {
  %o = attn.linear_attention %q, %k, %v
      feature_map(#attn.favor<features = 24, seed = 3>) causal
      : tensor<1x2x38x16xbf16>, tensor<1x2x38x16xbf16>, tensor<1x2x38x16xbf16>
      -> tensor<1x2x38x16xbf16>
  return %o : tensor<1x2x38x16xbf16>
}
