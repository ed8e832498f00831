//===- EmulateAsyncCopy.cpp - cp.async copies, groups and waits -----------===//
//
// An asynchronous copy completes when it is issued and counts as the
// issuing lane's write for the race checker, which also tracks commit
// groups and waits: a read of a copy's bytes before a wait that covers its
// group fails.
//
//===----------------------------------------------------------------------===//

#include "BlockEmulator.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace attn {
namespace gpu_emulation {

/// Copies dstElements elements; those past srcElements are zero.
static LogicalResult emulateAsyncCopy(BlockEmulator &e,
                                      nvgpu::DeviceAsyncCopyOp copy) {
  OpBuilder &b = e.getBuilder();
  Location loc = copy.getLoc();
  int64_t count = copy.getDstElements().getZExtValue();
  auto dstType = cast<MemRefType>(e.lanesOf(copy.getDst()).getType());
  Type element = dstType.getElementType();
  e.forEachLane(loc, [&](Value lane) {
    SmallVector<Value> src = e.laneIndices(copy.getSrcIndices(), lane, loc);
    SmallVector<Value> dst = e.laneIndices(copy.getDstIndices(), lane, loc);
    Value available = e.index(count);
    if (Value srcElements = copy.getSrcElements())
      available = vector::ExtractOp::create(b, loc, e.lanesOf(srcElements),
                                            ArrayRef<OpFoldResult>{lane});
    // The copy reads its first `available` source elements (none: no
    // read) and writes all `count` destination elements.
    e.assertInBounds(e.lanesOf(copy.getSrc()), src, available, loc,
                     "cp.async read");
    e.assertInBounds(e.lanesOf(copy.getDst()), dst, e.index(count), loc,
                     "cp.async write");
    for (int64_t i = 0; i < count; ++i) {
      Value inside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                           e.index(i), available);
      auto ifInside = scf::IfOp::create(b, loc, element, inside, true);
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(ifInside.thenBlock());
        SmallVector<Value> at = src;
        at.back() = arith::AddIOp::create(b, loc, at.back(), e.index(i));
        scf::YieldOp::create(b, loc,
                             ValueRange{memref::LoadOp::create(
                                 b, loc, e.lanesOf(copy.getSrc()), at)});
        b.setInsertionPointToStart(ifInside.elseBlock());
        scf::YieldOp::create(
            b, loc,
            ValueRange{arith::ConstantOp::create(
                b, loc, cast<TypedAttr>(b.getZeroAttr(element)))});
      }
      SmallVector<Value> at = dst;
      at.back() = arith::AddIOp::create(b, loc, at.back(), e.index(i));
      e.recordAsyncWrite(e.sharedByte(e.lanesOf(copy.getDst()), at, loc),
                         lane, loc);
      memref::StoreOp::create(b, loc, ifInside.getResult(0),
                              e.lanesOf(copy.getDst()), at);
    }
  });
  return success();
}

void registerAsyncCopyHooks(EmulationHooks &hooks) {
  hooks.add<nvgpu::DeviceAsyncCopyOp>(emulateAsyncCopy);
  hooks.add<nvgpu::DeviceAsyncCreateGroupOp, NVVM::CpAsyncCommitGroupOp>(
      [](BlockEmulator &e, Operation *op) {
        e.commitAsyncGroup(op->getLoc());
        return success();
      });
  hooks.add<NVVM::CpAsyncWaitGroupOp>(
      [](BlockEmulator &e, NVVM::CpAsyncWaitGroupOp wait) {
        e.waitAsyncGroups(wait.getN(), wait.getLoc());
        return success();
      });
  hooks.add<nvgpu::DeviceAsyncWaitOp>(
      [](BlockEmulator &e, nvgpu::DeviceAsyncWaitOp wait) {
        e.waitAsyncGroups(wait.getNumGroups().value_or(0), wait.getLoc());
        return success();
      });
}

} // namespace gpu_emulation
} // namespace attn
