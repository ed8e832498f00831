//===- LowRankEstimate.cpp - Weights outside an exact support -------------===//

#include "attn/Transforms/LowRankEstimate.h"
#include "attn/Dialect/ValueBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <limits>

using namespace mlir;

namespace attn {

Value buildEstimateFeatures(OpBuilder &b, Location loc,
                            FeatureMapAttrInterface map, Value weights,
                            Value rows, FloatType computeType) {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  FeatureMapContext context{computeType, weights,
                            /*positionOffset=*/zero, /*maxLength=*/zero};
  return buildRowFeatures(b, loc, map, context, rows);
}

Value buildEstimateShift(OpBuilder &b, Location loc, Value rowMax) {
  return arith::MaximumFOp::create(
      b, loc, rowMax, floatConstant(b, loc, rowMax.getType(), 0.0));
}

Value buildEstimatedWeight(OpBuilder &b, Location loc, Value score, Value shift,
                           Value estimate) {
  Type type = score.getType();
  Value outside = arith::CmpFOp::create(
      b, loc, arith::CmpFPredicate::OEQ, score,
      floatConstant(b, loc, type, -std::numeric_limits<double>::infinity()));
  Value exact =
      math::ExpOp::create(b, loc, arith::SubFOp::create(b, loc, score, shift));
  Value estimated = arith::MulFOp::create(
      b, loc, estimate,
      math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, shift)));
  return arith::SelectOp::create(b, loc, outside, estimated, exact);
}

Value buildJoinedSum(OpBuilder &b, Location loc, Value exact, Value rowMax,
                     Value shift, Value estimated) {
  // rowMax = -inf (no support) gives exp(-inf) = 0 and an exact sum of 0.
  Value exactScale =
      math::ExpOp::create(b, loc, arith::SubFOp::create(b, loc, rowMax, shift));
  Value estimateScale =
      math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, shift));
  Value exactPart = arith::MulFOp::create(b, loc, exact, exactScale);
  Value estimatedPart = arith::MulFOp::create(b, loc, estimated, estimateScale);
  return arith::AddFOp::create(b, loc, exactPart, estimatedPart);
}

} // namespace attn
