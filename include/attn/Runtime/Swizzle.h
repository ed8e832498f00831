//===- Swizzle.h - The shared-memory swizzles of TMA copies -----*- C++ -*-===//
//
// A swizzle of 32, 64 or 128 bytes (0: none) permutes the 16-byte chunks of
// each row of that many bytes (PTX ISA, "Tensor-map swizzling modes"): the
// shared-memory address bits [4, 4 + b) are XORed with bits [7, 7 + b),
// b = log2(bytes / 16). The manifest carries the bytes; b is the value of
// nvgpu's TensorMapSwizzleKind and of the driver's CUtensorMapSwizzle (the
// compiler and the emulator static_assert the former). The one place that
// maps between them.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_RUNTIME_SWIZZLE_H
#define ATTN_RUNTIME_SWIZZLE_H

#include <cstdint>
#include <optional>

namespace attn::runtime {

/// b of a swizzle of `bytes`; none for a size that is not a swizzle.
inline std::optional<int> swizzleBits(int64_t bytes) {
  switch (bytes) {
  case 0:
    return 0;
  case 32:
    return 1;
  case 64:
    return 2;
  case 128:
    return 3;
  default:
    return std::nullopt;
  }
}

/// The bytes of the swizzle with XOR width `bits` (0 to 3).
inline int64_t swizzleBytes(int bits) { return bits ? int64_t(16) << bits : 0; }

} // namespace attn::runtime

#endif // ATTN_RUNTIME_SWIZZLE_H
