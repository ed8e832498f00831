// Linear attention (attn.linear_attention): phi(q) (phi(k)^T v) in time
// linear in the sequence length, lowered chunk by chunk on the CPU
// (attn-linear-chunked). One function per feature map; each runs against
// the float64 reference (the quadratic form over the whole sequence).
// attn-to-gpu compiles every map but Hedgehog (its softmaxes tie the
// features of a row together), which runs on the CPU only.
// RUN: attn-run %s --entry elu_causal_gqa --random --seed 1 --check
// RUN: attn-run %s --entry retnet_decay_state --random --seed 2 --check --chunk-size 16
// RUN: attn-run %s --entry favor_performer --random --seed 3 --check
// RUN: attn-run %s --entry cosformer --random --seed 4 --check
// RUN: attn-run %s --entry hedgehog --random --seed 5 --check
// RUN: attn-run %s --entry based_taylor --random --seed 6 --check --dim Sq=300
// RUN: attn-run %s --entry simple_gla --random --seed 7 --check --dim B=2 --dim Sq=1000
// RUN: attn-run %s --entry gla --random --seed 8 --check --chunk-size 32
// RUN: attn-run %s --entry gated_delta_net --random --seed 9 --check --dim Sq=257

// Causal linear transformer (Katharopoulos et al.) with grouped-query heads,
// in bf16 with f32 states.
func.func @elu_causal_gqa(%q: tensor<2x8x500x64xbf16>, %k: tensor<2x2x500x64xbf16>,
                          %v: tensor<2x2x500x64xbf16>) -> tensor<2x8x500x64xbf16> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.elu_plus_one) causal
      : tensor<2x8x500x64xbf16>, tensor<2x2x500x64xbf16>, tensor<2x2x500x64xbf16>
      -> tensor<2x8x500x64xbf16>
  return %o : tensor<2x8x500x64xbf16>
}

// RetNet's retention: the raw queries and keys (identity features, q
// scaled by D^-1/2 by default), a per-head decay, no denominator, and the
// state in and out so a long sequence can be streamed in pieces.
func.func @retnet_decay_state(%q: tensor<1x4x333x32xf32>, %k: tensor<1x4x333x32xf32>,
                              %v: tensor<1x4x333x32xf32>, %gamma: tensor<4xf32>,
                              %s0: tensor<1x4x32x32xf32>)
    -> (tensor<1x4x333x32xf32>, tensor<1x4x32x32xf32>) {
  %o, %s = attn.linear_attention %q, %k, %v feature_map(#attn.identity) causal
      decay(%gamma : tensor<4xf32>) normalization(none)
      initial_state(%s0 : tensor<1x4x32x32xf32>)
      : tensor<1x4x333x32xf32>, tensor<1x4x333x32xf32>, tensor<1x4x333x32xf32>
      -> tensor<1x4x333x32xf32>, tensor<1x4x32x32xf32>
  return %o, %s : tensor<1x4x333x32xf32>, tensor<1x4x32x32xf32>
}

// Performer: 128 orthogonal random features, generated at compile time
// from the seed, approximate softmax attention (bidirectional).
func.func @favor_performer(%q: tensor<1x4x400x32xf32>, %k: tensor<1x4x400x32xf32>,
                           %v: tensor<1x4x400x32xf32>) -> tensor<1x4x400x32xf32> {
  %o = attn.linear_attention %q, %k, %v
      feature_map(#attn.favor<features = 128, seed = 42>)
      : tensor<1x4x400x32xf32>, tensor<1x4x400x32xf32>, tensor<1x4x400x32xf32>
      -> tensor<1x4x400x32xf32>
  return %o : tensor<1x4x400x32xf32>
}

// cosFormer: relu features re-weighted by position, causal.
func.func @cosformer(%q: tensor<1x8x256x64xf16>, %k: tensor<1x8x256x64xf16>,
                     %v: tensor<1x8x256x64xf16>) -> tensor<1x8x256x64xf16> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.cosformer) causal
      : tensor<1x8x256x64xf16>, tensor<1x8x256x64xf16>, tensor<1x8x256x64xf16>
      -> tensor<1x8x256x64xf16>
  return %o : tensor<1x8x256x64xf16>
}

