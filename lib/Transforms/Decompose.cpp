//===- Decompose.cpp - attn ops to linalg on tensors (reference) ----------===//
//
// The golden semantics: the whole [B, Hq, Sq, Skv] score matrix, then the
// normalization (for softmax: a row max, exponentials, sums and a division);
// every step is a linalg.generic on tensors. Nothing here is tuned for speed.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/LinalgBuilders.h"
#include "attn/Dialect/SequenceLayout.h"
#include "attn/Transforms/LinearAttention.h"
#include "attn/Transforms/LowRankEstimate.h"
#include "attn/Transforms/Passes.h"
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

#include "llvm/ADT/StringExtras.h"

#include <limits>

namespace attn {
#define GEN_PASS_DEF_ATTNDECOMPOSE
#include "attn/Dialect/Passes.h.inc"
} // namespace attn

using namespace mlir;
using namespace attn;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

/// Affine maps over the loops of linalg ops and constants of the compute
/// type, for the builders below.
class LinalgBuilderBase {
protected:
  LinalgBuilderBase(MLIRContext *ctx, FloatType computeType)
      : ctx(ctx), computeType(computeType) {}

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

  MLIRContext *ctx;
  FloatType computeType;
};

/// What the forward and the backward references share: q, k and v in the
/// dense layout, the scores and the weights. Loop dimensions are named b, h,
/// i (query), j (key), d (head dim) and e (value dim).
class SpecBuilder : protected LinalgBuilderBase {
protected:
  SpecBuilder(PatternRewriter &rewriter, AttentionSpecOpInterface op)
      : LinalgBuilderBase(op->getContext(), op.getComputeType()), b(rewriter),
        op(op), loc(op.getLoc()), aux(op), layout(op),
        normalization(op.getNormalizationOrDefault()) {
    AttentionShape shape = op.getShape();
    groupSize = shape.qHeads / shape.kvHeads;
    batch = layout.buildBatchSize(b, loc, op.getAuxOperands());
    qHeads = b.getIndexAttr(shape.qHeads);
    qLen = layout.buildMaxQueryLength(b, loc);
    kvLen = layout.buildMaxKeyLength(b, loc, op.getAuxOperands());
    valueDim = b.getIndexAttr(shape.valueDim);
    // Packed and paged operands are first gathered into dense ones, padded
    // to the longest sequence with zeros; each sequence's own lengths then
    // mask the padding.
    q = op.getQ();
    k = op.getK();
    v = op.getV();
    if (layout.queryForm() != QueryForm::Dense)
      q = gatherRows(q, {batch, qHeads, qLen, b.getIndexAttr(shape.headDim)},
                     /*keys=*/false);
    if (layout.keyForm() != KeyForm::Dense) {
      OpFoldResult kvHeads = b.getIndexAttr(shape.kvHeads);
      k = gatherRows(k, {batch, kvHeads, kvLen, b.getIndexAttr(shape.headDim)},
                     /*keys=*/true);
      v = gatherRows(v, {batch, kvHeads, kvLen, valueDim}, /*keys=*/true);
    }
  }

  /// The query and key lengths of sequence `batchIv`.
  SequenceLengths lengthsOf(OpBuilder &nb, Location nloc, Value batchIv) {
    return {layout.buildQueryLength(nb, nloc, aux, batchIv),
            layout.buildKeyLength(nb, nloc, aux, batchIv)};
  }


  /// `src` (q, or k / v when `keys`) in the dense layout of `sizes`
  /// [B, H, S, D]: row `i` of sequence `b` where `i` is shorter than the
  /// sequence, else 0 (never read past the sequence: a packed tensor ends,
  /// a page beyond the length may be unmapped).
  Value gatherRows(Value src, ArrayRef<OpFoldResult> sizes, bool keys) {
    Type element = cast<RankedTensorType>(src.getType()).getElementType();
    return buildGenerated(
        b, loc, sizes, element, {}, {},
        [&](OpBuilder &nb, Location nloc, ValueRange, ValueRange idx) {
          SequenceLengths lengths = lengthsOf(nb, nloc, idx[0]);
          Value inside = arith::CmpIOp::create(
              nb, nloc, arith::CmpIPredicate::slt, idx[2],
              keys ? lengths.kvLen : lengths.qLen);
          auto read = scf::IfOp::create(nb, nloc, element, inside,
                                        /*withElseRegion=*/true);
          OpBuilder::InsertionGuard guard(nb);
          nb.setInsertionPointToStart(read.thenBlock());
          SmallVector<Value> at =
              keys ? layout.buildKeyIndices(nb, nloc, aux, idx[0], idx[1],
                                            idx[2], idx[3])
                   : layout.buildQueryIndices(nb, nloc, aux, idx[0], idx[1],
                                              idx[2], idx[3]);
          scf::YieldOp::create(nb, nloc,
                               tensor::ExtractOp::create(nb, nloc, src, at)
                                   .getResult());
          nb.setInsertionPointToStart(read.elseBlock());
          scf::YieldOp::create(
              nb, nloc,
              arith::ConstantOp::create(nb, nloc, nb.getZeroAttr(element))
                  .getResult());
          return read.getResult(0);
        });
  }

