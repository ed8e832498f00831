//===- SpecSignature.h - The kernel signature of a spec ---------*- C++ -*-===//

#ifndef ATTN_JIT_SPECSIGNATURE_H
#define ATTN_JIT_SPECSIGNATURE_H

#include "attn/Runtime/Signature.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

namespace attn {

/// Finds the entry function of a spec: the function named `entry`, or the
/// only function when `entry` is empty. Emits an error listing the
/// candidates otherwise.
mlir::FailureOr<mlir::func::FuncOp> findEntry(mlir::ModuleOp module,
                                              llvm::StringRef entry);

/// Describes the kernel `func` becomes. A spec function holds ops with the
/// KernelOpInterface whose operands are the function's arguments and whose
/// results the function returns; parameters and dimensions take the ops'
/// names (q, k, v, o, lse; B, Hq, Sq, ...). Dimensions are an op's own
/// unless a tensor that several ops take ties them; a name an earlier op
/// already gave to another dimension or parameter gets the op's index
/// (`Sq_1`, `q_1`). Emits an error on `func` when the function does not have
/// this form.
mlir::FailureOr<runtime::KernelSignature>
extractSignature(mlir::func::FuncOp func);

/// The dtype of an element type, if the runtime supports it.
std::optional<runtime::DType> toDType(mlir::Type elementType);

} // namespace attn

#endif // ATTN_JIT_SPECSIGNATURE_H
