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
#include "mlir/Pass/PassOptions.h"

namespace attn {

/// Options of `attn-lower-to-cpu`.
struct CpuPipelineOptions : mlir::PassPipelineOptions<CpuPipelineOptions> {
  Option<int64_t> tileQ{*this, "tile-q", llvm::cl::desc("Query rows per tile"),
                        llvm::cl::init(64)};
  Option<int64_t> tileKv{*this, "tile-kv", llvm::cl::desc("Keys per tile"),
                         llvm::cl::init(64)};
  Option<bool> parallel{
      *this, "parallel",
      llvm::cl::desc("Run (batch, head, query tile) iterations on all cores "
                     "through OpenMP"),
      llvm::cl::init(true)};
};

/// `attn-reference`: attn ops to linalg on tensors (the golden semantics).
void buildReferencePipeline(mlir::OpPassManager &pm);

/// Tensor-level code (linalg, tensor, scf, arith, math) to the LLVM dialect
/// for the host: bufferization with results turned into out-parameters
/// (destination-passing ABI), loops, then LLVM with C wrappers for every
/// function (`_mlir_ciface_<name>`). With `parallel`, `scf.forall` loops run
/// on OpenMP threads.
void buildTensorToHostLLVMPipeline(mlir::OpPassManager &pm, bool parallel);

/// `attn-lower-to-cpu`: attn-tile-flash, then the host pipeline.
void buildLowerToCpuPipeline(mlir::OpPassManager &pm,
                             const CpuPipelineOptions &options);

/// Registers the pipelines above with the pass registry.
void registerAttnPipelines();

} // namespace attn

#endif // ATTN_PIPELINES_PIPELINES_H
