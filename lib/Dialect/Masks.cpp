//===- Masks.cpp - The mask attributes ------------------------------------===//
//
// Each mask is defined here once, as IndexExpr formulas: the predicate, the
// tile classification and the key range. Every lowering and analysis uses
// these through MaskAttrInterface.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Attn.h"

using namespace mlir;
using namespace attn;

namespace {
/// The diagonal `kv = q + offset` of causal and window masks: 0 when
/// top-left aligned, `Skv - Sq` when bottom-right aligned.
IndexExpr diagonalOffset(Alignment align, const MaskContext &context) {
  if (align == Alignment::BottomRight)
    return context.kvLen - context.qLen;
  return 0;
}
} // namespace

//===----------------------------------------------------------------------===//
// CausalAttr: kv <= q + offset
//===----------------------------------------------------------------------===//

PredExpr CausalAttr::buildAllowed(IndexExprBuilder &, const MaskContext &context,
                                  const MaskPoint &point) const {
  return point.kv <= point.q + diagonalOffset(getAlign(), context);
}

TileClassExpr CausalAttr::buildTileClass(IndexExprBuilder &,
                                         const MaskContext &context,
                                         const MaskTile &tile) const {
  IndexExpr offset = diagonalOffset(getAlign(), context);
  // Empty: the first key lies right of the last query's diagonal. Full: the
  // last key lies on or left of the first query's diagonal.
  return {tile.kvLo > tile.qHi - 1 + offset, tile.kvHi - 1 <= tile.qLo + offset};
}

IndexRange CausalAttr::buildKvRange(IndexExprBuilder &,
                                    const MaskContext &context, IndexExpr qLo,
                                    IndexExpr qHi) const {
  IndexExpr offset = diagonalOffset(getAlign(), context);
  return {0, clamp(qHi + offset, 0, context.kvLen)};
}

//===----------------------------------------------------------------------===//
// WindowAttr: q + offset - left <= kv <= q + offset + right
//===----------------------------------------------------------------------===//

LogicalResult WindowAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 int64_t left, int64_t right, Alignment) {
  // The bound keeps every index computation far from int64 overflow.
  constexpr int64_t kMaxExtent = int64_t(1) << 40;
  if (left < 0 || right < 0 || left > kMaxExtent || right > kMaxExtent)
    return emitError() << "window extents must be in [0, 2^40], got left = "
                       << left << ", right = " << right
                       << " (use #attn.causal for an unbounded left side)";
  return success();
}

PredExpr WindowAttr::buildAllowed(IndexExprBuilder &, const MaskContext &context,
                                  const MaskPoint &point) const {
  IndexExpr diagonal = point.q + diagonalOffset(getAlign(), context);
  return (diagonal - getLeft() <= point.kv) &
         (point.kv <= diagonal + getRight());
}

TileClassExpr WindowAttr::buildTileClass(IndexExprBuilder &,
                                         const MaskContext &context,
                                         const MaskTile &tile) const {
  IndexExpr offset = diagonalOffset(getAlign(), context);
  IndexExpr firstDiagonal = tile.qLo + offset;
  IndexExpr lastDiagonal = tile.qHi - 1 + offset;
  PredExpr empty = (tile.kvHi - 1 < firstDiagonal - getLeft()) |
                   (tile.kvLo > lastDiagonal + getRight());
  PredExpr full = (tile.kvLo >= lastDiagonal - getLeft()) &
                  (tile.kvHi - 1 <= firstDiagonal + getRight());
  return {empty, full};
}

IndexRange WindowAttr::buildKvRange(IndexExprBuilder &,
                                    const MaskContext &context, IndexExpr qLo,
                                    IndexExpr qHi) const {
  IndexExpr offset = diagonalOffset(getAlign(), context);
  return {clamp(qLo + offset - getLeft(), 0, context.kvLen),
          clamp(qHi + offset + getRight(), 0, context.kvLen)};
}
