//===- BlockEmulator.cpp - One thread block in lock step ------------------===//
//
// The core of attn-emulate-gpu (see BlockEmulator.h): the block function,
// lane loops, structured control flow and the shared-memory race checker.
// Ops go to their hooks.
//
//===----------------------------------------------------------------------===//

#include "BlockEmulator.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <limits>

using namespace mlir;

namespace attn {
namespace gpu_emulation {

SmallVector<int64_t> delinearize(int64_t i, ArrayRef<int64_t> shape) {
  SmallVector<int64_t> position(shape.size());
  for (int64_t d = shape.size() - 1; d >= 0; --d) {
    position[d] = i % shape[d];
    i /= shape[d];
  }
  return position;
}

Type laneType(Type type, int64_t lanes) {
  if (type.isIntOrIndexOrFloat())
    return VectorType::get({lanes}, type);
  if (auto vector = dyn_cast<VectorType>(type)) {
    if (vector.isScalable())
      return Type();
    SmallVector<int64_t> shape(vector.getShape());
    shape.push_back(lanes);
    return VectorType::get(shape, vector.getElementType());
  }
  if (auto memref = dyn_cast<MemRefType>(type))
    return MemRefType::get(memref.getShape(), memref.getElementType(),
                           memref.getLayout());
  return Type();
}

Value indexConstant(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

SmallVector<Value>
buildLoop(OpBuilder &b, Location loc, Value lo, Value hi, ValueRange init,
          function_ref<SmallVector<Value>(Value, ValueRange)> body) {
  auto loop = scf::ForOp::create(
      b, loc, lo, hi, indexConstant(b, loc, 1), init,
      [&](OpBuilder &nb, Location, Value iv, ValueRange args) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        scf::YieldOp::create(b, loc, body(iv, args));
      });
  return SmallVector<Value>(loop.getResults());
}

EmulationState::~EmulationState() = default;

//===----------------------------------------------------------------------===//
// The block function
//===----------------------------------------------------------------------===//

FailureOr<func::FuncOp> BlockEmulator::build(StringRef name) {
  Location loc = kernel.getLoc();
  SmallVector<Type> types;
  for (auto [i, type] : llvm::enumerate(kernel.getArgumentTypes())) {
    if (Type given = argumentTypes.lookup(i)) {
      types.push_back(given);
      continue;
    }
    Type converted = laneType(type, lanes);
    if (!converted)
      return kernel.emitOpError("attn-emulate-gpu: cannot emulate an "
                                "argument of type ")
             << type;
    // Scalar arguments are the same for every thread.
    types.push_back(isa<MemRefType>(type) ? converted : type);
  }
  types.push_back(MemRefType::get({ShapedType::kDynamic}, b.getI8Type()));
  types.append(6, b.getIndexType());
  b.setInsertionPointToEnd(module.getBody());
  auto func = func::FuncOp::create(b, loc, name, b.getFunctionType(types, {}));
  func.setPrivate();
  Block *entry = func.addEntryBlock();
  entryBlock = entry;
  b.setInsertionPointToStart(entry);
  unsigned numArgs = kernel.getNumArguments();
  for (unsigned i = 0; i < numArgs; ++i) {
    Value arg = entry->getArgument(i);
    if (!isa<MemRefType>(arg.getType()) && !argumentTypes.count(i))
      arg = vector::BroadcastOp::create(b, loc, laneType(arg.getType(), lanes),
                                        arg);
    map.map(kernel.getArgument(i), arg);
  }
  sharedMemory = entry->getArgument(numArgs);
  for (int d = 0; d < 3; ++d) {
    blockIds[d] = entry->getArgument(numArgs + 1 + d);
    gridSizes[d] = entry->getArgument(numArgs + 4 + d);
  }
  poisonSharedMemory(loc);
  setUpRaceDetection(loc);
  if (!kernel.getWorkgroupAttributions().empty() ||
      !kernel.getPrivateAttributions().empty())
    return kernel.emitOpError("attn-emulate-gpu: memory attributions are "
                              "not emulated; use gpu.dynamic_shared_memory");
  if (failed(emulateBlock(kernel.getBody().front())))
    return failure();
  func::ReturnOp::create(b, loc);
  return func;
}

/// Fills shared memory with 0xff bytes (NaN in every float type), so that
/// a kernel reading what it did not write gets NaN, not a lucky zero.
void BlockEmulator::poisonSharedMemory(Location loc) {
  Value size = memref::DimOp::create(b, loc, sharedMemory, 0);
  Value poison = arith::ConstantIntOp::create(b, loc, b.getI8Type(), -1);
  buildLoop(b, loc, index(0), size, {}, [&](Value i, ValueRange) {
    memref::StoreOp::create(b, loc, poison, sharedMemory, i);
    return SmallVector<Value>{};
  });
}

//===----------------------------------------------------------------------===//
// Shared-memory races
//
// Lock step executes a barrier's effect by program order, so a kernel
// missing one would still compute the right answer here. Instead, every
// shared-memory byte an access starts at records the lane that wrote it
// and the lane that read it (-2: several) since the last barrier (-1:
// none), and an access that another lane's access since the barrier
// conflicts with (read after write, write after read or write) fails with
// a race message. cp.async copies count as writes when issued; ldmatrix
// reads count as the receiving lane's. Copies land at once here, but a read
// of a byte whose cp.async commit group has not been waited for
// (cp.async.wait_group N leaves the N newest groups in flight) fails too,
// so that a ring of stages that waits too little is caught.
//===----------------------------------------------------------------------===//

/// The shadows are plain allocations: the host pipeline's buffer
/// deallocation frees them.
void BlockEmulator::setUpRaceDetection(Location loc) {
  Value size = memref::DimOp::create(b, loc, sharedMemory, 0);
  sharedBytes = size;
  auto type = MemRefType::get({ShapedType::kDynamic}, b.getI32Type());
  writers = memref::AllocOp::create(b, loc, type, ValueRange{size});
  readers = memref::AllocOp::create(
      b, loc, type,
      ValueRange{arith::MulIOp::create(b, loc, size, index(getWarpgroups()))});
  asyncGroups = memref::AllocOp::create(b, loc, type, ValueRange{size});
  asyncCounters =
      memref::AllocOp::create(b, loc, MemRefType::get({2}, b.getI32Type()));
  Value none = arith::ConstantIntOp::create(b, loc, b.getI32Type(), -1);
  buildLoop(b, loc, index(0), size, {}, [&](Value i, ValueRange) {
    memref::StoreOp::create(b, loc, none, asyncGroups, i);
    return SmallVector<Value>{};
  });
  Value zero = arith::ConstantIntOp::create(b, loc, b.getI32Type(), 0);
  for (int64_t i = 0; i < 2; ++i)
    memref::StoreOp::create(b, loc, zero, asyncCounters, index(i));
  sharedOffsets[sharedMemory] = index(0);
  forgetAccesses(loc);
}

void BlockEmulator::forgetAccesses(Location loc) {
  Value size = memref::DimOp::create(b, loc, sharedMemory, 0);
  Value none = arith::ConstantIntOp::create(b, loc, b.getI32Type(), -1);
  buildLoop(b, loc, index(0), size, {}, [&](Value i, ValueRange) {
    memref::StoreOp::create(b, loc, none, writers, i);
    for (int64_t g = 0; g < getWarpgroups(); ++g)
      memref::StoreOp::create(b, loc, none, readers,
                              groupByte(index(g), i, loc));
    return SmallVector<Value>{};
  });
}

Value BlockEmulator::groupByte(Value group, Value byte, Location loc) {
  return arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, group, sharedBytes), byte);
}

