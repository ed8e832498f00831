//===- ScoreDerivative.cpp - Forward-mode derivatives of score code -------===//

#include "attn/Dialect/ScoreDerivative.h"
#include "attn/Dialect/ValueBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;

namespace attn {

namespace {
bool hasFloatResult(Operation *op) {
  return llvm::any_of(op->getResultTypes(), [](Type t) {
    return isa<FloatType>(getElementTypeOrSelf(t));
  });
}

/// Ops whose float result is piecewise constant: derivative 0.
bool isPiecewiseConstant(Operation *op) {
  return isa<math::FloorOp, math::CeilOp, math::RoundOp, math::RoundEvenOp,
             math::TruncOp>(op);
}

/// Ops with a rule in TangentBuilder::rule.
bool hasRule(Operation *op) {
  return isa<arith::AddFOp, arith::SubFOp, arith::NegFOp, arith::MulFOp,
             arith::DivFOp, arith::MaximumFOp, arith::MaxNumFOp,
             arith::MinimumFOp, arith::MinNumFOp, arith::SelectOp,
             arith::ExtFOp, arith::TruncFOp, math::AbsFOp, math::ExpOp,
             math::Exp2Op, math::ExpM1Op, math::LogOp, math::Log2Op,
             math::Log10Op, math::Log1pOp, math::SqrtOp, math::RsqrtOp,
             math::CbrtOp, math::TanhOp, math::SinOp, math::CosOp,
             math::TanOp, math::SinhOp, math::CoshOp, math::AtanOp,
             math::Atan2Op, math::AsinOp, math::AcosOp, math::ErfOp,
             math::ErfcOp, math::PowFOp, math::FmaOp>(op);
}

/// Builds tangents next to the primal ops.
class TangentBuilder {
public:
  TangentBuilder(OpBuilder &b, Location loc) : b(b), loc(loc) {}

  void seed(Value v) { tangents[v] = floatConstant(b, loc, v.getType(), 1.0); }
  Value tangentOf(Value v) const { return tangents.lookup(v); }

