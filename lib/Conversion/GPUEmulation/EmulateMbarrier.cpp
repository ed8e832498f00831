//===- EmulateMbarrier.cpp - nvgpu.mbarrier objects -----------------------===//
//
// An mbarrier is a row of the block's barrier table (BlockEmulator.h):
// arrivals and transaction bytes (expect_tx adds them, TMA copies complete
// them) complete its phase when both reach zero. A wait on a phase parity
// passes once that phase has completed and records, per lane, the phases
// the lane has seen, which the race checker asks when the lane reads what a
// TMA copy wrote. In lock step nothing runs while a lane waits, so a wait
// on a phase that has not completed can never end: the emulation stops
// with the wait's location instead of hanging.
//
//===----------------------------------------------------------------------===//

#include "BarrierRow.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace attn {
namespace gpu_emulation {


/// The table row of `barriers[id]` for `lane`.
static Value rowOf(BlockEmulator &e, Value barriers, Value id, Value lane,
                   Location loc) {
  Value first = e.lanesOf(barriers);
  Value index = vector::ExtractOp::create(e.getBuilder(), loc, e.lanesOf(id),
                                          ArrayRef<OpFoldResult>{lane});
  return arith::AddIOp::create(e.getBuilder(), loc, first, index);
}

/// Runs `body(lane)` for every active lane whose `predicate` (if any) holds.
static void forEachPredicatedLane(BlockEmulator &e, Value predicate,
                                  Location loc,
                                  function_ref<void(Value)> body) {
  e.forEachLane(loc, [&](Value lane) {
    if (!predicate)
      return body(lane);
    OpBuilder &b = e.getBuilder();
    Value on = vector::ExtractOp::create(b, loc, e.lanesOf(predicate),
                                         ArrayRef<OpFoldResult>{lane});
    auto ifOn = scf::IfOp::create(b, loc, on, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOn.thenBlock()->getTerminator());
    body(lane);
  });
}

static Value toI32(OpBuilder &b, Location loc, Value x) {
  return arith::IndexCastOp::create(b, loc, b.getI32Type(), x);
}

static LogicalResult emulateCreate(BlockEmulator &e,
                                   nvgpu::MBarrierCreateOp create) {
  int64_t count = create.getBarriers().getType().getNumBarriers();
  FailureOr<int64_t> first = e.allocateBarriers(create, count);
  if (failed(first))
    return failure();
  e.mapLanes(create.getBarriers(), e.index(*first));
  return success();
}

static LogicalResult emulateInit(BlockEmulator &e, nvgpu::MBarrierInitOp init) {
  Location loc = init.getLoc();
  OpBuilder &b = e.getBuilder();
  forEachPredicatedLane(e, init.getPredicate(), loc, [&](Value lane) {
    BarrierRow row{e, rowOf(e, init.getBarriers(), init.getMbarId(), lane, loc),
                   loc};
    Value count = toI32(
        b, loc,
        vector::ExtractOp::create(b, loc, e.lanesOf(init.getCount()),
                                  ArrayRef<OpFoldResult>{lane}));
    row.store(count, BlockEmulator::kPending);
    row.store(count, BlockEmulator::kExpected);
    row.store(row.i32(0), BlockEmulator::kTransactionBytes);
    row.store(row.i32(0), BlockEmulator::kPhases);
    buildLoop(b, loc, e.index(0), e.index(e.getLanes()), {},
              [&](Value l, ValueRange) {
                for (auto column :
                     {BlockEmulator::kSeen, BlockEmulator::kArrivalTime,
                      BlockEmulator::kArrivalPhase})
                  row.store(row.i32(0), e.laneColumn(column, l, loc));
                return SmallVector<Value>{};
              });
  });
  return success();
}

/// An arrival releases shared memory (a ring slot) to another role: a
/// product still in flight may read it.
static LogicalResult checkNothingInFlight(BlockEmulator &e, Operation *op) {
  if (e.getAsyncResults().any())
    return op->emitOpError("attn-emulate-gpu: arrives while a wgmma is in "
                           "flight, which may still read the shared memory "
                           "the arrival releases: retire it "
                           "(wgmma.wait.group) first");
  return success();
}

static LogicalResult emulateArrive(BlockEmulator &e,
                                   nvgpu::MBarrierArriveOp arrive) {
  Location loc = arrive.getLoc();
  if (failed(checkNothingInFlight(e, arrive)))
    return failure();
  forEachPredicatedLane(e, Value(), loc, [&](Value lane) {
    BarrierRow row{
        e, rowOf(e, arrive.getBarriers(), arrive.getMbarId(), lane, loc), loc};
    e.recordArrival(row.row, lane, row.load(BlockEmulator::kPhases), loc);
    row.arrive(row.i32(1));
  });
  // The token only feeds test.wait, which is not emulated.
  e.mapLanes(arrive.getToken(), e.index(0));
  return success();
}

static LogicalResult emulateArriveExpectTx(BlockEmulator &e,
                                           nvgpu::MBarrierArriveExpectTxOp op) {
  Location loc = op.getLoc();
  if (failed(checkNothingInFlight(e, op)))
    return failure();
  OpBuilder &b = e.getBuilder();
  forEachPredicatedLane(e, op.getPredicate(), loc, [&](Value lane) {
    BarrierRow row{e, rowOf(e, op.getBarriers(), op.getMbarId(), lane, loc),
                   loc};
    row.add(BlockEmulator::kTransactionBytes,
            toI32(b, loc,
                  vector::ExtractOp::create(b, loc, e.lanesOf(op.getTxcount()),
                                            ArrayRef<OpFoldResult>{lane})));
    e.recordArrival(row.row, lane, row.load(BlockEmulator::kPhases), loc);
    row.arrive(row.i32(1));
  });
  return success();
}

/// Whether `lane`'s wait on `row` passes: the phase of parity p has
/// completed once the current phase's parity differs (before the first
/// completion, parity 1 names the phase "before" phase 0, which counts as
/// complete).
static Value waitPasses(BlockEmulator &e, BarrierRow &row,
                        nvgpu::MBarrierTryWaitParityOp wait, Value lane) {
  OpBuilder &b = e.getBuilder();
  Location loc = row.loc;
  Value parity = arith::ExtUIOp::create(
      b, loc, b.getI32Type(),
      vector::ExtractOp::create(b, loc, e.lanesOf(wait.getPhaseParity()),
                                ArrayRef<OpFoldResult>{lane}));
  Value current =
      arith::AndIOp::create(b, loc, row.load(BlockEmulator::kPhases), row.i32(1));
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, current,
                               parity);
}