Value BlockEmulator::sharedByte(Value memref, ValueRange indices,
                                Location loc) {
  auto it = sharedOffsets.find(memref);
  if (it == sharedOffsets.end())
    return Value();
  auto type = cast<MemRefType>(memref.getType());
  Value linear = index(0);
  for (auto [d, i] : llvm::enumerate(indices))
    linear = arith::AddIOp::create(
        b, loc,
        arith::MulIOp::create(
            b, loc, linear,
            index(type.isDynamicDim(d) ? 0 : type.getDimSize(d))),
        i);
  int64_t bytes = type.getElementTypeBitWidth() / 8;
  return arith::AddIOp::create(
      b, loc, it->second, arith::MulIOp::create(b, loc, linear, index(bytes)));
}

void BlockEmulator::mapSharedView(Value view, Value source, Value byteShift,
                                  Location loc) {
  auto base = sharedOffsets.find(source);
  if (base != sharedOffsets.end())
    sharedOffsets[view] =
        arith::AddIOp::create(b, loc, base->second, byteShift);
}

void BlockEmulator::assertInBounds(Value memref, ValueRange indices,
                                   Value count, Location loc, StringRef what) {
  if (indices.empty())
    return;
  auto type = cast<MemRefType>(memref.getType());
  auto cmp = [&](arith::CmpIPredicate predicate, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, predicate, x, y);
  };
  // Unsigned: a negative index is past every size.
  Value ok;
  for (auto [d, i] : llvm::enumerate(indices)) {
    Value size = type.isDynamicDim(d)
                     ? memref::DimOp::create(b, loc, memref, d).getResult()
                     : index(type.getDimSize(d));
    Value last = i;
    if (count && d + 1 == indices.size())
      last = arith::SubIOp::create(
          b, loc, arith::AddIOp::create(b, loc, i, count), index(1));
    Value inside = cmp(arith::CmpIPredicate::ult, last, size);
    if (last != i)
      inside = arith::AndIOp::create(b, loc, inside,
                                     cmp(arith::CmpIPredicate::ule, i, last));
    ok = ok ? arith::AndIOp::create(b, loc, ok, inside).getResult() : inside;
  }
  if (count)
    ok = arith::OrIOp::create(b, loc, ok,
                              cmp(arith::CmpIPredicate::eq, count, index(0)));
  std::string message;
  llvm::raw_string_ostream os(message);
  os << "attn-emulate-gpu: out-of-bounds " << what << " of " << type << " at "
     << loc;
  cf::AssertOp::create(b, loc, ok, message);
}

