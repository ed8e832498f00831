//===- MergeKernel.h - The kernel that merges attention partials -*- C++ -*-===//
//
// Partial attention results (o_i normalized over disjoint key sets, lse_i
// their log-sum-exps) combine into the result over the union (attn.merge):
//   m = max_i lse_i,  l = sum_i exp(lse_i - m),
//   o = sum_i exp(lse_i - m) o_i / l,  lse = m + log l,
// where a partial with lse_i = -inf contributes nothing and a row whose
// partials are all empty gets o = 0, lse = -inf. Split-KV decoding launches
// it after its partials kernel; attn.merge lowers to it.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_LIB_CONVERSION_ATTNTOGPU_MERGEKERNEL_H
#define ATTN_LIB_CONVERSION_ATTNTOGPU_MERGEKERNEL_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"

namespace attn {

/// A merge kernel: one thread per output element (b, h, row, column) reads
/// that column of every partial.
struct MergeKernel {
  mlir::gpu::GPUFuncOp kernel;
  int64_t threads;
  int64_t valueDim;

  /// (ceil(Sq Dv / threads), H, B).
  mlir::gpu::KernelDim3 grid(mlir::OpBuilder &b, mlir::Location loc,
                             mlir::Value batch, mlir::Value heads,
                             mlir::Value qLen) const;
};

/// Builds the kernel merging partials into `o` [B, H, S, Dv] and, if `lse`
/// is non-null, `lse` [B, H, S]: either one `oParts` [N, B, H, S, Dv] and
/// one `lseParts` [N, B, H, S] (N dynamic), or n of each without the
/// leading axis. Its parameters: the o parts, the lse parts, o, lse. It is
/// named after `op`'s function; f64 elements are refused on `op`.
mlir::FailureOr<MergeKernel>
buildMergeKernel(mlir::OpBuilder &b, mlir::Operation *op,
                 llvm::ArrayRef<mlir::MemRefType> oParts,
                 llvm::ArrayRef<mlir::MemRefType> lseParts,
                 mlir::MemRefType o, mlir::MemRefType lse,
                 mlir::ModuleOp module, mlir::SymbolTable &symbols);

} // namespace attn

#endif // ATTN_LIB_CONVERSION_ATTNTOGPU_MERGEKERNEL_H
