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
/// Classifies the key tile at `kv0` and runs the matching update.
SmallVector<Value> buildKeyTileStep(OpBuilder &b, Location loc, AttentionOp op,
                                    AuxReader &aux, const QueryTile &tile,
                                    int64_t tileKv, Value kv0, Value slot,
                                    ValueRange state, KeyTileUpdate update) {
  Value kvCols = buildTileExtent(b, loc, tile.kvLen, kv0, tileKv);
  Value kv1 = arith::AddIOp::create(b, loc, kv0, kvCols);
  IndexExprBuilder ib(b, loc, b.getIndexType());
  PredExpr empty = false, full = true;
  if (MaskAttrInterface mask = op.getMaskAttr()) {
    MaskContext context{ib.value(tile.qLen), ib.value(tile.kvLen), &aux};
    TileClassExpr tileClass = mask.buildTileClass(
        ib, context,
        MaskTile{ib.value(tile.batch), ib.value(tile.head), ib.value(tile.q0),
                 ib.value(tile.q1), ib.value(kv0), ib.value(kv1)});
    empty = tileClass.empty;
    full = tileClass.full;
  }
  // A region may cut anywhere; a short tile must mask its padding.
  if (!op.getMaskMod().empty())
    full = false;
  full = full & (ib.value(kvCols) == tileKv);

  KeyTile keys{kv0, kvCols, slot};
  TypeRange types = state.getTypes();
  // Full tiles run without mask code, partial tiles with it.
  auto fullOrPartial = [&]() -> SmallVector<Value> {
    if (full.isTrue())
      return update(keys, /*masked=*/false, state);
    if (full.isFalse())
      return update(keys, /*masked=*/true, state);
    auto ifFull = scf::IfOp::create(b, loc, types, ib.materialize(full),
                                    /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifFull.thenBlock());
    scf::YieldOp::create(b, loc, update(keys, false, state));
    b.setInsertionPointToStart(ifFull.elseBlock());
    scf::YieldOp::create(b, loc, update(keys, true, state));
    return SmallVector<Value>(ifFull.getResults());
  };
  // Empty tiles are skipped.
  if (empty.isFalse())
    return fullOrPartial();
  auto ifEmpty = scf::IfOp::create(b, loc, types, ib.materialize(empty),
                                   /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifEmpty.thenBlock());
  scf::YieldOp::create(b, loc, state);
  b.setInsertionPointToStart(ifEmpty.elseBlock());
  scf::YieldOp::create(b, loc, fullOrPartial());
  return SmallVector<Value>(ifEmpty.getResults());
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
  // The first tile's load; past the range it reads nothing that is used.
  if (prefetch)
    prefetch->start(kvLo, arith::ConstantIndexOp::create(b, loc, 0));
  auto loop = scf::ForOp::create(
      b, loc, kvLo, kvHi, step, init,
      [&](OpBuilder &body, Location, Value kv0, ValueRange state) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(body.getInsertionBlock(), body.getInsertionPoint());
        Value slot;
        if (prefetch) {
          // Tile i sits in buffer i % 2; tile i + 1 goes to the other one.
          Value i = arith::DivSIOp::create(
              b, loc, arith::SubIOp::create(b, loc, kv0, kvLo), step);
          Value one = arith::ConstantIndexOp::create(b, loc, 1);
          slot = arith::AndIOp::create(b, loc, i, one);
          prefetch->wait();
          Value next = arith::AddIOp::create(b, loc, kv0, step);
          auto hasNext = scf::IfOp::create(
              b, loc,
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, next,
                                    kvHi),
              /*withElseRegion=*/false);
          OpBuilder::InsertionGuard ifGuard(b);
          b.setInsertionPoint(hasNext.thenBlock()->getTerminator());
          prefetch->start(next, arith::XOrIOp::create(b, loc, slot, one));
        }
        scf::YieldOp::create(b, loc,
                             buildKeyTileStep(b, loc, op, aux, tile, tileKv,
                                              kv0, slot, state, update));
      });
  return SmallVector<Value>(loop.getResults());
}

} // namespace attn