// Hedgehog: a learned [D, 32] projection (the feature_weights operand),
// then softmaxes of x W and -x W: 64 features.
func.func @hedgehog(%q: tensor<1x4x200x64xf32>, %k: tensor<1x4x200x64xf32>,
                    %v: tensor<1x4x200x64xf32>, %w: tensor<64x32xf32>)
    -> tensor<1x4x200x64xf32> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.hedgehog<features = 32>)
      feature_weights(%w : tensor<64x32xf32>) causal
      : tensor<1x4x200x64xf32>, tensor<1x4x200x64xf32>, tensor<1x4x200x64xf32>
      -> tensor<1x4x200x64xf32>
  return %o : tensor<1x4x200x64xf32>
}

// Based: the second-order Taylor expansion of exp on 16-dimensional
// feature projections (273 features), causal, any length.
func.func @based_taylor(%q: tensor<1x4x?x16xf32>, %k: tensor<1x4x?x16xf32>,
                        %v: tensor<1x4x?x64xf32>) -> tensor<1x4x?x64xf32> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.taylor<order = 2>) causal
      : tensor<1x4x?x16xf32>, tensor<1x4x?x16xf32>, tensor<1x4x?x64xf32>
      -> tensor<1x4x?x64xf32>
  return %o : tensor<1x4x?x64xf32>
}

// Simple GLA / Mamba2-style gating: a data-dependent decay per token and
// head, given in log space (log sigmoid of a projection in the models),
// grouped-query heads. attn-to-gpu compiles it too.
func.func @simple_gla(%q: tensor<?x8x?x64xbf16>, %k: tensor<?x2x?x64xbf16>,
                      %v: tensor<?x2x?x64xbf16>, %g: tensor<?x8x?xf32>)
    -> tensor<?x8x?x64xbf16> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.identity) causal
      gate(%g : tensor<?x8x?xf32>) normalization(none)
      : tensor<?x8x?x64xbf16>, tensor<?x2x?x64xbf16>, tensor<?x2x?x64xbf16>
      -> tensor<?x8x?x64xbf16>
  return %o : tensor<?x8x?x64xbf16>
}

// Gated linear attention (GLA): a gate per token and key feature, the state
// returned for the next piece. CPU only for now (attn-to-gpu says so).
func.func @gla(%q: tensor<1x4x300x32xf32>, %k: tensor<1x4x300x32xf32>,
               %v: tensor<1x4x300x48xf32>, %g: tensor<1x4x300x32xf32>)
    -> (tensor<1x4x300x48xf32>, tensor<1x4x32x48xf32>) {
  %o, %s = attn.linear_attention %q, %k, %v feature_map(#attn.identity) causal
      gate(%g : tensor<1x4x300x32xf32>) normalization(none)
      : tensor<1x4x300x32xf32>, tensor<1x4x300x32xf32>, tensor<1x4x300x48xf32>
      -> tensor<1x4x300x48xf32>, tensor<1x4x32x48xf32>
  return %o, %s : tensor<1x4x300x48xf32>, tensor<1x4x32x48xf32>
}

// Gated DeltaNet: the delta rule (each key overwrites what the state holds
// for it, with strength beta) with a gate per token, on unit-norm queries
// and keys, in bf16. CPU only for now (attn-to-gpu says so).
func.func @gated_delta_net(%q: tensor<1x4x?x64xbf16>, %k: tensor<1x4x?x64xbf16>,
                           %v: tensor<1x4x?x64xbf16>, %g: tensor<1x4x?xf32>,
                           %beta: tensor<1x4x?xf32>) -> tensor<1x4x?x64xbf16> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.l2_normalize) causal
      gate(%g : tensor<1x4x?xf32>) delta_rule(%beta : tensor<1x4x?xf32>)
      normalization(none)
      : tensor<1x4x?x64xbf16>, tensor<1x4x?x64xbf16>, tensor<1x4x?x64xbf16>
      -> tensor<1x4x?x64xbf16>
  return %o : tensor<1x4x?x64xbf16>
}
