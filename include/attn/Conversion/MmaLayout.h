//===- MmaLayout.h - Fragment layouts of mma.sync and wgmma -----*- C++ -*-===//
//
// Where each lane's fragment elements sit in the warp's matrices (PTX ISA,
// "Matrix fragments for mma.m16n8k16" and "mma.m16n8k4"; for wgmma, "Register
// fragments and shared memory matrix layouts"): lane (g = lane / 4,
// t = lane % 4) holds element `i` of its fragment (registers in order, i.e.
// row-major over the fragment vector) at (row, column) of the warp's matrix.
// The GPU kernels that gather fragments element by element and the emulator
// of mma.sync read the same table.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_CONVERSION_MMALAYOUT_H
#define ATTN_CONVERSION_MMALAYOUT_H

#include "llvm/ADT/SmallVector.h"

#include <cstdint>

namespace attn {

struct MatrixPosition {
  int64_t gRow, tRow, row; // row = gRow * g + tRow * t + row
  int64_t gCol, tCol, col; // col = gCol * g + tCol * t + col
};

/// Fragment element positions of operand `operand` (0: A, 1: B, 2: C/D) of
/// mma.sync m16n8k`k`, or an empty list for an unsupported shape.
inline llvm::SmallVector<MatrixPosition> fragmentLayout(int64_t k,
                                                        int operand) {
  llvm::SmallVector<MatrixPosition> layout;
  if (operand == 2) {
    // c0, c1: row g, col 2t + i; c2, c3: row g + 8.
    for (int64_t i = 0; i < 4; ++i)
      layout.push_back({1, 0, 8 * (i / 2), 0, 2, i % 2});
    return layout;
  }
  if (k == 16 && operand == 0) {
    // a0, a1: (g, 2t + i); a2, a3: (g + 8, ..); a4..a7: same, col + 8.
    for (int64_t i = 0; i < 8; ++i)
      layout.push_back({1, 0, 8 * ((i / 2) % 2), 0, 2, i % 2 + 8 * (i / 4)});
  } else if (k == 16 && operand == 1) {
    // b0, b1: (2t + i, g); b2, b3: (2t + i + 8, g).
    for (int64_t i = 0; i < 4; ++i)
      layout.push_back({0, 2, i % 2 + 8 * (i / 2), 1, 0, 0});
  } else if (k == 4 && operand == 0) {
    // a0: (g, t); a1: (g + 8, t).
    for (int64_t i = 0; i < 2; ++i)
      layout.push_back({1, 0, 8 * i, 0, 1, 0});
  } else if (k == 4 && operand == 1) {
    // b0: (t, g).
    layout.push_back({0, 1, 0, 1, 0, 0});
  }
  return layout;
}

/// Fragment element positions of wgmma m64nNk16 with 16-bit operands:
/// operand 0 (A from registers, 8 elements) or 2 (the f32 accumulator, N / 2
/// elements). Warp w of the warpgroup owns rows 16 w .. 16 w + 15 (add them
/// to `row`); within them A is laid out as mma.sync m16n8k16's A fragment
/// and the accumulator as N / 8 of its C fragments, one per 8 columns.
inline llvm::SmallVector<MatrixPosition> wgmmaLayout(int operand, int64_t n) {
  if (operand == 0)
    return fragmentLayout(16, 0);
  llvm::SmallVector<MatrixPosition> layout;
  if (operand != 2)
    return layout;
  for (int64_t j = 0; j < n / 8; ++j)
    for (MatrixPosition p : fragmentLayout(16, 2)) {
      p.col += 8 * j;
      layout.push_back(p);
    }
  return layout;
}

/// The wgmma shared-memory matrix descriptor (PTX ISA, "Matrix Descriptor
/// Format"): a 64-bit value with the start address, the leading and stride
/// dimension byte offsets (each >> 4, 14 bits) and the swizzle mode.
namespace wgmma {
enum Swizzle : int64_t { None = 0, Bytes128 = 1, Bytes64 = 2, Bytes32 = 3 };
constexpr int64_t kAddressShift = 0, kLeadingShift = 16, kStrideShift = 32,
                  kBaseOffsetShift = 49, kSwizzleShift = 62;
/// 16-byte units per row of a swizzle atom (8 rows): 1 without swizzle.
inline int64_t swizzleWidth(int64_t mode) {
  return mode == Bytes128 ? 8 : mode == Bytes64 ? 4 : mode == Bytes32 ? 2 : 1;
}
/// The XOR of Swizzle<bits, 4, 3> on a shared-memory byte address: address
/// bits [4, 4 + bits) take bits [7, 7 + bits) of the address.
inline int64_t swizzleBits(int64_t mode) {
  return mode == Bytes128 ? 3 : mode == Bytes64 ? 2 : mode == Bytes32 ? 1 : 0;
}
} // namespace wgmma

} // namespace attn

#endif // ATTN_CONVERSION_MMALAYOUT_H
