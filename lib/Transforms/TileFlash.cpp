//===- TileFlash.cpp - Flash-style tiling of attention --------------------===//
//
// attn.attention becomes a parallel loop over (batch, query head, query
// tile) and, inside, a loop over key tiles carrying the online-softmax state.
// Key tiles come from the mask's key range and are classified per tile:
// empty ones are skipped, full ones run without mask code, partial ones
// evaluate the mask. Tiles are padded to static sizes; the padded keys of the
// last tile are masked, the padded query rows are dropped at the end.
//
// Decoding (a static Sq of a few rows) would leave most of a 64-row query
// tile padding and read each key/value head once per query head. So a
// static Sq shrinks the query tile to Sq rows, and when the G = Hq / Hkv
// query heads of a key/value head fit in one tile together (G * Sq <=
// tile-q, dense queries) the tile holds all of them (GQA packing): row
// r is query r % Sq of head h0 + r / Sq, masks and modifiers see each row's
// own head and position, and each key/value tile is read once per group.
//
// An approximated op (Scatterbrain, LowRankEstimate.h) also carries the key
// state of the tiles it does not visit (the state over all keys, built once
// per key/value head with each key tile's share, less the shares of the
// tiles visited) and, per query row, the estimates of the partial tiles'
// pairs outside the support; at the end phi(q) times that state, plus those
// sums, joins the softmax state (or, for SLA, is the linear attention
// o_linear).
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/LinalgBuilders.h"
#include "attn/Dialect/SequenceLayout.h"
#include "attn/Dialect/ValueBuilders.h"
#include "attn/Transforms/KeyTileLoop.h"
#include "attn/Transforms/LowRankEstimate.h"
#include "attn/Transforms/Passes.h"
#include "attn/Transforms/ScoreFunction.h"
#include "attn/Transforms/SoftmaxEpilogue.h"
#include "attn/Transforms/TileBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

#include <limits>

namespace attn {
#define GEN_PASS_DEF_ATTNTILEFLASH
#include "attn/Dialect/Passes.h.inc"
} // namespace attn

using namespace mlir;
using namespace attn;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

/// The running state of one query tile: row max and row sum (softmax only)
/// and the accumulator [tileQ, Dv]; with an approximation also the sums of
/// the estimates of the partial tiles' pairs outside the support, of
/// phi(q) . phi(k) v ([tileQ, Dv]) and of phi(q) . phi(k) ([tileQ]), the
/// key state [F, Dv] and sum [F] of the tiles not visited (all keys' less
/// each visited tile's, in f64), and, when the estimate is returned apart
/// (o_linear), the number of the support's pairs ([tileQ]).
struct TileState {
  Value rowMax, rowSum, acc;
  Value estimateAcc = {}, estimateSum = {}, outsideState = {}, outsideSum = {},
        supportPairs = {};

  static ArrayRef<Value TileState::*> fields() {
    static Value TileState::*const all[] = {
        &TileState::rowMax,      &TileState::rowSum,
        &TileState::acc,         &TileState::estimateAcc,
        &TileState::estimateSum, &TileState::outsideState,
        &TileState::outsideSum,  &TileState::supportPairs};
    return all;
  }
  SmallVector<Value> values() const {
    SmallVector<Value> v;
    for (Value TileState::*field : fields())
      if (this->*field)
        v.push_back(this->*field);
    return v;
  }
  /// The state carried as `v`, with the fields `like` has.
  static TileState from(ValueRange v, const TileState &like) {
    TileState state;
    for (Value TileState::*field : fields()) {
      if (!(like.*field))
        continue;
      state.*field = v.front();
      v = v.drop_front();
    }
    return state;
  }
};

/// What an approximated op's query tiles read (LowRankEstimate.h): the
/// key/value heads' states over all keys, sum_j phi(k_j) v_j^T
/// [B, Hkv, F, Dv] and sum_j phi(k_j) [B, Hkv, F], the keys' features
/// [B, Hkv, S', F] (S' = Skv rounded up to key tiles; 0 in the padding),
/// and each key tile's share of the state and sum, [B, Hkv, S' / tileKv,
/// F, Dv] and [B, Hkv, S' / tileKv, F], computed once rather than in every
/// query tile that visits a key tile.
struct KeyStates {
  Value state, sum, features, tileStates, tileSums;
};

/// The key tile being processed: its first key, its valid keys, and its
/// padded key and value tiles; once scored, its scores.
struct KeyTileData {
  Value kv0, kvCols, keys, values;
  Value scores = {};
};

class FlashBuilder : TileBuilder {
public:
  /// `packedRows`: 0, or the static Sq when the tile packs the query heads
  /// of one key/value head (then `tileQ` is G * Sq).
  FlashBuilder(PatternRewriter &rewriter, AttentionOp op, int64_t tileQ,
               int64_t tileKv, int64_t packedRows)
      : TileBuilder(rewriter, op.getLoc(), op.getComputeType()), op(op),
        tileQ(tileQ), tileKv(tileKv), packedRows(packedRows),
        elementType(op.getQ().getType().getElementType()), aux(op), layout(op),
        normalization(op.getNormalizationOrDefault()),
        softmax(normalization.normalizesRows()),
        readsAtPositions(readsMemoryAtPositions(op)),
        estimate(op.getApproximationAttr()),
        estimateApart(op.getOLinear() != nullptr), stateType(b.getF64Type()) {
    AttentionShape shape = op.getShape();
    qHeads = shape.qHeads;
    groupSize = qHeads / shape.kvHeads;
    headDim = shape.headDim;
    valueDim = shape.valueDim;
    headsPerTile = packedRows ? groupSize : 1;
    features = estimate ? estimate.getFeatureDim(headDim) : 0;
    batch = layout.buildBatchSize(b, loc, op.getAuxOperands());
  }

