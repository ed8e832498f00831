//===- BarrierRow.h - One mbarrier of the emulated block --------*- C++ -*-===//
//
// Reads and updates of one row of the block's mbarrier table
// (BlockEmulator.h), shared by the mbarrier and TMA hooks.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_CONVERSION_GPUEMULATION_BARRIERROW_H
#define ATTN_CONVERSION_GPUEMULATION_BARRIERROW_H

#include "BlockEmulator.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"

namespace attn {
namespace gpu_emulation {

/// Loads and stores of one barrier's row.
struct BarrierRow {
  BlockEmulator &e;
  mlir::Value row;
  mlir::Location loc;

  mlir::Value load(mlir::Value column) {
    return mlir::memref::LoadOp::create(e.getBuilder(), loc,
                                        e.getBarrierTable(),
                                        mlir::ValueRange{row, column});
  }
  mlir::Value load(int64_t column) { return load(e.index(column)); }
  void store(mlir::Value x, mlir::Value column) {
    mlir::memref::StoreOp::create(e.getBuilder(), loc, x, e.getBarrierTable(),
                                  mlir::ValueRange{row, column});
  }
  void store(mlir::Value x, int64_t column) { store(x, e.index(column)); }
  mlir::Value i32(int64_t v) {
    return mlir::arith::ConstantIntOp::create(e.getBuilder(), loc,
                                              e.getBuilder().getI32Type(), v);
  }
  mlir::Value add(int64_t column, mlir::Value delta) {
    mlir::Value next =
        mlir::arith::AddIOp::create(e.getBuilder(), loc, load(column), delta);
    store(next, column);
    return next;
  }

  /// Completes the phase when no arrival and no byte is pending: the
  /// phase count advances and the arrivals are expected anew.
  void completeIfDone() {
    mlir::OpBuilder &b = e.getBuilder();
    mlir::Value zero = i32(0);
    mlir::Value noArrival = mlir::arith::CmpIOp::create(
        b, loc, mlir::arith::CmpIPredicate::eq, load(kPending), zero);
    mlir::Value noByte = mlir::arith::CmpIOp::create(
        b, loc, mlir::arith::CmpIPredicate::eq, load(kTransactionBytes), zero);
    mlir::Value done = mlir::arith::AndIOp::create(b, loc, noArrival, noByte);
    auto ifDone =
        mlir::scf::IfOp::create(b, loc, done, /*withElseRegion=*/false);
    mlir::OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifDone.thenBlock()->getTerminator());
    add(kPhases, i32(1));
    store(load(kExpected), kPending);
  }

  /// `bytes` of the phase's transactions have landed.
  void completeTransaction(mlir::Value bytes) {
    add(kTransactionBytes,
        mlir::arith::SubIOp::create(e.getBuilder(), loc, i32(0), bytes));
    completeIfDone();
  }

  /// One arrival; a barrier with none pending has not been initialized
  /// for this phase (more arrivals than its count).
  void arrive(mlir::Value count) {
    mlir::OpBuilder &b = e.getBuilder();
    mlir::Value pending = load(kPending);
    std::string message;
    llvm::raw_string_ostream os(message);
    os << "attn-emulate-gpu: mbarrier arrive at " << loc
       << " on a barrier with no arrival pending (not initialized, or "
          "more arrivals than its count)";
    mlir::cf::AssertOp::create(
        b, loc,
        mlir::arith::CmpIOp::create(b, loc, mlir::arith::CmpIPredicate::sge,
                                    pending, count),
        message);
    store(mlir::arith::SubIOp::create(b, loc, pending, count), kPending);
    completeIfDone();
  }

  static constexpr int64_t kPending = BlockEmulator::kPending;
  static constexpr int64_t kExpected = BlockEmulator::kExpected;
  static constexpr int64_t kTransactionBytes = BlockEmulator::kTransactionBytes;
  static constexpr int64_t kPhases = BlockEmulator::kPhases;
};

/// Whether every active lane's `wait` would pass now (i1), without
/// waiting: the roles' scheduler (EmulateRoles.cpp) runs a role's step
/// only then.
mlir::Value mbarrierWaitPasses(BlockEmulator &e,
                               mlir::nvgpu::MBarrierTryWaitParityOp wait);

} // namespace gpu_emulation
} // namespace attn

#endif // ATTN_CONVERSION_GPUEMULATION_BARRIERROW_H
