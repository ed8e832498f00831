//===- ValueBuilders.cpp - Float helpers for scalar-or-vector code --------===//

#include "attn/Dialect/ValueBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/TypeUtilities.h"

using namespace mlir;

namespace attn {

Value floatConstant(OpBuilder &b, Location loc, Type like, double value) {
  TypedAttr attr = FloatAttr::get(getElementTypeOrSelf(like), value);
  if (auto vec = dyn_cast<VectorType>(like))
    attr = DenseElementsAttr::get(vec, attr);
  return arith::ConstantOp::create(b, loc, attr);
}

Value indexToFloat(IndexExprBuilder &b, const IndexExpr &x, Type like) {
  OpBuilder &ob = b.getOpBuilder();
  Location loc = b.getLoc();
  Value v = b.materialize(x);
  auto withElement = [&](Type element) -> Type {
    if (auto vec = dyn_cast<VectorType>(v.getType()))
      return VectorType::get(vec.getShape(), element);
    return element;
  };
  if (getElementTypeOrSelf(v.getType()).isIndex())
    v = arith::IndexCastOp::create(ob, loc, withElement(ob.getI64Type()), v);
  v = arith::SIToFPOp::create(ob, loc, withElement(getElementTypeOrSelf(like)),
                              v);
  if (v.getType() != like)
    v = vector::BroadcastOp::create(ob, loc, like, v);
  return v;
}

} // namespace attn
