//===- Masks.cpp - The mask attributes ------------------------------------===//
//
// Each mask is defined here once, as IndexExpr formulas: the predicate, the
// tile classification and the key range. Every lowering and analysis uses
// these through MaskAttrInterface.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Attn.h"

#include "llvm/ADT/STLExtras.h"

#include <numeric>

using namespace mlir;
using namespace attn;

AuxReader::~AuxReader() = default;

IndexExpr attn::diagonalOffset(Alignment align, const MaskContext &context) {
  if (align == Alignment::BottomRight)
    return context.kvLen - context.qLen;
  return 0;
}

namespace {

/// Tile class of `kv <= q + offset`.
TileClassExpr causalTileClass(const MaskTile &tile, IndexExpr offset) {
  return {tile.kvLo > tile.qHi - 1 + offset, tile.kvHi - 1 <= tile.qLo + offset};
}

IndexExpr readIntOrUnknown(IndexExprBuilder &b, const MaskContext &context,
                           AuxOperand operand, ArrayRef<IndexExpr> indices) {
  if (!context.aux)
    return IndexExpr();
  return context.aux->readInt(b, operand, indices);
}

/// The operand of `op` a mask reads, with a message naming the syntax when
/// it is missing.
FailureOr<RankedTensorType> requireOperand(Operation *op, Value operand,
                                           StringRef what, StringRef syntax) {
  if (!operand)
    return op->emitOpError() << what << " needs the '" << syntax
                             << "' operand";
  return cast<RankedTensorType>(operand.getType());
}

/// True when static `actual` is not `expected` (dynamic sizes pass).
bool mismatch(int64_t actual, int64_t expected) {
  return !ShapedType::isDynamic(actual) && !ShapedType::isDynamic(expected) &&
         actual != expected;
}

int64_t ceilDiv(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) ? ShapedType::kDynamic : (a + b - 1) / b;
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
  return causalTileClass(tile, diagonalOffset(getAlign(), context));
}

IndexRange CausalAttr::buildKvRange(IndexExprBuilder &,
                                    const MaskContext &context, IndexExpr qLo,
                                    IndexExpr qHi) const {
  IndexExpr offset = diagonalOffset(getAlign(), context);
  return {0, clamp(qHi + offset, 0, context.kvLen)};
}

IndexRange CausalAttr::buildQueryRange(IndexExprBuilder &,
                                       const MaskContext &context,
                                       IndexExpr kvLo, IndexExpr) const {
  // Key kv is attended by the queries q >= kv - offset.
  IndexExpr offset = diagonalOffset(getAlign(), context);
  return {clamp(kvLo - offset, 0, context.qLen), context.qLen};
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

IndexRange WindowAttr::buildQueryRange(IndexExprBuilder &,
                                       const MaskContext &context,
                                       IndexExpr kvLo, IndexExpr kvHi) const {
  // Key kv is attended by kv - offset - right <= q <= kv - offset + left.
  IndexExpr offset = diagonalOffset(getAlign(), context);
  return {clamp(kvLo - offset - getRight(), 0, context.qLen),
          clamp(kvHi - offset + getLeft(), 0, context.qLen)};
}

//===----------------------------------------------------------------------===//
// SinksAttr: kv < n
//===----------------------------------------------------------------------===//

LogicalResult SinksAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                int64_t count) {
  if (count < 1 || count > (int64_t(1) << 40))
    return emitError() << "the number of sink tokens must be in [1, 2^40], got "
                       << count;
  return success();
}

PredExpr SinksAttr::buildAllowed(IndexExprBuilder &, const MaskContext &,
                                 const MaskPoint &point) const {
  return point.kv < getCount();
}

TileClassExpr SinksAttr::buildTileClass(IndexExprBuilder &, const MaskContext &,
                                        const MaskTile &tile) const {
  return {tile.kvLo >= getCount(), tile.kvHi <= getCount()};
}

IndexRange SinksAttr::buildKvRange(IndexExprBuilder &,
                                   const MaskContext &context, IndexExpr,
                                   IndexExpr) const {
  return {0, clamp(IndexExpr(getCount()), 0, context.kvLen)};
}

IndexRange SinksAttr::buildQueryRange(IndexExprBuilder &,
                                      const MaskContext &context,
                                      IndexExpr kvLo, IndexExpr) const {
  // Every query attends the sinks, none the other keys.
  return {0, select(kvLo < getCount(), context.qLen, IndexExpr(0))};
}

//===----------------------------------------------------------------------===//
// PrefixLMAttr: kv < n or kv <= q
//===----------------------------------------------------------------------===//

LogicalResult PrefixLMAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                   int64_t prefix) {
  if (prefix < 1 || prefix > (int64_t(1) << 40))
    return emitError() << "the prefix length must be in [1, 2^40], got "
                       << prefix;
  return success();
}

PredExpr PrefixLMAttr::buildAllowed(IndexExprBuilder &, const MaskContext &,
                                    const MaskPoint &point) const {
  return (point.kv < getPrefix()) | (point.kv <= point.q);
}

TileClassExpr PrefixLMAttr::buildTileClass(IndexExprBuilder &,
                                           const MaskContext &,
                                           const MaskTile &tile) const {
  IndexExpr n = getPrefix();
  return {(tile.kvLo >= n) & (tile.kvLo > tile.qHi - 1),
          (tile.kvHi - 1 < n) | (tile.kvHi - 1 <= tile.qLo)};
}

IndexRange PrefixLMAttr::buildKvRange(IndexExprBuilder &,
                                      const MaskContext &context, IndexExpr,
                                      IndexExpr qHi) const {
  return {0, clamp(max(IndexExpr(getPrefix()), qHi), 0, context.kvLen)};
}

