//===- MaskInterfaceSupport.h - Types of the mask interface -----*- C++ -*-===//
//
// The values MaskAttrInterface methods take and return. Every position and
// size is an IndexExpr, so one definition serves static analysis and IR.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_MASKINTERFACESUPPORT_H
#define ATTN_DIALECT_MASKINTERFACESUPPORT_H

#include "attn/Dialect/IndexExpr.h"

#include "mlir/IR/BuiltinTypes.h"

#include <array>
#include <string>

namespace attn {

/// Sizes of an attention op; dynamic ones are `ShapedType::kDynamic`.
struct AttentionShape {
  int64_t batch;
  int64_t qHeads;
  int64_t kvHeads;
  int64_t qLen;
  int64_t kvLen;
  int64_t headDim;
  int64_t valueDim;
};

/// The operands of an attention op that masks and score modifiers read
/// (AuxOperands.def).
enum class AuxOperand {
#define ATTN_AUX_OPERAND(Enumerator, name) Enumerator,
#include "attn/Dialect/AuxOperands.def"
};

inline constexpr llvm::StringLiteral kAuxOperandNames[] = {
#define ATTN_AUX_OPERAND(Enumerator, name) name,
#include "attn/Dialect/AuxOperands.def"
};

inline constexpr size_t kNumAuxOperands = std::size(kAuxOperandNames);

/// The name of `operand` (its ODS name and kernel parameter role).
inline llvm::StringRef auxOperandName(AuxOperand operand) {
  return kAuxOperandNames[static_cast<size_t>(operand)];
}

/// One value per auxiliary operand, indexed by AuxOperand; null where the op
/// has none.
using AuxOperandValues = std::array<mlir::Value, kNumAuxOperands>;

/// Reads the run-time data of auxiliary operands, as each lowering stores it
/// (tensors in the reference, buffers in kernels). Dimensions of static size
/// 1 broadcast: reading them ignores the index. Static analyses pass no
/// reader, and everything read is unknown.
class AuxReader {
public:
  virtual ~AuxReader();
  /// Whether the op has `operand`.
  virtual bool has(AuxOperand operand) const = 0;
  /// An element of an integer operand (layout, segment ids).
  virtual IndexExpr readInt(IndexExprBuilder &builder, AuxOperand operand,
                            llvm::ArrayRef<IndexExpr> indices) = 0;
  /// An element of a float operand, converted to `type` (the compute type).
  virtual mlir::Value readFloat(IndexExprBuilder &builder, AuxOperand operand,
                                llvm::ArrayRef<IndexExpr> indices,
                                mlir::FloatType type) = 0;
  /// The minimum and maximum of a rank-2 integer operand (segment ids) over
  /// row `batch`, columns `[lo, hi)` (a non-empty range).
  virtual std::pair<IndexExpr, IndexExpr>
  readMinMax(IndexExprBuilder &builder, AuxOperand operand, IndexExpr batch,
             IndexExpr lo, IndexExpr hi) = 0;
  /// What stands for `value`, a value of the enclosing function that a
  /// mask_mod or score_mod region uses, where the region is inlined (itself,
  /// unless the lowering moved the code into a kernel of its own).
  virtual mlir::Value lookupCaptured(mlir::Value value) const { return value; }
};

/// What a mask may read besides the positions: the sequence lengths and the
/// run-time data of the op (null in static analyses).
struct MaskContext {
  IndexExpr qLen;
  IndexExpr kvLen;
  AuxReader *aux = nullptr;
};

/// One (query, key) pair of one batch entry and query head.
struct MaskPoint {
  IndexExpr batch;
  IndexExpr head;
  IndexExpr q;
  IndexExpr kv;
};

/// A tile `[qLo, qHi) x [kvLo, kvHi)` of one batch entry and query head.
struct MaskTile {
  IndexExpr batch;
  IndexExpr head;
  IndexExpr qLo;
  IndexExpr qHi;
  IndexExpr kvLo;
  IndexExpr kvHi;
};

/// `empty`: no pair of the tile is allowed; `full`: every pair is. Neither
/// holding means partial.
struct TileClassExpr {
  PredExpr empty;
  PredExpr full;
};

/// A half-open range `[lo, hi)`.
struct IndexRange {
  IndexExpr lo;
  IndexExpr hi;
};

/// What a score modifier sees: the mask context, the position and the
/// number of query heads.
struct ScoreContext {
  MaskContext mask;
  MaskPoint point;
  int64_t qHeads;
};

/// The name of one dimension of a kernel parameter. Equal names must agree;
/// an empty name is a dimension of its own (e.g. a broadcast 1); a derived
/// dimension must equal `ceil(derivedFrom / divisor)`.
struct DimName {
  std::string name;
  std::string derivedFrom = {};
  int64_t divisor = 1;
};

} // namespace attn

#endif // ATTN_DIALECT_MASKINTERFACESUPPORT_H
