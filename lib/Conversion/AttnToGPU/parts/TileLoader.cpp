//===- TileLoader.cpp - Staging row tiles in shared memory ----------------===//

#include "parts/TileLoader.h"

#include "KernelSupport.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;

namespace attn {

int64_t TileShape::bytes() const {
  return rows * stride * element.getIntOrFloatBitWidth() / 8;
}

int64_t TileRing::slotBytes() const {
  int64_t bytes = 0;
  for (const TileShape &tile : tiles)
    bytes += tile.bytes();
  return bytes;
}

int64_t TileRing::tileOffset(unsigned tile) const {
  int64_t bytes = 0;
  for (unsigned i = 0; i < tile; ++i)
    bytes += tiles[i].bytes();
  return bytes;
}

Value TileLoader::view(Value slot, unsigned tile) {
  const TileShape &shape = ring.tiles[tile];
  Value offset =
      add(mul(slot, ring.slotBytes()), ring.offset + ring.tileOffset(tile));
  return shared.view(offset, shape.rows, shape.stride, shape.element);
}

namespace {

/// 16-byte cp.async copies, zero-filled past the limits; rows that are not
/// whole 16-byte units (their starts would not be 16-byte aligned) are
/// copied element by element, synchronously.
class CpAsyncTileLoader final : public TileLoader {
public:
  CpAsyncTileLoader(OpBuilder &b, Location loc, SharedMemory &shared,
                    const TileRing &ring, int64_t threads, Value threadId)
      : TileLoader(b, loc, shared, ring),
        threads(threads), threadId(threadId) {}

  void start(Value slot, unsigned tile, const RowCopy &copy) override {
    const TileShape &shape = ring.tiles[tile];
    Value dest = view(slot, tile);
    int64_t unit = 16 / (shape.element.getIntOrFloatBitWidth() / 8);
    bool whole = copy.columns % unit == 0 && copy.columnLimit % unit == 0;
    int64_t width = whole ? unit : 1;
    int64_t unitsPerRow = copy.columns / width;
    // Columns need no check when every copied one is inside.
    std::optional<int64_t> firstColumn =
        copy.column0 ? getConstantIntValue(copy.column0) : 0;
    bool columnsInside =
        firstColumn && *firstColumn + copy.columns <= copy.columnLimit;
    auto tokenType = nvgpu::DeviceAsyncTokenType::get(b.getContext());
    auto copyUnit = [&](Value row, Value col) {
      Value srcRow = add(copy.row0, row);
      Value srcCol = copy.column0 ? add(copy.column0, col) : col;
      Value inside = less(srcRow, copy.rowLimit);
      if (!columnsInside)
        inside = arith::AndIOp::create(b, loc, inside,
                                       less(srcCol, copy.columnLimit));
      // Zero-filled units read no bytes; their source address stays in
      // bounds anyway.
      srcRow = arith::SelectOp::create(b, loc, inside, srcRow, index(0));
      srcCol = arith::SelectOp::create(b, loc, inside, srcCol, index(0));
      Value head = copy.head;
      if (copy.rowsPerHead) {
        head = add(head, arith::DivUIOp::create(b, loc, srcRow,
                                                index(copy.rowsPerHead)));
        srcRow = arith::RemUIOp::create(b, loc, srcRow,
                                        index(copy.rowsPerHead));
      }
      SmallVector<Value> source = {copy.batch, head, srcRow, srcCol};
      if (copy.indicesOf)
        source = copy.indicesOf(srcRow, srcCol);
      if (!whole) {
        Value x = memref::LoadOp::create(b, loc, copy.source, source);
        Value zero =
            arith::ConstantOp::create(b, loc, b.getZeroAttr(shape.element));
        memref::StoreOp::create(
            b, loc, arith::SelectOp::create(b, loc, inside, x, zero), dest,
            ValueRange{row, col});
        return;
      }
      Value srcElements =
          arith::SelectOp::create(b, loc, inside, index(width), index(0));
      nvgpu::DeviceAsyncCopyOp::create(
          b, loc, tokenType, dest, ValueRange{row, col}, copy.source, source,
          b.getIndexAttr(width), srcElements, b.getUnitAttr());
    };
    // Each thread copies units round robin: unit `round * threads + tid`.
    int64_t units = shape.rows * unitsPerRow;
    if (threads % unitsPerRow == 0 && units % threads == 0) {
      // Whole rows per round: the thread's column is the same in every
      // round and its row moves by a constant.
      Value laneRow = arith::DivUIOp::create(b, loc, threadId,
                                             index(unitsPerRow));
      Value laneCol = mul(
          arith::RemUIOp::create(b, loc, threadId, index(unitsPerRow)), width);
      scf::ForOp::create(
          b, loc, index(0), index(units / threads), index(1), ValueRange{},
          [&](OpBuilder &nb, Location, Value round, ValueRange) {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
            copyUnit(add(mul(round, threads / unitsPerRow), laneRow), laneCol);
            scf::YieldOp::create(b, loc);
          });
      return;
    }
    forEachElement(b, loc, units, threads, threadId, [&](Value i) {
      Value row = arith::DivUIOp::create(b, loc, i, index(unitsPerRow));
      Value unit = arith::RemUIOp::create(b, loc, i, index(unitsPerRow));
      copyUnit(row, mul(unit, width));
    });
  }

  void commit() override {
    auto tokenType = nvgpu::DeviceAsyncTokenType::get(b.getContext());
    nvgpu::DeviceAsyncCreateGroupOp::create(b, loc, tokenType, ValueRange{});
  }

  void wait(int64_t pending) override {
    NVVM::CpAsyncWaitGroupOp::create(b, loc, pending);
    gpu::BarrierOp::create(b, loc);
  }

private:
  int64_t threads;
  Value threadId;
};

} // namespace

std::unique_ptr<TileLoader>
TileLoader::createCpAsync(OpBuilder &b, Location loc, SharedMemory &shared,
                          const TileRing &ring, int64_t threads,
                          Value threadId) {
  return std::make_unique<CpAsyncTileLoader>(b, loc, shared, ring, threads,
                                             threadId);
}

} // namespace attn