/// Fails unless `recorded` (a lane, or -1/-2) is -1 or `lane`.
void BlockEmulator::assertNoOtherLane(Value recorded, Value lane, Location loc,
                                      StringRef what) {
  Value none = arith::ConstantIntOp::create(b, loc, b.getI32Type(), -1);
  Value unrecorded =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, recorded, none);
  Value same =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, recorded, lane);
  Value ok = arith::OrIOp::create(b, loc, unrecorded, same);
  assertRaceFree(ok, loc, what + " since the last barrier");
}

void BlockEmulator::assertRaceFree(Value ok, Location loc, const Twine &what) {
  std::string message;
  llvm::raw_string_ostream os(message);
  os << "attn-emulate-gpu: shared-memory race at " << loc << ": " << what;
  cf::AssertOp::create(b, loc, ok, message);
}

/// Asserts that no lane but `lane` wrote `byte` since the last barrier;
/// returns the lane's id.
Value BlockEmulator::checkWriter(Value byte, Value lane, Location loc,
                                 StringRef what) {
  Value id = arith::IndexCastOp::create(b, loc, b.getI32Type(), lane);
  assertNoOtherLane(memref::LoadOp::create(b, loc, writers, byte), id, loc,
                    what);
  return id;
}

void BlockEmulator::recordRead(Value byte, Value lane, Location loc) {
  if (!byte)
    return;
  Value id =
      checkWriter(byte, lane, loc, "a thread reads what another thread wrote");
  // Landed: written by a plain store (-1) or by a group below the landed
  // count.
  Value group = memref::LoadOp::create(b, loc, asyncGroups, byte);
  Value landedGroups = memref::LoadOp::create(b, loc, asyncCounters, index(1));
  Value landed = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                       group, landedGroups);
  assertRaceFree(landed, loc,
                 "a thread reads what a cp.async copy writes whose group was "
                 "not waited for (cp.async.wait_group)");
  if (tensorBarriers) {
    // A TMA copy's bytes: the reader must have waited on its barrier until
    // the phase the copy completes in.
    Value barrier = memref::LoadOp::create(b, loc, tensorBarriers, byte);
    Value zero = arith::ConstantIntOp::create(b, loc, b.getI32Type(), 0);
    Value none = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                       barrier, zero);
    Value row = arith::IndexCastOp::create(
        b, loc, b.getIndexType(), arith::MaxSIOp::create(b, loc, barrier, zero));
    Value seen = memref::LoadOp::create(
        b, loc, barriers, ValueRange{row, laneColumn(kSeen, lane, loc)});
    Value needed = memref::LoadOp::create(b, loc, tensorPhases, byte);
    Value visible = arith::OrIOp::create(
        b, loc, none,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, seen, needed));
    assertRaceFree(visible, loc,
                   "a thread reads what a TMA copy writes before waiting on "
                   "its mbarrier phase (mbarrier.try_wait.parity)");
  }
  Value at = groupByte(arith::DivUIOp::create(b, loc, lane, index(128)), byte,
                       loc);
  Value reader = memref::LoadOp::create(b, loc, readers, at);
  Value none = arith::ConstantIntOp::create(b, loc, b.getI32Type(), -1);
  Value several = arith::ConstantIntOp::create(b, loc, b.getI32Type(), -2);
  Value first =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, reader, none);
  Value same =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, reader, id);
  Value next = arith::SelectOp::create(
      b, loc, arith::OrIOp::create(b, loc, first, same), id, several);
  memref::StoreOp::create(b, loc, next, readers, at);
  if (readTimes) {
    // Only an arrival after this read (a later tick) releases it.
    Value now = memref::LoadOp::create(b, loc, clock, index(0));
    Value one = arith::ConstantIntOp::create(b, loc, b.getI32Type(), 1);
    memref::StoreOp::create(b, loc, arith::AddIOp::create(b, loc, now, one),
                            readTimes, at);
  }
}

void BlockEmulator::recordWrite(Value byte, Value lane, Location loc) {
  if (!byte)
    return;
  Value id = checkWriter(byte, lane, loc, "two threads write the same byte");
  Value group = arith::DivUIOp::create(b, loc, lane, index(128));
  Value none = arith::ConstantIntOp::create(b, loc, b.getI32Type(), -1);
  for (int64_t g = 0; g < getWarpgroups(); ++g) {
    Value at = groupByte(index(g), byte, loc);
    Value reader = memref::LoadOp::create(b, loc, readers, at);
    // The writer's own warpgroup needs a barrier after another lane's read;
    // another warpgroup's read may also be ordered by an mbarrier wait of
    // the writer's that acquired a later arrival of that warpgroup.
    Value ordered = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                          reader, id);
    if (readTimes) {
      Value arrival = memref::LoadOp::create(b, loc, acquired,
                                             ValueRange{lane, index(g)});
      Value released = arith::CmpIOp::create(
          b, loc, arith::CmpIPredicate::sge, arrival,
          memref::LoadOp::create(b, loc, readTimes, at));
      Value own = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                        group, index(g));
      ordered = arith::SelectOp::create(b, loc, own, ordered, released);
    }
    Value ok = arith::OrIOp::create(
        b, loc, ordered,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, reader, none));
    assertRaceFree(ok, loc,
                   Twine("a thread overwrites what another thread read since "
                         "the last barrier") +
                       (readTimes ? " (or, in another warpgroup, before an "
                                    "arrival the writer's mbarrier waits "
                                    "acquired)"
                                  : ""));
  }
  memref::StoreOp::create(b, loc, id, writers, byte);
  memref::StoreOp::create(b, loc, none, asyncGroups, byte);
  if (tensorBarriers)
    memref::StoreOp::create(b, loc, none, tensorBarriers, byte);
}

