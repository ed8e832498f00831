//===- TileLoader.h - Staging row tiles in shared memory --------*- C++ -*-===//
//
// A tile loader brings tiles of rows of a global [batch, head, row,
// column] tensor into shared memory, into the slots of a ring that the
// kernel cycles through: it starts the copies of a tile into a slot, ends
// the slot's group of copies, and waits until they have landed. The
// cp.async loader issues 16-byte asynchronous copies into a ring of N
// slots (N - 1 tiles land while the current one is used); a TMA +
// mbarrier ring would implement the same interface.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_LIB_CONVERSION_ATTNTOGPU_PARTS_TILELOADER_H
#define ATTN_LIB_CONVERSION_ATTNTOGPU_PARTS_TILELOADER_H

#include "KernelSupport.h"
#include "parts/ThreadLayout.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SmallVector.h"

#include <memory>

namespace attn {

/// A row-major tile of `rows` x `stride` elements in shared memory.
struct TileShape {
  int64_t rows, stride;
  mlir::Type element;

  int64_t bytes() const;
};

/// The shared-memory layout of a ring: `slots` slots from byte `offset`,
/// each holding one tile of every shape in `tiles`, in order.
struct TileRing {
  int64_t offset = 0;
  llvm::SmallVector<TileShape> tiles;
  int64_t slots = 1;

  int64_t slotBytes() const;
  /// The end of the ring in shared memory.
  int64_t end() const { return offset + slots * slotBytes(); }
  /// The byte offset of tile `tile` within a slot.
  int64_t tileOffset(unsigned tile) const;
};

/// Rows [row0, row0 + rows of the tile) of source[batch, head], columns
/// [column0, column0 + columns); rows at or past `rowLimit` and columns
/// at or past `columnLimit` read as zero.
struct RowCopy {
  mlir::Value source, batch, head, row0, rowLimit;
  /// Null: 0.
  mlir::Value column0;
  int64_t columns, columnLimit;
  /// Nonzero: rows run on over the heads from `head` (the GQA-packed query
  /// tile), row r being row r % rowsPerHead of head `head + r /
  /// rowsPerHead`; `rowLimit` then counts rows over all of them.
  int64_t rowsPerHead = 0;
  /// Where (row, column) of the copy lies in `source`, for sources that are
  /// not [batch, head, row, column] (packed or paged sequences,
  /// SequenceLayout); built at the loader's insertion point. Null: there.
  llvm::function_ref<llvm::SmallVector<mlir::Value>(mlir::Value row,
                                                    mlir::Value column)>
      indicesOf = {};
};

class TileLoader : protected KernelBuilderBase {
public:
  virtual ~TileLoader() = default;

  /// Tile `tile` of slot `slot`.
  mlir::Value view(mlir::Value slot, unsigned tile);
  /// Starts copying `copy` into tile `tile` of `slot`.
  virtual void start(mlir::Value slot, unsigned tile, const RowCopy &copy) = 0;
  /// Ends the group of copies started since the last commit (one slot's).
  virtual void commit() = 0;
  /// Every copy started so far, by any loader, except those of the
  /// `pending` newest groups, has landed and is visible to every thread,
  /// and every thread is done with what it read before.
  virtual void wait(int64_t pending = 0) = 0;

  /// The cp.async loader of `ring` for `threads` threads.
  static std::unique_ptr<TileLoader>
  createCpAsync(mlir::OpBuilder &b, mlir::Location loc, SharedMemory &shared,
                const TileRing &ring, int64_t threads, mlir::Value threadId);

protected:
  TileLoader(mlir::OpBuilder &b, mlir::Location loc, SharedMemory &shared,
             const TileRing &ring)
      : KernelBuilderBase(b, loc), shared(shared), ring(ring) {}

  SharedMemory &shared;
  TileRing ring;
};

} // namespace attn

#endif // ATTN_LIB_CONVERSION_ATTNTOGPU_PARTS_TILELOADER_H
