//===- MmaAtom.h - The warp-level product of the GPU kernels ----*- C++ -*-===//
//
// An MMA atom is the warp's tensor-core product D = A B + C together with
// everything that depends on its fragment layouts: loading A and B
// fragments from shared memory, reusing accumulator fragments as the A
// operand of the next product, the (row, column) of each accumulator
// element, and reductions over the lanes that share an accumulator row.
// Kernels ask the atom instead of computing lane addresses themselves, so
// that another atom (wgmma m64nNk16) can stand behind the same interface.
//
// MmaSyncAtom is mma.sync m16n8k16 (f16, bf16) and m16n8k4 (tf32); every
// position it computes comes from the layout table of
// attn/Conversion/MmaLayout.h, which the emulator reads too.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_LIB_CONVERSION_ATTNTOGPU_PARTS_MMAATOM_H
#define ATTN_LIB_CONVERSION_ATTNTOGPU_PARTS_MMAATOM_H

#include "KernelSupport.h"
#include "parts/ThreadLayout.h"

#include "attn/Conversion/MmaLayout.h"

#include <memory>

namespace attn {

/// The shape of the warp-level product for an element type: D, C 16 x 8
/// in f32, A 16 x k, B k x 8. With g = lane / 4 and t = lane % 4, each
/// lane holds (attn/Conversion/MmaLayout.h):
///   C/D: vector<2x2xf32>, c[r][e] at (row g + 8 r, column 2 t + e);
///   k = 16 (f16, bf16): A vector<4x2>, a[r][e] at (g + 8 (r % 2),
///     2 t + e + 8 (r / 2)); B vector<2x2>, b[r][e] at (2 t + e + 8 r, g);
///   k = 4 (tf32): A vector<2x1>, a[r][0] at (g + 8 r, t); B vector<1x1>,
///     b[0][0] at (t, g).
struct MmaShape {
  int64_t k;
  bool tf32;
  mlir::Type element;
  mlir::VectorType a, b, c;

  static MmaShape forElement(mlir::Type element);
};

/// Where an operand's matrix lies in a shared-memory tile: element (i, j)
/// of the operand (A: row i, column j; B: k index i, column j) is
/// tile[i0 + i][j0 + j], or with `transposed` tile[j0 + j][i0 + i]. A
/// null i0 or j0 is 0.
struct TileOperand {
  mlir::Value tile;
  mlir::Value i0, j0;
  bool transposed = false;
};

/// The (k, n) offset of one B fragment from its TileOperand's origin.
struct FragmentOffset {
  int64_t k, n;
};

/// The A operand of one k step made of accumulator fragments: k index j
/// of the step is accumulator column k0 + kStride * j, so the step's B
/// operand is loaded with the same k0 and kStride.
struct ReusedOperand {
  mlir::Value a;
  int64_t k0;
  int64_t kStride;
};

class MmaAtom {
public:
  virtual ~MmaAtom() = default;

  const MmaShape &shape() const { return mmaShape; }

  /// The A fragment of the operand at `source`.
  virtual mlir::Value loadA(const TileOperand &source) = 0;
  /// B fragments, fragment i at `offsets[i]` from `source`'s origin; its
  /// k index j is source row (or column) k + kStride * j.
  virtual llvm::SmallVector<mlir::Value>
  loadB(const TileOperand &source, llvm::ArrayRef<FragmentOffset> offsets,
        int64_t kStride = 1) = 0;
  /// D = A B + C.
  virtual mlir::Value mma(mlir::Value a, mlir::Value b, mlir::Value c) = 0;
  /// The A operands of the k steps of (accumulators) x B, from
  /// `accumulators` (vector<blocks x C>, blocks of 8 adjacent columns),
  /// converted to the element type.
  virtual llvm::SmallVector<ReusedOperand>
  accumulatorsAsA(mlir::Value accumulators) = 0;
  /// The row of accumulator row `r` (c[.][r][.]) plus `origin` (or 0).
  virtual mlir::Value accumulatorRow(mlir::Value origin, int64_t r) = 0;
  /// The column of element `e` of accumulator block `block` plus `origin`.
  virtual mlir::Value accumulatorColumn(mlir::Value origin, int64_t block,
                                        int64_t e) = 0;
  /// Which accumulator row `r` the A register `reg` shares its row with,
  /// and the A column of its first element plus `origin` (for kernels that
  /// read A fragments from global memory, register by register).
  virtual std::pair<int64_t, mlir::Value>
  aRegisterPosition(mlir::Value origin, int64_t reg) = 0;
  /// `x` combined across the lanes that hold one accumulator row.
  virtual mlir::Value
  rowReduce(mlir::Value x,
            llvm::function_ref<mlir::Value(mlir::Value, mlir::Value)>
                combine) = 0;

  /// The atom for `shape`, built with `b` at `loc`.
  static std::unique_ptr<MmaAtom> create(mlir::OpBuilder &b,
                                         mlir::Location loc,
                                         const WarpLanes &lanes,
                                         const MmaShape &shape);

protected:
  explicit MmaAtom(const MmaShape &shape) : mmaShape(shape) {}

  MmaShape mmaShape;
};

} // namespace attn

#endif // ATTN_LIB_CONVERSION_ATTNTOGPU_PARTS_MMAATOM_H
