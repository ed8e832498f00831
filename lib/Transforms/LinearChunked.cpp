//===- LinearChunked.cpp - Linear attention chunk by chunk ----------------===//
//
// Lightning Attention-2's algorithm on tensors: per (batch, key/value head),
// a loop over chunks of positions that carries the state S = sum phi(k) v^T
// (and z = sum phi(k)); inside a chunk, the causal quadratic form. Work is
// O(S (C F + F Dv)) per head instead of O(S^2).
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/LinalgBuilders.h"
#include "attn/Transforms/LinearAttention.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace attn {
#define GEN_PASS_DEF_ATTNLINEARCHUNKED
#include "attn/Dialect/Passes.h.inc"
} // namespace attn

using namespace mlir;
using namespace attn;

namespace {

class ChunkedBuilder {
public:
  ChunkedBuilder(PatternRewriter &b, LinearAttentionOp op, int64_t chunkSize)
      : b(b), op(op), loc(op.getLoc()), chunkSize(chunkSize) {
    qHeads = op.getQ().getType().getDimSize(1);
    groupSize = qHeads / op.getK().getType().getDimSize(1);
    valueDim = op.getV().getType().getDimSize(3);
  }

  SmallVector<Value> build() {
    OpFoldResult batch = tensor::getMixedSize(b, loc, op.getQ(), 0);
    // Under GQA the query heads of a group share their keys' features:
    // computed once for the whole sequence, before the parallel loop, not
    // once per query head in every chunk.
    if (groupSize > 1) {
      LinearAttentionBuilder shared(b, loc, op, groupSize, Value());
      keyFeatures = shared.features(op.getK(),
                                    arith::ConstantIndexOp::create(b, loc, 0));
    }
    ReifiedRankedShapedTypeDims sizes;
    (void)cast<ReifyRankedShapedTypeOpInterface>(op.getOperation())
        .reifyResultShapes(b, sizes);
    SmallVector<Value> outs;
    for (auto [result, resultSizes] : llvm::zip_equal(op->getResults(), sizes))
      outs.push_back(tensor::EmptyOp::create(
          b, loc, resultSizes, getElementTypeOrSelf(result.getType())));
    auto forall = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{batch, b.getIndexAttr(qHeads)}, outs,
        /*mapping=*/std::nullopt);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(forall.getBody());
    buildHead(forall);
    created = forall;
    return forall.getResults();
  }

