//===- MaskAnalysisTest.cpp - Static mask facts vs brute force ------------===//
//
// The tile classes, key ranges, empty rows and densities that the static
// analysis derives through MaskAttrInterface must agree with an independent
// element-by-element definition of each mask, on random shapes.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/MaskAnalysis.h"

#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>

using namespace attn;

namespace {

using Predicate = std::function<bool(int64_t q, int64_t kv)>;

struct MaskCase {
  MaskAttrInterface attr;
  Predicate allowed;
  std::string name;
  /// Whether tile classes and key ranges are exact (else only sound).
  bool exact = true;
};

/// The masks with independent definitions, for lengths (sq, skv).
std::vector<MaskCase> masks(mlir::MLIRContext *ctx, int64_t sq, int64_t skv) {
  int64_t br = skv - sq;
  std::vector<MaskCase> cases;
  cases.push_back({CausalAttr::get(ctx, Alignment::TopLeft),
                   [](int64_t q, int64_t kv) { return kv <= q; },
                   "causal"});
  cases.push_back({CausalAttr::get(ctx, Alignment::BottomRight),
                   [br](int64_t q, int64_t kv) { return kv <= q + br; },
                   "causal<bottom_right>"});
  for (auto [l, r] : {std::pair{0, 0}, {3, 0}, {5, 2}, {0, 7}, {64, 64}}) {
    cases.push_back({WindowAttr::get(ctx, l, r, Alignment::TopLeft),
                     [l = l, r = r](int64_t q, int64_t kv) {
                       return q - l <= kv && kv <= q + r;
                     },
                     "window<" + std::to_string(l) + "," + std::to_string(r) +
                         ">"});
    cases.push_back({WindowAttr::get(ctx, l, r, Alignment::BottomRight),
                     [l = l, r = r, br](int64_t q, int64_t kv) {
                       return q + br - l <= kv && kv <= q + br + r;
                     },
                     "window<" + std::to_string(l) + "," + std::to_string(r) +
                         ",bottom_right>"});
  }
  cases.push_back({SinksAttr::get(ctx, 5),
                   [](int64_t, int64_t kv) { return kv < 5; }, "sinks<5>"});
  cases.push_back({PrefixLMAttr::get(ctx, 9),
                   [](int64_t q, int64_t kv) { return kv < 9 || kv <= q; },
                   "prefix_lm<9>"});
  cases.push_back({StridedAttr::get(ctx, 6),
                   [](int64_t q, int64_t kv) {
                     int64_t d = q - kv;
                     return d >= 0 && (d < 6 || d % 6 == 0);
                   },
                   "strided<6>", /*exact=*/false});
  cases.push_back({FixedAttr::get(ctx, 8, 3),
                   [](int64_t q, int64_t kv) {
                     return kv <= q && (q / 8 == kv / 8 || kv % 8 >= 5);
                   },
                   "fixed<8,3>", /*exact=*/false});
  auto causalTL = CausalAttr::get(ctx, Alignment::TopLeft);
  auto window = WindowAttr::get(ctx, 4, 2, Alignment::TopLeft);
  auto sink = SinksAttr::get(ctx, 2);
  cases.push_back({OrAttr::get(ctx, {AndAttr::get(ctx, {causalTL, window}),
                                     sink}),
                   [](int64_t q, int64_t kv) {
                     return (kv <= q && q - 4 <= kv && kv <= q + 2) || kv < 2;
                   },
                   "or<and<causal,window>,sinks>", /*exact=*/false});
  cases.push_back({NotAttr::get(ctx, window),
                   [](int64_t q, int64_t kv) {
                     return !(q - 4 <= kv && kv <= q + 2);
                   },
                   "not<window>", /*exact=*/false});
  return cases;
}

/// The row-major index of each token in the block order of
/// NeighborhoodAttr's docs: groups, then blocks of `tile`, then row-major.
std::vector<int64_t> blockOrder(const std::vector<int64_t> &grid,
                                std::vector<int64_t> dilation,
                                const std::vector<int64_t> &tile) {
  int64_t rank = grid.size();
  if (dilation.empty())
    dilation.assign(rank, 1);
  // Visits every index tuple of `extents` in row-major order.
  auto forEach =
      [](const std::vector<int64_t> &extents,
         const std::function<void(const std::vector<int64_t> &)> &f) {
        std::vector<int64_t> at(extents.size(), 0);
        for (int64_t e : extents)
          if (e == 0)
            return;
        while (true) {
          f(at);
          int64_t a = extents.size() - 1;
          for (; a >= 0 && ++at[a] == extents[a]; --a)
            at[a] = 0;
          if (a < 0)
            return;
        }
      };
  std::vector<int64_t> order;
  forEach(dilation, [&](const std::vector<int64_t> &group) {
    std::vector<int64_t> sub(rank), blocks(rank);
    for (int64_t a = 0; a < rank; ++a) {
      sub[a] = (grid[a] - group[a] + dilation[a] - 1) / dilation[a];
      blocks[a] = (sub[a] + tile[a] - 1) / tile[a];
    }
    forEach(blocks, [&](const std::vector<int64_t> &block) {
      std::vector<int64_t> extent(rank);
      for (int64_t a = 0; a < rank; ++a)
        extent[a] = std::min(tile[a], sub[a] - block[a] * tile[a]);
      forEach(extent, [&](const std::vector<int64_t> &inside) {
        int64_t index = 0;
        for (int64_t a = 0; a < rank; ++a)
          index = index * grid[a] +
                  (block[a] * tile[a] + inside[a]) * dilation[a] + group[a];
        order.push_back(index);
      });
    });
  });
  return order;
}

/// Neighborhood masks on grids whose size is `sq` (when one fits).
std::vector<MaskCase> neighborhoods(mlir::MLIRContext *ctx, int64_t sq) {
  std::vector<MaskCase> cases;
  auto add = [&](std::vector<int64_t> grid, std::vector<int64_t> kernel,
                 std::vector<int64_t> dilation, std::vector<int64_t> stride,
                 std::vector<bool> isCausal, std::vector<int64_t> tile = {}) {
    int64_t n = 1;
    for (int64_t g : grid)
      n *= g;
    if (n != sq)
      return;
    llvm::SmallVector<bool> causalFlags(isCausal.begin(), isCausal.end());
    auto attr = NeighborhoodAttr::get(ctx, grid, kernel, dilation, stride,
                                      causalFlags, tile);
    // NATTEN rules per axis, with plain integers.
    Predicate rowMajor = [=](int64_t q, int64_t kv) {
      for (int64_t a = grid.size() - 1; a >= 0; --a) {
        int64_t x = q % grid[a], y = kv % grid[a];
        q /= grid[a];
        kv /= grid[a];
        int64_t d = dilation.empty() ? 1 : dilation[a];
        int64_t s = stride.empty() ? 1 : stride[a];
        bool c = isCausal.empty() ? false : isCausal[a];
        if (x % d != y % d)
          return false;
        int64_t len = (grid[a] - x % d + d - 1) / d, li = x / d, lk = y / d;
        int64_t lead = s == 1 ? li : std::min((li / s) * s + s / 2, len - 1);
        int64_t w = kernel[a];
        int64_t start = c ? std::max<int64_t>(lead - w + 1, 0)
                          : std::min(std::max<int64_t>(lead - w / 2, 0),
                                     len - w);
        int64_t end = c ? lead : start + w - 1;
        if (lk < start || lk > end)
          return false;
      }
      return true;
    };
    if (tile.empty()) {
      cases.push_back({attr, rowMajor, "neighborhood", /*exact=*/false});
      return;
    }
    // Block order: the row-major index of each token, by enumeration.
    std::vector<int64_t> order = blockOrder(grid, dilation, tile);
    Predicate allowed = [=](int64_t q, int64_t kv) {
      return rowMajor(order[q], order[kv]);
    };
    cases.push_back({attr, allowed, "tiled neighborhood", /*exact=*/false});
  };
  add({sq}, {std::min<int64_t>(5, sq)}, {}, {}, {});
  if (sq >= 4)
    add({sq}, {std::min<int64_t>(3, sq / 2)}, {2}, {}, {true});
  // The stride may not exceed the kernel (the attribute's verifier).
  if (sq >= 2)
    add({sq}, {std::min<int64_t>(4, sq)}, {}, {2}, {});
  if (sq % 6 == 0 && sq / 6 >= 3)
    add({sq / 6, 6}, {3, 3}, {}, {}, {});
  if (sq % 12 == 0 && sq / 12 >= 2)
    add({sq / 12, 6, 2}, {2, 3, 1}, {1, 2, 1}, {}, {true, false, false});
  // Block orders, on grids that are and are not tile multiples.
  add({sq}, {std::min<int64_t>(5, sq)}, {}, {}, {}, {4});
  if (sq >= 6)
    add({sq}, {std::min<int64_t>(3, sq / 3)}, {3}, {}, {}, {2});
  if (sq % 6 == 0 && sq / 6 >= 3) {
    add({sq / 6, 6}, {3, 3}, {}, {}, {}, {2, 3});
    add({sq / 6, 6}, {3, 3}, {}, {}, {}, {4, 4});
    add({sq / 6, 6}, {3, 3}, {}, {2, 3}, {}, {2, 2});
    add({sq / 6, 6}, {3, 2}, {}, {}, {false, true}, {3, 2});
  }
  if (sq % 8 == 0 && sq / 8 >= 6)
    add({sq / 8, 8}, {3, 3}, {2, 2}, {}, {}, {2, 3});
  if (sq % 12 == 0 && sq / 12 >= 2)
    add({sq / 12, 6, 2}, {2, 3, 1}, {1, 2, 1}, {}, {true, false, false},
        {2, 2, 2});
  return cases;
}

std::string debugString(mlir::Attribute a) {
  if (!a)
    return "no mask";
  std::string s;
  llvm::raw_string_ostream os(s);
  a.print(os);
  return s;
}

/// Checks the analysis of `m` at lengths (sq, skv) and tiles tq x tk
/// against the elements.
void checkAgainstElements(const MaskCase &m, int64_t sq, int64_t skv,
                          int64_t tq, int64_t tk) {
  SCOPED_TRACE(testing::Message() << m.name << " Sq=" << sq << " Skv=" << skv
                                  << " tile " << tq << "x" << tk);
  // Tiles: the class must be implied by the elements.
  TileCounts counts = countTiles(m.attr, sq, skv, tq, tk);
  int64_t tiles = ((sq + tq - 1) / tq) * ((skv + tk - 1) / tk);
  EXPECT_EQ(counts.empty + counts.full + counts.partial, tiles);
  int64_t nonEmptyTiles = 0;
  for (int64_t q0 = 0; q0 < sq; q0 += tq) {
    int64_t q1 = std::min(q0 + tq, sq);
    for (int64_t k0 = 0; k0 < skv; k0 += tk) {
      int64_t k1 = std::min(k0 + tk, skv);
      int64_t allowed = 0;
      for (int64_t q = q0; q < q1; ++q)
        for (int64_t kv = k0; kv < k1; ++kv)
          allowed += m.allowed(q, kv);
      int64_t all = (q1 - q0) * (k1 - k0);
      nonEmptyTiles += allowed > 0;
      TileKind expected = allowed == 0     ? TileKind::Empty
                          : allowed == all ? TileKind::Full
                                           : TileKind::Partial;
      TileKind kind = classifyTile(m.attr, sq, skv, q0, q1, k0, k1);
      std::string where = "tile [" + std::to_string(q0) + "," +
                          std::to_string(q1) + ")x[" + std::to_string(k0) +
                          "," + std::to_string(k1) + ")";
      if (m.exact)
        ASSERT_EQ(kind, expected) << where;
      else if (kind != TileKind::Partial)
        ASSERT_EQ(kind, expected) << where << " (unsound)";
    }
  }
  // Key ranges contain every allowed key, exactly for these masks.
  IndexExprBuilder folder;
  for (int64_t q0 = 0; q0 < sq; q0 += tq) {
    int64_t q1 = std::min(q0 + tq, sq);
    IndexRange range = m.attr.buildKvRange(
        folder, MaskContext{IndexExpr(sq), IndexExpr(skv)}, q0, q1);
    int64_t lo = *range.lo.getConstant(), hi = *range.hi.getConstant();
    int64_t first = skv, last = -1;
    for (int64_t q = q0; q < q1; ++q)
      for (int64_t kv = 0; kv < skv; ++kv)
        if (m.allowed(q, kv)) {
          first = std::min(first, kv);
          last = std::max(last, kv);
        }
    if (last < 0) {
      if (m.exact)
        EXPECT_LE(hi, lo);
    } else if (m.exact) {
      EXPECT_EQ(lo, first);
      EXPECT_EQ(hi, last + 1);
    } else {
      EXPECT_LE(lo, first);
      EXPECT_GE(hi, last + 1);
    }
  }
  // Query ranges contain every query that attends a key of the tile.
  for (int64_t k0 = 0; k0 < skv; k0 += tk) {
    int64_t k1 = std::min(k0 + tk, skv);
    IndexRange range = m.attr.buildQueryRange(
        folder, MaskContext{IndexExpr(sq), IndexExpr(skv)}, k0, k1);
    int64_t lo = *range.lo.getConstant(), hi = *range.hi.getConstant();
    EXPECT_GE(lo, 0);
    EXPECT_LE(hi, sq);
    for (int64_t q = 0; q < sq; ++q)
      for (int64_t kv = k0; kv < k1; ++kv)
        if (m.allowed(q, kv))
          ASSERT_TRUE(lo <= q && q < hi)
              << "query " << q << " attends key " << kv
              << " outside the query range [" << lo << ", " << hi
              << ") of keys [" << k0 << ", " << k1 << ")";
  }
  // The backward never visits more tiles than there are, nor skips one
  // with an allowed pair.
  int64_t visited = countBackwardTiles(m.attr, sq, skv, tq, tk);
  EXPECT_GE(visited, nonEmptyTiles);
  EXPECT_LE(visited, tiles);
  // Empty rows and density.
  std::optional<int64_t> firstEmpty;
  int64_t allowed = 0;
  for (int64_t q = 0; q < sq; ++q) {
    int64_t row = 0;
    for (int64_t kv = 0; kv < skv; ++kv)
      row += m.allowed(q, kv);
    allowed += row;
    if (row == 0 && !firstEmpty)
      firstEmpty = q;
  }
  std::optional<int64_t> provenEmpty = findEmptyRow(m.attr, sq, skv);
  if (m.exact)
    EXPECT_EQ(provenEmpty, firstEmpty);
  else if (provenEmpty)
    EXPECT_EQ(provenEmpty, firstEmpty) << "an empty row was misreported";
  std::optional<double> d = density(m.attr, sq, skv);
  ASSERT_TRUE(d.has_value());
  EXPECT_DOUBLE_EQ(*d, double(allowed) / double(sq * skv));
  // Simplification keeps the meaning.
  MaskAttrInterface simple = simplifyMask(m.attr, sq, skv);
  for (int64_t q = 0; q < sq; ++q)
    for (int64_t kv = 0; kv < skv; ++kv) {
      bool ok = true;
      if (simple) {
        IndexExprBuilder f;
        ok = simple
                 .buildAllowed(f, MaskContext{sq, skv},
                               MaskPoint{IndexExpr(0), IndexExpr(0), q, kv})
                 .isTrue();
      }
      ASSERT_EQ(ok, m.allowed(q, kv)) << "simplified to " << debugString(simple)
                                      << " at " << q << "," << kv;
    }
}

class MaskAnalysis : public testing::Test {
protected:
  void SetUp() override { ctx.loadDialect<AttnDialect>(); }
  mlir::MLIRContext ctx;
};

TEST_F(MaskAnalysis, AgreesWithBruteForce) {
  unsigned seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> length(1, 90), tile(1, 17);
  for (int trial = 0; trial < 40; ++trial) {
    int64_t sq = length(rng), skv = length(rng);
    int64_t tq = tile(rng), tk = tile(rng);
    std::vector<MaskCase> all = masks(&ctx, sq, skv);
    // Neighborhoods need Sq == Skv == prod(grid).
    for (MaskCase &m : neighborhoods(&ctx, sq))
      all.push_back(m);
    for (const MaskCase &m : all) {
      if (mlir::isa<NeighborhoodAttr>(m.attr) && skv != sq)
        continue;
      checkAgainstElements(m, sq, skv, tq, tk);
      if (HasFatalFailure())
        return;
    }
  }
}

// Every block order case, at lengths that fit each, with tiles of one
// block and of random sizes.
TEST_F(MaskAnalysis, BlockOrderedNeighborhoodsAgreeWithBruteForce) {
  unsigned seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> tile(1, 17);
  for (int64_t sq : {7, 24, 36, 48, 60}) {
    for (const MaskCase &m : neighborhoods(&ctx, sq)) {
      auto attr = mlir::cast<NeighborhoodAttr>(m.attr);
      if (!attr.isTiled())
        continue;
      int64_t block = attr.getTileGranularity().first;
      for (auto [tq, tk] : {std::pair{block, block}, {tile(rng), tile(rng)}}) {
        checkAgainstElements(m, sq, sq, tq, tk);
        if (HasFatalFailure())
          return;
      }
    }
  }
}

TEST_F(MaskAnalysis, NoMaskIsFull) {
  EXPECT_EQ(classifyTile(nullptr, 10, 10, 0, 4, 4, 8), TileKind::Full);
  EXPECT_EQ(findEmptyRow(nullptr, 10, 10), std::nullopt);
  EXPECT_EQ(findEmptyRow(nullptr, 10, 0), 0);
  EXPECT_EQ(density(nullptr, 10, 10), 1.0);
}

// IndexExpr folds constants, short-circuits predicates over unknowns and
// keeps unknowns unknown.
TEST(IndexExpr, FoldsAndPropagatesUnknowns) {
  IndexExpr unknown;
  EXPECT_EQ((IndexExpr(7) + 5).getConstant(), 12);
  EXPECT_EQ(floorDiv(IndexExpr(-7), 2).getConstant(), -4);
  EXPECT_EQ(floorMod(IndexExpr(-7), 3).getConstant(), 2);
  EXPECT_EQ(clamp(IndexExpr(12), 0, 10).getConstant(), 10);
  EXPECT_TRUE((unknown + 1).isUnknown());
  EXPECT_EQ((unknown * 0).getConstant(), 0);
  EXPECT_TRUE(((IndexExpr(1) > 2) & (unknown < 3)).isFalse());
  EXPECT_TRUE(((IndexExpr(1) < 2) | (unknown < 3)).isTrue());
  EXPECT_TRUE(((IndexExpr(1) < 2) & (unknown < 3)).isUnknown());
  EXPECT_TRUE((!(unknown < 3)).isUnknown());
  EXPECT_EQ(select(IndexExpr(1) < 2, IndexExpr(4), unknown).getConstant(), 4);
}

// The canonical forms of the examples.
TEST_F(MaskAnalysis, Simplifies) {
  auto causal = CausalAttr::get(&ctx, Alignment::TopLeft);
  auto causalBR = CausalAttr::get(&ctx, Alignment::BottomRight);
  auto window = WindowAttr::get(&ctx, 16, 3, Alignment::TopLeft);
  EXPECT_EQ(simplifyMask(AndAttr::get(&ctx, {causal, causal}), 100, 100),
            MaskAttrInterface(causal));
  EXPECT_EQ(simplifyMask(AndAttr::get(&ctx, {causal, window}), std::nullopt,
                         std::nullopt),
            MaskAttrInterface(WindowAttr::get(&ctx, 16, 0, Alignment::TopLeft)));
  // A window wider than the sequence: no mask at all.
  EXPECT_EQ(simplifyMask(WindowAttr::get(&ctx, 500, 500, Alignment::TopLeft),
                         100, 100),
            nullptr);
  // A left window reaching key 0 from every row is causal.
  EXPECT_EQ(simplifyMask(WindowAttr::get(&ctx, 99, 0, Alignment::TopLeft), 100,
                         100),
            MaskAttrInterface(causal));
  EXPECT_EQ(simplifyMask(WindowAttr::get(&ctx, 98, 0, Alignment::TopLeft), 100,
                         100),
            MaskAttrInterface(WindowAttr::get(&ctx, 98, 0, Alignment::TopLeft)));
  EXPECT_EQ(simplifyMask(NotAttr::get(&ctx, NotAttr::get(&ctx, causalBR)),
                         std::nullopt, std::nullopt),
            MaskAttrInterface(causalBR));
  EXPECT_EQ(simplifyMask(OrAttr::get(&ctx, {causal, SinksAttr::get(&ctx, 200)}),
                         100, 100),
            nullptr);
  // Nested ands flatten; duplicates go.
  auto sinks = SinksAttr::get(&ctx, 4);
  EXPECT_EQ(simplifyMask(AndAttr::get(&ctx, {AndAttr::get(&ctx, {sinks, causalBR}),
                                             sinks}),
                         std::nullopt, std::nullopt),
            MaskAttrInterface(AndAttr::get(&ctx, {sinks, causalBR})));
}

} // namespace
