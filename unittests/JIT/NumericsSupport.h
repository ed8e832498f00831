//===- NumericsSupport.h - Shared pieces of the numerics tests --*- C++ -*-===//

#ifndef ATTN_UNITTESTS_NUMERICSSUPPORT_H
#define ATTN_UNITTESTS_NUMERICSSUPPORT_H

#include "attn/Support/HostTensor.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLExtras.h"

#include <array>
#include <random>
#include <string>
#include <vector>

namespace attn::test {

/// The relative error a kernel's output of element type `t` may have
/// against a float64 reference (its rounding, plus f32 accumulation).
inline double tolerance(runtime::DType t) {
  switch (t) {
  case runtime::DType::F16:
    return 2e-3;
  case runtime::DType::BF16:
    return 1e-2;
  case runtime::DType::F32:
    return 2e-5;
  default:
    return 1e-12;
  }
}

/// Random normal q [B, Hq, Sq, D], k [B, Hkv, Skv, D], v [B, Hkv, Skv, Dv]
/// of an attention case (any struct with those fields and `dtype`).
template <typename Case>
std::array<HostTensor, 3> randomQkv(const Case &c, std::mt19937_64 &rng) {
  return {HostTensor::randomNormal(c.dtype,
                                   {c.batch, c.qHeads, c.qLen, c.headDim}, rng),
          HostTensor::randomNormal(
              c.dtype, {c.batch, c.kvHeads, c.kvLen, c.headDim}, rng),
          HostTensor::randomNormal(
              c.dtype, {c.batch, c.kvHeads, c.kvLen, c.valueDim}, rng)};
}

/// An f64 tensor holding `values`.
inline HostTensor fromDoubles(const std::vector<double> &values,
                              std::vector<int64_t> shape) {
  HostTensor t(runtime::DType::F64, std::move(shape));
  for (size_t i = 0; i < values.size(); ++i)
    t.set(i, values[i]);
  return t;
}

/// `tensor<AxBx...xT>`, with `?` where `dynamic` says so.
inline std::string tensorType(llvm::ArrayRef<int64_t> shape, runtime::DType t,
                              llvm::ArrayRef<bool> dynamic = {}) {
  std::string s = "tensor<";
  for (auto [i, d] : llvm::enumerate(shape))
    s += (i < dynamic.size() && dynamic[i] ? std::string("?")
                                           : std::to_string(d)) +
         "x";
  return s + runtime::dtypeName(t).str() + ">";
}

} // namespace attn::test

#endif // ATTN_UNITTESTS_NUMERICSSUPPORT_H