IndexRange PrefixLMAttr::buildQueryRange(IndexExprBuilder &,
                                         const MaskContext &context,
                                         IndexExpr kvLo, IndexExpr) const {
  // Every query attends the prefix; key kv past it, the queries q >= kv.
  return {select(kvLo < getPrefix(), IndexExpr(0),
                 clamp(kvLo, 0, context.qLen)),
          context.qLen};
}

//===----------------------------------------------------------------------===//
// StridedAttr: kv <= q and (q - kv < s or (q - kv) % s == 0)
//===----------------------------------------------------------------------===//

LogicalResult StridedAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                  int64_t stride) {
  if (stride < 1 || stride > (int64_t(1) << 40))
    return emitError() << "the stride must be in [1, 2^40], got " << stride;
  return success();
}

PredExpr StridedAttr::buildAllowed(IndexExprBuilder &, const MaskContext &,
                                   const MaskPoint &point) const {
  IndexExpr distance = point.q - point.kv;
  return (distance >= 0) &
         ((distance < getStride()) | (floorMod(distance, getStride()) == 0));
}

TileClassExpr StridedAttr::buildTileClass(IndexExprBuilder &,
                                          const MaskContext &,
                                          const MaskTile &tile) const {
  TileClassExpr causal = causalTileClass(tile, 0);
  // Full when every pair is inside the local band.
  return {causal.empty,
          causal.full & (tile.qHi - 1 - tile.kvLo < getStride())};
}

IndexRange StridedAttr::buildKvRange(IndexExprBuilder &,
                                     const MaskContext &context, IndexExpr,
                                     IndexExpr qHi) const {
  return {0, clamp(qHi, 0, context.kvLen)};
}

IndexRange StridedAttr::buildQueryRange(IndexExprBuilder &,
                                        const MaskContext &context,
                                        IndexExpr kvLo, IndexExpr) const {
  return {clamp(kvLo, 0, context.qLen), context.qLen};
}

//===----------------------------------------------------------------------===//
// FixedAttr: kv <= q and (q / s == kv / s or kv % s >= s - c)
//===----------------------------------------------------------------------===//

LogicalResult FixedAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                int64_t stride, int64_t summary) {
  if (stride < 1 || stride > (int64_t(1) << 40))
    return emitError() << "the stride must be in [1, 2^40], got " << stride;
  if (summary < 1 || summary > stride)
    return emitError() << "the summary size must be in [1, stride = " << stride
                       << "], got " << summary;
  return success();
}

PredExpr FixedAttr::buildAllowed(IndexExprBuilder &, const MaskContext &,
                                 const MaskPoint &point) const {
  int64_t s = getStride();
  return (point.kv <= point.q) &
         ((floorDiv(point.q, s) == floorDiv(point.kv, s)) |
          (floorMod(point.kv, s) >= s - getSummary()));
}

TileClassExpr FixedAttr::buildTileClass(IndexExprBuilder &, const MaskContext &,
                                        const MaskTile &tile) const {
  int64_t s = getStride();
  TileClassExpr causal = causalTileClass(tile, 0);
  IndexExpr qBlockLo = floorDiv(tile.qLo, s), qBlockHi = floorDiv(tile.qHi - 1, s);
  IndexExpr kBlockLo = floorDiv(tile.kvLo, s), kBlockHi = floorDiv(tile.kvHi - 1, s);
  PredExpr keysInOneBlock = kBlockLo == kBlockHi;
  // Keys of one block that stop before its summary positions, in blocks
  // before every query's block: nothing allowed.
  PredExpr noSummary =
      keysInOneBlock & (floorMod(tile.kvHi - 1, s) < s - getSummary());
  PredExpr empty = causal.empty | (noSummary & (kBlockHi < qBlockLo));
  PredExpr allSameBlock =
      (qBlockLo == qBlockHi) & (kBlockLo == qBlockLo) & keysInOneBlock;
  PredExpr allSummary =
      keysInOneBlock & (floorMod(tile.kvLo, s) >= s - getSummary());
  return {empty, causal.full & (allSameBlock | allSummary)};
}

IndexRange FixedAttr::buildKvRange(IndexExprBuilder &,
                                   const MaskContext &context, IndexExpr,
                                   IndexExpr qHi) const {
  return {0, clamp(qHi, 0, context.kvLen)};
}

IndexRange FixedAttr::buildQueryRange(IndexExprBuilder &,
                                      const MaskContext &context,
                                      IndexExpr kvLo, IndexExpr) const {
  return {clamp(kvLo, 0, context.qLen), context.qLen};
}

//===----------------------------------------------------------------------===//
// NeighborhoodAttr
//===----------------------------------------------------------------------===//

namespace {
/// One axis of a neighborhood: the NATTEN rules of NeighborhoodAttr's docs.
struct NeighborhoodAxis {
  int64_t length, window, dilation, stride;
  bool causal;