void BlockEmulator::recordTensorWrite(Value byte, Value lane, Value barrier,
                                      Value phases, Location loc) {
  if (!byte)
    return;
  recordWrite(byte, lane, loc);
  // The async proxy's write is no lane's: the mbarrier, not a barrier,
  // makes it visible.
  Value none = arith::ConstantIntOp::create(b, loc, b.getI32Type(), -1);
  memref::StoreOp::create(b, loc, none, writers, byte);
  memref::StoreOp::create(b, loc, barrier, tensorBarriers, byte);
  memref::StoreOp::create(b, loc, phases, tensorPhases, byte);
}

FailureOr<int64_t> BlockEmulator::allocateBarriers(Operation *op,
                                                   int64_t count) {
  Location loc = op->getLoc();
  if (!barriers) {
    if (b.getInsertionBlock() != entryBlock)
      return op->emitOpError("attn-emulate-gpu: create mbarriers at the "
                             "kernel's top level");
    Type i32 = b.getI32Type();
    barriers = memref::AllocOp::create(
        b, loc, MemRefType::get({kMaxBarriers, kPerLane + 3 * lanes}, i32));
    Value size = memref::DimOp::create(b, loc, sharedMemory, 0);
    auto type = MemRefType::get({ShapedType::kDynamic}, i32);
    tensorBarriers = memref::AllocOp::create(b, loc, type, ValueRange{size});
    tensorPhases = memref::AllocOp::create(b, loc, type, ValueRange{size});
    Value none = arith::ConstantIntOp::create(b, loc, i32, -1);
    buildLoop(b, loc, index(0), size, {}, [&](Value i, ValueRange) {
      memref::StoreOp::create(b, loc, none, tensorBarriers, i);
      return SmallVector<Value>{};
    });
    // Reads recorded before the clock existed count as never released.
    Value groupBytes =
        arith::MulIOp::create(b, loc, size, index(getWarpgroups()));
    readTimes = memref::AllocOp::create(b, loc, type, ValueRange{groupBytes});
    Value never = arith::ConstantIntOp::create(
        b, loc, i32, std::numeric_limits<int32_t>::max());
    buildLoop(b, loc, index(0), groupBytes, {}, [&](Value i, ValueRange) {
      memref::StoreOp::create(b, loc, never, readTimes, i);
      return SmallVector<Value>{};
    });
    Value zero = arith::ConstantIntOp::create(b, loc, i32, 0);
    clock = memref::AllocOp::create(b, loc, MemRefType::get({1}, i32));
    memref::StoreOp::create(b, loc, zero, clock, index(0));
    acquired = memref::AllocOp::create(
        b, loc, MemRefType::get({lanes, getWarpgroups()}, i32));
    buildLoop(b, loc, index(0), index(lanes), {}, [&](Value l, ValueRange) {
      for (int64_t g = 0; g < getWarpgroups(); ++g)
        memref::StoreOp::create(b, loc, zero, acquired,
                                ValueRange{l, index(g)});
      return SmallVector<Value>{};
    });
  }
  if (barrierRows + count > kMaxBarriers)
    return op->emitOpError("attn-emulate-gpu: more than ")
           << kMaxBarriers << " mbarriers in one block";
  int64_t first = barrierRows;
  barrierRows += count;
  return first;
}

Value BlockEmulator::laneColumn(LaneColumn column, Value lane, Location loc) {
  return arith::AddIOp::create(b, loc, lane,
                               index(kPerLane + column * lanes));
}

void BlockEmulator::recordArrival(Value row, Value lane, Value phase,
                                  Location loc) {
  Value one = arith::ConstantIntOp::create(b, loc, b.getI32Type(), 1);
  Value now = arith::AddIOp::create(
      b, loc, memref::LoadOp::create(b, loc, clock, index(0)), one);
  memref::StoreOp::create(b, loc, now, clock, index(0));
  memref::StoreOp::create(b, loc, now, barriers,
                          ValueRange{row, laneColumn(kArrivalTime, lane, loc)});
  memref::StoreOp::create(
      b, loc, phase, barriers,
      ValueRange{row, laneColumn(kArrivalPhase, lane, loc)});
}

