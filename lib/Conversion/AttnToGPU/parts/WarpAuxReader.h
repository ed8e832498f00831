//===- WarpAuxReader.h - Auxiliary operands read by a warp ------*- C++ -*-===//
//
// How the attn-to-gpu kernels read auxiliary operands (segment ids, block
// layouts, biases): element reads as OperandAuxReader does, and the id
// range of a tile as a warp-wide reduction.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_LIB_CONVERSION_ATTNTOGPU_PARTS_WARPAUXREADER_H
#define ATTN_LIB_CONVERSION_ATTNTOGPU_PARTS_WARPAUXREADER_H

#include "attn/Transforms/ScoreFunction.h"

#include "llvm/ADT/DenseMap.h"

#include <tuple>

namespace attn {

/// Reads auxiliary operands in the kernel. The id range of a tile (for the
/// document mask's tile classes) is a warp-wide reduction: each lane reads
/// every 32nd id and redux.sync combines them, instead of every lane
/// reading the whole tile. A range asked for again with the same bounds (the query
/// tile's, once per key tile) reuses the first result where it dominates.
class WarpAuxReader : public OperandAuxReader {
public:
  using OperandAuxReader::OperandAuxReader;

  std::pair<IndexExpr, IndexExpr> readMinMax(IndexExprBuilder &ib,
                                             AuxOperand operand,
                                             IndexExpr batchExpr,
                                             IndexExpr loExpr,
                                             IndexExpr hiExpr) override;

private:
  /// True when `v` is defined in the kernel's top-level block or in the
  /// insertion block or one enclosing it. The kernel is built in order, so
  /// a top-level value precedes everything built after it, including the
  /// bodies of loops still under construction (not yet in their block).
  static bool dominatesInsertionPoint(mlir::OpBuilder &b, mlir::Value v);

  std::pair<mlir::Value, mlir::Value>
  reduceMinMax(mlir::OpBuilder &b, mlir::Location loc, AuxOperand operand,
               mlir::Value batch, mlir::Value lo, mlir::Value hi);

  llvm::DenseMap<std::tuple<int, mlir::Value, mlir::Value, mlir::Value>,
                 std::pair<mlir::Value, mlir::Value>>
      ranges;
};

} // namespace attn

#endif // ATTN_LIB_CONVERSION_ATTNTOGPU_PARTS_WARPAUXREADER_H
