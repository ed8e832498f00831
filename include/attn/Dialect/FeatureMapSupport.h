//===- FeatureMapSupport.h - Types of the feature-map interface -*- C++ -*-===//
//
// What FeatureMapAttrInterface methods read besides the rows they map, and
// the deterministic random features of #attn.favor.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_FEATUREMAPSUPPORT_H
#define ATTN_DIALECT_FEATUREMAPSUPPORT_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/STLFunctionalExtras.h"

#include <vector>

namespace attn {

/// What a feature map may read besides its rows.
struct FeatureMapContext {
  /// Element type of rows and features (f32, or f64 for f64 inputs).
  mlir::FloatType computeType;
  /// The op's `feature_weights` tensor, or null.
  mlir::Value weights;
  /// The sequence position of the first row (index).
  mlir::Value positionOffset;
  /// The longer of Sq and Skv (index).
  mlir::Value maxLength;
};

/// What a feature map reads to build one feature of one row
/// (FeatureMapAttrInterface::buildFeature).
struct FeatureElementContext {
  mlir::FloatType computeType;
  int64_t headDim;
  /// Element `d` (index) of the row, in the compute type.
  llvm::function_ref<mlir::Value(mlir::OpBuilder &, mlir::Location,
                                 mlir::Value d)>
      element;
  /// Element (i, j) of the weights (the operand, or the map's builtin
  /// weights), in the compute type; unset when the map reads none.
  llvm::function_ref<mlir::Value(mlir::OpBuilder &, mlir::Location,
                                 mlir::Value i, mlir::Value j)>
      weight;
  /// The row's sequence position and the longer of Sq and Skv (index).
  mlir::Value position;
  mlir::Value maxLength;
};

/// The `[features, headDim]` random features of `#attn.favor` with `seed`,
/// row-major, as that attribute documents (splitmix64, Box-Muller, and for
/// `orthogonal` Gram-Schmidt blocks with chi-distributed row norms).
std::vector<double> generateFavorWeights(int64_t features, int64_t headDim,
                                         uint64_t seed, bool orthogonal);

} // namespace attn

#endif // ATTN_DIALECT_FEATUREMAPSUPPORT_H