  /// A dense result [B, Hq, Sq(, Dv)] in the packed layout [Tq, Hq(, Dv)]:
  /// row `t` belongs to the last sequence starting at or before it.
  Value scatterRows(Value dense) {
    auto type = cast<RankedTensorType>(dense.getType());
    SmallVector<OpFoldResult> sizes =
        tensor::getMixedSizes(b, loc, op.getQ());
    sizes.resize(type.getRank() - 1);
    if (type.getRank() == 4)
      sizes.back() = valueDim;
    Value sequences = getValueOrCreateConstantIndexOp(b, loc, batch);
    return buildGenerated(
        b, loc, sizes, type.getElementType(), {}, {},
        [&](OpBuilder &nb, Location nloc, ValueRange, ValueRange idx) {
          IndexExprBuilder ib(nb, nloc, nb.getIndexType());
          Value zero = arith::ConstantIndexOp::create(nb, nloc, 0);
          Value one = arith::ConstantIndexOp::create(nb, nloc, 1);
          Value t = idx[0];
          // The number of sequences after the first that start at or
          // before t.
          auto count = scf::ForOp::create(
              nb, nloc, one, sequences, one, ValueRange{zero},
              [&](OpBuilder &lb, Location ll, Value i, ValueRange acc) {
                IndexExprBuilder lib(lb, ll, lb.getIndexType());
                IndexExpr start = aux.readInt(lib, AuxOperand::CuSeqlensQ,
                                              {lib.value(i)});
                Value starts =
                    lib.materialize(start <= lib.value(t));
                Value next = arith::AddIOp::create(
                    lb, ll, acc[0],
                    arith::SelectOp::create(lb, ll, starts, one, zero));
                scf::YieldOp::create(lb, ll, next);
              });
          Value seq = count.getResult(0);
          Value row = ib.materialize(
              ib.value(t) - aux.readInt(ib, AuxOperand::CuSeqlensQ,
                                        {ib.value(seq)}));
          // Rows past the last sequence (which the data contract excludes)
          // read nothing.
          Value inside = ib.materialize(
              (ib.value(sequences) > 0) &
              (ib.value(row) < ib.value(layout.buildQueryLength(
                                   nb, nloc, aux, seq))));
          auto read = scf::IfOp::create(nb, nloc, type.getElementType(),
                                        inside, /*withElseRegion=*/true);
          OpBuilder::InsertionGuard guard(nb);
          nb.setInsertionPointToStart(read.thenBlock());
          SmallVector<Value> at = {seq, idx[1], row};
          if (type.getRank() == 4)
            at.push_back(idx[2]);
          scf::YieldOp::create(
              nb, nloc,
              tensor::ExtractOp::create(nb, nloc, dense, at).getResult());
          nb.setInsertionPointToStart(read.elseBlock());
          scf::YieldOp::create(nb, nloc,
                               arith::ConstantOp::create(
                                   nb, nloc,
                                   nb.getZeroAttr(type.getElementType()))
                                   .getResult());
          return read.getResult(0);
        });
  }

  /// s[b,h,i,j] = sum_d q[b,h,i,d] * k[b,h/G,j,d]; loops (b,h,i,j,d).
  Value dotProducts() { return rowDots(q, k); }

  /// r[b,h,i,j] = sum_d x[b,h,i,d] * y[b,h/G,j,d] for query rows x and key
  /// rows y.
  Value rowDots(Value x, Value y) {
    return buildContraction(
        b, loc, x, map(5, {dim(0), dim(1), dim(2), dim(4)}), y,
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
          if (layout.isDense())
            return buildMaskedScore(nb, nloc, op, e[0], pos, lengths, aux);
          // Keys past the sequence's own length are padding.
          SequenceLengths own = lengthsOf(nb, nloc, indices[0]);
          Value s = buildMaskedScore(nb, nloc, op, e[0], pos, own, aux);
          Value isKey = arith::CmpIOp::create(
              nb, nloc, arith::CmpIPredicate::slt, indices[3], own.kvLen);
          return arith::SelectOp::create(nb, nloc, isKey, s,
                                         constant(nb, nloc, -kInf))
              .getResult();
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
        b, loc, weights, map(5, {dim(0), dim(1), dim(2), dim(4)}), v,
        map(5, {dim(0), dim(1).floorDiv(groupSize), dim(4), dim(3)}),
        buildFilled(b, loc, {batch, qHeads, qLen, valueDim}, computeType, 0.0),
        1);
  }