Value mbarrierWaitPasses(BlockEmulator &e,
                         nvgpu::MBarrierTryWaitParityOp wait) {
  Location loc = wait.getLoc();
  OpBuilder &b = e.getBuilder();
  Value passes = e.entryAlloca(MemRefType::get({1}, b.getI1Type()), loc);
  memref::StoreOp::create(b, loc, arith::ConstantIntOp::create(b, loc, 1, 1),
                          passes, e.index(0));
  forEachPredicatedLane(e, Value(), loc, [&](Value lane) {
    BarrierRow row{e, rowOf(e, wait.getBarriers(), wait.getMbarId(), lane, loc),
                   loc};
    Value all = memref::LoadOp::create(b, loc, passes, e.index(0));
    memref::StoreOp::create(
        b, loc, arith::AndIOp::create(b, loc, all, waitPasses(e, row, wait, lane)),
        passes, e.index(0));
  });
  return memref::LoadOp::create(b, loc, passes, e.index(0));
}

static LogicalResult emulateTryWait(BlockEmulator &e,
                                    nvgpu::MBarrierTryWaitParityOp wait) {
  Location loc = wait.getLoc();
  OpBuilder &b = e.getBuilder();
  forEachPredicatedLane(e, Value(), loc, [&](Value lane) {
    BarrierRow row{e, rowOf(e, wait.getBarriers(), wait.getMbarId(), lane, loc),
                   loc};
    std::string message;
    llvm::raw_string_ostream os(message);
    os << "attn-emulate-gpu: mbarrier wait at " << loc
       << " can never complete: the phase it waits for still expects "
          "arrivals or transaction bytes, and nothing else can run (lock "
          "step, or every warpgroup role waits)";
    cf::AssertOp::create(b, loc, waitPasses(e, row, wait, lane), message);
    Value phases = row.load(BlockEmulator::kPhases);
    row.store(phases, e.laneColumn(BlockEmulator::kSeen, lane, loc));
    e.recordAcquire(row.row, lane, phases, loc);
  });
  return success();
}

void registerMbarrierHooks(EmulationHooks &hooks) {
  hooks.add<nvgpu::MBarrierCreateOp>(emulateCreate);
  hooks.add<nvgpu::MBarrierInitOp>(emulateInit);
  hooks.add<nvgpu::MBarrierArriveOp>(emulateArrive);
  hooks.add<nvgpu::MBarrierArriveExpectTxOp>(emulateArriveExpectTx);
  hooks.add<nvgpu::MBarrierTryWaitParityOp>(emulateTryWait);
}

} // namespace gpu_emulation
} // namespace attn
