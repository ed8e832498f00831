//===- LowerKernelVectors.cpp - n-D vector ops convert-gpu-to-nvvm lacks --===//
//
// convert-gpu-to-nvvm lowers vector.to_elements and vector.broadcast of
// 1-D vectors only; the kernels' 2-D mma fragments reach it in those forms
// after canonicalization, and the Hopper kernels reshape them to and from
// wgmma's flat accumulators (vector.shape_cast). Upstream patterns split
// them into 1-D ops.
//
//===----------------------------------------------------------------------===//

#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace attn {
#define GEN_PASS_DEF_ATTNLOWERKERNELVECTORS
#include "attn/Dialect/Passes.h.inc"
} // namespace attn

using namespace mlir;

namespace {

struct AttnLowerKernelVectorsPass
    : attn::impl::AttnLowerKernelVectorsBase<AttnLowerKernelVectorsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    vector::populateVectorToElementsUnrollPatterns(patterns);
    vector::populateVectorBroadcastLoweringPatterns(patterns);
    vector::populateVectorShapeCastLoweringPatterns(patterns);
    vector::populateVectorInsertExtractStridedSliceTransforms(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
