//===- IndexExpr.h - Integer arithmetic written once for IR and analysis --===//
//
// Masks are written once, as formulas over IndexExpr. The same formula either
// folds to integers (when every input is a constant: verifiers, tile reports)
// or emits `arith` ops (when some input is an SSA value: kernels). Inputs that
// are neither, such as data read at run time during a static analysis, are
// "unknown" and make every result that depends on them unknown; predicates
// short-circuit (`false & unknown` is false), so a static analysis still
// proves what can be proven.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_INDEXEXPR_H
#define ATTN_DIALECT_INDEXEXPR_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/Value.h"

#include <cstdint>
#include <optional>

namespace attn {

class IndexExprBuilder;

/// An integer: a known constant, an SSA value, or unknown.
class IndexExpr {
public:
  /// Unknown.
  IndexExpr() = default;
  /// A constant; implicit so that formulas read `q + 1`.
  IndexExpr(int64_t constant) : kind(Kind::Constant), constant(constant) {}

  bool isConstant() const { return kind == Kind::Constant; }
  bool isUnknown() const { return kind == Kind::Unknown; }
  bool isValue() const { return kind == Kind::Value; }
  std::optional<int64_t> getConstant() const {
    if (isConstant())
      return constant;
    return std::nullopt;
  }
  /// The SSA value; only for `isValue()`.
  mlir::Value getSSAValue() const { return value; }
  IndexExprBuilder *getBuilder() const { return builder; }

private:
  friend class IndexExprBuilder;
  enum class Kind { Unknown, Constant, Value };
  Kind kind = Kind::Unknown;
  int64_t constant = 0;
  mlir::Value value;
  IndexExprBuilder *builder = nullptr;
};

/// A boolean: a known constant, an SSA i1 (or vector of i1), or unknown.
class PredExpr {
public:
  PredExpr() = default;
  PredExpr(bool constant) : kind(Kind::Constant), constant(constant) {}

  bool isConstant() const { return kind == Kind::Constant; }
  bool isUnknown() const { return kind == Kind::Unknown; }
  bool isValue() const { return kind == Kind::Value; }
  /// True only when known to be true (unknown counts as not proven).
  bool isTrue() const { return isConstant() && constant; }
  /// True only when known to be false.
  bool isFalse() const { return isConstant() && !constant; }
  mlir::Value getSSAValue() const { return value; }
  IndexExprBuilder *getBuilder() const { return builder; }

private:
  friend class IndexExprBuilder;
  enum class Kind { Unknown, Constant, Value };
  Kind kind = Kind::Unknown;
  bool constant = false;
  mlir::Value value;
  IndexExprBuilder *builder = nullptr;
};

/// Creates IndexExpr/PredExpr values and performs their operations.
///
/// Without an OpBuilder (static mode) it only folds constants; every SSA
/// input becomes unknown. With an OpBuilder (IR mode) it emits `arith` ops of
/// `type`: `index`, a signless integer, or a vector of either; scalar operands
/// are broadcast to vectors and integer widths adjusted as needed, so callers
/// may mix `index` positions with an `i32` builder.
class IndexExprBuilder {
public:
  /// Static mode.
  IndexExprBuilder() = default;
  /// IR mode.
  IndexExprBuilder(mlir::OpBuilder &b, mlir::Location loc, mlir::Type type)
      : opBuilder(&b), loc(loc), type(type) {}

  bool isStatic() const { return opBuilder == nullptr; }
  mlir::OpBuilder &getOpBuilder() const { return *opBuilder; }
  mlir::Location getLoc() const { return *loc; }
  /// The integer (or vector of integer) type of emitted values.
  mlir::Type getType() const { return type; }

  /// Wraps an SSA value (folding it when it is a constant); unknown in
  /// static mode.
  IndexExpr value(mlir::Value v);
  PredExpr pred(mlir::Value v);

  /// Emits `e` as a value of `getType()`; `e` must not be unknown.
  mlir::Value materialize(const IndexExpr &e);
  mlir::Value materialize(const PredExpr &e);

  // Arithmetic. Division and modulo round toward negative infinity.
  IndexExpr add(const IndexExpr &a, const IndexExpr &b);
  IndexExpr sub(const IndexExpr &a, const IndexExpr &b);
  IndexExpr mul(const IndexExpr &a, const IndexExpr &b);
  IndexExpr floorDiv(const IndexExpr &a, const IndexExpr &b);
  IndexExpr floorMod(const IndexExpr &a, const IndexExpr &b);
  IndexExpr min(const IndexExpr &a, const IndexExpr &b);
  IndexExpr max(const IndexExpr &a, const IndexExpr &b);
  IndexExpr select(const PredExpr &c, const IndexExpr &a, const IndexExpr &b);

  enum class Cmp { LT, LE, GT, GE, EQ, NE };
  PredExpr cmp(Cmp predicate, const IndexExpr &a, const IndexExpr &b);

  PredExpr andOf(const PredExpr &a, const PredExpr &b);
  PredExpr orOf(const PredExpr &a, const PredExpr &b);
  PredExpr notOf(const PredExpr &a);
  PredExpr select(const PredExpr &c, const PredExpr &a, const PredExpr &b);

private:
  IndexExpr makeValue(mlir::Value v);
  PredExpr makePredValue(mlir::Value v);
  /// Brings `v` (an integer or index, scalar or vector) to `type`.
  mlir::Value coerce(mlir::Value v);
  /// Brings an i1 (scalar or vector) to the shape of `type`.
  mlir::Value coercePred(mlir::Value v);
  mlir::Type predType() const;

  mlir::OpBuilder *opBuilder = nullptr;
  std::optional<mlir::Location> loc;
  mlir::Type type;
};

/// Returns the builder of whichever operand has one (both may be constant).
IndexExprBuilder *builderOf(const IndexExpr &a, const IndexExpr &b);

// Operators, so that mask formulas read like the math. An operation on two
// constants folds without a builder; otherwise the operands' builder is used.
IndexExpr operator+(const IndexExpr &a, const IndexExpr &b);
IndexExpr operator-(const IndexExpr &a, const IndexExpr &b);
IndexExpr operator*(const IndexExpr &a, const IndexExpr &b);
PredExpr operator<(const IndexExpr &a, const IndexExpr &b);
PredExpr operator<=(const IndexExpr &a, const IndexExpr &b);
PredExpr operator>(const IndexExpr &a, const IndexExpr &b);
PredExpr operator>=(const IndexExpr &a, const IndexExpr &b);
PredExpr operator==(const IndexExpr &a, const IndexExpr &b);
PredExpr operator!=(const IndexExpr &a, const IndexExpr &b);
PredExpr operator&(const PredExpr &a, const PredExpr &b);
PredExpr operator|(const PredExpr &a, const PredExpr &b);
PredExpr operator!(const PredExpr &a);
IndexExpr floorDiv(const IndexExpr &a, const IndexExpr &b);
IndexExpr floorMod(const IndexExpr &a, const IndexExpr &b);
IndexExpr min(const IndexExpr &a, const IndexExpr &b);
IndexExpr max(const IndexExpr &a, const IndexExpr &b);
/// `min(max(x, lo), hi)`.
IndexExpr clamp(const IndexExpr &x, const IndexExpr &lo, const IndexExpr &hi);
IndexExpr select(const PredExpr &c, const IndexExpr &a, const IndexExpr &b);
PredExpr select(const PredExpr &c, const PredExpr &a, const PredExpr &b);

} // namespace attn

#endif // ATTN_DIALECT_INDEXEXPR_H
