//===- EmulateGpuOps.cpp - Thread and block ids, barriers, shuffles -------===//
//
// The gpu dialect's view of the block: ids are lane constants or the block
// function's arguments, a barrier only resets the race checker (lock step
// has finished everything before it), and a warp shuffle is a permutation
// of the lanes.
//
//===----------------------------------------------------------------------===//

#include "BlockEmulator.h"

#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace attn {
namespace gpu_emulation {

static LogicalResult emulateShuffle(BlockEmulator &e, gpu::ShuffleOp shuffle) {
  std::optional<int64_t> offset = getConstantIntValue(shuffle.getOffset());
  std::optional<int64_t> width = getConstantIntValue(shuffle.getWidth());
  if (shuffle.getMode() != gpu::ShuffleMode::XOR || !offset || !width ||
      *width != kWarpSize || !shuffle.getValue().getType().isIntOrFloat())
    return shuffle.emitOpError("attn-emulate-gpu: only xor shuffles "
                               "of scalars with constant offsets over "
                               "whole warps are emulated");
  // Under divergent control flow (warpgroup roles), whole warps only.
  e.assertWholeWarps(shuffle);
  Location loc = shuffle.getLoc();
  SmallVector<int64_t> permutation;
  for (int64_t i = 0; i < e.getLanes(); ++i)
    permutation.push_back(i ^ *offset);
  Value all = e.lanesOf(shuffle.getValue());
  e.mapLanes(
      shuffle.getShuffleResult(),
      vector::ShuffleOp::create(e.getBuilder(), loc, all, all, permutation));
  e.mapLanes(shuffle.getValid(),
             e.constantLanes(e.getBuilder().getI1Type(), loc,
                             [](int64_t) { return 1; }));
  return success();
}

void registerGpuHooks(EmulationHooks &hooks) {
  hooks.add<gpu::ThreadIdOp>([](BlockEmulator &e, gpu::ThreadIdOp t) {
    Type index = e.getBuilder().getIndexType();
    bool x = t.getDimension() == gpu::Dimension::x;
    e.mapLanes(
        t.getResult(),
        x ? e.constantLanes(index, t.getLoc(), [](int64_t i) { return i; })
          : e.constantLanes(index, t.getLoc(), [](int64_t) { return 0; }));
    return success();
  });
  hooks.add<gpu::LaneIdOp>([](BlockEmulator &e, gpu::LaneIdOp l) {
    e.mapLanes(l.getResult(),
               e.constantLanes(e.getBuilder().getIndexType(), l.getLoc(),
                               [](int64_t i) { return i % kWarpSize; }));
    return success();
  });
  hooks.add<gpu::BlockIdOp>([](BlockEmulator &e, gpu::BlockIdOp id) {
    e.mapLanes(id.getResult(),
               e.broadcast(e.getBlockId(static_cast<int>(id.getDimension())),
                           id.getLoc()));
    return success();
  });
  hooks.add<gpu::GridDimOp>([](BlockEmulator &e, gpu::GridDimOp dim) {
    e.mapLanes(dim.getResult(),
               e.broadcast(e.getGridSize(static_cast<int>(dim.getDimension())),
                           dim.getLoc()));
    return success();
  });
  hooks.add<gpu::BlockDimOp>([](BlockEmulator &e, gpu::BlockDimOp dim) {
    int64_t size = dim.getDimension() == gpu::Dimension::x ? e.getLanes() : 1;
    e.mapLanes(dim.getResult(), e.broadcast(e.index(size), dim.getLoc()));
    return success();
  });
  // Lock step: every thread has finished everything before.
  hooks.add<gpu::BarrierOp>([](BlockEmulator &e, gpu::BarrierOp barrier) {
    // On a GPU a barrier that only some threads reach hangs the block.
    e.assertWholeBlock(barrier);
    e.forgetAccesses(barrier.getLoc());
    return success();
  });
  hooks.add<gpu::ShuffleOp>(emulateShuffle);
  hooks.add<gpu::DynamicSharedMemoryOp>(
      [](BlockEmulator &e, gpu::DynamicSharedMemoryOp op) {
        e.mapLanes(op.getResult(), e.getSharedMemory());
        return success();
      });
}

} // namespace gpu_emulation
} // namespace attn
