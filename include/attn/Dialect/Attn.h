//===- Attn.h - The attn dialect --------------------------------*- C++ -*-===//

#ifndef ATTN_DIALECT_ATTN_H
#define ATTN_DIALECT_ATTN_H

#include "attn/Dialect/AttrParsing.h"
#include "attn/Dialect/FeatureMapSupport.h"
#include "attn/Dialect/IndexExpr.h"
#include "attn/Dialect/MaskInterfaceSupport.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "attn/Dialect/AttnDialect.h.inc"
#include "attn/Dialect/AttnEnums.h.inc"

#include "attn/Dialect/AttnAttrInterfaces.h.inc"

namespace attn::detail {
// The shared methods of AttentionSpecOpInterface (AttnOps.cpp); `op`
// implements it.
double getScaleOrDefault(mlir::Operation *op);
AttentionShape getShape(mlir::Operation *op);
mlir::FloatType getComputeType(mlir::Operation *op);
NormalizationAttrInterface getNormalizationOrDefault(mlir::Operation *op);
llvm::SmallVector<ScoreModAttrInterface> getScoreModList(mlir::Operation *op);
} // namespace attn::detail

#include "attn/Dialect/AttnOpInterfaces.h.inc"

#define GET_ATTRDEF_CLASSES
#include "attn/Dialect/AttnAttrs.h.inc"

#define GET_OP_CLASSES
#include "attn/Dialect/AttnOps.h.inc"

namespace attn {
/// The diagonal `kv = q + offset` of causal-like masks and ALiBi: 0 when
/// top-left aligned, `Skv - Sq` when bottom-right aligned.
IndexExpr diagonalOffset(Alignment align, const MaskContext &context);

/// Whether the mask_mod or score_mod region of `op` reads a tensor defined
/// above it.
bool regionsReadTensors(AttentionSpecOpInterface op);

/// `map`'s features [B, H, n, F] of rows [B, H, n, D] of any float type,
/// converted to `context.computeType` first.
mlir::Value buildRowFeatures(mlir::OpBuilder &b, mlir::Location loc,
                             FeatureMapAttrInterface map,
                             const FeatureMapContext &context,
                             mlir::Value rows);
} // namespace attn

#endif // ATTN_DIALECT_ATTN_H