  SmallVector<Value> build() {
    // The results have q's layout (dense or packed), with Dv.
    SmallVector<OpFoldResult> oSizes =
        tensor::getMixedSizes(b, loc, op.getQ());
    oSizes.back() = b.getIndexAttr(valueDim);
    Value oInit = tensor::EmptyOp::create(b, loc, oSizes, elementType);
    if (estimate)
      keyStates = buildKeyStates();
    SmallVector<Value> outs = {oInit};
    if (op.getLse())
      outs.push_back(tensor::EmptyOp::create(
          b, loc, ArrayRef(oSizes).drop_back(), computeType));
    if (estimateApart)
      outs.push_back(tensor::EmptyOp::create(b, loc, oSizes, elementType));
    // Every sequence gets the query tiles of the longest one; those past
    // its own length compute nothing.
    Value qTiles = ceilDiv(getValueOrCreateConstantIndexOp(
                               b, loc, layout.buildMaxQueryLength(b, loc)),
                           tileQ);
    auto forall = scf::ForallOp::create(
        b, loc,
        ArrayRef<OpFoldResult>{batch, b.getIndexAttr(qHeads / headsPerTile),
                               qTiles},
        outs,
        /*mapping=*/std::nullopt);

    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(forall.getBody());
    SmallVector<Value> ivs = forall.getInductionVars();
    Value head0 = arith::MulIOp::create(b, loc, ivs[1], index(headsPerTile));
    buildQueryTile(ivs[0], head0, ivs[2], forall);
    return forall.getResults();
  }

private:
  //===--------------------------------------------------------------------===//
  // Small helpers
  //===--------------------------------------------------------------------===//

  /// phi(rows) [n, F] of a static tile of rows [n, D]: features of static
  /// tiles, which the CPU vectorizer takes (the op's own tensors may be
  /// dynamic).
  Value tileFeatures(Value rows) {
    auto type = cast<RankedTensorType>(rows.getType());
    int64_t n = type.getDimSize(0);
    Value x = tensor::ExpandShapeOp::create(
        b, loc,
        RankedTensorType::get({1, 1, n, headDim}, type.getElementType()), rows,
        ArrayRef<ReassociationIndices>{{0, 1, 2}, {3}});
    Value phi = buildEstimateFeatures(b, loc, estimate, op.getFeatureWeights(),
                                      x, computeType);
    return tensor::CollapseShapeOp::create(
        b, loc, RankedTensorType::get({n, features}, computeType), phi,
        ArrayRef<ReassociationIndices>{{0, 1, 2}, {3}});
  }

  /// The offsets, sizes and strides of the part of a [B, Hkv, ...] key
  /// state that belongs to (batchIv, kvHead): `sizes` in the dimensions
  /// after the head, from `first` (or 0) in the first of them.
  struct HeadSlice {
    SmallVector<OpFoldResult> offsets, sizes, strides;
  };
  HeadSlice headSlice(Value batchIv, Value kvHead, ArrayRef<OpFoldResult> sizes,
                      OpFoldResult first = {}) {
    OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
    HeadSlice slice{{batchIv, kvHead}, {one, one}, {one, one}};
    for (auto [i, size] : llvm::enumerate(sizes)) {
      slice.offsets.push_back(i == 0 && first ? first : zero);
      slice.sizes.push_back(size);
      slice.strides.push_back(one);
    }
    return slice;
  }

  /// The [sizes] part of (batchIv, kvHead) of the key state `source`; a
  /// leading size of 1 is dropped from the result when `dropFirst`.
  Value extractHead(Value source, Value batchIv, Value kvHead,
                    ArrayRef<int64_t> sizes, OpFoldResult first = {},
                    bool dropFirst = false) {
    HeadSlice slice = headSlice(
        batchIv, kvHead, getAsIndexOpFoldResult(b.getContext(), sizes), first);
    return tensor::ExtractSliceOp::create(
        b, loc,
        RankedTensorType::get(
            dropFirst ? sizes.drop_front() : sizes,
            cast<RankedTensorType>(source.getType()).getElementType()),
        source, slice.offsets, slice.sizes, slice.strides);
  }

  /// `into + x` (or `into - x`), elementwise, written into `into`.
  Value combineInPlace(Value into, Value x, bool subtract) {
    auto type = cast<RankedTensorType>(into.getType());
    AffineMap identity = b.getMultiDimIdentityMap(type.getRank());
    SmallVector<utils::IteratorType> iterators(type.getRank(),
                                               utils::IteratorType::parallel);
    return linalg::GenericOp::create(
               b, loc, type, ValueRange{x}, ValueRange{into},
               {identity, identity}, iterators,
               [&](OpBuilder &nb, Location nl, ValueRange a) {
                 Value x = convertFloat(nb, nl, a[0], type.getElementType());
                 Value combined =
                     subtract
                         ? arith::SubFOp::create(nb, nl, a[1], x).getResult()
                         : arith::AddFOp::create(nb, nl, a[1], x).getResult();
                 linalg::YieldOp::create(nb, nl, combined);
               })
        .getResult(0);
  }

  /// The index `x` as a float of the compute type.
  Value indexAsFloat(Value x) {
    Value wide = arith::IndexCastOp::create(b, loc, b.getI64Type(), x);
    return arith::SIToFPOp::create(b, loc, computeType, wide);
  }

  /// The features [tileKv, F] of the key tile from `kv0` of (batchIv,
  /// kvHead): a slice of those buildKeyStates keeps.
  Value keyTileFeatures(Value batchIv, Value kvHead, Value kv0) {
    return extractHead(keyStates.features, batchIv, kvHead, {tileKv, features},
                       kv0);
  }

