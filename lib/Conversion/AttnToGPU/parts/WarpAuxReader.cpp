//===- WarpAuxReader.cpp - Auxiliary operands read by a warp --------------===//

#include "parts/WarpAuxReader.h"
#include "parts/ThreadLayout.h"

#include "attn/Conversion/MmaLayout.h"
#include "KernelSupport.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <cstdint>

using namespace mlir;

namespace attn {

std::pair<IndexExpr, IndexExpr>
WarpAuxReader::readMinMax(IndexExprBuilder &ib, AuxOperand operand,
                        IndexExpr batchExpr, IndexExpr loExpr,
                        IndexExpr hiExpr) {
  OpBuilder &b = ib.getOpBuilder();
  Value batch = ib.materialize(batchExpr);
  Value lo = ib.materialize(loExpr), hi = ib.materialize(hiExpr);
  auto key = std::make_tuple(static_cast<int>(operand), batch, lo, hi);
  auto it = ranges.find(key);
  if (it != ranges.end() && dominatesInsertionPoint(b, it->second.first))
    return {ib.value(it->second.first), ib.value(it->second.second)};
  auto [minimum, maximum] = reduceMinMax(b, ib.getLoc(), operand, batch,
                                         lo, hi);
  ranges[key] = {minimum, maximum};
  return {ib.value(minimum), ib.value(maximum)};
}

bool WarpAuxReader::dominatesInsertionPoint(OpBuilder &b, Value v) {
  Block *defining = v.getParentBlock();
  if (isa_and_nonnull<gpu::GPUFuncOp>(defining->getParentOp()))
    return true;
  for (Block *block = b.getInsertionBlock(); block;
       block = block->getParentOp() ? block->getParentOp()->getBlock()
                                    : nullptr)
    if (block == defining)
      return true;
  return false;
}

std::pair<Value, Value> WarpAuxReader::reduceMinMax(OpBuilder &b, Location loc,
                                                  AuxOperand operand,
                                                  Value batch, Value lo,
                                                  Value hi) {
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Type i32 = b.getI32Type();
  Value lane = WarpLanes::build(b, loc).lane;
  Value init[] = {
      arith::ConstantOp::create(b, loc, IntegerAttr::get(i32, INT32_MAX)),
      arith::ConstantOp::create(b, loc, IntegerAttr::get(i32, INT32_MIN))};
  // Uniform bounds; lanes past `hi` keep the identities.
  auto loop = scf::ForOp::create(
      b, loc, lo, hi, index(kWarpSize), init,
      [&](OpBuilder &nb, Location nloc, Value j0, ValueRange minMax) {
        Value j = arith::AddIOp::create(nb, nloc, j0, lane);
        Value inside = arith::CmpIOp::create(
            nb, nloc, arith::CmpIPredicate::slt, j, hi);
        Value at = arith::SelectOp::create(nb, nloc, inside, j, lo);
        Value id = load(nb, nloc, valueOf(operand), ValueRange{batch, at});
        Value newMin = arith::SelectOp::create(
            nb, nloc, inside,
            arith::MinSIOp::create(nb, nloc, minMax[0], id), minMax[0]);
        Value newMax = arith::SelectOp::create(
            nb, nloc, inside,
            arith::MaxSIOp::create(nb, nloc, minMax[1], id), minMax[1]);
        scf::YieldOp::create(nb, nloc, ValueRange{newMin, newMax});
      });
  // redux.sync (sm_80+): one instruction per warp-wide min or max.
  Value everyLane = arith::ConstantIntOp::create(b, loc, i32, -1);
  Value minimum = NVVM::ReduxOp::create(b, loc, i32, loop.getResult(0),
                                        NVVM::ReduxKind::MIN, everyLane);
  Value maximum = NVVM::ReduxOp::create(b, loc, i32, loop.getResult(1),
                                        NVVM::ReduxKind::MAX, everyLane);
  return {minimum, maximum};
}

} // namespace attn
