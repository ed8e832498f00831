//===- AttnOps.cpp - attn operations --------------------------------------===//

#include "attn/Dialect/Attn.h"
#include "attn/Dialect/MaskAnalysis.h"
#include "attn/Dialect/ScoreDerivative.h"
#include "attn/Dialect/SequenceLayout.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/Format.h"

#include <cmath>

using namespace mlir;
using namespace attn;

#define GET_OP_CLASSES
#include "attn/Dialect/AttnOps.cpp.inc"

namespace {
bool isSupportedElementType(Type t) { return t.isF16() || t.isBF16() || t.isF32() || t.isF64(); }

/// Prints a shape as `[2, ?, 37, 64]`.
std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << '[';
  llvm::interleaveComma(shape, os, [&](int64_t d) {
    if (ShapedType::isDynamic(d))
      os << '?';
    else
      os << d;
  });
  os << ']';
  return s;
}

/// Checks that dimension `dim` agrees between two operands where both are
/// static.
LogicalResult checkSameDim(Operation *op, StringRef what, StringRef aName,
                           RankedTensorType a, StringRef bName,
                           RankedTensorType b, unsigned dim) {
  int64_t da = a.getDimSize(dim), db = b.getDimSize(dim);
  if (ShapedType::isDynamic(da) || ShapedType::isDynamic(db) || da == db)
    return success();
  return op->emitOpError() << what << " of '" << aName << "' (" << da
                           << ") and '" << bName << "' (" << db
                           << ") must be equal";
}

/// Checks that `value` (operand or result `name`) has type `expected`,
/// described by `layout`.
LogicalResult checkType(Operation *op, Value value, StringRef kind,
                        StringRef name, RankedTensorType expected,
                        StringRef layout) {
  if (value.getType() == expected)
    return success();
  return op->emitOpError() << kind << " '" << name << "' must be " << expected
                           << " (" << layout << "), got " << value.getType();
}

/// Checks q, k and v against their row layouts (dense: q [B, Hq, Sq, D],
/// k [B, Hkv, Skv, D], v [B, Hkv, Skv, Dv]): ranks, element types, static
/// head counts and dimensions, agreeing sizes and the grouped-query ratio.
LogicalResult verifyQueryKeyValue(
    Operation *op, RankedTensorType q, RankedTensorType k, RankedTensorType v,
    const RowLayout &qLayout = SequenceLayout::queryLayout(QueryForm::Dense),
    const RowLayout &kvLayout =
        SequenceLayout::keyLayout(KeyForm::Dense, PageLayout::NHD)) {
  struct Input {
    StringRef name;
    std::string layout;
    RankedTensorType type;
    const RowLayout &rows;
  };
  Input inputs[] = {{"q", qLayout.text("Hq", "D"), q, qLayout},
                    {"k", kvLayout.text("Hkv", "D"), k, kvLayout},
                    {"v", kvLayout.text("Hkv", "Dv"), v, kvLayout}};
  for (const Input &in : inputs) {
    if (in.type.getRank() != in.rows.rank) {
      InFlightDiagnostic diag = op->emitOpError()
                                << "'" << in.name << "' must be a rank-"
                                << in.rows.rank << " tensor " << in.layout
                                << ", got " << in.type;
      if (isa<AttentionOp>(op) && in.rows.rank == 4 && in.type.getRank() == 3)
        diag << "; packed sequences [T, H, D] need "
             << (in.name == "q" ? "cu_seqlens_q" : "cu_seqlens_kv");
      return diag;
    }
    if (!isSupportedElementType(in.type.getElementType()))
      return op->emitOpError()
             << "unsupported element type " << in.type.getElementType()
             << " of '" << in.name
             << "'; use f16, bf16 or f32 (f64 for references)";
  }
  Type elementType = q.getElementType();
  if (k.getElementType() != elementType || v.getElementType() != elementType)
    return op->emitOpError()
           << "'q', 'k' and 'v' must have one element type, got "
           << elementType << ", " << k.getElementType() << ", "
           << v.getElementType()
           << "; convert the inputs (arith.extf / arith.truncf) first";
  for (const Input &in : inputs) {
    if (in.type.isDynamicDim(in.rows.headDim) ||
        in.type.isDynamicDim(in.rows.featureDim))
      return op->emitOpError()
             << "the head count and head dimension of '" << in.name
             << "' must be static, got shape "
             << shapeString(in.type.getShape()) << " for " << in.layout;
  }
  // k and v agree in every dimension but the last; q and k in the batch
  // when both have one.
  for (unsigned d = 0; d + 1 < kvLayout.rank; ++d) {
    StringRef what = "key/value head counts";
    if (d != kvLayout.headDim)
      what = llvm::StringSwitch<StringRef>(
                 kvLayout.otherDims[d < kvLayout.headDim ? d : d - 1])
                 .Case("B", "batch sizes")
                 .Case("Skv", "key lengths (Skv)")
                 .Case("Tk", "packed key lengths (Tk)")
                 .Case("Pages", "page counts")
                 .Default("page sizes (P)");
    if (failed(checkSameDim(op, what, "k", k, "v", v, d)))
      return failure();
  }
  if (qLayout.rank == 4 && kvLayout.otherDims.front() == "B" &&
      failed(checkSameDim(op, "batch sizes", "q", q, "k", k, 0)))
    return failure();
  int64_t headDim = q.getDimSize(qLayout.featureDim);
  if (headDim != k.getDimSize(kvLayout.featureDim))
    return op->emitOpError() << "head dimension D of 'q' (" << headDim
                             << ") and 'k' ("
                             << k.getDimSize(kvLayout.featureDim)
                             << ") must be equal";
  int64_t qHeads = q.getDimSize(qLayout.headDim),
          kvHeads = k.getDimSize(kvLayout.headDim);
  if (kvHeads == 0 || qHeads % kvHeads != 0)
    return op->emitOpError()
           << "query heads (" << qHeads
           << ") must be a multiple of key/value heads (" << kvHeads
           << "): in grouped-query attention each key/value head serves "
              "Hq / Hkv query heads";
  return success();
}

/// The sizes of an op on q, k and v.
AttentionShape shapeOf(RankedTensorType q, RankedTensorType k,
                       RankedTensorType v) {
  return AttentionShape{q.getDimSize(0), q.getDimSize(1), k.getDimSize(1),
                        q.getDimSize(2), k.getDimSize(2), q.getDimSize(3),
                        v.getDimSize(3)};
}

/// f64 for f64 inputs, else f32.
FloatType computeTypeOf(RankedTensorType q) {
  if (q.getElementType().isF64())
    return Float64Type::get(q.getContext());
  return Float32Type::get(q.getContext());
}
} // namespace