  /// Length of dilation group `group`: ceil((L - g) / d).
  IndexExpr groupLength(IndexExpr group) const {
    return floorDiv(length - group + dilation - 1, dilation);
  }
  /// The leader of local index `li` in a group of length `groupLen`.
  IndexExpr leader(IndexExpr li, IndexExpr groupLen) const {
    if (stride == 1)
      return li;
    return min(floorDiv(li, stride) * stride + stride / 2, groupLen - 1);
  }
  /// Keys `[lo, hi]` (local, inclusive) of leader `c`.
  std::pair<IndexExpr, IndexExpr> keyRange(IndexExpr c,
                                           IndexExpr groupLen) const {
    if (causal)
      return {max(c - window + 1, 0), c};
    IndexExpr start = clamp(c - window / 2, 0, groupLen - window);
    return {start, start + window - 1};
  }
  /// Whether local key `lk` is in the neighborhood of local query `lq`, in
  /// a group of length `groupLen`.
  PredExpr allowedLocal(IndexExpr lq, IndexExpr lk, IndexExpr groupLen) const {
    auto [lo, hi] = keyRange(leader(lq, groupLen), groupLen);
    return (lo <= lk) & (lk <= hi);
  }
  PredExpr allowed(IndexExpr xq, IndexExpr xk) const {
    IndexExpr group = floorMod(xq, dilation);
    return (floorMod(xk, dilation) == group) &
           allowedLocal(floorDiv(xq, dilation), floorDiv(xk, dilation),
                        groupLength(group));
  }
  /// Keys `[lo, hi]` (local) that any / every query of local `[a, b]`
  /// attends: the key range of a leader only grows with the leader, and
  /// the leader with the query.
  std::pair<IndexExpr, IndexExpr> hullLocal(IndexExpr a, IndexExpr b,
                                            IndexExpr groupLen) const {
    return {keyRange(leader(a, groupLen), groupLen).first,
            keyRange(leader(b, groupLen), groupLen).second};
  }
  std::pair<IndexExpr, IndexExpr> commonLocal(IndexExpr a, IndexExpr b,
                                              IndexExpr groupLen) const {
    return {keyRange(leader(b, groupLen), groupLen).first,
            keyRange(leader(a, groupLen), groupLen).second};
  }
  /// Hull `[lo, hi]` (coordinates, inclusive) of the keys any query
  /// coordinate in `[a, b]` may attend; lo > hi when there is none. Exact
  /// per axis: the key range of a leader only grows with the leader.
  std::pair<IndexExpr, IndexExpr> hull(IndexExpr a, IndexExpr b) const {
    IndexExpr lo = length, hi = -1;
    for (int64_t g = 0; g < dilation; ++g) {
      IndexExpr groupLen = groupLength(g);
      IndexExpr liLo = floorDiv(a - g + dilation - 1, dilation);
      IndexExpr liHi = floorDiv(b - g, dilation);
      PredExpr nonEmpty = liLo <= liHi;
      IndexExpr keyLo = keyRange(leader(liLo, groupLen), groupLen).first;
      IndexExpr keyHi = keyRange(leader(liHi, groupLen), groupLen).second;
      lo = min(lo, select(nonEmpty, keyLo * dilation + g, IndexExpr(length)));
      hi = max(hi, select(nonEmpty, keyHi * dilation + g, IndexExpr(-1)));
    }
    return {lo, hi};
  }
};

SmallVector<NeighborhoodAxis> axesOf(NeighborhoodAttr attr) {
  SmallVector<NeighborhoodAxis> axes;
  for (int64_t a = 0, e = attr.getRank(); a < e; ++a)
    axes.push_back({attr.getGrid()[a], attr.getKernel()[a],
                    attr.getDilationAt(a), attr.getStrideAt(a),
                    attr.getCausalAt(a)});
  return axes;
}

/// Row-major coordinates of linear index `x`.
SmallVector<IndexExpr> coordinates(IndexExpr x, ArrayRef<int64_t> grid) {
  SmallVector<IndexExpr> coords(grid.size());
  for (int64_t a = grid.size() - 1; a >= 0; --a) {
    coords[a] = a == 0 ? x : floorMod(x, grid[a]);
    x = floorDiv(x, grid[a]);
  }
  return coords;
}

/// Number of tokens in one step of the outermost axis.
int64_t outerStep(ArrayRef<int64_t> grid) {
  int64_t step = 1;
  for (int64_t d : grid.drop_front())
    step *= d;
  return step;
}

/// The product of `values`.
IndexExpr product(ArrayRef<IndexExpr> values) {
  IndexExpr result = 1;
  for (const IndexExpr &v : values)
    result = result * v;
  return result;
}

/// The block token order of a neighborhood with `tile` (NeighborhoodAttr's
/// docs): dilation groups one after another, blocks of `tile` within each
/// group's sub-grid, tokens row-major within a block. Where a group length
/// is a multiple of the dilation, or a sub-grid of the tile, every size
/// below is a constant, so decoding a token costs constant divisions only.
class BlockOrder {
public:
  explicit BlockOrder(NeighborhoodAttr attr)
      : axes(axesOf(attr)), tile(attr.getTile()) {}

  /// Where one token lies: its dilation group, the group's sub-grid
  /// lengths, its block, that block's extents and its local coordinates
  /// (in the group), per axis.
  struct Token {
    SmallVector<IndexExpr> group, groupLen, block, blockFirst, extent, local;
  };

  Token decode(IndexExpr x) const {
    int64_t rank = axes.size(), tokens = 1;
    for (const NeighborhoodAxis &axis : axes)
      tokens *= axis.length;
    // Positions past the grid (the padding of a short tile) decode as the
    // last token, so that no length below is zero.
    IndexExpr y = clamp(x, 0, tokens - 1);
    Token t;
    for (int64_t a = 0; a < rank; ++a) {
      IndexExpr slab = product(t.groupLen) * trailingLength(a);
      IndexExpr g = groupAt(a, floorDiv(y, slab));
      t.group.push_back(g);
      t.groupLen.push_back(groupLength(a, g));
      y = y - coordinatesBefore(a, g) * slab;
    }
    for (int64_t a = 0; a < rank; ++a) {
      IndexExpr slab = product(t.extent) * tile[a] *
                       product(ArrayRef(t.groupLen).drop_front(a + 1));
      IndexExpr b = floorDiv(y, slab);
      t.block.push_back(b);
      t.blockFirst.push_back(b * tile[a]);
      t.extent.push_back(blockExtent(a, b, t.groupLen[a]));
      y = y - b * slab;
    }
    t.local.resize(rank);
    for (int64_t a = rank - 1; a > 0; --a) {
      t.local[a] = t.blockFirst[a] + floorMod(y, t.extent[a]);
      y = floorDiv(y, t.extent[a]);
    }
    t.local[0] = t.blockFirst[0] + y;
    return t;
  }

