//===- KeyTileLoop.cpp - The mask-aware loop over key tiles ---------------===//

#include "attn/Transforms/KeyTileLoop.h"
#include "attn/Dialect/MaskAnalysis.h"
#include "attn/Transforms/PositionFrame.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;

namespace attn {

Value buildTileExtent(OpBuilder &b, Location loc, Value len, Value start,
                      int64_t tile) {
  Value tileValue = arith::ConstantIndexOp::create(b, loc, tile);
  if (std::optional<int64_t> n = getConstantIntValue(len); n && *n % tile == 0)
    return tileValue;
  return arith::MinSIOp::create(b, loc, tileValue,
                                arith::SubIOp::create(b, loc, len, start));
}

std::pair<int64_t, int64_t> alignTilesToMask(AttentionSpecOpInterface op,
                                             int64_t tileQ,
                                             int64_t tileKv) {
  return alignTileSizes(op.getMaskAttr(), tileQ, tileKv);
}

namespace {
/// The class of the key tile at `kv0`: empty (skip), full (no mask code)
/// or neither (partial).
struct TileClass {
  PredExpr empty = false;
  PredExpr full = true;
};

/// The class of the tile [q0, q1) x [kv0, kv1) of `heads` query heads from
/// `head`. `padded` tiles (a short last tile, whose padding counts as
/// disallowed) are never full.
TileClass classifyTile(IndexExprBuilder &ib, AttentionSpecOpInterface op,
                       AuxReader &aux, Value batch, Value head, int64_t heads,
                       Value qLen, Value kvLen, Value q0, Value q1, Value kv0,
                       Value kv1, PredExpr padded) {
  TileClass result;
  if (MaskAttrInterface mask = op.getMaskAttr()) {
    PositionFrame frame(ib, aux, ib.value(qLen), ib.value(kvLen));
    // Masks that do not read the head give the same predicate per head,
    // which CSE merges.
    for (int64_t h = 0; h < heads; ++h) {
      TileClassExpr tileClass = mask.buildTileClass(
          ib, frame.context(),
          frame.global(MaskTile{ib.value(batch), ib.value(head) + h,
                                ib.value(q0), ib.value(q1), ib.value(kv0),
                                ib.value(kv1)}));
      result.empty = h ? result.empty & tileClass.empty : tileClass.empty;
      result.full = result.full & tileClass.full;
    }
  }
  // A region may cut anywhere.
  if (!op.getMaskMod().empty())
    result.full = false;
  result.full = result.full & !padded;
  return result;
}

TileClass classifyKeyTile(IndexExprBuilder &ib, AttentionSpecOpInterface op,
                          AuxReader &aux, const QueryTile &tile, int64_t tileKv,
                          Value kv0, Value kvCols) {
  Value kv1 = arith::AddIOp::create(ib.getOpBuilder(), ib.getLoc(), kv0, kvCols);
  return classifyTile(ib, op, aux, tile.batch, tile.head, tile.heads,
                      tile.qLen, tile.kvLen, tile.q0, tile.q1, kv0, kv1,
                      ib.value(kvCols) != tileKv);
}

/// Runs the update of a tile that matches `cls` (`update(masked)`), or
/// yields `state` for an empty tile.
SmallVector<Value>
buildTileStep(OpBuilder &b, Location loc, IndexExprBuilder &ib,
              const TileClass &cls, ValueRange state,
              function_ref<SmallVector<Value>(bool masked)> update,
              function_ref<SmallVector<Value>()> skip = {}) {
  TypeRange types = state.getTypes();
  // Full tiles run without mask code, partial tiles with it.
  auto fullOrPartial = [&]() -> SmallVector<Value> {
    if (cls.full.isTrue())
      return update(/*masked=*/false);
    if (cls.full.isFalse())
      return update(/*masked=*/true);
    auto ifFull = scf::IfOp::create(b, loc, types, ib.materialize(cls.full),
                                    /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifFull.thenBlock());
    scf::YieldOp::create(b, loc, update(false));
    b.setInsertionPointToStart(ifFull.elseBlock());
    scf::YieldOp::create(b, loc, update(true));
    return SmallVector<Value>(ifFull.getResults());
  };
  // Empty tiles are skipped (`skip`: what they do instead).
  if (cls.empty.isFalse())
    return fullOrPartial();
  auto ifEmpty = scf::IfOp::create(b, loc, types, ib.materialize(cls.empty),
                                   /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifEmpty.thenBlock());
  if (skip)
    scf::YieldOp::create(b, loc, skip());
  else
    scf::YieldOp::create(b, loc, state);
  b.setInsertionPointToStart(ifEmpty.elseBlock());
  scf::YieldOp::create(b, loc, fullOrPartial());
  return SmallVector<Value>(ifEmpty.getResults());
}

/// Both predicates of `cls` as i1 values.
SmallVector<Value> classValues(IndexExprBuilder &ib, const TileClass &cls) {
  return {ib.materialize(cls.empty), ib.materialize(cls.full)};
}

/// The class carried in `args` (empty, full). A predicate that is the same
/// constant for every tile in `known` (the first ones and a next one) stays
/// a constant, so that, e.g., a kernel without a mask has no partial-tile
/// code.
TileClass carriedClass(IndexExprBuilder &ib, ArrayRef<TileClass> known,
                       ValueRange args) {
  auto pick = [&](auto predicate, Value arg) -> PredExpr {
    const PredExpr &a = predicate(known.front());
    for (const TileClass &other : known) {
      const PredExpr &b = predicate(other);
      if (!a.isConstant() || !b.isConstant() || a.isTrue() != b.isTrue())
        return ib.pred(arg);
    }
    return a;
  };
  return {pick([](const TileClass &c) { return c.empty; }, args[0]),
          pick([](const TileClass &c) { return c.full; }, args[1])};
}
} // namespace

namespace {
/// One tile of the loop: its first row, its number of valid rows and (with a
/// prefetch) its buffer.
using TileStep = function_ref<SmallVector<Value>(
    Value start, Value extent, Value slot, bool masked, ValueRange state)>;
/// The class of the tile at `start` of `extent` rows.
using TileClassifier = function_ref<TileClass(Value start, Value extent)>;

/// The loop over the tiles of `tile` rows in [lo, hi) (lo a tile multiple)
/// of a sequence of `len`, in either direction: each tile is classified,
/// empty ones skipped, full ones updated without mask code; with a
/// prefetch, the next stages - 1 tiles load while one is computed on.
SmallVector<Value> buildTileLoop(OpBuilder &b, Location loc,
                                 IndexExprBuilder &ib, Value lo, Value hi,
                                 int64_t tile, Value len, ValueRange init,
                                 TileClassifier classify, TileStep update,
                                 const TilePrefetch *prefetch) {
  Value step = arith::ConstantIndexOp::create(b, loc, tile);
  if (!prefetch) {
    auto loop = scf::ForOp::create(
        b, loc, lo, hi, step, init,
        [&](OpBuilder &body, Location, Value start, ValueRange state) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(body.getInsertionBlock(),
                              body.getInsertionPoint());
          Value extent = buildTileExtent(b, loc, len, start, tile);
          TileClass cls = classify(start, extent);
          scf::YieldOp::create(
              b, loc,
              buildTileStep(b, loc, ib, cls, state, [&](bool masked) {
                return update(start, extent, Value(), masked, state);
              }));
        });
    return SmallVector<Value>(loop.getResults());
  }