  /// o = acc / l (0 for an empty row, l == 0) for row-normalizing kinds,
  /// else acc times the normalization's output factor; then `elementType`.
  Value finishOutput(Value acc, Value rowSum, Type elementType) {
    SmallVector<Value> inputs = {acc};
    SmallVector<AffineMap> maps = {identity(4)};
    if (rowSum) {
      inputs.push_back(rowSum);
      maps.push_back(map(4, {dim(0), dim(1), dim(2)}));
    }
    Value factor;
    if (layout.isDense())
      factor = normalization.buildOutputFactor(
          b, loc, getValueOrCreateConstantIndexOp(b, loc, kvLen), computeType);
    return buildGenerated(
        b, loc, {batch, qHeads, qLen, valueDim}, elementType, inputs, maps,
        [&](OpBuilder &nb, Location nloc, ValueRange e, ValueRange indices) {
          Value rowFactor = factor;
          if (!rowFactor)
            rowFactor = normalization.buildOutputFactor(
                nb, nloc, lengthsOf(nb, nloc, indices[0]).kvLen, computeType);
          Value o = buildRowOutput(nb, nloc, e[0], rowSum ? e[1] : Value(),
                                   rowFactor);
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
  AttentionSpecOpInterface op;
  Location loc;
  OperandAuxReader aux;
  SequenceLayout layout;
  NormalizationAttrInterface normalization;
  int64_t groupSize;
  OpFoldResult batch, qHeads, qLen, kvLen, valueDim;
  /// q, k and v in the dense layout.
  Value q, k, v;
};

/// Builds the linalg ops of one attn.attention.
class ReferenceBuilder : SpecBuilder {
public:
  ReferenceBuilder(PatternRewriter &rewriter, AttentionOp op)
      : SpecBuilder(rewriter, op), forward(op) {}

  /// Returns the replacement values of the op's results.
  SmallVector<Value> build() {
    SmallVector<Value> results = buildDense();
    if (layout.queryForm() == QueryForm::Dense)
      return results;
    for (Value &result : results)
      result = scatterRows(result);
    return results;
  }

private:
  /// The results in the dense layout [B, Hq, Sq, ...].
  SmallVector<Value> buildDense() {
    Type elementType = forward.getO().getType().getElementType();
    Value scores = maskedScores(dotProducts());
    if (!normalization.normalizesRows()) {
      // Pointwise weights, summed without dividing.
      Value weights = weightsOf(scores, /*rowMax=*/nullptr);
      return {finishOutput(weightedValues(weights), /*rowSum=*/nullptr, elementType)};
    }
    Value rowMax = buildLastDimReduction(
        b, loc, scores, -kInf,
        [](OpBuilder &nb, Location nloc, Value x, Value acc) {
          return arith::MaximumFOp::create(nb, nloc, x, acc);
        });
    FeatureMapAttrInterface estimate = forward.getApproximationAttr();
    // With o_linear the estimate is a linear attention apart from softmax.
    FeatureMapAttrInterface joined = forward.getOLinear() ? nullptr : estimate;
    if (joined) {
      // The weights and the lse are relative to the shift, not the maximum.
      rowMax = buildGenerated(
          b, loc, {batch, qHeads, qLen}, computeType, {rowMax}, {identity(3)},
          [](OpBuilder &nb, Location nloc, ValueRange e, ValueRange) {
            return buildEstimateShift(nb, nloc, e[0]);
          });
    }
    Value weights = joined ? estimatedWeights(scores, rowMax, joined)
                           : weightsOf(scores, rowMax);
    Value rowSum = buildLastDimReduction(
        b, loc, weights, 0.0,
        [](OpBuilder &nb, Location nloc, Value x, Value acc) {
          return arith::AddFOp::create(nb, nloc, x, acc);
        });
    SmallVector<Value> results = {finishOutput(weightedValues(weights), rowSum, elementType)};
    if (forward.getLse())
      results.push_back(logSumExp(rowMax, rowSum));
    if (forward.getOLinear())
      results.push_back(linearOutside(scores, estimate, elementType));
    return results;
  }

  /// phi(q_i) . phi(k_j) [B, Hq, Sq, Skv] of the approximation's map.
  Value pairEstimates(FeatureMapAttrInterface estimate) {
    Value weights = forward.getFeatureWeights();
    Value queryFeatures =
        buildEstimateFeatures(b, loc, estimate, weights, q, computeType);
    Value keyFeatures =
        buildEstimateFeatures(b, loc, estimate, weights, k, computeType);
    return rowDots(queryFeatures, keyFeatures);
  }

  /// o_linear: the linear attention over the pairs outside the support
  /// (masked scores), 0 where their estimates sum to 0.
  Value linearOutside(Value scores, FeatureMapAttrInterface estimate,
                      Type elementType) {
    Value weights = buildGenerated(
        b, loc, {batch, qHeads, qLen, kvLen}, computeType,
        {scores, pairEstimates(estimate)}, {identity(4), identity(4)},
        [&](OpBuilder &nb, Location nloc, ValueRange e, ValueRange) {
          Value outside =
              arith::CmpFOp::create(nb, nloc, arith::CmpFPredicate::OEQ, e[0],
                                    constant(nb, nloc, -kInf));
          return arith::SelectOp::create(nb, nloc, outside, e[1],
                                         constant(nb, nloc, 0.0))
              .getResult();
        });
    Value rowSum = buildLastDimReduction(
        b, loc, weights, 0.0,
        [](OpBuilder &nb, Location nloc, Value x, Value acc) {
          return arith::AddFOp::create(nb, nloc, x, acc);
        });
    return finishOutput(weightedValues(weights), rowSum, elementType);
  }

  /// The weights of an approximated op (LowRankEstimate.h): exp(s - c) in
  /// the support, exp(-c) phi(q) . phi(k) outside it.
  Value estimatedWeights(Value scores, Value shift,
                         FeatureMapAttrInterface estimate) {
    return buildGenerated(
        b, loc, {batch, qHeads, qLen, kvLen}, computeType,
        {scores, shift, pairEstimates(estimate)},
        {identity(4), map(4, {dim(0), dim(1), dim(2)}), identity(4)},
        [](OpBuilder &nb, Location nloc, ValueRange e, ValueRange) {
          return buildEstimatedWeight(nb, nloc, e[0], e[1], e[2]);
        });
  }

  AttentionOp forward;
};

/// Builds the linalg ops of one attn.attention_backward: the full
/// [B, Hq, Sq, Skv] matrices of scores, weights and their gradients (see the
/// op's description), then contractions for grad_q, grad_k and grad_v.
class BackwardReferenceBuilder : SpecBuilder {
public:
  BackwardReferenceBuilder(PatternRewriter &rewriter, AttentionBackwardOp op)
      : SpecBuilder(rewriter, op), backward(op) {}

  /// Returns the replacement values of the op's results, or failure (after
  /// a diagnostic; the ops built are then dead) when a score modifier cannot
  /// be differentiated.
  FailureOr<SmallVector<Value>> build() {
    Value dots = dotProducts();
    Value scores = maskedScores(dots);
    Value gradWeights = gradientOfWeights();
    Value weights, gradScores;
    if (normalization.normalizesRows()) {
      weights = softmaxWeights(scores);
      gradScores = softmaxGradient(weights, gradWeights);
    } else {
      Value factor = normalization.buildOutputFactor(
          b, loc, getValueOrCreateConstantIndexOp(b, loc, kvLen),
          computeType);
      weights = pointwiseWeights(scores, factor);
      gradScores = pointwiseGradient(scores, gradWeights, factor);
    }
    Value gradDots = gradientThroughModifiers(dots, gradScores, /*bias=*/false);
    AttentionShape shape = op.getShape();
    OpFoldResult headDim = b.getIndexAttr(shape.headDim);
    SmallVector<Value> results = {
        // grad_q = scale * dX . k: loops (b, h, i, d, j).
        toElementType(
            buildContraction(
                b, loc, gradDots, map(5, {dim(0), dim(1), dim(2), dim(4)}), k,
                map(5, {dim(0), dim(1).floorDiv(groupSize), dim(4), dim(3)}),
                buildFilled(b, loc, {batch, qHeads, qLen, headDim},
                            computeType, 0.0),
                1),
            op.getQ()),
        toElementType(sumOverGroup(gradDots, q, headDim), op.getK()),
        toElementType(sumOverGroup(weights, backward.getGradO(), valueDim),
                      op.getV())};
    if (backward.getGradBias()) {
      Value gradBias =
          gradientThroughModifiers(dots, gradScores, /*bias=*/true);
      results.push_back(reduceToBias(gradBias));
    }
    if (undifferentiable)
      return failure();
    return results;
  }

private:
  /// dP = grad_o . v^T; loops (b, h, i, j, e).
  Value gradientOfWeights() {
    return buildContraction(
        b, loc, backward.getGradO(), map(5, {dim(0), dim(1), dim(2), dim(4)}),
        v, map(5, {dim(0), dim(1).floorDiv(groupSize), dim(3), dim(4)}),
        buildFilled(b, loc, {batch, qHeads, qLen, kvLen}, computeType, 0.0),
        1);
  }

  /// P = exp(s - lse); 0 for masked scores and empty rows (lse = -inf).
  Value softmaxWeights(Value scores) {
    return buildGenerated(
        b, loc, {batch, qHeads, qLen, kvLen}, computeType,
        {scores, backward.getLse()}, {identity(4), map(4, {dim(0), dim(1), dim(2)})},
        [&](OpBuilder &nb, Location nloc, ValueRange e, ValueRange) {
          Value lse = convertFloat(nb, nloc, e[1], computeType);
          Value masked = arith::CmpFOp::create(
              nb, nloc, arith::CmpFPredicate::OEQ, e[0],
              constant(nb, nloc, -kInf));
          Value p = math::ExpOp::create(
              nb, nloc, arith::SubFOp::create(nb, nloc, e[0], lse));
          return arith::SelectOp::create(nb, nloc, masked,
                                         constant(nb, nloc, 0.0), p)
              .getResult();
        });
  }

  /// dS = P * (dP - rowsum(grad_o * o)).
  Value softmaxGradient(Value weights, Value gradWeights) {
    // delta[b, h, i] = sum_e grad_o * o; loops (b, h, i, e).
    Value delta = buildContraction(
        b, loc, backward.getGradO(), identity(4), backward.getO(),
        identity(4),
        buildFilled(b, loc, {batch, qHeads, qLen}, computeType, 0.0), 1);
    return buildGenerated(
        b, loc, {batch, qHeads, qLen, kvLen}, computeType,
        {weights, gradWeights, delta},
        {identity(4), identity(4), map(4, {dim(0), dim(1), dim(2)})},
        [&](OpBuilder &nb, Location nloc, ValueRange e, ValueRange) {
          return arith::MulFOp::create(
                     nb, nloc, e[0],
                     arith::SubFOp::create(nb, nloc, e[1], e[2]))
              .getResult();
        });
  }

  /// f * w(s), the weights as the output sees them (f: the output factor,
  /// null for 1).
  Value pointwiseWeights(Value scores, Value factor) {
    return buildGenerated(
        b, loc, {batch, qHeads, qLen, kvLen}, computeType, {scores},
        {identity(4)},
        [&](OpBuilder &nb, Location nloc, ValueRange e, ValueRange) {
          Value w = normalization.buildWeight(nb, nloc, e[0], Value());
          return factor ? arith::MulFOp::create(nb, nloc, w, factor).getResult()
                        : w;
        });
  }

  /// dS = f * dP * w'(s).
  Value pointwiseGradient(Value scores, Value gradWeights, Value factor) {
    return buildGenerated(
        b, loc, {batch, qHeads, qLen, kvLen}, computeType,
        {scores, gradWeights}, {identity(4), identity(4)},
        [&](OpBuilder &nb, Location nloc, ValueRange e, ValueRange) {
          Value w = normalization.buildWeight(nb, nloc, e[0], Value());
          Value slope =
              normalization.buildWeightDerivative(nb, nloc, e[0], w);
          Value g = arith::MulFOp::create(nb, nloc, e[1], slope);
          return factor ? arith::MulFOp::create(nb, nloc, g, factor).getResult()
                        : g;
        });
  }

  /// dS times the derivative of the modified score with respect to the raw
  /// dot product (or, with `bias`, to the bias element); 0 where the mask
  /// disallows the pair (whatever the derivative is there).
  Value gradientThroughModifiers(Value dots, Value gradScores, bool bias) {
    SequenceLengths lengths{getValueOrCreateConstantIndexOp(b, loc, qLen),
                            getValueOrCreateConstantIndexOp(b, loc, kvLen)};
    return buildGenerated(
        b, loc, {batch, qHeads, qLen, kvLen}, computeType, {dots, gradScores},
        {identity(4), identity(4)},
        [&](OpBuilder &nb, Location nloc, ValueRange e,
            ValueRange indices) -> Value {
          ScorePosition pos{indices[0], indices[1], indices[2], indices[3]};
          FailureOr<ScoreDerivatives> d =
              buildScoreDerivatives(nb, nloc, op, e[0], pos, lengths, aux);
          if (failed(d)) {
            undifferentiable = true;
            return constant(nb, nloc, 0.0);
          }
          Value g = arith::MulFOp::create(nb, nloc, e[1],
                                          bias ? d->byBias : d->byRawScore);
          if (!hasMask(op))
            return g;
          Value allowed = buildAllowedAt(nb, nloc, op, pos, lengths, aux);
          return arith::SelectOp::create(nb, nloc, allowed, g,
                                         constant(nb, nloc, 0.0));
        });
  }

  /// sum over the query heads h of each key/value head and over i of
  /// lhs[b, h, i, j] * rhs[b, h, i, c] (rhs: q for grad_k, grad_o for
  /// grad_v) into [B, Hkv, Skv, C]; the group is its own loop through
  /// [B, Hkv, G, Sq, ...] views. Loops (b, hk, j, c, g, i).
  Value sumOverGroup(Value lhs, Value rhs, OpFoldResult columns) {
    AttentionShape shape = op.getShape();
    auto grouped = [&](Value x) -> Value {
      auto type = cast<RankedTensorType>(x.getType());
      SmallVector<int64_t> dims(type.getShape());
      dims[1] = shape.kvHeads;
      dims.insert(dims.begin() + 2, groupSize);
      return tensor::ExpandShapeOp::create(
          b, loc, RankedTensorType::get(dims, type.getElementType()), x,
          SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}});
    };
    using utils::IteratorType;
    SmallVector<IteratorType> iterators(4, IteratorType::parallel);
    iterators.append(2, IteratorType::reduction);
    return buildContraction(
        b, loc, grouped(lhs), map(6, {dim(0), dim(1), dim(4), dim(5), dim(2)}),
        grouped(rhs), map(6, {dim(0), dim(1), dim(4), dim(5), dim(3)}),
        buildFilled(b, loc,
                    {batch, b.getIndexAttr(shape.kvHeads), kvLen, columns},
                    computeType, 0.0),
        map(6, {dim(0), dim(1), dim(2), dim(3)}), iterators);
  }

  /// The full [B, Hq, Sq, Skv] gradient summed over the bias's broadcast
  /// (size-1) dimensions, in the bias's type.
  Value reduceToBias(Value full) {
    auto biasType = cast<RankedTensorType>(backward.getBias().getType());
    SmallVector<OpFoldResult> fullSizes = {batch, qHeads, qLen, kvLen};
    SmallVector<OpFoldResult> keptSizes;
    SmallVector<AffineExpr> kept;
    SmallVector<utils::IteratorType> iterators;
    for (unsigned d = 0; d < 4; ++d) {
      bool broadcast = biasType.getDimSize(d) == 1;
      iterators.push_back(broadcast ? utils::IteratorType::reduction
                                    : utils::IteratorType::parallel);
      if (!broadcast) {
        kept.push_back(dim(d));
        keptSizes.push_back(fullSizes[d]);
      }
    }
    Value reduced = buildContraction(
        b, loc, full, identity(4), Value(), AffineMap(),
        buildFilled(b, loc, keptSizes, computeType, 0.0), map(4, kept),
        iterators);
    // Back to the bias's rank: broadcast dimensions are read at 0.
    SmallVector<OpFoldResult> biasSizes =
        tensor::getMixedSizes(b, loc, backward.getBias());
    return buildGenerated(
        b, loc, biasSizes, biasType.getElementType(), {reduced},
        {map(4, kept)},
        [&](OpBuilder &nb, Location nloc, ValueRange e, ValueRange) {
          return convertFloat(nb, nloc, e[0], biasType.getElementType());
        });
  }

  /// `x` (compute type) in the element type of `like`.
  Value toElementType(Value x, Value like) {
    Type element = cast<RankedTensorType>(like.getType()).getElementType();
    if (element == computeType)
      return x;
    return buildElementwise(b, loc, x, element,
                            [&](OpBuilder &nb, Location nloc, Value e) {
                              return convertFloat(nb, nloc, e, element);
                            });
  }

  AttentionBackwardOp backward;
  /// Whether a score modifier could not be differentiated.
  bool undifferentiable = false;
};

/// Replaces each attn.attention_backward by its reference. A score
/// modifier that cannot be differentiated (the verifier rejects such
/// regions; this guards the attributes) is reported and fails the pass.
struct DecomposeBackward : OpRewritePattern<AttentionBackwardOp> {
  DecomposeBackward(MLIRContext *ctx, bool &failedAny)
      : OpRewritePattern(ctx), failedAny(failedAny) {}
  LogicalResult matchAndRewrite(AttentionBackwardOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<SmallVector<Value>> results =
        BackwardReferenceBuilder(rewriter, op).build();
    if (failed(results)) {
      failedAny = true;
      return success();
    }
    rewriter.replaceOp(op, *results);
    return success();
  }
  bool &failedAny;
};

/// Replaces an op by what `Builder(rewriter, op).build()` returns.
template <typename Op, typename Builder>
struct DecomposeWith : OpRewritePattern<Op> {
  using OpRewritePattern<Op>::OpRewritePattern;
  LogicalResult matchAndRewrite(Op op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, Builder(rewriter, op).build());
    return success();
  }
};

