//===- TileBuilder.h - Tile-level linalg ops of the tiled kernels -*- C++ -*-===//
//
// The tiled forward (attn-tile-flash) and the tiled backward
// (attn-tile-flash-backward) build the same kinds of tile-level ops on
// tensors: zero-padded tiles gathered from an operand, filled tiles, and
// tile products in the two forms the CPU micro-kernels take. They are
// written here once.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TRANSFORMS_TILEBUILDER_H
#define ATTN_TRANSFORMS_TILEBUILDER_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"

namespace attn {

class TileBuilder {
public:
  TileBuilder(mlir::OpBuilder &b, mlir::Location loc,
              mlir::FloatType computeType)
      : b(b), loc(loc), ctx(b.getContext()), computeType(computeType) {}

  mlir::Value index(int64_t v) {
    return mlir::arith::ConstantIndexOp::create(b, loc, v);
  }
  mlir::Value ceilDiv(mlir::Value x, int64_t d) {
    return mlir::arith::CeilDivSIOp::create(b, loc, x, index(d));
  }
  /// A constant of the compute type.
  mlir::Value fconst(mlir::OpBuilder &nb, mlir::Location nloc, double v) {
    return mlir::arith::ConstantOp::create(
        nb, nloc, mlir::FloatAttr::get(computeType, v));
  }
  /// `x` extended to the compute type.
  mlir::Value toCompute(mlir::OpBuilder &nb, mlir::Location nloc,
                        mlir::Value x) {
    if (x.getType() == computeType)
      return x;
    return mlir::arith::ExtFOp::create(nb, nloc, computeType, x);
  }
  mlir::AffineExpr dim(unsigned i) { return mlir::getAffineDimExpr(i, ctx); }
  mlir::AffineMap map(unsigned n, llvm::ArrayRef<mlir::AffineExpr> results) {
    return mlir::AffineMap::get(n, 0, results, ctx);
  }

  /// A tile of `shape` (compute type) filled with `value`.
  mlir::Value filled(llvm::ArrayRef<int64_t> shape, double value);

  /// Where element `col` of row `row` of a tile lies in its tensor.
  using RowIndices = llvm::function_ref<llvm::SmallVector<mlir::Value>(
      mlir::OpBuilder &, mlir::Location, mlir::Value row, mlir::Value col)>;

  /// `rows x cols` of rows `row0 + r` of `src` (placed by `indicesOf`;
  /// `cols` is the last dimension of `src`), zero-padded to `maxRows x cols`
  /// (static). A gather (clamped reads, then a select) rather than a pad,
  /// so that it bufferizes to plain loops.
  mlir::Value paddedTile(mlir::Value src, RowIndices indicesOf,
                         mlir::Value row0, mlir::Value rows, int64_t maxRows);

  /// `acc + lhs . rhs^T` (`transposedRhs`: acc[m, n] += lhs[m, k] rhs[n, k],
  /// loops (m, n, k)) or `acc + lhs . rhs` (acc[m, n] += lhs[m, k] rhs[k, n],
  /// loops (m, k, n)), with the products in the compute type: the two forms
  /// of the CPU micro-kernels (isTileProduct).
  mlir::Value product(mlir::Value lhs, mlir::Value rhs, mlir::Value acc,
                      bool transposedRhs);

protected:
  mlir::OpBuilder &b;
  mlir::Location loc;
  mlir::MLIRContext *ctx;
  mlir::FloatType computeType;
};

} // namespace attn

#endif // ATTN_TRANSFORMS_TILEBUILDER_H