  /// Propagates through `op`; fails on an op without a rule.
  LogicalResult visit(Operation *op) {
    bool dependent = llvm::any_of(op->getOperands(), [&](Value v) {
      return tangents.contains(v);
    });
    if (op->getNumRegions()) {
      llvm::SetVector<Value> used;
      for (Region &region : op->getRegions())
        getUsedValuesDefinedAbove(region, used);
      if (dependent || llvm::any_of(used, [&](Value v) {
            return tangents.contains(v);
          }))
        return failure();
      return success();
    }
    if (!dependent || !hasFloatResult(op) || isPiecewiseConstant(op))
      return success();
    if (!hasRule(op))
      return failure();
    tangents[op->getResult(0)] = rule(op);
    return success();
  }

private:
  Value c(Value like, double v) { return floatConstant(b, loc, like.getType(), v); }
  Value add(Value x, Value y) {
    if (!x)
      return y;
    if (!y)
      return x;
    return arith::AddFOp::create(b, loc, x, y);
  }
  Value sub(Value x, Value y) {
    if (!y)
      return x;
    if (!x)
      return arith::NegFOp::create(b, loc, y);
    return arith::SubFOp::create(b, loc, x, y);
  }
  /// x * y with x a tangent (null: zero).
  Value mul(Value x, Value y) {
    if (!x)
      return Value();
    return arith::MulFOp::create(b, loc, x, y);
  }
  Value div(Value x, Value y) {
    if (!x)
      return Value();
    return arith::DivFOp::create(b, loc, x, y);
  }
  Value prim(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value orZero(Value t, Value like) { return t ? t : c(like, 0.0); }

  /// The tangent of op's result from its operands' tangents (null: zero).
  Value rule(Operation *op) {
    Value r = op->getResult(0);
    auto t = [&](unsigned i) { return tangentOf(op->getOperand(i)); };
    auto a = [&](unsigned i) { return op->getOperand(i); };
    Value result =
        llvm::TypeSwitch<Operation *, Value>(op)
            .Case<arith::AddFOp>([&](auto) { return add(t(0), t(1)); })
            .Case<arith::SubFOp>([&](auto) { return sub(t(0), t(1)); })
            .Case<arith::NegFOp>([&](auto) { return sub(Value(), t(0)); })
            .Case<arith::MulFOp>([&](auto) {
              return add(mul(t(0), a(1)), mul(t(1), a(0)));
            })
            .Case<arith::DivFOp>([&](auto) {
              // (ta - r tb) / b
              return div(sub(t(0), mul(t(1), r)), a(1));
            })
            .Case<arith::MaximumFOp, arith::MaxNumFOp, arith::MinimumFOp,
                  arith::MinNumFOp>([&](Operation *m) {
              bool isMax = isa<arith::MaximumFOp, arith::MaxNumFOp>(m);
              Value first = arith::CmpFOp::create(
                  b, loc,
                  isMax ? arith::CmpFPredicate::OGE : arith::CmpFPredicate::OLE,
                  a(0), a(1));
              return arith::SelectOp::create(b, loc, first, orZero(t(0), r),
                                             orZero(t(1), r))
                  .getResult();
            })
            .Case<arith::SelectOp>([&](auto) {
              return arith::SelectOp::create(b, loc, a(0), orZero(t(1), r),
                                             orZero(t(2), r))
                  .getResult();
            })
            .Case<arith::ExtFOp>([&](auto) {
              return arith::ExtFOp::create(b, loc, r.getType(), t(0))
                  .getResult();
            })
            .Case<arith::TruncFOp>([&](auto) {
              return arith::TruncFOp::create(b, loc, r.getType(), t(0))
                  .getResult();
            })
            .Case<math::AbsFOp>([&](auto) {
              Value negative = arith::CmpFOp::create(
                  b, loc, arith::CmpFPredicate::OLT, a(0), c(r, 0.0));
              return arith::SelectOp::create(
                         b, loc, negative,
                         arith::NegFOp::create(b, loc, t(0)), t(0))
                  .getResult();
            })
            .Case<math::ExpOp>([&](auto) { return mul(t(0), r); })
            .Case<math::Exp2Op>([&](auto) {
              return mul(t(0), prim(r, c(r, M_LN2)));
            })
            .Case<math::ExpM1Op>([&](auto) {
              return mul(t(0), arith::AddFOp::create(b, loc, r, c(r, 1.0)));
            })
            .Case<math::LogOp>([&](auto) { return div(t(0), a(0)); })
            .Case<math::Log2Op>([&](auto) {
              return div(t(0), prim(a(0), c(r, M_LN2)));
            })
            .Case<math::Log10Op>([&](auto) {
              return div(t(0), prim(a(0), c(r, M_LN10)));
            })
            .Case<math::Log1pOp>([&](auto) {
              return div(t(0), arith::AddFOp::create(b, loc, a(0), c(r, 1.0)));
            })
            .Case<math::SqrtOp>([&](auto) {
              return div(t(0), prim(r, c(r, 2.0)));
            })
            .Case<math::RsqrtOp>([&](auto) {
              // d a^(-1/2) = -r / (2 a)
              return mul(t(0), arith::DivFOp::create(
                                   b, loc, r, prim(a(0), c(r, -2.0))));
            })
            .Case<math::CbrtOp>([&](auto) {
              return mul(t(0), arith::DivFOp::create(
                                   b, loc, r, prim(a(0), c(r, 3.0))));
            })
            .Case<math::TanhOp>([&](auto) {
              return mul(t(0), arith::SubFOp::create(b, loc, c(r, 1.0),
                                                     prim(r, r)));
            })
            .Case<math::TanOp>([&](auto) {
              return mul(t(0), arith::AddFOp::create(b, loc, c(r, 1.0),
                                                     prim(r, r)));
            })
            .Case<math::SinOp>([&](auto) {
              return mul(t(0), math::CosOp::create(b, loc, a(0)));
            })
            .Case<math::CosOp>([&](auto) {
              return sub(Value(),
                         mul(t(0), math::SinOp::create(b, loc, a(0))));
            })
            .Case<math::SinhOp>([&](auto) {
              return mul(t(0), math::CoshOp::create(b, loc, a(0)));
            })
            .Case<math::CoshOp>([&](auto) {
              return mul(t(0), math::SinhOp::create(b, loc, a(0)));
            })
            .Case<math::AtanOp>([&](auto) {
              return div(t(0), arith::AddFOp::create(b, loc, c(r, 1.0),
                                                     prim(a(0), a(0))));
            })
            .Case<math::Atan2Op>([&](auto) {
              // atan2(y, x): (x ty - y tx) / (x^2 + y^2)
              Value norm = arith::AddFOp::create(b, loc, prim(a(0), a(0)),
                                                 prim(a(1), a(1)));
              return div(sub(mul(t(0), a(1)), mul(t(1), a(0))), norm);
            })
            .Case<math::AsinOp, math::AcosOp>([&](Operation *trig) {
              Value root = math::SqrtOp::create(
                  b, loc,
                  arith::SubFOp::create(b, loc, c(r, 1.0), prim(a(0), a(0))));
              Value d = div(t(0), root);
              return isa<math::AcosOp>(trig) ? sub(Value(), d) : d;
            })
            .Case<math::ErfOp, math::ErfcOp>([&](Operation *erf) {
              Value gauss = math::ExpOp::create(
                  b, loc,
                  arith::NegFOp::create(b, loc, prim(a(0), a(0))));
              Value d = mul(t(0), prim(gauss, c(r, 2.0 / std::sqrt(M_PI))));
              return isa<math::ErfcOp>(erf) ? sub(Value(), d) : d;
            })
            .Case<math::PowFOp>([&](auto) {
              // d x^y = y x^(y-1) dx + x^y log(x) dy; the first term without
              // dividing by x (finite at x = 0 for y >= 1).
              Value dx;
              if (t(0)) {
                Value lower = math::PowFOp::create(
                    b, loc, a(0),
                    arith::SubFOp::create(b, loc, a(1), c(r, 1.0)));
                dx = mul(t(0), prim(a(1), lower));
              }
              Value dy;
              if (t(1))
                dy = mul(t(1), prim(r, math::LogOp::create(b, loc, a(0))));
              return add(dx, dy);
            })
            .Case<math::FmaOp>([&](auto) {
              return add(add(mul(t(0), a(1)), mul(t(1), a(0))), t(2));
            })
            .Default([](Operation *) -> Value {
              llvm_unreachable("hasRule lists every case");
            });
    return orZero(result, r);
  }

  OpBuilder &b;
  Location loc;
  DenseMap<Value, Value> tangents;
};
} // namespace

bool isDifferentiable(Operation *op) {
  return op->getNumRegions() == 0 &&
         (!hasFloatResult(op) || isPiecewiseConstant(op) || hasRule(op));
}

Operation *findUndifferentiableOp(Block &block, Value seed) {
  // Dependence only (no tangents are built), as TangentBuilder::visit sees
  // it: an op with regions must not read a dependent value at all.
  llvm::DenseSet<Value> dependent = {seed};
  for (Operation &op : block) {
    llvm::SetVector<Value> used(op.operand_begin(), op.operand_end());
    for (Region &region : op.getRegions())
      getUsedValuesDefinedAbove(region, used);
    if (op.hasTrait<OpTrait::IsTerminator>() ||
        llvm::none_of(used, [&](Value v) { return dependent.contains(v); }))
      continue;
    if (!isDifferentiable(&op))
      return &op;
    dependent.insert(op.result_begin(), op.result_end());
  }
  return nullptr;
}

FailureOr<Value> buildDerivative(OpBuilder &b, Location loc,
                                 ArrayRef<Operation *> ops, Value seed,
                                 Value result) {
  TangentBuilder tangents(b, loc);
  tangents.seed(seed);
  for (Operation *op : ops)
    if (failed(tangents.visit(op)))
      return emitError(op->getLoc())
             << "cannot differentiate '" << op->getName()
             << "' in a score modifier: the backward supports arith and math "
                "ops on the score (add, mul, div, select, max, exp, log, "
                "tanh, ...); rewrite the modifier with them";
  if (Value t = tangents.tangentOf(result))
    return t;
  return floatConstant(b, loc, result.getType(), 0.0);
}

InsertedOps::InsertedOps(OpBuilder &b)
    : b(b), block(b.getInsertionBlock()),
      before(b.getInsertionPoint() == block->begin()
                 ? nullptr
                 : &*std::prev(b.getInsertionPoint())) {}

SmallVector<Operation *> InsertedOps::get() const {
  assert(b.getInsertionBlock() == block &&
         "the builder left the block it was recording");
  SmallVector<Operation *> ops;
  Block::iterator it = before ? std::next(before->getIterator())
                              : block->begin();
  for (; it != b.getInsertionPoint(); ++it)
    ops.push_back(&*it);
  return ops;
}

} // namespace attn