/// Linear attention as the quadratic form over whole sequences:
/// `(phi(Q) phi(K)^T * M) V` (M the causal mask with decay or gates, or all
/// ones), plus the initial state's contribution; the final state from all
/// keys. The delta rule's V is its pseudo-values, from one triangular solve
/// over the whole sequence.
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
    Value phiQ = builder.queryFeatures(op.getQ(), zero);
    Value phiK = builder.features(op.getK(), zero);
    LinearAttentionBuilder::BlockGates gates = builder.sumGates(op.getGate());
    LinearAttentionBuilder::State initial{op.getInitialState(),
                                          op.getInitialNormalizer()};
    // The delta rule: additive linear attention on its pseudo-values.
    Value values = op.getV();
    if (op.getBeta())
      values = builder.deltaValues(phiK, values, op.getBeta(), initial, gates);
    SmallVector<Value> results = {builder.output(
        phiQ, phiK, values, initial, op.getCausal(), gates)};
    if (op.getFinalState()) {
      // The state is updated in place: start from copies of the caller's.
      if (initial.s)
        initial = {buildFreshCopy(rewriter, loc, initial.s),
                   initial.z ? buildFreshCopy(rewriter, loc, initial.z)
                             : Value()};
      LinearAttentionBuilder::State final =
          builder.advance(initial, phiK, values, gates);
      results.push_back(final.s);
      if (op.getFinalNormalizer())
        results.push_back(final.z);
    }
    rewriter.replaceOp(op, results);
    return success();
  }
};

