//===- MergeKernel.cpp - The kernel that merges attention partials --------===//

#include "MergeKernel.h"
#include "KernelSupport.h"

#include "attn/Transforms/SoftmaxEpilogue.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <limits>

using namespace mlir;

namespace attn {

namespace {

constexpr int64_t kMergeThreads = 128;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kLog2E = 1.4426950408889634;

/// The partials of one output element: stacked on a leading axis (a loop
/// over it) or a list of operands (unrolled).
class MergeKernelBuilder : KernelBuilderBase {
public:
  MergeKernelBuilder(OpBuilder &b, Location loc, ValueRange oParts,
                     ValueRange lseParts, Value o, Value lse, int64_t valueDim)
      : KernelBuilderBase(b, loc), oParts(oParts), lseParts(lseParts), o(o),
        lse(lse), valueDim(valueDim),
        stacked(cast<MemRefType>(oParts.front().getType()).getRank() == 5) {}

  void build() {
    Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    Value element = add(mul(gpu::BlockIdOp::create(b, loc, gpu::Dimension::x),
                            kMergeThreads),
                        tid);
    head = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
    batch = gpu::BlockIdOp::create(b, loc, gpu::Dimension::z);
    Value qLen = memref::DimOp::create(b, loc, o, 2);
    row = arith::DivUIOp::create(b, loc, element, index(valueDim));
    col = arith::RemUIOp::create(b, loc, element, index(valueDim));
    Value valid = less(row, qLen);
    // Threads past the last row compute on it and store nothing, so that
    // control flow stays uniform.
    row = arith::MinUIOp::create(b, loc, row,
                                 arith::SubIOp::create(b, loc, qLen, index(1)));

    if (stacked)
      parts = memref::DimOp::create(b, loc, oParts.front(), 0);

    // m = max_i lse_i.
    Value m = reducePartials(
        {fconst(-kInf)}, [&](Value part, ValueRange acc) -> SmallVector<Value> {
          return {arith::MaximumFOp::create(b, loc, acc[0], partLse(part))};
        })[0];
    Value empty = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, m,
                                        fconst(-kInf));
    Value negScaledMax = arith::MulFOp::create(
        b, loc, arith::SelectOp::create(b, loc, empty, fconst(0.0), m),
        fconst(-kLog2E));

    // l = sum_i w_i, acc = sum_i w_i o_i with w_i = exp(lse_i - m); an
    // empty partial adds exactly nothing, whatever its o_i.
    SmallVector<Value> sums = reducePartials(
        {fconst(0.0), fconst(0.0)},
        [&](Value part, ValueRange acc) -> SmallVector<Value> {
          Value lsePart = partLse(part);
          Value w = math::Exp2Op::create(
              b, loc,
              math::FmaOp::create(b, loc, lsePart, fconst(kLog2E),
                                  negScaledMax));
          Value partEmpty = arith::CmpFOp::create(
              b, loc, arith::CmpFPredicate::OEQ, lsePart, fconst(-kInf));
          Value term = arith::SelectOp::create(
              b, loc, partEmpty, fconst(0.0),
              arith::MulFOp::create(b, loc, w, partO(part)));
          return {arith::AddFOp::create(b, loc, acc[0], w),
                  arith::AddFOp::create(b, loc, acc[1], term)};
        });
    // l == 0 exactly when every partial is empty.
    Value l = sums[0];
    Value value = buildRowOutput(b, loc, sums[1], l, Value());
    Type outElement = cast<MemRefType>(o.getType()).getElementType();
    if (outElement != f32)
      value = arith::TruncFOp::create(b, loc, outElement, value);
    storeIf(o, ValueRange{batch, head, row, col}, valid, value);
    if (lse) {
      Value logSum = buildRowLogSumExp(b, loc, m, l);
      Value writes = arith::AndIOp::create(
          b, loc, valid,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, col,
                                index(0)));
      storeIf(lse, ValueRange{batch, head, row}, writes, logSum);
    }
  }

private:
  /// Folds `step(part, acc)` over the partials from `init`: `part` is the
  /// split index (stacked) or the operand position (a list, as a constant).
  SmallVector<Value>
  reducePartials(SmallVector<Value> init,
                 function_ref<SmallVector<Value>(Value, ValueRange)> step) {
    if (!stacked) {
      for (size_t i = 0; i < oParts.size(); ++i)
        init = step(index(i), init);
      return init;
    }
    auto loop = scf::ForOp::create(
        b, loc, index(0), parts, index(1), init,
        [&](OpBuilder &nb, Location, Value i, ValueRange acc) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          scf::YieldOp::create(b, loc, step(i, acc));
        });
    return SmallVector<Value>(loop.getResults());
  }

  Value partLse(Value part) {
    if (stacked)
      return memref::LoadOp::create(b, loc, lseParts.front(),
                                    ValueRange{part, batch, head, row});
    return memref::LoadOp::create(b, loc, lseParts[constantIndex(part)],
                                  ValueRange{batch, head, row});
  }

  /// This thread's element of partial `part`, in f32.
  Value partO(Value part) {
    Value x = stacked
                  ? memref::LoadOp::create(
                        b, loc, oParts.front(),
                        ValueRange{part, batch, head, row, col})
                  : memref::LoadOp::create(b, loc, oParts[constantIndex(part)],
                                           ValueRange{batch, head, row, col});
    if (x.getType() != f32)
      x = arith::ExtFOp::create(b, loc, f32, x);
    return x;
  }

  static int64_t constantIndex(Value v) {
    return *getConstantIntValue(v);
  }

  ValueRange oParts, lseParts;
  Value o, lse;
  int64_t valueDim;
  bool stacked;
  Value batch, head, row, col;
  /// Stacked: the number of partials.
  Value parts;
};

} // namespace