  // Classifies the tile at `start` and starts its load into `slot` unless
  // it is empty or past the range; ends its group either way.
  auto classifyAndStart = [&](Value start, Value slot) {
    PredExpr inRange = ib.value(start) < ib.value(hi);
    // A tile past the range (the prefetch runs stages - 1 tiles ahead) is
    // never loaded nor computed: it is classified as the range's first one,
    // so that the classification reads no mask operand (a block-sparse
    // layout) past its end.
    Value at = ib.materialize(ib.select(inRange, ib.value(start), ib.value(lo)));
    TileClass cls = classify(at, buildTileExtent(b, loc, len, at, tile));
    Value loaded = ib.materialize(inRange & !cls.empty);
    auto load = scf::IfOp::create(b, loc, loaded, /*withElseRegion=*/false);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(load.thenBlock()->getTerminator());
      prefetch->start(start, slot);
    }
    prefetch->commit();
    return cls;
  };
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  // Tile j goes to buffer j % stages; the first stages - 1 tiles start
  // before the loop, whose iteration i starts tile i + stages - 1.
  int64_t stages = prefetch->stages;
  auto slotOf = [&](Value i) -> Value {
    if (llvm::isPowerOf2_64(stages))
      return arith::AndIOp::create(b, loc, i, index(stages - 1));
    return arith::RemUIOp::create(b, loc, i, index(stages));
  };
  // An empty range (no row at all, or a split past the mask's keys) has no
  // tile to classify, not even its first: the block-sparse layout of Skv
  // = 0 has no key block to read. So the prefetched loop, its prologue
  // included, runs under one block-uniform branch on a non-empty range,
  // which yields the initial state otherwise.
  PredExpr nonEmpty = ib.value(lo) < ib.value(hi);
  if (nonEmpty.isFalse())
    return SmallVector<Value>(init.begin(), init.end());
  OpBuilder::InsertionGuard guardRange(b);
  scf::IfOp ifNonEmpty;
  if (!nonEmpty.isTrue()) {
    ifNonEmpty =
        scf::IfOp::create(b, loc, init.getTypes(), ib.materialize(nonEmpty),
                          /*withElseRegion=*/true);
    b.setInsertionPointToStart(ifNonEmpty.elseBlock());
    scf::YieldOp::create(b, loc, init);
    b.setInsertionPointToStart(ifNonEmpty.thenBlock());
  }
  SmallVector<TileClass> ahead;
  SmallVector<Value> iterArgs(init.begin(), init.end());
  for (int64_t j = 0; j + 1 < stages; ++j) {
    Value start = j ? arith::AddIOp::create(b, loc, lo, index(j * tile)) : lo;
    ahead.push_back(classifyAndStart(start, index(j)));
    llvm::append_range(iterArgs, classValues(ib, ahead.back()));
  }
  // The loop is in its block before its body is built, so that what the
  // body asks of `aux` can reuse what the prologue read (a reader checks
  // that a value dominates by walking up from the insertion block).
  auto loop = scf::ForOp::create(b, loc, lo, hi, step, iterArgs);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value start = loop.getInductionVar();
    ValueRange args = loop.getRegionIterArgs();
    ValueRange state = args.take_front(init.size());
    ValueRange classes = args.drop_front(init.size());
    Value i = arith::DivSIOp::create(
        b, loc, arith::SubIOp::create(b, loc, start, lo), step);
    // Tile i has landed once at most the stages - 2 newer groups are
    // pending.
    prefetch->wait(stages - 2);
    Value next = arith::AddIOp::create(b, loc, start, index((stages - 1) * tile));
    TileClass nextClass = classifyAndStart(
        next, slotOf(arith::AddIOp::create(b, loc, i, index(stages - 1))));
    SmallVector<TileClass> known(ahead);
    known.push_back(nextClass);
    SmallVector<TileClass> queue;
    for (int64_t j = 0; j + 1 < stages; ++j)
      queue.push_back(carriedClass(ib, known, classes.slice(2 * j, 2)));
    Value extent = buildTileExtent(b, loc, len, start, tile);
    Value slot = slotOf(i);
    SmallVector<Value> results =
        buildTileStep(b, loc, ib, queue.front(), state, [&](bool masked) {
          return update(start, extent, slot, masked, state);
        });
    for (const TileClass &cls : ArrayRef(queue).drop_front())
      llvm::append_range(results, classValues(ib, cls));
    llvm::append_range(results, classValues(ib, nextClass));
    scf::YieldOp::create(b, loc, results);
  }
  ValueRange final = loop.getResults().take_front(init.size());
  if (!ifNonEmpty)
    return SmallVector<Value>(final.begin(), final.end());
  scf::YieldOp::create(b, loc, final);
  return SmallVector<Value>(ifNonEmpty.getResults());
}
} // namespace