  /// The key/value heads' states over all keys of an approximated op, one
  /// parallel loop over (batch, key/value head) and, inside, over key tiles
  /// (the approximation takes dense sequences only).
  KeyStates buildKeyStates() {
    auto par = utils::IteratorType::parallel;
    auto red = utils::IteratorType::reduction;
    int64_t kvHeads = qHeads / groupSize;
    Value paddedKeys = arith::MulIOp::create(
        b, loc,
        ceilDiv(
            getValueOrCreateConstantIndexOp(
                b, loc, layout.buildMaxKeyLength(b, loc, op.getAuxOperands())),
            tileKv),
        index(tileKv));
    Value keyTiles = arith::DivUIOp::create(b, loc, paddedKeys, index(tileKv));
    OpFoldResult featureCount = b.getIndexAttr(features),
                 valueCount = b.getIndexAttr(valueDim);
    // The sizes after (batch, key/value head) of the state, the sum, the
    // features and the key tiles' shares of the state and the sum.
    SmallVector<OpFoldResult> partSizes[] = {
        {featureCount, valueCount},
        {featureCount},
        {paddedKeys, featureCount},
        {keyTiles, featureCount, valueCount},
        {keyTiles, featureCount}};
    Type partTypes[] = {stateType, stateType, computeType, computeType,
                        computeType};
    SmallVector<Value> inits;
    for (auto [sizes, type] : llvm::zip_equal(partSizes, partTypes)) {
      SmallVector<OpFoldResult> shape = {batch, b.getIndexAttr(kvHeads)};
      llvm::append_range(shape, sizes);
      inits.push_back(tensor::EmptyOp::create(b, loc, shape, type));
    }
    auto forall = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{batch, b.getIndexAttr(kvHeads)}, inits,
        /*mapping=*/std::nullopt);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(forall.getBody());
    Value batchIv = forall.getInductionVar(0),
          kvHead = forall.getInductionVar(1);
    Value keys = layout.buildKeyLength(b, loc, aux, batchIv);
    auto keyIndices = [&](OpBuilder &nb, Location nl, Value row, Value col) {
      return layout.buildKeyIndices(nb, nl, aux, batchIv, kvHead, row, col);
    };
    OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
    SmallVector<Value> slabs = {
        buildFilled(b, loc, ArrayRef(partSizes[0]), stateType, 0.0),
        buildFilled(b, loc, ArrayRef(partSizes[1]), stateType, 0.0)};
    for (ArrayRef<OpFoldResult> sizes : ArrayRef(partSizes).drop_front(2))
      slabs.push_back(tensor::EmptyOp::create(b, loc, sizes, computeType));
    auto loop = scf::ForOp::create(
        b, loc, index(0), paddedKeys, index(tileKv), slabs,
        [&](OpBuilder &, Location, Value kv0, ValueRange sums) {
          // Tiles past a shorter sequence's keys (none when dense) have no
          // valid row.
          Value cols = arith::MaxSIOp::create(
              b, loc, index(0),
              arith::MinSIOp::create(b, loc, index(tileKv),
                                     arith::SubIOp::create(b, loc, keys, kv0)));
          Value values = paddedTile(op.getV(), keyIndices, kv0, cols, tileKv);
          // Padded keys have zero values but not zero features.
          Value phi = tileFeatures(
              paddedTile(op.getK(), keyIndices, kv0, cols, tileKv));
          auto identity = map(2, {dim(0), dim(1)});
          phi = linalg::GenericOp::create(
                    b, loc, phi.getType(), ValueRange{}, ValueRange{phi},
                    {identity}, {par, par},
                    [&](OpBuilder &nb, Location nl, ValueRange args) {
                      Value row = linalg::IndexOp::create(nb, nl, 0);
                      Value valid = arith::CmpIOp::create(
                          nb, nl, arith::CmpIPredicate::slt, row, cols);
                      linalg::YieldOp::create(
                          nb, nl,
                          arith::SelectOp::create(nb, nl, valid, args[0],
                                                  fconst(nb, nl, 0.0))
                              .getResult());
                    })
                    .getResult(0);
          // Loops (f, j, e) and (j, f): the innermost dimension is
          // contiguous in every operand, so each key is a vector update.
          Value tileState = buildContraction(
              b, loc, phi, map(3, {dim(1), dim(0)}), values,
              map(3, {dim(1), dim(2)}), filled({features, valueDim}, 0.0),
              map(3, {dim(0), dim(2)}), {par, red, par});
          Value tileSum = buildContraction(
              b, loc, phi, map(2, {dim(0), dim(1)}), Value(), AffineMap(),
              filled({features}, 0.0), map(2, {dim(1)}), {red, par});
          Value state = combineInPlace(sums[0], tileState, /*subtract=*/false);
          Value sum = combineInPlace(sums[1], tileSum, /*subtract=*/false);
          Value kept = tensor::InsertSliceOp::create(
              b, loc, phi, sums[2], ArrayRef<OpFoldResult>{kv0, zero},
              ArrayRef<OpFoldResult>{b.getIndexAttr(tileKv),
                                     b.getIndexAttr(features)},
              ArrayRef<OpFoldResult>{one, one});
          Value kt = arith::DivUIOp::create(b, loc, kv0, index(tileKv));
          Value keptState = tensor::InsertSliceOp::create(
              b, loc, tileState, sums[3],
              ArrayRef<OpFoldResult>{kt, zero, zero},
              ArrayRef<OpFoldResult>{one, b.getIndexAttr(features),
                                     b.getIndexAttr(valueDim)},
              ArrayRef<OpFoldResult>{one, one, one});
          Value keptSum = tensor::InsertSliceOp::create(
              b, loc, tileSum, sums[4], ArrayRef<OpFoldResult>{kt, zero},
              ArrayRef<OpFoldResult>{one, b.getIndexAttr(features)},
              ArrayRef<OpFoldResult>{one, one});
          scf::YieldOp::create(
              b, loc, ValueRange{state, sum, kept, keptState, keptSum});
        });
    b.setInsertionPointToStart(forall.getTerminator().getBody());
    ValueRange shared = forall.getRegionIterArgs();
    for (auto [part, sizes] : llvm::enumerate(partSizes)) {
      HeadSlice slice = headSlice(batchIv, kvHead, sizes);
      tensor::ParallelInsertSliceOp::create(b, loc, loop.getResult(part),
                                            shared[part], slice.offsets,
                                            slice.sizes, slice.strides);
    }
    return {forall.getResult(0), forall.getResult(1), forall.getResult(2),
            forall.getResult(3), forall.getResult(4)};
  }

  /// The query head and position of row `r` of the tile whose first row is
  /// query `q0` of head `head0` (a packed tile starts at query 0).
  std::pair<Value, Value> rowHeadAndPosition(OpBuilder &nb, Location nl,
                                             Value head0, Value q0, Value r) {
    if (!packedRows)
      return {head0, arith::AddIOp::create(nb, nl, q0, r)};
    Value rows = arith::ConstantIndexOp::create(nb, nl, packedRows);
    return {arith::AddIOp::create(nb, nl, head0,
                                  arith::DivUIOp::create(nb, nl, r, rows)),
            arith::RemUIOp::create(nb, nl, r, rows)};
  }

  /// The indices of q (and o) of query `row` of (batchIv, head); packed
  /// rows are clamped into q, since an empty tile past a sequence still
  /// reads one row.
  SmallVector<Value> queryIndices(OpBuilder &nb, Location nl, Value batchIv,
                                  Value head, Value row, Value col) {
    SmallVector<Value> at =
        layout.buildQueryIndices(nb, nl, aux, batchIv, head, row, col);
    if (layout.queryForm() == QueryForm::Packed) {
      Value rows = tensor::DimOp::create(nb, nl, op.getQ(), 0);
      Value last = arith::SubIOp::create(
          nb, nl, rows, arith::ConstantIndexOp::create(nb, nl, 1));
      at[0] = arith::MinSIOp::create(nb, nl, at[0], last);
    }
    return at;
  }

  //===--------------------------------------------------------------------===//
  // One query tile
  //===--------------------------------------------------------------------===//

  /// The tile of queries from `q0` of heads from `head`.
  void buildQueryTile(Value batchIv, Value head, Value qTile,
                      scf::ForallOp forall) {
    qLen = layout.buildQueryLength(b, loc, aux, batchIv);
    kvLen = layout.buildKeyLength(b, loc, aux, batchIv);
    // A packed tile holds rows [0, Sq) of each of its heads, all valid.
    Value q0 = arith::MulIOp::create(b, loc, qTile, index(tileQ));
    Value qRows = packedRows ? index(tileQ)
                             : buildTileExtent(b, loc, qLen, q0, tileQ);
    if (layout.queryForm() != QueryForm::Dense)
      qRows = arith::MaxSIOp::create(b, loc, qRows, index(0));
    Value kvHead = arith::DivUIOp::create(b, loc, head, index(groupSize));
    Value queries = paddedTile(
        op.getQ(),
        [&](OpBuilder &nb, Location nl, Value row, Value col) {
          auto [rowHead, pos] =
              packedRows ? rowHeadAndPosition(nb, nl, head, q0, row)
                         : std::pair(head, row);
          return queryIndices(nb, nl, batchIv, rowHead, pos, col);
        },
        q0, qRows, tileQ);
    Value q1 = packedRows ? index(packedRows)
                          : arith::AddIOp::create(b, loc, q0, qRows).getResult();
    lastQuery = arith::MaxSIOp::create(
        b, loc, q0, arith::SubIOp::create(b, loc, q1, index(1)));
    auto keyIndices = [&](OpBuilder &nb, Location nl, Value row, Value col) {
      return layout.buildKeyIndices(nb, nl, aux, batchIv, kvHead, row, col);
    };

    TileState init;
    if (softmax) {
      init.rowMax = filled({tileQ}, -kInf);
      init.rowSum = filled({tileQ}, 0.0);
    }
    init.acc = filled({tileQ, valueDim}, 0.0);
    Value queryFeatures;
    if (estimate) {
      init.estimateAcc = filled({tileQ, valueDim}, 0.0);
      init.estimateSum = filled({tileQ}, 0.0);
      // Copies into buffers of their own, rewritten in place tile by tile:
      // carried as strided slices of the key states, their f64 vector
      // transfers were left unlowered by the CPU pipeline (static Skv).
      auto copyOf = [&](Value slice) {
        auto type = cast<RankedTensorType>(slice.getType());
        Value zeros =
            buildFilled(b, loc, getAsIndexOpFoldResult(ctx, type.getShape()),
                        stateType, 0.0);
        return combineInPlace(zeros, slice, /*subtract=*/false);
      };
      init.outsideState = copyOf(
          extractHead(keyStates.state, batchIv, kvHead, {features, valueDim}));
      init.outsideSum =
          copyOf(extractHead(keyStates.sum, batchIv, kvHead, {features}));
      if (estimateApart)
        init.supportPairs = filled({tileQ}, 0.0);
      queryFeatures = tileFeatures(queries);
    }
    QueryTile tile{batchIv, head, q0, q1, qLen, kvLen};
    if (layout.queryForm() != QueryForm::Dense) {
      // A tile past its sequence visits no key.
      tile.kvBegin = index(0);
      tile.kvEnd = arith::SelectOp::create(
          b, loc,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, qRows,
                                index(0)),
          kvLen, index(0));
    }
    SmallVector<Value> final = buildKeyTileLoop(
        b, loc, op, aux, tile, tileKv, init.values(),
        [&](const KeyTile &keys, bool masked, ValueRange state) {
          KeyTileData data{
              keys.kv0, keys.kvCols,
              paddedTile(op.getK(), keyIndices, keys.kv0, keys.kvCols, tileKv),
              paddedTile(op.getV(), keyIndices, keys.kv0, keys.kvCols,
                         tileKv)};
          TileState updated = update(TileState::from(state, init), data,
                                     queries, batchIv, head, q0, masked);
          if (estimate)
            addTileEstimates(updated, queryFeatures, batchIv, kvHead, data,
                             masked);
          return updated.values();
        });
    TileState result = TileState::from(final, init);
    Value linearTile;
    if (estimateApart)
      linearTile = linearOutside(result, queryFeatures);
    else if (estimate)
      result = joinEstimates(result, queryFeatures);
    writeResults(result, linearTile, batchIv, head, q0, qRows, forall);
  }

  /// Takes a visited tile out of the outside state: its share of the key
  /// state leaves (F x Dv per tile), and a partial tile's pairs outside the
  /// support (a score of -inf) come back pairwise as phi(q) . phi(k). So
  /// the outside is the unvisited tiles' shares (all keys' in stateType
  /// less the visited ones', the same f32 shares both times) plus positive
  /// pairs: no f32 sums cancel, however few keys a row leaves outside.
  void addTileEstimates(TileState &state, Value queryFeatures, Value batchIv,
                        Value kvHead, const KeyTileData &tile, bool masked) {
    Value kt = arith::DivUIOp::create(b, loc, tile.kv0, index(tileKv));
    Value share = extractHead(keyStates.tileStates, batchIv, kvHead,
                              {1, features, valueDim}, kt, /*dropFirst=*/true);
    Value shareSum = extractHead(keyStates.tileSums, batchIv, kvHead,
                                 {1, features}, kt, /*dropFirst=*/true);
    state.outsideState =
        combineInPlace(state.outsideState, share, /*subtract=*/true);
    state.outsideSum =
        combineInPlace(state.outsideSum, shareSum, /*subtract=*/true);
    if (!masked) {
      if (state.supportPairs) {
        Value cols = indexAsFloat(tile.kvCols);
        state.supportPairs =
            rowwise({}, state.supportPairs,
                    [&](OpBuilder &nb, Location nl, ValueRange a) {
                      return arith::AddFOp::create(nb, nl, a[0], cols);
                    });
      }
      return;
    }
    Value keyFeatures = keyTileFeatures(batchIv, kvHead, tile.kv0);
    Value pairs =
        product(queryFeatures, keyFeatures, filled({tileQ, tileKv}, 0.0), true);
    auto par = utils::IteratorType::parallel;
    auto identity = map(2, {dim(0), dim(1)});
    // Padded keys have zero features, so their pairs add nothing.
    pairs = linalg::GenericOp::create(
                b, loc, pairs.getType(), ValueRange{tile.scores},
                ValueRange{pairs}, {identity, identity}, {par, par},
                [&](OpBuilder &nb, Location nl, ValueRange args) {
                  Value outside =
                      arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::OEQ,
                                            args[0], fconst(nb, nl, -kInf));
                  Value zero = fconst(nb, nl, 0.0);
                  Value kept =
                      arith::SelectOp::create(nb, nl, outside, args[1], zero);
                  linalg::YieldOp::create(nb, nl, kept);
                })
                .getResult(0);
    state.estimateSum = reduceRows(
        pairs,
        [](OpBuilder &nb, Location nl, Value x, Value acc) {
          return arith::AddFOp::create(nb, nl, x, acc);
        },
        state.estimateSum);
    state.estimateAcc = product(pairs, tile.values, state.estimateAcc, false);
    if (!state.supportPairs)
      return;
    state.supportPairs = reduceRows(
        tile.scores,
        [&](OpBuilder &nb, Location nl, Value score, Value count) {
          Value outside = arith::CmpFOp::create(
              nb, nl, arith::CmpFPredicate::OEQ, score, fconst(nb, nl, -kInf));
          Value zero = fconst(nb, nl, 0.0);
          Value one = fconst(nb, nl, 1.0);
          Value pair = arith::SelectOp::create(nb, nl, outside, zero, one);
          return arith::AddFOp::create(nb, nl, count, pair);
        },
        state.supportPairs);
  }

  /// The estimates over the keys outside the tiles visited,
  /// phi(q) . S_out [tileQ, Dv] and phi(q) . z_out [tileQ], in stateType.
  std::pair<Value, Value> outsideEstimates(const TileState &state,
                                           Value queryFeatures) {
    auto zeros = [&](ArrayRef<int64_t> shape) {
      return buildFilled(b, loc, getAsIndexOpFoldResult(ctx, shape), stateType,
                         0.0);
    };
    return {product(queryFeatures, state.outsideState, zeros({tileQ, valueDim}),
                    false),
            buildContraction(b, loc, queryFeatures, map(2, {dim(0), dim(1)}),
                             state.outsideSum, map(2, {dim(1)}), zeros({tileQ}),
                             1)};
  }

  /// The estimate outside the support, in stateType: `unvisited` (the
  /// tiles not visited, stateType) plus the partial tiles' `partial` sum.
  Value outsidePart(OpBuilder &nb, Location nl, Value unvisited,
                    Value partial) {
    Value wide = convertFloat(nb, nl, partial, stateType);
    return arith::AddFOp::create(nb, nl, unvisited, wide);
  }

  /// o_linear's tile [tileQ, Dv] in the element type: the estimates outside
  /// the support divided by their sum; 0 for a row with no pair outside the
  /// support (whose state is all keys' less its tiles', up to rounding) or a
  /// zero sum.
  Value linearOutside(const TileState &state, Value queryFeatures) {
    auto [allAcc, allSum] = outsideEstimates(state, queryFeatures);
    Value keys = indexAsFloat(kvLen);
    auto par = utils::IteratorType::parallel;
    auto rows = map(2, {dim(0)}), identity = map(2, {dim(0), dim(1)});
    Value init = tensor::EmptyOp::create(
        b, loc, ArrayRef<int64_t>{tileQ, valueDim}, elementType);
    return linalg::GenericOp::create(
               b, loc, init.getType(),
               ValueRange{allAcc, state.estimateAcc, allSum, state.estimateSum,
                          state.supportPairs},
               ValueRange{init},
               {identity, identity, rows, rows, rows, identity}, {par, par},
               [&](OpBuilder &nb, Location nl, ValueRange a) {
                 Value numerator = outsidePart(nb, nl, a[0], a[1]);
                 Value sum = outsidePart(nb, nl, a[2], a[3]);
                 Value covered = arith::CmpFOp::create(
                     nb, nl, arith::CmpFPredicate::OGE, a[4], keys);
                 Value zero = floatConstant(nb, nl, stateType, 0.0);
                 Value zeroSum = arith::CmpFOp::create(
                     nb, nl, arith::CmpFPredicate::OEQ, sum, zero);
                 Value none = arith::OrIOp::create(nb, nl, covered, zeroSum);
                 Value ratio = arith::DivFOp::create(nb, nl, numerator, sum);
                 Value o = arith::SelectOp::create(nb, nl, none, zero, ratio);
                 // Through f32: f64 to f16 would be a libcall
                 // (__truncdfhf2) the JIT does not link.
                 Value narrow = convertFloat(nb, nl, o, computeType);
                 linalg::YieldOp::create(
                     nb, nl, convertFloat(nb, nl, narrow, elementType));
               })
        .getResult(0);
  }

  /// The softmax state of the support joined with the estimates of the
  /// pairs outside it.
  TileState joinEstimates(TileState state, Value queryFeatures) {
    auto [allAcc, allSum] = outsideEstimates(state, queryFeatures);
    Value shift = rowwise({state.rowMax}, Value(),
                          [](OpBuilder &nb, Location nl, ValueRange a) {
                            return buildEstimateShift(nb, nl, a[0]);
                          });
    auto par = utils::IteratorType::parallel;
    auto rows = map(2, {dim(0)}), identity = map(2, {dim(0), dim(1)});
    Value acc =
        linalg::GenericOp::create(
            b, loc, state.acc.getType(),
            ValueRange{allAcc, state.estimateAcc, state.rowMax, shift},
            ValueRange{state.acc}, {identity, identity, rows, rows, identity},
            {par, par},
            [&](OpBuilder &nb, Location nl, ValueRange a) {
              Value outside = convertFloat(
                  nb, nl, outsidePart(nb, nl, a[0], a[1]), computeType);
              linalg::YieldOp::create(
                  nb, nl, buildJoinedSum(nb, nl, a[4], a[2], a[3], outside));
            })
            .getResult(0);
    Value rowSum =
        rowwise({allSum, state.estimateSum, state.rowMax, shift}, state.rowSum,
                [&](OpBuilder &nb, Location nl, ValueRange a) {
                  Value outside = convertFloat(
                      nb, nl, outsidePart(nb, nl, a[0], a[1]), computeType);
                  return buildJoinedSum(nb, nl, a[4], a[2], a[3], outside);
                });
    return {shift, rowSum, acc};
  }

  //===--------------------------------------------------------------------===//
  // The update with one key tile
  //===--------------------------------------------------------------------===//

  TileState update(TileState state, KeyTileData &tile, Value queries,
                   Value batchIv, Value head, Value q0, bool masked) {
    Value scores = tileScores(queries, tile, batchIv, head, q0, masked);
    tile.scores = scores;
    if (!softmax) {
      Value weights = tileWeights(scores, Value());
      state.acc = accumulate(state.acc, Value(), weights, tile);
      return state;
    }
    // Each piece of state is rewritten in place after its last read, so
    // the loop carries the same buffers from one key tile to the next.
    Value tileMax = reduceRows(
        scores,
        [](OpBuilder &nb, Location nl, Value x, Value acc) {
          return arith::MaximumFOp::create(nb, nl, x, acc);
        },
        filled({tileQ}, -kInf));
    // correction = exp(m_old - m_new), 1 while the row is still empty.
    Value correction = rowwise(
        {state.rowMax, tileMax}, Value(),
        [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value newMax = arith::MaximumFOp::create(nb, nl, a[0], a[1]);
          Value e = math::ExpOp::create(
              nb, nl, arith::SubFOp::create(nb, nl, a[0], newMax));
          Value stillEmpty = arith::CmpFOp::create(
              nb, nl, arith::CmpFPredicate::OEQ, newMax, fconst(nb, nl, -kInf));
          return arith::SelectOp::create(nb, nl, stillEmpty,
                                         fconst(nb, nl, 1.0), e);
        });
    Value rowMax = rowwise({tileMax}, state.rowMax,
                           [](OpBuilder &nb, Location nl, ValueRange a) {
                             return arith::MaximumFOp::create(nb, nl, a[1],
                                                              a[0]);
                           });
    Value weights = tileWeights(scores, rowMax);
    Value sum = reduceRows(
        weights,
        [](OpBuilder &nb, Location nl, Value x, Value acc) {
          return arith::AddFOp::create(nb, nl, x, acc);
        },
        filled({tileQ}, 0.0));
    Value rowSum = rowwise({correction, sum}, state.rowSum,
                           [](OpBuilder &nb, Location nl, ValueRange a) {
                             Value scaled =
                                 arith::MulFOp::create(nb, nl, a[2], a[0]);
                             return arith::AddFOp::create(nb, nl, scaled, a[1]);
                           });
    state.acc = accumulate(state.acc, correction, weights, tile);
    state.rowMax = rowMax;
    state.rowSum = rowSum;
    return state;
  }

  /// The [tileQ, tileKv] scores: q.k^T, scaled, modified and, when
  /// `masked`, -inf where the mask or the padding disallows. When they read
  /// memory at a score's position, modifiers and masks see padding rows
  /// (never written) at the tile's last query and padded keys (masked) at
  /// the last key, so that every read stays inside its operand.
  Value tileScores(Value queries, const KeyTileData &tile, Value batchIv,
                   Value head, Value q0, bool masked) {
    auto par = utils::IteratorType::parallel;
    Value dots =
        product(queries, tile.keys, filled({tileQ, tileKv}, 0.0), true);
    SequenceLengths lengths{qLen, kvLen};
    auto identity = AffineMap::getMultiDimIdentityMap(2, ctx);
    Value init = tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{tileQ, tileKv},
                                         computeType);
    // Only partial tiles have padded keys; packed tiles have no padding rows.
    bool clampRows = readsAtPositions && !packedRows;
    Value lastKey = readsAtPositions && masked
                        ? arith::SubIOp::create(b, loc, kvLen, index(1))
                        : Value();
    return linalg::GenericOp::create(
               b, loc, init.getType(), ValueRange{dots}, ValueRange{init},
               {identity, identity}, {par, par},
               [&](OpBuilder &nb, Location nl, ValueRange args) {
                 Value i = linalg::IndexOp::create(nb, nl, 0);
                 Value j = linalg::IndexOp::create(nb, nl, 1);
                 auto [rowHead, qPos] = rowHeadAndPosition(nb, nl, head, q0, i);
                 if (clampRows)
                   qPos = arith::MinSIOp::create(nb, nl, qPos, lastQuery);
                 Value kvPos = arith::AddIOp::create(nb, nl, tile.kv0, j);
                 if (lastKey)
                   kvPos = arith::MinSIOp::create(nb, nl, kvPos, lastKey);
                 ScorePosition pos{batchIv, rowHead, qPos, kvPos};
                 Value s = buildModifiedScore(nb, nl, op, args[0], pos, lengths,
                                              aux);
                 if (masked) {
                   IndexExprBuilder ib(nb, nl, nb.getIndexType());
                   PredExpr allowed = ib.value(j) < ib.value(tile.kvCols);
                   if (hasMask(op))
                     allowed = allowed &
                               ib.pred(buildAllowedAt(nb, nl, op, pos, lengths,
                                                      aux));
                   s = arith::SelectOp::create(nb, nl, ib.materialize(allowed),
                                               s, fconst(nb, nl, -kInf));
                 }
                 linalg::YieldOp::create(nb, nl, s);
               })
        .getResult(0);
  }

  /// r[i] = fold_j combine(x[i, j], r[i]) starting from `init`.
  Value reduceRows(Value x,
                   function_ref<Value(OpBuilder &, Location, Value, Value)> combine,
                   Value init) {
    return linalg::GenericOp::create(
               b, loc, init.getType(), ValueRange{x}, ValueRange{init},
               {map(2, {dim(0), dim(1)}), map(2, {dim(0)})},
               {utils::IteratorType::parallel, utils::IteratorType::reduction},
               [&](OpBuilder &nb, Location nl, ValueRange args) {
                 linalg::YieldOp::create(nb, nl,
                                         combine(nb, nl, args[0], args[1]));
               })
        .getResult(0);
  }

  /// An elementwise op over row vectors [tileQ]. With `into`, the result is
  /// written into it (and the body sees its old value as the last argument);
  /// otherwise into a new tensor.
  Value rowwise(ValueRange inputs, Value into,
                function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
    auto identity = map(1, {dim(0)});
    SmallVector<AffineMap> maps(inputs.size() + 1, identity);
    Value init = into ? into
                      : tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{tileQ},
                                                computeType)
                            .getResult();
    return linalg::GenericOp::create(
               b, loc, init.getType(), inputs, ValueRange{init}, maps,
               {utils::IteratorType::parallel},
               [&](OpBuilder &nb, Location nl, ValueRange args) {
                 linalg::YieldOp::create(
                     nb, nl, body(nb, nl, into ? args : args.drop_back()));
               })
        .getResult(0);
  }

  /// The normalization's weights of the scores; `rowMax` [tileQ] for
  /// row-normalizing kinds.
  Value tileWeights(Value scores, Value rowMax) {
    auto par = utils::IteratorType::parallel;
    SmallVector<Value> inputs = {scores};
    SmallVector<AffineMap> maps = {map(2, {dim(0), dim(1)})};
    if (rowMax) {
      inputs.push_back(rowMax);
      maps.push_back(map(2, {dim(0)}));
    }
    maps.push_back(map(2, {dim(0), dim(1)}));
    Value init = tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{tileQ, tileKv},
                                         computeType);
    return linalg::GenericOp::create(
               b, loc, init.getType(), inputs, ValueRange{init}, maps,
               {par, par},
               [&](OpBuilder &nb, Location nl, ValueRange args) {
                 Value m = rowMax ? args[1] : Value();
                 linalg::YieldOp::create(
                     nb, nl, normalization.buildWeight(nb, nl, args[0], m));
               })
        .getResult(0);
  }

  /// acc * correction[i] (when given) + weights . values, loops (i, j, e)
  /// with the value dimension innermost.
  Value accumulate(Value acc, Value correction, Value weights,
                   const KeyTileData &tile) {
    auto par = utils::IteratorType::parallel;
    if (correction) {
      acc = linalg::GenericOp::create(
                b, loc, acc.getType(), ValueRange{correction}, ValueRange{acc},
                {map(2, {dim(0)}), map(2, {dim(0), dim(1)})}, {par, par},
                [&](OpBuilder &nb, Location nl, ValueRange args) {
                  Value scaled = arith::MulFOp::create(nb, nl, args[1], args[0]);
                  linalg::YieldOp::create(nb, nl, scaled);
                })
                .getResult(0);
    }
    return product(weights, tile.values, acc, false);
  }

  //===--------------------------------------------------------------------===//
  // Results
  //===--------------------------------------------------------------------===//

  /// o = acc / l (0 for an empty row) or acc * factor, in the element type;
  /// lse = m + log(l) (-inf for an empty row). Only the valid rows are
  /// written.
  /// Writes o, lse and (`linearTile`, when given) o_linear.
  void writeResults(TileState state, Value linearTile, Value batchIv,
                    Value head, Value q0, Value qRows, scf::ForallOp forall) {
    auto par = utils::IteratorType::parallel;
    Value factor = normalization.buildOutputFactor(b, loc, kvLen, computeType);
    SmallVector<Value> inputs = {state.acc};
    SmallVector<AffineMap> maps = {map(2, {dim(0), dim(1)})};
    if (softmax) {
      inputs.push_back(state.rowSum);
      maps.push_back(map(2, {dim(0)}));
    }
    maps.push_back(map(2, {dim(0), dim(1)}));
    Value init = tensor::EmptyOp::create(
        b, loc, ArrayRef<int64_t>{tileQ, valueDim}, elementType);
    Value oTile =
        linalg::GenericOp::create(
            b, loc, init.getType(), inputs, ValueRange{init}, maps, {par, par},
            [&](OpBuilder &nb, Location nl, ValueRange args) {
              Value o = buildRowOutput(nb, nl, args[0],
                                       softmax ? args[1] : Value(), factor);
              if (elementType != computeType)
                o = arith::TruncFOp::create(nb, nl, elementType, o);
              linalg::YieldOp::create(nb, nl, o);
            })
            .getResult(0);

    Value lseTile;
    if (op.getLse()) {
      lseTile = rowwise(
          {state.rowMax, state.rowSum}, Value(),
          [&](OpBuilder &nb, Location nl, ValueRange a) {
            return buildRowLogSumExp(nb, nl, a[0], a[1]);
          });
    }

    OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
    if (packedRows) {
      // Rows (head, query) of a packed tile are o[b, head0 : head0 + G, :],
      // contiguous in [B, Hq, Sq, Dv]: one insert of the tile as [G, Sq, Dv].
      auto expand = [&](Value tile, ArrayRef<int64_t> shape,
                        ArrayRef<ReassociationIndices> groups) {
        auto type = RankedTensorType::get(
            shape, cast<RankedTensorType>(tile.getType()).getElementType());
        return tensor::ExpandShapeOp::create(b, loc, type, tile, groups)
            .getResult();
      };
      SmallVector<OpFoldResult> offsets = {batchIv, head, zero, zero};
      SmallVector<OpFoldResult> sizes = {one, b.getIndexAttr(headsPerTile),
                                         b.getIndexAttr(packedRows),
                                         b.getIndexAttr(valueDim)};
      SmallVector<OpFoldResult> strides(4, one);
      Value oHeads = expand(oTile, {headsPerTile, packedRows, valueDim},
                            {{0, 1}, {2}});
      Value lseHeads;
      if (lseTile)
        lseHeads = expand(lseTile, {headsPerTile, packedRows}, {{0, 1}});
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(forall.getTerminator().getBody());
      ValueRange shared = forall.getRegionIterArgs();
      tensor::ParallelInsertSliceOp::create(b, loc, oHeads, shared[0], offsets,
                                            sizes, strides);
      if (lseHeads)
        tensor::ParallelInsertSliceOp::create(
            b, loc, lseHeads, shared[1], ArrayRef(offsets).drop_back(),
            ArrayRef(sizes).drop_back(), ArrayRef(strides).drop_back());
      return;
    }

    // Valid rows only, into the shared outputs.
    Value oRows = tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({ShapedType::kDynamic, valueDim}, elementType),
        oTile, ArrayRef<OpFoldResult>{zero, zero},
        ArrayRef<OpFoldResult>{qRows, b.getIndexAttr(valueDim)},
        ArrayRef<OpFoldResult>{one, one});
    Value linearRows;
    if (linearTile)
      linearRows = tensor::ExtractSliceOp::create(
          b, loc,
          RankedTensorType::get({ShapedType::kDynamic, valueDim}, elementType),
          linearTile, ArrayRef<OpFoldResult>{zero, zero},
          ArrayRef<OpFoldResult>{qRows, b.getIndexAttr(valueDim)},
          ArrayRef<OpFoldResult>{one, one});
    Value lseRows;
    if (lseTile)
      lseRows = tensor::ExtractSliceOp::create(
          b, loc, RankedTensorType::get({ShapedType::kDynamic}, computeType),
          lseTile, ArrayRef<OpFoldResult>{zero}, ArrayRef<OpFoldResult>{qRows},
          ArrayRef<OpFoldResult>{one});

    // Where the tile's rows go: [b, head, q0] (dense) or [cq[b] + q0,
    // head] (packed, clamped for a tile past the last sequence, which
    // writes no row).
    SmallVector<OpFoldResult> offsets = {batchIv, head, q0};
    SmallVector<OpFoldResult> sizes = {one, one, qRows};
    if (layout.queryForm() == QueryForm::Packed) {
      Value start = layout.buildQueryIndices(b, loc, aux, batchIv, head, q0)[0];
      Value rows = tensor::DimOp::create(b, loc, op.getQ(), 0);
      offsets = {arith::MinSIOp::create(b, loc, start, rows).getResult(), head};
      sizes = {qRows, one};
    }
    SmallVector<OpFoldResult> strides(offsets.size(), one);
    SmallVector<OpFoldResult> oOffsets = offsets, oSizes = sizes,
                              oStrides = strides;
    oOffsets.push_back(zero);
    oSizes.push_back(b.getIndexAttr(valueDim));
    oStrides.push_back(one);

    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(forall.getTerminator().getBody());
    ValueRange shared = forall.getRegionIterArgs();
    tensor::ParallelInsertSliceOp::create(b, loc, oRows, shared[0], oOffsets,
                                          oSizes, oStrides);
    if (lseRows)
      tensor::ParallelInsertSliceOp::create(b, loc, lseRows, shared[1],
                                            offsets, sizes, strides);
    if (linearRows)
      tensor::ParallelInsertSliceOp::create(b, loc, linearRows, shared.back(),
                                            oOffsets, oSizes, oStrides);
  }

  AttentionOp op;
  int64_t tileQ, tileKv, packedRows;
  Type elementType;
  OperandAuxReader aux;
  SequenceLayout layout;
  NormalizationAttrInterface normalization;
  bool softmax;
  /// Whether modifiers or masks read memory at a score's position.
  bool readsAtPositions;
  /// The approximation's feature map, or null; what its tiles read.
  FeatureMapAttrInterface estimate;
  /// Whether the estimate is returned apart, as o_linear (SLA).
  bool estimateApart;
  /// The type of the key states over all keys and outside the support:
  /// f64, since the outside is all keys' less the support's, and a row
  /// whose support covers most keys would lose f32's digits (o_linear is
  /// normalized by the outside alone).
  FloatType stateType;
  /// The estimate's feature count F (0 without one).
  int64_t features;
  KeyStates keyStates;
  int64_t qHeads, groupSize, headDim, valueDim, headsPerTile;
  OpFoldResult batch;
  /// The lengths of the sequence of the query tile being built, and the
  /// tile's last valid query (its first for an empty tile).
  Value qLen, kvLen, lastQuery;
};

