//===- SoftmaxEpilogue.h - Results of a softmax row, written once -*- C++ -*-===//
//
// Every softmax path (the reference, the tiled CPU kernel, the GPU kernels
// and the merge of partials) ends a query row the same way, from the row's
// maximum m and sum l = sum_j exp(s_j - m), where l == 0 means that no key
// was allowed (an empty row):
//   o   = acc / l, and 0 for an empty row (then times the normalization's
//         output factor, if it has one);
//   lse = m + log l, and -inf for an empty row.
// The values may be scalars or vectors (of one shape, or `rowSum` a scalar
// for a vector `acc`).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TRANSFORMS_SOFTMAXEPILOGUE_H
#define ATTN_TRANSFORMS_SOFTMAXEPILOGUE_H

#include "mlir/IR/Builders.h"

namespace attn {

/// The output of a row from its accumulator: `acc / rowSum` (0 where the
/// row is empty) when `rowSum` is given, times `factor` when that is given.
mlir::Value buildRowOutput(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::Value acc, mlir::Value rowSum,
                           mlir::Value factor);

/// The log-sum-exp of a row: `rowMax + log(rowSum)`, -inf where empty.
mlir::Value buildRowLogSumExp(mlir::OpBuilder &b, mlir::Location loc,
                              mlir::Value rowMax, mlir::Value rowSum);

} // namespace attn

#endif // ATTN_TRANSFORMS_SOFTMAXEPILOGUE_H