/// Builds the linalg ops of one attn.merge:
///
///   m     = max_i lse_i
///   l     = sum_i e(lse_i, m)
///   lse   = m == -inf ? -inf : m + log(l)
///   w_i   = e(lse_i, lse)
///   o     = sum_i w_i * o_i
///
/// with e(x, shift) = x == -inf ? 0 : exp(x - shift): an empty partial
/// weighs exactly 0 whatever its o_i holds (exp(-inf - -inf) would be NaN),
/// and a row without partials gives o = 0, lse = -inf. Weights are computed
/// once per row, so each o partial is read once and no exponential is
/// repeated along Dv. The split form reduces over its leading axis, the
/// list form combines its operands elementwise.
class MergeBuilder : LinalgBuilderBase {
public:
  MergeBuilder(PatternRewriter &rewriter, MergeOp op)
      : LinalgBuilderBase(op.getContext(), op.getComputeType()), b(rewriter),
        op(op), loc(op.getLoc()), outType(op.getO().getType().getElementType()) {
    ReifiedRankedShapedTypeDims reified;
    (void)op.reifyResultShapes(b, reified);
    oSizes = reified.front();
    rowSizes.assign(oSizes.begin(), oSizes.begin() + 3);
  }

  /// Returns the replacement values of the op's results.
  SmallVector<Value> build() {
    auto [o, lse] = op.isSplit() ? buildSplit() : buildList();
    SmallVector<Value> results = {o};
    if (op.getLse())
      results.push_back(lse);
    return results;
  }

private:
  Value isEmpty(OpBuilder &nb, Location nloc, Value x) {
    return arith::CmpFOp::create(nb, nloc, arith::CmpFPredicate::OEQ, x,
                                 constant(nb, nloc, -kInf));
  }
  /// e(x, shift) above.
  Value expOrZero(OpBuilder &nb, Location nloc, Value x, Value shift) {
    Value diff = arith::SubFOp::create(nb, nloc, x, shift);
    Value empty = isEmpty(nb, nloc, x);
    Value zero = constant(nb, nloc, 0.0);
    Value exp = math::ExpOp::create(nb, nloc, diff);
    return arith::SelectOp::create(nb, nloc, empty, zero, exp);
  }
  /// lse from the row max and the sum of shifted exponentials.
  Value lseOf(OpBuilder &nb, Location nloc, Value m, Value l) {
    Value lse =
        arith::AddFOp::create(nb, nloc, m, math::LogOp::create(nb, nloc, l));
    Value empty = isEmpty(nb, nloc, m);
    return arith::SelectOp::create(nb, nloc, empty, constant(nb, nloc, -kInf),
                                   lse);
  }
  /// The accumulated output in the result's element type.
  Value toOutType(Value acc) {
    if (computeType == outType)
      return acc;
    return buildElementwise(b, loc, acc, outType,
                            [&](OpBuilder &nb, Location nloc, Value x) {
                              return convertFloat(nb, nloc, x, outType);
                            });
  }