struct TileAttention : OpRewritePattern<AttentionOp> {
  TileAttention(MLIRContext *ctx, int64_t tileQ, int64_t tileKv)
      : OpRewritePattern(ctx), tileQ(tileQ), tileKv(tileKv) {}

  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    // A static Sq needs no more rows than it has.
    int64_t rows = tileQ;
    SequenceLayout layout(op);
    std::optional<int64_t> sq;
    if (layout.queryForm() == QueryForm::Dense &&
        !op.getQ().getType().isDynamicDim(2)) {
      sq = op.getQ().getType().getDimSize(2);
      rows = std::min(rows, std::max<int64_t>(*sq, 1));
    }
    // Tiles inside a mask's blocks (e.g. a block-sparse layout) can be
    // classified, and so skipped; tiles straddling blocks cannot.
    auto [q, kv] = alignTilesToMask(op, rows, tileKv);
    // The heads of a group share a tile when they fit (and the mask's
    // blocks allow a tile of all Sq rows); the tile's key range and class
    // are then the group's, so no mask may read the head there (only
    // block-sparse layouts do).
    AttentionShape shape = op.getShape();
    int64_t group = shape.qHeads / shape.kvHeads;
    int64_t packedRows = 0;
    if (sq && *sq > 0 && q == *sq && group > 1 && group * *sq <= tileQ &&
        !op.getLayout() && !op.getApproximationAttr()) {
      packedRows = *sq;
      q = group * *sq;
    }
    rewriter.replaceOp(op,
                       FlashBuilder(rewriter, op, q, kv, packedRows).build());
    return success();
  }

  int64_t tileQ, tileKv;
};

struct AttnTileFlashPass : attn::impl::AttnTileFlashBase<AttnTileFlashPass> {
  using Base::Base;

  void runOnOperation() override {
    if (tileQ < 1 || tileKv < 1) {
      getOperation()->emitError()
          << "attn-tile-flash: tile sizes must be >= 1, got tile-q = "
          << tileQ.getValue() << ", tile-kv = " << tileKv.getValue();
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    patterns.add<TileAttention>(&getContext(), tileQ, tileKv);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};

} // namespace
