//===- ScoreMods.cpp - The score modifier attributes ----------------------===//

#include "attn/Dialect/Attn.h"
#include "attn/Dialect/ValueBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/TypeUtilities.h"

#include <cmath>

using namespace mlir;
using namespace attn;

namespace {
bool isFloatElement(Type t) {
  return t.isF16() || t.isBF16() || t.isF32() || t.isF64();
}
} // namespace

//===----------------------------------------------------------------------===//
// AlibiAttr: score + slope[h] * (kv - (q + offset))
//===----------------------------------------------------------------------===//

LogicalResult AlibiAttr::verifyFor(Operation *op,
                                   const AttentionShape &shape) const {
  Value slopes = cast<AttentionSpecOpInterface>(op)
                     .getAuxOperands()[size_t(AuxOperand::AlibiSlopes)];
  if (!slopes)
    return success();
  auto type = cast<RankedTensorType>(slopes.getType());
  if (type.getRank() != 1 || type.getDimSize(0) != shape.qHeads ||
      !(type.getElementType().isF32() || type.getElementType().isF64()))
    return op->emitOpError() << "ALiBi slopes must be a tensor<" << shape.qHeads
                             << "xf32> (one per query head), got "
                             << Type(type);
  return success();
}

Value AlibiAttr::buildScoreMod(IndexExprBuilder &b, const ScoreContext &context,
                               Value score) const {
  OpBuilder &ob = b.getOpBuilder();
  Location loc = b.getLoc();
  Type type = score.getType();
  const MaskPoint &p = context.point;
  IndexExpr distance =
      p.kv - (p.q + diagonalOffset(getAlign(), context.mask));
  if (getSymmetric())
    distance = 0 - max(distance, 0 - distance);
  Value slope;
  if (context.mask.aux && context.mask.aux->has(AuxOperand::AlibiSlopes)) {
    slope = context.mask.aux->readFloat(
        b, AuxOperand::AlibiSlopes, {p.head},
        cast<FloatType>(getElementTypeOrSelf(type)));
  } else {
    // 2^(-8 (h + 1) / H), the slopes of Press et al. for H heads.
    Value head = indexToFloat(b, p.head + 1, type);
    Value exponent = arith::MulFOp::create(
        ob, loc, head,
        floatConstant(ob, loc, type, -8.0 / double(context.qHeads)));
    slope = math::Exp2Op::create(ob, loc, exponent);
  }
  Value bias =
      arith::MulFOp::create(ob, loc, slope, indexToFloat(b, distance, type));
  return arith::AddFOp::create(ob, loc, score, bias);
}

//===----------------------------------------------------------------------===//
// SoftcapAttr: cap * tanh(score / cap)
//===----------------------------------------------------------------------===//

LogicalResult SoftcapAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                  llvm::APFloat cap) {
  double c = cap.convertToDouble();
  if (!std::isfinite(c) || c <= 0)
    return emitError() << "the soft cap must be positive and finite, got "
                       << c;
  return success();
}

Value SoftcapAttr::buildScoreMod(IndexExprBuilder &b, const ScoreContext &,
                                 Value score) const {
  OpBuilder &ob = b.getOpBuilder();
  Location loc = b.getLoc();
  double cap = getCap().convertToDouble();
  Type type = score.getType();
  Value scaled = arith::MulFOp::create(ob, loc, score,
                                       floatConstant(ob, loc, type, 1.0 / cap));
  Value squashed = math::TanhOp::create(ob, loc, scaled);
  return arith::MulFOp::create(ob, loc, squashed,
                               floatConstant(ob, loc, type, cap));
}

//===----------------------------------------------------------------------===//
// BiasAttr: score + bias[b, h, q, kv]
//===----------------------------------------------------------------------===//

LogicalResult BiasAttr::verifyFor(Operation *op,
                                  const AttentionShape &shape) const {
  Value bias = cast<AttentionSpecOpInterface>(op)
                   .getAuxOperands()[size_t(AuxOperand::Bias)];
  if (!bias)
    return op->emitOpError()
           << "#attn.bias needs the 'bias(%b : tensor<...>)' operand";
  auto type = cast<RankedTensorType>(bias.getType());
  int64_t full[] = {shape.batch, shape.qHeads, shape.qLen, shape.kvLen};
  bool ok = type.getRank() == 4 && isFloatElement(type.getElementType());
  for (int64_t d = 0; ok && d < 4; ++d) {
    int64_t size = type.getDimSize(d);
    ok = size == 1 || ShapedType::isDynamic(size) ||
         ShapedType::isDynamic(full[d]) || size == full[d];
  }
  if (!ok)
    return op->emitOpError()
           << "the bias must be a float tensor broadcastable to [B, Hq, Sq, "
              "Skv] (each dimension equal or 1), got "
           << Type(type);
  return success();
}

Value BiasAttr::buildScoreMod(IndexExprBuilder &b, const ScoreContext &context,
                              Value score) const {
  const MaskPoint &p = context.point;
  Value bias = context.mask.aux->readFloat(
      b, AuxOperand::Bias, {p.batch, p.head, p.q, p.kv},
      cast<FloatType>(getElementTypeOrSelf(score.getType())));
  return arith::AddFOp::create(b.getOpBuilder(), b.getLoc(), score, bias);
}
