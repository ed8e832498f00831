//===- PositionFrame.h - A shard's rows as positions of a longer sequence -===//
//
// With the `positions` operand an attention op is a shard of a longer one
// (ring attention): query row i is position q_offset + i of q_total, key j
// position kv_offset + j of kv_total. Masks and score modifiers are written
// on positions, so every lowering hands them global positions through this
// frame, and this frame turns what they compute back into the shard's rows:
// key and query ranges, and the indices of the operands they read (segment
// ids, bias), which stay the shard's own. Without the operand it is the
// identity, and folds away.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TRANSFORMS_POSITIONFRAME_H
#define ATTN_TRANSFORMS_POSITIONFRAME_H

#include "attn/Dialect/Attn.h"

namespace attn {

class PositionFrame : public AuxReader {
public:
  /// The frame of an op with `qLen` queries and `kvLen` keys whose operands
  /// `inner` reads (the `positions` operand among them, if any).
  PositionFrame(IndexExprBuilder &ib, AuxReader &inner, IndexExpr qLen,
                IndexExpr kvLen);

  /// Whether the op is a shard (has the `positions` operand).
  bool isShard() const { return shard; }
  /// What masks see: the whole sequence's lengths, and this frame as the
  /// reader of their operands.
  MaskContext context() { return MaskContext{qTotal, kvTotal, this}; }
  IndexExpr queryPosition(const IndexExpr &row) const { return row + qOffset; }
  IndexExpr keyPosition(const IndexExpr &row) const { return row + kvOffset; }
  MaskPoint global(const MaskPoint &rows) const;
  MaskTile global(const MaskTile &rows) const;
  /// A mask's key range (global positions) as the shard's key rows,
  /// clipped to `[0, kvLen)`; likewise for queries.
  IndexRange keyRows(const IndexRange &positions) const;
  IndexRange queryRows(const IndexRange &positions) const;

  // AuxReader: the indices masks give are positions; the operands are read
  // at the shard's rows.
  bool has(AuxOperand operand) const override { return inner.has(operand); }
  IndexExpr readInt(IndexExprBuilder &b, AuxOperand operand,
                    llvm::ArrayRef<IndexExpr> indices) override;
  mlir::Value readFloat(IndexExprBuilder &b, AuxOperand operand,
                        llvm::ArrayRef<IndexExpr> indices,
                        mlir::FloatType type) override;
  std::pair<IndexExpr, IndexExpr> readMinMax(IndexExprBuilder &b,
                                             AuxOperand operand,
                                             IndexExpr batch, IndexExpr lo,
                                             IndexExpr hi) override;
  mlir::Value lookupCaptured(mlir::Value value) const override {
    return inner.lookupCaptured(value);
  }

private:
  /// `indices` of `operand` with positions turned into rows.
  llvm::SmallVector<IndexExpr, 4> rows(AuxOperand operand,
                                       llvm::ArrayRef<IndexExpr> indices) const;

  AuxReader &inner;
  /// Whether the op has the operand (else this frame is the identity).
  bool shard = false;
  IndexExpr qLen, kvLen;
  IndexExpr qOffset = 0, kvOffset = 0;
  IndexExpr qTotal, kvTotal;
};

} // namespace attn

#endif // ATTN_TRANSFORMS_POSITIONFRAME_H
