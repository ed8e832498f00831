//===- AttnOps.td - attn operations ------------------------*- tablegen -*-===//

#ifndef ATTN_OPS_TD
#define ATTN_OPS_TD

include "AttnBase.td"
include "AttnAttrs.td"
include "AttnInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

// The operands that masks, modifiers and sequence layouts read (in the
// order of AuxOperands.def), the attributes of a spec and their syntax:
// shared by attn.attention and attn.attention_backward.
defvar Attn_SpecOperands = (ins
  Optional<AnyRankedTensor>:$layout,
  Optional<AnyRankedTensor>:$q_segments,
  Optional<AnyRankedTensor>:$kv_segments,
  Optional<AnyRankedTensor>:$bias,
  Optional<AnyRankedTensor>:$alibi_slopes,
  Optional<AnyRankedTensor>:$cu_seqlens_q,
  Optional<AnyRankedTensor>:$cu_seqlens_kv,
  Optional<AnyRankedTensor>:$block_table,
  Optional<AnyRankedTensor>:$kv_lens,
  Optional<AnyRankedTensor>:$positions
);
defvar Attn_SpecAttributes = (ins
  DefaultValuedAttr<Attn_PageLayout, "::attn::PageLayout::NHD">:$page_layout,
  OptionalAttr<F64Attr>:$scale,
  OptionalAttr<Attn_MaskAttrInterface>:$mask,
  OptionalAttr<TypedArrayAttrBase<Attn_ScoreModAttrInterface,
                                  "score modifiers">>:$score_mods,
  OptionalAttr<Attn_NormalizationAttrInterface>:$normalization,
  UnitAttr:$allow_empty_rows
);
defvar Attn_SpecFormat = [{
    (`layout` `(` $layout^ `:` type($layout) `)`)?
    (`segments` `(` $q_segments^ `,` $kv_segments `:` type($q_segments) `,`
        type($kv_segments) `)`)?
    (`bias` `(` $bias^ `:` type($bias) `)`)?
    (`alibi_slopes` `(` $alibi_slopes^ `:` type($alibi_slopes) `)`)?
    (`cu_seqlens_q` `(` $cu_seqlens_q^ `:` type($cu_seqlens_q) `)`)?
    (`cu_seqlens_kv` `(` $cu_seqlens_kv^ `:` type($cu_seqlens_kv) `)`)?
    (`paged_kv` `(` $block_table^ `,` $kv_lens `:` type($block_table) `,`
        type($kv_lens) `)`)?
    (`page_layout` `(` $page_layout^ `)`)?
    (`positions` `(` $positions^ `:` type($positions) `)`)?
    (`mask` `(` $mask^ `)`)?
    (`score_mods` `(` $score_mods^ `)`)?
    (`normalization` `(` $normalization^ `)`)?
    (`scale` `(` $scale^ `)`)?
    (`allow_empty_rows` $allow_empty_rows^)?
}];
defvar Attn_SpecRegionsFormat = [{
    (`score_mod` $score_mod^)?
    (`mask_mod` $mask_mod^)?
    attr-dict
}];

