//===- TileFlashBackward.cpp - FlashAttention-2's tiled backward ----------===//
//
// attn.attention_backward becomes, as in FlashAttention-2, computations on
// tiles that recompute the weights from the forward's log-sum-exp instead
// of reading a score matrix:
//
//   delta = rowsum(grad_o * o)                        (softmax only)
//   per (batch, key/value head, key tile), for each query head of the group,
//   over the query tiles the mask allows (buildQueryTileLoop):
//     P = exp(s - lse), dP = grad_o . v^T, dS = P (dP - delta),
//     dX = dS * ds/dx (the score modifiers differentiated),
//     grad_v += P^T . grad_o, grad_k += dX^T . q
//   per (batch, query head, query tile), over the key tiles the mask allows
//   (buildKeyTileLoop):
//     grad_q += dX . k
//
// grad_q has its own pass rather than atomics into a shared buffer (what
// FlashAttention-2 does on a GPU): both passes are then parallel without
// synchronization, for one more recomputation of the scores per tile pair.
// The per-key-tile pass works on transposed tiles (keys as rows) so that
// every product is one of the CPU micro-kernels' two forms. Sigmoid and relu
// weights have no row statistics: dS = f dP w'(s) directly.
//
// grad_bias is dS ds/dbias at each score. A bias without broadcast
// dimensions ([B, Hq, Sq, Skv]) has one gradient element per score: the
// grad_q pass, which visits each score once, writes it (a band of the query
// tile's rows, zeros where the key-tile loop skips Empty tiles). A
// broadcast bias sums scores of several threads into one element; such a
// backward is left to attn-decompose's reference.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/LinalgBuilders.h"
#include "attn/Transforms/KeyTileLoop.h"
#include "attn/Transforms/Passes.h"
#include "attn/Transforms/ScoreFunction.h"
#include "attn/Transforms/TileBuilder.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"


namespace attn {
#define GEN_PASS_DEF_ATTNTILEFLASHBACKWARD
#include "attn/Dialect/Passes.h.inc"
} // namespace attn

using namespace mlir;
using namespace attn;

namespace {

class BackwardTileBuilder : TileBuilder {
public:
  BackwardTileBuilder(PatternRewriter &rewriter, AttentionBackwardOp op,
                      int64_t tileQ, int64_t tileKv)
      : TileBuilder(rewriter, op.getLoc(), op.getComputeType()), op(op),
        tileQ(tileQ), tileKv(tileKv), aux(op),
        normalization(op.getNormalizationOrDefault()),
        softmax(normalization.normalizesRows()),
        readsAtPositions(readsMemoryAtPositions(op)),
        biasGradient(static_cast<bool>(op.getGradBias())) {
    AttentionShape shape = op.getShape();
    qHeads = shape.qHeads;
    kvHeads = shape.kvHeads;
    groupSize = qHeads / kvHeads;
    headDim = shape.headDim;
    valueDim = shape.valueDim;
    // The backward takes dense operands only (its verifier): [B, H, S, D].
    batch = tensor::getMixedSizes(b, loc, op.getQ())[0];
    // Static lengths stay constants, so that tile extents fold.
    qLen = getValueOrCreateConstantIndexOp(
        b, loc, tensor::getMixedSize(b, loc, op.getQ(), 2));
    kvLen = getValueOrCreateConstantIndexOp(
        b, loc, tensor::getMixedSize(b, loc, op.getK(), 2));
    if (!softmax)
      outputFactor = normalization.buildOutputFactor(b, loc, kvLen, computeType);
  }

