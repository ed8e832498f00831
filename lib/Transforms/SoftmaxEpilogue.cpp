//===- SoftmaxEpilogue.cpp - Results of a softmax row, written once -------===//

#include "attn/Transforms/SoftmaxEpilogue.h"
#include "attn/Dialect/ValueBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <limits>

using namespace mlir;

namespace attn {

namespace {
/// `x` broadcast to the shape of `like` if `x` is a scalar and `like` not.
Value shapedLike(OpBuilder &b, Location loc, Value x, Value like) {
  if (x.getType() == like.getType())
    return x;
  return vector::BroadcastOp::create(b, loc, like.getType(), x);
}

Value isEmpty(OpBuilder &b, Location loc, Value rowSum) {
  return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, rowSum,
                               floatConstant(b, loc, rowSum.getType(), 0.0));
}
} // namespace

Value buildRowOutput(OpBuilder &b, Location loc, Value acc, Value rowSum,
                     Value factor) {
  Value o = acc;
  if (rowSum) {
    rowSum = shapedLike(b, loc, rowSum, acc);
    Value empty = isEmpty(b, loc, rowSum);
    Value zero = floatConstant(b, loc, acc.getType(), 0.0);
    Value normalized = arith::DivFOp::create(b, loc, acc, rowSum);
    o = arith::SelectOp::create(b, loc, empty, zero, normalized);
  }
  if (factor)
    o = arith::MulFOp::create(b, loc, o, shapedLike(b, loc, factor, acc));
  return o;
}

Value buildRowLogSumExp(OpBuilder &b, Location loc, Value rowMax,
                        Value rowSum) {
  Value lse = arith::AddFOp::create(b, loc, rowMax,
                                    math::LogOp::create(b, loc, rowSum));
  Value empty = isEmpty(b, loc, rowSum);
  Value minusInfinity = floatConstant(
      b, loc, rowSum.getType(), -std::numeric_limits<double>::infinity());
  return arith::SelectOp::create(b, loc, empty, minusInfinity, lse);
}

} // namespace attn