  /// The first token of group `group`.
  IndexExpr groupStart(ArrayRef<IndexExpr> group) const {
    IndexExpr start = 0, outer = 1;
    for (int64_t a = 0, e = axes.size(); a < e; ++a) {
      start =
          start + coordinatesBefore(a, group[a]) * outer * trailingLength(a);
      outer = outer * groupLength(a, group[a]);
    }
    return start;
  }

  /// The first token of block `block` of group `t.group`, and the tokens of
  /// that block.
  std::pair<IndexExpr, IndexExpr> blockSpan(const Token &t,
                                            ArrayRef<IndexExpr> block) const {
    IndexExpr start = groupStart(t.group), outer = 1;
    for (int64_t a = 0, e = axes.size(); a < e; ++a) {
      start = start + block[a] * tile[a] * outer *
                          product(ArrayRef(t.groupLen).drop_front(a + 1));
      outer = outer * blockExtent(a, block[a], t.groupLen[a]);
    }
    return {start, outer};
  }

  const SmallVector<NeighborhoodAxis> &getAxes() const { return axes; }

private:
  /// Tokens in one step of axis `a` of the whole grid: the lengths after it.
  int64_t trailingLength(int64_t a) const {
    int64_t n = 1;
    for (const NeighborhoodAxis &axis : ArrayRef(axes).drop_front(a + 1))
      n *= axis.length;
    return n;
  }
  IndexExpr groupLength(int64_t a, IndexExpr g) const {
    const NeighborhoodAxis &axis = axes[a];
    if (axis.length % axis.dilation == 0)
      return axis.length / axis.dilation;
    return axis.groupLength(g);
  }
  /// Coordinates of axis `a` in the groups before `g`.
  IndexExpr coordinatesBefore(int64_t a, IndexExpr g) const {
    const NeighborhoodAxis &axis = axes[a];
    int64_t q = axis.length / axis.dilation, r = axis.length % axis.dilation;
    return g * q + min(g, r);
  }
  /// The group of the `v`-th coordinate of axis `a` in group order.
  IndexExpr groupAt(int64_t a, IndexExpr v) const {
    const NeighborhoodAxis &axis = axes[a];
    int64_t q = axis.length / axis.dilation, r = axis.length % axis.dilation;
    // The first r groups have q + 1 coordinates, the others q.
    if (r == 0)
      return floorDiv(v, q);
    IndexExpr longOnes = r * (q + 1);
    return select(v < longOnes, floorDiv(v, q + 1),
                  r + floorDiv(v - longOnes, q));
  }
  IndexExpr blockExtent(int64_t a, IndexExpr b, IndexExpr groupLen) const {
    if (std::optional<int64_t> n = groupLen.getConstant();
        n && *n % tile[a] == 0)
      return tile[a];
    return min(tile[a], groupLen - b * tile[a]);
  }

  SmallVector<NeighborhoodAxis> axes;
  ArrayRef<int64_t> tile;
};

/// Tokens `[lo, hi]` (inclusive) of a block order: whether they lie in one
/// dilation group and, if so, per axis local coordinates `[first, last]`
/// that hold every one of them.
struct TokenBox {
  BlockOrder::Token low, high;
  PredExpr oneGroup = true;
  SmallVector<IndexExpr> first, last;

  TokenBox(const BlockOrder &order, IndexExpr lo, IndexExpr hi)
      : low(order.decode(lo)), high(order.decode(hi)) {
    int64_t rank = low.group.size();
    for (int64_t a = 0; a < rank; ++a)
      oneGroup = oneGroup & (low.group[a] == high.group[a]);
    // Block coordinates run row-major: where the earlier axes agree, an
    // axis spans the blocks between the two ends, else its whole group.
    PredExpr sameBlocks = true;
    for (int64_t a = 0; a < rank; ++a) {
      first.push_back(select(sameBlocks, low.blockFirst[a], 0));
      last.push_back(select(sameBlocks, high.blockFirst[a] + high.extent[a] - 1,
                            low.groupLen[a] - 1));
      sameBlocks = sameBlocks & (low.block[a] == high.block[a]);
    }
    // Within one block, tokens run row-major likewise.
    PredExpr sameRows = sameBlocks;
    for (int64_t a = 0; a < rank; ++a) {
      first[a] = select(sameRows, low.local[a], first[a]);
      last[a] = select(sameRows, high.local[a], last[a]);
      sameRows = sameRows & (low.local[a] == high.local[a]);
    }
  }
};
} // namespace

