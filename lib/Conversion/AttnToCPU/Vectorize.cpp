//===- Vectorize.cpp - Vector code for the elementwise ops of tiles -------===//
//
// A flash tile also scales, masks and exponentiates tileQ x tileKv scores
// and reduces them by rows. Each of those linalg ops is tiled to one row and
// vectorized along the row (the key or value dimension), which keeps the
// vectors at tile width and every reduction a horizontal one.
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/AttnToCPU.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace attn {
#define GEN_PASS_DEF_ATTNCPUVECTORIZE
#include "attn/Dialect/Passes.h.inc"
} // namespace attn

using namespace mlir;

namespace {

/// A reduction of a wide 1-D vector (e.g. a row of 64 scores) first
/// combines its 8-lane chunks elementwise, then reduces 8 lanes: vector
/// instructions instead of one scalar step per element.
struct SplitWideReduction : OpRewritePattern<vector::MultiDimReductionOp> {
  using OpRewritePattern::OpRewritePattern;
  static constexpr int64_t kLanes = 8;

  LogicalResult matchAndRewrite(vector::MultiDimReductionOp op,
                                PatternRewriter &rewriter) const override {
    // A row: vector<N> reduced to a scalar, or vector<1xN> reduced along
    // dimension 1 to vector<1>.
    VectorType type = op.getSourceVectorType();
    bool row = type.getRank() == 1 ||
               (type.getRank() == 2 && type.getDimSize(0) == 1 &&
                op.isReducedDim(1) && !op.isReducedDim(0));
    int64_t width = type.getShape().back();
    if (!row || type.isScalable() || width <= kLanes || width % kLanes != 0 ||
        !type.getElementType().isF32())
      return failure();
    Location loc = op.getLoc();
    Type f32 = type.getElementType();
    Value grid = vector::ShapeCastOp::create(
        rewriter, loc, VectorType::get({width / kLanes, kLanes}, f32),
        op.getSource());
    Value partial = vector::ExtractOp::create(rewriter, loc, grid, 0);
    for (int64_t c = 1; c < width / kLanes; ++c)
      partial = vector::makeArithReduction(
          rewriter, loc, op.getKind(), partial,
          vector::ExtractOp::create(rewriter, loc, grid, c));
    Value acc = op.getAcc();
    if (isa<VectorType>(acc.getType()))
      acc = vector::ExtractOp::create(rewriter, loc, acc, 0);
    Value result =
        vector::ReductionOp::create(rewriter, loc, op.getKind(), partial, acc);
    if (isa<VectorType>(op.getType()))
      result = vector::BroadcastOp::create(rewriter, loc, op.getType(), result);
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// Whether every operand reads along the innermost loop contiguously (that
/// loop indexes its last dimension) or not at all (a broadcast): rows then
/// become plain vector loads. A strided read would become a transfer with a
/// permutation map, which the host lowering does not handle.
bool readsRowsContiguously(linalg::GenericOp op) {
  unsigned innermost = op.getNumLoops() - 1;
  return llvm::all_of(op.getIndexingMapsArray(), [&](AffineMap map) {
    for (auto [i, expr] : llvm::enumerate(map.getResults()))
      if (expr.isFunctionOfDim(innermost) &&
          (i + 1 != map.getNumResults() ||
           expr != getAffineDimExpr(innermost, op.getContext())))
        return false;
    return true;
  });
}

/// Whether `t` is a tensor of elements narrower than a byte (an i1 layout or
/// mask). A buffer of them holds a byte per element, but LLVM packs a vector
/// of them into bits, so a vector load of a row would read the wrong bytes.
bool hasSubByteElements(Type t) {
  auto shaped = dyn_cast<ShapedType>(t);
  return shaped && shaped.getElementType().isIntOrFloat() &&
         shaped.getElementType().getIntOrFloatBitWidth() < 8;
}

/// Whether `op` reads or writes sub-byte elements, as an operand or through
/// a tensor.extract of its body (the reference form reads an i1 layout so).
bool touchesSubByteElements(linalg::GenericOp op) {
  if (llvm::any_of(op->getOperandTypes(), hasSubByteElements))
    return true;
  return op.getBody()
      ->walk([](tensor::ExtractOp extract) {
        return hasSubByteElements(extract.getTensor().getType())
                   ? WalkResult::interrupt()
                   : WalkResult::advance();
      })
      .wasInterrupted();
}

bool isCandidate(linalg::GenericOp op) {
  if (!op.hasPureTensorSemantics() || attn::isTileProduct(op) ||
      touchesSubByteElements(op))
    return false;
  // Rank-0 operands would become broadcast transfers from 0-d buffers,
  // which the host lowering does not handle either.
  return llvm::all_of(op->getOperandTypes(), [](Type t) {
           auto shaped = dyn_cast<ShapedType>(t);
           // Empty operands (a zero-length sequence): nothing to vectorize,
           // and upstream tiling crashes on a zero-sized loop.
           return shaped && shaped.hasStaticShape() && shaped.getRank() > 0 &&
                  shaped.getNumElements() > 0;
         }) &&
         op.getNumLoops() >= 1 && readsRowsContiguously(op) &&
         // A row of one element has nothing to vectorize, and its transfers
         // read one element of a strided view once unit dimensions are
         // dropped, which the host lowering leaves unconverted (Dv = 1 or
         // F = 1 linear attention failed in LLVM translation).
         op.getStaticLoopRanges().back() != 1;
}

/// A read that broadcasts one element to every lane (a row's scale factor,
/// or x[d] against a row of feature weights) reads that element: the host
/// lowering cannot lower a broadcast transfer from a view whose innermost
/// stride is not 1 (Hedgehog with D = 1 failed in LLVM translation).
struct BroadcastReadAsExtract : OpRewritePattern<vector::TransferReadOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(vector::TransferReadOp op,
                                PatternRewriter &rewriter) const override {
    AffineMap map = op.getPermutationMap();
    bool broadcast = map.getNumResults() > 0 &&
                     llvm::all_of(map.getResults(), [](AffineExpr e) {
                       auto c = dyn_cast<AffineConstantExpr>(e);
                       return c && c.getValue() == 0;
                     });
    if (!broadcast || op.getMask() || op.hasOutOfBoundsDim() ||
        !isa<RankedTensorType>(op.getBase().getType()))
      return failure();
    Value element = tensor::ExtractOp::create(rewriter, op.getLoc(),
                                              op.getBase(), op.getIndices());
    rewriter.replaceOpWithNewOp<vector::BroadcastOp>(op, op.getVectorType(),
                                                     element);
    return success();
  }
};

/// Vectorizes `op` in place when linalg::vectorize supports it.
void vectorizeOp(RewriterBase &rewriter, Operation *op) {
  rewriter.setInsertionPoint(op);
  FailureOr<linalg::VectorizationResult> result =
      linalg::vectorize(rewriter, op, /*inputVectorSizes=*/{},
                        /*inputScalableVecDims=*/{},
                        /*vectorizeNDExtract=*/true);
  if (succeeded(result))
    rewriter.replaceOp(op, result->replacements);
}

struct AttnCpuVectorizePass
    : attn::impl::AttnCpuVectorizeBase<AttnCpuVectorizePass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    SmallVector<linalg::GenericOp> ops;
    getOperation().walk([&](linalg::GenericOp op) {
      if (isCandidate(op))
        ops.push_back(op);
    });
    IRRewriter rewriter(ctx);
    for (linalg::GenericOp op : ops) {
      unsigned loops = op.getNumLoops();
      if (loops == 1) {
        vectorizeOp(rewriter, op);
        continue;
      }
      // One row at a time: every loop but the innermost tiled by 1.
      SmallVector<OpFoldResult> sizes(loops, rewriter.getIndexAttr(1));
      sizes.back() = rewriter.getIndexAttr(0);
      scf::SCFTilingOptions options;
      options.setTileSizes(sizes);
      rewriter.setInsertionPoint(op);
      FailureOr<scf::SCFTilingResult> tiled = scf::tileUsingSCF(
          rewriter, cast<TilingInterface>(op.getOperation()), options);
      if (failed(tiled))
        continue;
      rewriter.replaceOp(op, tiled->replacements);
      for (Operation *tiledOp : tiled->tiledOps)
        vectorizeOp(rewriter, tiledOp);
    }
    // Rows are vectors of shape 1 x N: drop the unit dimension.
    RewritePatternSet patterns(ctx);
    vector::populateCastAwayVectorLeadingOneDimPatterns(patterns);
    vector::populateVectorTransferDropUnitDimsPatterns(patterns);
    vector::populateDropUnitDimWithShapeCastPatterns(patterns);
    patterns.add<SplitWideReduction, BroadcastReadAsExtract>(ctx);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
