//===- TmaTileLoader.h - Tiles staged by TMA on mbarriers -------*- C++ -*-===//
//
// The Hopper kernels' tile loader: one thread (the leader) issues TMA
// tensor copies of whole tiles into the slots of a ring in shared memory,
// each slot with an mbarrier whose phase completes when the slot's tiles
// have landed. A tile of `rows` x `columns` 16-bit elements is stored in
// chunks of 64 columns (128 bytes, the 128-byte swizzle's row), chunk c at
// byte c * rows * 128 of the tile, as the wgmma descriptors of
// WarpgroupMma expect; TMA zero-fills rows and columns past the tensor.
// The tensor maps of the sources are kernel arguments. In a warp-
// specialized kernel the ring also has a second mbarrier per slot, on
// which the consumers release the slot for the producer's next copy.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_LIB_CONVERSION_ATTNTOGPU_PARTS_TMATILELOADER_H
#define ATTN_LIB_CONVERSION_ATTNTOGPU_PARTS_TMATILELOADER_H

#include "KernelSupport.h"
#include "parts/ThreadLayout.h"

#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"

namespace attn {

/// A tile in 64-column chunks of 128-byte swizzled rows.
struct SwizzledTileShape {
  int64_t rows, columns;
  mlir::Type element;

  static constexpr int64_t kChunkColumns = 64;
  int64_t chunks() const { return llvm::divideCeil(columns, kChunkColumns); }
  int64_t bytes() const { return chunks() * rows * 128; }
  /// One copy's box of a [batch, head, row, column] source: 1 x 1 x rows
  /// x 64.
  llvm::SmallVector<int64_t> boxShape() const {
    return {1, 1, rows, kChunkColumns};
  }
  /// The tensor map of such a source copied in these tiles: boxShape(),
  /// 128-byte swizzle, zero fill.
  mlir::nvgpu::TensorMapDescriptorType tensorMapType() const;
};

class TmaTileLoader : KernelBuilderBase {
public:
  /// `slots` slots from byte `offset` of `shared`, each holding a tile of
  /// every shape in `tiles`, tile i copied from the tensor of
  /// `tensorMaps[i]` by the thread where `isLeader` holds. Creates and
  /// initializes the slots' mbarriers (at the kernel's top level); with
  /// `releasers`, also the release barriers on which that many threads
  /// arrive per use of a slot (see release).
  TmaTileLoader(mlir::OpBuilder &b, mlir::Location loc, SharedMemory &shared,
                int64_t offset, llvm::ArrayRef<SwizzledTileShape> tiles,
                int64_t slots, mlir::ValueRange tensorMaps,
                mlir::Value isLeader, int64_t releasers = 0);

  /// The shared-memory address (index) of tile `tile` of `slot`.
  mlir::Value address(mlir::Value slot, unsigned tile);
  /// Starts copying rows [row0, row0 + rows) of source[batch, head] into
  /// tile `tile` of `slot`.
  void start(mlir::Value slot, unsigned tile, mlir::Value batch,
             mlir::Value head, mlir::Value row0);
  /// Ends the slot's tile loads; where `loaded` (an i1, null: true) is
  /// false nothing was started, and the slot's phase completes empty.
  void commit(mlir::Value slot, mlir::Value loaded);
  /// Waits until tile number `tile` of the ring's sequence (slot tile %
  /// slots, its (tile / slots)-th load) has landed. No block barrier: in a
  /// warp-specialized kernel only the consumers wait, and a slot is reused
  /// only after its release.
  void wait(mlir::Value tile);
  /// With release barriers. The consumers: the calling thread is done with
  /// tile number `tile` (its wgmma reads included), whose slot the
  /// producer may refill once every releaser has arrived.
  void release(mlir::Value tile);
  /// The producer: waits until the consumers have released the slot of
  /// tile number `tile` from its previous use (the first use of a slot
  /// passes at once).
  void reserve(mlir::Value tile);

  /// The byte size of the ring.
  int64_t bytes() const;

private:
  mlir::Value byteOffset(mlir::Value slot, unsigned tile);

  SharedMemory &shared;
  int64_t offset;
  llvm::SmallVector<SwizzledTileShape> tiles;
  int64_t slots, releasers;
  llvm::SmallVector<mlir::Value> tensorMaps;
  mlir::Value isLeader, barriers;
};

} // namespace attn

#endif // ATTN_LIB_CONVERSION_ATTNTOGPU_PARTS_TMATILELOADER_H
