//===- LowerBf16Mma.cpp - bf16 nvgpu.mma.sync to nvvm.mma.sync ------------===//
//
// MLIR 22's nvgpu-to-nvvm conversion cannot lower bf16 mma.sync; this
// pattern does, for the m16n8k16 shape with f32 accumulators that the
// attention kernels use. PTX takes bf16 operands as pairs packed in 32-bit
// registers, in the same fragment order as f16.
//
//===----------------------------------------------------------------------===//

#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace attn {
#define GEN_PASS_DEF_ATTNLOWERBF16MMA
#include "attn/Dialect/Passes.h.inc"
} // namespace attn

using namespace mlir;

namespace {

struct LowerBf16MmaSync : OpRewritePattern<nvgpu::MmaSyncOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(nvgpu::MmaSyncOp op,
                                PatternRewriter &rewriter) const override {
    auto aType = cast<VectorType>(op.getMatrixA().getType());
    auto cType = cast<VectorType>(op.getMatrixC().getType());
    if (!aType.getElementType().isBF16())
      return failure();
    SmallVector<int64_t> shape = llvm::to_vector(llvm::map_range(
        op.getMmaShape(), [](Attribute a) { return cast<IntegerAttr>(a).getInt(); }));
    if (shape != ArrayRef<int64_t>{16, 8, 16} ||
        cType.getShape() != ArrayRef<int64_t>{2, 2} ||
        !cType.getElementType().isF32())
      return rewriter.notifyMatchFailure(
          op, "only bf16 m16n8k16 with f32 accumulators is lowered");

    Location loc = op.getLoc();
    Type i32 = rewriter.getI32Type();
    Type f32 = rewriter.getF32Type();
    // Each row of a bf16 fragment (vector<2xbf16>) is one 32-bit register.
    auto packRows = [&](Value fragment) {
      SmallVector<Value> registers;
      auto type = cast<VectorType>(fragment.getType());
      for (int64_t row = 0; row < type.getDimSize(0); ++row) {
        Value pair = vector::ExtractOp::create(rewriter, loc, fragment, row);
        Value word = vector::BitCastOp::create(
            rewriter, loc, VectorType::get({1}, i32), pair);
        registers.push_back(vector::ExtractOp::create(rewriter, loc, word, 0));
      }
      return registers;
    };
    SmallVector<Value> accumulators;
    for (int64_t r = 0; r < 2; ++r)
      for (int64_t e = 0; e < 2; ++e)
        accumulators.push_back(vector::ExtractOp::create(
            rewriter, loc, op.getMatrixC(), ArrayRef<int64_t>{r, e}));

    auto resultType = LLVM::LLVMStructType::getLiteral(
        rewriter.getContext(), SmallVector<Type>(4, f32));
    Value mma = NVVM::MmaOp::create(
        rewriter, loc, resultType, packRows(op.getMatrixA()),
        packRows(op.getMatrixB()), accumulators, shape,
        /*b1Op=*/std::nullopt, /*intOverflow=*/std::nullopt,
        std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::bf16,
                                      NVVM::MMATypes::bf16},
        std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                       NVVM::MMALayout::col});
    SmallVector<Value> elements;
    for (int64_t i = 0; i < 4; ++i)
      elements.push_back(LLVM::ExtractValueOp::create(rewriter, loc, mma, i));
    rewriter.replaceOpWithNewOp<vector::FromElementsOp>(op, cType, elements);
    return success();
  }
};

struct AttnLowerBf16MmaPass
    : attn::impl::AttnLowerBf16MmaBase<AttnLowerBf16MmaPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<LowerBf16MmaSync>(&getContext());
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};

} // namespace
