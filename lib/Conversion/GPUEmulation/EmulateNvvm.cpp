//===- EmulateNvvm.cpp - NVVM warp collectives and register budgets -------===//
//
// redux.sync: each warp's lanes reduce to one value all of them get.
// setmaxnreg: a warpgroup's register count moves within the block's file of
// 64K registers; the counts start at the kernel's nvvm.maxnreg (required),
// and a request the file cannot hold, an increase that lowers the count (or
// a decrease that raises it), or a warpgroup that does not execute it whole
// stops the run.
//
//===----------------------------------------------------------------------===//

#include "BlockEmulator.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;

namespace attn {
namespace gpu_emulation {

static LogicalResult emulateRedux(BlockEmulator &e, NVVM::ReduxOp redux) {
  bool isMin = redux.getKind() == NVVM::ReduxKind::MIN;
  if ((!isMin && redux.getKind() != NVVM::ReduxKind::MAX) ||
      !redux.getVal().getType().isInteger(32))
    return redux.emitOpError("attn-emulate-gpu: only i32 min and max "
                             "reductions are emulated");
  e.assertWholeWarps(redux);
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

namespace {
constexpr int64_t kRegisterFile = 65536, kWarpgroupThreads = 128;

/// Per warpgroup, its registers per thread (memref<G x i32>).
struct RegisterBudget : EmulationState {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(RegisterBudget)
  Value counts;
};
} // namespace

static void assertAt(OpBuilder &b, Location loc, Value ok, const Twine &what) {
  cf::AssertOp::create(b, loc, ok,
                       ("attn-emulate-gpu: setmaxnreg at " +
                        llvm::formatv("{0}", loc) + ": " + what)
                           .str());
}

static LogicalResult emulateSetMaxRegister(BlockEmulator &e,
                                           NVVM::SetMaxRegisterOp op) {
  int64_t lanes = e.getLanes();
  if (lanes % kWarpgroupThreads != 0)
    return op.emitOpError("attn-emulate-gpu: setmaxnreg needs whole "
                          "warpgroups, and the block has ")
           << lanes << " threads";
  OpBuilder &b = e.getBuilder();
  Location loc = op.getLoc();
  Type i32 = b.getI32Type();
  auto c32 = [&](int64_t v) { return arith::ConstantIntOp::create(b, loc, i32, v); };
  int64_t groups = lanes / kWarpgroupThreads;
  RegisterBudget &budget = e.getState<RegisterBudget>();
  if (!budget.counts) {
    // The count at launch is the kernel's .maxnreg: without one ptxas
    // cannot tell what setmaxnreg moves from, and drops it.
    auto maxnreg = e.getKernel()->getAttrOfType<IntegerAttr>(
        NVVM::NVVMDialect::getMaxnregAttrName());
    if (!maxnreg)
      return op.emitOpError("attn-emulate-gpu: setmaxnreg needs the "
                            "kernel's ")
             << NVVM::NVVMDialect::getMaxnregAttrName()
             << " (its registers at launch); without it ptxas drops the "
                "setmaxnreg";
    int64_t launch = maxnreg.getInt();
    if (launch * lanes > kRegisterFile)
      return op.emitOpError("attn-emulate-gpu: the kernel's ")
             << NVVM::NVVMDialect::getMaxnregAttrName() << " of " << launch
             << " registers for " << lanes
             << " threads is more than a multiprocessor's 64K: the launch "
                "would fail";
    budget.counts = e.entryAlloca(MemRefType::get({groups}, i32), loc);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointAfterValue(budget.counts);
    for (int64_t g = 0; g < groups; ++g)
      memref::StoreOp::create(b, loc, c32(launch), budget.counts, e.index(g));
  }
  bool increase = op.getAction() == NVVM::SetMaxRegisterAction::increase;
  Value requested = c32(op.getRegCount());
  Value active = e.getActiveLanes();
  for (int64_t g = 0; g < groups; ++g) {
    Value on = arith::ConstantIntOp::create(b, loc, 1, 1);
    if (active) {
      Value slice = vector::ExtractStridedSliceOp::create(
          b, loc, active, ArrayRef<int64_t>{g * kWarpgroupThreads},
          ArrayRef<int64_t>{kWarpgroupThreads}, ArrayRef<int64_t>{1});
      on = vector::ReductionOp::create(b, loc, vector::CombiningKind::OR,
                                       slice);
      Value whole = vector::ReductionOp::create(
          b, loc, vector::CombiningKind::AND, slice);
      assertAt(b, loc, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                             on, whole),
               "some threads of warpgroup " + Twine(g) +
                   " execute it and others do not (it is .sync.aligned)");
    }
    auto ifOn = scf::IfOp::create(b, loc, on, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOn.thenBlock()->getTerminator());
    Value current = memref::LoadOp::create(b, loc, budget.counts, e.index(g));
    assertAt(b, loc,
             arith::CmpIOp::create(b, loc,
                                   increase ? arith::CmpIPredicate::sge
                                            : arith::CmpIPredicate::sle,
                                   requested, current),
             Twine(increase ? "an increase" : "a decrease") + " to " +
                 Twine(op.getRegCount()) +
                 " registers goes the other way from warpgroup " + Twine(g) +
                 "'s count");
    memref::StoreOp::create(b, loc, requested, budget.counts, e.index(g));
  }
  Value total = c32(0);
  for (int64_t g = 0; g < groups; ++g)
    total = arith::AddIOp::create(
        b, loc, total,
        memref::LoadOp::create(b, loc, budget.counts, e.index(g)));
  assertAt(b, loc,
           arith::CmpIOp::create(
               b, loc, arith::CmpIPredicate::sle,
               arith::MulIOp::create(b, loc, total, c32(kWarpgroupThreads)),
               c32(kRegisterFile)),
           "the warpgroups' register counts exceed the 64K registers of the "
           "block's multiprocessor");
  return success();
}

void registerNvvmHooks(EmulationHooks &hooks) {
  hooks.add<NVVM::ReduxOp>(emulateRedux);
  hooks.add<NVVM::SetMaxRegisterOp>(emulateSetMaxRegister);
}

} // namespace gpu_emulation
} // namespace attn
