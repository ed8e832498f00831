//===- ValueBuilders.h - Float helpers for scalar-or-vector code -*- C++ -*-===//
//
// Scores may be scalars (reference) or vectors (vectorized kernels); these
// helpers build constants and conversions shaped like a given score.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_VALUEBUILDERS_H
#define ATTN_DIALECT_VALUEBUILDERS_H

#include "attn/Dialect/IndexExpr.h"

namespace attn {

/// A float constant of type `like` (a float or a vector of floats).
mlir::Value floatConstant(mlir::OpBuilder &b, mlir::Location loc,
                          mlir::Type like, double value);

/// `x` converted to a float of type `like` (broadcast to its shape).
mlir::Value indexToFloat(IndexExprBuilder &b, const IndexExpr &x,
                         mlir::Type like);

} // namespace attn

#endif // ATTN_DIALECT_VALUEBUILDERS_H