namespace attn::detail {
double getScaleOrDefault(Operation *op) {
  auto spec = cast<AttentionSpecOpInterface>(op);
  if (FloatAttr scale = spec.getScaleAttr())
    return scale.getValueAsDouble();
  return 1.0 / std::sqrt(double(spec.getShape().headDim));
}

AttentionShape getShape(Operation *op) {
  auto spec = cast<AttentionSpecOpInterface>(op);
  SequenceLayout layout(spec);
  RankedTensorType q = spec.getQ().getType(), k = spec.getK().getType(),
                   v = spec.getV().getType();
  if (layout.isDense())
    return shapeOf(q, k, v);
  // Lengths differ between sequences: static analyses see them as unknown.
  RowLayout qRows = layout.queryLayout(), kvRows = layout.keyLayout();
  int64_t batch = ShapedType::kDynamic;
  if (layout.queryForm() == QueryForm::Dense)
    batch = q.getDimSize(0);
  else if (int64_t n = cast<RankedTensorType>(
                           spec.getAuxOperands()[size_t(AuxOperand::CuSeqlensQ)]
                               .getType())
                           .getDimSize(0);
           !ShapedType::isDynamic(n))
    batch = n - 1;
  return AttentionShape{
      batch,
      q.getDimSize(qRows.headDim),
      k.getDimSize(kvRows.headDim),
      layout.queryForm() == QueryForm::Dense ? q.getDimSize(2)
                                             : ShapedType::kDynamic,
      ShapedType::kDynamic,
      q.getDimSize(qRows.featureDim),
      v.getDimSize(kvRows.featureDim)};
}

NormalizationAttrInterface getNormalizationOrDefault(Operation *op) {
  if (NormalizationAttrInterface n =
          cast<AttentionSpecOpInterface>(op).getNormalizationAttr())
    return n;
  return SoftmaxAttr::get(op->getContext());
}

SmallVector<ScoreModAttrInterface> getScoreModList(Operation *op) {
  SmallVector<ScoreModAttrInterface> mods;
  if (ArrayAttr list = cast<AttentionSpecOpInterface>(op).getScoreModsAttr())
    for (Attribute a : list)
      mods.push_back(cast<ScoreModAttrInterface>(a));
  return mods;
}

FloatType getComputeType(Operation *op) {
  return computeTypeOf(cast<AttentionSpecOpInterface>(op).getQ().getType());
}
} // namespace attn::detail

namespace {
/// Whether `attr` or one of its sub-attributes is a `T`.
template <typename T>
bool uses(Attribute attr) {
  bool found = false;
  if (attr)
    attr.walk([&](T) { found = true; });
  return found;
}
} // namespace

bool attn::regionsReadTensors(AttentionSpecOpInterface op) {
  llvm::SetVector<Value> captured;
  getUsedValuesDefinedAbove(op.getMaskMod(), captured);
  getUsedValuesDefinedAbove(op.getScoreMod(), captured);
  return llvm::any_of(captured,
                      [](Value v) { return isa<ShapedType>(v.getType()); });
}