void BlockEmulator::recordAcquire(Value row, Value lane, Value phases,
                                  Location loc) {
  buildLoop(b, loc, index(0), index(lanes), {}, [&](Value from, ValueRange) {
    Value time = memref::LoadOp::create(
        b, loc, barriers, ValueRange{row, laneColumn(kArrivalTime, from, loc)});
    Value phase = memref::LoadOp::create(
        b, loc, barriers,
        ValueRange{row, laneColumn(kArrivalPhase, from, loc)});
    // Arrivals for a phase still open order nothing yet.
    Value counted = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                          phase, phases);
    SmallVector<Value> at{lane,
                          arith::DivUIOp::create(b, loc, from, index(128))};
    Value held = memref::LoadOp::create(b, loc, acquired, at);
    Value next = arith::SelectOp::create(
        b, loc, counted, arith::MaxSIOp::create(b, loc, held, time), held);
    memref::StoreOp::create(b, loc, next, acquired, at);
    return SmallVector<Value>{};
  });
}

Value BlockEmulator::entryAlloca(MemRefType type, Location loc) {
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(entryBlock);
  return memref::AllocaOp::create(b, loc, type);
}

Value BlockEmulator::sharedAddress(Value view, Location loc) {
  auto it = sharedOffsets.find(view);
  if (it == sharedOffsets.end())
    return Value();
  return arith::AddIOp::create(b, loc, it->second, index(kSharedBase));
}

Value BlockEmulator::sharedMemoryAs(Type element, Location loc) {
  Value &typed = typedSharedMemory[element];
  if (!typed) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointAfterValue(sharedMemory);
    if (isa<BlockArgument>(sharedMemory))
      b.setInsertionPointToStart(entryBlock);
    int64_t bytes = element.getIntOrFloatBitWidth() / 8;
    Value size = arith::DivUIOp::create(
        b, loc, memref::DimOp::create(b, loc, sharedMemory, 0), index(bytes));
    typed = memref::ViewOp::create(
        b, loc, MemRefType::get({ShapedType::kDynamic}, element), sharedMemory,
        index(0), ValueRange{size});
  }
  return typed;
}

void BlockEmulator::recordAsyncWrite(Value byte, Value lane, Location loc) {
  if (!byte)
    return;
  recordWrite(byte, lane, loc);
  memref::StoreOp::create(
      b, loc, memref::LoadOp::create(b, loc, asyncCounters, index(0)),
      asyncGroups, byte);
}

void BlockEmulator::commitAsyncGroup(Location loc) {
  Value committed = memref::LoadOp::create(b, loc, asyncCounters, index(0));
  memref::StoreOp::create(
      b, loc,
      arith::AddIOp::create(
          b, loc, committed,
          arith::ConstantIntOp::create(b, loc, b.getI32Type(), 1)),
      asyncCounters, index(0));
}

void BlockEmulator::waitAsyncGroups(int64_t pending, Location loc) {
  Value committed = memref::LoadOp::create(b, loc, asyncCounters, index(0));
  Value landed = memref::LoadOp::create(b, loc, asyncCounters, index(1));
  Value upTo = arith::SubIOp::create(
      b, loc, committed,
      arith::ConstantIntOp::create(b, loc, b.getI32Type(), pending));
  memref::StoreOp::create(b, loc, arith::MaxSIOp::create(b, loc, landed, upTo),
                          asyncCounters, index(1));
}

//===----------------------------------------------------------------------===//
// Values and lanes
//===----------------------------------------------------------------------===//

Value BlockEmulator::uniform(Value v, Location loc) {
  Value all = lanesOf(v);
  Value first = vector::ExtractOp::create(b, loc, all, 0);
  if (activeLanes && first.getType().isIntOrIndex())
    return uniformOverActiveLanes(all, first, loc);
  if (first.getType().isIntOrIndex()) {
    Value same = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq, all,
        vector::BroadcastOp::create(b, loc, all.getType(), first));
    Value allSame =
        vector::ReductionOp::create(b, loc, vector::CombiningKind::AND, same);
    std::string message;
    llvm::raw_string_ostream os(message);
    os << "attn-emulate-gpu: control flow diverges across the block at " << loc;
    cf::AssertOp::create(b, loc, allSame, message);
  }
  return first;
}

void BlockEmulator::assertWholeWarps(Operation *op) {
  if (!activeLanes)
    return;
  Location loc = op->getLoc();
  std::string message;
  llvm::raw_string_ostream os(message);
  os << "attn-emulate-gpu: some lanes of a warp execute the "
     << op->getName() << " at " << loc << " and others do not";
  for (int64_t w = 0; w < lanes / kWarpSize; ++w) {
    Value warp = vector::ExtractStridedSliceOp::create(
        b, loc, activeLanes, ArrayRef<int64_t>{w * kWarpSize},
        ArrayRef<int64_t>{kWarpSize}, ArrayRef<int64_t>{1});
    Value any =
        vector::ReductionOp::create(b, loc, vector::CombiningKind::OR, warp);
    Value all =
        vector::ReductionOp::create(b, loc, vector::CombiningKind::AND, warp);
    cf::AssertOp::create(
        b, loc, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, any, all),
        message);
  }
}