  /// One o [N, B, H, S, Dv] and one lse [N, B, H, S]: reductions over N,
  /// the outermost loop, so that every pass streams through the partials.
  std::pair<Value, Value> buildSplit() {
    Value oParts = op.getOParts()[0], lseParts = op.getLseParts()[0];
    SmallVector<OpFoldResult> partSizes =
        tensor::getMixedSizes(b, loc, lseParts);
    AffineMap rowOfPart = map(4, {dim(1), dim(2), dim(3)});
    auto max = [](OpBuilder &nb, Location nloc, Value x, Value acc) -> Value {
      return arith::MaximumFOp::create(nb, nloc, x, acc);
    };
    auto add = [](OpBuilder &nb, Location nloc, Value x, Value acc) -> Value {
      return arith::AddFOp::create(nb, nloc, x, acc);
    };
    // exp(lse_n - shift) (0 for empty partials) for every partial and row.
    auto shiftedExp = [&](Value shift) {
      return buildGenerated(
          b, loc, partSizes, computeType, {lseParts, shift},
          {identity(4), rowOfPart},
          [&](OpBuilder &nb, Location nloc, ValueRange e, ValueRange) {
            return expOrZero(nb, nloc, e[0], e[1]);
          });
    };
    Value m = buildDimReduction(b, loc, lseParts, 0, -kInf, max);
    Value l = buildDimReduction(b, loc, shiftedExp(m), 0, 0.0, add);
    Value lse = buildGenerated(
        b, loc, rowSizes, computeType, {m, l}, {identity(3), identity(3)},
        [&](OpBuilder &nb, Location nloc, ValueRange e, ValueRange) {
          return lseOf(nb, nloc, e[0], e[1]);
        });
    Value weights = shiftedExp(lse);
    // sum_n w[n] * o[n]; loops (n, b, h, s, e).
    using utils::IteratorType;
    Value acc = buildContraction(
        b, loc, weights, map(5, {dim(0), dim(1), dim(2), dim(3)}), oParts,
        identity(5), buildFilled(b, loc, oSizes, computeType, 0.0),
        map(5, {dim(1), dim(2), dim(3), dim(4)}),
        {IteratorType::reduction, IteratorType::parallel,
         IteratorType::parallel, IteratorType::parallel,
         IteratorType::parallel});
    return {toOutType(acc), lse};
  }

