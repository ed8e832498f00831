//===- PositionFrame.cpp - A shard's rows as positions in its sequence ---===//

#include "attn/Transforms/PositionFrame.h"

using namespace mlir;

namespace attn {

PositionFrame::PositionFrame(IndexExprBuilder &ib, AuxReader &inner,
                             IndexExpr qLen, IndexExpr kvLen)
    : inner(inner), qLen(qLen), kvLen(kvLen), qTotal(qLen), kvTotal(kvLen) {
  if (!inner.has(AuxOperand::Positions))
    return;
  shard = true;
  IndexExpr entries[4];
  for (int64_t i = 0; i < 4; ++i)
    entries[i] = inner.readInt(ib, AuxOperand::Positions, {IndexExpr(i)});
  qOffset = entries[0];
  kvOffset = entries[1];
  qTotal = entries[2];
  kvTotal = entries[3];
}

MaskPoint PositionFrame::global(const MaskPoint &rows) const {
  return {rows.batch, rows.head, queryPosition(rows.q), keyPosition(rows.kv)};
}

MaskTile PositionFrame::global(const MaskTile &rows) const {
  return {rows.batch,
          rows.head,
          queryPosition(rows.qLo),
          queryPosition(rows.qHi),
          keyPosition(rows.kvLo),
          keyPosition(rows.kvHi)};
}

IndexRange PositionFrame::keyRows(const IndexRange &positions) const {
  if (!shard)
    return positions;
  return {clamp(positions.lo - kvOffset, 0, kvLen),
          clamp(positions.hi - kvOffset, 0, kvLen)};
}

IndexRange PositionFrame::queryRows(const IndexRange &positions) const {
  if (!shard)
    return positions;
  return {clamp(positions.lo - qOffset, 0, qLen),
          clamp(positions.hi - qOffset, 0, qLen)};
}

SmallVector<IndexExpr, 4>
PositionFrame::rows(AuxOperand operand, ArrayRef<IndexExpr> indices) const {
  SmallVector<IndexExpr, 4> at(indices);
  switch (operand) {
  case AuxOperand::QSegments:
    at[1] = at[1] - qOffset;
    break;
  case AuxOperand::KvSegments:
    at[1] = at[1] - kvOffset;
    break;
  case AuxOperand::Bias:
    at[2] = at[2] - qOffset;
    at[3] = at[3] - kvOffset;
    break;
  default:
    // Heads and batch entries (alibi_slopes); the verifier excludes the
    // layout of a block-sparse mask and packed or paged sequences.
    break;
  }
  return at;
}

IndexExpr PositionFrame::readInt(IndexExprBuilder &b, AuxOperand operand,
                                 ArrayRef<IndexExpr> indices) {
  return inner.readInt(b, operand, rows(operand, indices));
}

Value PositionFrame::readFloat(IndexExprBuilder &b, AuxOperand operand,
                               ArrayRef<IndexExpr> indices, FloatType type) {
  return inner.readFloat(b, operand, rows(operand, indices), type);
}

std::pair<IndexExpr, IndexExpr>
PositionFrame::readMinMax(IndexExprBuilder &b, AuxOperand operand,
                          IndexExpr batch, IndexExpr lo, IndexExpr hi) {
  IndexExpr offset = operand == AuxOperand::QSegments ? qOffset : kvOffset;
  return inner.readMinMax(b, operand, batch, lo - offset, hi - offset);
}

} // namespace attn
