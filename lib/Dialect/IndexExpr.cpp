//===- IndexExpr.cpp - Integer arithmetic written once for IR and analysis ===//

#include "attn/Dialect/IndexExpr.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/TypeUtilities.h"


using namespace mlir;

namespace attn {

namespace {
/// Floor division and modulo on integers (b != 0).
int64_t floorDivInt(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0)))
    --q;
  return q;
}

arith::CmpIPredicate toArith(IndexExprBuilder::Cmp c) {
  switch (c) {
  case IndexExprBuilder::Cmp::LT:
    return arith::CmpIPredicate::slt;
  case IndexExprBuilder::Cmp::LE:
    return arith::CmpIPredicate::sle;
  case IndexExprBuilder::Cmp::GT:
    return arith::CmpIPredicate::sgt;
  case IndexExprBuilder::Cmp::GE:
    return arith::CmpIPredicate::sge;
  case IndexExprBuilder::Cmp::EQ:
    return arith::CmpIPredicate::eq;
  case IndexExprBuilder::Cmp::NE:
    return arith::CmpIPredicate::ne;
  }
  llvm_unreachable("unknown comparison");
}

bool compareInt(IndexExprBuilder::Cmp c, int64_t a, int64_t b) {
  switch (c) {
  case IndexExprBuilder::Cmp::LT:
    return a < b;
  case IndexExprBuilder::Cmp::LE:
    return a <= b;
  case IndexExprBuilder::Cmp::GT:
    return a > b;
  case IndexExprBuilder::Cmp::GE:
    return a >= b;
  case IndexExprBuilder::Cmp::EQ:
    return a == b;
  case IndexExprBuilder::Cmp::NE:
    return a != b;
  }
  llvm_unreachable("unknown comparison");
}

/// The builder used when both operands are constants or unknown: folds only.
IndexExprBuilder &staticBuilder() {
  static IndexExprBuilder builder;
  return builder;
}

IndexExprBuilder &pick(IndexExprBuilder *b) { return b ? *b : staticBuilder(); }
} // namespace

//===----------------------------------------------------------------------===//
// Wrapping and materializing values
//===----------------------------------------------------------------------===//

IndexExpr IndexExprBuilder::value(Value v) {
  APInt constant;
  if (matchPattern(v, m_ConstantInt(&constant)))
    return IndexExpr(constant.getSExtValue());
  if (isStatic())
    return IndexExpr();
  return makeValue(coerce(v));
}

PredExpr IndexExprBuilder::pred(Value v) {
  APInt constant;
  if (matchPattern(v, m_ConstantInt(&constant)))
    return PredExpr(!constant.isZero());
  if (isStatic())
    return PredExpr();
  return makePredValue(v);
}

IndexExpr IndexExprBuilder::makeValue(Value v) {
  IndexExpr e;
  e.kind = IndexExpr::Kind::Value;
  e.value = v;
  e.builder = this;
  return e;
}

PredExpr IndexExprBuilder::makePredValue(Value v) {
  PredExpr e;
  e.kind = PredExpr::Kind::Value;
  e.value = v;
  e.builder = this;
  return e;
}

Type IndexExprBuilder::predType() const {
  Type i1 = IntegerType::get(type.getContext(), 1);
  if (auto vec = dyn_cast<VectorType>(type))
    return VectorType::get(vec.getShape(), i1);
  return i1;
}

Value IndexExprBuilder::coerce(Value v) {
  if (v.getType() == type)
    return v;
  OpBuilder &b = *opBuilder;
  Type srcElt = getElementTypeOrSelf(v.getType());
  Type dstElt = getElementTypeOrSelf(type);
  // Adjust the width first, on the scalar or the vector as given.
  if (srcElt != dstElt) {
    Type castTo = dstElt;
    if (auto vec = dyn_cast<VectorType>(v.getType()))
      castTo = VectorType::get(vec.getShape(), dstElt);
    if (srcElt.isIndex() || dstElt.isIndex())
      v = arith::IndexCastOp::create(b, *loc, castTo, v);
    else if (srcElt.getIntOrFloatBitWidth() < dstElt.getIntOrFloatBitWidth())
      v = arith::ExtSIOp::create(b, *loc, castTo, v);
    else
      v = arith::TruncIOp::create(b, *loc, castTo, v);
  }
  if (v.getType() != type)
    v = vector::BroadcastOp::create(b, *loc, type, v);
  return v;
}

Value IndexExprBuilder::coercePred(Value v) {
  Type want = predType();
  if (v.getType() == want)
    return v;
  return vector::BroadcastOp::create(*opBuilder, *loc, want, v);
}

Value IndexExprBuilder::materialize(const IndexExpr &e) {
  assert(!isStatic() && "materialize needs an OpBuilder");
  assert(!e.isUnknown() && "cannot materialize an unknown value");
  if (e.isValue())
    return coerce(e.getSSAValue());
  TypedAttr attr;
  if (auto vec = dyn_cast<VectorType>(type))
    attr = DenseElementsAttr::get(
        vec, IntegerAttr::get(vec.getElementType(), *e.getConstant()));
  else
    attr = IntegerAttr::get(type, *e.getConstant());
  return arith::ConstantOp::create(*opBuilder, *loc, attr);
}