namespace {
/// The auxiliary operands of `op`, whose first ODS operand group is
/// `firstGroup`.
template <typename Op>
AuxOperandValues auxOperandsOf(Op op, unsigned firstGroup) {
  // AttnOps.td declares exactly the operands of AuxOperands.def last.
  static_assert(
      std::tuple_size_v<typename Op::Properties::operandSegmentSizesTy> >=
          kNumAuxOperands,
      "the spec's operands and AuxOperands.def disagree");
  assert(firstGroup + kNumAuxOperands ==
             std::tuple_size_v<typename Op::Properties::operandSegmentSizesTy> &&
         "the auxiliary operands are the last groups");
  AuxOperandValues values;
  for (size_t i = 0; i < kNumAuxOperands; ++i) {
    OperandRange group = op.getODSOperands(firstGroup + i);
    values[i] = group.empty() ? Value() : group.front();
  }
  return values;
}

/// Checks that the auxiliary operands come with the attributes that read
/// them.
LogicalResult verifyAuxOperands(AttentionSpecOpInterface op) {
  AuxOperandValues operands = op.getAuxOperands();
  auto has = [&](AuxOperand a) { return bool(operands[size_t(a)]); };
  if (has(AuxOperand::QSegments) != has(AuxOperand::KvSegments))
    return op->emitOpError() << "'q_segments' and 'kv_segments' come together";
  // The attribute that reads each operand.
  struct Reader {
    AuxOperand operand;
    bool used;
    StringRef reader;
  };
  Reader readers[] = {
      {AuxOperand::Layout, uses<BlockSparseAttr>(op.getMaskAttr()),
       "#attn.block_sparse mask"},
      {AuxOperand::QSegments, uses<DocumentAttr>(op.getMaskAttr()),
       "#attn.document mask"},
      {AuxOperand::Bias, uses<BiasAttr>(op.getScoreModsAttr()),
       "#attn.bias score modifier"},
      {AuxOperand::AlibiSlopes, uses<AlibiAttr>(op.getScoreModsAttr()),
       "#attn.alibi score modifier"}};
  for (const Reader &r : readers)
    if (has(r.operand) && !r.used)
      return op->emitOpError() << "the '" << auxOperandName(r.operand)
                               << "' operand is given but no " << r.reader
                               << " reads it";
  return success();
}

/// Checks the `positions` operand: a dense shard of a longer attention.
LogicalResult verifyPositions(AttentionSpecOpInterface op) {
  AuxOperandValues aux = op.getAuxOperands();
  Value positions = aux[size_t(AuxOperand::Positions)];
  if (!positions)
    return success();
  auto type = cast<RankedTensorType>(positions.getType());
  Type element = type.getElementType();
  if (type.getShape() != ArrayRef<int64_t>{4} ||
      !(element.isInteger(32) || element.isInteger(64)))
    return op->emitOpError()
           << "'positions' must be a tensor<4xi64> (or i32) of [q_offset, "
              "kv_offset, q_total, kv_total], got "
           << type;
  for (AuxOperand placing : {AuxOperand::CuSeqlensQ, AuxOperand::CuSeqlensKv,
                             AuxOperand::BlockTable})
    if (aux[size_t(placing)])
      return op->emitOpError()
             << "'positions' places a dense shard of a sequence; it excludes '"
             << auxOperandName(placing) << "' (packed or paged sequences)";
  MaskAttrInterface mask = op.getMaskAttr();
  if (uses<BlockSparseAttr>(mask) || uses<NeighborhoodAttr>(mask))
    return op->emitOpError()
           << "'positions' does not support "
           << (uses<BlockSparseAttr>(mask) ? "#attn.block_sparse (its layout "
                                             "is the shard's)"
                                           : "#attn.neighborhood (its grid "
                                             "is the shard's)")
           << " yet; compute the shard without 'positions'";
  if (regionsReadTensors(op))
    return op->emitOpError()
           << "with 'positions' the mask_mod and score_mod regions see "
              "global positions, so they may not read tensors indexed by "
              "them; pass segment ids or a bias as operands instead";
  if ((mask || !op.getMaskMod().empty()) && !op.getAllowEmptyRows())
    return op->emitOpError()
           << "with 'positions' a mask may leave rows of the shard without "
              "a key; add `allow_empty_rows` (o = 0, lse = -inf for them)";
  return success();
}

/// Checks the operands that place packed or paged sequences.
LogicalResult verifySequenceOperands(AttentionSpecOpInterface op) {
  AuxOperandValues aux = op.getAuxOperands();
  auto get = [&](AuxOperand a) { return aux[size_t(a)]; };
  Value cuSeqlensQ = get(AuxOperand::CuSeqlensQ),
        cuSeqlensKv = get(AuxOperand::CuSeqlensKv),
        blockTable = get(AuxOperand::BlockTable),
        kvLens = get(AuxOperand::KvLens);
  struct Operand {
    Value value;
    StringRef name;
    unsigned rank;
    StringRef layout;
  };
  Operand operands[] = {{cuSeqlensQ, "cu_seqlens_q", 1, "[B + 1]"},
                        {cuSeqlensKv, "cu_seqlens_kv", 1, "[B + 1]"},
                        {blockTable, "block_table", 2, "[B, max_pages]"},
                        {kvLens, "kv_lens", 1, "[B]"}};
  for (const Operand &o : operands) {
    if (!o.value)
      continue;
    auto type = cast<RankedTensorType>(o.value.getType());
    if (type.getRank() != o.rank || !type.getElementType().isInteger(32))
      return op->emitOpError() << "'" << o.name << "' must be a rank-"
                               << o.rank << " tensor of i32 " << o.layout
                               << ", got " << type;
  }
  if (bool(blockTable) != bool(kvLens))
    return op->emitOpError() << "'block_table' and 'kv_lens' come together "
                                "(paged_kv)";
  if (cuSeqlensKv && blockTable)
    return op->emitOpError()
           << "keys and values are either packed ('cu_seqlens_kv') or paged "
              "('paged_kv'), not both";
  if (blockTable &&
      ShapedType::isDynamic(op.getK().getType().getDimSize(
          op.getPageLayout() == PageLayout::NHD ? 1 : 2)))
    return op->emitOpError()
           << "the page size P of paged 'k' must be static, got "
           << op.getK().getType();
  // Every static batch size agrees: q's (dense), or one fewer than the
  // cumulative lengths, the block table's rows and kv_lens.
  struct Batch {
    Value value;
    unsigned dim;
    int64_t minus;
    StringRef what;
  };
  SequenceLayout layout(op);
  if (layout.isDense())
    return success();
  SmallVector<Batch> batches;
  if (layout.queryForm() == QueryForm::Dense)
    batches.push_back({op.getQ(), 0, 0, "the batch size of 'q'"});
  if (layout.keyForm() == KeyForm::Dense)
    batches.push_back({op.getK(), 0, 0, "the batch size of 'k'"});
  batches.push_back({cuSeqlensQ, 0, 1, "size(cu_seqlens_q) - 1"});
  batches.push_back({cuSeqlensKv, 0, 1, "size(cu_seqlens_kv) - 1"});
  batches.push_back({blockTable, 0, 0, "the rows of 'block_table'"});
  batches.push_back({kvLens, 0, 0, "the size of 'kv_lens'"});
  std::optional<std::pair<int64_t, StringRef>> first;
  for (const Batch &batch : batches) {
    if (!batch.value)
      continue;
    int64_t n = cast<RankedTensorType>(batch.value.getType())
                    .getDimSize(batch.dim);
    if (ShapedType::isDynamic(n))
      continue;
    if (n < batch.minus)
      return op->emitOpError() << "cumulative sequence lengths hold B + 1 >= 1 "
                                  "entries (the first is 0), got "
                               << batch.value.getType();
    if (!first) {
      first = {n - batch.minus, batch.what};
      continue;
    }
    if (first->first != n - batch.minus)
      return op->emitOpError() << "the number of sequences differs: "
                               << first->second << " is " << first->first
                               << " but " << batch.what << " is "
                               << n - batch.minus;
  }
  return success();
}

/// Checks the signatures of the score_mod and mask_mod regions.
LogicalResult verifySpecRegions(AttentionSpecOpInterface op) {
  MLIRContext *ctx = op->getContext();
  Type index = IndexType::get(ctx);
  Type f32 = Float32Type::get(ctx);
  struct Expected {
    Region &region;
    StringRef name;
    SmallVector<Type> args;
    StringRef signature;
    Type yields;
  };
  Expected regions[] = {
      {op.getScoreMod(), "score_mod", {f32, index, index, index, index},
       "(score: f32, b: index, h: index, q_idx: index, kv_idx: index)", f32},
      {op.getMaskMod(), "mask_mod", {index, index, index, index},
       "(b: index, h: index, q_idx: index, kv_idx: index)",
       IntegerType::get(ctx, 1)}};
  for (Expected &e : regions) {
    if (e.region.empty())
      continue;
    if (!e.region.hasOneBlock())
      return op->emitOpError()
             << "the " << e.name << " region must have one block";
    Block &block = e.region.front();
    if (block.getArgumentTypes() != TypeRange(e.args))
      return op->emitOpError() << "the " << e.name << " region must take "
                               << e.signature << ", got ("
                               << block.getArgumentTypes() << ")";
    auto yield = dyn_cast<YieldOp>(block.getTerminator());
    if (!yield || yield.getValue().getType() != e.yields)
      return op->emitOpError() << "the " << e.name
                               << " region must end in attn.yield of "
                               << e.yields;
  }
  return success();
}

/// Checks what both directions share: q, k and v, the sequence and
/// auxiliary operands, the scale, the mask and modifiers against the
/// shapes, and (static shapes) that every query row has a key.
LogicalResult verifySpec(AttentionSpecOpInterface op) {
  SequenceLayout layout(op);
  if (failed(verifySequenceOperands(op)) ||
      failed(verifyQueryKeyValue(op, op.getQ().getType(), op.getK().getType(),
                                 op.getV().getType(), layout.queryLayout(),
                                 layout.keyLayout())))
    return failure();
  if (FloatAttr scale = op.getScaleAttr();
      scale && !std::isfinite(scale.getValueAsDouble()))
    return op->emitOpError()
           << "scale must be finite, got " << scale.getValueAsDouble();
  if (failed(verifyAuxOperands(op)) || failed(verifyPositions(op)))
    return failure();
  AttentionShape shape = op.getShape();
  MaskAttrInterface mask = op.getMaskAttr();
  if (mask && failed(mask.verifyFor(op, shape)))
    return failure();
  for (ScoreModAttrInterface mod : op.getScoreModList())
    if (failed(mod.verifyFor(op, shape)))
      return failure();
  int64_t qLen = shape.qLen, kvLen = shape.kvLen;
  // With an approximation the mask is only the exact support: every row
  // weighs every key.
  auto forward = dyn_cast<AttentionOp>(op.getOperation());
  bool approximated = forward && forward.getApproximationAttr();
  if (!op.getAllowEmptyRows() && !approximated &&
      !ShapedType::isDynamic(qLen) && !ShapedType::isDynamic(kvLen)) {
    if (std::optional<int64_t> row = findEmptyRow(mask, qLen, kvLen))
      return op->emitOpError()
             << "the mask leaves query row " << *row
             << " without any key (Sq = " << qLen << ", Skv = " << kvLen
             << "); fix the mask (e.g. the alignment of a causal mask) or "
                "add `allow_empty_rows` to get o = 0 and lse = -inf for such "
                "rows";
  }
  return success();
}

/// The type of o for q and v in `layout`.
RankedTensorType outputType(AttentionSpecOpInterface op,
                            const SequenceLayout &layout) {
  RankedTensorType q = op.getQ().getType();
  SmallVector<int64_t> shape(q.getShape());
  shape[layout.queryLayout().featureDim] =
      op.getV().getType().getDimSize(layout.keyLayout().featureDim);
  return RankedTensorType::get(shape, q.getElementType());
}

/// The type of lse for o of type `o`.
RankedTensorType lseType(AttentionSpecOpInterface op, RankedTensorType o) {
  return RankedTensorType::get(o.getShape().drop_back(), op.getComputeType());
}

/// The layout text of lse, from that of o (`[B, Hq, Sq, Dv]`).
std::string lseLayout(StringRef oLayout) {
  return (oLayout.substr(0, oLayout.rfind(',')) + "] in the accumulation type")
      .str();
}
} // namespace

AuxOperandValues AttentionOp::getAuxOperands() {
  return auxOperandsOf(*this, /*firstGroup=*/4);
}

LogicalResult AttentionOp::verifyRegions() { return verifySpecRegions(*this); }