  /// The replacements of grad_q, grad_k, grad_v (and grad_bias), or
  /// failure (after a diagnostic) when a score modifier cannot be
  /// differentiated.
  FailureOr<SmallVector<Value>> build() {
    if (softmax)
      delta = buildDelta();
    auto [gradK, gradV] = buildKeyValueGradients();
    SmallVector<Value> results = buildQueryGradients();
    if (undifferentiable)
      return failure();
    results.insert(results.begin() + 1, {gradK, gradV});
    return results;
  }

private:
  /// A parallel loop over (batch, head, tile) of the tiles of `tile` rows of
  /// a sequence of `len`, with `outs`, and the builder inside it: the loop,
  /// its batch entry and head, the tile's first row and its valid rows.
  struct TileForall {
    scf::ForallOp forall;
    Value batchIv, head, row0, rows;
  };
  TileForall buildTileForall(int64_t heads, Value len, int64_t tile,
                             ValueRange outs) {
    auto forall = scf::ForallOp::create(
        b, loc,
        ArrayRef<OpFoldResult>{batch, b.getIndexAttr(heads),
                               ceilDiv(len, tile)},
        outs, /*mapping=*/std::nullopt);
    b.setInsertionPointToStart(forall.getBody());
    SmallVector<Value> ivs = forall.getInductionVars();
    Value row0 = arith::MulIOp::create(b, loc, ivs[2], index(tile));
    return {forall, ivs[0], ivs[1], row0,
            buildTileExtent(b, loc, len, row0, tile)};
  }

  /// delta[b, h, i] = sum_e grad_o * o, in the compute type.
  Value buildDelta() {
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, op.getQ());
    sizes.pop_back();
    return buildContraction(
        b, loc, op.getGradO(), AffineMap::getMultiDimIdentityMap(4, ctx),
        op.getO(), AffineMap::getMultiDimIdentityMap(4, ctx),
        buildFilled(b, loc, sizes, computeType, 0.0), 1);
  }

  /// The rows [row0, row0 + rows) (padded to `maxRows`) of head `head` of
  /// the dense operand `src` of batch entry `batchIv`.
  Value rowsOf(Value src, Value batchIv, Value head, Value row0, Value rows,
               int64_t maxRows) {
    return paddedTile(
        src,
        [&](OpBuilder &, Location, Value row, Value col) {
          return SmallVector<Value>{batchIv, head, row, col};
        },
        row0, rows, maxRows);
  }

  /// P and dX (and, `withBias`, the bias element's gradient) of the score
  /// at `pos` (buildScoreGradients); zeros after a diagnostic when a
  /// modifier cannot be differentiated.
  ScoreGradients scoreGradients(OpBuilder &nb, Location nl, Value dot,
                                Value gradWeight, const ScorePosition &pos,
                                Value lse, Value rowDelta, Value allowed,
                                bool withBias) {
    FailureOr<ScoreGradients> g = buildScoreGradients(
        nb, nl, op, normalization,
        {dot, gradWeight, lse, rowDelta, outputFactor, allowed}, pos,
        SequenceLengths{qLen, kvLen}, aux, withBias);
    if (succeeded(g))
      return *g;
    undifferentiable = true;
    Value zero = fconst(nb, nl, 0.0);
    return {zero, zero, zero};
  }

  /// The score position of element (i, j) of a tile pair and whether it is
  /// allowed: inside both tiles and by the mask (null in a full tile, where
  /// every pair is). Rows (lse, delta) are read at the tile's last query for
  /// padding rows; when modifiers or masks read memory at a position (a
  /// bias, segment ids, captured tensors), padded keys are evaluated at the
  /// tile's last key too, so that every read stays inside its operand
  /// (padding results are discarded).
  std::pair<ScorePosition, Value>
  positionOf(OpBuilder &nb, Location nl, Value batchIv, Value head, Value q0,
             Value qRows, Value kv0, Value kvCols, Value i, Value j,
             bool masked) {
    IndexExprBuilder ib(nb, nl, nb.getIndexType());
    auto clampedTo = [&](Value start, Value offset, Value count) {
      return ib.materialize(ib.value(start) +
                            min(ib.value(offset), ib.value(count) - 1));
    };
    ScorePosition pos{batchIv, head, clampedTo(q0, i, qRows),
                      readsAtPositions && masked
                          ? clampedTo(kv0, j, kvCols)
                          : arith::AddIOp::create(nb, nl, kv0, j).getResult()};
    if (!masked)
      return {pos, Value()};
    PredExpr allowed = (ib.value(i) < ib.value(qRows)) &
                       (ib.value(j) < ib.value(kvCols));
    if (hasMask(op))
      allowed = allowed & ib.pred(buildAllowedAt(nb, nl, op, pos,
                                                 SequenceLengths{qLen, kvLen},
                                                 aux));
    return {pos, ib.materialize(allowed)};
  }

