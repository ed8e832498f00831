//===- TmaTileLoader.cpp - Tiles staged by TMA on mbarriers ---------------===//

#include "parts/TmaTileLoader.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;

namespace attn {

nvgpu::TensorMapDescriptorType SwizzledTileShape::tensorMapType() const {
  MLIRContext *ctx = element.getContext();
  auto workgroup =
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  return nvgpu::TensorMapDescriptorType::get(
      ctx,
      MemRefType::get(boxShape(), element,
                      MemRefLayoutAttrInterface(), workgroup),
      nvgpu::TensorMapSwizzleKind::SWIZZLE_128B,
      nvgpu::TensorMapL2PromoKind::L2PROMO_128B,
      nvgpu::TensorMapOOBKind::OOB_ZERO,
      nvgpu::TensorMapInterleaveKind::INTERLEAVE_NONE);
}

/// Runs `body` in the thread where `condition` holds.
static void onlyIf(OpBuilder &b, Location loc, Value condition,
                   function_ref<void()> body) {
  auto ifOp = scf::IfOp::create(b, loc, condition, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  body();
}

TmaTileLoader::TmaTileLoader(OpBuilder &b, Location loc, SharedMemory &shared,
                             int64_t offset,
                             ArrayRef<SwizzledTileShape> tiles, int64_t slots,
                             ValueRange tensorMaps, Value isLeader,
                             int64_t releasers)
    : KernelBuilderBase(b, loc), shared(shared), offset(offset),
      tiles(tiles), slots(slots), releasers(releasers),
      tensorMaps(tensorMaps), isLeader(isLeader) {
  auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(),
                                              gpu::AddressSpace::Workgroup);
  // Barrier s: slot s has landed; slots + s: slot s is released.
  barriers = nvgpu::MBarrierCreateOp::create(
      b, loc,
      nvgpu::MBarrierGroupType::get(b.getContext(), workgroup,
                                    releasers ? 2 * slots : slots));
  // One arrival per tile a slot holds: start's expect_tx, or commit's
  // arrivals for a slot left empty.
  onlyIf(b, loc, isLeader, [&] {
    for (int64_t slot = 0; slot < slots; ++slot) {
      nvgpu::MBarrierInitOp::create(b, loc, barriers,
                                    index(tiles.size()), index(slot),
                                    Value());
      if (releasers)
        nvgpu::MBarrierInitOp::create(b, loc, barriers, index(releasers),
                                      index(slots + slot), Value());
    }
  });
  // Every thread sees the barriers initialized before it waits on them.
  gpu::BarrierOp::create(b, loc);
}

int64_t TmaTileLoader::bytes() const {
  int64_t slotBytes = 0;
  for (const SwizzledTileShape &tile : tiles)
    slotBytes += tile.bytes();
  return slots * slotBytes;
}

Value TmaTileLoader::byteOffset(Value slot, unsigned tile) {
  int64_t slotBytes = bytes() / slots, within = 0;
  for (unsigned i = 0; i < tile; ++i)
    within += tiles[i].bytes();
  return add(mul(slot, slotBytes), offset + within);
}

Value TmaTileLoader::address(Value slot, unsigned tile) {
  return shared.address(byteOffset(slot, tile));
}

void TmaTileLoader::start(Value slot, unsigned tile, Value batch, Value head,
                          Value row0) {
  const SwizzledTileShape &shape = tiles[tile];
  Value first = byteOffset(slot, tile);
  onlyIf(b, loc, isLeader, [&] {
    nvgpu::MBarrierArriveExpectTxOp::create(b, loc, barriers,
                                            index(shape.bytes()), slot,
                                            Value());
    for (int64_t c = 0; c < shape.chunks(); ++c) {
      Value chunk = shared.view(add(first, c * shape.rows * 128),
                                shape.boxShape(), shape.element);
      // Coordinates innermost first: column, row, head, batch.
      nvgpu::TmaAsyncLoadOp::create(
          b, loc, chunk, barriers, tensorMaps[tile],
          ValueRange{index(c * SwizzledTileShape::kChunkColumns), row0, head,
                     batch},
          slot, Value(), Value());
    }
  });
}

void TmaTileLoader::commit(Value slot, Value loaded) {
  if (!loaded)
    return;
  Value empty = arith::XOrIOp::create(
      b, loc, loaded, arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1));
  onlyIf(b, loc, arith::AndIOp::create(b, loc, isLeader, empty), [&] {
    for (size_t i = 0; i < tiles.size(); ++i)
      nvgpu::MBarrierArriveOp::create(
          b, loc, nvgpu::MBarrierTokenType::get(b.getContext()), barriers,
          slot);
  });
}

/// The parity of the (tile / slots)-th phase of a slot's barrier.
static Value roundParity(OpBuilder &b, Location loc, Value round) {
  return arith::TruncIOp::create(
      b, loc, b.getI1Type(),
      arith::IndexCastUIOp::create(b, loc, b.getI64Type(), round));
}

/// Waits for the phase of `parity` of barrier `id`. The ticks are a
/// suspend-time hint; the wait loops until the phase completes.
static void waitParity(OpBuilder &b, Location loc, Value barriers, Value id,
                       Value parity) {
  nvgpu::MBarrierTryWaitParityOp::create(
      b, loc, barriers, parity, arith::ConstantIndexOp::create(b, loc, 10000000),
      id);
}

void TmaTileLoader::wait(Value tile) {
  Value slot = arith::RemUIOp::create(b, loc, tile, index(slots));
  Value round = arith::DivUIOp::create(b, loc, tile, index(slots));
  waitParity(b, loc, barriers, slot, roundParity(b, loc, round));
}

void TmaTileLoader::release(Value tile) {
  assert(releasers && "a ring without release barriers");
  Value slot = arith::RemUIOp::create(b, loc, tile, index(slots));
  nvgpu::MBarrierArriveOp::create(
      b, loc, nvgpu::MBarrierTokenType::get(b.getContext()), barriers,
      add(slot, slots));
}

void TmaTileLoader::reserve(Value tile) {
  assert(releasers && "a ring without release barriers");
  Value slot = arith::RemUIOp::create(b, loc, tile, index(slots));
  // Use u of a slot waits for release u - 1, the phase of parity (u - 1)
  // % 2; the first use waits for the phase "before" phase 0, which counts
  // as complete.
  Value round = arith::DivUIOp::create(b, loc, tile, index(slots));
  Value roundOdd = roundParity(b, loc, round);
  Value parity = arith::XOrIOp::create(
      b, loc, roundOdd, arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1));
  waitParity(b, loc, barriers, add(slot, slots), parity);
}

} // namespace attn
