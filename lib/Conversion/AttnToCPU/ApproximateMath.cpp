//===- ApproximateMath.cpp - Vectorizable exp, log and tanh ---------------===//
//
// Each flash tile evaluates tileQ x tileKv exponentials. As libm calls they
// keep the loop scalar and cost more than the tile's matrix products; MLIR's
// polynomial approximations are plain f32 arithmetic that the loop
// vectorizer turns into 8-wide code.
//
//===----------------------------------------------------------------------===//

#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace attn {
#define GEN_PASS_DEF_ATTNCPUAPPROXIMATEMATH
#include "attn/Dialect/Passes.h.inc"
} // namespace attn

using namespace mlir;

namespace {

struct AttnCpuApproximateMathPass
    : attn::impl::AttnCpuApproximateMathBase<AttnCpuApproximateMathPass> {
  void runOnOperation() override {
    auto selected = [](StringRef name) {
      name.consume_front("math.");
      return name == "exp" || name == "log" || name == "tanh";
    };
    // Only those ops, and what their rewrites create.
    SmallVector<Operation *> ops;
    getOperation()->walk([&](Operation *op) {
      if (isa<math::ExpOp, math::LogOp, math::TanhOp>(op))
        ops.push_back(op);
    });
    if (ops.empty())
      return;
    RewritePatternSet patterns(&getContext());
    populateMathPolynomialApproximationPatterns(patterns, selected);
    GreedyRewriteConfig config;
    config.setStrictness(GreedyRewriteStrictness::ExistingAndNewOps);
    if (failed(applyOpPatternsGreedily(ops, std::move(patterns), config)))
      signalPassFailure();
  }
};

} // namespace
