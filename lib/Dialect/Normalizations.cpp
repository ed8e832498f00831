//===- Normalizations.cpp - How scores become weights ---------------------===//

#include "attn/Dialect/Attn.h"
#include "attn/Dialect/ValueBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <limits>

using namespace mlir;
using namespace attn;

//===----------------------------------------------------------------------===//
// SoftmaxAttr: exp(s - max), divided by the row sum
//===----------------------------------------------------------------------===//

bool SoftmaxAttr::normalizesRows() const { return true; }

Value SoftmaxAttr::buildWeight(OpBuilder &b, Location loc, Value score,
                               Value rowMax) const {
  // A row whose max is -inf has no allowed key: its weights are 0 (not the
  // NaN of exp(-inf - -inf)).
  Type type = score.getType();
  Value emptyRow = arith::CmpFOp::create(
      b, loc, arith::CmpFPredicate::OEQ, rowMax,
      floatConstant(b, loc, rowMax.getType(),
                    -std::numeric_limits<double>::infinity()));
  Value weight =
      math::ExpOp::create(b, loc, arith::SubFOp::create(b, loc, score, rowMax));
  return arith::SelectOp::create(b, loc, emptyRow,
                                 floatConstant(b, loc, type, 0.0), weight);
}

Value SoftmaxAttr::buildBase2Weight(OpBuilder &b, Location loc, Value score,
                                    double scale, Value negMaxLog2e) const {
  constexpr double kLog2E = 1.4426950408889634;
  Type type = score.getType();
  return math::Exp2Op::create(
      b, loc,
      math::FmaOp::create(b, loc, score,
                          floatConstant(b, loc, type, scale * kLog2E),
                          negMaxLog2e));
}

//===----------------------------------------------------------------------===//
// SigmoidAttr: 1 / (1 + exp(-(s + bias)))
//===----------------------------------------------------------------------===//

bool SigmoidAttr::normalizesRows() const { return false; }

Value SigmoidAttr::buildWeight(OpBuilder &b, Location loc, Value score,
                               Value) const {
  Type type = score.getType();
  // exp(-(s + bias)) is +inf for a masked score, giving weight 0.
  Value negated = arith::SubFOp::create(
      b, loc, floatConstant(b, loc, type, -getBias().convertToDouble()), score);
  Value one = floatConstant(b, loc, type, 1.0);
  Value denominator = arith::AddFOp::create(
      b, loc, one, math::ExpOp::create(b, loc, negated));
  return arith::DivFOp::create(b, loc, one, denominator);
}

Value SigmoidAttr::buildWeightDerivative(OpBuilder &b, Location loc, Value,
                                         Value weight) const {
  // w (1 - w); a masked score has w = 0.
  Value complement = arith::SubFOp::create(
      b, loc, floatConstant(b, loc, weight.getType(), 1.0), weight);
  return arith::MulFOp::create(b, loc, weight, complement);
}

//===----------------------------------------------------------------------===//
// ReluAttr: max(s, 0), optionally / Skv
//===----------------------------------------------------------------------===//

bool ReluAttr::normalizesRows() const { return false; }

Value ReluAttr::buildWeight(OpBuilder &b, Location loc, Value score,
                            Value) const {
  return arith::MaximumFOp::create(
      b, loc, score, floatConstant(b, loc, score.getType(), 0.0));
}

Value ReluAttr::buildOutputFactor(OpBuilder &b, Location loc, Value kvLen,
                                  FloatType type) const {
  if (!getDivideByLength())
    return Value();
  // Without keys (Skv = 0) every row sums nothing and must give o = 0, the
  // empty-row rule, not 0 / 0: divide by max(Skv, 1).
  IndexExprBuilder ib(b, loc, b.getIndexType());
  Value atLeastOne = arith::MaxSIOp::create(
      b, loc, kvLen, arith::ConstantIndexOp::create(b, loc, 1));
  Value length = indexToFloat(ib, ib.value(atLeastOne), type);
  return arith::DivFOp::create(b, loc, floatConstant(b, loc, type, 1.0),
                               length);
}

Value ReluAttr::buildWeightDerivative(OpBuilder &b, Location loc, Value score,
                                      Value) const {
  // 1 where the score is positive (0 at 0, the subgradient PyTorch takes).
  Type type = score.getType();
  Value positive = arith::CmpFOp::create(
      b, loc, arith::CmpFPredicate::OGT, score, floatConstant(b, loc, type, 0.0));
  Value one = floatConstant(b, loc, type, 1.0);
  Value zero = floatConstant(b, loc, type, 0.0);
  return arith::SelectOp::create(b, loc, positive, one, zero);
}