namespace {
/// The key tiles any query of `tile` may attend: the mask's key range
/// rounded out to whole tiles (and cut to an explicit key range).
struct KeyTileRange {
  Value lo, hi;
};

KeyTileRange buildKeyTileRange(OpBuilder &b, Location loc,
                               IndexExprBuilder &ib,
                               AttentionSpecOpInterface op, AuxReader &aux,
                               const QueryTile &tile, int64_t tileKv) {
  Value kvLo = arith::ConstantIndexOp::create(b, loc, 0), kvHi = tile.kvLen;
  if (MaskAttrInterface mask = op.getMaskAttr()) {
    PositionFrame frame(ib, aux, ib.value(tile.qLen), ib.value(tile.kvLen));
    IndexRange range = frame.keyRows(mask.buildKvRange(
        ib, frame.context(), frame.queryPosition(ib.value(tile.q0)),
        frame.queryPosition(ib.value(tile.q1))));
    kvLo = ib.materialize(range.lo);
    kvHi = ib.materialize(range.hi);
  }
  Value step = arith::ConstantIndexOp::create(b, loc, tileKv);
  kvLo = arith::MulIOp::create(b, loc,
                               arith::DivSIOp::create(b, loc, kvLo, step), step);
  if (tile.kvBegin) {
    kvLo = arith::MaxSIOp::create(b, loc, kvLo, tile.kvBegin);
    kvHi = arith::MinSIOp::create(b, loc, kvHi, tile.kvEnd);
  }
  return {kvLo, kvHi};
}

/// The loop over the tiles of `range` of a TileHandOff's role: `body(start,
/// extent, i, state)` builds one iteration.
SmallVector<Value> buildHandOffLoop(
    OpBuilder &b, Location loc, KeyTileRange range, int64_t tileKv,
    ValueRange init,
    function_ref<SmallVector<Value>(Value start, Value i, ValueRange state)>
        body) {
  Value step = arith::ConstantIndexOp::create(b, loc, tileKv);
  auto loop = scf::ForOp::create(
      b, loc, range.lo, range.hi, step, init,
      [&](OpBuilder &nb, Location, Value start, ValueRange state) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        Value i = arith::DivSIOp::create(
            b, loc, arith::SubIOp::create(b, loc, start, range.lo), step);
        scf::YieldOp::create(b, loc, body(start, i, state));
      });
  return SmallVector<Value>(loop.getResults());
}