gpu::KernelDim3 MergeKernel::grid(OpBuilder &b, Location loc, Value batch,
                                  Value heads, Value qLen) const {
  Value elements = arith::MulIOp::create(
      b, loc, qLen, arith::ConstantIndexOp::create(b, loc, valueDim));
  Value blocks = arith::CeilDivUIOp::create(
      b, loc, elements, arith::ConstantIndexOp::create(b, loc, threads));
  return {blocks, heads, batch};
}

FailureOr<MergeKernel> buildMergeKernel(OpBuilder &b, Operation *op,
                                        ArrayRef<MemRefType> oParts,
                                        ArrayRef<MemRefType> lseParts,
                                        MemRefType o, MemRefType lse,
                                        ModuleOp module, SymbolTable &symbols) {
  SmallVector<Type> types(oParts.begin(), oParts.end());
  llvm::append_range(types, lseParts);
  types.push_back(o);
  for (Type type : types) {
    Type element = cast<MemRefType>(type).getElementType();
    if (!element.isF16() && !element.isBF16() && !element.isF32())
      return op->emitOpError()
             << "cannot be compiled for the GPU: elements must be f16, bf16 "
                "or f32, got "
             << element << " (merge f64 partials on the CPU)";
  }
  if (lse)
    types.push_back(lse);
  OpBuilder::InsertionGuard guard(b);
  gpu::GPUFuncOp kernel =
      createKernel(b, op, types, "merge", module, symbols);
  int64_t valueDim = o.getDimSize(3);
  ValueRange args = kernel.getArguments();
  size_t n = oParts.size();
  MergeKernelBuilder(b, op->getLoc(), args.take_front(n),
                     args.slice(n, n), args[2 * n],
                     lse ? args[2 * n + 1] : Value(), valueDim)
      .build();
  gpu::ReturnOp::create(b, op->getLoc());
  return MergeKernel{kernel, kMergeThreads, valueDim};
}

LogicalResult lowerMergeToGPU(MergeOp op, ModuleOp module,
                              SymbolTable &symbols) {
  SmallVector<MemRefType> oTypes, lseTypes;
  for (Value part : op.getOParts())
    oTypes.push_back(memrefTypeOf(part));
  for (Value part : op.getLseParts())
    lseTypes.push_back(memrefTypeOf(part));
  OpBuilder b(op.getContext());
  FailureOr<MergeKernel> merge = buildMergeKernel(
      b, op, oTypes, lseTypes, memrefTypeOf(op.getO()),
      op.getLse() ? memrefTypeOf(op.getLse()) : MemRefType(), module,
      symbols);
  if (failed(merge))
    return failure();
  b.setInsertionPoint(op);
  Location loc = op.getLoc();
  // [N,] B, H, S of the first lse partial.
  Value lse0 = op.getLseParts().front();
  unsigned lead = op.isSplit() ? 1 : 0;
  Value batch = tensor::DimOp::create(b, loc, lse0, lead);
  Value heads = tensor::DimOp::create(b, loc, lse0, lead + 1);
  Value qLen = tensor::DimOp::create(b, loc, lse0, lead + 2);
  SmallVector<Value> inputs(op.getOParts());
  llvm::append_range(inputs, op.getLseParts());
  return replaceWithLaunch(b, op, merge->kernel, inputs,
                           merge->grid(b, loc, batch, heads, qLen),
                           merge->threads, 0);
}

} // namespace attn
