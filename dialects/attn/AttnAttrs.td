//===- AttnAttrs.td - attn attributes ----------------------*- tablegen -*-===//

#ifndef ATTN_ATTRS_TD
#define ATTN_ATTRS_TD

include "AttnBase.td"
include "AttnInterfaces.td"

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Attn_Alignment : I32EnumAttr<"Alignment",
    "where the diagonal of a mask sits when Sq != Skv", [
      I32EnumAttrCase<"TopLeft", 0, "top_left">,
      I32EnumAttrCase<"BottomRight", 1, "bottom_right">
    ]> {
  let cppNamespace = "::attn";
  let genSpecializedAttr = 0;
}

def Attn_AlignmentParameter : EnumParameter<Attn_Alignment> {
  let defaultValue = "::attn::Alignment::TopLeft";
}

// Lists written in brackets: `[64, 32]`, `[true, false]`, `[#attn.causal]`.
class Attn_ListParameter<string elt> : ArrayRefParameter<elt> {
  let parser = "::attn::parseBracketedList<" # elt # ">($_parser)";
  let printer = "::attn::printBracketedList($_printer, $_self)";
}
// `true` / `false`, default false.
def Attn_BoolParameter : AttrOrTypeParameter<"bool", ""> {
  let parser = "::attn::parseBool($_parser)";
  let printer = "$_printer << ($_self ? \"true\" : \"false\")";
  let defaultValue = "false";
}
// `true` / `false`, default true.
def Attn_TrueByDefaultParameter : AttrOrTypeParameter<"bool", ""> {
  let parser = "::attn::parseBool($_parser)";
  let printer = "$_printer << ($_self ? \"true\" : \"false\")";
  let defaultValue = "true";
}
// A float literal, e.g. `30.0` or `-6.9`.
class Attn_FloatParameter<string default = ""> : APFloatParameter<""> {
  let parser = "::attn::parseFloat($_parser)";
  let printer = "$_printer.printFloat($_self)";
  let defaultValue = default;
}
class Attn_OptionalListParameter<string elt>
    : OptionalArrayRefParameter<elt> {
  let parser = "::attn::parseBracketedList<" # elt # ">($_parser)";
  let printer = "::attn::printBracketedList($_printer, $_self)";
}

//===----------------------------------------------------------------------===//
// Masks
//===----------------------------------------------------------------------===//

// `overridden` names the interface methods with a default implementation
// that the mask defines itself.
class Attn_MaskAttr<string name, string mnemonic,
                    list<string> overridden = []>
    : Attn_Attr<name, mnemonic, [
        DeclareAttrInterfaceMethods<Attn_MaskAttrInterface, overridden>]>;