Value slotOfTile(OpBuilder &b, Location loc, Value i, int64_t stages) {
  return arith::RemUIOp::create(b, loc, i,
                                arith::ConstantIndexOp::create(b, loc, stages));
}
} // namespace

SmallVector<Value> buildKeyTileLoop(OpBuilder &b, Location loc,
                                    AttentionSpecOpInterface op,
                                    AuxReader &aux, const QueryTile &tile,
                                    int64_t tileKv, ValueRange init,
                                    KeyTileUpdate update,
                                    const TilePrefetch *prefetch) {
  IndexExprBuilder ib(b, loc, b.getIndexType());
  KeyTileRange range = buildKeyTileRange(b, loc, ib, op, aux, tile, tileKv);
  return buildTileLoop(
      b, loc, ib, range.lo, range.hi, tileKv, tile.kvLen, init,
      [&](Value kv0, Value kvCols) {
        return classifyKeyTile(ib, op, aux, tile, tileKv, kv0, kvCols);
      },
      [&](Value kv0, Value kvCols, Value slot, bool masked, ValueRange state) {
        return update(KeyTile{kv0, kvCols, slot}, masked, state);
      },
      prefetch);
}

void buildKeyTileProducerLoop(OpBuilder &b, Location loc,
                              AttentionSpecOpInterface op, AuxReader &aux,
                              const QueryTile &tile, int64_t tileKv,
                              const TileHandOff &handOff) {
  IndexExprBuilder ib(b, loc, b.getIndexType());
  KeyTileRange range = buildKeyTileRange(b, loc, ib, op, aux, tile, tileKv);
  buildHandOffLoop(
      b, loc, range, tileKv, {},
      [&](Value start, Value i, ValueRange) -> SmallVector<Value> {
        handOff.reserve(i);
        Value extent = buildTileExtent(b, loc, tile.kvLen, start, tileKv);
        TileClass cls =
            classifyKeyTile(ib, op, aux, tile, tileKv, start, extent);
        handOff.produce(start, slotOfTile(b, loc, i, handOff.stages),
                        ib.materialize(!cls.empty));
        return {};
      });
}

