//===- EmulateMemory.cpp - memref and vector loads, stores and views ------===//
//
// Memrefs are shared by the lanes (global memory, or the block's shared
// memory), so views and sizes are uniform; loads and stores go lane by
// lane, and those to shared memory are recorded for the race checker.
//
//===----------------------------------------------------------------------===//

#include "BlockEmulator.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/SymbolTable.h"

using namespace mlir;

namespace attn {
namespace gpu_emulation {

namespace {
/// Host copies of the kernel module's globals.
struct HostGlobals : EmulationState {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(HostGlobals)
  llvm::DenseMap<Operation *, StringAttr> names;
};
} // namespace

static LogicalResult emulateView(BlockEmulator &e, memref::ViewOp view) {
  Location loc = view.getLoc();
  SmallVector<Value> sizes;
  for (Value size : view.getSizes())
    sizes.push_back(e.uniform(size, loc));
  auto type = cast<MemRefType>(laneType(view.getType(), e.getLanes()));
  Value shift = e.uniform(view.getByteShift(), loc);
  Value source = e.lanesOf(view.getSource());
  Value result =
      memref::ViewOp::create(e.getBuilder(), loc, type, source, shift, sizes);
  e.mapLanes(view.getResult(), result);
  e.mapSharedView(result, source, shift, loc);
  return success();
}

/// Globals of the kernel's module (constant tables) get a copy in the host
/// module, renamed if the name is taken.
static LogicalResult emulateGetGlobal(BlockEmulator &e,
                                      memref::GetGlobalOp get) {
  auto global = SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(
      get, get.getNameAttr());
  if (!global)
    return get.emitOpError("attn-emulate-gpu: no global named ")
           << get.getNameAttr();
  OpBuilder &b = e.getBuilder();
  StringAttr &copyName = e.getState<HostGlobals>().names[global];
  // The symbol table inserts the copy: a clone placed first would sit in
  // the module under a taken name (another kernel's copy) until renamed.
  if (!copyName)
    copyName = SymbolTable(e.getModule())
                   .insert(global->clone(), e.getModule().getBody()->begin());
  e.mapLanes(get.getResult(), memref::GetGlobalOp::create(
                                  b, get.getLoc(), get.getType(), copyName));
  return success();
}

static LogicalResult emulateVectorLoad(BlockEmulator &e, vector::LoadOp load) {
  VectorType type = load.getVectorType();
  if (type.getRank() != 1)
    return load.emitOpError("attn-emulate-gpu: only 1-D loads");
  OpBuilder &b = e.getBuilder();
  Location loc = load.getLoc();
  e.mapLanes(load.getResult(), e.gatherLanes(loc, type, [&](Value lane) {
    Value base = e.lanesOf(load.getBase());
    SmallVector<Value> at = e.laneIndices(load.getIndices(), lane, loc);
    e.assertInBounds(base, at, e.index(type.getDimSize(0)), loc, "read");
    if (Value byte = e.sharedByte(base, at, loc)) {
      int64_t bytes = type.getElementTypeBitWidth() / 8;
      for (int64_t i = 0; i < type.getDimSize(0); ++i)
        e.recordRead(arith::AddIOp::create(b, loc, byte, e.index(i * bytes)),
                     lane, loc);
    }
    Value x = vector::LoadOp::create(b, loc, type, base, at);
    SmallVector<Value> elements;
    for (int64_t i = 0; i < type.getDimSize(0); ++i)
      elements.push_back(vector::ExtractOp::create(b, loc, x, i));
    return elements;
  }));
  return success();
}

static LogicalResult emulateMaskedStore(BlockEmulator &e,
                                        vector::MaskedStoreOp store) {
  VectorType type = store.getVectorType();
  if (type.getRank() != 1)
    return store.emitOpError("attn-emulate-gpu: only 1-D stores");
  OpBuilder &b = e.getBuilder();
  Location loc = store.getLoc();
  e.forEachLane(loc, [&](Value lane) {
    SmallVector<Value> values, mask;
    SmallVector<Value> at = e.laneIndices(store.getIndices(), lane, loc);
    Value base = e.lanesOf(store.getBase());
    // Masked-off elements are not accessed: the write reaches up to the
    // last element on, none if every element is off.
    Value count = e.index(0);
    for (int64_t i = 0; i < type.getDimSize(0); ++i) {
      values.push_back(
          e.laneElement(e.lanesOf(store.getValueToStore()), {i}, lane, loc));
      mask.push_back(e.laneElement(e.lanesOf(store.getMask()), {i}, lane, loc));
      count =
          arith::SelectOp::create(b, loc, mask.back(), e.index(i + 1), count);
    }
    e.assertInBounds(base, at, count, loc, "write");
    Value maskVector = vector::FromElementsOp::create(
        b, loc, VectorType::get(type.getShape(), b.getI1Type()), mask);
    Value valueVector = vector::FromElementsOp::create(b, loc, type, values);
    vector::MaskedStoreOp::create(b, loc, base, at, maskVector, valueVector);
  });
  return success();
}

void registerMemoryHooks(EmulationHooks &hooks) {
  hooks.add<memref::ViewOp>(emulateView);
  hooks.add<memref::DimOp>([](BlockEmulator &e, memref::DimOp dim) {
    Location loc = dim.getLoc();
    Value size =
        memref::DimOp::create(e.getBuilder(), loc, e.lanesOf(dim.getSource()),
                              e.uniform(dim.getIndex(), loc));
    e.mapLanes(dim.getResult(), e.broadcast(size, loc));
    return success();
  });
  hooks.add<memref::GetGlobalOp>(emulateGetGlobal);
  // Shared-memory addresses (wgmma descriptors are built from them).
  hooks.add<memref::ExtractAlignedPointerAsIndexOp>(
      [](BlockEmulator &e,
         memref::ExtractAlignedPointerAsIndexOp op) -> LogicalResult {
        Location loc = op.getLoc();
        Value address = e.sharedAddress(e.lanesOf(op.getSource()), loc);
        if (!address)
          return op.emitOpError("attn-emulate-gpu: only shared-memory "
                                "addresses are emulated");
        e.mapLanes(op.getResult(), e.broadcast(address, loc));
        return success();
      });
  hooks.add<memref::LoadOp>([](BlockEmulator &e, memref::LoadOp load) {
    Location loc = load.getLoc();
    e.mapLanes(
        load.getResult(), e.gatherLanes(loc, load.getType(), [&](Value lane) {
          Value memref = e.lanesOf(load.getMemRef());
          SmallVector<Value> at = e.laneIndices(load.getIndices(), lane, loc);
          e.assertInBounds(memref, at, Value(), loc, "read");
          e.recordRead(e.sharedByte(memref, at, loc), lane, loc);
          return SmallVector<Value>{
              memref::LoadOp::create(e.getBuilder(), loc, memref, at)};
        }));
    return success();
  });
  hooks.add<memref::StoreOp>([](BlockEmulator &e, memref::StoreOp store) {
    Location loc = store.getLoc();
    e.forEachLane(loc, [&](Value lane) {
      Value memref = e.lanesOf(store.getMemRef());
      SmallVector<Value> at = e.laneIndices(store.getIndices(), lane, loc);
      e.assertInBounds(memref, at, Value(), loc, "write");
      e.recordWrite(e.sharedByte(memref, at, loc), lane, loc);
      memref::StoreOp::create(
          e.getBuilder(), loc,
          e.laneElement(e.lanesOf(store.getValue()), {}, lane, loc), memref,
          at);
    });
    return success();
  });
  hooks.add<vector::LoadOp>(emulateVectorLoad);
  hooks.add<vector::MaskedStoreOp>(emulateMaskedStore);
}

} // namespace gpu_emulation
} // namespace attn
