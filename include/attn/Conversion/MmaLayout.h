//===- MmaLayout.h - Fragment layouts of mma.sync ---------------*- C++ -*-===//
//
// Where each lane's fragment elements sit in the warp's matrices (PTX ISA,
// "Matrix fragments for mma.m16n8k16" and "mma.m16n8k4"): lane (g = lane / 4,
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

} // namespace attn

#endif // ATTN_CONVERSION_MMALAYOUT_H