LogicalResult AttentionOp::verify() {
  if (failed(verifySpec(*this)))
    return failure();
  SequenceLayout layout(*this);
  // Results: o has q's layout with Dv, lse drops the last dimension.
  RankedTensorType o = outputType(*this, layout);
  std::string oLayout = layout.queryLayout().text("Hq", "Dv");
  if (failed(checkType(*this, getO(), "result", "o", o,
                       oLayout + " with the element type of 'q'")))
    return failure();
  if (Value lse = getLse();
      lse && failed(checkType(*this, lse, "result", "lse", lseType(*this, o),
                              lseLayout(oLayout))))
    return failure();
  if (getLse() && !getNormalizationOrDefault().normalizesRows())
    return emitOpError() << "'lse' is only defined for softmax "
                            "normalization; drop the second result";
  return verifyApproximation();
}

namespace {
/// `x` in as few digits as %g takes (0.25, not 2.500000e-01).
std::string shortest(double x) {
  std::string text;
  llvm::raw_string_ostream(text) << llvm::format("%g", x);
  return text;
}
} // namespace

LogicalResult AttentionOp::verifyApproximation() {
  FeatureMapAttrInterface map = getApproximationAttr();
  if (!map && getFeatureWeights())
    return emitOpError() << "the 'feature_weights' operand is read by an "
                            "approximation's feature map; add "
                            "approximation(#attn.favor<...>) or drop it";
  // With o_linear the estimate is a linear attention of its own (SLA),
  // not a stand-in for softmax's weights.
  bool apart = bool(getOLinear());
  if (!map && apart)
    return emitOpError() << "the result 'o_linear' is the linear attention "
                            "over the pairs outside an approximation's "
                            "support; add approximation(#attn.elu_plus_one) "
                            "(or another feature map) or drop the result";
  if (!map)
    return success();
  int64_t headDim = getShape().headDim;
  if (!apart && !map.estimatesSoftmaxWeight())
    return emitOpError() << "the approximation " << map
                         << " does not estimate exp(q . k / sqrt(D)) with "
                            "positive weights; use #attn.favor<features = m, "
                            "seed = s> or #attn.taylor<order = 2>, or return "
                            "the linear attention apart (a result "
                            "'o_linear', as sparse-linear attention does)";
  if (apart && map.isPositional())
    return emitOpError() << "the approximation " << map
                         << " depends on the sequence position, which the "
                            "estimate outside the support does not track; "
                            "use a map without positions (e.g. "
                            "#attn.elu_plus_one)";
  if (apart && failed(checkType(*this, getOLinear(), "result", "o_linear",
                                getO().getType(), "that of 'o'")))
    return failure();
  std::optional<SmallVector<int64_t>> weightsShape =
      map.getBuiltinWeights(headDim) ? std::nullopt
                                     : map.getWeightsShape(headDim);
  RankedTensorType weightsType =
      weightsShape ? RankedTensorType::get(*weightsShape, getComputeType())
                   : RankedTensorType();
  if (weightsType && !getFeatureWeights())
    return emitOpError() << "the approximation " << map
                         << " reads a 'feature_weights' operand of type "
                         << weightsType
                         << "; pass one, or give the map a seed (e.g. seed = "
                            "1) so the compiler generates the weights";
  if (!weightsType && getFeatureWeights())
    return emitOpError() << "the 'feature_weights' operand is given but the "
                            "approximation "
                         << map << " reads none";
  if (weightsType &&
      failed(checkType(*this, getFeatureWeights(), "operand", "feature_weights",
                       weightsType,
                       "the weights of the feature map, in the accumulation "
                       "type")))
    return failure();
  double defaultScale = 1.0 / std::sqrt(double(headDim));
  if (FloatAttr scale = getScaleAttr();
      !apart && scale &&
      std::abs(scale.getValueAsDouble() - defaultScale) > 1e-12 * defaultScale)
    return emitOpError() << "an approximation estimates exp(q . k / sqrt(D)), "
                            "so the scale must be 1/sqrt(D) = "
                         << shortest(defaultScale) << ", got "
                         << shortest(scale.getValueAsDouble())
                         << "; drop 'scale' (or scale q instead)";
  if (getScoreModsAttr() || !getScoreMod().empty())
    return emitOpError()
           << (apart ? "the kernels tell the pairs outside an "
                       "approximation's support by their scores, which "
                       "score modifiers could change; drop them or the "
                       "approximation"
                     : "score modifiers would make the exact weights "
                       "disagree with the approximation's estimate of "
                       "exp(q . k / sqrt(D)); drop them or the "
                       "approximation");
  if (getNormalizationAttr() && !isa<SoftmaxAttr>(getNormalizationAttr()))
    return emitOpError() << "an approximation estimates softmax's weights; "
                            "drop the normalization "
                         << getNormalizationAttr();
  if (!getMaskAttr() && getMaskMod().empty())
    return emitOpError() << "an approximation needs a mask, the exact "
                            "support (without one every pair is exact); add "
                            "one, e.g. mask(#attn.window<...>)";
  if (!SequenceLayout(*this).isDense() || getPositions())
    return emitOpError() << "an approximation needs dense sequences "
                            "([B, H, S, D]) without 'positions'";
  return success();
}

//===----------------------------------------------------------------------===//
// AttentionBackwardOp
//===----------------------------------------------------------------------===//

AuxOperandValues AttentionBackwardOp::getAuxOperands() {
  return auxOperandsOf(*this, /*firstGroup=*/6);
}

LogicalResult AttentionBackwardOp::verifyRegions() {
  if (failed(verifySpecRegions(*this)))
    return failure();
  if (getScoreMod().empty())
    return success();
  Block &block = getScoreMod().front();
  if (Operation *op = findUndifferentiableOp(block, block.getArgument(0))) {
    InFlightDiagnostic diag =
        emitOpError() << "cannot differentiate '" << op->getName()
                      << "' in the score_mod region: the backward supports "
                         "arith and math ops on the score (add, mul, div, "
                         "select, max, exp, log, tanh, ...); rewrite the "
                         "modifier with them";
    diag.attachNote(op->getLoc()) << "the op that depends on the score";
    return diag;
  }
  return success();
}

bool AttentionBackwardOp::hasScoreShapedBias() {
  ArrayRef<int64_t> q = getQ().getType().getShape();
  ArrayRef<int64_t> bias =
      cast<RankedTensorType>(getBias().getType()).getShape();
  int64_t scores[] = {q[0], q[1], q[2], getK().getType().getDimSize(2)};
  for (auto [b, s] : llvm::zip(bias, scores))
    if (b == 1 && s != 1)
      return false;
  return true;
}

