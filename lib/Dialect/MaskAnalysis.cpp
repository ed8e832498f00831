//===- MaskAnalysis.cpp - Static facts about masks ------------------------===//

#include "attn/Dialect/MaskAnalysis.h"

#include <numeric>

using namespace mlir;

namespace attn {

std::pair<int64_t, int64_t> alignTileSizes(MaskAttrInterface mask,
                                           int64_t tileQ, int64_t tileKv) {
  if (mask) {
    auto [gq, gkv] = mask.getTileGranularity();
    tileQ = gq ? std::gcd(tileQ, gq) : tileQ;
    tileKv = gkv ? std::gcd(tileKv, gkv) : tileKv;
  }
  return {tileQ, tileKv};
}

namespace {
MaskContext staticContext(int64_t qLen, int64_t kvLen) {
  return MaskContext{IndexExpr(qLen), IndexExpr(kvLen)};
}
} // namespace

namespace {
/// The static class of a tile, and whether run-time data would decide it.
std::pair<TileKind, bool> classify(MaskAttrInterface mask, int64_t qLen,
                                   int64_t kvLen, int64_t qLo, int64_t qHi,
                                   int64_t kvLo, int64_t kvHi) {
  if (qLo >= qHi || kvLo >= kvHi)
    return {TileKind::Empty, false};
  if (!mask)
    return {TileKind::Full, false};
  IndexExprBuilder folder;
  TileClassExpr tileClass = mask.buildTileClass(
      folder, staticContext(qLen, kvLen),
      MaskTile{IndexExpr(0), IndexExpr(0), qLo, qHi, kvLo, kvHi});
  if (tileClass.empty.isTrue())
    return {TileKind::Empty, false};
  if (tileClass.full.isTrue())
    return {TileKind::Full, false};
  return {TileKind::Partial,
          tileClass.empty.isUnknown() || tileClass.full.isUnknown()};
}
} // namespace

TileKind classifyTile(MaskAttrInterface mask, int64_t qLen, int64_t kvLen,
                      int64_t qLo, int64_t qHi, int64_t kvLo, int64_t kvHi) {
  return classify(mask, qLen, kvLen, qLo, qHi, kvLo, kvHi).first;
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

int64_t countBackwardTiles(MaskAttrInterface mask, int64_t qLen,
                           int64_t kvLen, int64_t tileQ, int64_t tileKv) {
  IndexExprBuilder folder;
  MaskContext context = staticContext(qLen, kvLen);
  int64_t visited = 0;
  for (int64_t kvLo = 0; kvLo < kvLen; kvLo += tileKv) {
    int64_t kvHi = std::min(kvLo + tileKv, kvLen);
    int64_t lo = 0, hi = qLen;
    if (mask) {
      IndexRange range = mask.buildQueryRange(folder, context, kvLo, kvHi);
      lo = range.lo.getConstant().value_or(0);
      hi = range.hi.getConstant().value_or(qLen);
    }
    // Whole query tiles, as a loop from the tile holding lo walks them.
    for (int64_t qLo = lo / tileQ * tileQ; qLo < hi; qLo += tileQ)
      visited += classifyTile(mask, qLen, kvLen, qLo,
                              std::min(qLo + tileQ, qLen), kvLo,
                              kvHi) != TileKind::Empty;
  }
  return visited;
}

TileCounts countTiles(MaskAttrInterface mask, int64_t qLen, int64_t kvLen,
                      int64_t tileQ, int64_t tileKv) {
  TileCounts counts;
  for (int64_t qLo = 0; qLo < qLen; qLo += tileQ) {
    for (int64_t kvLo = 0; kvLo < kvLen; kvLo += tileKv) {
      auto [kind, dataDependent] =
          classify(mask, qLen, kvLen, qLo, std::min(qLo + tileQ, qLen), kvLo,
                   std::min(kvLo + tileKv, kvLen));
      switch (kind) {
      case TileKind::Empty:
        ++counts.empty;
        break;
      case TileKind::Full:
        ++counts.full;
        break;
      case TileKind::Partial:
        ++counts.partial;
        counts.dataDependent += dataDependent;
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

namespace {
bool allowsEverything(MaskAttrInterface mask, std::optional<int64_t> qLen,
                      std::optional<int64_t> kvLen) {
  if (!qLen || !kvLen || *qLen == 0 || *kvLen == 0)
    return false;
  return classifyTile(mask, *qLen, *kvLen, 0, *qLen, 0, *kvLen) ==
         TileKind::Full;
}

void appendUnique(SmallVectorImpl<MaskAttrInterface> &list,
                  MaskAttrInterface mask) {
  if (!llvm::is_contained(list, mask))
    list.push_back(mask);
}

/// `causal AND window<L, R>` with one alignment is `window<L, 0>`.
void mergeCausalIntoWindows(SmallVectorImpl<MaskAttrInterface> &operands) {
  for (auto *it = operands.begin(); it != operands.end(); ++it) {
    auto causal = dyn_cast<CausalAttr>(*it);
    if (!causal)
      continue;
    auto *window = llvm::find_if(operands, [&](MaskAttrInterface m) {
      auto w = dyn_cast<WindowAttr>(m);
      return w && w.getAlign() == causal.getAlign();
    });
    if (window == operands.end())
      continue;
    auto w = cast<WindowAttr>(*window);
    *window = WindowAttr::get(w.getContext(), w.getLeft(), 0, w.getAlign());
    operands.erase(it);
    return;
  }
}
} // namespace

MaskAttrInterface simplifyMask(MaskAttrInterface mask,
                               std::optional<int64_t> qLen,
                               std::optional<int64_t> kvLen) {
  if (!mask)
    return nullptr;
  MLIRContext *ctx = mask.getContext();
  MaskAttrInterface result = mask;
  if (auto andMask = dyn_cast<AndAttr>(mask)) {
    SmallVector<MaskAttrInterface> operands;
    for (MaskAttrInterface m : andMask.getMasks()) {
      MaskAttrInterface simple = simplifyMask(m, qLen, kvLen);
      if (!simple)
        continue;
      if (auto nested = dyn_cast<AndAttr>(simple))
        for (MaskAttrInterface x : nested.getMasks())
          appendUnique(operands, x);
      else
        appendUnique(operands, simple);
    }
    mergeCausalIntoWindows(operands);
    if (operands.empty())
      return nullptr;
    result = operands.size() == 1 ? operands.front()
                                  : AndAttr::get(ctx, operands);
  } else if (auto orMask = dyn_cast<OrAttr>(mask)) {
    SmallVector<MaskAttrInterface> operands;
    for (MaskAttrInterface m : orMask.getMasks()) {
      MaskAttrInterface simple = simplifyMask(m, qLen, kvLen);
      if (!simple)
        return nullptr;
      if (auto nested = dyn_cast<OrAttr>(simple))
        for (MaskAttrInterface x : nested.getMasks())
          appendUnique(operands, x);
      else
        appendUnique(operands, simple);
    }
    result = operands.size() == 1 ? operands.front()
                                  : OrAttr::get(ctx, operands);
  } else if (auto notMask = dyn_cast<NotAttr>(mask)) {
    MaskAttrInterface inner = simplifyMask(notMask.getMask(), qLen, kvLen);
    if (!inner) // allows nothing: no simpler spelling
      return mask;
    if (auto doubleNot = dyn_cast<NotAttr>(inner))
      return doubleNot.getMask();
    result = NotAttr::get(ctx, inner);
  } else if (auto window = dyn_cast<WindowAttr>(mask); window && qLen && kvLen) {
    int64_t offset =
        window.getAlign() == Alignment::BottomRight ? *kvLen - *qLen : 0;
    // Every query's window reaches back to key 0: only the causal bound
    // remains.
    if (window.getRight() == 0 && window.getLeft() >= *qLen - 1 + offset)
      result = CausalAttr::get(ctx, window.getAlign());
  }
  if (allowsEverything(result, qLen, kvLen))
    return nullptr;
  return result;
}

} // namespace attn
