//===- FloatConversionTest.cpp - f16/bf16 conversions vs APFloat ----------===//

#include "attn/Support/FloatConversion.h"

#include "llvm/ADT/APFloat.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

using namespace attn;

namespace {
uint16_t viaAPFloat(float value, const llvm::fltSemantics &sem) {
  llvm::APFloat f(value);
  bool losesInfo;
  f.convert(sem, llvm::APFloat::rmNearestTiesToEven, &losesInfo);
  return uint16_t(f.bitcastToAPInt().getZExtValue());
}

float bitsToFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

bool isNaN16(uint16_t h, bool bfloat) {
  return bfloat ? ((h & 0x7f80) == 0x7f80 && (h & 0x7f))
                : ((h & 0x7c00) == 0x7c00 && (h & 0x3ff));
}
} // namespace

// Every f16 bit pattern widens exactly and rounds back to itself.
TEST(FloatConversion, HalfExhaustive) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    uint16_t h = uint16_t(bits);
    float f = halfToFloat(h);
    llvm::APFloat expected(llvm::APFloat::IEEEhalf(), llvm::APInt(16, bits));
    bool losesInfo;
    expected.convert(llvm::APFloat::IEEEsingle(),
                     llvm::APFloat::rmNearestTiesToEven, &losesInfo);
    if (isNaN16(h, false)) {
      EXPECT_TRUE(std::isnan(f)) << bits;
      continue;
    }
    ASSERT_EQ(f, expected.convertToFloat()) << "bits " << bits;
    ASSERT_EQ(floatToHalf(f), h) << "bits " << bits;
  }
}

// Rounding f32 to f16 and bf16 agrees with APFloat's round-to-nearest-even,
// on random bit patterns and on the halfway points between f16 values.
TEST(FloatConversion, RoundingMatchesAPFloat) {
  std::mt19937 rng(std::random_device{}());
  SCOPED_TRACE(testing::Message() << "rng state " << rng());
  for (int i = 0; i < 2000000; ++i) {
    float f = bitsToFloat(rng());
    if (std::isnan(f))
      continue;
    ASSERT_EQ(floatToHalf(f), viaAPFloat(f, llvm::APFloat::IEEEhalf())) << f;
    ASSERT_EQ(floatToBFloat(f), viaAPFloat(f, llvm::APFloat::BFloat())) << f;
  }
  for (uint32_t bits = 0; bits < 0x7c00; ++bits) {
    float lo = halfToFloat(uint16_t(bits)), hi = halfToFloat(uint16_t(bits + 1));
    float mid = lo + (hi - lo) / 2; // exact in f32
    ASSERT_EQ(floatToHalf(mid), viaAPFloat(mid, llvm::APFloat::IEEEhalf()))
        << "halfway above " << bits;
  }
}

TEST(FloatConversion, BFloatExhaustiveWidening) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    float f = bfloatToFloat(uint16_t(bits));
    if (isNaN16(uint16_t(bits), true)) {
      EXPECT_TRUE(std::isnan(f));
      continue;
    }
    ASSERT_EQ(floatToBFloat(f), uint16_t(bits));
  }
}

// Doubles that are not floats are rounded once (no double rounding).
TEST(FloatConversion, DoubleRoundsOnce) {
  // Just above the halfway point between two f16 values, by less than an
  // f32 ulp: rounding through f32 would land on the halfway point and tie
  // to even (down); a single rounding goes up.
  double lo = 1.0, hi = 1.0 + 1.0 / 1024;
  double justAbove = (lo + hi) / 2 + std::ldexp(1.0, -40);
  EXPECT_EQ(doubleToHalf(justAbove), floatToHalf(float(hi)));
  EXPECT_EQ(floatToHalf(float(justAbove)), floatToHalf(float(lo)));
  std::mt19937_64 rng(std::random_device{}());
  std::normal_distribution<double> normal;
  for (int i = 0; i < 100000; ++i) {
    double d = normal(rng);
    llvm::APFloat expected(d);
    bool losesInfo;
    expected.convert(llvm::APFloat::BFloat(),
                     llvm::APFloat::rmNearestTiesToEven, &losesInfo);
    ASSERT_EQ(doubleToBFloat(d), expected.bitcastToAPInt().getZExtValue());
  }
}

TEST(FloatConversion, SpecialValues) {
  EXPECT_EQ(floatToHalf(INFINITY), 0x7c00);
  EXPECT_EQ(floatToHalf(-INFINITY), 0xfc00);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00); // rounds to infinity
  EXPECT_EQ(floatToHalf(65519.0f), 0x7bff); // largest finite
  EXPECT_TRUE(isNaN16(floatToHalf(NAN), false));
  EXPECT_TRUE(isNaN16(floatToBFloat(NAN), true));
  EXPECT_EQ(floatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(floatToHalf(5.9604645e-08f), 0x0001); // smallest subnormal
  EXPECT_EQ(floatToHalf(2.9802322e-08f), 0x0000); // half of it: ties to even
}
