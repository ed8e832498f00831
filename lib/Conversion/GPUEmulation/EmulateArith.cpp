//===- EmulateArith.cpp - Constants and per-thread vector ops -------------===//
//
// Elementwise arith, math and vector ops need no hook (BlockEmulator applies
// them to the lock-step operands). These are the ops whose static positions
// or attributes must learn about the lanes, which are the innermost
// dimension.
//
//===----------------------------------------------------------------------===//

#include "BlockEmulator.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace attn {
namespace gpu_emulation {

static LogicalResult emulateConstant(BlockEmulator &e, arith::ConstantOp op) {
  OpBuilder &b = e.getBuilder();
  Location loc = op.getLoc();
  Type type = laneType(op.getType(), e.getLanes());
  if (!type)
    return op.emitOpError("attn-emulate-gpu: cannot emulate this constant");
  auto vector = cast<VectorType>(type);
  if (auto dense = dyn_cast<DenseElementsAttr>(op.getValue())) {
    // Each element repeated for every lane.
    SmallVector<Attribute> values;
    for (Attribute element : dense.getValues<Attribute>())
      values.append(e.getLanes(), element);
    e.mapLanes(op.getResult(),
               arith::ConstantOp::create(
                   b, loc, DenseElementsAttr::get(vector, values)));
    return success();
  }
  auto typed = cast<TypedAttr>(op.getValue());
  e.mapLanes(
      op.getResult(),
      arith::ConstantOp::create(b, loc, DenseElementsAttr::get(vector, typed)));
  return success();
}

void registerArithHooks(EmulationHooks &hooks) {
  hooks.add<arith::ConstantOp>(emulateConstant);

  hooks.add<vector::ExtractOp>(
      [](BlockEmulator &e, vector::ExtractOp extract) -> LogicalResult {
        if (!extract.getDynamicPosition().empty())
          return extract.emitOpError("attn-emulate-gpu: only static positions");
        e.mapLanes(extract.getResult(),
                   vector::ExtractOp::create(e.getBuilder(), extract.getLoc(),
                                             e.lanesOf(extract.getSource()),
                                             extract.getStaticPosition()));
        return success();
      });

  hooks.add<vector::InsertOp>(
      [](BlockEmulator &e, vector::InsertOp insert) -> LogicalResult {
        if (!insert.getDynamicPosition().empty())
          return insert.emitOpError("attn-emulate-gpu: only static positions");
        e.mapLanes(insert.getResult(),
                   vector::InsertOp::create(e.getBuilder(), insert.getLoc(),
                                            e.lanesOf(insert.getValueToStore()),
                                            e.lanesOf(insert.getDest()),
                                            insert.getStaticPosition()));
        return success();
      });

  hooks.add<vector::BroadcastOp>([](BlockEmulator &e,
                                    vector::BroadcastOp op) -> LogicalResult {
    e.mapLanes(op.getResult(),
               vector::BroadcastOp::create(e.getBuilder(), op.getLoc(),
                                           laneType(op.getType(), e.getLanes()),
                                           e.lanesOf(op.getSource())));
    return success();
  });

  // The lane is the innermost dimension: a reshape of the per-thread
  // shape keeps it there.
  hooks.add<vector::ShapeCastOp>([](BlockEmulator &e, vector::ShapeCastOp op) {
    e.mapLanes(op.getResult(),
               vector::ShapeCastOp::create(
                   e.getBuilder(), op.getLoc(),
                   cast<VectorType>(laneType(op.getType(), e.getLanes())),
                   e.lanesOf(op.getSource())));
    return success();
  });
  hooks.add<vector::FromElementsOp>(
      [](BlockEmulator &e, vector::FromElementsOp op) -> LogicalResult {
        Location loc = op.getLoc();
        VectorType type = op.getType();
        Value all = e.zeros(laneType(type, e.getLanes()), loc);
        for (auto [i, element] : llvm::enumerate(op.getElements()))
          all =
              vector::InsertOp::create(e.getBuilder(), loc, e.lanesOf(element),
                                       all, delinearize(i, type.getShape()));
        e.mapLanes(op.getResult(), all);
        return success();
      });

  // Lanes are the innermost dimension: shuffling the leading one is the
  // same in lock step.
  hooks.add<vector::ShuffleOp>([](BlockEmulator &e,
                                  vector::ShuffleOp shuffle) -> LogicalResult {
    e.mapLanes(shuffle.getResult(),
               vector::ShuffleOp::create(
                   e.getBuilder(), shuffle.getLoc(), e.lanesOf(shuffle.getV1()),
                   e.lanesOf(shuffle.getV2()), shuffle.getMask()));
    return success();
  });
}

} // namespace gpu_emulation
} // namespace attn
