//===- KeyTileLoop.h - The mask-aware loop over key tiles -------*- C++ -*-===//
//
// Every flash-style kernel (the tiled CPU kernel, the GPU kernel) visits the
// key tiles of one query tile the same way: the loop runs over the mask's
// key range, rounded out to whole tiles; each tile is classified; empty tiles
// are skipped, full tiles run without mask code and partial tiles with it.
// This is that loop, written once; the kernels supply the tile update. The
// backward's loop over the query tiles of a key tile is its mirror.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TRANSFORMS_KEYTILELOOP_H
#define ATTN_TRANSFORMS_KEYTILELOOP_H

#include "attn/Dialect/Attn.h"

namespace attn {

/// The query tile `[q0, q1)` of one batch entry and of query heads `[head,
/// head + heads)`, with the sequence lengths (index values).
struct QueryTile {
  mlir::Value batch;
  mlir::Value head;
  mlir::Value q0;
  mlir::Value q1;
  mlir::Value qLen;
  mlir::Value kvLen;
  /// An explicit key range `[kvBegin, kvEnd)` (split-KV: this block's split;
  /// both tile-aligned or null): the loop visits its intersection with the
  /// mask's range.
  mlir::Value kvBegin = {};
  mlir::Value kvEnd = {};
  /// The number of query heads whose rows share the tile (GQA packing: the
  /// heads of one key/value head). A key tile is empty (or full) only when
  /// it is for each of them.
  int64_t heads = 1;
};

/// One visited key tile: its first key and its number of valid keys
/// (`tileKv` except in the last tile of the sequence).
struct KeyTile {
  mlir::Value kv0;
  mlir::Value kvCols;
  /// With a TilePrefetch: the buffer (an index below its stages) the tile
  /// was loaded into.
  mlir::Value slot = {};
  /// With a TileHandOff that defers: frees the previous tile's buffer. The
  /// update calls it once, after its last read of that buffer.
  llvm::function_ref<void()> releasePrevious = {};
};

/// Staging of tiles (of keys, or of queries in the backward's loop) in a
/// ring of `stages` buffers, for kernels that load the next tiles while
/// computing on the current one (the GPU kernels): the
/// loop keeps `stages - 1` tiles in flight. Every tile of the loop's range
/// ends a group of loads, empty ones (which load nothing) too, so that the
/// groups pending count tiles. An empty range (no key, or a key split past the
/// mask's keys) starts, commits and waits for nothing: the loop and its
/// prologue run under a branch on a non-empty range, so that no tile
/// outside the keys is classified (a block-sparse layout of Skv = 0 has no
/// key block to read). The range must be the same for every thread of a
/// block.
struct TilePrefetch {
  /// Starts loading the tile whose first row is `start` into buffer `slot`.
  llvm::function_ref<void(mlir::Value start, mlir::Value slot)> start;
  /// Ends the group of loads of the tile just started; called for every
  /// tile, loaded or not, so that groups count tiles.
  llvm::function_ref<void()> commit;
  /// Waits until every group but the `pending` newest has landed and every
  /// thread is done with the previous tile (the buffer the next start
  /// overwrites).
  llvm::function_ref<void(int64_t pending)> wait;
  int64_t stages = 2;
};

/// Warp specialization (the FlashHopper kernel): a producer role loads the
/// tiles that a consumer role computes on, handing each over through a ring
/// of `stages` buffers with mbarriers instead of a TilePrefetch's groups.
/// Both roles' loops visit the same tiles in the same order, without a
/// prologue, so that an empty range runs neither. Each callback gets the
/// tile's number `i` in the loop (from 0); tile i goes to buffer i %
/// stages.
struct TileHandOff {
  /// Producer, first in its iteration: waits until tile i's buffer is free.
  llvm::function_ref<void(mlir::Value i)> reserve;
  /// Producer: starts loading tile i, whose first row is `start`, into
  /// buffer `slot` unless `loaded` (an i1) is false (an empty tile), and
  /// hands the buffer over either way.
  llvm::function_ref<void(mlir::Value start, mlir::Value slot,
                          mlir::Value loaded)>
      produce;
  /// Consumer, first in its iteration: waits until tile i has landed.
  llvm::function_ref<void(mlir::Value i)> acquire;
  /// Consumer, after tile i's update: frees its buffer.
  llvm::function_ref<void(mlir::Value i)> release;
  int64_t stages = 2;
  /// Consumer, when set: each update may leave work on its tile's buffer
  /// pending in the state, finished by the next tile's update (FlashHopper
  /// issues tile i's P V after tile i + 1's Q K^T), which frees the
  /// previous buffer through KeyTile::releasePrevious. `drain(state)`
  /// finishes the pending work without a tile: in an empty tile and after
  /// the last one, each followed by the release. The consumer then holds
  /// two buffers at a time.
  llvm::function_ref<llvm::SmallVector<mlir::Value>(mlir::ValueRange state)>
      drain = {};
};

/// Computes the state after key tile `tile` from `state`. `masked` is false
/// in full tiles: the update must then emit no mask code.
using KeyTileUpdate = llvm::function_ref<llvm::SmallVector<mlir::Value>(
    const KeyTile &tile, bool masked, mlir::ValueRange state)>;

/// Builds the loop over the key tiles of `tile`, carrying `init`, at the
/// insertion point of `b` (which `update` must build with), and returns the
/// final state. Padded keys of a short last tile count as disallowed: that
/// tile is never full.
llvm::SmallVector<mlir::Value> buildKeyTileLoop(mlir::OpBuilder &b,
                                                mlir::Location loc,
                                                AttentionSpecOpInterface op,
                                                AuxReader &aux,
                                                const QueryTile &tile,
                                                int64_t tileKv,
                                                mlir::ValueRange init,
                                                KeyTileUpdate update,
                                                const TilePrefetch *prefetch =
                                                    nullptr);

/// The producer's loop of `handOff` over the key tiles of `tile` (those
/// buildKeyTileLoop visits), at the insertion point of `b`.
void buildKeyTileProducerLoop(mlir::OpBuilder &b, mlir::Location loc,
                              AttentionSpecOpInterface op, AuxReader &aux,
                              const QueryTile &tile, int64_t tileKv,
                              const TileHandOff &handOff);

/// buildKeyTileLoop for the consumer of `handOff`: each tile's update runs
/// between its acquire and its release.
llvm::SmallVector<mlir::Value>
buildKeyTileConsumerLoop(mlir::OpBuilder &b, mlir::Location loc,
                         AttentionSpecOpInterface op, AuxReader &aux,
                         const QueryTile &tile, int64_t tileKv,
                         mlir::ValueRange init, KeyTileUpdate update,
                         const TileHandOff &handOff);

/// `min(tile, len - start)`, folded to `tile` when `len` is a static
/// multiple of it.
mlir::Value buildTileExtent(mlir::OpBuilder &b, mlir::Location loc,
                            mlir::Value len, mlir::Value start, int64_t tile);

/// The tile sizes to use for `op`: the requested ones reduced to divide the
/// mask's own block structure, so that tiles inside a block (e.g. of a
/// block-sparse layout) can be classified.
std::pair<int64_t, int64_t> alignTilesToMask(AttentionSpecOpInterface op,
                                             int64_t tileQ, int64_t tileKv);

/// The key tile `[kv0, kv0 + kvCols)` of one batch entry, seen from query
/// head `head`, with the sequence lengths: the tile whose query tiles a
/// backward's per-key-tile loop visits.
struct KeyTileRows {
  mlir::Value batch;
  mlir::Value head;
  mlir::Value kv0;
  mlir::Value kvCols;
  mlir::Value qLen;
  mlir::Value kvLen;
};

/// One visited query tile: its first query and its number of valid rows
/// (`tileQ` except in the last tile of the sequence).
struct QueryRows {
  mlir::Value q0;
  mlir::Value qRows;
  /// With a TilePrefetch: the buffer the tile was loaded into.
  mlir::Value slot = {};
};

/// Computes the state after query tile `rows`; `masked` is false in full
/// tiles, whose update must emit no mask code.
using QueryTileUpdate = llvm::function_ref<llvm::SmallVector<mlir::Value>(
    const QueryRows &rows, bool masked, mlir::ValueRange state)>;

/// The other direction of buildKeyTileLoop: the loop over the query tiles
/// of `tile` (`MaskAttrInterface::buildQueryRange`, rounded out to whole
/// tiles), each classified by the same `buildTileClass`: empty tiles are
/// skipped, full ones run without mask code. A padded tile (a short last
/// query tile, or a key tile of fewer than `tileKv` keys) is never full.
/// With `prefetch`, query tiles are staged as buildKeyTileLoop stages key
/// tiles.
llvm::SmallVector<mlir::Value>
buildQueryTileLoop(mlir::OpBuilder &b, mlir::Location loc,
                   AttentionSpecOpInterface op, AuxReader &aux,
                   const KeyTileRows &tile, int64_t tileQ, int64_t tileKv,
                   mlir::ValueRange init, QueryTileUpdate update,
                   const TilePrefetch *prefetch = nullptr);

} // namespace attn

#endif // ATTN_TRANSFORMS_KEYTILELOOP_H
