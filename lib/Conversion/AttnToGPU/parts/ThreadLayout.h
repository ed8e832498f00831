//===- ThreadLayout.h - Kernel thread coordinates, shared memory -*- C++ -*-===//
//
// The coordinates every attn-to-gpu kernel starts from: the thread's warp
// and lane, the lane's mma.sync fragment coordinates (g = lane / 4, t =
// lane % 4) and ldmatrix address role, the block's place in the grid
// (tile, query head, batch entry), and typed views of the block's dynamic
// shared memory. The launch side of the same grid is `headBatchGrid`.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_LIB_CONVERSION_ATTNTOGPU_PARTS_THREADLAYOUT_H
#define ATTN_LIB_CONVERSION_ATTNTOGPU_PARTS_THREADLAYOUT_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"

namespace attn {

/// The thread's place in its block and warp, built at the kernel's start.
struct WarpLanes {
  mlir::Value threadId, lane, warp;
  /// Fragment coordinates of mma.sync: g = lane / 4, t = lane % 4.
  mlir::Value group, thread;
  /// ldmatrix: lanes 8 m .. 8 m + 7 give the row addresses of matrix m
  /// (matrix = m, matrixRow = the row).
  mlir::Value matrix, matrixRow;

  static WarpLanes build(mlir::OpBuilder &b, mlir::Location loc);
};

/// The block's coordinates in a grid of (tiles, query heads, batch).
struct BlockCoordinates {
  mlir::Value tile, head, batch;

  static BlockCoordinates build(mlir::OpBuilder &b, mlir::Location loc);
};

/// The host side of BlockCoordinates: the grid (tiles, query heads of `q`,
/// batch of `q`), built at the insertion point of `b`.
mlir::gpu::KernelDim3 headBatchGrid(mlir::OpBuilder &b, mlir::Location loc,
                                    mlir::Value q, mlir::Value tiles);

/// The block's dynamic shared memory and row-major views into it.
class SharedMemory {
public:
  /// With an `alignment`, views start at the first address of dynamic
  /// shared memory that is a multiple of it (a GPU aligns dynamic shared
  /// memory to 16 bytes only, after the static shared memory of mbarriers):
  /// the kernel must reserve `alignment` bytes more.
  SharedMemory(mlir::OpBuilder &b, mlir::Location loc, int64_t alignment = 0);

  /// The shared-memory address (index) of byte `offset` of the views.
  mlir::Value address(mlir::Value offset);

  /// A static [rows, columns] view of `element`s at byte `offset`.
  mlir::Value view(mlir::Value offset, int64_t rows, int64_t columns,
                   mlir::Type element);
  mlir::Value view(int64_t offset, int64_t rows, int64_t columns,
                   mlir::Type element);
  /// A static view of `shape` at byte `offset`.
  mlir::Value view(mlir::Value offset, llvm::ArrayRef<int64_t> shape,
                   mlir::Type element);

private:
  mlir::OpBuilder &b;
  mlir::Location loc;
  mlir::Value bytes;
  /// The views' first byte in `bytes` (null: 0) and its address.
  mlir::Value start, startAddress;
};

} // namespace attn

#endif // ATTN_LIB_CONVERSION_ATTNTOGPU_PARTS_THREADLAYOUT_H
