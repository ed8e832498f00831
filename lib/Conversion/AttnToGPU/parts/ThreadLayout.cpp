//===- ThreadLayout.cpp - Who a kernel thread is, and its shared memory ---===//

#include "ThreadLayout.h"

#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

namespace attn {

WarpLanes WarpLanes::build(OpBuilder &b, Location loc) {
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto div = [&](Value x, int64_t y) -> Value {
    return arith::DivUIOp::create(b, loc, x, index(y));
  };
  auto rem = [&](Value x, int64_t y) -> Value {
    return arith::RemUIOp::create(b, loc, x, index(y));
  };
  WarpLanes lanes;
  lanes.threadId = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  lanes.lane = rem(lanes.threadId, kWarpSize);
  lanes.warp = div(lanes.threadId, kWarpSize);
  lanes.group = div(lanes.lane, 4);
  lanes.thread = rem(lanes.lane, 4);
  lanes.matrixRow = rem(lanes.lane, 8);
  lanes.matrix = div(lanes.lane, 8);
  return lanes;
}

BlockCoordinates BlockCoordinates::build(OpBuilder &b, Location loc) {
  return {gpu::BlockIdOp::create(b, loc, gpu::Dimension::x),
          gpu::BlockIdOp::create(b, loc, gpu::Dimension::y),
          gpu::BlockIdOp::create(b, loc, gpu::Dimension::z)};
}

gpu::KernelDim3 headBatchGrid(OpBuilder &b, Location loc, Value q,
                              Value tiles) {
  int64_t heads = cast<RankedTensorType>(q.getType()).getDimSize(1);
  return {tiles, arith::ConstantIndexOp::create(b, loc, heads),
          tensor::DimOp::create(b, loc, q, 0)};
}

SharedMemory::SharedMemory(OpBuilder &b, Location loc, int64_t alignment)
    : b(b), loc(loc) {
  auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(),
                                              gpu::AddressSpace::Workgroup);
  bytes = gpu::DynamicSharedMemoryOp::create(
      b, loc,
      MemRefType::get({ShapedType::kDynamic}, b.getI8Type(),
                      MemRefLayoutAttrInterface(), workgroup));
  if (alignment <= 1)
    return;
  // start = (alignment - address % alignment) % alignment.
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value address =
      memref::ExtractAlignedPointerAsIndexOp::create(b, loc, bytes);
  Value below = arith::RemUIOp::create(b, loc, address, index(alignment));
  start = arith::RemUIOp::create(
      b, loc, arith::SubIOp::create(b, loc, index(alignment), below),
      index(alignment));
  startAddress = arith::AddIOp::create(b, loc, address, start);
}

Value SharedMemory::address(Value offset) {
  Value base =
      startAddress
          ? startAddress
          : memref::ExtractAlignedPointerAsIndexOp::create(b, loc, bytes)
                .getResult();
  return arith::AddIOp::create(b, loc, base, offset);
}

Value SharedMemory::view(Value offset, int64_t rows, int64_t columns,
                         Type element) {
  return view(offset, {rows, columns}, element);
}

Value SharedMemory::view(Value offset, ArrayRef<int64_t> shape, Type element) {
  auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(),
                                              gpu::AddressSpace::Workgroup);
  auto type = MemRefType::get(shape, element, MemRefLayoutAttrInterface(),
                              workgroup);
  if (start)
    offset = arith::AddIOp::create(b, loc, offset, start);
  return memref::ViewOp::create(b, loc, type, bytes, offset, ValueRange{});
}

Value SharedMemory::view(int64_t offset, int64_t rows, int64_t columns,
                         Type element) {
  return view(arith::ConstantIndexOp::create(b, loc, offset), rows, columns,
              element);
}

} // namespace attn
