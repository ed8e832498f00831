//===- ScoreDerivative.h - Forward-mode derivatives of score code -*- C++ -*-===//
//
// The backward of attention needs d s / d x for the score modifiers s = f(x)
// (the attributes and the score_mod region). Rather than a derivative per
// modifier, the code that builds the modified score is differentiated: the
// straight-line arith and math ops it emitted are walked in order and a
// tangent is built next to each (forward mode, one seed). A modifier is then
// written once and its derivative cannot disagree with it.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_SCOREDERIVATIVE_H
#define ATTN_DIALECT_SCOREDERIVATIVE_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/Operation.h"

namespace attn {

/// Whether `op` has a derivative rule, for an op one of whose operands
/// depends on the seed. Ops without float results (comparisons, casts to
/// integers) and piecewise-constant ones (floor, ceil, round) have the
/// derivative 0.
bool isDifferentiable(mlir::Operation *op);

/// The first op of `block` (nested ops included) that depends on `seed` and
/// cannot be differentiated, or null. Verifiers use it to reject a score_mod
/// region in a backward before any lowering.
mlir::Operation *findUndifferentiableOp(mlir::Block &block, mlir::Value seed);

/// Builds, at `b`'s insertion point, d `result` / d `seed` through `ops`
/// (in order, each after the ops defining its operands; nothing else
/// depends on the seed). A result that does not depend on the seed has the
/// derivative 0. Fails, naming the op at its location, on an op that
/// cannot be differentiated.
mlir::FailureOr<mlir::Value>
buildDerivative(mlir::OpBuilder &b, mlir::Location loc,
                llvm::ArrayRef<mlir::Operation *> ops, mlir::Value seed,
                mlir::Value result);

/// The ops a builder inserts in its insertion block while this object
/// lives, in order (top-level ops only; nested ones belong to them).
class InsertedOps {
public:
  explicit InsertedOps(mlir::OpBuilder &b);
  /// The ops inserted so far.
  llvm::SmallVector<mlir::Operation *> get() const;

private:
  mlir::OpBuilder &b;
  mlir::Block *block;
  /// The op before the insertion point when recording began (null at the
  /// block's start).
  mlir::Operation *before;
};

} // namespace attn

#endif // ATTN_DIALECT_SCOREDERIVATIVE_H
