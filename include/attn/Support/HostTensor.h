//===- HostTensor.h - Owned host tensors for tools and tests ----*- C++ -*-===//

#ifndef ATTN_SUPPORT_HOSTTENSOR_H
#define ATTN_SUPPORT_HOSTTENSOR_H

#include "attn/Runtime/Signature.h"

#include <random>
#include <vector>

namespace attn {

/// A dense row-major tensor that owns its bytes.
class HostTensor {
public:
  HostTensor() = default;
  /// Allocated and filled with NaN (floats) or zero (integers), so that an
  /// element a kernel fails to write stands out.
  HostTensor(runtime::DType dtype, std::vector<int64_t> shape);

  /// Standard-normal values rounded to `dtype`.
  static HostTensor randomNormal(runtime::DType dtype,
                                 std::vector<int64_t> shape,
                                 std::mt19937_64 &rng);

  runtime::DType dtype() const { return type; }
  const std::vector<int64_t> &shape() const { return dims; }
  int64_t numElements() const;
  size_t byteSize() const { return bytes.size(); }
  void *data() { return bytes.data(); }
  const void *data() const { return bytes.data(); }
  runtime::TensorRef ref() { return {bytes.data(), type, dims}; }

  double at(int64_t i) const;
  void set(int64_t i, double value);
  /// Every element converted (rounded to nearest even) to `dtype`.
  HostTensor convertTo(runtime::DType dtype) const;

private:
  runtime::DType type = runtime::DType::F32;
  std::vector<int64_t> dims;
  std::vector<char> bytes;
};

/// `max |got - ref| / max(max |ref|, scale)` over all elements, where equal
/// infinities count as exact and any other non-finite difference (NaN, an
/// infinity on one side only) makes the error infinite. `scale` is the
/// magnitude an output is judged on when it may vanish by cancellation (0:
/// its own). Shapes must match.
double relativeError(const HostTensor &got, const HostTensor &ref,
                     double scale = 0);

/// `max |x|` over the finite elements of `x`.
double maxAbsFinite(const HostTensor &x);

} // namespace attn

#endif // ATTN_SUPPORT_HOSTTENSOR_H