  /// The lse and delta of query `q` of (batchIv, head), in the compute type
  /// (null for pointwise normalizations).
  std::pair<Value, Value> rowStatistics(OpBuilder &nb, Location nl,
                                        Value batchIv, Value head, Value q) {
    if (!softmax)
      return {Value(), Value()};
    SmallVector<Value> at = {batchIv, head, q};
    Value lse = convertFloat(
        nb, nl, tensor::ExtractOp::create(nb, nl, op.getLse(), at),
        computeType);
    return {lse, tensor::ExtractOp::create(nb, nl, delta, at)};
  }

  //===--------------------------------------------------------------------===//
  // grad_k and grad_v: per key tile, over query tiles
  //===--------------------------------------------------------------------===//

  std::pair<Value, Value> buildKeyValueGradients() {
    SmallVector<Value> outs = {
        tensor::EmptyOp::create(b, loc, tensor::getMixedSizes(b, loc, op.getK()),
                                op.getK().getType().getElementType()),
        tensor::EmptyOp::create(b, loc, tensor::getMixedSizes(b, loc, op.getV()),
                                op.getV().getType().getElementType())};
    scf::ForallOp forall;
    {
      OpBuilder::InsertionGuard guard(b);
      TileForall loop = buildTileForall(kvHeads, kvLen, tileKv, outs);
      forall = loop.forall;
      Value batchIv = loop.batchIv, kvHead = loop.head, kv0 = loop.row0,
            kvCols = loop.rows;
      Value keys = rowsOf(op.getK(), batchIv, kvHead, kv0, kvCols, tileKv);
      Value values = rowsOf(op.getV(), batchIv, kvHead, kv0, kvCols, tileKv);
      // The query heads of the group, one after the other.
      Value head0 = arith::MulIOp::create(b, loc, kvHead, index(groupSize));
      auto heads = scf::ForOp::create(
          b, loc, index(0), index(groupSize), index(1),
          ValueRange{filled({tileKv, headDim}, 0.0),
                     filled({tileKv, valueDim}, 0.0)},
          [&](OpBuilder &body, Location, Value g, ValueRange grads) {
            OpBuilder::InsertionGuard inner(b);
            b.setInsertionPoint(body.getInsertionBlock(),
                                body.getInsertionPoint());
            Value head = arith::AddIOp::create(b, loc, head0, g);
            KeyTileRows tile{batchIv, head, kv0, kvCols, qLen, kvLen};
            SmallVector<Value> next = buildQueryTileLoop(
                b, loc, op, aux, tile, tileQ, tileKv, grads,
                [&](const QueryRows &rows, bool masked, ValueRange state) {
                  return keyTileUpdate(batchIv, head, kv0, kvCols, keys,
                                       values, rows, masked, state);
                });
            scf::YieldOp::create(b, loc, next);
          });
      insertRows(forall, 0, heads.getResult(0), batchIv, kvHead, kv0, kvCols);
      insertRows(forall, 1, heads.getResult(1), batchIv, kvHead, kv0, kvCols);
    }
    return {forall.getResult(0), forall.getResult(1)};
  }