LogicalResult AttentionBackwardOp::verify() {
  if (failed(verifySpec(*this)))
    return failure();
  SequenceLayout layout(*this);
  if (!layout.isDense())
    return emitOpError()
           << "the backward takes dense q, k and v ([B, H, S, D]); packed "
              "(cu_seqlens) and paged sequences are not supported by it";
  RankedTensorType o = outputType(*this, layout);
  std::string oLayout = layout.queryLayout().text("Hq", "Dv");
  for (auto [value, name] : {std::pair{getO(), "o"}, {getGradO(), "grad_o"}})
    if (failed(checkType(*this, value, "operand", name, o,
                         oLayout + " with the element type of 'q'")))
      return failure();
  bool softmax = getNormalizationOrDefault().normalizesRows();
  if (softmax && !getLse()) {
    std::string type;
    llvm::raw_string_ostream(type) << lseType(*this, o);
    return emitOpError() << "the softmax backward needs the forward's "
                            "log-sum-exp: add 'lse(%lse : "
                         << type << ")'";
  }
  if (!softmax && getLse())
    return emitOpError() << "'lse' is only defined for softmax "
                            "normalization; a pointwise normalization's "
                            "backward needs none, drop it";
  if (Value lse = getLse();
      lse && failed(checkType(*this, lse, "operand", "lse", lseType(*this, o),
                              lseLayout(oLayout))))
    return failure();
  struct Gradient {
    Value gradient;
    StringRef name;
    Value of;
    StringRef ofName;
  };
  Gradient gradients[] = {{getGradQ(), "grad_q", getQ(), "q"},
                          {getGradK(), "grad_k", getK(), "k"},
                          {getGradV(), "grad_v", getV(), "v"},
                          {getGradBias(), "grad_bias", getBias(), "bias"}};
  for (const Gradient &g : gradients) {
    if (!g.gradient)
      continue;
    if (!g.of)
      return emitOpError() << "'" << g.name << "' is the gradient of the '"
                           << g.ofName << "' operand, which is absent";
    if (g.gradient.getType() != g.of.getType())
      return emitOpError() << "result '" << g.name << "' must have the type of '"
                           << g.ofName << "', " << g.of.getType() << ", got "
                           << g.gradient.getType();
  }
  return success();
}

namespace {
/// Replaces the mask by its simplest equivalent (see simplifyMask).
struct SimplifyMask : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    MaskAttrInterface mask = op.getMaskAttr();
    if (!mask)
      return failure();
    AttentionShape shape = op.getShape();
    // A shard's own lengths are not those its mask sees.
    bool shard = bool(op.getPositions());
    auto length = [&](int64_t n) -> std::optional<int64_t> {
      if (ShapedType::isDynamic(n) || shard)
        return std::nullopt;
      return n;
    };
    MaskAttrInterface simple =
        simplifyMask(mask, length(shape.qLen), length(shape.kvLen));
    // Masks that read operands stay, so that the operands keep a reader.
    if (simple == mask || uses<BlockSparseAttr>(simple) !=
                              uses<BlockSparseAttr>(mask) ||
        uses<DocumentAttr>(simple) != uses<DocumentAttr>(mask))
      return failure();
    // Without a support, o_linear would be zeros, a result the op cannot
    // drop in place: the mask stays.
    bool dropsSupport = !simple && op.getMaskMod().empty();
    if (dropsSupport && op.getOLinear())
      return failure();
    rewriter.modifyOpInPlace(op, [&] {
      if (simple) {
        op.setMaskAttr(simple);
        return;
      }
      op.removeMaskAttr();
      // Every pair is in the exact support: nothing is approximated.
      if (dropsSupport) {
        op.removeApproximationAttr();
        op.getFeatureWeightsMutable().clear();
      }
    });
    return success();
  }
};
} // namespace

void AttentionOp::getCanonicalizationPatterns(RewritePatternSet &patterns,
                                              MLIRContext *ctx) {
  patterns.add<SimplifyMask>(ctx);
}

LogicalResult
AttentionOp::reifyResultShapes(OpBuilder &builder,
                               ReifiedRankedShapedTypeDims &reified) {
  Location loc = getLoc();
  SequenceLayout layout(*this);
  SmallVector<OpFoldResult> oDims =
      tensor::getMixedSizes(builder, loc, getQ());
  oDims[layout.queryLayout().featureDim] = builder.getIndexAttr(
      getV().getType().getDimSize(layout.keyLayout().featureDim));
  reified.push_back(oDims);
  if (getLse())
    reified.push_back(SmallVector<OpFoldResult>(ArrayRef(oDims).drop_back()));
  if (getOLinear())
    reified.push_back(oDims);
  return success();
}

LogicalResult AttentionBackwardOp::reifyResultShapes(
    OpBuilder &builder, ReifiedRankedShapedTypeDims &reified) {
  // Each gradient has the shape of what it is the gradient of.
  Value of[] = {getQ(), getK(), getV(), getBias()};
  for (unsigned i = 0; i < getNumResults(); ++i)
    reified.push_back(tensor::getMixedSizes(builder, getLoc(), of[i]));
  return success();
}

//===----------------------------------------------------------------------===//
// KernelOpInterface
//===----------------------------------------------------------------------===//

namespace {
/// The ODS operand groups of attn.attention, in order.
constexpr StringLiteral kOperandRoles[] = {
    "q",
    "k",
    "v",
    "feature_weights",
#define ATTN_AUX_OPERAND(Enumerator, name) name,
#include "attn/Dialect/AuxOperands.def"
};

/// The role of the value at `index` among ODS groups named `roles`, with
/// `indexAndLength(group)` giving each group's place (operands or results).
template <typename IndexAndLength>
StringRef roleOf(unsigned index, ArrayRef<StringLiteral> roles,
                 IndexAndLength indexAndLength) {
  for (unsigned group = 0; group < roles.size(); ++group) {
    auto [start, length] = indexAndLength(group);
    if (index >= start && index < start + length)
      return roles[group];
  }
  llvm_unreachable("index out of range");
}

/// The dimension names of a q, k, v or o operand laid out as `rows`.
SmallVector<DimName> rowDimNames(const RowLayout &rows, StringRef heads,
                                 StringRef feature) {
  SmallVector<DimName> names(rows.rank);
  names[rows.headDim] = DimName{heads.str()};
  names[rows.featureDim] = DimName{feature.str()};
  unsigned next = 0;
  for (DimName &name : names)
    if (name.name.empty())
      name = DimName{rows.otherDims[next++].str()};
  return names;
}

/// `name` where the dimension of `type` is not a broadcast 1, else a
/// dimension of its own.
DimName unlessBroadcast(RankedTensorType type, unsigned dim, StringRef name) {
  if (type.getDimSize(dim) == 1)
    return DimName{""};
  return DimName{name.str()};
}

/// The dimension names of the spec operand or result of `type` named
/// `role` (q, k, v, o, lse, or an auxiliary operand).
SmallVector<DimName> specDimNames(AttentionSpecOpInterface op, StringRef role,
                                  RankedTensorType type) {
  SequenceLayout layout(op);
  if (role == "q")
    return rowDimNames(layout.queryLayout(), "Hq", "D");
  if (role == "k")
    return rowDimNames(layout.keyLayout(), "Hkv", "D");
  if (role == "v")
    return rowDimNames(layout.keyLayout(), "Hkv", "Dv");
  if (role == "o" || role == "lse" || role == "o_linear") {
    SmallVector<DimName> names =
        rowDimNames(layout.queryLayout(), "Hq", "Dv");
    if (role == "lse")
      names.pop_back();
    return names;
  }
  // feature_weights [m, D]: dimensions of their own.
  if (role == "feature_weights")
    return {{""}, {""}};
  const StringLiteral *aux = llvm::find(kAuxOperandNames, role);
  assert(aux != std::end(kAuxOperandNames) && "a spec operand");
  switch (AuxOperand(aux - std::begin(kAuxOperandNames))) {
  case AuxOperand::CuSeqlensQ:
  case AuxOperand::CuSeqlensKv:
    // B + 1 entries.
    return {{"B1"}};
  case AuxOperand::BlockTable:
    return {{"B"}, {"MaxPages"}};
  case AuxOperand::KvLens:
    return {{"B"}};
  case AuxOperand::Positions:
    return {{""}};
  case AuxOperand::QSegments:
    return {{"B"}, {"Sq"}};
  case AuxOperand::KvSegments:
    return {{"B"}, {"Skv"}};
  case AuxOperand::AlibiSlopes:
    return {{"Hq"}};
  case AuxOperand::Bias:
    return {unlessBroadcast(type, 0, "B"), unlessBroadcast(type, 1, "Hq"),
            unlessBroadcast(type, 2, "Sq"), unlessBroadcast(type, 3, "Skv")};
  case AuxOperand::Layout: {
    // One entry per block of the block-sparse mask.
    ArrayRef<int64_t> block;
    op.getMaskAttr().walk([&](BlockSparseAttr a) { block = a.getBlock(); });
    return {unlessBroadcast(type, 0, "B"),
            unlessBroadcast(type, 1, "Hq"),
            {"QBlocks", "Sq", block[0]},
            {"KvBlocks", "Skv", block[1]}};
  }
  }
  llvm_unreachable("every operand has a role");
}

/// The ODS operand groups of attn.attention_backward, in order.
constexpr StringLiteral kBackwardOperandRoles[] = {
    "q",
    "k",
    "v",
    "o",
    "grad_o",
    "lse",
#define ATTN_AUX_OPERAND(Enumerator, name) name,
#include "attn/Dialect/AuxOperands.def"
};
} // namespace

