//===- MergeKernel.h - The kernel that merges attention partials -*- C++ -*-===//
//
// Partial attention results (o_i normalized over disjoint key sets, lse_i
// their log-sum-exps) combine into the result over the union:
//   m = max_i lse_i,  l = sum_i exp(lse_i - m),
//   o = sum_i exp(lse_i - m) o_i / l,  lse = m + log l,
// where a partial with lse_i = -inf contributes nothing and a row whose
// partials are all empty gets o = 0, lse = -inf. Split-KV decoding launches
// it after its partials kernel.
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

/// Builds the kernel merging partials `oParts` [N, B, H, S, Dv] and
/// `lseParts` [N, B, H, S] (f32, N dynamic) into `o` [B, H, S, Dv] and, if
/// `lse` is non-null, `lse` [B, H, S]; its parameters are in that order.
/// It is named after `op`'s function.
mlir::FailureOr<MergeKernel>
buildMergeKernel(mlir::OpBuilder &b, mlir::Operation *op,
                 mlir::MemRefType oParts, mlir::MemRefType lseParts,
                 mlir::MemRefType o, mlir::MemRefType lse,
                 mlir::ModuleOp module, mlir::SymbolTable &symbols);

} // namespace attn

#endif // ATTN_LIB_CONVERSION_ATTNTOGPU_MERGEKERNEL_H