  /// The loop built, once `build` has run.
  scf::ForallOp created;

private:
  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }

  /// `source[offsets...][sizes...]` with unit strides.
  Value slice(Value source, ArrayRef<OpFoldResult> offsets,
              ArrayRef<OpFoldResult> sizes) {
    SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
    return tensor::ExtractSliceOp::create(b, loc, source, offsets, sizes,
                                          strides);
  }

  /// Rows [t, t + n) of a [1, h, S] or [1, h, S, d] tensor.
  Value rows(Value source, Value t, OpFoldResult n) {
    auto type = cast<RankedTensorType>(source.getType());
    OpFoldResult zero = b.getIndexAttr(0);
    SmallVector<OpFoldResult> offsets = {zero, zero, t};
    SmallVector<OpFoldResult> sizes = {
        b.getIndexAttr(1), b.getIndexAttr(type.getDimSize(1)), n};
    if (type.getRank() == 4) {
      offsets.push_back(zero);
      sizes.push_back(b.getIndexAttr(type.getDimSize(3)));
    }
    return slice(source, offsets, sizes);
  }

  /// The slice of one batch entry and one head of `source` (rank 1 [H] or
  /// rank >= 3 [B, H, ...]).
  Value headSlice(Value source, Value batchIv, Value head) {
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, source);
    SmallVector<OpFoldResult> offsets(sizes.size(), b.getIndexAttr(0));
    unsigned headAxis = sizes.size() == 1 ? 0 : 1;
    if (headAxis == 1) {
      offsets[0] = batchIv;
      sizes[0] = b.getIndexAttr(1);
    }
    offsets[headAxis] = head;
    sizes[headAxis] = b.getIndexAttr(1);
    return slice(source, offsets, sizes);
  }

  /// One (batch, query head) iteration. Every tensor in it has unit batch
  /// and head dimensions, which the pass then drops: chunk products become
  /// 2-D matrix products. (Under GQA the key features come precomputed.)
  void buildHead(scf::ForallOp forall) {
    Value batchIv = forall.getInductionVars()[0];
    Value qHead = forall.getInductionVars()[1];
    Value kvHead = arith::DivUIOp::create(b, loc, qHead, index(groupSize));
    Value q = headSlice(op.getQ(), batchIv, qHead);
    Value k = headSlice(keyFeatures ? keyFeatures : op.getK(), batchIv, kvHead);
    Value v = headSlice(op.getV(), batchIv, kvHead);
    Value decay;
    if (op.getDecay())
      decay = headSlice(op.getDecay(), batchIv, qHead);
    Value gate, beta;
    if (op.getGate())
      gate = headSlice(op.getGate(), batchIv, qHead);
    if (op.getBeta())
      beta = headSlice(op.getBeta(), batchIv, qHead);
    LinearAttentionBuilder builder(b, loc, op, /*groupSize=*/1, decay);

    LinearAttentionBuilder::State state{};
    if (op.getInitialState()) {
      // The loop updates its state in place: start from a copy, so that the
      // caller's initial state is only read.
      state.s = buildFreshCopy(
          b, loc, headSlice(op.getInitialState(), batchIv, qHead));
      if (op.getInitialNormalizer())
        state.z = buildFreshCopy(
            b, loc, headSlice(op.getInitialNormalizer(), batchIv, qHead));
    } else {
      state = builder.zeroState(b.getIndexAttr(1), 1);
    }

    Value qLen = tensor::DimOp::create(b, loc, q, 2);
    Value kvLen = tensor::DimOp::create(b, loc, k, 2);
    Type elementType = getElementTypeOrSelf(op.getO().getType());
    Value o = tensor::EmptyOp::create(
        b, loc,
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1), qLen,
                               b.getIndexAttr(valueDim)},
        elementType);
    if (op.getCausal()) {
      SmallVector<Value> carried = loop(
          qLen, packState(state, {o}),
          [&](Value t, OpFoldResult n, ValueRange iter) -> SmallVector<Value> {
            LinearAttentionBuilder::State before = unpackState(iter);
            Value phiQ = builder.queryFeatures(rows(q, t, n), t);
            Value phiK = keyFeatures ? rows(k, t, n)
                                     : builder.features(rows(k, t, n), t);
            Value vc = rows(v, t, n);
            LinearAttentionBuilder::BlockGates gates =
                builder.sumGates(gate ? rows(gate, t, n) : Value());
            if (beta)
              vc = builder.deltaValues(phiK, vc, rows(beta, t, n), before,
                                       gates);
            Value oc = builder.output(phiQ, phiK, vc, before, true, gates);
            Value oNext = insertRows(oc, iter.back(), t);
            return packState(builder.advance(before, phiK, vc, gates),
                             {oNext});
          });
      state = unpackState(carried);
      o = carried.back();
    } else {
      state = unpackState(loop(
          kvLen, packState(state, {}),
          [&](Value t, OpFoldResult n, ValueRange iter) -> SmallVector<Value> {
            Value phiK = keyFeatures ? rows(k, t, n)
                                     : builder.features(rows(k, t, n), t);
            return packState(
                builder.advance(unpackState(iter), phiK, rows(v, t, n)), {});
          }));
      o = loop(qLen, {o},
               [&](Value t, OpFoldResult n, ValueRange iter) -> SmallVector<Value> {
                 Value phiQ = builder.queryFeatures(rows(q, t, n), t);
                 Value oc = builder.output(phiQ, Value(), Value(), state,
                                           false);
                 return {insertRows(oc, iter[0], t)};
               })
              .front();
    }

    SmallVector<Value> pieces = {o};
    if (op.getFinalState())
      pieces.push_back(state.s);
    if (op.getFinalNormalizer())
      pieces.push_back(state.z);
    // Sizes are computed here: the terminator holds only the inserts.
    SmallVector<SmallVector<OpFoldResult>> sizes;
    for (Value piece : pieces)
      sizes.push_back(tensor::getMixedSizes(b, loc, piece));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(forall.getTerminator().getBody());
    for (auto [piece, pieceSizes, dest] :
         llvm::zip_equal(pieces, sizes, forall.getRegionIterArgs())) {
      SmallVector<OpFoldResult> offsets(pieceSizes.size(), b.getIndexAttr(0));
      offsets[0] = batchIv;
      offsets[1] = qHead;
      SmallVector<OpFoldResult> strides(pieceSizes.size(), b.getIndexAttr(1));
      tensor::ParallelInsertSliceOp::create(b, loc, piece, dest, offsets,
                                            pieceSizes, strides);
    }
  }

  SmallVector<Value> packState(const LinearAttentionBuilder::State &state,
                               ValueRange rest) {
    SmallVector<Value> values = {state.s};
    if (state.z)
      values.push_back(state.z);
    llvm::append_range(values, rest);
    return values;
  }
  LinearAttentionBuilder::State unpackState(ValueRange values) {
    return {values[0], op.hasDenominator() ? values[1] : Value()};
  }

  /// `[0, length)` in chunks: `body(t, n, iterArgs)` for the chunk
  /// `[t, t + n)`. Full chunks come first, with the static size n =
  /// chunkSize (so that their tensors have static shapes); then the rest,
  /// if any, as one chunk of dynamic size.
  SmallVector<Value>
  loop(Value length, ValueRange init,
       function_ref<SmallVector<Value>(Value, OpFoldResult, ValueRange)>
           body) {
    Value step = index(chunkSize);
    Value fullEnd = arith::MulIOp::create(
        b, loc, arith::DivUIOp::create(b, loc, length, step), step);
    auto chunks = [&](Value lo, Value hi, bool full, ValueRange iterInit) {
      auto forOp = scf::ForOp::create(b, loc, lo, hi, step, iterInit);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(forOp.getBody());
      Value t = forOp.getInductionVar();
      OpFoldResult n = full ? OpFoldResult(b.getIndexAttr(chunkSize))
                            : OpFoldResult(arith::SubIOp::create(b, loc, hi, t)
                                               .getResult());
      scf::YieldOp::create(b, loc, body(t, n, forOp.getRegionIterArgs()));
      return forOp.getResults();
    };
    ValueRange full = chunks(index(0), fullEnd, true, init);
    return chunks(fullEnd, length, false, full);
  }

  /// `chunk` [1, h, n, Dv] written into rows [t, t + n) of `into`.
  Value insertRows(Value chunk, Value into, Value t) {
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, chunk);
    OpFoldResult zero = b.getIndexAttr(0);
    SmallVector<OpFoldResult> strides(4, b.getIndexAttr(1));
    return tensor::InsertSliceOp::create(b, loc, chunk, into,
                                         ArrayRef<OpFoldResult>{zero, zero, t,
                                                                zero},
                                         sizes, strides);
  }

  PatternRewriter &b;
  LinearAttentionOp op;
  Location loc;
  int64_t chunkSize;
  int64_t qHeads, groupSize, valueDim;
  /// phi(k) [B, Hkv, Skv, F] of the whole sequence under GQA, else null.
  Value keyFeatures;
};