StringRef AttentionOp::getOperandRole(unsigned index) {
  return roleOf(index, kOperandRoles, [&](unsigned group) {
    return getODSOperandIndexAndLength(group);
  });
}

StringRef AttentionOp::getResultRole(unsigned index) {
  constexpr StringLiteral roles[] = {"o", "lse", "o_linear"};
  return roleOf(index, roles, [&](unsigned group) {
    return getODSResultIndexAndLength(group);
  });
}

SmallVector<DimName> AttentionOp::getOperandDimNames(unsigned index) {
  return specDimNames(*this, getOperandRole(index),
                      cast<RankedTensorType>(getOperand(index).getType()));
}

SmallVector<DimName> AttentionOp::getResultDimNames(unsigned index) {
  return specDimNames(*this, getResultRole(index),
                      cast<RankedTensorType>(getResult(index).getType()));
}

StringRef AttentionBackwardOp::getOperandRole(unsigned index) {
  return roleOf(index, kBackwardOperandRoles, [&](unsigned group) {
    return getODSOperandIndexAndLength(group);
  });
}

StringRef AttentionBackwardOp::getResultRole(unsigned index) {
  constexpr StringLiteral roles[] = {"grad_q", "grad_k", "grad_v",
                                     "grad_bias"};
  return roles[index];
}

SmallVector<DimName> AttentionBackwardOp::getOperandDimNames(unsigned index) {
  StringRef role = getOperandRole(index);
  return specDimNames(*this, role == "grad_o" ? "o" : role,
                      cast<RankedTensorType>(getOperand(index).getType()));
}

SmallVector<DimName> AttentionBackwardOp::getResultDimNames(unsigned index) {
  // A gradient has the dimensions of what it is the gradient of.
  return specDimNames(*this, getResultRole(index).drop_front(strlen("grad_")),
                      cast<RankedTensorType>(getResult(index).getType()));
}

//===----------------------------------------------------------------------===//
// LinearAttentionOp
//===----------------------------------------------------------------------===//

AttentionShape LinearAttentionOp::getShape() {
  return shapeOf(getQ().getType(), getK().getType(), getV().getType());
}

FloatType LinearAttentionOp::getComputeType() {
  return computeTypeOf(getQ().getType());
}

int64_t LinearAttentionOp::getFeatureDim() {
  return getFeatureMap().getFeatureDim(getQ().getType().getDimSize(3));
}

double LinearAttentionOp::getEpsOrDefault() {
  if (FloatAttr eps = getEpsAttr())
    return eps.getValueAsDouble();
  return 1e-6;
}

double LinearAttentionOp::getScaleOrDefault() {
  if (FloatAttr scale = getScaleAttr())
    return scale.getValueAsDouble();
  if (isa<IdentityAttr, L2NormalizeAttr>(getFeatureMap()))
    return 1.0 / std::sqrt(double(getQ().getType().getDimSize(3)));
  return 1.0;
}

