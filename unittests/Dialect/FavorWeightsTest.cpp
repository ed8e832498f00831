//===- FavorWeightsTest.cpp - The random features of #attn.favor ----------===//
//
// The generator documented by #attn.favor: deterministic, Gaussian rows, and
// with `orthogonal` exactly orthogonal rows within blocks of D whose lengths
// follow the chi distribution of Gaussian rows.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/FeatureMapSupport.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace attn;

namespace {

double dot(const std::vector<double> &w, int64_t d, int64_t r, int64_t s) {
  double sum = 0;
  for (int64_t c = 0; c < d; ++c)
    sum += w[r * d + c] * w[s * d + c];
  return sum;
}

/// E[|g|] for a Gaussian d-vector: sqrt(2) Gamma((d + 1) / 2) / Gamma(d / 2).
double chiMean(int64_t d) {
  return std::sqrt(2.0) *
         std::exp(std::lgamma((d + 1) / 2.0) - std::lgamma(d / 2.0));
}

TEST(FavorWeights, SameSeedSameWeightsOtherSeedOthers) {
  EXPECT_EQ(generateFavorWeights(40, 16, 7, true),
            generateFavorWeights(40, 16, 7, true));
  EXPECT_NE(generateFavorWeights(40, 16, 7, true),
            generateFavorWeights(40, 16, 8, true));
  // A truncated last block leaves the earlier blocks as they are.
  std::vector<double> full = generateFavorWeights(48, 16, 3, true);
  std::vector<double> cut = generateFavorWeights(40, 16, 3, true);
  EXPECT_TRUE(std::equal(cut.begin(), cut.end(), full.begin()));
}

TEST(FavorWeights, OrthogonalBlocksWithChiLengths) {
  const int64_t d = 16, m = 4096;
  std::vector<double> w = generateFavorWeights(m, d, 11, true);
  double lengths = 0;
  for (int64_t r = 0; r < m; ++r) {
    double norm = std::sqrt(dot(w, d, r, r));
    lengths += norm;
    int64_t first = r - r % d;
    for (int64_t s = first; s < r; ++s)
      // Gram-Schmidt in double: orthogonal far below the f32 the kernels
      // store the weights in.
      EXPECT_NEAR(dot(w, d, r, s) / (norm * std::sqrt(dot(w, d, s, s))), 0.0,
                  1e-10)
          << "rows " << s << " and " << r << " of one block";
  }
  // The mean length of 4096 rows: chi(16) has mean 3.94 and standard
  // deviation 0.70, so the mean of 4096 is within 0.05 with room to spare.
  EXPECT_NEAR(lengths / m, chiMean(d), 0.05);
}

TEST(FavorWeights, IidRowsAreStandardNormal) {
  const int64_t d = 16, m = 4096;
  std::vector<double> w = generateFavorWeights(m, d, 5, false);
  double mean = 0, square = 0;
  for (double x : w) {
    mean += x;
    square += x * x;
  }
  mean /= w.size();
  square /= w.size();
  // 65536 samples: standard errors 0.004 (mean) and 0.006 (second moment).
  EXPECT_NEAR(mean, 0.0, 0.03);
  EXPECT_NEAR(square, 1.0, 0.04);
}

} // namespace
