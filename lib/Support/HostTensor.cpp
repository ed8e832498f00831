//===- HostTensor.cpp - Owned host tensors for tools and tests ------------===//

#include "attn/Support/HostTensor.h"
#include "attn/Support/FloatConversion.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

namespace attn {

namespace {
bool isFloat(runtime::DType t) {
  return t == runtime::DType::F16 || t == runtime::DType::BF16 ||
         t == runtime::DType::F32 || t == runtime::DType::F64;
}
} // namespace

HostTensor::HostTensor(runtime::DType dtype, std::vector<int64_t> shape)
    : type(dtype), dims(std::move(shape)) {
  bytes.resize(size_t(numElements()) * runtime::dtypeSize(type));
  if (isFloat(type))
    for (int64_t i = 0, e = numElements(); i < e; ++i)
      set(i, std::numeric_limits<double>::quiet_NaN());
}

HostTensor HostTensor::randomNormal(runtime::DType dtype,
                                    std::vector<int64_t> shape,
                                    std::mt19937_64 &rng) {
  HostTensor t(dtype, std::move(shape));
  std::normal_distribution<double> normal(0.0, 1.0);
  for (int64_t i = 0, e = t.numElements(); i < e; ++i)
    t.set(i, normal(rng));
  return t;
}

int64_t HostTensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

double HostTensor::at(int64_t i) const {
  return loadAsDouble(bytes.data(), type, i);
}

void HostTensor::set(int64_t i, double value) {
  storeFromDouble(bytes.data(), type, i, value);
}

HostTensor HostTensor::convertTo(runtime::DType dtype) const {
  HostTensor out(dtype, dims);
  for (int64_t i = 0, e = numElements(); i < e; ++i)
    out.set(i, at(i));
  return out;
}

double maxAbsFinite(const HostTensor &x) {
  double result = 0;
  for (int64_t i = 0, e = x.numElements(); i < e; ++i)
    if (std::isfinite(x.at(i)))
      result = std::max(result, std::abs(x.at(i)));
  return result;
}

double relativeError(const HostTensor &got, const HostTensor &ref,
                     double scale) {
  assert(got.shape() == ref.shape() && "shapes must match");
  double maxDiff = 0, maxRef = 0;
  for (int64_t i = 0, e = ref.numElements(); i < e; ++i) {
    double g = got.at(i), r = ref.at(i);
    if (std::isinf(r) && g == r)
      continue;
    if (!std::isfinite(g) || !std::isfinite(r))
      return std::numeric_limits<double>::infinity();
    maxDiff = std::max(maxDiff, std::abs(g - r));
    maxRef = std::max(maxRef, std::abs(r));
  }
  if (maxDiff == 0)
    return 0;
  return maxDiff / std::max({maxRef, scale,
                             std::numeric_limits<double>::min()});
}

} // namespace attn
