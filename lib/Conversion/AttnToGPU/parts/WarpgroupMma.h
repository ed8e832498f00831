//===- WarpgroupMma.h - The warpgroup product of the Hopper kernels -*- C++ -*-===//
//
// wgmma m64nNk16 (f16, bf16 into f32) for the Hopper kernels: descriptors
// of the tiles TmaTileLoader stores (64-column chunks of 128-byte swizzled
// rows), the product (attn_gpu.wgmma) and its fences, and the reuse of
// accumulators as the next product's A operand in registers.
//
// Accumulators are vector<N/8 x 2 x 2 x f32>: warp w of a warpgroup holds
// rows 16 w .. 16 w + 15 of its 64, laid out as N/8 mma.sync C fragments
// (MmaLayout's wgmmaLayout), so the rows, columns and row reductions of
// MmaSyncAtom hold for them too.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_LIB_CONVERSION_ATTNTOGPU_PARTS_WARPGROUPMMA_H
#define ATTN_LIB_CONVERSION_ATTNTOGPU_PARTS_WARPGROUPMMA_H

#include "KernelSupport.h"

namespace attn {

class WarpgroupMma : KernelBuilderBase {
public:
  WarpgroupMma(mlir::OpBuilder &b, mlir::Location loc, mlir::Type element)
      : KernelBuilderBase(b, loc), element(element) {}

  /// The descriptor of k step `step` (columns 16 step ..) of a K-major
  /// operand: rows [row0, ..) of the `rows`-row tile at `tile` (address).
  mlir::Value kMajor(mlir::Value tile, int64_t rows, mlir::Value row0,
                     int64_t step);
  /// The descriptor of k step `step` (rows 16 step ..) of an MN-major B
  /// operand (N along the columns) in the `rows`-row tile at `tile`.
  mlir::Value mnMajor(mlir::Value tile, int64_t rows, int64_t step);
  /// acc + A B: `a` a descriptor or a register fragment, `b` a descriptor
  /// (`transposeB`: MN-major), `acc` vector<N/8 x 2 x 2 x f32>.
  mlir::Value mma(mlir::Value a, mlir::Value b, mlir::Value acc,
                  bool transposeB);
  /// Before the first product that reads registers written since.
  void fence();
  /// Ends the group of products issued since the last commit.
  void commit();
  /// Waits until at most `pending` groups are in flight.
  void wait(int64_t pending);
  /// The register A operand of k step `step` (columns 16 step ..) made of
  /// accumulators vector<blocks x 2 x 2 x f32>, in the element type.
  mlir::Value accumulatorsAsA(mlir::Value accumulators, int64_t step);

private:
  mlir::Value descriptor(mlir::Value address, int64_t leadingBytes);

  mlir::Type element;
};

} // namespace attn

#endif // ATTN_LIB_CONVERSION_ATTNTOGPU_PARTS_WARPGROUPMMA_H