def Attn_AttentionOp : Attn_Op<"attention", [
    Pure, AttrSizedOperandSegments, AttrSizedResultSegments,
    DeclareOpInterfaceMethods<ReifyRankedShapedTypeOpInterface,
                              ["reifyResultShapes"]>,
    DeclareOpInterfaceMethods<Attn_AttentionSpecOpInterface>,
    DeclareOpInterfaceMethods<Attn_KernelOpInterface>]> {
  let summary = "Scaled dot-product attention with masks and score modifiers";
  let description = [{
    Computes, for every batch `b`, query head `h` and query row `i`,

    ```
    s[j]  = mods(scale * dot(q[b, h, i, :], k[b, h / G, j, :]))   (G = Hq / Hkv)
    s[j]  = allowed(b, h, i, j) ? s[j] : -inf
    o[b, h, i, :] = sum_j w(s)[j] * v[b, h / G, j, :]
    ```

    With the default softmax normalization `w(s) = exp(s - max s) / sum exp(s - max s)`
    and `lse[b, h, i] = max s + log(sum exp(s - max s))`; `#attn.sigmoid` and
    `#attn.relu` weight each score on its own (see their docs).

    - Shapes: `q [B, Hq, Sq, D]`, `k [B, Hkv, Skv, D]`, `v [B, Hkv, Skv, Dv]`,
      `o [B, Hq, Sq, Dv]` with the element type of `q`, optional
      `lse [B, Hq, Sq]` in the accumulation type. `Hq` must be a multiple of
      `Hkv` (grouped-query and multi-query attention); `Sq != Skv` is cross
      attention. `B`, `Sq` and `Skv` may be dynamic; head counts, `D` and
      `Dv` are static.
    - Elements are f16, bf16 or f32 (f64 is accepted for reference
      computations); scores and sums are accumulated in f32 (f64 for f64).
    - `scale` defaults to `1/sqrt(D)`.
    - `score_mods` (an ordered list of ScoreModAttrInterface attributes) and
      then the `score_mod` region modify the scaled score.
    - `mask` (a MaskAttrInterface attribute) and the `mask_mod` region decide
      which pairs are allowed; both must allow a pair.
    - Operands that masks and modifiers read: `layout` (`#attn.block_sparse`),
      `segments` (`#attn.document`: query then key segment ids), `bias`
      (`#attn.bias`), `alibi_slopes` (`#attn.alibi`). The regions may read
      any value defined above them (tensors are read with `tensor.extract`).

    Sequences of different lengths (serving, varlen training) are described
    by operands that place each sequence's rows (SequenceLayout.h):

    - `cu_seqlens_q(%cq : tensor<?xi32>)` (`[B + 1]`, FlashAttention's
      varlen): queries are packed, `q [Tq, Hq, D]`, `o [Tq, Hq, Dv]`,
      `lse [Tq, Hq]`; sequence `b` holds rows `[cq[b], cq[b+1])`.
    - `cu_seqlens_kv(%ck : tensor<?xi32>)`: keys and values packed,
      `k [Tk, Hkv, D]`, `v [Tk, Hkv, Dv]`.
    - `paged_kv(%block_table, %kv_lens : tensor<?x?xi32>, tensor<?xi32>)`:
      keys and values in page pools, `k [pages, P, Hkv, D]` and
      `v [pages, P, Hkv, Dv]` (`page_layout(nhd)`, the default, as vLLM and
      FlashInfer) or `[pages, Hkv, P, D]` (`page_layout(hnd)`), with the
      static page size `P`; key `j` of sequence `b` is slot `j % P` of page
      `block_table[b, j / P]`, and the sequence has `kv_lens[b]` keys.

    Masks and modifiers see each sequence's own lengths as `Sq` and `Skv`
    (a bottom-right causal mask aligns to the sequence's last key) and
    positions counted from the sequence's start. The data contract, checked
    on the host by the runtime and the Python package: `cu_seqlens` start at
    0, never decrease and end at `Tq` / `Tk`; `0 <= kv_lens[b] <=
    P * max_pages`; the table entries of a sequence's used pages lie in
    `[0, pages)`.

    A shard of a longer attention (ring attention, context parallelism) is
    described by `positions(%p : tensor<4xi64>)` (or `i32`) `= [q_offset,
    kv_offset, q_total, kv_total]`: query row `i` is position `q_offset + i`
    of a sequence of `q_total` queries, key `j` position `kv_offset + j` of
    `kv_total` keys. Masks and modifiers see those positions and lengths
    (`#attn.causal` compares global positions, `#attn.alibi` their
    distance, a bottom-right alignment uses the totals); the operands they
    read stay the shard's own (`segments [B, Sq]` and `[B, Skv]`, `bias
    [B, Hq, Sq, Skv]`). It excludes packed and paged sequences,
    `#attn.block_sparse` and regions that read tensors, and a masked op
    needs `allow_empty_rows` (a shard's rows may have no key). The data
    contract, checked on the host by the Python package: `0 <= q_offset`,
    `q_offset + Sq <= q_total`, and likewise for the keys.

    The `score_mod` region takes `(score : f32, b, h, q_idx, kv_idx : index)`
    and yields the new f32 score; `mask_mod` takes `(b, h, q_idx, kv_idx :
    index)` and yields an i1. Both end in `attn.yield`.

    `approximation(#feature_map)` makes the op a sparse + low-rank hybrid
    (Scatterbrain, Chen et al., 2021): the mask is the exact support, and the
    pairs outside it get the feature map's estimate of the exponential
    instead of no weight,

    ```
    w[i, j] = allowed(i, j) ? exp(scale * q_i . k_j) : phi(q_i) . phi(k_j)
    o_i     = sum_j w[i, j] v_j / sum_j w[i, j]     lse_i = log(sum_j w[i, j])
    ```

    The map must estimate `exp(q . k / sqrt(D))` with positive weights:
    `#attn.favor` (FAVOR+; its `W [m, D]` generated from a `seed` or the
    `feature_weights(%w : tensor<mxDxf32>)` operand, in the accumulation
    type, e.g. redrawn during training) or `#attn.taylor<order = 2>`. So the
    scale is the default `1/sqrt(D)`, the normalization softmax, and no score
    modifier or `score_mod` region may change the exact scores. It needs a
    mask (without one every pair is exact), dense sequences and no
    `positions`; every row has a weight for every key, so no row is empty.
    The kernels add the low-rank part as a state over all keys,
    `phi(q_i) . sum_j phi(k_j) v_j^T`, minus its sum over the support's
    tiles, so the cost is that of the sparse attention plus one linear
    attention.

    With a result `o_linear` (after `linear` in the result types) the two
    parts are not joined but returned apart, as sparse-linear attention
    (SLA, Zhang et al., 2025) computes them: `o` (and `lse`) is the softmax
    over the support alone, and `o_linear` the linear attention over the
    pairs outside it,

    ```
    o_linear_i = sum_{j outside} phi(q_i) . phi(k_j) v_j
               / sum_{j outside} phi(q_i) . phi(k_j)
    ```

    0 where that denominator is 0 (a row whose keys are all in the
    support). The model combines them, SLA as `o + proj(o_linear)` with a
    learned projection. The map may then be any feature map that does not
    depend on the position (`#attn.elu_plus_one`, `#attn.relu`,
    `#attn.hedgehog`, ...) and the scale any; the other conditions hold. With
    an `#attn.block_sparse` support of the critical blocks, the marginal
    blocks are the rest (as SLA's kernel computes it; `attn_mlir.sla_layout`
    picks the critical blocks from pooled queries and keys).

    A query row for which no key is allowed produces `o = 0` and
    `lse = -inf`. When the shapes are static and the verifier can prove that
    some row is empty, it rejects the op unless `allow_empty_rows` is given,
    since an empty row is usually a mistake in the mask.

    ```mlir
    %o, %lse = attn.attention %q, %k, %v mask(#attn.causal) scale(0.125)
        : tensor<2x8x128x64xf16>, tensor<2x2x128x64xf16>, tensor<2x2x128x64xf16>
        -> tensor<2x8x128x64xf16>, tensor<2x8x128xf32>

    %o = attn.attention %q, %k, %v segments(%qs, %ks : tensor<1x4096xi32>, tensor<1x4096xi32>)
        mask(#attn.and<[#attn.document, #attn.causal]>)
        score_mods([#attn.softcap<30.0>])
        mask_mod {
        ^bb0(%b: index, %h: index, %i: index, %j: index):
          %c = arith.cmpi ne, %i, %j : index
          attn.yield %c : i1
        } : tensor<1x8x4096x64xbf16>, tensor<1x8x4096x64xbf16>, tensor<1x8x4096x64xbf16>
          -> tensor<1x8x4096x64xbf16>
    ```
  }];

  let arguments = !con(
    (ins AnyRankedTensor:$q, AnyRankedTensor:$k, AnyRankedTensor:$v,
         Optional<AnyRankedTensor>:$feature_weights),
    Attn_SpecOperands, Attn_SpecAttributes,
    (ins OptionalAttr<Attn_FeatureMapAttrInterface>:$approximation));
  let results = (outs AnyRankedTensor:$o, Optional<AnyRankedTensor>:$lse,
                      Optional<AnyRankedTensor>:$o_linear);
  let regions = (region AnyRegion:$score_mod, AnyRegion:$mask_mod);

  let assemblyFormat = !strconcat("$q `,` $k `,` $v", Attn_SpecFormat, [{
    (`approximation` `(` $approximation^ `)`)?
    (`feature_weights` `(` $feature_weights^ `:` type($feature_weights) `)`)?
  }], Attn_SpecRegionsFormat, [{
    `:` type($q) `,` type($k) `,` type($v) `->` type($o) (`,` type($lse)^)?
    (`linear` type($o_linear)^)?
  }]);
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let hasCanonicalizer = 1;

  let extraClassDeclaration = [{
    /// The checks of `approximation` (see the op's description).
    ::mlir::LogicalResult verifyApproximation();
  }];
}

def Attn_AttentionBackwardOp : Attn_Op<"attention_backward", [
    Pure, AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<ReifyRankedShapedTypeOpInterface,
                              ["reifyResultShapes"]>,
    DeclareOpInterfaceMethods<Attn_AttentionSpecOpInterface>,
    DeclareOpInterfaceMethods<Attn_KernelOpInterface>]> {
  let summary = "Gradients of attn.attention with respect to q, k, v and bias";
  let description = [{
    The backward of the `attn.attention` with the same operands, attributes
    and regions: given the forward's inputs, its output `o`, the gradient
    `grad_o` of a loss with respect to `o` and (softmax) the forward's
    log-sum-exp `lse`, returns the gradients of the loss with respect to
    `q`, `k`, `v` and, when a fourth result is asked for, the `bias`
    operand. With `x = scale * q.k` the scaled score, `s = mods(x)` (the
    score modifiers, then the `score_mod` region) and `P` the weights:

    ```
    softmax:    P = exp(s - lse)        dS = P * (grad_o.v - rowsum(grad_o * o))
    pointwise:  P = f * w(s)            dS = f * (grad_o.v) * w'(s)
    dX = dS * ds/dx                            (0 where the mask disallows)
    grad_q[i] = scale * sum_j dX[i, j] k[j]     grad_k[j] = scale * sum_i dX[i, j] q[i]
    grad_v[j] = sum_i P[i, j] grad_o[i]         grad_bias[i, j] = dS[i, j] * ds/dbias
    ```

    (`f` the normalization's output factor.) With grouped-query attention,
    `grad_k` and `grad_v` sum over the query heads of each key/value head; a
    broadcast `bias` dimension (size 1) sums over that dimension. A query
    row that no key may attend contributes nothing: its `grad_q` is 0.

    `ds/dx` and `ds/dbias` are obtained by differentiating the code of the
    modifiers (ScoreDerivative.h): the `score_mod` region may use arith and
    math ops on the score; the verifier names any op it cannot
    differentiate.

    - Shapes: `q`, `k`, `v` as for `attn.attention` (dense batches; packed
      and paged sequences are not supported by the backward), `o` and
      `grad_o` `[B, Hq, Sq, Dv]` with the element type of `q`, `lse
      [B, Hq, Sq]` in the accumulation type. `grad_q`, `grad_k`, `grad_v`
      and `grad_bias` have the types of `q`, `k`, `v` and `bias`.
    - `lse` is required with softmax and absent with pointwise
      normalizations, which need none.

    ```mlir
    %dq, %dk, %dv = attn.attention_backward %q, %k, %v, %o, %do
        lse(%lse : tensor<2x8x128xf32>) mask(#attn.causal)
        : tensor<2x8x128x64xf16>, tensor<2x2x128x64xf16>,
          tensor<2x2x128x64xf16>, tensor<2x8x128x64xf16>,
          tensor<2x8x128x64xf16>
        -> tensor<2x8x128x64xf16>, tensor<2x2x128x64xf16>,
           tensor<2x2x128x64xf16>
    ```
  }];

  let arguments = !con(
    (ins AnyRankedTensor:$q, AnyRankedTensor:$k, AnyRankedTensor:$v,
         AnyRankedTensor:$o, AnyRankedTensor:$grad_o,
         Optional<AnyRankedTensor>:$lse),
    Attn_SpecOperands, Attn_SpecAttributes);
  let results = (outs AnyRankedTensor:$grad_q, AnyRankedTensor:$grad_k,
                      AnyRankedTensor:$grad_v,
                      Optional<AnyRankedTensor>:$grad_bias);
  let regions = (region AnyRegion:$score_mod, AnyRegion:$mask_mod);

  let assemblyFormat = !strconcat(
    "$q `,` $k `,` $v `,` $o `,` $grad_o (`lse` `(` $lse^ `:` type($lse) `)`)?",
    Attn_SpecFormat, Attn_SpecRegionsFormat, [{
    `:` type($q) `,` type($k) `,` type($v) `,` type($o) `,` type($grad_o)
    `->` type($grad_q) `,` type($grad_k) `,` type($grad_v)
    (`,` type($grad_bias)^)?
  }]);
  let extraClassDeclaration = [{
    /// Whether the bias has one element per score, [B, Hq, Sq, Skv]: no
    /// dimension of size 1 where the scores have more (its gradient is then
    /// written in place rather than summed over broadcast dimensions).
    bool hasScoreShapedBias();
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
}

def Attn_LinearAttentionOp : Attn_Op<"linear_attention", [
    Pure, AttrSizedOperandSegments, AttrSizedResultSegments,
    DeclareOpInterfaceMethods<ReifyRankedShapedTypeOpInterface,
                              ["reifyResultShapes"]>,
    DeclareOpInterfaceMethods<Attn_KernelOpInterface>]> {
  let summary = "Linear attention with a feature map, causal or not";
  let description = [{
    Replaces `softmax(q k^T) v` by `phi(q) (phi(k)^T v)`, with `phi` the
    `feature_map` (a FeatureMapAttrInterface attribute: `#attn.elu_plus_one`,
    `#attn.relu`, `#attn.favor`, `#attn.cosformer`, `#attn.hedgehog`,
    `#attn.taylor`). For every batch `b` and query head `h` (key/value head
    `h / G`, `G = Hq / Hkv`), with the state `S` (`[F, Dv]`) and normalizer
    `z` (`[F]`) starting from `initial_state` / `initial_normalizer` (zero
    when absent):

    - `causal`: for `i` in `0 .. S-1` (Sq = Skv),
      `S_i = gamma S_{i-1} + phi(k_i) v_i^T`, `z_i = gamma z_{i-1} + phi(k_i)`,
      `o_i = phi(q_i) S_i / (phi(q_i) . z_i + eps)`;
    - not causal: `S = S_init + sum_j phi(k_j) v_j^T` (likewise `z`) and
      `o_i = phi(q_i) S / (phi(q_i) . z + eps)`.

    `gamma` is the per-query-head `decay` operand (`[Hq]`, RetNet and
    Lightning Attention; causal only), 1 when absent.

    `gate` makes the decay data-dependent (causal only, not with `decay`):
    a log-space gate per token, `[B, Hq, S]` (one scalar per token and head:
    gated RetNet, Mamba2-style simple GLA) or `[B, Hq, S, F]` (one per token
    and feature: GLA), so that `S_i = diag(exp(g_i)) S_{i-1} + phi(k_i)
    v_i^T` (likewise `z`). The lowerings work with differences of cumulative
    gates within a chunk, which stay finite however long the sequence (for
    gates <= 0, the usual `log sigmoid` form).

    `delta_rule` replaces the additive update by the delta rule (DeltaNet,
    Yang et al. 2024; causal, `normalization(none)`), with `beta` the
    per-token, per-head write strength (`[B, Hq, S]`, a sigmoid in the
    models): `S_i = exp(g_i) (I - beta_i phi(k_i) phi(k_i)^T) S_{i-1} +
    beta_i phi(k_i) v_i^T`, `g` the per-token `gate` when given (Gated
    DeltaNet), else 0. The lowerings use the WY / UT form of the products of
    those transitions within a chunk. Keys are usually L2-normalized first,
    which keeps every transition a contraction for beta in (0, 2).

    `scale` multiplies the query features, `phi(q_i)` becoming
    `scale phi(q_i)`. It defaults to `D^(-1/2)` with `#attn.identity` and
    `#attn.l2_normalize`, as the linear-attention libraries scale such
    queries, and to 1 with every other map (whose normalized output does not depend on it but for
    `eps`). With
    `normalization(none)` the output is the numerator `phi(q_i) S_i` and
    there is no normalizer. `eps` defaults to 1e-6; with `eps(0.0)` a query
    whose features are all zero (possible with relu-based maps) gets 0 / 0,
    a NaN.

    The optional results are the state after the last key (`final_state`
    `[B, Hq, F, Dv]`, then `final_normalizer` `[B, Hq, F]` with the
    denominator normalization), so a long sequence can be processed in
    pieces: feed them to the next piece as its initial state. States are in
    the accumulation type (f32, f64 for f64 inputs); `o` has the element
    type of `q`. Shapes are those of `attn.attention`; `F` is the feature
    map's `getFeatureDim(D)`.

    ```mlir
    %o = attn.linear_attention %q, %k, %v feature_map(#attn.elu_plus_one)
        causal
        : tensor<2x8x1000x64xf16>, tensor<2x8x1000x64xf16>,
          tensor<2x8x1000x64xf16> -> tensor<2x8x1000x64xf16>

    // RetNet's retention: raw q, k scaled by D^-1/2, a decay per head.
    %o = attn.linear_attention %q, %k, %v feature_map(#attn.identity)
        causal decay(%gamma : tensor<8xf32>) normalization(none)
        : tensor<2x8x1000x64xbf16>, tensor<2x8x1000x64xbf16>,
          tensor<2x8x1000x64xbf16> -> tensor<2x8x1000x64xbf16>

    // Gated DeltaNet: the delta rule with a gate per token.
    %o = attn.linear_attention %q, %k, %v feature_map(#attn.identity)
        causal gate(%g : tensor<2x8x1000xf32>)
        delta_rule(%beta : tensor<2x8x1000xf32>) normalization(none)
        : tensor<2x8x1000x64xbf16>, tensor<2x8x1000x64xbf16>,
          tensor<2x8x1000x64xbf16> -> tensor<2x8x1000x64xbf16>

    // Gated linear attention: a gate per token and feature.
    %o = attn.linear_attention %q, %k, %v feature_map(#attn.identity)
        causal gate(%g : tensor<2x8x1000x64xf32>) normalization(none)
        : tensor<2x8x1000x64xbf16>, tensor<2x8x1000x64xbf16>,
          tensor<2x8x1000x64xbf16> -> tensor<2x8x1000x64xbf16>

    %o, %s, %z = attn.linear_attention %q, %k, %v
        feature_map(#attn.favor<features = 128, seed = 3>) causal
        decay(%gamma : tensor<8xf32>)
        initial_state(%s0 : tensor<2x8x128x64xf32>)
        initial_normalizer(%z0 : tensor<2x8x128xf32>)
        : tensor<2x8x512x64xbf16>, tensor<2x8x512x64xbf16>,
          tensor<2x8x512x64xbf16>
        -> tensor<2x8x512x64xbf16>, tensor<2x8x128x64xf32>,
           tensor<2x8x128xf32>
    ```
  }];

  let arguments = (ins
    AnyRankedTensor:$q,
    AnyRankedTensor:$k,
    AnyRankedTensor:$v,
    Optional<AnyRankedTensor>:$feature_weights,
    Optional<AnyRankedTensor>:$decay,
    Optional<AnyRankedTensor>:$gate,
    Optional<AnyRankedTensor>:$beta,
    Optional<AnyRankedTensor>:$initial_state,
    Optional<AnyRankedTensor>:$initial_normalizer,
    Attn_FeatureMapAttrInterface:$feature_map,
    UnitAttr:$causal,
    DefaultValuedAttr<Attn_LinearNormalization,
                      "::attn::LinearNormalization::Denominator">:$normalization,
    OptionalAttr<F64Attr>:$eps,
    OptionalAttr<F64Attr>:$scale
  );
  let results = (outs AnyRankedTensor:$o,
                      Optional<AnyRankedTensor>:$final_state,
                      Optional<AnyRankedTensor>:$final_normalizer);

  let assemblyFormat = [{
    $q `,` $k `,` $v `feature_map` `(` $feature_map `)`
    (`feature_weights` `(` $feature_weights^ `:` type($feature_weights) `)`)?
    (`causal` $causal^)?
    (`decay` `(` $decay^ `:` type($decay) `)`)?
    (`gate` `(` $gate^ `:` type($gate) `)`)?
    (`delta_rule` `(` $beta^ `:` type($beta) `)`)?
    (`scale` `(` $scale^ `)`)?
    (`normalization` `(` $normalization^ `)`)?
    (`eps` `(` $eps^ `)`)?
    (`initial_state` `(` $initial_state^ `:` type($initial_state) `)`)?
    (`initial_normalizer` `(` $initial_normalizer^ `:`
        type($initial_normalizer) `)`)?
    attr-dict
    `:` type($q) `,` type($k) `,` type($v) `->` type($o)
    (`,` type($final_state)^)? (`,` type($final_normalizer)^)?
  }];
  let hasVerifier = 1;

  let extraClassDeclaration = [{
    /// Shapes of the op.
    ::attn::AttentionShape getShape();
    /// Element type of features, states and accumulators: f64 for f64
    /// inputs, else f32.
    ::mlir::FloatType getComputeType();
    /// The number of features F.
    int64_t getFeatureDim();
    /// Whether the output is divided by phi(q) . z.
    bool hasDenominator() {
      return getNormalization() == ::attn::LinearNormalization::Denominator;
    }
    /// The `eps` attribute, or 1e-6.
    double getEpsOrDefault();
    /// The `scale` attribute, or its default for the feature map.
    double getScaleOrDefault();
    /// Whether the `gate` operand has a gate per feature ([B, Hq, S, F]).
    bool hasFeatureGate() {
      return getGate() &&
             ::llvm::cast<::mlir::RankedTensorType>(getGate().getType())
                     .getRank() == 4;
    }
  }];
}

def Attn_MergeOp : Attn_Op<"merge", [
    Pure, AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<ReifyRankedShapedTypeOpInterface,
                              ["reifyResultShapes"]>,
    DeclareOpInterfaceMethods<Attn_KernelOpInterface>]> {
  let summary = "Combine partial attention results over disjoint key sets";
  let description = [{
    Each partial `(o_i, lse_i)` is the normalized softmax-attention output
    over a set of keys and its log-sum-exp (`attn.attention`'s two results);
    when the key sets are disjoint, the merge is attention over their union:

    ```
    m   = max_i lse_i
    lse = m + log(sum_i exp(lse_i - m))
    o   = sum_i exp(lse_i - lse) * o_i
    ```

    An empty partial (`lse_i = -inf`, no key allowed) contributes exactly
    nothing, whatever finite `o_i` holds; when every partial is empty the
    result is `o = 0`, `lse = -inf`. This is how split-KV decoding,
    cascade (shared-prefix) attention and ring attention combine the pieces
    of a key sequence.

    Two forms:

    - a split axis: one `o` `[N, B, H, S, Dv]` and one `lse` `[N, B, H, S]`,
      partial `n` at index `n` of the leading axis (`N` may be dynamic, and
      0: every row is empty);
    - a list: `o_1 .. o_n` `[B, H, S, Dv]` and `lse_1 .. lse_n` `[B, H, S]`,
      in the same order.

    `o` partials are f16, bf16, f32 or f64, all of one type; `lse` partials
    are in the accumulation type (f32, f64 for f64 partials), in which the
    merge computes. The result `o` `[B, H, S, Dv]` may have another element
    type (f16, bf16, f32 or f64: f32 partials merged into a bf16 output);
    the optional result `lse` `[B, H, S]` has the type of the `lse`
    partials. `B` and `S` may be dynamic; `H` and `Dv` are static.

    ```mlir
    // The prefix and suffix halves of cascade attention.
    %o, %lse = attn.merge
        o(%o1, %o2 : tensor<4x8x?x64xf32>, tensor<4x8x?x64xf32>)
        lse(%l1, %l2 : tensor<4x8x?xf32>, tensor<4x8x?xf32>)
        -> tensor<4x8x?x64xbf16>, tensor<4x8x?xf32>

    // Split-KV partials stacked on a leading axis.
    %o = attn.merge o(%parts : tensor<?x1x32x1x128xf32>)
        lse(%lses : tensor<?x1x32x1xf32>) -> tensor<1x32x1x128xf16>
    ```
  }];

  let arguments = (ins Variadic<AnyRankedTensor>:$o_parts,
                       Variadic<AnyRankedTensor>:$lse_parts);
  let results = (outs AnyRankedTensor:$o, Optional<AnyRankedTensor>:$lse);

  let assemblyFormat = [{
    `o` `(` $o_parts `:` type($o_parts) `)`
    `lse` `(` $lse_parts `:` type($lse_parts) `)`
    attr-dict `->` type($o) (`,` type($lse)^)?
  }];
  let hasVerifier = 1;

  let extraClassDeclaration = [{
    /// Whether the partials come stacked on a leading axis (one rank-5 `o`)
    /// rather than as a list.
    bool isSplit();
    /// Element type of the `lse` partials, in which the merge computes.
    ::mlir::FloatType getComputeType();
  }];
}

//===----------------------------------------------------------------------===//
// Host-side ops of GPU launch plans
//===----------------------------------------------------------------------===//

def Attn_MultiprocessorCountOp : Attn_Op<"multiprocessor_count", [Pure]> {
  let summary = "The number of multiprocessors of the device a plan runs on";
  let description = [{
    A host-side value of GPU launch plans (built by `attn-to-gpu`): the
    streaming multiprocessor count of the device the kernels are launched
    on, known only at run time. The manifest writes it as the dimension
    `multiprocessors`, which the runtime binds from the driver;
    `attn-emulate-gpu` replaces it by its `multiprocessors` option.

    ```mlir
    %sms = attn.multiprocessor_count : index
    ```
  }];
  let results = (outs Index:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
}

def Attn_LaunchChoiceOp : Attn_Op<"launch_choice", [Pure,
    AllTypesMatch<["value", "result"]>]> {
  let summary = "A named run-time choice of a GPU launch plan";
  let description = [{
    Names a host-side value that a launch plan chooses at run time from the
    shapes and the device (e.g. the number of key splits of split-KV
    decoding); the result is `value`. The manifest lists each choice with
    its formula under `choices`, and the formulas of grids and workspaces
    refer to it by name.

    ```mlir
    %splits = attn.launch_choice "kv_splits" %n : index
    ```
  }];
  let arguments = (ins StrAttr:$name, Index:$value);
  let results = (outs Index:$result);
  let assemblyFormat = "$name $value attr-dict `:` type($result)";
}

def Attn_YieldOp : Attn_Op<"yield", [
    Pure, Terminator, ReturnLike,
    ParentOneOf<["AttentionOp", "AttentionBackwardOp"]>]> {
  let summary = "Yields the value of an attn region";
  let description = [{
    Ends the `score_mod` region (yielding an f32 score) and the `mask_mod`
    region (yielding an i1) of `attn.attention` and
    `attn.attention_backward`.
  }];
  let arguments = (ins AnyType:$value);
  let assemblyFormat = "$value attr-dict `:` type($value)";
}

#endif // ATTN_OPS_TD
