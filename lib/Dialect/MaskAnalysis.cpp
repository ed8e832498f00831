//===- MaskAnalysis.cpp - Static facts about masks ------------------------===//

#include "attn/Dialect/MaskAnalysis.h"

using namespace mlir;

namespace attn {

namespace {
MaskContext staticContext(int64_t qLen, int64_t kvLen) {
  return MaskContext{IndexExpr(qLen), IndexExpr(kvLen)};
}
} // namespace

TileKind classifyTile(MaskAttrInterface mask, int64_t qLen, int64_t kvLen,
                      int64_t qLo, int64_t qHi, int64_t kvLo, int64_t kvHi) {
  if (qLo >= qHi || kvLo >= kvHi)
    return TileKind::Empty;
  if (!mask)
    return TileKind::Full;
  IndexExprBuilder folder;
  TileClassExpr tileClass = mask.buildTileClass(
      folder, staticContext(qLen, kvLen),
      MaskTile{IndexExpr(0), IndexExpr(0), qLo, qHi, kvLo, kvHi});
  if (tileClass.empty.isTrue())
    return TileKind::Empty;
  if (tileClass.full.isTrue())
    return TileKind::Full;
  return TileKind::Partial;
}

std::optional<int64_t> findEmptyRow(MaskAttrInterface mask, int64_t qLen,
                                    int64_t kvLen) {
  if (!mask)
    return kvLen == 0 && qLen > 0 ? std::optional<int64_t>(0) : std::nullopt;
  IndexExprBuilder folder;
  MaskContext context = staticContext(qLen, kvLen);
  for (int64_t row = 0; row < qLen; ++row) {
    IndexRange range = mask.buildKvRange(folder, context, row, row + 1);
    std::optional<int64_t> lo = range.lo.getConstant();
    std::optional<int64_t> hi = range.hi.getConstant();
    if (!lo || !hi)
      continue;
    if (*lo >= *hi ||
        classifyTile(mask, qLen, kvLen, row, row + 1, *lo, *hi) ==
            TileKind::Empty)
      return row;
  }
  return std::nullopt;
}

TileCounts countTiles(MaskAttrInterface mask, int64_t qLen, int64_t kvLen,
                      int64_t tileQ, int64_t tileKv) {
  TileCounts counts;
  for (int64_t qLo = 0; qLo < qLen; qLo += tileQ) {
    for (int64_t kvLo = 0; kvLo < kvLen; kvLo += tileKv) {
      switch (classifyTile(mask, qLen, kvLen, qLo, std::min(qLo + tileQ, qLen),
                           kvLo, std::min(kvLo + tileKv, kvLen))) {
      case TileKind::Empty:
        ++counts.empty;
        break;
      case TileKind::Full:
        ++counts.full;
        break;
      case TileKind::Partial:
        ++counts.partial;
        break;
      }
    }
  }
  return counts;
}

std::optional<double> density(MaskAttrInterface mask, int64_t qLen,
                              int64_t kvLen) {
  if (qLen == 0 || kvLen == 0)
    return 0.0;
  if (!mask)
    return 1.0;
  // Whole tiles where the class is proven; single pairs elsewhere.
  constexpr int64_t kTile = 64;
  IndexExprBuilder folder;
  MaskContext context = staticContext(qLen, kvLen);
  double allowed = 0;
  for (int64_t qLo = 0; qLo < qLen; qLo += kTile) {
    int64_t qHi = std::min(qLo + kTile, qLen);
    for (int64_t kvLo = 0; kvLo < kvLen; kvLo += kTile) {
      int64_t kvHi = std::min(kvLo + kTile, kvLen);
      TileKind kind = classifyTile(mask, qLen, kvLen, qLo, qHi, kvLo, kvHi);
      if (kind == TileKind::Empty)
        continue;
      if (kind == TileKind::Full) {
        allowed += double(qHi - qLo) * double(kvHi - kvLo);
        continue;
      }
      for (int64_t q = qLo; q < qHi; ++q) {
        for (int64_t kv = kvLo; kv < kvHi; ++kv) {
          PredExpr ok = mask.buildAllowed(
              folder, context, MaskPoint{IndexExpr(0), IndexExpr(0), q, kv});
          if (ok.isUnknown())
            return std::nullopt;
          allowed += ok.isTrue() ? 1 : 0;
        }
      }
    }
  }
  return allowed / (double(qLen) * double(kvLen));
}

} // namespace attn