void BlockEmulator::assertWholeBlock(Operation *op) {
  if (!activeLanes)
    return;
  Location loc = op->getLoc();
  std::string message;
  llvm::raw_string_ostream os(message);
  os << "attn-emulate-gpu: only some threads of the block reach the "
     << op->getName() << " at " << loc
     << ", which on a GPU waits for all of them";
  cf::AssertOp::create(
      b, loc,
      vector::ReductionOp::create(b, loc, vector::CombiningKind::AND,
                                  activeLanes),
      message);
}

/// A divergent branch's loop bounds need only agree across its lanes (a
/// producer warpgroup's loop is not its consumers').
Value BlockEmulator::uniformOverActiveLanes(Value all, Value first,
                                            Location loc) {
  Type i64 = b.getI64Type();
  auto wide = VectorType::get({lanes}, i64);
  Value values = all;
  if (first.getType().isIndex())
    values = arith::IndexCastOp::create(b, loc, wide, all);
  else if (first.getType().getIntOrFloatBitWidth() < 64)
    values = arith::ExtSIOp::create(b, loc, wide, all);
  auto splat = [&](int64_t v) {
    return arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(wide, b.getI64IntegerAttr(v)));
  };
  auto reduce = [&](vector::CombiningKind kind, int64_t inactive) {
    return vector::ReductionOp::create(
        b, loc, kind,
        arith::SelectOp::create(b, loc, activeLanes, values,
                                splat(inactive)));
  };
  Value lo = reduce(vector::CombiningKind::MINSI,
                    std::numeric_limits<int64_t>::max());
  Value hi = reduce(vector::CombiningKind::MAXSI,
                    std::numeric_limits<int64_t>::min());
  Value any =
      vector::ReductionOp::create(b, loc, vector::CombiningKind::OR, activeLanes);
  Value none = arith::XOrIOp::create(
      b, loc, any, arith::ConstantIntOp::create(b, loc, 1, 1));
  Value same = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lo, hi);
  Value agree = arith::OrIOp::create(b, loc, none, same);
  std::string message;
  llvm::raw_string_ostream os(message);
  os << "attn-emulate-gpu: control flow diverges across the block at " << loc;
  cf::AssertOp::create(b, loc, agree, message);
  Value value = lo;
  if (first.getType().isIndex())
    value = arith::IndexCastOp::create(b, loc, first.getType(), lo);
  else if (first.getType() != i64)
    value = arith::TruncIOp::create(b, loc, first.getType(), lo);
  return arith::SelectOp::create(b, loc, any, value, first);
}

Value BlockEmulator::constantLanes(Type type, Location loc,
                                   function_ref<int64_t(int64_t)> value) {
  SmallVector<Attribute> values;
  for (int64_t i = 0; i < lanes; ++i)
    values.push_back(IntegerAttr::get(type, value(i)));
  return arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(VectorType::get({lanes}, type), values));
}

Value BlockEmulator::broadcast(Value scalar, Location loc) {
  return vector::BroadcastOp::create(
      b, loc, VectorType::get({lanes}, scalar.getType()), scalar);
}

Value BlockEmulator::broadcastTo(Value x, VectorType like, Location loc) {
  auto type = cast<VectorType>(x.getType());
  if (type.getShape() == like.getShape())
    return x;
  return vector::BroadcastOp::create(
      b, loc, VectorType::get(like.getShape(), type.getElementType()), x);
}

Value BlockEmulator::zeros(Type type, Location loc) {
  auto vector = cast<VectorType>(type);
  return arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(vector, b.getZeroAttr(vector.getElementType())));
}

void BlockEmulator::forEachLane(Location loc,
                                function_ref<void(Value lane)> body) {
  buildLoop(b, loc, index(0), index(lanes), {},
            [&](Value lane, ValueRange) -> SmallVector<Value> {
              if (!activeLanes) {
                body(lane);
                return {};
              }
              Value active = vector::ExtractOp::create(
                  b, loc, activeLanes, ArrayRef<OpFoldResult>{lane});
              auto ifActive = scf::IfOp::create(b, loc, active,
                                                /*withElseRegion=*/false);
              OpBuilder::InsertionGuard guard(b);
              b.setInsertionPoint(ifActive.thenBlock()->getTerminator());
              body(lane);
              return {};
            });
}