LogicalResult
NeighborhoodAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                         ArrayRef<int64_t> grid, ArrayRef<int64_t> kernel,
                         ArrayRef<int64_t> dilation, ArrayRef<int64_t> stride,
                         ArrayRef<bool> causal, ArrayRef<int64_t> tile) {
  size_t rank = grid.size();
  if (rank < 1 || rank > 3)
    return emitError() << "a neighborhood grid has 1, 2 or 3 axes, got "
                       << rank;
  auto checkSize = [&](StringRef name, size_t size,
                       bool optional) -> LogicalResult {
    if (size == rank || (optional && size == 0))
      return success();
    return emitError() << "'" << name << "' has " << size
                       << " entries but the grid has " << rank << " axes";
  };
  if (failed(checkSize("kernel", kernel.size(), false)) ||
      failed(checkSize("dilation", dilation.size(), true)) ||
      failed(checkSize("stride", stride.size(), true)) ||
      failed(checkSize("causal", causal.size(), true)) ||
      failed(checkSize("tile", tile.size(), true)))
    return failure();
  for (size_t a = 0; a < rank; ++a) {
    int64_t d = dilation.empty() ? 1 : dilation[a];
    int64_t s = stride.empty() ? 1 : stride[a];
    if (grid[a] < 1 || grid[a] > (int64_t(1) << 30))
      return emitError() << "grid axis " << a << " must have 1 to 2^30 "
                         << "positions, got " << grid[a];
    if (kernel[a] < 1 || d < 1 || s < 1)
      return emitError() << "kernel, dilation and stride must be >= 1 (axis "
                         << a << ")";
    if (d > grid[a])
      return emitError() << "dilation " << d << " along axis " << a
                         << " exceeds the axis length " << grid[a];
    int64_t smallestGroup = grid[a] / d;
    if (kernel[a] > smallestGroup)
      return emitError() << "kernel " << kernel[a] << " along axis " << a
                         << " exceeds the " << smallestGroup
                         << " positions of the smallest dilation group "
                            "(axis length "
                         << grid[a] << " / dilation " << d
                         << "); use a smaller kernel or dilation";
    if (s > kernel[a])
      return emitError() << "stride " << s << " along axis " << a
                         << " exceeds the kernel " << kernel[a];
    if (!tile.empty() && (tile[a] < 1 || tile[a] > (int64_t(1) << 30)))
      return emitError() << "tile axis " << a << " must have 1 to 2^30 "
                         << "positions, got " << tile[a];
  }
  return success();
}

std::pair<int64_t, int64_t> NeighborhoodAttr::getTileGranularity() const {
  if (!isTiled())
    return {0, 0};
  int64_t block = 1;
  for (int64_t t : getTile())
    block *= t;
  return {block, block};
}

LogicalResult NeighborhoodAttr::verifyFor(Operation *op,
                                          const AttentionShape &shape) const {
  int64_t tokens = 1;
  for (int64_t d : getGrid())
    tokens *= d;
  if (ShapedType::isDynamic(shape.qLen) || ShapedType::isDynamic(shape.kvLen))
    return op->emitOpError()
           << "a neighborhood mask needs static Sq and Skv (the grid has "
           << tokens << " tokens)";
  if (shape.qLen != tokens || shape.kvLen != tokens)
    return op->emitOpError() << "the neighborhood grid has " << tokens
                             << " tokens, but Sq = " << shape.qLen
                             << " and Skv = " << shape.kvLen
                             << "; both must equal the product of the grid";
  return success();
}

PredExpr NeighborhoodAttr::buildAllowed(IndexExprBuilder &, const MaskContext &,
                                        const MaskPoint &point) const {
  if (isTiled()) {
    BlockOrder order(*this);
    BlockOrder::Token q = order.decode(point.q), k = order.decode(point.kv);
    PredExpr allowed = true;
    for (auto [a, axis] : llvm::enumerate(order.getAxes()))
      allowed = allowed & (q.group[a] == k.group[a]) &
                axis.allowedLocal(q.local[a], k.local[a], q.groupLen[a]);
    return allowed;
  }
  SmallVector<IndexExpr> q = coordinates(point.q, getGrid());
  SmallVector<IndexExpr> k = coordinates(point.kv, getGrid());
  PredExpr allowed = true;
  for (auto [axis, xq, xk] : llvm::zip_equal(axesOf(*this), q, k))
    allowed = allowed & axis.allowed(xq, xk);
  return allowed;
}

TileClassExpr NeighborhoodAttr::buildTileClass(IndexExprBuilder &,
                                               const MaskContext &,
                                               const MaskTile &tile) const {
  if (isTiled()) {
    // Per axis of the boxes holding the two ranges (sound: a box holds
    // more tokens than its range, never fewer).
    BlockOrder order(*this);
    TokenBox q(order, tile.qLo, tile.qHi - 1),
        k(order, tile.kvLo, tile.kvHi - 1);
    PredExpr oneGroup = q.oneGroup & k.oneGroup, sameGroup = oneGroup;
    for (auto [qGroup, kGroup] : llvm::zip_equal(q.low.group, k.low.group))
      sameGroup = sameGroup & (qGroup == kGroup);
    PredExpr outside = false, inside = sameGroup;
    for (auto [a, axis] : llvm::enumerate(order.getAxes())) {
      IndexExpr groupLen = q.low.groupLen[a];
      auto [anyLo, anyHi] = axis.hullLocal(q.first[a], q.last[a], groupLen);
      auto [allLo, allHi] = axis.commonLocal(q.first[a], q.last[a], groupLen);
      outside = outside | (k.last[a] < anyLo) | (k.first[a] > anyHi);
      inside = inside & (allLo <= k.first[a]) & (k.last[a] <= allHi);
    }
    return {oneGroup & ((!sameGroup) | outside), inside};
  }
  SmallVector<NeighborhoodAxis> axes = axesOf(*this);
  int64_t step = outerStep(getGrid());
  auto [lo, hi] = axes[0].hull(floorDiv(tile.qLo, step),
                               floorDiv(tile.qHi - 1, step));
  PredExpr empty =
      (floorDiv(tile.kvHi - 1, step) < lo) | (floorDiv(tile.kvLo, step) > hi);
  // A tile is provably full only for a 1-D neighborhood without dilation,
  // where every query's keys form one band.
  PredExpr full = false;
  if (getRank() == 1 && axes[0].dilation == 1) {
    const NeighborhoodAxis &axis = axes[0];
    IndexExpr groupLen = axis.length;
    auto first = axis.keyRange(axis.leader(tile.qLo, groupLen), groupLen);
    auto last = axis.keyRange(axis.leader(tile.qHi - 1, groupLen), groupLen);
    full = (last.first <= tile.kvLo) & (tile.kvHi - 1 <= first.second);
  }
  return {empty, full};
}

