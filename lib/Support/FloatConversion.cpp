//===- FloatConversion.cpp - f16 / bf16 <-> f32 / f64 ---------------------===//

#include "attn/Support/FloatConversion.h"

#include "llvm/ADT/APFloat.h"

#include <cstring>

namespace attn {

namespace {
uint32_t bitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float floatOf(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t convertDouble(double value, const llvm::fltSemantics &semantics) {
  llvm::APFloat f(value);
  bool losesInfo;
  f.convert(semantics, llvm::APFloat::rmNearestTiesToEven, &losesInfo);
  return static_cast<uint16_t>(f.bitcastToAPInt().getZExtValue());
}
} // namespace

float halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  if (exponent == 0x1f) // inf or nan
    return floatOf(sign | 0x7f800000 | (mantissa << 13));
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float.
    float magnitude = float(mantissa) * floatOf(0x33800000); // 2^-24
    return sign ? -magnitude : magnitude;
  }
  return floatOf(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

uint16_t floatToHalf(float value) {
  uint32_t u = bitsOf(value);
  uint16_t sign = (u >> 16) & 0x8000;
  uint32_t abs = u & 0x7fffffff;
  if (abs > 0x7f800000) // nan: keep it quiet
    return sign | 0x7e00 | ((abs >> 13) & 0x3ff);
  if (abs >= 0x477ff000) // rounds to >= 2^16: infinity
    return sign | 0x7c00;
  if (abs < 0x38800000) {
    // Result is subnormal (or zero): round abs * 2^24 to an integer, RNE.
    float scaled = floatOf(abs) * floatOf(0x4b800000); // 2^24
    // Adding 2^23 makes the FPU round to an integer with RNE.
    float rounded = (scaled + 8388608.0f) - 8388608.0f;
    return sign | uint16_t(rounded);
  }
  // Normal: rebias the exponent and round the 13 dropped bits to even.
  uint32_t mantissaOdd = (abs >> 13) & 1;
  abs += 0xfff + mantissaOdd;
  return sign | uint16_t((abs - 0x38000000) >> 13);
}

float bfloatToFloat(uint16_t bits) { return floatOf(uint32_t(bits) << 16); }

uint16_t floatToBFloat(float value) {
  uint32_t u = bitsOf(value);
  if ((u & 0x7fffffff) > 0x7f800000) // nan: keep it quiet
    return uint16_t((u >> 16) | 0x40);
  u += 0x7fff + ((u >> 16) & 1);
  return uint16_t(u >> 16);
}

// Doubles that are exactly floats (data read from f32 or f16 files) take the
// fast path; others are rounded once, by APFloat, to avoid double rounding.
uint16_t doubleToHalf(double value) {
  float f = float(value);
  if (double(f) == value)
    return floatToHalf(f);
  return convertDouble(value, llvm::APFloat::IEEEhalf());
}

uint16_t doubleToBFloat(double value) {
  float f = float(value);
  if (double(f) == value)
    return floatToBFloat(f);
  return convertDouble(value, llvm::APFloat::BFloat());
}

double loadAsDouble(const void *data, runtime::DType dtype, int64_t i) {
  switch (dtype) {
  case runtime::DType::F16:
    return halfToFloat(static_cast<const uint16_t *>(data)[i]);
  case runtime::DType::BF16:
    return bfloatToFloat(static_cast<const uint16_t *>(data)[i]);
  case runtime::DType::F32:
    return static_cast<const float *>(data)[i];
  case runtime::DType::F64:
    return static_cast<const double *>(data)[i];
  case runtime::DType::I1:
    return static_cast<const uint8_t *>(data)[i] != 0;
  case runtime::DType::I8:
    return static_cast<const int8_t *>(data)[i];
  case runtime::DType::I32:
    return static_cast<const int32_t *>(data)[i];
  case runtime::DType::I64:
    return double(static_cast<const int64_t *>(data)[i]);
  }
  return 0;
}

void storeFromDouble(void *data, runtime::DType dtype, int64_t i,
                     double value) {
  switch (dtype) {
  case runtime::DType::F16:
    static_cast<uint16_t *>(data)[i] = doubleToHalf(value);
    return;
  case runtime::DType::BF16:
    static_cast<uint16_t *>(data)[i] = doubleToBFloat(value);
    return;
  case runtime::DType::F32:
    static_cast<float *>(data)[i] = float(value);
    return;
  case runtime::DType::F64:
    static_cast<double *>(data)[i] = value;
    return;
  case runtime::DType::I1:
    static_cast<uint8_t *>(data)[i] = value != 0;
    return;
  case runtime::DType::I8:
    static_cast<int8_t *>(data)[i] = int8_t(value);
    return;
  case runtime::DType::I32:
    static_cast<int32_t *>(data)[i] = int32_t(value);
    return;
  case runtime::DType::I64:
    static_cast<int64_t *>(data)[i] = int64_t(value);
    return;
  }
}

} // namespace attn
