//===- EmulateRoles.cpp - Warpgroups that run different code --------------===//
//
// A warp-specialized kernel splits its block into roles by an scf.if on the
// warpgroup: a producer that loads tiles, consumers that compute on them,
// each looping over the tiles and handing them over by mbarriers. Lock
// step would run one branch to its end before the other starts, so the
// producer would wait for a release that never comes. Instead the two
// branches run as roles under a scheduler: each role's loop advances one
// iteration at a time, and an iteration starts only once the first mbarrier
// wait of its body would pass (the pure ops before that wait give its
// barrier and parity); the scheduler runs the roles in turn until both have
// finished, and stops with the waits' locations when neither can go on.
// Within a role, threads stay in lock step.
//
//===----------------------------------------------------------------------===//

#include "BarrierRow.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

using namespace mlir;

namespace attn {
namespace gpu_emulation {

/// One branch of the role split: its block (the ops before its loop, the
/// loop, the ops after it), where an iteration may have to wait, its lanes,
/// and the loop's start, step and trip count; its carried values start at
/// `argsStart` of the scheduler's.
struct BlockEmulator::Role {
  Block *block;
  scf::ForOp loop;
  nvgpu::MBarrierTryWaitParityOp firstWait;
  Value lanes;
  Value lo, step, trips;
  unsigned argsStart, numArgs;
};

namespace {
scf::ForOp onlyLoop(Block &block) {
  auto loops = block.getOps<scf::ForOp>();
  if (loops.empty() || std::next(loops.begin()) != loops.end())
    return scf::ForOp();
  return *loops.begin();
}

nvgpu::MBarrierTryWaitParityOp firstWaitOf(scf::ForOp loop) {
  auto waits = loop.getBody()->getOps<nvgpu::MBarrierTryWaitParityOp>();
  return waits.empty() ? nvgpu::MBarrierTryWaitParityOp() : *waits.begin();
}
} // namespace

bool BlockEmulator::splitsRoles(scf::IfOp op) {
  if (op.getNumResults() != 0 || op.getElseRegion().empty())
    return false;
  scf::ForOp loops[2] = {onlyLoop(op.getThenRegion().front()),
                         onlyLoop(op.getElseRegion().front())};
  if (!loops[0] || !loops[1])
    return false;
  // Only branches that hand tiles over by mbarriers need to interleave.
  return llvm::any_of(loops, [](scf::ForOp loop) {
    return loop
        ->walk([](nvgpu::MBarrierTryWaitParityOp) {
          return WalkResult::interrupt();
        })
        .wasInterrupted();
  });
}

LogicalResult BlockEmulator::emulateRoles(scf::IfOp op) {
  Location loc = op.getLoc();
  Value outer = activeLanes;
  Value condition = lanesOf(op.getCondition());
  Value ones = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(cast<VectorType>(condition.getType()),
                             b.getBoolAttr(true)));
  Value taken[2] = {condition, arith::XOrIOp::create(b, loc, condition, ones)};
  Role roles[2];
  for (int r = 0; r < 2; ++r) {
    Region &region = r == 0 ? op.getThenRegion() : op.getElseRegion();
    Role &role = roles[r];
    role.block = &region.front();
    role.loop = onlyLoop(*role.block);
    role.firstWait = firstWaitOf(role.loop);
    role.lanes =
        outer ? arith::AndIOp::create(b, loc, outer, taken[r]) : taken[r];
    if (role.firstWait)
      for (Operation &prior : *role.loop.getBody()) {
        if (&prior == role.firstWait)
          break;
        if (!isPure(&prior))
          return prior.emitOpError(
              "attn-emulate-gpu: a warpgroup role's loop iteration must "
              "start with pure ops up to its first mbarrier wait (the "
              "emulator interleaves the roles there)");
      }
  }

  // The ops before the loops, then each loop's trip count over its lanes.
  for (Role &role : roles) {
    activeLanes = role.lanes;
    for (Operation &inner : role.block->without_terminator()) {
      if (&inner == role.loop.getOperation())
        break;
      if (failed(emulate(&inner)))
        return failure();
    }
    Location at = role.loop.getLoc();
    role.lo = uniform(role.loop.getLowerBound(), at);
    Value hi = uniform(role.loop.getUpperBound(), at);
    role.step = uniform(role.loop.getStep(), at);
    Value span = arith::MaxSIOp::create(
        b, at, arith::SubIOp::create(b, at, hi, role.lo), index(0));
    role.trips = arith::CeilDivSIOp::create(b, at, span, role.step);
  }

  // Carried: each role's iterations done, then each role's iter_args.
  SmallVector<Value> init{index(0), index(0)};
  for (Role &role : roles) {
    role.argsStart = init.size();
    role.numArgs = role.loop.getNumRegionIterArgs();
    for (Value v : role.loop.getInitArgs())
      init.push_back(lanesOf(v));
  }
  SmallVector<Type> types(ValueRange(init).getTypes());
  auto argsOf = [&](ValueRange all, const Role &role) {
    return all.slice(role.argsStart, role.numArgs);
  };