LogicalResult LinearAttentionOp::verify() {
  RankedTensorType q = getQ().getType(), k = getK().getType(),
                   v = getV().getType();
  if (failed(verifyQueryKeyValue(*this, q, k, v)))
    return failure();
  FeatureMapAttrInterface featureMap = getFeatureMap();
  if (auto relu = dyn_cast<ReluAttr>(featureMap);
      relu && relu.getDivideByLength())
    return emitOpError() << "the relu feature map takes no divide_by_length; "
                            "write feature_map(#attn.relu)";
  FloatType compute = getComputeType();
  int64_t batch = q.getDimSize(0), qHeads = q.getDimSize(1),
          qLen = q.getDimSize(2), kvLen = k.getDimSize(2),
          headDim = q.getDimSize(3), valueDim = v.getDimSize(3);
  int64_t features = getFeatureDim();

  if (failed(checkType(*this, getO(), "result", "o",
                       RankedTensorType::get({batch, qHeads, qLen, valueDim},
                                             q.getElementType()),
                       "[B, Hq, Sq, Dv] with the element type of 'q'")))
    return failure();

  if (getCausal() && !ShapedType::isDynamic(qLen) &&
      !ShapedType::isDynamic(kvLen) && qLen != kvLen)
    return emitOpError() << "causal linear attention runs over one sequence: "
                            "Sq and Skv must be equal, got Sq = "
                         << qLen << ", Skv = " << kvLen;

  if (Value decay = getDecay()) {
    if (!getCausal())
      return emitOpError() << "'decay' applies to the causal recurrence; add "
                              "`causal` or drop the decay";
    if (failed(checkType(*this, decay, "operand", "decay",
                         RankedTensorType::get({qHeads}, compute),
                         "one factor per query head, in the accumulation "
                         "type")))
      return failure();
  }

  if (Value gate = getGate()) {
    if (!getCausal())
      return emitOpError() << "'gate' applies to the causal recurrence; add "
                              "`causal` or drop the gate";
    if (getDecay())
      return emitOpError() << "'gate' and 'decay' both decay the state; fold "
                              "the decay into the gate (g + log(gamma) per "
                              "head) and drop 'decay'";
    auto type = cast<RankedTensorType>(gate.getType());
    SmallVector<int64_t> perToken = {batch, qHeads, qLen};
    SmallVector<int64_t> perFeature = {batch, qHeads, qLen, features};
    if (type.getRank() == 4 &&
        failed(checkType(*this, gate, "operand", "gate",
                         RankedTensorType::get(perFeature, compute),
                         "[B, Hq, S, F]: a log-space gate per token and "
                         "feature, in the accumulation type")))
      return failure();
    if (type.getRank() != 4 &&
        failed(checkType(*this, gate, "operand", "gate",
                         RankedTensorType::get(perToken, compute),
                         "[B, Hq, S] (a log-space gate per token) or "
                         "[B, Hq, S, F] (per token and feature), in the "
                         "accumulation type")))
      return failure();
  }

  if (Value beta = getBeta()) {
    if (!getCausal())
      return emitOpError() << "the delta rule is a causal recurrence; add "
                              "`causal`";
    if (hasDenominator())
      return emitOpError() << "the delta rule has no normalizer; add "
                              "normalization(none)";
    if (getDecay())
      return emitOpError() << "the delta rule takes its decay as a gate per "
                              "token: pass log(gamma) for every token as "
                              "'gate' and drop 'decay'";
    if (hasFeatureGate())
      return emitOpError() << "per-feature gates with the delta rule (Kimi "
                              "Delta Attention) are not supported yet; use a "
                              "gate per token [B, Hq, S]";
    if (failed(checkType(*this, beta, "operand", "beta",
                         RankedTensorType::get({batch, qHeads, qLen}, compute),
                         "[B, Hq, S]: the delta rule's write strength per "
                         "token, in the accumulation type")))
      return failure();
  }

  if (FloatAttr scale = getScaleAttr();
      scale && !std::isfinite(scale.getValueAsDouble()))
    return emitOpError() << "scale must be finite, got "
                         << scale.getValueAsDouble();

  std::optional<SmallVector<int64_t>> weightsShape =
      featureMap.getWeightsShape(headDim);
  if (weightsShape && !getFeatureWeights())
    return emitOpError() << "the feature map " << featureMap
                         << " reads a 'feature_weights' operand of type "
                         << RankedTensorType::get(*weightsShape, compute)
                         << "; pass one";
  if (!weightsShape && getFeatureWeights())
    return emitOpError() << "the 'feature_weights' operand is given but the "
                            "feature map "
                         << featureMap << " reads none";
  if (weightsShape &&
      failed(checkType(*this, getFeatureWeights(), "operand",
                       "feature_weights",
                       RankedTensorType::get(*weightsShape, compute),
                       "the weights of the feature map, in the accumulation "
                       "type")))
    return failure();

  if (FloatAttr eps = getEpsAttr();
      eps && (!std::isfinite(eps.getValueAsDouble()) ||
              eps.getValueAsDouble() < 0))
    return emitOpError() << "eps must be finite and >= 0, got "
                         << eps.getValueAsDouble();

  // States: S [B, Hq, F, Dv] and, with the denominator, z [B, Hq, F].
  auto stateType =
      RankedTensorType::get({batch, qHeads, features, valueDim}, compute);
  auto normalizerType =
      RankedTensorType::get({batch, qHeads, features}, compute);
  StringRef stateLayout = "[B, Hq, F, Dv] in the accumulation type, F = "
                          "the number of features";
  StringRef normalizerLayout = "[B, Hq, F] in the accumulation type";
  struct StatePair {
    StringRef kind;
    Value state, normalizer;
    StringRef stateName, normalizerName;
  };
  StatePair pairs[] = {
      {"operand", getInitialState(), getInitialNormalizer(), "initial_state",
       "initial_normalizer"},
      {"result", getFinalState(), getFinalNormalizer(), "final_state",
       "final_normalizer"}};
  for (const StatePair &p : pairs) {
    if (p.state && failed(checkType(*this, p.state, p.kind, p.stateName,
                                    stateType, stateLayout)))
      return failure();
    if (p.normalizer && !hasDenominator())
      return emitOpError() << "'" << p.normalizerName
                           << "' belongs to the denominator normalization; "
                              "drop it with normalization(none)";
    if (p.normalizer && !p.state)
      return emitOpError() << "'" << p.normalizerName << "' comes with '"
                           << p.stateName << "'";
    if (p.state && hasDenominator() && !p.normalizer)
      return emitOpError() << "with the denominator normalization, '"
                           << p.stateName << "' comes with '"
                           << p.normalizerName << "' (" << normalizerType
                           << ")";
    if (p.normalizer &&
        failed(checkType(*this, p.normalizer, p.kind, p.normalizerName,
                         normalizerType, normalizerLayout)))
      return failure();
  }
  if (getInitialState() && featureMap.isPositional())
    return emitOpError() << "the feature map " << featureMap
                         << " depends on positions, which restart at 0 in "
                            "each op: process the sequence in one piece "
                            "(no 'initial_state')";
  return success();
}

LogicalResult
LinearAttentionOp::reifyResultShapes(OpBuilder &builder,
                                     ReifiedRankedShapedTypeDims &reified) {
  Location loc = getLoc();
  OpFoldResult batch = tensor::getMixedSize(builder, loc, getQ(), 0);
  OpFoldResult qHeads = builder.getIndexAttr(getQ().getType().getDimSize(1));
  OpFoldResult valueDim =
      builder.getIndexAttr(getV().getType().getDimSize(3));
  OpFoldResult features = builder.getIndexAttr(getFeatureDim());
  reified.push_back(SmallVector<OpFoldResult>{
      batch, qHeads, tensor::getMixedSize(builder, loc, getQ(), 2), valueDim});
  if (getFinalState())
    reified.push_back(
        SmallVector<OpFoldResult>{batch, qHeads, features, valueDim});
  if (getFinalNormalizer())
    reified.push_back(SmallVector<OpFoldResult>{batch, qHeads, features});
  return success();
}

namespace {
/// The ODS operand and result groups of attn.linear_attention, in order.
constexpr StringLiteral kLinearOperandRoles[] = {
    "q", "k", "v", "feature_weights", "decay", "gate", "beta",
    "initial_state", "initial_normalizer"};
constexpr StringLiteral kLinearResultRoles[] = {"o", "final_state",
                                                "final_normalizer"};
} // namespace

StringRef LinearAttentionOp::getOperandRole(unsigned index) {
  return roleOf(index, kLinearOperandRoles, [&](unsigned group) {
    return getODSOperandIndexAndLength(group);
  });
}

StringRef LinearAttentionOp::getResultRole(unsigned index) {
  return roleOf(index, kLinearResultRoles, [&](unsigned group) {
    return getODSResultIndexAndLength(group);
  });
}

SmallVector<DimName> LinearAttentionOp::getOperandDimNames(unsigned index) {
  StringRef role = getOperandRole(index);
  // A causal op runs over one sequence: keys have the length of queries.
  StringRef keyLength = getCausal() ? "Sq" : "Skv";
  if (role == "q")
    return {{"B"}, {"Hq"}, {"Sq"}, {"D"}};
  if (role == "k")
    return {{"B"}, {"Hkv"}, {keyLength.str()}, {"D"}};
  if (role == "v")
    return {{"B"}, {"Hkv"}, {keyLength.str()}, {"Dv"}};
  if (role == "decay")
    return {{"Hq"}};
  if (role == "gate" && hasFeatureGate())
    return {{"B"}, {"Hq"}, {"Sq"}, {"F"}};
  if (role == "gate" || role == "beta")
    return {{"B"}, {"Hq"}, {"Sq"}};
  if (role == "initial_state")
    return {{"B"}, {"Hq"}, {"F"}, {"Dv"}};
  if (role == "initial_normalizer")
    return {{"B"}, {"Hq"}, {"F"}};
  // feature_weights: dimensions of their own.
  return {{""}, {""}};
}

SmallVector<DimName> LinearAttentionOp::getResultDimNames(unsigned index) {
  StringRef role = getResultRole(index);
  if (role == "o")
    return {{"B"}, {"Hq"}, {"Sq"}, {"Dv"}};
  if (role == "final_state")
    return {{"B"}, {"Hq"}, {"F"}, {"Dv"}};
  return {{"B"}, {"Hq"}, {"F"}};
}

//===----------------------------------------------------------------------===//
// MergeOp
//===----------------------------------------------------------------------===//

bool MergeOp::isSplit() {
  return getOParts().size() == 1 &&
         cast<RankedTensorType>(getOParts()[0].getType()).getRank() == 5;
}