  /// grad_k and grad_v of the key tile after the query tile `rows`.
  SmallVector<Value> keyTileUpdate(Value batchIv, Value head, Value kv0,
                                   Value kvCols, Value keys, Value values,
                                   const QueryRows &rows, bool masked,
                                   ValueRange state) {
    Value queries = rowsOf(op.getQ(), batchIv, head, rows.q0, rows.qRows, tileQ);
    Value gradOut =
        rowsOf(op.getGradO(), batchIv, head, rows.q0, rows.qRows, tileQ);
    // Transposed tiles [tileKv, tileQ]: s^T = k . q^T, dP^T = v . grad_o^T.
    Value dotsT = product(keys, queries, filled({tileKv, tileQ}, 0.0), true);
    Value gradWeightsT =
        product(values, gradOut, filled({tileKv, tileQ}, 0.0), true);
    SmallVector<Value> grads = buildElementwiseTile(
        {dotsT, gradWeightsT}, 2,
        [&](OpBuilder &nb, Location nl, ValueRange args, Value j, Value i) {
          auto [pos, allowed] = positionOf(nb, nl, batchIv, head, rows.q0,
                                           rows.qRows, kv0, kvCols, i, j,
                                           masked);
          auto [lse, rowDelta] = rowStatistics(nb, nl, batchIv, head, pos.q);
          ScoreGradients g = scoreGradients(nb, nl, args[0], args[1], pos, lse,
                                            rowDelta, allowed,
                                            /*withBias=*/false);
          return SmallVector<Value>{g.weight, g.gradDot};
        });
    // grad_k += dX^T . q, grad_v += P^T . grad_o.
    Value gradK = product(grads[1], queries, state[0], false);
    Value gradV = product(grads[0], gradOut, state[1], false);
    return {gradK, gradV};
  }

  //===--------------------------------------------------------------------===//
  // grad_q (and grad_bias): per query tile, over key tiles
  //===--------------------------------------------------------------------===//

  /// grad_q, and grad_bias when it is built.
  SmallVector<Value> buildQueryGradients() {
    SmallVector<Value> outs = {tensor::EmptyOp::create(
        b, loc, tensor::getMixedSizes(b, loc, op.getQ()),
        op.getQ().getType().getElementType())};
    if (biasGradient)
      outs.push_back(tensor::EmptyOp::create(
          b, loc, tensor::getMixedSizes(b, loc, op.getBias()),
          op.getBias().getType().getElementType()));
    OpBuilder::InsertionGuard guard(b);
    TileForall loop = buildTileForall(qHeads, qLen, tileQ, outs);
    Value batchIv = loop.batchIv, head = loop.head, q0 = loop.row0,
          qRows = loop.rows;
    Value kvHead = arith::DivUIOp::create(b, loc, head, index(groupSize));
    Value queries = rowsOf(op.getQ(), batchIv, head, q0, qRows, tileQ);
    Value gradOut = rowsOf(op.getGradO(), batchIv, head, q0, qRows, tileQ);
    QueryTile tile{batchIv, head, q0, arith::AddIOp::create(b, loc, q0, qRows),
                   qLen, kvLen};
    SmallVector<Value> init = {filled({tileQ, headDim}, 0.0)};
    // The bias gradient of the tile's rows and every key: zero where no
    // key tile is visited.
    if (biasGradient)
      init.push_back(buildFilled(
          b, loc,
          ArrayRef<OpFoldResult>{b.getIndexAttr(tileQ), getAsOpFoldResult(kvLen)},
          computeType, 0.0));
    SmallVector<Value> final = buildKeyTileLoop(
        b, loc, op, aux, tile, tileKv, init,
        [&](const KeyTile &keyTile, bool masked, ValueRange state) {
          Value keys = rowsOf(op.getK(), batchIv, kvHead, keyTile.kv0,
                              keyTile.kvCols, tileKv);
          Value values = rowsOf(op.getV(), batchIv, kvHead, keyTile.kv0,
                                keyTile.kvCols, tileKv);
          Value dots = product(queries, keys, filled({tileQ, tileKv}, 0.0), true);
          Value gradWeights =
              product(gradOut, values, filled({tileQ, tileKv}, 0.0), true);
          // The last query tile's padding rows are computed (at the last
          // query) and never written.
          SmallVector<Value> grads = buildElementwiseTile(
              {dots, gradWeights}, biasGradient ? 2 : 1,
              [&](OpBuilder &nb, Location nl, ValueRange args, Value i,
                  Value j) {
                auto [pos, allowed] =
                    positionOf(nb, nl, batchIv, head, q0, qRows, keyTile.kv0,
                               keyTile.kvCols, i, j, masked);
                auto [lse, rowDelta] =
                    rowStatistics(nb, nl, batchIv, head, pos.q);
                ScoreGradients g =
                    scoreGradients(nb, nl, args[0], args[1], pos, lse,
                                   rowDelta, allowed, biasGradient);
                if (!biasGradient)
                  return SmallVector<Value>{g.gradDot};
                return SmallVector<Value>{g.gradDot, g.gradBias};
              });
          SmallVector<Value> next = {product(grads[0], keys, state[0], false)};
          if (biasGradient)
            next.push_back(insertColumns(state[1], grads[1], keyTile.kv0,
                                         keyTile.kvCols));
          return next;
        });
    insertRows(loop.forall, 0, final[0], batchIv, head, q0, qRows);
    if (biasGradient)
      insertRows(loop.forall, 1, final[1], batchIv, head, q0, qRows);
    return SmallVector<Value>(loop.forall.getResults());
  }