namespace {
/// The tokens `[lo, hi)` of a block order from the block holding the local
/// coordinates `first` to the block holding `last` (per axis, in the group
/// of `box`); the blocks between that the box misses are classified empty.
/// Ranges over several groups take those groups whole.
IndexRange blockSpanOf(const BlockOrder &order, ArrayRef<int64_t> tile,
                       const TokenBox &box, ArrayRef<IndexExpr> first,
                       ArrayRef<IndexExpr> last) {
  SmallVector<IndexExpr> firstBlock, lastBlock;
  for (auto [lo, hi, t] : llvm::zip_equal(first, last, tile)) {
    firstBlock.push_back(floorDiv(lo, t));
    lastBlock.push_back(floorDiv(hi, t));
  }
  IndexExpr start = order.blockSpan(box.low, firstBlock).first;
  auto [lastStart, lastTokens] = order.blockSpan(box.low, lastBlock);
  IndexExpr groupsEnd =
      order.groupStart(box.high.group) + product(box.high.groupLen);
  return {select(box.oneGroup, start, order.groupStart(box.low.group)),
          select(box.oneGroup, lastStart + lastTokens, groupsEnd)};
}

/// How far, in local coordinates of a group, a query may lie from a key it
/// attends: its leader is within the stride, the leader's keys within the
/// window (shifted at the borders, still within it).
int64_t queryReach(const NeighborhoodAxis &axis) {
  return axis.window + axis.stride;
}
} // namespace

IndexRange NeighborhoodAttr::buildKvRange(IndexExprBuilder &,
                                          const MaskContext &context,
                                          IndexExpr qLo, IndexExpr qHi) const {
  if (isTiled()) {
    BlockOrder order(*this);
    TokenBox q(order, qLo, qHi - 1);
    SmallVector<IndexExpr> first, last;
    for (auto [a, axis] : llvm::enumerate(order.getAxes())) {
      auto [lo, hi] = axis.hullLocal(q.first[a], q.last[a], q.low.groupLen[a]);
      first.push_back(lo);
      last.push_back(hi);
    }
    IndexRange keys = blockSpanOf(order, getTile(), q, first, last);
    return {clamp(keys.lo, 0, context.kvLen), clamp(keys.hi, 0, context.kvLen)};
  }
  int64_t step = outerStep(getGrid());
  auto [lo, hi] =
      axesOf(*this)[0].hull(floorDiv(qLo, step), floorDiv(qHi - 1, step));
  return {clamp(lo * step, 0, context.kvLen),
          clamp((hi + 1) * step, 0, context.kvLen)};
}

IndexRange NeighborhoodAttr::buildQueryRange(IndexExprBuilder &,
                                             const MaskContext &context,
                                             IndexExpr kvLo,
                                             IndexExpr kvHi) const {
  if (isTiled()) {
    BlockOrder order(*this);
    TokenBox k(order, kvLo, kvHi - 1);
    SmallVector<IndexExpr> first, last;
    for (auto [a, axis] : llvm::enumerate(order.getAxes())) {
      first.push_back(max(k.first[a] - queryReach(axis), 0));
      last.push_back(min(k.last[a] + queryReach(axis), k.low.groupLen[a] - 1));
    }
    IndexRange queries = blockSpanOf(order, getTile(), k, first, last);
    return {clamp(queries.lo, 0, context.qLen),
            clamp(queries.hi, 0, context.qLen)};
  }
  // Along the outer axis, in global coordinates (a local step is a
  // dilation's).
  const NeighborhoodAxis axis = axesOf(*this)[0];
  int64_t step = outerStep(getGrid());
  int64_t reach = queryReach(axis) * axis.dilation;
  IndexExpr lo = max(floorDiv(kvLo, step) - reach, 0);
  IndexExpr hi = min(floorDiv(kvHi - 1, step) + reach, axis.length - 1);
  return {clamp(lo * step, 0, context.qLen),
          clamp((hi + 1) * step, 0, context.qLen)};
}

//===----------------------------------------------------------------------===//
// BlockSparseAttr: layout[b, h, q / bq, kv / bk] != 0
//===----------------------------------------------------------------------===//

LogicalResult
BlockSparseAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        ArrayRef<int64_t> block) {
  if (block.size() != 2 || block[0] < 1 || block[1] < 1)
    return emitError() << "block_sparse takes block = [bq, bk] with sizes >= 1";
  return success();
}

LogicalResult BlockSparseAttr::verifyFor(Operation *op,
                                         const AttentionShape &shape) const {
  AuxOperandValues aux = cast<AttentionSpecOpInterface>(op).getAuxOperands();
  FailureOr<RankedTensorType> layout =
      requireOperand(op, aux[size_t(AuxOperand::Layout)], "#attn.block_sparse",
                     "layout(%l : tensor<...>)");
  if (failed(layout))
    return failure();
  Type elt = layout->getElementType();
  if (!elt.isInteger(1) && !elt.isInteger(8))
    return op->emitOpError() << "the block-sparse layout must have i1 or i8 "
                                "elements, got "
                             << elt;
  int64_t qBlocks = ceilDiv(shape.qLen, getBlock()[0]);
  int64_t kvBlocks = ceilDiv(shape.kvLen, getBlock()[1]);
  ArrayRef<int64_t> dims = layout->getShape();
  if (layout->getRank() != 4 ||
      (dims[0] != 1 && mismatch(dims[0], shape.batch)) ||
      (dims[1] != 1 && mismatch(dims[1], shape.qHeads)) ||
      mismatch(dims[2], qBlocks) || mismatch(dims[3], kvBlocks))
    return op->emitOpError()
           << "the block-sparse layout must have shape [B or 1, Hq or 1, "
              "ceil(Sq / "
           << getBlock()[0] << "), ceil(Skv / " << getBlock()[1] << ")] = [" << shape.batch
           << " or 1, " << shape.qHeads << " or 1, " << qBlocks << ", "
           << kvBlocks << "] (? is dynamic), got " << Type(*layout);
  return success();
}