def Attn_CausalAttr : Attn_MaskAttr<"Causal", "causal", ["buildQueryRange"]> {
  let summary = "Causal mask: a query attends to keys at or before it";
  let description = [{
    Allows key `j` for query `i` iff `j <= i + offset`, where `offset` is 0
    for `align = top_left` (the default; PyTorch's `is_causal`) and
    `Skv - Sq` for `align = bottom_right` (FlashAttention's convention, used
    for decoding with a KV cache). With `bottom_right` and `Sq > Skv` the first
    `Sq - Skv` query rows have no key.

    ```mlir
    #attn.causal
    #attn.causal<align = bottom_right>
    ```
  }];
  let parameters = (ins Attn_AlignmentParameter:$align);
  let assemblyFormat = "(`<` struct($align)^ `>`)?";
}

def Attn_WindowAttr : Attn_MaskAttr<"Window", "window", ["buildQueryRange"]> {
  let summary = "Sliding-window (local) mask";
  let description = [{
    Allows key `j` for query `i` iff
    `i + offset - left <= j <= i + offset + right`, with `offset` as for
    `#attn.causal` (0 for `top_left`, `Skv - Sq` for `bottom_right`).
    `left = L, right = 0` is causal attention restricted to the last `L + 1`
    keys (Mistral, Gemma local layers); `right > 0` gives a symmetric window.

    ```mlir
    #attn.window<left = 256, right = 0>
    #attn.window<left = 64, right = 64, align = bottom_right>
    ```
  }];
  let parameters = (ins "int64_t":$left, "int64_t":$right,
                        Attn_AlignmentParameter:$align);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Attn_SinksAttr : Attn_MaskAttr<"Sinks", "sinks", ["buildQueryRange"]> {
  let summary = "Attention sinks: the first keys are always visible";
  let description = [{
    Allows key `j` for every query iff `j < n` (StreamingLLM's attention
    sinks). On its own it is a prefix of keys; OR it with a window to keep
    the first tokens visible to a sliding window.

    ```mlir
    #attn.or<[#attn.window<left = 1024, right = 0>, #attn.sinks<4>]>
    ```
  }];
  let parameters = (ins "int64_t":$count);
  let assemblyFormat = "`<` $count `>`";
  let genVerifyDecl = 1;
}

def Attn_NeighborhoodAttr
    : Attn_MaskAttr<"Neighborhood", "neighborhood",
                    ["verifyFor", "getTileGranularity", "buildQueryRange"]> {
  let summary = "1-D, 2-D or 3-D neighborhood attention (NATTEN semantics)";
  let description = [{
    Tokens form a row-major grid (`prod(grid) == Sq == Skv`); a key is allowed
    iff it is allowed along every axis. Along an axis of length `L` with
    window `w = kernel[a]`, dilation `d` and stride `s`: the axis splits into
    `d` interleaved groups (`x % d`), and query and key must share a group.
    In a group of length `Lg` with local index `li = x / d`, the query's
    leader is `c = li` for `s = 1`, else `min((li / s) * s + s / 2, Lg - 1)`.
    Non-causal keys are the `w` consecutive group positions starting at
    `clamp(c - w / 2, 0, Lg - w)` (the window shifts at the borders, so every
    query sees exactly `w` keys per axis); causal keys are the group
    positions `[max(c - w + 1, 0), c]`.

    `dilation`, `stride` and `causal` default to 1, 1 and false per axis.

    `tile = [t0, ...]` orders the tokens by blocks of the grid instead of
    row-major (NATTEN's and GNA's token permutation, kept across layers):
    the dilation groups one after another (row-major over the group of each
    axis), each group's sub-grid cut into blocks of `tile` (smaller at its
    far edges), the blocks in row-major order and the tokens row-major
    within a block. A kernel tile of `prod(tile)` tokens is then one block,
    so tiles are classified per axis (most far ones are empty, inner ones
    full) and the key range of a query block is computed from the blocks
    it reaches. The semantics are those of the row-major grid at the
    permuted positions; `attn_mlir.neighborhood_order` gives the
    permutation.

    ```mlir
    #attn.neighborhood<grid = [64, 32], kernel = [7, 7]>
    #attn.neighborhood<grid = [9, 11], kernel = [3, 5], dilation = [2, 2]>
    #attn.neighborhood<grid = [8, 16, 16], kernel = [3, 5, 5], causal = [true, false, false]>
    #attn.neighborhood<grid = [64, 32], kernel = [7, 7], tile = [8, 8]>
    ```
  }];
  let parameters = (ins Attn_ListParameter<"int64_t">:$grid,
                        Attn_ListParameter<"int64_t">:$kernel,
                        Attn_OptionalListParameter<"int64_t">:$dilation,
                        Attn_OptionalListParameter<"int64_t">:$stride,
                        Attn_OptionalListParameter<"bool">:$causal,
                        Attn_OptionalListParameter<"int64_t">:$tile);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getRank() const { return getGrid().size(); }
    /// Whether tokens are in block order (`tile`), not row-major.
    bool isTiled() const { return !getTile().empty(); }
    int64_t getDilationAt(int64_t axis) const {
      return getDilation().empty() ? 1 : getDilation()[axis];
    }
    int64_t getStrideAt(int64_t axis) const {
      return getStride().empty() ? 1 : getStride()[axis];
    }
    bool getCausalAt(int64_t axis) const {
      return getCausal().empty() ? false : getCausal()[axis];
    }
  }];
}

