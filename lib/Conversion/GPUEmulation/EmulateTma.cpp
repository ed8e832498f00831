//===- EmulateTma.cpp - TMA tensor copies (nvgpu.tma.async.load) ----------===//
//
// A tensor map names a global tensor and a box (the descriptor type's
// shared-memory tile, padded with leading 1s to the tensor's rank); the pass
// passes the tensor itself where the kernel takes the map (EmulateGPU.cpp).
// A copy lands at once: box element (i_0, .., i_r) of the tensor at the
// coordinates (innermost first, as PTX orders them) goes to the box's
// row-major byte offset from the destination's address, swizzled as the
// hardware does (Swizzle<b, 4, 3> on the address: its bits [4, 4 + b) take
// bits [7, 7 + b), b = 1, 2, 3 for 32-, 64-, 128-byte swizzles); elements
// past the tensor's bounds are zero (or NaN). Then the copy's bytes
// complete transactions on its mbarrier, and the race checker holds the
// bytes until a reader has waited for that barrier's phase.
//
//===----------------------------------------------------------------------===//

#include "BarrierRow.h"

#include "attn/Conversion/MmaLayout.h"
#include "attn/Runtime/Swizzle.h"

#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace attn {
namespace gpu_emulation {

// nvgpu's swizzle kinds are the XOR widths of runtime/Swizzle.h.
static_assert(uint32_t(nvgpu::TensorMapSwizzleKind::SWIZZLE_32B) == 1 &&
              uint32_t(nvgpu::TensorMapSwizzleKind::SWIZZLE_128B) == 3);

Value swizzleAddress(OpBuilder &b, Location loc, Value address,
                     int64_t bits) {
  if (bits == 0)
    return address;
  auto c = [&](int64_t v) { return indexConstant(b, loc, v); };
  Value rows = arith::AndIOp::create(
      b, loc, arith::ShRUIOp::create(b, loc, address, c(7)), c((1 << bits) - 1));
  return arith::XOrIOp::create(b, loc, address,
                               arith::ShLIOp::create(b, loc, rows, c(4)));
}

static LogicalResult emulateTmaLoad(BlockEmulator &e,
                                    nvgpu::TmaAsyncLoadOp load) {
  Location loc = load.getLoc();
  OpBuilder &b = e.getBuilder();
  auto mapType = load.getTensorMapDescriptor().getType();
  MemRefType box = mapType.getTensor();
  Type element = box.getElementType();
  int64_t elementBytes = element.getIntOrFloatBitWidth() / 8;
  int64_t bits = int64_t(mapType.getSwizzle());
  if (mapType.getInterleave() != nvgpu::TensorMapInterleaveKind::INTERLEAVE_NONE)
    return load.emitOpError("attn-emulate-gpu: interleaved tensor maps are "
                            "not emulated");
  if (load.getMulticastMask())
    return load.emitOpError("attn-emulate-gpu: multicast (clusters) is not "
                            "emulated");
  // The hardware's limits on a box (cuTensorMapEncodeTiled).
  int64_t innerBytes = box.getShape().back() * elementBytes;
  if (innerBytes % 16 != 0)
    return load.emitOpError("attn-emulate-gpu: the box's inner dimension is ")
           << innerBytes << " bytes; TMA needs a multiple of 16";
  int64_t swizzleBytes = runtime::swizzleBytes(bits);
  if (bits && innerBytes > swizzleBytes)
    return load.emitOpError("attn-emulate-gpu: the box's inner dimension is ")
           << innerBytes << " bytes, more than the " << swizzleBytes
           << "-byte swizzle spans";
  for (int64_t size : box.getShape())
    if (size > 256)
      return load.emitOpError("attn-emulate-gpu: a box dimension of ")
             << size << " elements; TMA allows at most 256";
  if (cast<MemRefType>(load.getDst().getType()).getShape() != box.getShape())
    return load.emitOpError("attn-emulate-gpu: the destination's shape "
                            "differs from the tensor map's box");

  Value global = e.lanesOf(load.getTensorMapDescriptor());
  auto globalType = cast<MemRefType>(global.getType());
  int64_t rank = globalType.getRank(), boxRank = box.getRank();
  if (static_cast<int64_t>(load.getCoordinates().size()) != rank)
    return load.emitOpError("attn-emulate-gpu: ")
           << load.getCoordinates().size() << " coordinates for a rank-"
           << rank << " tensor";
  Value destination = e.sharedAddress(e.lanesOf(load.getDst()), loc);
  if (!destination)
    return load.emitOpError("attn-emulate-gpu: a TMA copy writes shared "
                            "memory");
  Value smem = e.sharedMemoryAs(element, loc);
  int64_t totalBytes = box.getNumElements() * elementBytes;
  // Swizzled boxes start on the swizzle's period, others on 128 bytes.
  int64_t alignment = bits ? (128 << bits) : 128;

  e.forEachLane(loc, [&](Value lane) {
    Value issue = load.getPredicate()
                      ? vector::ExtractOp::create(
                            b, loc, e.lanesOf(load.getPredicate()),
                            ArrayRef<OpFoldResult>{lane})
                            .getResult()
                      : arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1)
                            .getResult();
    auto ifIssue = scf::IfOp::create(b, loc, issue, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifIssue.thenBlock()->getTerminator());

    std::string message;
    llvm::raw_string_ostream os(message);
    os << "attn-emulate-gpu: a TMA copy at " << loc
       << " writes shared memory not aligned to " << alignment << " bytes";
    cf::AssertOp::create(
        b, loc,
        arith::CmpIOp::create(
            b, loc, arith::CmpIPredicate::eq,
            arith::RemUIOp::create(b, loc, destination, e.index(alignment)),
            e.index(0)),
        message);
    Value id = vector::ExtractOp::create(b, loc, e.lanesOf(load.getMbarId()),
                                         ArrayRef<OpFoldResult>{lane});
    BarrierRow row{
        e, arith::AddIOp::create(b, loc, e.lanesOf(load.getBarriers()), id),
        loc};
    // Visible once the phase in progress completes.
    Value phases = arith::AddIOp::create(b, loc, row.load(BarrierRow::kPhases),
                                         row.i32(1));
    Value barrier32 =
        arith::IndexCastOp::create(b, loc, b.getI32Type(), row.row);
    SmallVector<Value> origin(rank);
    for (int64_t d = 0; d < rank; ++d)
      origin[d] = vector::ExtractOp::create(
          b, loc, e.lanesOf(load.getCoordinates()[rank - 1 - d]),
          ArrayRef<OpFoldResult>{lane});

    // Loops over the box's dimensions, outermost first.
    std::function<void(int64_t, SmallVector<Value>)> copy =
        [&](int64_t d, SmallVector<Value> at) {
          if (d < boxRank) {
            buildLoop(b, loc, e.index(0), e.index(box.getDimSize(d)), {},
                      [&](Value i, ValueRange) {
                        SmallVector<Value> next = at;
                        next.push_back(i);
                        copy(d + 1, next);
                        return SmallVector<Value>{};
                      });
            return;
          }
          SmallVector<Value> index(rank);
          Value inside = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1);
          for (int64_t g = 0; g < rank; ++g) {
            int64_t boxDim = g - (rank - boxRank);
            index[g] = boxDim < 0 ? origin[g]
                                  : arith::AddIOp::create(b, loc, origin[g],
                                                          at[boxDim])
                                        .getResult();
            Value size = memref::DimOp::create(b, loc, global, g);
            // Coordinates may be negative: compare as signed.
            Value notBefore = arith::CmpIOp::create(
                b, loc, arith::CmpIPredicate::sge, index[g], e.index(0));
            Value before = arith::CmpIOp::create(
                b, loc, arith::CmpIPredicate::slt, index[g], size);
            inside = arith::AndIOp::create(
                b, loc, inside,
                arith::AndIOp::create(b, loc, notBefore, before));
          }
          auto ifInside = scf::IfOp::create(b, loc, element, inside, true);
          {
            OpBuilder::InsertionGuard inner(b);
            b.setInsertionPointToStart(ifInside.thenBlock());
            scf::YieldOp::create(
                b, loc,
                ValueRange{memref::LoadOp::create(b, loc, global, index)});
            b.setInsertionPointToStart(ifInside.elseBlock());
            auto fill =
                mapType.getOob() == nvgpu::TensorMapOOBKind::OOB_NAN
                    ? b.getFloatAttr(element, APFloat::getQNaN(
                                                  cast<FloatType>(element)
                                                      .getFloatSemantics()))
                    : cast<TypedAttr>(b.getZeroAttr(element));
            scf::YieldOp::create(
                b, loc, ValueRange{arith::ConstantOp::create(b, loc, fill)});
          }
          Value linear = e.index(0);
          for (int64_t k = 0; k < boxRank; ++k)
            linear = arith::AddIOp::create(
                b, loc,
                arith::MulIOp::create(b, loc, linear,
                                      e.index(box.getDimSize(k))),
                at[k]);
          Value address = swizzleAddress(
              b, loc,
              arith::AddIOp::create(
                  b, loc, destination,
                  arith::MulIOp::create(b, loc, linear, e.index(elementBytes))),
              bits);
          Value byte = arith::SubIOp::create(
              b, loc, address, e.index(BlockEmulator::kSharedBase));
          Value at1 = arith::DivUIOp::create(b, loc, byte, e.index(elementBytes));
          e.assertInBounds(smem, ValueRange{at1}, Value(), loc, "TMA write");
          e.recordTensorWrite(byte, lane, barrier32, phases, loc);
          memref::StoreOp::create(b, loc, ifInside.getResult(0), smem,
                                  ValueRange{at1});
        };
    copy(0, {});
    row.completeTransaction(row.i32(totalBytes));
  });
  return success();
}

void registerTmaHooks(EmulationHooks &hooks) {
  hooks.add<nvgpu::TmaAsyncLoadOp>(emulateTmaLoad);
  // Descriptor fences and prefetches change nothing a copy here sees.
  hooks.add<nvgpu::TmaFenceOp, nvgpu::TmaPrefetchOp>(
      [](BlockEmulator &, Operation *) { return success(); });
}

} // namespace gpu_emulation
} // namespace attn