std::pair<int64_t, int64_t> BlockSparseAttr::getTileGranularity() const {
  return {getBlock()[0], getBlock()[1]};
}

PredExpr BlockSparseAttr::buildAllowed(IndexExprBuilder &b,
                                       const MaskContext &context,
                                       const MaskPoint &point) const {
  IndexExpr value = readIntOrUnknown(
      b, context, AuxOperand::Layout,
      {point.batch, point.head, floorDiv(point.q, getBlock()[0]),
       floorDiv(point.kv, getBlock()[1])});
  return value != 0;
}

TileClassExpr BlockSparseAttr::buildTileClass(IndexExprBuilder &b,
                                              const MaskContext &context,
                                              const MaskTile &tile) const {
  int64_t bq = getBlock()[0], bk = getBlock()[1];
  IndexExpr qBlock = floorDiv(tile.qLo, bq), kBlock = floorDiv(tile.kvLo, bk);
  // A tile inside one block takes that block's value; others are partial.
  PredExpr oneBlock = (qBlock == floorDiv(tile.qHi - 1, bq)) &
                      (kBlock == floorDiv(tile.kvHi - 1, bk));
  IndexExpr value = readIntOrUnknown(b, context, AuxOperand::Layout,
                                     {tile.batch, tile.head, qBlock, kBlock});
  return {oneBlock & (value == 0), oneBlock & (value != 0)};
}

IndexRange BlockSparseAttr::buildKvRange(IndexExprBuilder &,
                                         const MaskContext &context, IndexExpr,
                                         IndexExpr) const {
  return {0, context.kvLen};
}

//===----------------------------------------------------------------------===//
// DocumentAttr: qSegments[b, q] == kvSegments[b, kv]
//===----------------------------------------------------------------------===//

LogicalResult DocumentAttr::verifyFor(Operation *op,
                                      const AttentionShape &shape) const {
  AuxOperandValues aux = cast<AttentionSpecOpInterface>(op).getAuxOperands();
  FailureOr<RankedTensorType> qSeg = requireOperand(
      op, aux[size_t(AuxOperand::QSegments)], "#attn.document",
      "segments(%q_ids, %kv_ids : tensor<BxSqxi32>, tensor<BxSkvxi32>)");
  if (failed(qSeg))
    return failure();
  auto kvSeg =
      cast<RankedTensorType>(aux[size_t(AuxOperand::KvSegments)].getType());
  for (auto [name, type, len] : {std::tuple{"query", *qSeg, shape.qLen},
                                 std::tuple{"key", kvSeg, shape.kvLen}}) {
    if (!type.getElementType().isInteger(32) || type.getRank() != 2 ||
        mismatch(type.getDimSize(0), shape.batch) ||
        mismatch(type.getDimSize(1), len))
      return op->emitOpError()
             << "the " << name << " segment ids must be an i32 tensor [B, "
             << (len == shape.qLen ? "Sq" : "Skv") << "], got " << Type(type);
  }
  return success();
}

PredExpr DocumentAttr::buildAllowed(IndexExprBuilder &b,
                                    const MaskContext &context,
                                    const MaskPoint &point) const {
  return readIntOrUnknown(b, context, AuxOperand::QSegments,
                          {point.batch, point.q}) ==
         readIntOrUnknown(b, context, AuxOperand::KvSegments,
                          {point.batch, point.kv});
}

TileClassExpr DocumentAttr::buildTileClass(IndexExprBuilder &b,
                                           const MaskContext &context,
                                           const MaskTile &tile) const {
  if (!context.aux)
    return {PredExpr(), PredExpr()};
  auto [qMin, qMax] = context.aux->readMinMax(b, AuxOperand::QSegments,
                                              tile.batch, tile.qLo, tile.qHi);
  auto [kMin, kMax] = context.aux->readMinMax(b, AuxOperand::KvSegments,
                                              tile.batch, tile.kvLo, tile.kvHi);
  // Disjoint id ranges cannot meet (exact for sorted ids); one shared id
  // everywhere allows everything.
  return {(qMax < kMin) | (kMax < qMin),
          (qMin == qMax) & (kMin == kMax) & (qMin == kMin)};
}

IndexRange DocumentAttr::buildKvRange(IndexExprBuilder &,
                                      const MaskContext &context, IndexExpr,
                                      IndexExpr) const {
  return {0, context.kvLen};
}

//===----------------------------------------------------------------------===//
// AndAttr, OrAttr, NotAttr
//===----------------------------------------------------------------------===//

namespace {
LogicalResult verifyCombinator(function_ref<InFlightDiagnostic()> emitError,
                               StringRef name,
                               ArrayRef<MaskAttrInterface> masks) {
  if (masks.empty())
    return emitError() << "#attn." << name << " needs at least one mask";
  return success();
}

/// The granularity that suits every operand: the gcd of their non-zero
/// granularities, per axis.
std::pair<int64_t, int64_t>
commonGranularity(ArrayRef<MaskAttrInterface> masks) {
  std::pair<int64_t, int64_t> g{0, 0};
  for (MaskAttrInterface mask : masks) {
    auto [q, kv] = mask.getTileGranularity();
    g = {std::gcd(g.first, q), std::gcd(g.second, kv)};
  }
  return g;
}

LogicalResult verifyEach(ArrayRef<MaskAttrInterface> masks, Operation *op,
                         const AttentionShape &shape) {
  for (MaskAttrInterface mask : masks)
    if (failed(mask.verifyFor(op, shape)))
      return failure();
  return success();
}
} // namespace

