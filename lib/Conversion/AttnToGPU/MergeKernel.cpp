//===- MergeKernel.cpp - The kernel that merges attention partials --------===//

#include "MergeKernel.h"
#include "KernelSupport.h"

#include "attn/Transforms/SoftmaxEpilogue.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <limits>

using namespace mlir;

namespace attn {

namespace {

constexpr int64_t kMergeThreads = 128;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kLog2E = 1.4426950408889634;

class MergeKernelBuilder : KernelBuilderBase {
public:
  MergeKernelBuilder(OpBuilder &b, Location loc, ValueRange args,
                     int64_t valueDim)
      : KernelBuilderBase(b, loc), oParts(args[0]), lseParts(args[1]),
        o(args[2]), lse(args.size() > 3 ? args[3] : Value()),
        valueDim(valueDim) {}

  void build() {
    Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    Value element = add(mul(gpu::BlockIdOp::create(b, loc, gpu::Dimension::x),
                            kMergeThreads),
                        tid);
    Value head = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
    Value batch = gpu::BlockIdOp::create(b, loc, gpu::Dimension::z);
    Value qLen = memref::DimOp::create(b, loc, o, 2);
    Value row = arith::DivUIOp::create(b, loc, element, index(valueDim));
    Value col = arith::RemUIOp::create(b, loc, element, index(valueDim));
    Value valid = less(row, qLen);
    // Threads past the last row compute on it and store nothing, so that
    // control flow stays uniform.
    row = arith::MinUIOp::create(b, loc, row,
                                 arith::SubIOp::create(b, loc, qLen, index(1)));
    Value parts = memref::DimOp::create(b, loc, oParts, 0);
    auto partLse = [&](OpBuilder &nb, Value i) -> Value {
      return memref::LoadOp::create(nb, loc, lseParts,
                                    ValueRange{i, batch, head, row});
    };

    // m = max_i lse_i.
    auto maxLoop = scf::ForOp::create(
        b, loc, index(0), parts, index(1), ValueRange{fconst(-kInf)},
        [&](OpBuilder &nb, Location, Value i, ValueRange m) {
          scf::YieldOp::create(
              nb, loc,
              ValueRange{arith::MaximumFOp::create(nb, loc, m[0],
                                                   partLse(nb, i))});
        });
    Value m = maxLoop.getResult(0);
    Value empty =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, m,
                              fconst(-kInf));
    Value negScaledMax = arith::MulFOp::create(
        b, loc, arith::SelectOp::create(b, loc, empty, fconst(0.0), m),
        fconst(-kLog2E));

    // l = sum_i w_i, acc = sum_i w_i o_i with w_i = exp(lse_i - m); an
    // empty partial adds exactly nothing, whatever its o_i.
    auto sumLoop = scf::ForOp::create(
        b, loc, index(0), parts, index(1),
        ValueRange{fconst(0.0), fconst(0.0)},
        [&](OpBuilder &nb, Location, Value i, ValueRange sums) {
          Value lsePart = partLse(nb, i);
          Value w = math::Exp2Op::create(
              nb, loc,
              math::FmaOp::create(nb, loc, lsePart, fconst(kLog2E),
                                  negScaledMax));
          Value oPart = memref::LoadOp::create(
              nb, loc, oParts, ValueRange{i, batch, head, row, col});
          Value partEmpty = arith::CmpFOp::create(
              nb, loc, arith::CmpFPredicate::OEQ, lsePart, fconst(-kInf));
          Value term = arith::SelectOp::create(
              nb, loc, partEmpty, fconst(0.0),
              arith::MulFOp::create(nb, loc, w, oPart));
          scf::YieldOp::create(
              nb, loc,
              ValueRange{arith::AddFOp::create(nb, loc, sums[0], w),
                         arith::AddFOp::create(nb, loc, sums[1], term)});
        });
    // l == 0 exactly when every partial is empty.
    Value l = sumLoop.getResult(0), acc = sumLoop.getResult(1);
    Value value = buildRowOutput(b, loc, acc, l, Value());
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
  /// Stores the scalar `value` at `indices` of `memref` where `when` holds.
  void storeIf(Value memref, ValueRange indices, Value when, Value value) {
    auto one = [&](Type element) { return VectorType::get({1}, element); };
    vector::MaskedStoreOp::create(
        b, loc, memref, indices,
        vector::BroadcastOp::create(b, loc, one(b.getI1Type()), when),
        vector::BroadcastOp::create(b, loc, one(value.getType()), value));
  }

  Value oParts, lseParts, o, lse;
  int64_t valueDim;
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
                                        MemRefType oParts,
                                        MemRefType lseParts, MemRefType o,
                                        MemRefType lse, ModuleOp module,
                                        SymbolTable &symbols) {
  SmallVector<Type> types = {oParts, lseParts, o};
  if (lse)
    types.push_back(lse);
  OpBuilder::InsertionGuard guard(b);
  gpu::GPUFuncOp kernel =
      createKernel(b, op, types, "merge", module, symbols);
  int64_t valueDim = o.getDimSize(3);
  MergeKernelBuilder(b, op->getLoc(), kernel.getArguments(), valueDim)
      .build();
  gpu::ReturnOp::create(b, op->getLoc());
  return MergeKernel{kernel, kMergeThreads, valueDim};
}

} // namespace attn