SmallVector<Value>
buildKeyTileConsumerLoop(OpBuilder &b, Location loc,
                         AttentionSpecOpInterface op, AuxReader &aux,
                         const QueryTile &tile, int64_t tileKv,
                         ValueRange init, KeyTileUpdate update,
                         const TileHandOff &handOff) {
  IndexExprBuilder ib(b, loc, b.getIndexType());
  KeyTileRange range = buildKeyTileRange(b, loc, ib, op, aux, tile, tileKv);
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  // Deferred: tile i's buffer is freed in step i + 1 (or after the loop),
  // tile 0's never before step 1.
  auto releaseBefore = [&](Value i) {
    Value any = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, i,
                                      index(0));
    auto ifAny = scf::IfOp::create(b, loc, any, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifAny.thenBlock()->getTerminator());
    handOff.release(arith::SubIOp::create(b, loc, i, index(1)));
  };
  SmallVector<Value> final = buildHandOffLoop(
      b, loc, range, tileKv, init,
      [&](Value start, Value i, ValueRange state) {
        handOff.acquire(i);
        Value extent = buildTileExtent(b, loc, tile.kvLen, start, tileKv);
        TileClass cls =
            classifyKeyTile(ib, op, aux, tile, tileKv, start, extent);
        Value slot = slotOfTile(b, loc, i, handOff.stages);
        auto releasePrevious = [&] { releaseBefore(i); };
        KeyTile keys{start, extent, slot};
        if (handOff.drain)
          keys.releasePrevious = releasePrevious;
        auto skip = [&] {
          SmallVector<Value> drained = handOff.drain(state);
          releasePrevious();
          return drained;
        };
        SmallVector<Value> next = buildTileStep(
            b, loc, ib, cls, state,
            [&](bool masked) { return update(keys, masked, state); },
            handOff.drain ? function_ref<SmallVector<Value>()>(skip)
                          : function_ref<SmallVector<Value>()>());
        if (!handOff.drain)
          handOff.release(i);
        return next;
      });
  if (!handOff.drain)
    return final;
  // The last tile (number ceil((hi - lo) / tileKv) - 1, if any).
  final = handOff.drain(final);
  Value span = arith::SubIOp::create(b, loc, range.hi, range.lo);
  Value tiles = arith::CeilDivSIOp::create(
      b, loc, arith::MaxSIOp::create(b, loc, span, index(0)), index(tileKv));
  releaseBefore(tiles);
  return final;
}

SmallVector<Value> buildQueryTileLoop(OpBuilder &b, Location loc,
                                      AttentionSpecOpInterface op,
                                      AuxReader &aux, const KeyTileRows &tile,
                                      int64_t tileQ, int64_t tileKv,
                                      ValueRange init, QueryTileUpdate update,
                                      const TilePrefetch *prefetch) {
  // The queries that may attend any key of the tile, rounded out to whole
  // tiles.
  IndexExprBuilder ib(b, loc, b.getIndexType());
  Value kv1 = arith::AddIOp::create(b, loc, tile.kv0, tile.kvCols);
  Value qLo = arith::ConstantIndexOp::create(b, loc, 0), qHi = tile.qLen;
  if (MaskAttrInterface mask = op.getMaskAttr()) {
    PositionFrame frame(ib, aux, ib.value(tile.qLen), ib.value(tile.kvLen));
    IndexRange range = frame.queryRows(mask.buildQueryRange(
        ib, frame.context(), frame.keyPosition(ib.value(tile.kv0)),
        frame.keyPosition(ib.value(kv1))));
    qLo = ib.materialize(range.lo);
    qHi = ib.materialize(range.hi);
  }
  Value step = arith::ConstantIndexOp::create(b, loc, tileQ);
  qLo = arith::MulIOp::create(b, loc,
                              arith::DivSIOp::create(b, loc, qLo, step), step);
  return buildTileLoop(
      b, loc, ib, qLo, qHi, tileQ, tile.qLen, init,
      [&](Value q0, Value qRows) {
        Value q1 = arith::AddIOp::create(b, loc, q0, qRows);
        return classifyTile(
            ib, op, aux, tile.batch, tile.head, /*heads=*/1, tile.qLen,
            tile.kvLen, q0, q1, tile.kv0, kv1,
            (ib.value(qRows) != tileQ) | (ib.value(tile.kvCols) != tileKv));
      },
      [&](Value q0, Value qRows, Value slot, bool masked, ValueRange state) {
        return update(QueryRows{q0, qRows, slot}, masked, state);
      },
      prefetch);
}

} // namespace attn