def Attn_BlockSparseAttr
    : Attn_MaskAttr<"BlockSparse", "block_sparse",
                    ["verifyFor", "getTileGranularity"]> {
  let summary = "Block-sparse mask read from a layout operand";
  let description = [{
    The op's `layout` operand (i1 or i8) of shape
    `[B or 1, Hq or 1, ceil(Sq / bq), ceil(Skv / bk)]` says which
    `bq x bk` blocks of the score matrix are computed: key `j` is allowed for
    query `i` iff `layout[b, h, i / bq, j / bk] != 0` (dimensions of size 1
    broadcast). This covers FlashInfer's block-sparse rows, Sparse
    Transformer layouts and MInference-style patterns computed by the user.
    Kernels classify each tile from the layout at run time; tiles that lie
    inside one block are skipped or computed without mask code.

    ```mlir
    #attn.block_sparse<block = [64, 64]>
    ```
  }];
  let parameters = (ins Attn_ListParameter<"int64_t">:$block);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Attn_DocumentAttr : Attn_MaskAttr<"Document", "document", ["verifyFor"]> {
  let summary = "Packed documents: attend within the same segment";
  let description = [{
    The op's `segments` operands give a segment id per query (`[B, Sq]`) and
    per key (`[B, Skv]`), i32; key `j` is allowed for query `i` iff their ids
    are equal. AND it with `#attn.causal` for packed causal training
    (variable-length sequences in one batch row). Ids may be in any order;
    kernels skip tiles whose id ranges cannot meet, which with sorted ids
    (packing) is every tile outside the diagonal blocks.
  }];
  let parameters = (ins);
}

def Attn_PrefixLMAttr : Attn_MaskAttr<"PrefixLM", "prefix_lm",
                                       ["buildQueryRange"]> {
  let summary = "Prefix-LM: bidirectional over a prefix, causal after";
  let description = [{
    Allows key `j` for query `i` iff `j < n` or `j <= i`: every query sees the
    whole prefix of `n` tokens (bidirectionally), later keys causally.

    ```mlir
    #attn.prefix_lm<128>
    ```
  }];
  let parameters = (ins "int64_t":$prefix);
  let assemblyFormat = "`<` $prefix `>`";
  let genVerifyDecl = 1;
}

def Attn_StridedAttr : Attn_MaskAttr<"Strided", "strided",
                                      ["buildQueryRange"]> {
  let summary = "Sparse Transformer strided pattern (causal)";
  let description = [{
    Allows key `j` for query `i` iff `j <= i` and either `i - j < s` (the
    local band) or `(i - j) % s == 0` (every `s`-th key back), the union of
    the two heads of Child et al.'s strided attention.

    ```mlir
    #attn.strided<stride = 128>
    ```
  }];
  let parameters = (ins "int64_t":$stride);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Attn_FixedAttr : Attn_MaskAttr<"Fixed", "fixed", ["buildQueryRange"]> {
  let summary = "Sparse Transformer fixed pattern (causal)";
  let description = [{
    Allows key `j` for query `i` iff `j <= i` and either `i / s == j / s`
    (the same block of `s`) or `j % s >= s - c` (the last `c` "summary"
    positions of every block), the union of Child et al.'s fixed heads.

    ```mlir
    #attn.fixed<stride = 128, summary = 8>
    ```
  }];
  let parameters = (ins "int64_t":$stride, "int64_t":$summary);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Attn_AndAttr : Attn_MaskAttr<"And", "and",
                                 ["verifyFor", "getTileGranularity",
                                  "buildQueryRange"]> {
  let summary = "Intersection of masks";
  let description = [{
    Allows a pair iff every operand mask allows it. The canonicalizer
    flattens nested `and`s, drops duplicates and operands that allow
    everything for static shapes, and unwraps a single operand.

    ```mlir
    #attn.and<[#attn.document, #attn.causal]>
    ```
  }];
  let parameters = (ins Attn_ListParameter<"::attn::MaskAttrInterface">:$masks);
  let assemblyFormat = "`<` $masks `>`";
  let genVerifyDecl = 1;
}

def Attn_OrAttr : Attn_MaskAttr<"Or", "or",
                                 ["verifyFor", "getTileGranularity",
                                  "buildQueryRange"]> {
  let summary = "Union of masks";
  let description = [{
    Allows a pair iff some operand mask allows it.

    ```mlir
    #attn.or<[#attn.window<left = 256, right = 0>, #attn.sinks<4>]>
    ```
  }];
  let parameters = (ins Attn_ListParameter<"::attn::MaskAttrInterface">:$masks);
  let assemblyFormat = "`<` $masks `>`";
  let genVerifyDecl = 1;
}

def Attn_NotAttr : Attn_MaskAttr<"Not", "not",
                                 ["verifyFor", "getTileGranularity"]> {
  let summary = "Complement of a mask";
  let description = [{
    Allows a pair iff the operand mask does not. `not<not<m>>` folds to `m`.

    ```mlir
    #attn.and<[#attn.causal, #attn.not<#attn.window<left = 16, right = 0>>]>
    ```
  }];
  let parameters = (ins "::attn::MaskAttrInterface":$mask);
  let assemblyFormat = "`<` $mask `>`";
}

//===----------------------------------------------------------------------===//
// Score modifiers
//===----------------------------------------------------------------------===//

class Attn_ScoreModAttr<string name, string mnemonic,
                        list<string> overridden = []>
    : Attn_Attr<name, mnemonic, [
        DeclareAttrInterfaceMethods<Attn_ScoreModAttrInterface, overridden>]>;

def Attn_AlibiAttr : Attn_ScoreModAttr<"Alibi", "alibi", ["verifyFor"]> {
  let summary = "ALiBi: a linear bias by distance, one slope per head";
  let description = [{
    Adds `slope[h] * (j - (i + offset))` to the score of query `i` and key
    `j` (`offset` as for `#attn.causal`: 0 for `top_left`, `Skv - Sq` for
    `bottom_right`), or `-slope[h] * |j - (i + offset)|` with
    `symmetric = true` (for bidirectional attention). The slopes are the op's
    `alibi_slopes` operand (`[Hq]`, f32) when given, else
    `2^(-8 (h + 1) / Hq)`.

    ```mlir
    #attn.alibi
    #attn.alibi<symmetric = true>
    ```
  }];
  let parameters = (ins Attn_BoolParameter:$symmetric,
                        Attn_AlignmentParameter:$align);
  let assemblyFormat = "(`<` struct($symmetric, $align)^ `>`)?";
}

def Attn_SoftcapAttr : Attn_ScoreModAttr<"Softcap", "softcap"> {
  let summary = "Soft-capping: c * tanh(s / c)";
  let description = [{
    Squashes scores into `(-c, c)` smoothly (Gemma 2, Grok).

    ```mlir
    #attn.softcap<50.0>
    ```
  }];
  let parameters = (ins Attn_FloatParameter<>:$cap);
  let assemblyFormat = "`<` $cap `>`";
  let genVerifyDecl = 1;
}

def Attn_BiasAttr : Attn_ScoreModAttr<"Bias", "bias", ["verifyFor"]> {
  let summary = "Adds the op's bias operand to the scores";
  let description = [{
    Adds `bias[b, h, i, j]` from the op's `bias` operand, whose shape must
    broadcast to `[B, Hq, Sq, Skv]` (each dimension equal or 1), with f16,
    bf16 or f32 elements.
  }];
  let parameters = (ins);
}

//===----------------------------------------------------------------------===//
// Normalizations
//===----------------------------------------------------------------------===//

class Attn_NormalizationAttr<string name, string mnemonic,
                             list<string> overridden = []>
    : Attn_Attr<name, mnemonic, [
        DeclareAttrInterfaceMethods<Attn_NormalizationAttrInterface,
                                    overridden>]>;

def Attn_SoftmaxAttr : Attn_NormalizationAttr<"Softmax", "softmax",
                                              ["buildBase2Weight"]> {
  let summary = "Softmax over each row (the default)";
  let parameters = (ins);
}

def Attn_SigmoidAttr : Attn_NormalizationAttr<"Sigmoid", "sigmoid",
                                              ["buildWeightDerivative"]> {
  let summary = "Sigmoid attention: weights sigmoid(s + bias), no row sum";
  let description = [{
    Each allowed score gets weight `sigmoid(s + bias)`; masked scores get 0;
    the output is the weighted sum of values without division (FlashSigmoid,
    Ramapuram et al.; they recommend `bias = -log(Skv)`).

    ```mlir
    #attn.sigmoid<bias = -6.9>
    ```
  }];
  let parameters = (ins Attn_FloatParameter<"::llvm::APFloat(0.0)">:$bias);
  let assemblyFormat = "(`<` struct($bias)^ `>`)?";
}

def Attn_ReluAttr : Attn_Attr<"Relu", "relu", [
    DeclareAttrInterfaceMethods<Attn_NormalizationAttrInterface,
                                ["buildOutputFactor",
                                 "buildWeightDerivative"]>,
    DeclareAttrInterfaceMethods<Attn_FeatureMapAttrInterface,
                                ["buildFeature"]>]> {
  let summary = "ReLU: attention weights relu(s), or the feature map relu(x)";
  let description = [{
    As the normalization of `attn.attention`, each allowed score gets weight
    `max(s, 0)`; masked scores get 0; the output is the weighted sum of
    values, divided by `Skv` when `divide_by_length = true` (Wortsman et al.).

    As the feature map of `attn.linear_attention`, `phi(x) = max(x, 0)`
    elementwise (F = D); `divide_by_length` does not apply there.

    ```mlir
    #attn.relu<divide_by_length = true>
    ```
  }];
  let parameters = (ins Attn_BoolParameter:$divide_by_length);
  let assemblyFormat = "(`<` struct($divide_by_length)^ `>`)?";
}

//===----------------------------------------------------------------------===//
// Feature maps of linear attention (ReluAttr above is one too)
//===----------------------------------------------------------------------===//

class Attn_FeatureMapAttr<string name, string mnemonic,
                          list<string> overridden = []>
    : Attn_Attr<name, mnemonic, [
        DeclareAttrInterfaceMethods<Attn_FeatureMapAttrInterface,
                                    overridden>]>;

def Attn_IdentityAttr : Attn_FeatureMapAttr<"Identity", "identity",
                                            ["buildFeature"]> {
  let summary = "phi(x) = x: the raw queries and keys (RetNet, GLA, ...)";
  let description = [{
    The features are the rows themselves, F = D: the map of retention,
    gated linear attention and the delta rule, which scale the queries by
    the op's `scale` (D^(-1/2) by default with this map) instead of
    normalizing. With the denominator normalization the denominator
    `phi(q) . z` may be zero or negative; such models use
    `normalization(none)`.
  }];
  let parameters = (ins);
}

def Attn_L2NormalizeAttr : Attn_FeatureMapAttr<"L2Normalize", "l2_normalize"> {
  let summary = "phi(x) = x / sqrt(|x|^2 + 1e-6): unit-norm rows (DeltaNet)";
  let description = [{
    Each row divided by its Euclidean norm (with 1e-6 under the square root,
    as flash-linear-attention's `l2norm`), F = D: the delta rule's keys must
    have norms near 1 for its transitions `I - beta k k^T` to stay
    contractions, and DeltaNet normalizes queries and keys so. As with
    `#attn.identity`, `scale` defaults to D^(-1/2). No per-element form (a
    feature depends on the whole row).
  }];
  let parameters = (ins);
}

def Attn_EluPlusOneAttr : Attn_FeatureMapAttr<"EluPlusOne", "elu_plus_one",
                                              ["buildFeature"]> {
  let summary = "phi(x) = elu(x) + 1 (Katharopoulos et al., 2020)";
  let description = [{
    `x + 1` for `x > 0`, `exp(x)` otherwise; positive, F = D.
  }];
  let parameters = (ins);
}

def Attn_FavorAttr : Attn_FeatureMapAttr<"Favor", "favor",
                                         ["getWeightsShape", "buildFeature",
                                          "getBuiltinWeights",
                                          "estimatesSoftmaxWeight"]> {
  let summary = "Performer FAVOR+ positive random features";
  let description = [{
    `phi(x) = exp(W x' - |x'|^2 / 2) / sqrt(m)` with `x' = x * D^(-1/4)` and
    `W` an `[m, D]` matrix of random features (Choromanski et al., 2021), so
    that `E[phi(q) . phi(k)] = exp(q . k / sqrt(D))`: linear attention with
    the denominator normalization approximates softmax attention with scale
    `1/sqrt(D)`, the better the larger `m`. F = m.

    `W` is the op's `feature_weights` operand (`[m, D]`) when `seed` is
    absent. With `seed = s` the compiler generates it, deterministically on
    every machine (`attn::generateFavorWeights`):

    - A splitmix64 stream seeded with `s` gives uniform doubles in (0, 1]
      (the top 53 bits, plus 2^-53), and pairs of them give standard normals
      by Box-Muller (`sqrt(-2 ln u1) cos(2 pi u2)`, then `... sin(...)`).
    - `orthogonal = false`: `W` is filled with normals row by row.
    - `orthogonal = true` (the default): `W` is built in blocks of `D` rows
      (the last block truncated). A block is a `D x D` Gaussian matrix,
      filled row by row, whose rows are orthonormalized by modified
      Gram-Schmidt; then each row is scaled by the norm of a fresh Gaussian
      `D`-vector (a chi-distributed length with `D` degrees of freedom), so
      rows are exactly orthogonal within a block and have the lengths of
      Gaussian rows.

    `exp` of large projections overflows: the features are not stabilized
    by subtracting a maximum (that would not cancel without the
    denominator), so keep `|x'|` moderate (as Performer's inputs are).

    ```mlir
    #attn.favor<features = 256, seed = 7>
    #attn.favor<features = 64, seed = 1, orthogonal = false>
    #attn.favor<features = 128>   // W from the feature_weights operand
    ```
  }];
  let parameters = (ins "int64_t":$features,
                        OptionalParameter<"std::optional<int64_t>">:$seed,
                        Attn_TrueByDefaultParameter:$orthogonal);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Attn_CosformerAttr : Attn_FeatureMapAttr<"Cosformer", "cosformer",
                                             ["isPositional", "buildFeature"]> {
  let summary = "cosFormer: relu features with a cos/sin re-weighting";
  let description = [{
    `phi(x_i) = [relu(x_i) cos(pi i / 2M), relu(x_i) sin(pi i / 2M)]` for the
    row at sequence position `i` (Qin et al., 2022), so that
    `phi(q_i) . phi(k_j) = relu(q_i) . relu(k_j) cos(pi (i - j) / 2M)`.
    `M` is `max_len` when given, else the longer of Sq and Skv. F = 2D.
    Positions restart at 0 in each op, so a sequence cannot be split into
    pieces with state passing.

    ```mlir
    #attn.cosformer
    #attn.cosformer<max_len = 8192>
    ```
  }];
  let parameters = (ins OptionalParameter<"std::optional<int64_t>">:$max_len);
  let assemblyFormat = "(`<` struct(params)^ `>`)?";
  let genVerifyDecl = 1;
}

def Attn_HedgehogAttr : Attn_FeatureMapAttr<"Hedgehog", "hedgehog",
                                            ["getWeightsShape"]> {
  let summary = "Hedgehog: a learned projection followed by softmaxes";
  let description = [{
    `phi(x) = [softmax(x W), softmax(-x W)]` with `W` the op's
    `feature_weights` operand `[D, features]`, each softmax over the
    `features` entries (Zhang et al., 2024). F = 2 * features.

    ```mlir
    #attn.hedgehog<features = 64>
    ```
  }];
  let parameters = (ins "int64_t":$features);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Attn_TaylorAttr : Attn_FeatureMapAttr<"Taylor", "taylor",
                                          ["buildFeature",
                                           "estimatesSoftmaxWeight"]> {
  let summary = "Taylor expansion of exp (Based, Arora et al., 2024)";
  let description = [{
    Features whose dot product is the Taylor expansion of `exp(q.k/sqrt(D))`
    to `order` 1 or 2:
    `phi(q) . phi(k) = 1 + q.k / sqrt(D) (+ (q.k)^2 / (2 D) for order 2)`,
    with `phi(x) = [1, x / D^(1/4), vec(x x^T) / (sqrt(2) sqrt(D))]`.
    F = 1 + D (+ D^2 for order 2), so this map is for small head dimensions
    (Based uses D = 16).

    ```mlir
    #attn.taylor<order = 2>
    ```
  }];
  let parameters = (ins DefaultValuedParameter<"int64_t", "2">:$order);
  let assemblyFormat = "(`<` struct(params)^ `>`)?";
  let genVerifyDecl = 1;
}

def Attn_LinearNormalization : I32EnumAttr<"LinearNormalization",
    "how linear attention normalizes its output", [
      I32EnumAttrCase<"Denominator", 0, "denominator">,
      I32EnumAttrCase<"None", 1, "none">
    ]> {
  let cppNamespace = "::attn";
}

def Attn_PageLayout : I32EnumAttr<"PageLayout",
    "how a page of a paged KV cache holds its keys and heads", [
      I32EnumAttrCase<"NHD", 0, "nhd">,
      I32EnumAttrCase<"HND", 1, "hnd">
    ]> {
  let cppNamespace = "::attn";
}

#endif // ATTN_ATTRS_TD
