//===- ScoreFunction.h - One score from q.k to the normalizer ---*- C++ -*-===//
//
// What happens to a score between the dot product and the normalization is
// defined here once, for every lowering (reference, tiled CPU, GPU): scaling,
// then the mask, which sends disallowed scores to -inf.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TRANSFORMS_SCOREFUNCTION_H
#define ATTN_TRANSFORMS_SCOREFUNCTION_H

#include "attn/Dialect/Attn.h"

namespace attn {

/// Positions of a score, as SSA values of one integer or index type (scalars,
/// or vectors when the score is a vector).
struct ScorePosition {
  mlir::Value batch;
  mlir::Value head;
  mlir::Value q;
  mlir::Value kv;
};

/// Sequence lengths of the op, as index values.
struct SequenceLengths {
  mlir::Value qLen;
  mlir::Value kvLen;
};

/// Returns `scale * rawScore` with masked positions at -inf. `rawScore` is
/// the dot product in the compute type (a scalar or a vector matching the
/// positions).
mlir::Value buildMaskedScore(mlir::OpBuilder &b, mlir::Location loc,
                             AttentionOp op, mlir::Value rawScore,
                             const ScorePosition &pos,
                             const SequenceLengths &lengths);

/// Returns the mask predicate at `pos` (true when there is no mask).
mlir::Value buildAllowedAt(mlir::OpBuilder &b, mlir::Location loc,
                           AttentionOp op, const ScorePosition &pos,
                           const SequenceLengths &lengths);

} // namespace attn

#endif // ATTN_TRANSFORMS_SCOREFUNCTION_H
