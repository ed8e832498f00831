//===- LinalgBuilders.h - Small linalg-on-tensors constructors --*- C++ -*-===//
//
// The few shapes of linalg.generic that feature maps and the linear
// attention lowerings are made of: elementwise maps, generated tensors,
// contractions (sums of products) and reductions of the last dimension.
// Every one computes in the element type of its result and converts float
// inputs to it.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_LINALGBUILDERS_H
#define ATTN_DIALECT_LINALGBUILDERS_H

#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace attn {

using ElementFn = llvm::function_ref<mlir::Value(
    mlir::OpBuilder &, mlir::Location, mlir::ValueRange elements,
    mlir::ValueRange indices)>;

/// `x` converted to float `type` (extf / truncf), or `x` itself.
mlir::Value convertFloat(mlir::OpBuilder &b, mlir::Location loc, mlir::Value x,
                         mlir::Type type);

/// A tensor of `sizes` and `elementType` whose element at `indices` is
/// `fn(elements, indices)`, `elements` being those of `inputs` read through
/// `inputMaps` (from the output's indices). Bodies may also read other
/// tensors with tensor.extract.
mlir::Value buildGenerated(mlir::OpBuilder &b, mlir::Location loc,
                           llvm::ArrayRef<mlir::OpFoldResult> sizes,
                           mlir::Type elementType, mlir::ValueRange inputs,
                           llvm::ArrayRef<mlir::AffineMap> inputMaps,
                           ElementFn fn);

/// `fn` applied to every element of `x` (same shape).
mlir::Value buildElementwise(
    mlir::OpBuilder &b, mlir::Location loc, mlir::Value x,
    mlir::Type elementType,
    llvm::function_ref<mlir::Value(mlir::OpBuilder &, mlir::Location,
                                   mlir::Value)>
        fn);

/// `init + sum over the reduction loops of lhs * rhs` (of `lhs` alone when
/// `rhs` is null): loops are the output's dimensions followed by
/// `numReductionLoops` reduction loops; `lhsMap` and `rhsMap` map all loops
/// to the operands. `init` is a tensor of the result type.
mlir::Value buildContraction(mlir::OpBuilder &b, mlir::Location loc,
                             mlir::Value lhs, mlir::AffineMap lhsMap,
                             mlir::Value rhs, mlir::AffineMap rhsMap,
                             mlir::Value init, unsigned numReductionLoops);

/// `init + sum of lhs * rhs` over the loops that `outMap` leaves out: the
/// general form, for loop orders where a reduction loop comes before a
/// parallel one (C[i, e] += A[i, j] B[j, e] with loops (i, j, e) is the form
/// the CPU micro-kernels match).
mlir::Value buildContraction(mlir::OpBuilder &b, mlir::Location loc,
                             mlir::Value lhs, mlir::AffineMap lhsMap,
                             mlir::Value rhs, mlir::AffineMap rhsMap,
                             mlir::Value init, mlir::AffineMap outMap,
                             llvm::ArrayRef<mlir::utils::IteratorType> iterators);

/// `x` reduced over dimension `dim` with `combine`, from `initValue`; the
/// loops follow the dimensions of `x`, so the reduction streams through it.
mlir::Value buildDimReduction(
    mlir::OpBuilder &b, mlir::Location loc, mlir::Value x, unsigned dim,
    double initValue,
    llvm::function_ref<mlir::Value(mlir::OpBuilder &, mlir::Location,
                                   mlir::Value, mlir::Value)>
        combine);

/// `x` reduced over its last dimension with `combine`, from `initValue`.
mlir::Value buildLastDimReduction(
    mlir::OpBuilder &b, mlir::Location loc, mlir::Value x, double initValue,
    llvm::function_ref<mlir::Value(mlir::OpBuilder &, mlir::Location,
                                   mlir::Value, mlir::Value)>
        combine);

/// A new tensor holding the elements of `x`: an allocation with a copy,
/// which canonicalization keeps (it folds identity generics away). Ops that
/// update a state in place start from one, so that they never write into a
/// tensor the caller passed.
mlir::Value buildFreshCopy(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::Value x);

/// A tensor of `sizes` filled with `value`.
mlir::Value buildFilled(mlir::OpBuilder &b, mlir::Location loc,
                        llvm::ArrayRef<mlir::OpFoldResult> sizes,
                        mlir::Type elementType, double value);

} // namespace attn

#endif // ATTN_DIALECT_LINALGBUILDERS_H
