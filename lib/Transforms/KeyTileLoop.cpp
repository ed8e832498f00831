//===- KeyTileLoop.cpp - The mask-aware loop over key tiles ---------------===//

#include "attn/Transforms/KeyTileLoop.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

#include <numeric>

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

std::pair<int64_t, int64_t> alignTilesToMask(AttentionOp op, int64_t tileQ,
                                             int64_t tileKv) {
  if (MaskAttrInterface mask = op.getMaskAttr()) {
    auto [gq, gkv] = mask.getTileGranularity();
    tileQ = gq ? std::gcd(tileQ, gq) : tileQ;
    tileKv = gkv ? std::gcd(tileKv, gkv) : tileKv;
  }
  return {tileQ, tileKv};
}

namespace {
/// The class of the key tile at `kv0`: empty (skip), full (no mask code)
/// or neither (partial).
struct TileClass {
  PredExpr empty = false;
  PredExpr full = true;
};

TileClass classifyKeyTile(IndexExprBuilder &ib, AttentionOp op, AuxReader &aux,
                          const QueryTile &tile, int64_t tileKv, Value kv0,
                          Value kvCols) {
  OpBuilder &b = ib.getOpBuilder();
  Value kv1 = arith::AddIOp::create(b, ib.getLoc(), kv0, kvCols);
  TileClass result;
  if (MaskAttrInterface mask = op.getMaskAttr()) {
    MaskContext context{ib.value(tile.qLen), ib.value(tile.kvLen), &aux};
    TileClassExpr tileClass = mask.buildTileClass(
        ib, context,
        MaskTile{ib.value(tile.batch), ib.value(tile.head), ib.value(tile.q0),
                 ib.value(tile.q1), ib.value(kv0), ib.value(kv1)});
    result.empty = tileClass.empty;
    result.full = tileClass.full;
  }
  // A region may cut anywhere; a short tile must mask its padding.
  if (!op.getMaskMod().empty())
    result.full = false;
  result.full = result.full & (ib.value(kvCols) == tileKv);
  return result;
}

/// Runs the update of the key tile at `kv0` that matches `cls`.
SmallVector<Value> buildKeyTileStep(OpBuilder &b, Location loc,
                                    IndexExprBuilder &ib, const TileClass &cls,
                                    const KeyTile &keys, ValueRange state,
                                    KeyTileUpdate update) {
  TypeRange types = state.getTypes();
  // Full tiles run without mask code, partial tiles with it.
  auto fullOrPartial = [&]() -> SmallVector<Value> {
    if (cls.full.isTrue())
      return update(keys, /*masked=*/false, state);
    if (cls.full.isFalse())
      return update(keys, /*masked=*/true, state);
    auto ifFull = scf::IfOp::create(b, loc, types, ib.materialize(cls.full),
                                    /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifFull.thenBlock());
    scf::YieldOp::create(b, loc, update(keys, false, state));
    b.setInsertionPointToStart(ifFull.elseBlock());
    scf::YieldOp::create(b, loc, update(keys, true, state));
    return SmallVector<Value>(ifFull.getResults());
  };
  // Empty tiles are skipped.
  if (cls.empty.isFalse())
    return fullOrPartial();
  auto ifEmpty = scf::IfOp::create(b, loc, types, ib.materialize(cls.empty),
                                   /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifEmpty.thenBlock());
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
/// constant for the first tile and for every next one stays a constant,
/// so that, e.g., a kernel without a mask has no partial-tile code.
TileClass carriedClass(IndexExprBuilder &ib, const TileClass &first,
                       const TileClass &next, ValueRange args) {
  auto pick = [&](const PredExpr &a, const PredExpr &b, Value arg) {
    if (a.isConstant() && b.isConstant() && a.isTrue() == b.isTrue())
      return a;
    return ib.pred(arg);
  };
  return {pick(first.empty, next.empty, args[0]),
          pick(first.full, next.full, args[1])};
}
} // namespace

SmallVector<Value> buildKeyTileLoop(OpBuilder &b, Location loc, AttentionOp op,
                                    AuxReader &aux, const QueryTile &tile,
                                    int64_t tileKv, ValueRange init,
                                    KeyTileUpdate update,
                                    const KeyTilePrefetch *prefetch) {
  // The keys any query of the tile may attend, rounded out to whole tiles.
  IndexExprBuilder ib(b, loc, b.getIndexType());
  Value kvLo = arith::ConstantIndexOp::create(b, loc, 0), kvHi = tile.kvLen;
  if (MaskAttrInterface mask = op.getMaskAttr()) {
    MaskContext context{ib.value(tile.qLen), ib.value(tile.kvLen), &aux};
    IndexRange range =
        mask.buildKvRange(ib, context, ib.value(tile.q0), ib.value(tile.q1));
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

  if (!prefetch) {
    auto loop = scf::ForOp::create(
        b, loc, kvLo, kvHi, step, init,
        [&](OpBuilder &body, Location, Value kv0, ValueRange state) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(body.getInsertionBlock(),
                              body.getInsertionPoint());
          Value kvCols = buildTileExtent(b, loc, tile.kvLen, kv0, tileKv);
          TileClass cls =
              classifyKeyTile(ib, op, aux, tile, tileKv, kv0, kvCols);
          scf::YieldOp::create(
              b, loc,
              buildKeyTileStep(b, loc, ib, cls, KeyTile{kv0, kvCols}, state,
                               update));
        });
    return SmallVector<Value>(loop.getResults());
  }

  // Classifies the tile at `kv0` and starts its load into `slot` unless it
  // is empty or past the range.
  auto classifyAndStart = [&](Value kv0, Value slot) {
    Value kvCols = buildTileExtent(b, loc, tile.kvLen, kv0, tileKv);
    TileClass cls = classifyKeyTile(ib, op, aux, tile, tileKv, kv0, kvCols);
    PredExpr inRange = ib.value(kv0) < ib.value(kvHi);
    auto load = scf::IfOp::create(b, loc, ib.materialize(inRange & !cls.empty),
                                  /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(load.thenBlock()->getTerminator());
    prefetch->start(kv0, slot);
    return cls;
  };
  TileClass first =
      classifyAndStart(kvLo, arith::ConstantIndexOp::create(b, loc, 0));
  SmallVector<Value> iterArgs(init.begin(), init.end());
  llvm::append_range(iterArgs, classValues(ib, first));
  auto loop = scf::ForOp::create(
      b, loc, kvLo, kvHi, step, iterArgs,
      [&](OpBuilder &body, Location, Value kv0, ValueRange args) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(body.getInsertionBlock(), body.getInsertionPoint());
        ValueRange state = args.take_front(init.size());
        // Tile i sits in buffer i % 2; tile i + 1 goes to the other one.
        Value one = arith::ConstantIndexOp::create(b, loc, 1);
        Value i = arith::DivSIOp::create(
            b, loc, arith::SubIOp::create(b, loc, kv0, kvLo), step);
        Value slot = arith::AndIOp::create(b, loc, i, one);
        prefetch->wait();
        Value next = arith::AddIOp::create(b, loc, kv0, step);
        TileClass nextClass =
            classifyAndStart(next, arith::XOrIOp::create(b, loc, slot, one));
        TileClass cls = carriedClass(ib, first, nextClass,
                                     args.drop_front(init.size()));
        Value kvCols = buildTileExtent(b, loc, tile.kvLen, kv0, tileKv);
        SmallVector<Value> results = buildKeyTileStep(
            b, loc, ib, cls, KeyTile{kv0, kvCols, slot}, state, update);
        llvm::append_range(results, classValues(ib, nextClass));
        scf::YieldOp::create(b, loc, results);
      });
  return SmallVector<Value>(loop.getResults().take_front(init.size()));
}

} // namespace attn
