//===- ScoreFunction.cpp - One score from q.k to the normalizer -----------===//

#include "attn/Transforms/ScoreFunction.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/TypeUtilities.h"

#include <limits>

using namespace mlir;

namespace attn {

Value buildAllowedAt(OpBuilder &b, Location loc, AttentionOp op,
                     const ScorePosition &pos, const SequenceLengths &lengths) {
  IndexExprBuilder ib(b, loc, pos.q.getType());
  MaskAttrInterface mask = op.getMaskAttr();
  if (!mask)
    return ib.materialize(PredExpr(true));
  MaskContext context{ib.value(lengths.qLen), ib.value(lengths.kvLen)};
  MaskPoint point{ib.value(pos.batch), ib.value(pos.head), ib.value(pos.q),
                  ib.value(pos.kv)};
  return ib.materialize(mask.buildAllowed(ib, context, point));
}

Value buildMaskedScore(OpBuilder &b, Location loc, AttentionOp op,
                       Value rawScore, const ScorePosition &pos,
                       const SequenceLengths &lengths) {
  Type scoreType = rawScore.getType();
  auto computeType = cast<FloatType>(getElementTypeOrSelf(scoreType));
  auto constant = [&](double value) -> Value {
    TypedAttr attr = FloatAttr::get(computeType, value);
    if (auto vec = dyn_cast<VectorType>(scoreType))
      attr = DenseElementsAttr::get(vec, attr);
    return arith::ConstantOp::create(b, loc, attr);
  };
  Value score = arith::MulFOp::create(b, loc, rawScore,
                                      constant(op.getScaleOrDefault()));
  if (!op.getMaskAttr())
    return score;
  Value allowed = buildAllowedAt(b, loc, op, pos, lengths);
  return arith::SelectOp::create(
      b, loc, allowed, score,
      constant(-std::numeric_limits<double>::infinity()));
}

} // namespace attn
