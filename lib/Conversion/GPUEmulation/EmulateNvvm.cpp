//===- EmulateNvvm.cpp - NVVM warp collectives ----------------------------===//
//
// redux.sync: each warp's lanes reduce to one value all of them get.
//
//===----------------------------------------------------------------------===//

#include "BlockEmulator.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace attn {
namespace gpu_emulation {

static LogicalResult emulateRedux(BlockEmulator &e, NVVM::ReduxOp redux) {
  bool isMin = redux.getKind() == NVVM::ReduxKind::MIN;
  if ((!isMin && redux.getKind() != NVVM::ReduxKind::MAX) ||
      !redux.getVal().getType().isInteger(32))
    return redux.emitOpError("attn-emulate-gpu: only i32 min and max "
                             "reductions are emulated");
  if (e.getActiveLanes())
    return redux.emitOpError(
        "attn-emulate-gpu: a reduction under divergent control flow");
  OpBuilder &b = e.getBuilder();
  Location loc = redux.getLoc();
  Value all = e.lanesOf(redux.getVal());
  auto warpType = VectorType::get({kWarpSize}, b.getI32Type());
  Value result = all;
  for (int64_t w = 0; w < e.getLanes() / kWarpSize; ++w) {
    Value slice = vector::ExtractStridedSliceOp::create(
        b, loc, all, ArrayRef<int64_t>{w * kWarpSize},
        ArrayRef<int64_t>{kWarpSize}, ArrayRef<int64_t>{1});
    Value reduced = vector::ReductionOp::create(
        b, loc,
        isMin ? vector::CombiningKind::MINSI : vector::CombiningKind::MAXSI,
        slice);
    result = vector::InsertStridedSliceOp::create(
        b, loc, vector::BroadcastOp::create(b, loc, warpType, reduced), result,
        ArrayRef<int64_t>{w * kWarpSize}, ArrayRef<int64_t>{1});
  }
  e.mapLanes(redux.getRes(), result);
  return success();
}

void registerNvvmHooks(EmulationHooks &hooks) {
  hooks.add<NVVM::ReduxOp>(emulateRedux);
}

} // namespace gpu_emulation
} // namespace attn