  LogicalResult result = success();
  auto scheduler = scf::WhileOp::create(
      b, loc, types, init,
      [&](OpBuilder &nb, Location, ValueRange args) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        Value left[2];
        for (int r = 0; r < 2; ++r)
          left[r] = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                          args[r], roles[r].trips);
        scf::ConditionOp::create(b, loc,
                                 arith::OrIOp::create(b, loc, left[0], left[1]),
                                 args);
      },
      [&](OpBuilder &nb, Location, ValueRange args) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        SmallVector<Value> next(args);
        Value progressed = arith::ConstantIntOp::create(b, loc, 0, 1);
        for (int r = 0; r < 2 && succeeded(result); ++r)
          result = emulateRoleStep(roles[r], args[r], argsOf(args, roles[r]),
                                   next[r],
                                   MutableArrayRef<Value>(next).slice(
                                       roles[r].argsStart, roles[r].numArgs),
                                   progressed);
        std::string message;
        llvm::raw_string_ostream os(message);
        os << "attn-emulate-gpu: the warpgroup roles of the scf.if at " << loc
           << " wait on each other: neither can start its next iteration";
        for (Role &role : roles)
          if (role.firstWait)
            os << " (a wait at " << role.firstWait.getLoc() << ")";
        cf::AssertOp::create(b, loc, progressed, message);
        scf::YieldOp::create(b, loc, next);
      });
  if (failed(result))
    return failure();
  for (int r = 0; r < 2; ++r) {
    map.map(roles[r].loop.getResults(),
            argsOf(scheduler.getResults(), roles[r]));
    activeLanes = roles[r].lanes;
    bool after = false;
    for (Operation &inner : roles[r].block->without_terminator()) {
      if (after && failed(emulate(&inner)))
        return failure();
      after = after || &inner == roles[r].loop.getOperation();
    }
  }
  activeLanes = outer;
  return success();
}

/// One scheduler turn of a role: if it has iterations left and its first
/// wait would pass, its next iteration; `nextDone` and `nextArgs` get its
/// count and iter_args, `progressed` whether it ran.
LogicalResult BlockEmulator::emulateRoleStep(const Role &role, Value done,
                                             ValueRange args, Value &nextDone,
                                             MutableArrayRef<Value> nextArgs,
                                             Value &progressed) {
  scf::ForOp loop = role.loop;
  nvgpu::MBarrierTryWaitParityOp firstWait = role.firstWait;
  Location loc = loop.getLoc();
  activeLanes = role.lanes;
  SmallVector<Type> types{b.getI1Type()};
  llvm::append_range(types, args.getTypes());
  SmallVector<Value> idle{arith::ConstantIntOp::create(b, loc, 0, 1)};
  llvm::append_range(idle, args);
  Value left = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, done,
                                     role.trips);
  auto ifLeft = scf::IfOp::create(b, loc, types, left, /*withElseRegion=*/true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifLeft.elseBlock());
    scf::YieldOp::create(b, loc, idle);
    b.setInsertionPointToStart(ifLeft.thenBlock());
    Value iv = arith::AddIOp::create(
        b, loc, role.lo, arith::MulIOp::create(b, loc, done, role.step));
    map.map(loop.getInductionVar(),
            vector::BroadcastOp::create(b, loc, laneType(iv.getType(), lanes),
                                        iv));
    map.map(loop.getRegionIterArgs(), args);
    Block::iterator body = loop.getBody()->begin();
    Value ready = arith::ConstantIntOp::create(b, loc, 1, 1);
    if (firstWait) {
      for (; &*body != firstWait.getOperation(); ++body)
        if (failed(emulate(&*body)))
          return failure();
      ready = mbarrierWaitPasses(*this, firstWait);
    }
    auto ifReady =
        scf::IfOp::create(b, loc, types, ready, /*withElseRegion=*/true);
    scf::YieldOp::create(b, loc, ifReady.getResults());
    b.setInsertionPointToStart(ifReady.elseBlock());
    scf::YieldOp::create(b, loc, idle);
    b.setInsertionPointToStart(ifReady.thenBlock());
    for (; &*body != loop.getBody()->getTerminator(); ++body)
      if (failed(emulate(&*body)))
        return failure();
    SmallVector<Value> ran{arith::ConstantIntOp::create(b, loc, 1, 1)};
    for (Value v : loop.getBody()->getTerminator()->getOperands())
      ran.push_back(lanesOf(v));
    scf::YieldOp::create(b, loc, ran);
  }
  Value stepped = ifLeft.getResult(0);
  nextDone = arith::AddIOp::create(
      b, loc, done,
      arith::SelectOp::create(b, loc, stepped, index(1), index(0)));
  llvm::copy(ifLeft.getResults().drop_front(), nextArgs.begin());
  progressed = arith::OrIOp::create(b, loc, progressed, stepped);
  return success();
}

} // namespace gpu_emulation
} // namespace attn
