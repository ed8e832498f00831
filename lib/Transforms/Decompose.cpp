//===- Decompose.cpp - attn ops to linalg on tensors (reference) ----------===//
//
// The golden semantics: the whole [B, Hq, Sq, Skv] score matrix, then the
// normalization (for softmax: a row max, exponentials, sums and a division);
// every step is a linalg.generic on tensors. Nothing here is tuned for speed.
//
//===----------------------------------------------------------------------===//

#include "attn/Transforms/Passes.h"
#include "attn/Dialect/LinalgBuilders.h"
#include "attn/Transforms/LinearAttention.h"
#include "attn/Transforms/ScoreFunction.h"
#include "attn/Transforms/SoftmaxEpilogue.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

#include <limits>

namespace attn {
#define GEN_PASS_DEF_ATTNDECOMPOSE
#include "attn/Dialect/Passes.h.inc"
} // namespace attn

using namespace mlir;
using namespace attn;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

/// Builds the linalg ops of one attention op. Loop dimensions are named
/// b, h, i (query), j (key), d (head dim) and e (value dim).
class ReferenceBuilder {
public:
  ReferenceBuilder(PatternRewriter &rewriter, AttentionOp op)
      : b(rewriter), op(op), loc(op.getLoc()), ctx(op.getContext()),
        computeType(op.getComputeType()), aux(op),
        normalization(op.getNormalizationOrDefault()) {
    auto qType = op.getQ().getType();
    groupSize = qType.getDimSize(1) / op.getK().getType().getDimSize(1);
    batch = tensor::getMixedSize(b, loc, op.getQ(), 0);
    qHeads = b.getIndexAttr(qType.getDimSize(1));
    qLen = tensor::getMixedSize(b, loc, op.getQ(), 2);
    kvLen = tensor::getMixedSize(b, loc, op.getK(), 2);
    valueDim = b.getIndexAttr(op.getV().getType().getDimSize(3));
  }

  /// Returns the replacement values of the op's results.
  SmallVector<Value> build() {
    Value scores = maskedScores(dotProducts());
    if (!normalization.normalizesRows()) {
      // Pointwise weights, summed without dividing.
      Value weights = weightsOf(scores, /*rowMax=*/nullptr);
      return {finishOutput(weightedValues(weights), /*rowSum=*/nullptr)};
    }
    Value rowMax = buildLastDimReduction(
        b, loc, scores, -kInf,
        [](OpBuilder &nb, Location nloc, Value x, Value acc) {
          return arith::MaximumFOp::create(nb, nloc, x, acc);
        });
    Value weights = weightsOf(scores, rowMax);
    Value rowSum = buildLastDimReduction(
        b, loc, weights, 0.0,
        [](OpBuilder &nb, Location nloc, Value x, Value acc) {
          return arith::AddFOp::create(nb, nloc, x, acc);
        });
    SmallVector<Value> results = {finishOutput(weightedValues(weights), rowSum)};
    if (op.getLse())
      results.push_back(logSumExp(rowMax, rowSum));
    return results;
  }

private:
  AffineExpr dim(unsigned i) { return getAffineDimExpr(i, ctx); }
  AffineMap map(unsigned numDims, ArrayRef<AffineExpr> results) {
    return AffineMap::get(numDims, 0, results, ctx);
  }
  AffineMap identity(unsigned rank) {
    return AffineMap::getMultiDimIdentityMap(rank, ctx);
  }
  Value constant(OpBuilder &nb, Location nloc, double value) {
    return arith::ConstantOp::create(nb, nloc,
                                     FloatAttr::get(computeType, value));
  }

  /// s[b,h,i,j] = sum_d q[b,h,i,d] * k[b,h/G,j,d]; loops (b,h,i,j,d).
  Value dotProducts() {
    return buildContraction(
        b, loc, op.getQ(), map(5, {dim(0), dim(1), dim(2), dim(4)}), op.getK(),
        map(5, {dim(0), dim(1).floorDiv(groupSize), dim(3), dim(4)}),
        buildFilled(b, loc, {batch, qHeads, qLen, kvLen}, computeType, 0.0), 1);
  }

  /// Scaled scores with -inf where the mask disallows; loops (b,h,i,j).
  Value maskedScores(Value dots) {
    SequenceLengths lengths{getValueOrCreateConstantIndexOp(b, loc, qLen),
                            getValueOrCreateConstantIndexOp(b, loc, kvLen)};
    return buildGenerated(
        b, loc, {batch, qHeads, qLen, kvLen}, computeType, {dots},
        {identity(4)},
        [&](OpBuilder &nb, Location nloc, ValueRange e, ValueRange indices) {
          ScorePosition pos{indices[0], indices[1], indices[2], indices[3]};
          return buildMaskedScore(nb, nloc, op, e[0], pos, lengths, aux);
        });
  }

