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
  return cases;
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
    for (const MaskCase &m : masks(&ctx, sq, skv)) {
      SCOPED_TRACE(testing::Message() << m.name << " Sq=" << sq << " Skv=" << skv
                                      << " tile " << tq << "x" << tk);
      // Tiles: the class must be implied by the elements.
      TileCounts counts = countTiles(m.attr, sq, skv, tq, tk);
      int64_t tiles = ((sq + tq - 1) / tq) * ((skv + tk - 1) / tk);
      EXPECT_EQ(counts.empty + counts.full + counts.partial, tiles);
      for (int64_t q0 = 0; q0 < sq; q0 += tq) {
        int64_t q1 = std::min(q0 + tq, sq);
        for (int64_t k0 = 0; k0 < skv; k0 += tk) {
          int64_t k1 = std::min(k0 + tk, skv);
          int64_t allowed = 0;
          for (int64_t q = q0; q < q1; ++q)
            for (int64_t kv = k0; kv < k1; ++kv)
              allowed += m.allowed(q, kv);
          int64_t all = (q1 - q0) * (k1 - k0);
          // Causal and window classifications are exact.
          TileKind expected = allowed == 0     ? TileKind::Empty
                              : allowed == all ? TileKind::Full
                                               : TileKind::Partial;
          ASSERT_EQ(classifyTile(m.attr, sq, skv, q0, q1, k0, k1), expected)
              << "tile [" << q0 << "," << q1 << ")x[" << k0 << "," << k1
              << ")";
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
          EXPECT_LE(hi, lo);
        } else {
          EXPECT_EQ(lo, first);
          EXPECT_EQ(hi, last + 1);
        }
      }
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
      EXPECT_EQ(findEmptyRow(m.attr, sq, skv), firstEmpty);
      std::optional<double> d = density(m.attr, sq, skv);
      ASSERT_TRUE(d.has_value());
      EXPECT_DOUBLE_EQ(*d, double(allowed) / double(sq * skv));
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

} // namespace