  /// `band` with columns [kv0, kv0 + cols) replaced by the first `cols`
  /// columns of the padded key tile `tile`.
  Value insertColumns(Value band, Value tile, Value kv0, Value cols) {
    OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1),
                 rows = b.getIndexAttr(tileQ);
    Value columns = tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({tileQ, ShapedType::kDynamic}, computeType),
        tile, ArrayRef<OpFoldResult>{zero, zero},
        ArrayRef<OpFoldResult>{rows, cols}, ArrayRef<OpFoldResult>{one, one});
    return tensor::InsertSliceOp::create(
        b, loc, columns, band, ArrayRef<OpFoldResult>{zero, kv0},
        ArrayRef<OpFoldResult>{rows, cols}, ArrayRef<OpFoldResult>{one, one});
  }

  /// `results` tiles of the shape of `inputs` (all alike) whose elements at
  /// (d0, d1) are `fn` of the elements of `inputs` there.
  SmallVector<Value> buildElementwiseTile(
      ValueRange inputs, unsigned results,
      function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange,
                                      Value d0, Value d1)>
          fn) {
    auto type = cast<RankedTensorType>(inputs.front().getType());
    Value init = tensor::EmptyOp::create(b, loc, type.getShape(), computeType);
    SmallVector<Value> inits(results, init);
    SmallVector<AffineMap> maps(inputs.size() + results,
                                AffineMap::getMultiDimIdentityMap(2, ctx));
    auto par = utils::IteratorType::parallel;
    auto generic = linalg::GenericOp::create(
        b, loc, TypeRange(ValueRange(inits)), inputs, inits, maps, {par, par},
        [&](OpBuilder &nb, Location nl, ValueRange args) {
          Value d0 = linalg::IndexOp::create(nb, nl, 0);
          Value d1 = linalg::IndexOp::create(nb, nl, 1);
          linalg::YieldOp::create(
              nb, nl, fn(nb, nl, args.drop_back(results), d0, d1));
        });
    return SmallVector<Value>(generic.getResults());
  }

  /// Writes the first `rows` rows of `tile` (compute type), in the element
  /// type of the forall's output `result`, at [batchIv, head, row0, 0].
  void insertRows(scf::ForallOp forall, unsigned result, Value tile,
                  Value batchIv, Value head, Value row0, Value rows) {
    auto tileType = cast<RankedTensorType>(tile.getType());
    OpFoldResult cols = tensor::getMixedSize(b, loc, tile, 1);
    Type element =
        cast<RankedTensorType>(forall.getResult(result).getType())
            .getElementType();
    OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
    Value slice = tensor::ExtractSliceOp::create(
        b, loc,
        RankedTensorType::get({ShapedType::kDynamic, tileType.getDimSize(1)},
                              computeType),
        tile, ArrayRef<OpFoldResult>{zero, zero},
        ArrayRef<OpFoldResult>{rows, cols}, ArrayRef<OpFoldResult>{one, one});
    if (element != computeType)
      slice = buildElementwise(b, loc, slice, element,
                               [&](OpBuilder &nb, Location nl, Value x) {
                                 return convertFloat(nb, nl, x, element);
                               });
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(forall.getTerminator().getBody());
    tensor::ParallelInsertSliceOp::create(
        b, loc, slice, forall.getRegionIterArgs()[result],
        ArrayRef<OpFoldResult>{batchIv, head, row0, zero},
        ArrayRef<OpFoldResult>{one, one, rows, cols},
        ArrayRef<OpFoldResult>{one, one, one, one});
  }

  AttentionBackwardOp op;
  int64_t tileQ, tileKv;
  OperandAuxReader aux;
  NormalizationAttrInterface normalization;
  bool softmax;
  /// Whether modifiers or masks read memory at a score's position.
  bool readsAtPositions;
  /// Whether grad_bias is built (a bias without broadcast dimensions).
  bool biasGradient;
  int64_t qHeads, kvHeads, groupSize, headDim, valueDim;
  OpFoldResult batch;
  Value qLen, kvLen;
  /// The output factor of a pointwise normalization (null for 1 or softmax).
  Value outputFactor;
  /// rowsum(grad_o * o) [B, Hq, Sq] (softmax only).
  Value delta;
  /// Whether a score modifier could not be differentiated.
  bool undifferentiable = false;
};