Value BlockEmulator::gatherLanes(
    Location loc, Type type,
    function_ref<SmallVector<Value>(Value lane)> body) {
  auto vector = dyn_cast<VectorType>(type);
  int64_t count = vector ? vector.getDimSize(0) : 1;
  Type element = getElementTypeOrSelf(type);
  // LLVM packs an i1 vector's bits in memory while a memref of i1 takes a
  // byte per element: i1 lanes go through an i8 scratch (e.g. a block-sparse
  // layout's flags, which would otherwise load as other lanes' bits).
  bool bits = element.isInteger(1);
  Type stored = bits ? b.getI8Type() : element;
  Value scratch = memref::AllocaOp::create(
      b, loc, MemRefType::get({count, lanes}, stored));
  Value zero = arith::ConstantOp::create(
      b, loc,
      cast<TypedAttr>(b.getZeroAttr(VectorType::get({lanes}, stored))));
  for (int64_t e = 0; e < count; ++e)
    vector::StoreOp::create(b, loc, zero, scratch,
                            ValueRange{index(e), index(0)});
  forEachLane(loc, [&](Value lane) {
    for (auto [e, x] : llvm::enumerate(body(lane))) {
      if (bits)
        x = arith::ExtUIOp::create(b, loc, stored, x);
      memref::StoreOp::create(b, loc, x, scratch, ValueRange{index(e), lane});
    }
  });
  Value result = zeros(laneType(type, lanes), loc);
  for (int64_t e = 0; e < count; ++e) {
    Value row =
        vector::LoadOp::create(b, loc, VectorType::get({lanes}, stored),
                               scratch, ValueRange{index(e), index(0)});
    if (bits)
      row = arith::TruncIOp::create(b, loc, VectorType::get({lanes}, element),
                                    row);
    if (!vector)
      return row;
    result = vector::InsertOp::create(b, loc, row, result, e);
  }
  return result;
}

SmallVector<Value> BlockEmulator::laneIndices(ValueRange indices, Value lane,
                                              Location loc) {
  SmallVector<Value> at;
  for (Value index : indices)
    at.push_back(vector::ExtractOp::create(b, loc, lanesOf(index),
                                           ArrayRef<OpFoldResult>{lane}));
  return at;
}

Value BlockEmulator::laneElement(Value all, ArrayRef<int64_t> position,
                                 Value lane, Location loc) {
  SmallVector<OpFoldResult> at =
      getAsIndexOpFoldResult(b.getContext(), position);
  at.push_back(lane);
  return vector::ExtractOp::create(b, loc, all, at);
}

//===----------------------------------------------------------------------===//
// Ops
//===----------------------------------------------------------------------===//

LogicalResult BlockEmulator::emulateBlock(Block &block) {
  for (Operation &op : block.without_terminator())
    if (failed(emulate(&op)))
      return failure();
  return success();
}

LogicalResult BlockEmulator::checkRetired(Operation *user, ValueRange values) {
  for (Value v : values)
    if (asyncResults.inFlight(v))
      return user->emitOpError(
          "attn-emulate-gpu: reads a wgmma result before a wgmma.wait.group "
          "retires its group (on a GPU, registers the product still writes)");
  return success();
}

LogicalResult BlockEmulator::emulate(Operation *op) {
  if (auto forOp = dyn_cast<scf::ForOp>(op))
    return emulateFor(forOp);
  if (auto ifOp = dyn_cast<scf::IfOp>(op))
    return emulateIf(ifOp);
  // A shape cast renames registers: its result is in flight with its
  // source.
  if (auto cast = dyn_cast<vector::ShapeCastOp>(op))
    asyncResults.alias(cast.getResult(), cast.getSource());
  else if (!hooks.isAsynchronous(op) &&
           failed(checkRetired(op, op->getOperands())))
    return failure();
  if (const EmulationHook *hook = hooks.lookup(op))
    return (*hook)(*this, op);
  if (OpTrait::hasElementwiseMappableTraits(op) && op->getNumResults() > 0)
    return emulateElementwise(op);
  return op->emitOpError("attn-emulate-gpu: cannot emulate this op");
}

LogicalResult BlockEmulator::emulateElementwise(Operation *op) {
  SmallVector<Type> types;
  for (Type type : op->getResultTypes()) {
    Type converted = laneType(type, lanes);
    if (!converted || isa<MemRefType>(converted))
      return op->emitOpError("attn-emulate-gpu: cannot emulate results of "
                             "type ")
             << type;
    types.push_back(converted);
  }
  auto resultShape = cast<VectorType>(types.front());
  SmallVector<Value> operands;
  for (Value operand : op->getOperands())
    operands.push_back(
        broadcastTo(lanesOf(operand), resultShape, op->getLoc()));
  OperationState state(op->getLoc(), op->getName(), operands, types,
                       op->getAttrs());
  Operation *emulated = b.create(state);
  map.map(op->getResults(), emulated->getResults());
  return success();
}

/// Whether `v` is the result of an asynchronous product, possibly renamed.
static bool isProduct(Value v, const EmulationHooks &hooks) {
  while (auto cast = v.getDefiningOp<vector::ShapeCastOp>())
    v = cast.getSource();
  return hooks.isAsynchronous(v.getDefiningOp());
}