FloatType MergeOp::getComputeType() {
  return cast<FloatType>(
      cast<RankedTensorType>(getLseParts()[0].getType()).getElementType());
}

namespace {
/// The dimensions of a merge's partials, `[N,] B, H, S, Dv`, with the first
/// static size seen for each and where it came from.
struct MergedDims {
  SmallVector<StringRef> names;
  SmallVector<int64_t> sizes;
  SmallVector<std::string> sources;
};

/// `'o' partial #i` (list form) or `'o'` (split form).
std::string partialName(StringRef what, unsigned index, bool split) {
  if (split)
    return ("'" + what + "'").str();
  return ("'" + what + "' partial #" + Twine(index)).str();
}
} // namespace

LogicalResult MergeOp::verify() {
  OperandRange oParts = getOParts(), lseParts = getLseParts();
  if (oParts.empty())
    return emitOpError() << "needs at least one partial result: pass "
                            "o(...) and lse(...)";
  if (oParts.size() != lseParts.size())
    return emitOpError() << "takes one 'lse' per 'o' partial, got "
                         << oParts.size() << " 'o' and " << lseParts.size()
                         << " 'lse'";
  bool split = isSplit();
  bool anyRank5 = llvm::any_of(oParts, [](Value v) {
    return cast<RankedTensorType>(v.getType()).getRank() == 5;
  });
  if (anyRank5 && !split)
    return emitOpError()
           << "the split form takes one 'o' [N, B, H, S, Dv] and one 'lse' "
              "[N, B, H, S]; pass a list of partials as rank-4 'o' [B, H, "
              "S, Dv] and rank-3 'lse' [B, H, S] instead";
  unsigned lead = split ? 1 : 0;
  StringRef oLayout = split ? "[N, B, H, S, Dv]" : "[B, H, S, Dv]";
  StringRef lseLayout = split ? "[N, B, H, S]" : "[B, H, S]";

  MergedDims dims;
  if (split)
    dims.names.push_back("N");
  dims.names.append({"B", "H", "S", "Dv"});
  dims.sizes.assign(dims.names.size(), ShapedType::kDynamic);
  dims.sources.resize(dims.names.size());
  // Records the sizes of `type` (whose dimensions are the first ones of
  // `dims`) and checks them against those seen before.
  auto mergeDims = [&](RankedTensorType type,
                       const std::string &name) -> LogicalResult {
    for (auto [d, size] : llvm::enumerate(type.getShape())) {
      if (ShapedType::isDynamic(size))
        continue;
      if (ShapedType::isDynamic(dims.sizes[d])) {
        dims.sizes[d] = size;
        dims.sources[d] = name;
        continue;
      }
      if (dims.sizes[d] != size)
        return emitOpError()
               << "dimension " << dims.names[d] << " of " << dims.sources[d]
               << " (" << dims.sizes[d] << ") and " << name << " (" << size
               << ") must be equal";
    }
    return success();
  };

  Type oElementType =
      cast<RankedTensorType>(oParts[0].getType()).getElementType();
  for (auto [i, oValue, lseValue] : llvm::enumerate(oParts, lseParts)) {
    auto o = cast<RankedTensorType>(oValue.getType());
    auto lse = cast<RankedTensorType>(lseValue.getType());
    std::string oName = partialName("o", i, split);
    std::string lseName = partialName("lse", i, split);
    if (o.getRank() != 4 + lead)
      return emitOpError() << oName << " must be a rank-" << 4 + lead
                           << " tensor " << oLayout << ", got " << o;
    if (lse.getRank() != 3 + lead)
      return emitOpError() << lseName << " must be a rank-" << 3 + lead
                           << " tensor " << lseLayout << ", got " << lse;
    if (!isSupportedElementType(o.getElementType()))
      return emitOpError() << "unsupported element type " << o.getElementType()
                           << " of " << oName
                           << "; use f16, bf16 or f32 (f64 for references)";
    if (o.getElementType() != oElementType)
      return emitOpError() << "'o' partials must have one element type, got "
                           << oElementType << " and " << o.getElementType()
                           << " (" << oName << ")";
    FloatType accumulation = computeTypeOf(o);
    if (lse.getElementType() != accumulation)
      return emitOpError() << lseName << " must hold " << accumulation
                           << " (the accumulation type of " << oElementType
                           << " partials), got " << lse.getElementType();
    if (o.isDynamicDim(lead + 1) || o.isDynamicDim(lead + 3))
      return emitOpError() << "the head count H and value dimension Dv of "
                           << oName << " must be static, got shape "
                           << shapeString(o.getShape()) << " for " << oLayout;
    if (failed(mergeDims(o, oName)) || failed(mergeDims(lse, lseName)))
      return failure();
  }

  ArrayRef<int64_t> resultShape = ArrayRef(dims.sizes).drop_front(lead);
  auto oResult = cast<RankedTensorType>(getO().getType());
  if (!isSupportedElementType(oResult.getElementType()))
    return emitOpError() << "unsupported element type "
                         << oResult.getElementType()
                         << " of result 'o'; use f16, bf16, f32 or f64";
  if (failed(checkType(
          *this, getO(), "result", "o",
          RankedTensorType::get(resultShape, oResult.getElementType()),
          "[B, H, S, Dv] of the partials")))
    return failure();
  if (Value lse = getLse();
      lse && failed(checkType(*this, lse, "result", "lse",
                              RankedTensorType::get(resultShape.take_front(3),
                                                    getComputeType()),
                              "[B, H, S] in the type of the 'lse' partials")))
    return failure();
  return success();
}

LogicalResult MergeOp::reifyResultShapes(OpBuilder &builder,
                                         ReifiedRankedShapedTypeDims &reified) {
  Location loc = getLoc();
  unsigned lead = isSplit() ? 1 : 0;
  Value o = getOParts()[0];
  auto size = [&](unsigned d) {
    int64_t result = getO().getType().getDimSize(d);
    if (!ShapedType::isDynamic(result))
      return OpFoldResult(builder.getIndexAttr(result));
    return tensor::getMixedSize(builder, loc, o, d + lead);
  };
  SmallVector<OpFoldResult> oDims = {size(0), size(1), size(2), size(3)};
  reified.push_back(oDims);
  if (getLse())
    reified.push_back(SmallVector<OpFoldResult>(ArrayRef(oDims).take_front(3)));
  return success();
}

StringRef MergeOp::getOperandRole(unsigned index) {
  if (isSplit())
    return index == 0 ? "o_parts" : "lse_parts";
  // Partial i's operands are named o<i> and lse<i> (o_<k> would read as
  // the o of the k-th op of a spec); the names live in the context, as
  // StringAttrs.
  unsigned numParts = getOParts().size();
  bool isO = index < numParts;
  std::string name = (isO ? "o" : "lse") + std::to_string(index % numParts);
  return StringAttr::get(getContext(), name).getValue();
}

StringRef MergeOp::getResultRole(unsigned index) {
  return index == 0 ? "o" : "lse";
}

SmallVector<DimName> MergeOp::getOperandDimNames(unsigned index) {
  SmallVector<DimName> names;
  if (isSplit())
    names.push_back({"N"});
  names.append({{"B"}, {"H"}, {"S"}});
  if (index < getOParts().size())
    names.push_back({"Dv"});
  return names;
}

SmallVector<DimName> MergeOp::getResultDimNames(unsigned index) {
  if (index == 0)
    return {{"B"}, {"H"}, {"S"}, {"Dv"}};
  return {{"B"}, {"H"}, {"S"}};
}
