//===- PromoteToF64.cpp - Compute attention in f64 ------------------------===//

#include "attn/Dialect/LinalgBuilders.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace attn {
#define GEN_PASS_DEF_ATTNPROMOTETOF64
#include "attn/Dialect/Passes.h.inc"
} // namespace attn

using namespace mlir;
using namespace attn;

namespace {

/// `tensor` with its elements converted to `type` (extf or truncf).
Value convertElements(PatternRewriter &b, Location loc, Value tensor,
                      FloatType type) {
  if (getElementTypeOrSelf(tensor.getType()) == type)
    return tensor;
  return buildElementwise(b, loc, tensor, type,
                          [&](OpBuilder &nb, Location nloc, Value x) {
                            return convertFloat(nb, nloc, x, type);
                          });
}

/// Any kernel op (attn.attention, attn.linear_attention, attn.merge): every
/// float operand and result becomes f64, which makes the op compute in f64.
struct PromoteKernel : OpInterfaceRewritePattern<KernelOpInterface> {
  using OpInterfaceRewritePattern::OpInterfaceRewritePattern;

  LogicalResult matchAndRewrite(KernelOpInterface op,
                                PatternRewriter &rewriter) const override {
    // Done when every float is f64 (an attn.merge may take f64 partials
    // and still return f32).
    auto isF64OrNotFloat = [](Type t) {
      Type element = getElementTypeOrSelf(t);
      return element.isF64() || !isa<FloatType>(element);
    };
    if (llvm::all_of(op->getOperandTypes(), isF64OrNotFloat) &&
        llvm::all_of(op->getResultTypes(), isF64OrNotFloat))
      return failure();
    Location loc = op.getLoc();
    FloatType f64 = rewriter.getF64Type();
    SmallVector<Value> operands;
    for (Value operand : op->getOperands()) {
      auto type = cast<RankedTensorType>(operand.getType());
      operands.push_back(isa<FloatType>(type.getElementType())
                             ? convertElements(rewriter, loc, operand, f64)
                             : operand);
    }
    SmallVector<Type> resultTypes;
    for (Type t : op->getResultTypes())
      resultTypes.push_back(cast<RankedTensorType>(t).clone(f64));
    OperationState state(loc, op->getName(), operands, resultTypes,
                         op->getAttrs());
    for (Region &region : op->getRegions()) {
      Region *moved = state.addRegion();
      rewriter.inlineRegionBefore(region, *moved, moved->end());
    }
    Operation *promoted = rewriter.create(state);

    // Returned results stay f64 (the function's result types follow);
    // other users get the original element types back.
    for (auto [old, now] :
         llvm::zip_equal(op->getResults(), promoted->getResults())) {
      Value narrowed;
      for (OpOperand &use : llvm::make_early_inc_range(old.getUses())) {
        if (isa<func::ReturnOp>(use.getOwner())) {
          rewriter.modifyOpInPlace(use.getOwner(), [&] { use.set(now); });
          continue;
        }
        if (!narrowed)
          narrowed = convertElements(
              rewriter, loc, now,
              cast<FloatType>(getElementTypeOrSelf(old.getType())));
        rewriter.modifyOpInPlace(use.getOwner(), [&] { use.set(narrowed); });
      }
    }
    rewriter.eraseOp(op);
    return success();
  }
};

struct AttnPromoteToF64Pass
    : attn::impl::AttnPromoteToF64Base<AttnPromoteToF64Pass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<PromoteKernel>(&getContext());
    walkAndApplyPatterns(getOperation(), std::move(patterns));
    // Function results take the types now returned.
    getOperation().walk([](func::FuncOp func) {
      if (func.isExternal())
        return;
      auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
      func.setType(FunctionType::get(func.getContext(),
                                     func.getArgumentTypes(),
                                     ret.getOperandTypes()));
    });
  }
};

} // namespace