LogicalResult BlockEmulator::emulateFor(scf::ForOp op) {
  Location loc = op.getLoc();
  // A loop either chains products across its iterations into the open
  // group (no commit or wait in it: its carried products stay in flight),
  // or retires within each iteration what it issues.
  bool groups = op.getBody()
                    ->walk([&](Operation *inner) {
                      return hooks.isGroupOp(inner) ? WalkResult::interrupt()
                                                    : WalkResult::advance();
                    })
                    .wasInterrupted();
  if (failed(checkRetired(op, {op.getLowerBound(), op.getUpperBound(),
                               op.getStep()})) ||
      (groups && failed(checkRetired(op, op.getInitArgs()))))
    return failure();
  SmallVector<Value> init;
  for (Value v : op.getInitArgs())
    init.push_back(lanesOf(v));
  Value lo = uniform(op.getLowerBound(), loc);
  Value hi = uniform(op.getUpperBound(), loc);
  Value step = uniform(op.getStep(), loc);
  LogicalResult result = success();
  auto loop = scf::ForOp::create(
      b, loc, lo, hi, step, init,
      [&](OpBuilder &nb, Location, Value iv, ValueRange args) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        map.map(op.getInductionVar(),
                vector::BroadcastOp::create(b, loc,
                                            laneType(iv.getType(), lanes), iv));
        map.map(op.getRegionIterArgs(), args);
        if (!groups)
          for (auto [arg, initial, next] :
               llvm::zip(op.getRegionIterArgs(), op.getInitArgs(),
                         op.getYieldedValues()))
            if (asyncResults.inFlight(initial) || isProduct(next, hooks))
              asyncResults.issue(arg);
        result = emulateBlock(*op.getBody());
        if (groups && succeeded(result) && asyncResults.any())
          result = op.emitOpError(
              "attn-emulate-gpu: a wgmma group is still in flight at the end "
              "of the loop body: retire it (wgmma.wait.group) within the "
              "iteration");
        SmallVector<Value> yielded;
        for (Value v : op.getBody()->getTerminator()->getOperands())
          yielded.push_back(lanesOf(v));
        scf::YieldOp::create(b, loc, yielded);
      });
  map.map(op.getResults(), loop.getResults());
  for (auto [result, next] : llvm::zip(op.getResults(), op.getYieldedValues()))
    asyncResults.alias(result, next);
  return result;
}

LogicalResult BlockEmulator::emulateIf(scf::IfOp op) {
  Location loc = op.getLoc();
  if (splitsRoles(op))
    return emulateRoles(op);
  if (op.getNumResults() == 0) {
    // Possibly divergent: each branch runs with its lanes active.
    Value condition = lanesOf(op.getCondition());
    Value outer = activeLanes;
    Value ones = arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(cast<VectorType>(condition.getType()),
                               b.getBoolAttr(true)));
    Value taken[2] = {condition,
                      arith::XOrIOp::create(b, loc, condition, ones)};
    Region *branches[2] = {&op.getThenRegion(), &op.getElseRegion()};
    AsyncResults before = asyncResults.snapshot(), afterThen;
    for (int i = 0; i < 2; ++i) {
      if (i == 1) {
        afterThen = asyncResults.snapshot();
        asyncResults.restore(before);
      }
      if (branches[i]->empty())
        continue;
      activeLanes =
          outer ? arith::AndIOp::create(b, loc, outer, taken[i]) : taken[i];
      if (failed(emulateBlock(branches[i]->front())))
        return failure();
    }
    activeLanes = outer;
    return mergeBranches(op, afterThen);
  }
  // With results: uniform.
  SmallVector<Type> types;
  for (Type type : op.getResultTypes())
    types.push_back(laneType(type, lanes));
  auto emulated =
      scf::IfOp::create(b, loc, types, uniform(op.getCondition(), loc),
                        /*withElseRegion=*/true);
  Region *from[2] = {&op.getThenRegion(), &op.getElseRegion()};
  Block *to[2] = {emulated.thenBlock(), emulated.elseBlock()};
  AsyncResults before = asyncResults.snapshot(), afterThen;
  for (int i = 0; i < 2; ++i) {
    if (i == 1) {
      afterThen = asyncResults.snapshot();
      asyncResults.restore(before);
    }
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(to[i]);
    if (failed(emulateBlock(from[i]->front())))
      return failure();
    SmallVector<Value> yielded;
    for (Value v : from[i]->front().getTerminator()->getOperands())
      yielded.push_back(lanesOf(v));
    scf::YieldOp::create(b, loc, yielded);
  }
  // A result is in flight if either branch yields it in flight.
  for (auto [result, thenValue, elseValue] :
       llvm::zip(op.getResults(), op.thenYield().getOperands(),
                 op.elseYield().getOperands())) {
    asyncResults.alias(result, elseValue);
    asyncResults.aliasFrom(afterThen, result, thenValue);
  }
  map.map(op.getResults(), emulated.getResults());
  return mergeBranches(op, afterThen);
}

LogicalResult BlockEmulator::mergeBranches(scf::IfOp op,
                                           const AsyncResults &afterThen) {
  if (!asyncResults.merge(afterThen))
    return op.emitOpError("attn-emulate-gpu: the branches commit different "
                          "numbers of wgmma groups that are still in flight "
                          "after them: retire them in the branch");
  return success();
}

} // namespace gpu_emulation
} // namespace attn