LogicalResult AndAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                              ArrayRef<MaskAttrInterface> masks) {
  return verifyCombinator(emitError, "and", masks);
}

LogicalResult AndAttr::verifyFor(Operation *op,
                                 const AttentionShape &shape) const {
  return verifyEach(getMasks(), op, shape);
}

std::pair<int64_t, int64_t> AndAttr::getTileGranularity() const {
  return commonGranularity(getMasks());
}

PredExpr AndAttr::buildAllowed(IndexExprBuilder &b, const MaskContext &context,
                               const MaskPoint &point) const {
  PredExpr allowed = true;
  for (MaskAttrInterface mask : getMasks())
    allowed = allowed & mask.buildAllowed(b, context, point);
  return allowed;
}

TileClassExpr AndAttr::buildTileClass(IndexExprBuilder &b,
                                      const MaskContext &context,
                                      const MaskTile &tile) const {
  TileClassExpr result{false, true};
  for (MaskAttrInterface mask : getMasks()) {
    TileClassExpr c = mask.buildTileClass(b, context, tile);
    result = {result.empty | c.empty, result.full & c.full};
  }
  return result;
}

IndexRange AndAttr::buildKvRange(IndexExprBuilder &b, const MaskContext &context,
                                 IndexExpr qLo, IndexExpr qHi) const {
  IndexRange range{0, context.kvLen};
  for (MaskAttrInterface mask : getMasks()) {
    IndexRange r = mask.buildKvRange(b, context, qLo, qHi);
    range = {max(range.lo, r.lo), min(range.hi, r.hi)};
  }
  return range;
}

IndexRange AndAttr::buildQueryRange(IndexExprBuilder &b,
                                    const MaskContext &context, IndexExpr kvLo,
                                    IndexExpr kvHi) const {
  IndexRange range{0, context.qLen};
  for (MaskAttrInterface mask : getMasks()) {
    IndexRange r = mask.buildQueryRange(b, context, kvLo, kvHi);
    range = {max(range.lo, r.lo), min(range.hi, r.hi)};
  }
  return range;
}

LogicalResult OrAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                             ArrayRef<MaskAttrInterface> masks) {
  return verifyCombinator(emitError, "or", masks);
}

LogicalResult OrAttr::verifyFor(Operation *op,
                                const AttentionShape &shape) const {
  return verifyEach(getMasks(), op, shape);
}

std::pair<int64_t, int64_t> OrAttr::getTileGranularity() const {
  return commonGranularity(getMasks());
}

PredExpr OrAttr::buildAllowed(IndexExprBuilder &b, const MaskContext &context,
                              const MaskPoint &point) const {
  PredExpr allowed = false;
  for (MaskAttrInterface mask : getMasks())
    allowed = allowed | mask.buildAllowed(b, context, point);
  return allowed;
}

TileClassExpr OrAttr::buildTileClass(IndexExprBuilder &b,
                                     const MaskContext &context,
                                     const MaskTile &tile) const {
  TileClassExpr result{true, false};
  for (MaskAttrInterface mask : getMasks()) {
    TileClassExpr c = mask.buildTileClass(b, context, tile);
    result = {result.empty & c.empty, result.full | c.full};
  }
  return result;
}

namespace {
/// The hull of the non-empty ranges `rangeOf(mask)` of `masks`, within
/// `[0, length)` (empty when all are).
template <typename RangeOf>
IndexRange hullOfRanges(ArrayRef<MaskAttrInterface> masks, IndexExpr length,
                        RangeOf rangeOf) {
  IndexRange range{length, 0};
  for (MaskAttrInterface mask : masks) {
    IndexRange r = rangeOf(mask);
    PredExpr nonEmpty = r.lo < r.hi;
    range = {min(range.lo, select(nonEmpty, r.lo, length)),
             max(range.hi, select(nonEmpty, r.hi, IndexExpr(0)))};
  }
  return range;
}
} // namespace

IndexRange OrAttr::buildKvRange(IndexExprBuilder &b, const MaskContext &context,
                                IndexExpr qLo, IndexExpr qHi) const {
  return hullOfRanges(getMasks(), context.kvLen, [&](MaskAttrInterface m) {
    return m.buildKvRange(b, context, qLo, qHi);
  });
}

IndexRange OrAttr::buildQueryRange(IndexExprBuilder &b,
                                   const MaskContext &context, IndexExpr kvLo,
                                   IndexExpr kvHi) const {
  return hullOfRanges(getMasks(), context.qLen, [&](MaskAttrInterface m) {
    return m.buildQueryRange(b, context, kvLo, kvHi);
  });
}

LogicalResult NotAttr::verifyFor(Operation *op,
                                 const AttentionShape &shape) const {
  return getMask().verifyFor(op, shape);
}

std::pair<int64_t, int64_t> NotAttr::getTileGranularity() const {
  return getMask().getTileGranularity();
}

PredExpr NotAttr::buildAllowed(IndexExprBuilder &b, const MaskContext &context,
                               const MaskPoint &point) const {
  return !getMask().buildAllowed(b, context, point);
}

TileClassExpr NotAttr::buildTileClass(IndexExprBuilder &b,
                                      const MaskContext &context,
                                      const MaskTile &tile) const {
  TileClassExpr inner = getMask().buildTileClass(b, context, tile);
  return {inner.full, inner.empty};
}

IndexRange NotAttr::buildKvRange(IndexExprBuilder &, const MaskContext &context,
                                 IndexExpr, IndexExpr) const {
  return {0, context.kvLen};
}