Value IndexExprBuilder::materialize(const PredExpr &e) {
  assert(!isStatic() && "materialize needs an OpBuilder");
  assert(!e.isUnknown() && "cannot materialize an unknown predicate");
  if (e.isValue())
    return coercePred(e.getSSAValue());
  Type want = predType();
  TypedAttr attr;
  if (auto vec = dyn_cast<VectorType>(want))
    attr = DenseElementsAttr::get(vec, e.isTrue());
  else
    attr = IntegerAttr::get(want, e.isTrue() ? 1 : 0);
  return arith::ConstantOp::create(*opBuilder, *loc, attr);
}

//===----------------------------------------------------------------------===//
// Operations
//===----------------------------------------------------------------------===//

namespace {
/// Shared shape of the binary integer operations: fold two constants, give up
/// on unknowns, otherwise emit `OpTy`.
template <typename OpTy, typename FoldFn>
IndexExpr binary(IndexExprBuilder &b, const IndexExpr &x, const IndexExpr &y,
                 FoldFn fold) {
  if (x.isConstant() && y.isConstant())
    return IndexExpr(fold(*x.getConstant(), *y.getConstant()));
  if (x.isUnknown() || y.isUnknown() || b.isStatic())
    return IndexExpr();
  return b.value(OpTy::create(b.getOpBuilder(), b.getLoc(), b.materialize(x),
                              b.materialize(y)));
}
} // namespace

IndexExpr IndexExprBuilder::add(const IndexExpr &a, const IndexExpr &b) {
  if (b.getConstant() == 0)
    return a;
  if (a.getConstant() == 0)
    return b;
  return binary<arith::AddIOp>(*this, a, b,
                               [](int64_t x, int64_t y) { return x + y; });
}

IndexExpr IndexExprBuilder::sub(const IndexExpr &a, const IndexExpr &b) {
  if (b.getConstant() == 0)
    return a;
  return binary<arith::SubIOp>(*this, a, b,
                               [](int64_t x, int64_t y) { return x - y; });
}

IndexExpr IndexExprBuilder::mul(const IndexExpr &a, const IndexExpr &b) {
  if (a.getConstant() == 0 || b.getConstant() == 0)
    return IndexExpr(0);
  if (b.getConstant() == 1)
    return a;
  if (a.getConstant() == 1)
    return b;
  return binary<arith::MulIOp>(*this, a, b,
                               [](int64_t x, int64_t y) { return x * y; });
}

IndexExpr IndexExprBuilder::floorDiv(const IndexExpr &a, const IndexExpr &b) {
  if (b.getConstant() == 1)
    return a;
  return binary<arith::FloorDivSIOp>(*this, a, b, floorDivInt);
}

IndexExpr IndexExprBuilder::floorMod(const IndexExpr &a, const IndexExpr &b) {
  if (b.getConstant() == 1)
    return IndexExpr(0);
  if (a.isConstant() && b.isConstant())
    return IndexExpr(*a.getConstant() -
                     floorDivInt(*a.getConstant(), *b.getConstant()) *
                         *b.getConstant());
  return sub(a, mul(floorDiv(a, b), b));
}

IndexExpr IndexExprBuilder::min(const IndexExpr &a, const IndexExpr &b) {
  return binary<arith::MinSIOp>(
      *this, a, b, [](int64_t x, int64_t y) { return std::min(x, y); });
}

IndexExpr IndexExprBuilder::max(const IndexExpr &a, const IndexExpr &b) {
  return binary<arith::MaxSIOp>(
      *this, a, b, [](int64_t x, int64_t y) { return std::max(x, y); });
}

IndexExpr IndexExprBuilder::select(const PredExpr &c, const IndexExpr &a,
                                   const IndexExpr &b) {
  if (c.isTrue())
    return a;
  if (c.isFalse())
    return b;
  if (a.isConstant() && b.isConstant() && *a.getConstant() == *b.getConstant())
    return a;
  if (c.isUnknown() || a.isUnknown() || b.isUnknown() || isStatic())
    return IndexExpr();
  return value(arith::SelectOp::create(*opBuilder, *loc, materialize(c),
                                       materialize(a), materialize(b)));
}

PredExpr IndexExprBuilder::cmp(Cmp predicate, const IndexExpr &a,
                               const IndexExpr &b) {
  if (a.isConstant() && b.isConstant())
    return PredExpr(compareInt(predicate, *a.getConstant(), *b.getConstant()));
  if (a.isUnknown() || b.isUnknown() || isStatic())
    return PredExpr();
  return pred(arith::CmpIOp::create(*opBuilder, *loc, toArith(predicate),
                                    materialize(a), materialize(b)));
}

