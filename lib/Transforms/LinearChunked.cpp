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
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
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
    auto q = op.getQ().getType();
    qHeads = q.getDimSize(1);
    kvHeads = op.getK().getType().getDimSize(1);
    groupSize = qHeads / kvHeads;
    headDim = q.getDimSize(3);
    valueDim = op.getV().getType().getDimSize(3);
    features = op.getFeatureDim();
    computeType = op.getComputeType();
  }

  SmallVector<Value> build() {
    OpFoldResult batch = tensor::getMixedSize(b, loc, op.getQ(), 0);
    ReifiedRankedShapedTypeDims sizes;
    (void)cast<ReifyRankedShapedTypeOpInterface>(op.getOperation())
        .reifyResultShapes(b, sizes);
    SmallVector<Value> outs;
    for (auto [result, resultSizes] : llvm::zip_equal(op->getResults(), sizes))
      outs.push_back(tensor::EmptyOp::create(
          b, loc, resultSizes, getElementTypeOrSelf(result.getType())));
    auto forall = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{batch, b.getIndexAttr(kvHeads)}, outs,
        /*mapping=*/std::nullopt);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(forall.getBody());
    buildGroup(forall);
    return forall.getResults();
  }

private:
  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }

  /// `source[offsets...][sizes...]` with unit strides.
  Value slice(Value source, ArrayRef<OpFoldResult> offsets,
              ArrayRef<OpFoldResult> sizes) {
    SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
    return tensor::ExtractSliceOp::create(b, loc, source, offsets, sizes,
                                          strides);
  }

  /// Rows [t, t + n) of a [1, h, S, d] tensor.
  Value rows(Value source, Value t, Value n) {
    auto type = cast<RankedTensorType>(source.getType());
    OpFoldResult zero = b.getIndexAttr(0);
    return slice(source, {zero, zero, t, zero},
                 {b.getIndexAttr(1), b.getIndexAttr(type.getDimSize(1)), n,
                  b.getIndexAttr(type.getDimSize(3))});
  }

  /// The slice of one batch entry and `heads` heads from `head` of `source`
  /// (rank 1 [H] or rank >= 3 [B, H, ...]).
  Value headSlice(Value source, Value batchIv, Value head, int64_t heads) {
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, source);
    SmallVector<OpFoldResult> offsets(sizes.size(), b.getIndexAttr(0));
    if (sizes.size() == 1) {
      offsets[0] = head;
      sizes[0] = b.getIndexAttr(heads);
      return slice(source, offsets, sizes);
    }
    offsets[0] = batchIv;
    offsets[1] = head;
    sizes[0] = b.getIndexAttr(1);
    sizes[1] = b.getIndexAttr(heads);
    return slice(source, offsets, sizes);
  }

  /// One (batch, key/value head) iteration: its query heads together.
  void buildGroup(scf::ForallOp forall) {
    Value batchIv = forall.getInductionVars()[0];
    Value kvHead = forall.getInductionVars()[1];
    Value qHead = arith::MulIOp::create(b, loc, kvHead, index(groupSize));
    Value q = headSlice(op.getQ(), batchIv, qHead, groupSize);
    Value k = headSlice(op.getK(), batchIv, kvHead, 1);
    Value v = headSlice(op.getV(), batchIv, kvHead, 1);
    Value decay;
    if (op.getDecay())
      decay = headSlice(op.getDecay(), batchIv, qHead, groupSize);
    LinearAttentionBuilder builder(b, loc, op, groupSize, decay);

    LinearAttentionBuilder::State state{};
    if (op.getInitialState()) {
      // The loop updates its state in place: start from a copy, so that the
      // caller's initial state is only read.
      state.s = buildFreshCopy(
          b, loc, headSlice(op.getInitialState(), batchIv, qHead, groupSize));
      if (op.getInitialNormalizer())
        state.z = buildFreshCopy(b, loc,
                                 headSlice(op.getInitialNormalizer(), batchIv,
                                           qHead, groupSize));
    } else {
      state = builder.zeroState(b.getIndexAttr(1), groupSize);
    }

    Value qLen = tensor::DimOp::create(b, loc, q, 2);
    Value kvLen = tensor::DimOp::create(b, loc, k, 2);
    Type elementType = getElementTypeOrSelf(op.getO().getType());
    Value o = tensor::EmptyOp::create(
        b, loc,
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(groupSize),
                               qLen, b.getIndexAttr(valueDim)},
        elementType);
    if (op.getCausal()) {
      SmallVector<Value> carried = loop(
          qLen, packState(state, {o}),
          [&](Value t, Value n, ValueRange iter) -> SmallVector<Value> {
            LinearAttentionBuilder::State before = unpackState(iter);
            Value phiQ = builder.features(rows(q, t, n), t);
            Value phiK = builder.features(rows(k, t, n), t);
            Value vc = rows(v, t, n);
            Value oc = builder.output(phiQ, phiK, vc, before, true);
            Value oNext = insertRows(oc, iter.back(), t);
            return packState(builder.advance(before, phiK, vc), {oNext});
          });
      state = unpackState(carried);
      o = carried.back();
    } else {
      state = unpackState(loop(
          kvLen, packState(state, {}),
          [&](Value t, Value n, ValueRange iter) -> SmallVector<Value> {
            Value phiK = builder.features(rows(k, t, n), t);
            return packState(
                builder.advance(unpackState(iter), phiK, rows(v, t, n)), {});
          }));
      o = loop(qLen, {o},
               [&](Value t, Value n, ValueRange iter) -> SmallVector<Value> {
                 Value phiQ = builder.features(rows(q, t, n), t);
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
  /// `[t, t + n)`, n = min(chunkSize, length - t).
  SmallVector<Value>
  loop(Value length, ValueRange init,
       function_ref<SmallVector<Value>(Value, Value, ValueRange)> body) {
    auto forOp = scf::ForOp::create(b, loc, index(0), length, index(chunkSize),
                                    init);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(forOp.getBody());
    Value t = forOp.getInductionVar();
    Value n = arith::MinUIOp::create(
        b, loc, index(chunkSize), arith::SubIOp::create(b, loc, length, t));
    scf::YieldOp::create(b, loc, body(t, n, forOp.getRegionIterArgs()));
    return forOp.getResults();
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
  int64_t qHeads, kvHeads, groupSize, headDim, valueDim, features;
  FloatType computeType;
};

struct ChunkLinearAttention : OpRewritePattern<LinearAttentionOp> {
  ChunkLinearAttention(MLIRContext *ctx, int64_t chunkSize)
      : OpRewritePattern(ctx), chunkSize(chunkSize) {}
  LogicalResult matchAndRewrite(LinearAttentionOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, ChunkedBuilder(rewriter, op, chunkSize).build());
    return success();
  }
  int64_t chunkSize;
};

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
    RewritePatternSet patterns(&getContext());
    patterns.add<ChunkLinearAttention>(&getContext(), chunkSize);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};

} // namespace
