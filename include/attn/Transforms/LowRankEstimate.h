//===- LowRankEstimate.h - Weights outside an exact support -----*- C++ -*-===//
//
// attn.attention's `approximation` (Scatterbrain): a pair inside the mask
// weighs exp(s), a pair outside it the feature map's estimate
// phi(q) . phi(k) of that exponential. The exact weights are kept relative
// to the row maximum m of the support, the estimates are absolute, so both
// are brought to one shift c = max(m, 0) (0 for a row without support):
//   exact pair:  exp(s - c)        estimate:  exp(-c) phi(q) . phi(k)
// and a row's softmax state (m, l, acc), kept relative to m, joins the
// estimates' sums as exp(m - c) x + exp(-c) y. Neither exponent is positive,
// so nothing overflows where m is large or very negative. The reference
// and the tiled CPU kernel use these, so they agree on the formula.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TRANSFORMS_LOWRANKESTIMATE_H
#define ATTN_TRANSFORMS_LOWRANKESTIMATE_H

#include "attn/Dialect/Attn.h"

#include "mlir/IR/Builders.h"

namespace attn {

/// phi(rows) [B, H, n, F] in `computeType` for rows [B, H, n, D] of any
/// float type, with the map's `weights` operand (or null; the
/// approximation's maps read no position).
mlir::Value buildEstimateFeatures(mlir::OpBuilder &b, mlir::Location loc,
                                  FeatureMapAttrInterface map,
                                  mlir::Value weights, mlir::Value rows,
                                  mlir::FloatType computeType);

/// The shift c = max(rowMax, 0) of a row (scalars or vectors).
mlir::Value buildEstimateShift(mlir::OpBuilder &b, mlir::Location loc,
                               mlir::Value rowMax);

/// The weight of one pair: exp(score - shift) inside the support (a finite
/// score), exp(-shift) * estimate outside it (score -inf).
mlir::Value buildEstimatedWeight(mlir::OpBuilder &b, mlir::Location loc,
                                 mlir::Value score, mlir::Value shift,
                                 mlir::Value estimate);

/// exp(rowMax - shift) * exact + exp(-shift) * estimated: a softmax sum
/// relative to rowMax joined with an absolute sum of estimates.
mlir::Value buildJoinedSum(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::Value exact, mlir::Value rowMax,
                           mlir::Value shift, mlir::Value estimated);

} // namespace attn

#endif // ATTN_TRANSFORMS_LOWRANKESTIMATE_H
