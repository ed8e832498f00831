//===- FloatConversion.h - f16 / bf16 <-> f32 / f64 -------------*- C++ -*-===//
//
// Bit-exact conversions with round-to-nearest-even, for moving host data in
// and out of kernels whose element type is f16 or bf16.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_SUPPORT_FLOATCONVERSION_H
#define ATTN_SUPPORT_FLOATCONVERSION_H

#include "attn/Runtime/Signature.h"

#include <cstdint>

namespace attn {

float halfToFloat(uint16_t bits);
uint16_t floatToHalf(float value);
float bfloatToFloat(uint16_t bits);
uint16_t floatToBFloat(float value);
/// Direct (single-rounding) conversions from double.
uint16_t doubleToHalf(double value);
uint16_t doubleToBFloat(double value);

/// Reads element `i` of a float buffer of type `dtype` as a double.
double loadAsDouble(const void *data, runtime::DType dtype, int64_t i);
/// Stores `value` rounded to `dtype` (round-to-nearest-even) at element `i`.
void storeFromDouble(void *data, runtime::DType dtype, int64_t i,
                     double value);

} // namespace attn

#endif // ATTN_SUPPORT_FLOATCONVERSION_H