PredExpr IndexExprBuilder::andOf(const PredExpr &a, const PredExpr &b) {
  if (a.isFalse() || b.isFalse())
    return PredExpr(false);
  if (a.isTrue())
    return b;
  if (b.isTrue())
    return a;
  if (a.isUnknown() || b.isUnknown() || isStatic())
    return PredExpr();
  return pred(arith::AndIOp::create(*opBuilder, *loc, materialize(a),
                                    materialize(b)));
}

PredExpr IndexExprBuilder::orOf(const PredExpr &a, const PredExpr &b) {
  if (a.isTrue() || b.isTrue())
    return PredExpr(true);
  if (a.isFalse())
    return b;
  if (b.isFalse())
    return a;
  if (a.isUnknown() || b.isUnknown() || isStatic())
    return PredExpr();
  return pred(arith::OrIOp::create(*opBuilder, *loc, materialize(a),
                                   materialize(b)));
}

PredExpr IndexExprBuilder::notOf(const PredExpr &a) {
  if (a.isConstant())
    return PredExpr(!a.isTrue());
  if (a.isUnknown() || isStatic())
    return PredExpr();
  return pred(arith::XOrIOp::create(*opBuilder, *loc, materialize(a),
                                    materialize(PredExpr(true))));
}

PredExpr IndexExprBuilder::select(const PredExpr &c, const PredExpr &a,
                                  const PredExpr &b) {
  // (c & a) | (!c & b), which short-circuits on unknowns.
  return orOf(andOf(c, a), andOf(notOf(c), b));
}

//===----------------------------------------------------------------------===//
// Free functions and operators
//===----------------------------------------------------------------------===//

IndexExprBuilder *builderOf(const IndexExpr &a, const IndexExpr &b) {
  return a.getBuilder() ? a.getBuilder() : b.getBuilder();
}

namespace {
IndexExprBuilder *builderOf(const PredExpr &a, const PredExpr &b) {
  return a.getBuilder() ? a.getBuilder() : b.getBuilder();
}
} // namespace

IndexExpr operator+(const IndexExpr &a, const IndexExpr &b) {
  return pick(builderOf(a, b)).add(a, b);
}
IndexExpr operator-(const IndexExpr &a, const IndexExpr &b) {
  return pick(builderOf(a, b)).sub(a, b);
}
IndexExpr operator*(const IndexExpr &a, const IndexExpr &b) {
  return pick(builderOf(a, b)).mul(a, b);
}
PredExpr operator<(const IndexExpr &a, const IndexExpr &b) {
  return pick(builderOf(a, b)).cmp(IndexExprBuilder::Cmp::LT, a, b);
}
PredExpr operator<=(const IndexExpr &a, const IndexExpr &b) {
  return pick(builderOf(a, b)).cmp(IndexExprBuilder::Cmp::LE, a, b);
}
PredExpr operator>(const IndexExpr &a, const IndexExpr &b) {
  return pick(builderOf(a, b)).cmp(IndexExprBuilder::Cmp::GT, a, b);
}
PredExpr operator>=(const IndexExpr &a, const IndexExpr &b) {
  return pick(builderOf(a, b)).cmp(IndexExprBuilder::Cmp::GE, a, b);
}
PredExpr operator==(const IndexExpr &a, const IndexExpr &b) {
  return pick(builderOf(a, b)).cmp(IndexExprBuilder::Cmp::EQ, a, b);
}
PredExpr operator!=(const IndexExpr &a, const IndexExpr &b) {
  return pick(builderOf(a, b)).cmp(IndexExprBuilder::Cmp::NE, a, b);
}
PredExpr operator&(const PredExpr &a, const PredExpr &b) {
  return pick(builderOf(a, b)).andOf(a, b);
}
PredExpr operator|(const PredExpr &a, const PredExpr &b) {
  return pick(builderOf(a, b)).orOf(a, b);
}
PredExpr operator!(const PredExpr &a) {
  return pick(a.getBuilder()).notOf(a);
}
IndexExpr floorDiv(const IndexExpr &a, const IndexExpr &b) {
  return pick(builderOf(a, b)).floorDiv(a, b);
}
IndexExpr floorMod(const IndexExpr &a, const IndexExpr &b) {
  return pick(builderOf(a, b)).floorMod(a, b);
}
IndexExpr min(const IndexExpr &a, const IndexExpr &b) {
  return pick(builderOf(a, b)).min(a, b);
}
IndexExpr max(const IndexExpr &a, const IndexExpr &b) {
  return pick(builderOf(a, b)).max(a, b);
}
IndexExpr clamp(const IndexExpr &x, const IndexExpr &lo, const IndexExpr &hi) {
  return min(max(x, lo), hi);
}
IndexExpr select(const PredExpr &c, const IndexExpr &a, const IndexExpr &b) {
  IndexExprBuilder *b0 = c.getBuilder() ? c.getBuilder() : builderOf(a, b);
  return pick(b0).select(c, a, b);
}
PredExpr select(const PredExpr &c, const PredExpr &a, const PredExpr &b) {
  IndexExprBuilder *b0 = c.getBuilder() ? c.getBuilder() : builderOf(a, b);
  return pick(b0).select(c, a, b);
}

} // namespace attn