  /// n pairs o_i [B, H, S, Dv], lse_i [B, H, S]: elementwise ops over all.
  std::pair<Value, Value> buildList() {
    SmallVector<Value> oParts(op.getOParts()), lseParts(op.getLseParts());
    size_t n = oParts.size();
    Value lse = buildGenerated(
        b, loc, rowSizes, computeType, lseParts,
        SmallVector<AffineMap>(n, identity(3)),
        [&](OpBuilder &nb, Location nloc, ValueRange e, ValueRange) {
          Value m = e[0];
          for (Value x : e.drop_front())
            m = arith::MaximumFOp::create(nb, nloc, x, m);
          Value l = constant(nb, nloc, 0.0);
          for (Value x : e)
            l = arith::AddFOp::create(nb, nloc, expOrZero(nb, nloc, x, m), l);
          return lseOf(nb, nloc, m, l);
        });
    SmallVector<Value> inputs(oParts);
    for (Value part : lseParts)
      inputs.push_back(buildGenerated(
          b, loc, rowSizes, computeType, {part, lse},
          {identity(3), identity(3)},
          [&](OpBuilder &nb, Location nloc, ValueRange e, ValueRange) {
            return expOrZero(nb, nloc, e[0], e[1]);
          }));
    SmallVector<AffineMap> maps(n, identity(4));
    maps.append(n, map(4, {dim(0), dim(1), dim(2)}));
    Value o = buildGenerated(
        b, loc, oSizes, outType, inputs, maps,
        [&](OpBuilder &nb, Location nloc, ValueRange e, ValueRange) {
          Value acc = constant(nb, nloc, 0.0);
          for (size_t i = 0; i < n; ++i) {
            Value term = arith::MulFOp::create(
                nb, nloc, e[n + i], convertFloat(nb, nloc, e[i], computeType));
            acc = arith::AddFOp::create(nb, nloc, term, acc);
          }
          return convertFloat(nb, nloc, acc, outType);
        });
    return {o, lse};
  }