struct TileAttentionBackward : OpRewritePattern<AttentionBackwardOp> {
  TileAttentionBackward(MLIRContext *ctx, int64_t tileQ, int64_t tileKv,
                        bool &failedAny)
      : OpRewritePattern(ctx), tileQ(tileQ), tileKv(tileKv),
        failedAny(failedAny) {}

  LogicalResult matchAndRewrite(AttentionBackwardOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getGradBias() && !op.hasScoreShapedBias())
      return rewriter.notifyMatchFailure(
          op, "the gradient of a broadcast bias takes the reference");
    // Static sequences need no more rows (or keys) than they have; tiles
    // inside a mask's blocks can be classified.
    auto shrink = [](int64_t tile, RankedTensorType type) {
      if (type.isDynamicDim(2))
        return tile;
      return std::min(tile, std::max<int64_t>(type.getDimSize(2), 1));
    };
    auto [q, kv] = alignTilesToMask(op, shrink(tileQ, op.getQ().getType()),
                                    shrink(tileKv, op.getK().getType()));
    FailureOr<SmallVector<Value>> results =
        BackwardTileBuilder(rewriter, op, q, kv).build();
    // The ops built are then dead; the pass fails.
    if (failed(results)) {
      failedAny = true;
      return success();
    }
    rewriter.replaceOp(op, *results);
    return success();
  }

  int64_t tileQ, tileKv;
  bool &failedAny;
};

struct AttnTileFlashBackwardPass
    : attn::impl::AttnTileFlashBackwardBase<AttnTileFlashBackwardPass> {
  using Base::Base;

  void runOnOperation() override {
    if (tileQ < 1 || tileKv < 1) {
      getOperation()->emitError()
          << "attn-tile-flash-backward: tile sizes must be >= 1, got tile-q = "
          << tileQ.getValue() << ", tile-kv = " << tileKv.getValue();
      return signalPassFailure();
    }
    bool failedAny = false;
    RewritePatternSet patterns(&getContext());
    patterns.add<TileAttentionBackward>(&getContext(), tileQ, tileKv,
                                        failedAny);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
    if (failedAny)
      signalPassFailure();
  }
};

} // namespace
