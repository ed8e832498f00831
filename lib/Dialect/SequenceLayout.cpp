//===- SequenceLayout.cpp - Where each sequence's rows lie ----------------===//

#include "attn/Dialect/SequenceLayout.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;

namespace attn {

std::string RowLayout::text(StringRef heads, StringRef feature) const {
  SmallVector<std::string> names(rank);
  names[headDim] = heads.str();
  names[featureDim] = feature.str();
  unsigned next = 0;
  for (std::string &name : names)
    if (name.empty())
      name = otherDims[next++].str();
  return "[" + llvm::join(names, ", ") + "]";
}

SequenceLayout::SequenceLayout(AttentionSpecOpInterface op, Value q, Value k)
    : qForm(op.getAuxOperands()[size_t(AuxOperand::CuSeqlensQ)]
                ? QueryForm::Packed
                : QueryForm::Dense),
      kvForm(op.getAuxOperands()[size_t(AuxOperand::CuSeqlensKv)]
                 ? KeyForm::Packed
             : op.getAuxOperands()[size_t(AuxOperand::BlockTable)]
                 ? KeyForm::Paged
                 : KeyForm::Dense),
      pages(op.getPageLayout()), q(q ? q : op.getQ()), k(k ? k : op.getK()) {
  if (kvForm == KeyForm::Paged)
    page = op.getK().getType().getDimSize(pages == PageLayout::NHD ? 1 : 2);
}

RowLayout SequenceLayout::queryLayout(QueryForm form) {
  if (form == QueryForm::Packed)
    return {3, 1, 2, {"Tq"}};
  return {4, 1, 3, {"B", "Sq"}};
}

RowLayout SequenceLayout::keyLayout(KeyForm form, PageLayout pages) {
  switch (form) {
  case KeyForm::Dense:
    return {4, 1, 3, {"B", "Skv"}};
  case KeyForm::Packed:
    return {3, 1, 2, {"Tk"}};
  case KeyForm::Paged:
    if (pages == PageLayout::NHD)
      return {4, 2, 3, {"Pages", "P"}};
    return {4, 1, 3, {"Pages", "P"}};
  }
  llvm_unreachable("unknown key form");
}

namespace {
/// `size - 1` of a dimension (the sequences described by cumulative
/// lengths), folded when static.
OpFoldResult minusOne(OpBuilder &b, Location loc, OpFoldResult size) {
  if (std::optional<int64_t> n = getConstantIntValue(size))
    return b.getIndexAttr(*n - 1);
  Value value = getValueOrCreateConstantIndexOp(b, loc, size);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  return arith::SubIOp::create(b, loc, value, one).getResult();
}

Value valueOf(AuxOperandValues aux, AuxOperand operand) {
  return aux[static_cast<size_t>(operand)];
}

/// Element `index` of a rank-1 integer operand, as an index value.
IndexExpr readAt(IndexExprBuilder &ib, AuxReader &aux, AuxOperand operand,
                 IndexExpr index) {
  return aux.readInt(ib, operand, {index});
}
} // namespace

OpFoldResult SequenceLayout::buildBatchSize(OpBuilder &b, Location loc,
                                            AuxOperandValues aux) const {
  if (qForm == QueryForm::Dense)
    return linalg::createFoldedDimOp(b, loc, q, 0);
  return minusOne(
      b, loc,
      linalg::createFoldedDimOp(b, loc, valueOf(aux, AuxOperand::CuSeqlensQ),
                                0));
}

OpFoldResult SequenceLayout::buildMaxQueryLength(OpBuilder &b,
                                                 Location loc) const {
  return linalg::createFoldedDimOp(b, loc, q,
                                   qForm == QueryForm::Packed ? 0 : 2);
}

OpFoldResult SequenceLayout::buildMaxKeyLength(OpBuilder &b, Location loc,
                                               AuxOperandValues aux) const {
  switch (kvForm) {
  case KeyForm::Dense:
    return linalg::createFoldedDimOp(b, loc, k, 2);
  case KeyForm::Packed:
    return linalg::createFoldedDimOp(b, loc, k, 0);
  case KeyForm::Paged: {
    OpFoldResult perSequence = linalg::createFoldedDimOp(
        b, loc, valueOf(aux, AuxOperand::BlockTable), 1);
    if (std::optional<int64_t> n = getConstantIntValue(perSequence))
      return b.getIndexAttr(*n * page);
    Value pages = getValueOrCreateConstantIndexOp(b, loc, perSequence);
    Value pageSize = arith::ConstantIndexOp::create(b, loc, page);
    return arith::MulIOp::create(b, loc, pages, pageSize).getResult();
  }
  }
  llvm_unreachable("unknown key form");
}

Value SequenceLayout::buildQueryLength(OpBuilder &b, Location loc,
                                       AuxReader &aux, Value batch) const {
  if (qForm == QueryForm::Dense)
    return getValueOrCreateConstantIndexOp(b, loc,
                                           buildMaxQueryLength(b, loc));
  IndexExprBuilder ib(b, loc, b.getIndexType());
  IndexExpr lo = readAt(ib, aux, AuxOperand::CuSeqlensQ, ib.value(batch));
  IndexExpr hi =
      readAt(ib, aux, AuxOperand::CuSeqlensQ, ib.value(batch) + 1);
  return ib.materialize(hi - lo);
}

Value SequenceLayout::buildKeyLength(OpBuilder &b, Location loc,
                                     AuxReader &aux, Value batch) const {
  IndexExprBuilder ib(b, loc, b.getIndexType());
  switch (kvForm) {
  case KeyForm::Dense:
    return getValueOrCreateConstantIndexOp(
        b, loc, linalg::createFoldedDimOp(b, loc, k, 2));
  case KeyForm::Packed: {
    IndexExpr lo = readAt(ib, aux, AuxOperand::CuSeqlensKv, ib.value(batch));
    IndexExpr hi =
        readAt(ib, aux, AuxOperand::CuSeqlensKv, ib.value(batch) + 1);
    return ib.materialize(hi - lo);
  }
  case KeyForm::Paged:
    return ib.materialize(
        readAt(ib, aux, AuxOperand::KvLens, ib.value(batch)));
  }
  llvm_unreachable("unknown key form");
}

SmallVector<Value> SequenceLayout::buildQueryIndices(OpBuilder &b,
                                                     Location loc,
                                                     AuxReader &aux,
                                                     Value batch, Value head,
                                                     Value row,
                                                     Value col) const {
  SmallVector<Value> indices;
  if (qForm == QueryForm::Dense) {
    indices = {batch, head, row};
  } else {
    IndexExprBuilder ib(b, loc, b.getIndexType());
    IndexExpr start = readAt(ib, aux, AuxOperand::CuSeqlensQ, ib.value(batch));
    indices = {ib.materialize(start + ib.value(row)), head};
  }
  if (col)
    indices.push_back(col);
  return indices;
}

SmallVector<Value> SequenceLayout::buildKeyIndices(OpBuilder &b, Location loc,
                                                   AuxReader &aux, Value batch,
                                                   Value kvHead, Value row,
                                                   Value col) const {
  IndexExprBuilder ib(b, loc, b.getIndexType());
  switch (kvForm) {
  case KeyForm::Dense:
    return {batch, kvHead, row, col};
  case KeyForm::Packed: {
    IndexExpr start =
        readAt(ib, aux, AuxOperand::CuSeqlensKv, ib.value(batch));
    return {ib.materialize(start + ib.value(row)), kvHead, col};
  }
  case KeyForm::Paged: {
    IndexExpr pageIndex = ib.floorDiv(ib.value(row), page);
    Value slot = ib.materialize(ib.floorMod(ib.value(row), page));
    Value pageId = ib.materialize(aux.readInt(
        ib, AuxOperand::BlockTable, {ib.value(batch), pageIndex}));
    if (pages == PageLayout::NHD)
      return {pageId, slot, kvHead, col};
    return {pageId, kvHead, slot, col};
  }
  }
  llvm_unreachable("unknown key form");
}

} // namespace attn
