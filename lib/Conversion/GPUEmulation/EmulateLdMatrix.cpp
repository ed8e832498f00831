//===- EmulateLdMatrix.cpp - nvgpu.ldmatrix -------------------------------===//
//
// ldmatrix loads 8x8 matrices from shared memory whose row addresses come
// from other lanes of the warp; lock step has every lane's address at hand.
//
//===----------------------------------------------------------------------===//

#include "BlockEmulator.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace attn {
namespace gpu_emulation {

/// Lane l of a warp gets, for matrix m (rows addressed by lanes 8m .. 8m +
/// 7), row g = l / 4, columns 2t, 2t + 1 (t = l % 4); transposed: rows 2t,
/// 2t + 1 at column g. The reads count as the receiving lane's.
static LogicalResult emulateLdMatrix(BlockEmulator &e, nvgpu::LdMatrixOp ld) {
  auto type = cast<VectorType>(ld.getRes().getType());
  int64_t tiles = type.getDimSize(0);
  if (ld.getSrcMemref().getType().getRank() != 2)
    return ld.emitOpError("attn-emulate-gpu: only 2-D sources");
  OpBuilder &b = e.getBuilder();
  Location loc = ld.getLoc();
  Value rows = e.lanesOf(ld.getIndices()[0]);
  Value cols = e.lanesOf(ld.getIndices()[1]);
  Value source = e.lanesOf(ld.getSrcMemref());
  auto flat = VectorType::get({tiles * 2}, type.getElementType());
  Value gathered = e.gatherLanes(loc, flat, [&](Value lane) {
    Value l = arith::RemUIOp::create(b, loc, lane, e.index(kWarpSize));
    Value warpBase = arith::SubIOp::create(b, loc, lane, l);
    Value g = arith::DivUIOp::create(b, loc, l, e.index(4));
    Value t = arith::RemUIOp::create(b, loc, l, e.index(4));
    SmallVector<Value> elements;
    for (int64_t m = 0; m < tiles; ++m)
      for (int64_t i = 0; i < 2; ++i) {
        Value inMatrix =
            ld.getTranspose()
                ? arith::AddIOp::create(
                      b, loc, arith::MulIOp::create(b, loc, t, e.index(2)),
                      e.index(i))
                : g;
        Value addressLane = arith::AddIOp::create(
            b, loc, warpBase,
            arith::AddIOp::create(b, loc, inMatrix, e.index(8 * m)));
        auto at = [&](Value all) -> Value {
          return vector::ExtractOp::create(b, loc, all,
                                           ArrayRef<OpFoldResult>{addressLane});
        };
        Value col =
            ld.getTranspose()
                ? arith::AddIOp::create(b, loc, at(cols), g)
                : arith::AddIOp::create(
                      b, loc, at(cols),
                      arith::AddIOp::create(
                          b, loc, arith::MulIOp::create(b, loc, t, e.index(2)),
                          e.index(i)));
        SmallVector<Value> element = {at(rows), col};
        e.recordRead(e.sharedByte(source, element, loc), lane, loc);
        elements.push_back(memref::LoadOp::create(b, loc, source, element));
      }
    return elements;
  });
  e.mapLanes(
      ld.getRes(),
      vector::ShapeCastOp::create(
          b, loc, cast<VectorType>(laneType(type, e.getLanes())), gathered));
  return success();
}

void registerLdMatrixHooks(EmulationHooks &hooks) {
  hooks.add<nvgpu::LdMatrixOp>(emulateLdMatrix);
}

} // namespace gpu_emulation
} // namespace attn