  /// The unnormalized weights of the normalization; `rowMax` is null for
  /// pointwise normalizations.
  Value weightsOf(Value scores, Value rowMax) {
    SmallVector<Value> inputs = {scores};
    SmallVector<AffineMap> maps = {identity(4)};
    if (rowMax) {
      inputs.push_back(rowMax);
      maps.push_back(map(4, {dim(0), dim(1), dim(2)}));
    }
    return buildGenerated(
        b, loc, {batch, qHeads, qLen, kvLen}, computeType, inputs, maps,
        [&](OpBuilder &nb, Location nloc, ValueRange e, ValueRange) {
          return normalization.buildWeight(nb, nloc, e[0],
                                           rowMax ? e[1] : Value());
        });
  }

  /// sum_j p[b,h,i,j] * v[b,h/G,j,e]; loops (b,h,i,e,j).
  Value weightedValues(Value weights) {
    return buildContraction(
        b, loc, weights, map(5, {dim(0), dim(1), dim(2), dim(4)}), op.getV(),
        map(5, {dim(0), dim(1).floorDiv(groupSize), dim(4), dim(3)}),
        buildFilled(b, loc, {batch, qHeads, qLen, valueDim}, computeType, 0.0),
        1);
  }

  /// o = acc / l (0 for an empty row, l == 0) for row-normalizing kinds,
  /// else acc times the normalization's output factor; then the element type.
  Value finishOutput(Value acc, Value rowSum) {
    Type elementType = op.getO().getType().getElementType();
    SmallVector<Value> inputs = {acc};
    SmallVector<AffineMap> maps = {identity(4)};
    if (rowSum) {
      inputs.push_back(rowSum);
      maps.push_back(map(4, {dim(0), dim(1), dim(2)}));
    }
    Value factor = normalization.buildOutputFactor(
        b, loc, getValueOrCreateConstantIndexOp(b, loc, kvLen), computeType);
    return buildGenerated(
        b, loc, {batch, qHeads, qLen, valueDim}, elementType, inputs, maps,
        [&](OpBuilder &nb, Location nloc, ValueRange e, ValueRange) {
          Value o = buildRowOutput(nb, nloc, e[0], rowSum ? e[1] : Value(),
                                   factor);
          return convertFloat(nb, nloc, o, elementType);
        });
  }

  /// lse = m + log(l), or -inf for an empty row.
  Value logSumExp(Value rowMax, Value rowSum) {
    return buildGenerated(
        b, loc, {batch, qHeads, qLen}, computeType, {rowMax, rowSum},
        {identity(3), identity(3)},
        [&](OpBuilder &nb, Location nloc, ValueRange e, ValueRange) {
          return buildRowLogSumExp(nb, nloc, e[0], e[1]);
        });
  }

  PatternRewriter &b;
  AttentionOp op;
  Location loc;
  MLIRContext *ctx;
  FloatType computeType;
  OperandAuxReader aux;
  NormalizationAttrInterface normalization;
  int64_t groupSize;
  OpFoldResult batch, qHeads, qLen, kvLen, valueDim;
};

struct DecomposeAttention : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, ReferenceBuilder(rewriter, op).build());
    return success();
  }
};

/// Linear attention as the quadratic form over whole sequences:
/// `(phi(Q) phi(K)^T * M) V` (M the causal mask with decay, or all ones),
/// plus the initial state's contribution; the final state from all keys.
struct DecomposeLinearAttention : OpRewritePattern<LinearAttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LinearAttentionOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    int64_t groupSize = op.getQ().getType().getDimSize(1) /
                        op.getK().getType().getDimSize(1);
    LinearAttentionBuilder builder(rewriter, loc, op, groupSize,
                                   op.getDecay());
    Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value phiQ = builder.features(op.getQ(), zero);
    Value phiK = builder.features(op.getK(), zero);
    LinearAttentionBuilder::State initial{op.getInitialState(),
                                          op.getInitialNormalizer()};
    SmallVector<Value> results = {
        builder.output(phiQ, phiK, op.getV(), initial, op.getCausal())};
    if (op.getFinalState()) {
      // The state is updated in place: start from copies of the caller's.
      if (initial.s)
        initial = {buildFreshCopy(rewriter, loc, initial.s),
                   initial.z ? buildFreshCopy(rewriter, loc, initial.z)
                             : Value()};
      LinearAttentionBuilder::State final =
          builder.advance(initial, phiK, op.getV());
      results.push_back(final.s);
      if (op.getFinalNormalizer())
        results.push_back(final.z);
    }
    rewriter.replaceOp(op, results);
    return success();
  }
};

struct AttnDecomposePass : attn::impl::AttnDecomposeBase<AttnDecomposePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<DecomposeAttention, DecomposeLinearAttention>(&getContext());
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};

} // namespace