  PatternRewriter &b;
  MergeOp op;
  Location loc;
  Type outType;
  SmallVector<OpFoldResult> oSizes, rowSizes;
};


struct AttnDecomposePass : attn::impl::AttnDecomposeBase<AttnDecomposePass> {
  using AttnDecomposeBase::AttnDecomposeBase;

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    StringRef known[] = {AttentionOp::getOperationName(),
                         AttentionBackwardOp::getOperationName(),
                         LinearAttentionOp::getOperationName(),
                         MergeOp::getOperationName()};
    for (const std::string &name : ops)
      if (!llvm::is_contained(known, name)) {
        getOperation()->emitError()
            << "attn-decompose: unknown op '" << name << "' in ops=; use "
            << llvm::join(ArrayRef<StringRef>(known), ", ");
        return signalPassFailure();
      }
    auto wanted = [&](StringRef name) {
      return ops.empty() || llvm::is_contained(ops, name);
    };
    if (wanted(AttentionOp::getOperationName()))
      patterns.add<DecomposeWith<AttentionOp, ReferenceBuilder>>(ctx);
    bool undifferentiable = false;
    if (wanted(AttentionBackwardOp::getOperationName()))
      patterns.add<DecomposeBackward>(ctx, undifferentiable);
    if (wanted(LinearAttentionOp::getOperationName()))
      patterns.add<DecomposeLinearAttention>(ctx);
    if (wanted(MergeOp::getOperationName()))
      patterns.add<DecomposeWith<MergeOp, MergeBuilder>>(ctx);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
    if (undifferentiable)
      signalPassFailure();
  }
};

} // namespace
