//===- AttnInterfaces.td - attn attribute interfaces -------*- tablegen -*-===//
//
// Interfaces through which every lowering talks to masks. A mask written as
// one attribute implementing MaskAttrInterface works in the reference
// lowering, the tiled CPU kernel, the GPU kernel and the static reports.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_INTERFACES_TD
#define ATTN_INTERFACES_TD

include "mlir/IR/OpBase.td"

def Attn_MaskAttrInterface : AttrInterface<"MaskAttrInterface"> {
  let cppNamespace = "::attn";
  let description = [{
    A mask decides which (query, key) pairs may attend. Its definitions are
    written once with `IndexExpr` arithmetic, which either folds to integers
    (static analysis: verifiers, tile reports) or emits `arith` ops (kernels),
    so the reference, CPU and GPU lowerings cannot disagree.

    Positions are absolute: query index `q` in `[0, Sq)`, key index `kv` in
    `[0, Skv)`. Tiles are half-open ranges `[qLo, qHi) x [kvLo, kvHi)`, already
    clipped to the sequence lengths by the caller.
  }];

  let methods = [
    InterfaceMethod<
      /*desc=*/[{
        Returns whether key `point.kv` may be attended by query `point.q`
        (an i1, or a vector of i1 when the positions are vectors).
      }],
      /*retTy=*/"::attn::PredExpr",
      /*methodName=*/"buildAllowed",
      /*args=*/(ins "::attn::IndexExprBuilder &":$builder,
                    "const ::attn::MaskContext &":$context,
                    "const ::attn::MaskPoint &":$point)
    >,
    InterfaceMethod<
      /*desc=*/[{
        Classifies a tile: `empty` must only hold when no pair of the tile is
        allowed, `full` only when every pair is. Leaving both false (a
        partial tile) is always correct.
      }],
      /*retTy=*/"::attn::TileClassExpr",
      /*methodName=*/"buildTileClass",
      /*args=*/(ins "::attn::IndexExprBuilder &":$builder,
                    "const ::attn::MaskContext &":$context,
                    "const ::attn::MaskTile &":$tile)
    >,
    InterfaceMethod<
      /*desc=*/[{
        Returns keys `[lo, hi)` that contain every key any query of
        `[qLo, qHi)` may attend (a superset is correct; the tighter, the
        fewer tiles a kernel visits). The result is clipped to `[0, Skv)`.
      }],
      /*retTy=*/"::attn::IndexRange",
      /*methodName=*/"buildKvRange",
      /*args=*/(ins "::attn::IndexExprBuilder &":$builder,
                    "const ::attn::MaskContext &":$context,
                    "::attn::IndexExpr":$qLo, "::attn::IndexExpr":$qHi)
    >,
    InterfaceMethod<
      /*desc=*/[{
        Returns queries `[lo, hi)` that contain every query that may attend
        any key of `[kvLo, kvHi)`: the other direction of `buildKvRange`,
        for the key-tile loops of a backward (a superset is correct; `lo >=
        hi` is an empty range). The result is clipped to `[0, Sq)`; the
        default is every query.
      }],
      /*retTy=*/"::attn::IndexRange",
      /*methodName=*/"buildQueryRange",
      /*args=*/(ins "::attn::IndexExprBuilder &":$builder,
                    "const ::attn::MaskContext &":$context,
                    "::attn::IndexExpr":$kvLo, "::attn::IndexExpr":$kvHi),
      /*methodBody=*/"",
      /*defaultImplementation=*/"return {0, context.qLen};"
    >,
    InterfaceMethod<
      /*desc=*/[{
        Query and key extents that tile sizes should divide for tiles to be
        classified exactly (a block-sparse mask's block); 0 where any size
        does.
      }],
      /*retTy=*/"std::pair<int64_t, int64_t>",
      /*methodName=*/"getTileGranularity",
      /*args=*/(ins),
      /*methodBody=*/"",
      /*defaultImplementation=*/"return {0, 0};"
    >,
    InterfaceMethod<
      /*desc=*/[{
        Checks the mask against the op that carries it: its shapes (dynamic
        sizes are `ShapedType::kDynamic`) and the operands the mask reads.
      }],
      /*retTy=*/"::llvm::LogicalResult",
      /*methodName=*/"verifyFor",
      /*args=*/(ins "::mlir::Operation *":$op,
                    "const ::attn::AttentionShape &":$shape),
      /*methodBody=*/"",
      /*defaultImplementation=*/"return ::mlir::success();"
    >,
  ];
}

def Attn_ScoreModAttrInterface : AttrInterface<"ScoreModAttrInterface"> {
  let cppNamespace = "::attn";
  let description = [{
    A score modifier maps a scaled score `s` at position (b, h, q, kv) to a
    new score before masking: ALiBi adds a per-head linear bias, soft-capping
    squashes `s` into `(-c, c)`, a bias operand adds a tensor. Scores are
    floats of the compute type (scalars or vectors); positions are IndexExpr.
  }];
  let methods = [
    InterfaceMethod<
      /*desc=*/"Returns the modified score.",
      /*retTy=*/"::mlir::Value",
      /*methodName=*/"buildScoreMod",
      /*args=*/(ins "::attn::IndexExprBuilder &":$builder,
                    "const ::attn::ScoreContext &":$context,
                    "::mlir::Value":$score)
    >,
    InterfaceMethod<
      /*desc=*/"Checks the modifier against the op that carries it.",
      /*retTy=*/"::llvm::LogicalResult",
      /*methodName=*/"verifyFor",
      /*args=*/(ins "::mlir::Operation *":$op,
                    "const ::attn::AttentionShape &":$shape),
      /*methodBody=*/"",
      /*defaultImplementation=*/"return ::mlir::success();"
    >,
  ];
}

def Attn_NormalizationAttrInterface
    : AttrInterface<"NormalizationAttrInterface"> {
  let cppNamespace = "::attn";
  let description = [{
    How scores become weights. Softmax normalizes each row (weights
    `exp(s - max)` divided by their sum, which needs the row max and gives a
    log-sum-exp); pointwise normalizations (sigmoid, relu) weight each score
    on its own and sum without dividing. A masked score is `-inf` and every
    normalization must give it weight 0.
  }];
  let methods = [
    InterfaceMethod<
      /*desc=*/[{
        Whether weights are divided by their row sum (softmax). Only such
        normalizations need the running row max and define `lse`.
      }],
      /*retTy=*/"bool",
      /*methodName=*/"normalizesRows",
      /*args=*/(ins)
    >,
    InterfaceMethod<
      /*desc=*/[{
        The unnormalized weight of `score`; `rowMax` is the (running) row
        maximum for row-normalizing kinds and unused otherwise.
      }],
      /*retTy=*/"::mlir::Value",
      /*methodName=*/"buildWeight",
      /*args=*/(ins "::mlir::OpBuilder &":$builder, "::mlir::Location":$loc,
                    "::mlir::Value":$score, "::mlir::Value":$rowMax)
    >,
    InterfaceMethod<
      /*desc=*/[{
        Row-normalizing kinds: the weight of the score `score * scale`
        (`score` raw, f32) in the base-2 form the GPU kernels use, with
        `negMaxLog2e` = -(row maximum) * log2(e), or 0 while the row has no
        allowed key (so that a -inf score gives 0 without a select per
        score). Softmax builds `exp2(fma(score, scale * log2(e),
        negMaxLog2e))`: one FMA and the hardware ex2 per score, the scale
        folded in. A null value means the kind has no such form (use
        `buildWeight`).
      }],
      /*retTy=*/"::mlir::Value",
      /*methodName=*/"buildBase2Weight",
      /*args=*/(ins "::mlir::OpBuilder &":$builder, "::mlir::Location":$loc,
                    "::mlir::Value":$score, "double":$scale,
                    "::mlir::Value":$negMaxLog2e),
      /*methodBody=*/"",
      /*defaultImplementation=*/"return ::mlir::Value();"
    >,
    InterfaceMethod<
      /*desc=*/[{
        Pointwise kinds: the derivative of the weight with respect to the
        score at `score`, whose weight (`buildWeight`) is `weight`; 0 for a
        masked (-inf) score. Row-normalizing kinds return null: their
        backward goes through the row's log-sum-exp instead.
      }],
      /*retTy=*/"::mlir::Value",
      /*methodName=*/"buildWeightDerivative",
      /*args=*/(ins "::mlir::OpBuilder &":$builder, "::mlir::Location":$loc,
                    "::mlir::Value":$score, "::mlir::Value":$weight),
      /*methodBody=*/"",
      /*defaultImplementation=*/"return ::mlir::Value();"
    >,
    InterfaceMethod<
      /*desc=*/[{
        A factor applied to every output element (a float of `type`), or a
        null value when there is none. `kvLen` is Skv as an index.
      }],
      /*retTy=*/"::mlir::Value",
      /*methodName=*/"buildOutputFactor",
      /*args=*/(ins "::mlir::OpBuilder &":$builder, "::mlir::Location":$loc,
                    "::mlir::Value":$kvLen, "::mlir::FloatType":$type),
      /*methodBody=*/"",
      /*defaultImplementation=*/"return ::mlir::Value();"
    >,
  ];
}

def Attn_FeatureMapAttrInterface : AttrInterface<"FeatureMapAttrInterface"> {
  let cppNamespace = "::attn";
  let description = [{
    A feature map `phi` of linear attention: `phi(q) . phi(k)` stands for the
    similarity of a query and a key, so that attention can be computed from
    the state `sum_j phi(k_j) v_j^T` in time linear in the sequence length.
    The map is written once on tensors of rows (`[B, H, n, D]` to
    `[B, H, n, F]`, linalg on tensors in the compute type), which the
    reference and every chunk of the kernels apply to their rows.
  }];
  let methods = [
    InterfaceMethod<
      /*desc=*/"The number of features F for head dimension `headDim`.",
      /*retTy=*/"int64_t",
      /*methodName=*/"getFeatureDim",
      /*args=*/(ins "int64_t":$headDim)
    >,
    InterfaceMethod<
      /*desc=*/[{
        Returns `phi(x)`, a `[B, H, n, F]` tensor of the compute type, for
        `x`, a `[B, H, n, D]` tensor of the compute type whose row `r` is
        sequence position `context.positionOffset + r`.
      }],
      /*retTy=*/"::mlir::Value",
      /*methodName=*/"buildFeatures",
      /*args=*/(ins "::mlir::OpBuilder &":$builder, "::mlir::Location":$loc,
                    "const ::attn::FeatureMapContext &":$context,
                    "::mlir::Value":$x)
    >,
    InterfaceMethod<
      /*desc=*/[{
        The shape the `feature_weights` operand must have for head dimension
        `headDim`, or nothing when the map reads no weights.
      }],
      /*retTy=*/"std::optional<::llvm::SmallVector<int64_t>>",
      /*methodName=*/"getWeightsShape",
      /*args=*/(ins "int64_t":$headDim),
      /*methodBody=*/"",
      /*defaultImplementation=*/"return std::nullopt;"
    >,
    InterfaceMethod<
      /*desc=*/[{
        Feature `feature` (an index below F) of one row, in the compute type,
        for kernels that compute features one element at a time (the GPU
        kernel, each thread its own elements). The row, its position and the
        weights are read through `context`. Returns null when the map has no
        such form (its features depend on each other, as Hedgehog's
        softmaxes do).
      }],
      /*retTy=*/"::mlir::Value",
      /*methodName=*/"buildFeature",
      /*args=*/(ins "::mlir::OpBuilder &":$builder, "::mlir::Location":$loc,
                    "const ::attn::FeatureElementContext &":$context,
                    "::mlir::Value":$feature),
      /*methodBody=*/"",
      /*defaultImplementation=*/"return {};"
    >,
    InterfaceMethod<
      /*desc=*/[{
        Weights the map carries itself (row-major, the shape of
        `getWeightsShape` would have), which it reads in place of a
        `feature_weights` operand; nothing when it carries none.
      }],
      /*retTy=*/"std::optional<std::vector<double>>",
      /*methodName=*/"getBuiltinWeights",
      /*args=*/(ins "int64_t":$headDim),
      /*methodBody=*/"",
      /*defaultImplementation=*/"return std::nullopt;"
    >,
    InterfaceMethod<
      /*desc=*/[{
        Whether `phi` depends on the sequence position (then a sequence cannot
        be processed in pieces with state passing).
      }],
      /*retTy=*/"bool",
      /*methodName=*/"isPositional",
      /*args=*/(ins),
      /*methodBody=*/"",
      /*defaultImplementation=*/"return false;"
    >,
    InterfaceMethod<
      /*desc=*/[{
        Whether `phi(q) . phi(k)` is a positive estimate of
        `exp(q . k / sqrt(D))` (so the map can stand for softmax's weights
        outside an exact support: attn.attention's `approximation`).
      }],
      /*retTy=*/"bool",
      /*methodName=*/"estimatesSoftmaxWeight",
      /*args=*/(ins),
      /*methodBody=*/"",
      /*defaultImplementation=*/"return false;"
    >,
  ];
}

def Attn_KernelOpInterface : OpInterface<"KernelOpInterface"> {
  let cppNamespace = "::attn";
  let description = [{
    An op that becomes one kernel. It names its operands, results and their
    dimensions (`B`, `Hq`, `Sq`, ...), so that the JIT, the runtime manifest
    and the tools can check shapes by name and report mismatches in the
    user's vocabulary.
  }];
  let methods = [
    InterfaceMethod<"Name of operand `index` (e.g. \"q\").",
      "::llvm::StringRef", "getOperandRole", (ins "unsigned":$index)>,
    InterfaceMethod<"Name of result `index` (e.g. \"o\").",
      "::llvm::StringRef", "getResultRole", (ins "unsigned":$index)>,
    InterfaceMethod<[{
        Names of the dimensions of operand `index`; dimensions that must agree
        across operands and results share a name.
      }],
      "::llvm::SmallVector<::attn::DimName>", "getOperandDimNames",
      (ins "unsigned":$index)>,
    InterfaceMethod<"Names of the dimensions of result `index`.",
      "::llvm::SmallVector<::attn::DimName>", "getResultDimNames",
      (ins "unsigned":$index)>,
  ];
}

def Attn_AttentionSpecOpInterface : OpInterface<"AttentionSpecOpInterface"> {
  let cppNamespace = "::attn";
  let description = [{
    An op that carries an attention spec: q, k and v, the auxiliary operands
    masks and modifiers read, the mask, score modifiers, normalization and
    scale, and the score_mod and mask_mod regions. The forward
    (`attn.attention`) and the backward (`attn.attention_backward`) share it,
    so that the score function, the mask-aware tile loops and the sequence
    layouts are written once for both.
  }];
  let methods = [
    InterfaceMethod<"The queries.",
      "::mlir::TypedValue<::mlir::RankedTensorType>", "getQ", (ins),
      "return $_op.getQ();">,
    InterfaceMethod<"The keys.",
      "::mlir::TypedValue<::mlir::RankedTensorType>", "getK", (ins),
      "return $_op.getK();">,
    InterfaceMethod<"The values.",
      "::mlir::TypedValue<::mlir::RankedTensorType>", "getV", (ins),
      "return $_op.getV();">,
    InterfaceMethod<"The mask attribute, or null.",
      "::attn::MaskAttrInterface", "getMaskAttr", (ins),
      "return $_op.getMaskAttr();">,
    InterfaceMethod<"The score modifiers, or null.",
      "::mlir::ArrayAttr", "getScoreModsAttr", (ins),
      "return $_op.getScoreModsAttr();">,
    InterfaceMethod<"The normalization attribute, or null (softmax).",
      "::attn::NormalizationAttrInterface", "getNormalizationAttr", (ins),
      "return $_op.getNormalizationAttr();">,
    InterfaceMethod<"The scale attribute, or null (1/sqrt(D)).",
      "::mlir::FloatAttr", "getScaleAttr", (ins),
      "return $_op.getScaleAttr();">,
    InterfaceMethod<"How paged k and v hold a page.",
      "::attn::PageLayout", "getPageLayout", (ins),
      "return $_op.getPageLayout();">,
    InterfaceMethod<"Whether rows without an allowed key are accepted.",
      "bool", "getAllowEmptyRows", (ins),
      "return $_op.getAllowEmptyRows();">,
    InterfaceMethod<"The score_mod region (empty when absent).",
      "::mlir::Region &", "getScoreMod", (ins),
      "return $_op.getScoreMod();">,
    InterfaceMethod<"The mask_mod region (empty when absent).",
      "::mlir::Region &", "getMaskMod", (ins),
      "return $_op.getMaskMod();">,
    InterfaceMethod<[{
        The auxiliary operands (include/attn/Dialect/AuxOperands.def),
        indexed by AuxOperand; null where absent.
      }],
      "::attn::AuxOperandValues", "getAuxOperands", (ins)>,
  ];
  let extraSharedClassDeclaration = [{
    /// The scale applied to q.k: the `scale` attribute or 1/sqrt(D).
    double getScaleOrDefault() {
      return ::attn::detail::getScaleOrDefault($_op.getOperation());
    }
    /// Shapes of the op, as the masks and lowerings see them.
    ::attn::AttentionShape getShape() {
      return ::attn::detail::getShape($_op.getOperation());
    }
    /// Element type of scores and accumulators: f64 for f64 inputs, else f32.
    ::mlir::FloatType getComputeType() {
      return ::attn::detail::getComputeType($_op.getOperation());
    }
    /// The normalization attribute, softmax when absent.
    ::attn::NormalizationAttrInterface getNormalizationOrDefault() {
      return ::attn::detail::getNormalizationOrDefault($_op.getOperation());
    }
    /// The score modifiers in the order they apply.
    ::llvm::SmallVector<::attn::ScoreModAttrInterface> getScoreModList() {
      return ::attn::detail::getScoreModList($_op.getOperation());
    }
  }];
}

#endif // ATTN_INTERFACES_TD
