//===- Pipelines.h - Named attn pipelines -----------------------*- C++ -*-===//
//
// Every sequence of passes the tools and the JIT run is defined here once and
// registered by name, so `attn-opt --pass-pipeline`, `attn-run`, the JIT and
// the tests run the same thing.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_PIPELINES_PIPELINES_H
#define ATTN_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"

namespace attn {

/// `attn-reference`: attn ops to linalg on tensors (the golden semantics).
void buildReferencePipeline(mlir::OpPassManager &pm);

/// Tensor-level code (linalg, tensor, scf, arith, math) to the LLVM dialect
/// for the host: bufferization with results turned into out-parameters
/// (destination-passing ABI), loops, then LLVM with C wrappers for every
/// function (`_mlir_ciface_<name>`).
void buildTensorToHostLLVMPipeline(mlir::OpPassManager &pm);

/// `attn-lower-to-cpu`: the whole path from attn ops to the LLVM dialect.
void buildLowerToCpuPipeline(mlir::OpPassManager &pm);

/// Registers the pipelines above with the pass registry.
void registerAttnPipelines();

} // namespace attn

#endif // ATTN_PIPELINES_PIPELINES_H