struct ChunkLinearAttention : OpRewritePattern<LinearAttentionOp> {
  ChunkLinearAttention(MLIRContext *ctx, int64_t chunkSize,
                       SmallVector<scf::ForallOp> &built)
      : OpRewritePattern(ctx), chunkSize(chunkSize), built(built) {}
  LogicalResult matchAndRewrite(LinearAttentionOp op,
                                PatternRewriter &rewriter) const override {
    // A sequence of static length 0 has no chunk, and slicing one head out
    // of it is out of bounds for tensor.extract_slice; the reference form
    // (attn-decompose, which attn-lower-to-cpu runs after this pass) gives
    // its empty output and unchanged state.
    if (op.getQ().getType().getDimSize(2) == 0 ||
        op.getK().getType().getDimSize(2) == 0)
      return rewriter.notifyMatchFailure(op, "statically empty sequence");
    ChunkedBuilder builder(rewriter, op, chunkSize);
    rewriter.replaceOp(op, builder.build());
    built.push_back(builder.created);
    return success();
  }
  int64_t chunkSize;
  SmallVector<scf::ForallOp> &built;
};

/// Drops the unit batch and head dimensions of the linalg ops in `loops`
/// (and only there: other kernels keep their own forms).
LogicalResult dropUnitDims(MutableArrayRef<scf::ForallOp> loops) {
  if (loops.empty())
    return success();
  SmallVector<Operation *> ops;
  for (scf::ForallOp loop : loops)
    loop.walk([&](Operation *op) {
      if (isa<linalg::LinalgOp, tensor::ExtractSliceOp, tensor::InsertSliceOp,
              tensor::EmptyOp>(op))
        ops.push_back(op);
    });
  MLIRContext *ctx = loops.front()->getContext();
  RewritePatternSet patterns(ctx);
  linalg::ControlDropUnitDims control;
  control.rankReductionStrategy =
      linalg::ControlDropUnitDims::RankReductionStrategy::ExtractInsertSlice;
  linalg::populateFoldUnitExtentDimsPatterns(patterns, control);
  linalg::populateFoldUnitExtentDimsCanonicalizationPatterns(patterns,
                                                             control);
  GreedyRewriteConfig config;
  config.setStrictness(GreedyRewriteStrictness::ExistingAndNewOps);
  return applyOpPatternsGreedily(ops, std::move(patterns), config);
}

struct AttnLinearChunkedPass
    : attn::impl::AttnLinearChunkedBase<AttnLinearChunkedPass> {
  using Base::Base;
  void runOnOperation() override {
    if (chunkSize < 1) {
      getOperation()->emitError()
          << "attn-linear-chunked: chunk-size must be >= 1, got "
          << chunkSize.getValue();
      return signalPassFailure();
    }
    SmallVector<scf::ForallOp> built;
    RewritePatternSet patterns(&getContext());
    patterns.add<ChunkLinearAttention>(&getContext(), chunkSize, built);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
    if (failed(dropUnitDims(built)))
      return signalPassFailure();
  }
};

} // namespace
