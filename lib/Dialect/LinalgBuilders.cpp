//===- LinalgBuilders.cpp - Small linalg-on-tensors constructors ----------===//

#include "attn/Dialect/LinalgBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/TypeUtilities.h"

using namespace mlir;

namespace attn {

Value convertFloat(OpBuilder &b, Location loc, Value x, Type type) {
  auto from = cast<FloatType>(x.getType());
  auto to = cast<FloatType>(type);
  if (from == to)
    return x;
  if (from.getWidth() < to.getWidth())
    return arith::ExtFOp::create(b, loc, to, x);
  return arith::TruncFOp::create(b, loc, to, x);
}

namespace {
/// The loop indices of the enclosing linalg op, `count` of them.
SmallVector<Value> loopIndices(OpBuilder &b, Location loc, unsigned count) {
  SmallVector<Value> indices;
  for (unsigned d = 0; d < count; ++d)
    indices.push_back(linalg::IndexOp::create(b, loc, d));
  return indices;
}

/// (d0, ..., d{loops-1}) -> (d0, ..., d{count-1}).
AffineMap leadingDims(MLIRContext *ctx, unsigned loops, unsigned count) {
  SmallVector<AffineExpr> dims;
  for (unsigned d = 0; d < count; ++d)
    dims.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(loops, 0, dims, ctx);
}
} // namespace

Value buildFreshCopy(OpBuilder &b, Location loc, Value x) {
  return bufferization::AllocTensorOp::create(
      b, loc, cast<RankedTensorType>(x.getType()), ValueRange(), x);
}

Value buildFilled(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                  Type elementType, double value) {
  Value empty = tensor::EmptyOp::create(b, loc, sizes, elementType);
  Value init =
      arith::ConstantOp::create(b, loc, FloatAttr::get(elementType, value));
  return linalg::FillOp::create(b, loc, ValueRange{init}, ValueRange{empty})
      .getResult(0);
}

Value buildGenerated(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                     Type elementType, ValueRange inputs,
                     ArrayRef<AffineMap> inputMaps, ElementFn fn) {
  unsigned rank = sizes.size();
  Value init = tensor::EmptyOp::create(b, loc, sizes, elementType);
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(AffineMap::getMultiDimIdentityMap(rank, b.getContext()));
  SmallVector<utils::IteratorType> parallel(rank,
                                            utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, init.getType(), inputs, ValueRange{init}, maps, parallel,
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               Value result = fn(nb, nloc, args.drop_back(),
                                 loopIndices(nb, nloc, rank));
               linalg::YieldOp::create(nb, nloc, result);
             })
      .getResult(0);
}

Value buildElementwise(
    OpBuilder &b, Location loc, Value x, Type elementType,
    function_ref<Value(OpBuilder &, Location, Value)> fn) {
  auto type = cast<RankedTensorType>(x.getType());
  return buildGenerated(
      b, loc, tensor::getMixedSizes(b, loc, x), elementType, {x},
      {AffineMap::getMultiDimIdentityMap(type.getRank(), b.getContext())},
      [&](OpBuilder &nb, Location nloc, ValueRange elements, ValueRange) {
        return fn(nb, nloc, elements[0]);
      });
}

Value buildContraction(OpBuilder &b, Location loc, Value lhs, AffineMap lhsMap,
                       Value rhs, AffineMap rhsMap, Value init,
                       AffineMap outMap,
                       ArrayRef<utils::IteratorType> iterators) {
  SmallVector<Value> inputs = {lhs};
  SmallVector<AffineMap> maps = {lhsMap};
  if (rhs) {
    inputs.push_back(rhs);
    maps.push_back(rhsMap);
  }
  maps.push_back(outMap);
  Type element = getElementTypeOrSelf(init.getType());
  return linalg::GenericOp::create(
             b, loc, init.getType(), inputs, ValueRange{init}, maps, iterators,
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               Value term = convertFloat(nb, nloc, args[0], element);
               if (rhs)
                 term = arith::MulFOp::create(
                     nb, nloc, term, convertFloat(nb, nloc, args[1], element));
               Value sum = arith::AddFOp::create(nb, nloc, term, args.back());
               linalg::YieldOp::create(nb, nloc, sum);
             })
      .getResult(0);
}

Value buildContraction(OpBuilder &b, Location loc, Value lhs, AffineMap lhsMap,
                       Value rhs, AffineMap rhsMap, Value init,
                       unsigned numReductionLoops) {
  unsigned rank = cast<RankedTensorType>(init.getType()).getRank();
  unsigned loops = rank + numReductionLoops;
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  iterators.append(numReductionLoops, utils::IteratorType::reduction);
  return buildContraction(b, loc, lhs, lhsMap, rhs, rhsMap, init,
                          leadingDims(b.getContext(), loops, rank), iterators);
}

Value buildDimReduction(
    OpBuilder &b, Location loc, Value x, unsigned dim, double initValue,
    function_ref<Value(OpBuilder &, Location, Value, Value)> combine) {
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, x);
  sizes.erase(sizes.begin() + dim);
  Type element = type.getElementType();
  Value init = buildFilled(b, loc, sizes, element, initValue);
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  iterators[dim] = utils::IteratorType::reduction;
  MLIRContext *ctx = b.getContext();
  AffineMap outMap =
      AffineMap::getMultiDimIdentityMap(rank, ctx).dropResult(dim);
  return linalg::GenericOp::create(
             b, loc, init.getType(), ValueRange{x}, ValueRange{init},
             {AffineMap::getMultiDimIdentityMap(rank, ctx), outMap}, iterators,
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               linalg::YieldOp::create(nb, nloc,
                                       combine(nb, nloc, args[0], args[1]));
             })
      .getResult(0);
}

Value buildLastDimReduction(
    OpBuilder &b, Location loc, Value x, double initValue,
    function_ref<Value(OpBuilder &, Location, Value, Value)> combine) {
  unsigned rank = cast<RankedTensorType>(x.getType()).getRank();
  return buildDimReduction(b, loc, x, rank - 1, initValue, combine);
}

} // namespace attn
