//===- MaskAnalysis.h - Static facts about masks ----------------*- C++ -*-===//
//
// What can be proven about a mask for static sequence lengths, through the
// same MaskAttrInterface formulas the kernels use: empty rows (for the
// verifier), tile classes and density (for reports).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_MASKANALYSIS_H
#define ATTN_DIALECT_MASKANALYSIS_H

#include "attn/Dialect/Attn.h"

#include <optional>

namespace attn {

enum class TileKind { Empty, Full, Partial };

/// Classifies the tile `[qLo, qHi) x [kvLo, kvHi)` of batch 0, head 0. A null
/// mask allows everything.
TileKind classifyTile(MaskAttrInterface mask, int64_t qLen, int64_t kvLen,
                      int64_t qLo, int64_t qHi, int64_t kvLo, int64_t kvHi);

/// Returns a query row that provably has no allowed key, if any.
std::optional<int64_t> findEmptyRow(MaskAttrInterface mask, int64_t qLen,
                                    int64_t kvLen);

struct TileCounts {
  int64_t empty = 0;
  int64_t full = 0;
  int64_t partial = 0;
  /// Of the partial tiles, those a kernel classifies from run-time data.
  int64_t dataDependent = 0;
};

/// The requested tile sizes reduced to divide the mask's own block
/// structure (`getTileGranularity`), so that tiles inside a block (of a
/// block-sparse layout, of a block-ordered neighborhood) are classified.
std::pair<int64_t, int64_t> alignTileSizes(MaskAttrInterface mask,
                                           int64_t tileQ, int64_t tileKv);

/// Counts the classes of the `tileQ x tileKv` tiles that cover the score
/// matrix (edge tiles are clipped).
TileCounts countTiles(MaskAttrInterface mask, int64_t qLen, int64_t kvLen,
                      int64_t tileQ, int64_t tileKv);

/// The tiles a backward's key-tile loops visit: per key tile, the query
/// tiles that meet the mask's query range of the key tile
/// (`buildQueryRange`) and are not Empty.
int64_t countBackwardTiles(MaskAttrInterface mask, int64_t qLen,
                           int64_t kvLen, int64_t tileQ, int64_t tileKv);

/// The fraction of allowed (query, key) pairs, when the mask is known
/// statically (not read from run-time data).
std::optional<double> density(MaskAttrInterface mask, int64_t qLen,
                              int64_t kvLen);

/// Returns an equivalent, simpler mask; null when it allows every pair.
/// Nested `and`/`or` are flattened and deduplicated, `not<not<m>>` is `m`,
/// `causal AND window<L, R>` (one alignment) is `window<L, 0>`, and with
/// static lengths a window reaching every earlier key is `causal`, and a
/// part that allows every pair is dropped.
MaskAttrInterface simplifyMask(MaskAttrInterface mask,
                               std::optional<int64_t> qLen,
                               std::optional<int64_t> kvLen);

} // namespace attn

#endif // ATTN_DIALECT_MASKANALYSIS_H
