//===- TileBuilder.cpp - Tile-level linalg ops of the tiled kernels -------===//

#include "attn/Transforms/TileBuilder.h"
#include "attn/Dialect/LinalgBuilders.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;

namespace attn {

Value TileBuilder::filled(ArrayRef<int64_t> shape, double value) {
  SmallVector<OpFoldResult> sizes = llvm::map_to_vector(
      shape, [&](int64_t n) -> OpFoldResult { return b.getIndexAttr(n); });
  return buildFilled(b, loc, sizes, computeType, value);
}

Value TileBuilder::paddedTile(Value src, RowIndices indicesOf, Value row0,
                              Value rows, int64_t maxRows) {
  auto type = cast<RankedTensorType>(src.getType());
  Type element = type.getElementType();
  int64_t cols = type.getDimSize(type.getRank() - 1);
  // An empty tile (a query tile past its sequence) reads row0.
  Value lastRow = arith::MaxSIOp::create(
      b, loc, row0,
      arith::SubIOp::create(b, loc, arith::AddIOp::create(b, loc, row0, rows),
                            index(1)));
  Value init =
      tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{maxRows, cols}, element);
  bool whole = getConstantIntValue(rows) == maxRows;
  auto par = utils::IteratorType::parallel;
  return linalg::GenericOp::create(
             b, loc, init.getType(), ValueRange{}, ValueRange{init},
             {map(2, {dim(0), dim(1)})}, {par, par},
             [&](OpBuilder &nb, Location nl, ValueRange) {
               Value r = linalg::IndexOp::create(nb, nl, 0);
               Value c = linalg::IndexOp::create(nb, nl, 1);
               Value row = arith::AddIOp::create(nb, nl, row0, r);
               if (whole) {
                 Value x = tensor::ExtractOp::create(nb, nl, src,
                                                     indicesOf(nb, nl, row, c));
                 linalg::YieldOp::create(nb, nl, x);
                 return;
               }
               Value inside = arith::CmpIOp::create(
                   nb, nl, arith::CmpIPredicate::slt, r, rows);
               Value clamped = arith::MinSIOp::create(nb, nl, row, lastRow);
               Value x = tensor::ExtractOp::create(
                   nb, nl, src, indicesOf(nb, nl, clamped, c));
               Value zero =
                   arith::ConstantOp::create(nb, nl, nb.getZeroAttr(element));
               Value v = arith::SelectOp::create(nb, nl, inside, x, zero);
               linalg::YieldOp::create(nb, nl, v);
             })
      .getResult(0);
}

Value TileBuilder::product(Value lhs, Value rhs, Value acc,
                           bool transposedRhs) {
  auto par = utils::IteratorType::parallel,
       red = utils::IteratorType::reduction;
  if (transposedRhs)
    return buildContraction(b, loc, lhs, map(3, {dim(0), dim(2)}), rhs,
                            map(3, {dim(1), dim(2)}), acc,
                            map(3, {dim(0), dim(1)}), {par, par, red});
  return buildContraction(b, loc, lhs, map(3, {dim(0), dim(1)}), rhs,
                          map(3, {dim(1), dim(2)}), acc,
                          map(3, {dim(0), dim(2)}), {par, red, par});
}

} // namespace attn
