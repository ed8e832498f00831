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
  Option<int64_t> chunkSize{
      *this, "chunk-size",
      llvm::cl::desc("Positions per chunk of linear attention"),
      llvm::cl::init(64)};
  Option<bool> parallel{
      *this, "parallel",
      llvm::cl::desc("Run (batch, head, query tile) iterations on all cores "
                     "through OpenMP"),
      llvm::cl::init(true)};
};

/// Options of the GPU pipelines.
struct GpuPipelineOptions : mlir::PassPipelineOptions<GpuPipelineOptions> {
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("NVIDIA chip: sm_80, sm_90, ..."),
                           llvm::cl::init("sm_90")};
  Option<int64_t> warps{*this, "warps",
                        llvm::cl::desc("Warps per block (16 query rows each)"),
                        llvm::cl::init(4)};
  Option<int64_t> tileKv{*this, "tile-kv",
                         llvm::cl::desc("Keys per shared-memory tile"),
                         llvm::cl::init(64)};
  Option<std::string> splitKv{
      *this, "split-kv",
      llvm::cl::desc("Split-KV decoding: auto, always or never"),
      llvm::cl::init("auto")};
  Option<int64_t> multiprocessors{
      *this, "multiprocessors",
      llvm::cl::desc("Emulation only: the device's multiprocessor count"),
      llvm::cl::init(132)};
  Option<std::string> format{
      *this, "format",
      llvm::cl::desc("gpu-module-to-binary format: isa (PTX), bin (cubin), "
                     "fatbin, llvm"),
      llvm::cl::init("isa")};
  Option<std::string> toolkit{
      *this, "toolkit",
      llvm::cl::desc("CUDA toolkit (libdevice, ptxas, fatbinary)"),
      llvm::cl::init(ATTN_CUDA_TOOLKIT_DIR)};
};

/// `attn-reference`: attn ops to linalg on tensors (the golden semantics).
void buildReferencePipeline(mlir::OpPassManager &pm);

/// One-shot bufferization with function boundaries; results become
/// caller-allocated out-parameters: the ABI `f(inputs..., outputs...)` of
/// every backend.
void buildBufferizePipeline(mlir::OpPassManager &pm);

/// Bufferized host code to the LLVM dialect (see below).
void buildHostLLVMPipeline(mlir::OpPassManager &pm, bool parallel);

/// Tensor-level code (linalg, tensor, scf, arith, math) to the LLVM dialect
/// for the host: bufferization with results turned into out-parameters
/// (destination-passing ABI), loops, then LLVM with C wrappers for every
/// function (`_mlir_ciface_<name>`). With `parallel`, `scf.forall` loops run
/// on OpenMP threads.
void buildTensorToHostLLVMPipeline(mlir::OpPassManager &pm, bool parallel);

/// `attn-lower-to-cpu`: attn-tile-flash and attn-linear-chunked, then the
/// host pipeline.
void buildLowerToCpuPipeline(mlir::OpPassManager &pm,
                             const CpuPipelineOptions &options);

/// `attn-gpu-kernels`: attn-to-gpu, then bufferization: a host function
/// that launches kernels of `gpu.module`s, in the memref ABI.
void buildGpuKernelsPipeline(mlir::OpPassManager &pm,
                             const GpuPipelineOptions &options);

/// The `gpu.module`s of bufferized code to NVVM, with an NVVM target for
/// `options.chip` attached (ready for gpu-module-to-binary).
void buildKernelsToNVVMPipeline(mlir::OpPassManager &pm,
                                const GpuPipelineOptions &options);

/// buildKernelsToNVVMPipeline, then gpu-module-to-binary in
/// `options.format`.
void buildKernelsToBinaryPipeline(mlir::OpPassManager &pm,
                                  const GpuPipelineOptions &options);

/// `attn-lower-to-nvvm`: buildGpuKernelsPipeline, then
/// buildKernelsToBinaryPipeline.
void buildLowerToNVVMPipeline(mlir::OpPassManager &pm,
                              const GpuPipelineOptions &options);

/// `attn-emulate-gpu-on-cpu`: the kernels, run on the host by
/// attn-emulate-gpu.
void buildGpuEmulationPipeline(mlir::OpPassManager &pm,
                               const GpuPipelineOptions &options);

/// Registers the pipelines above with the pass registry.
void registerAttnPipelines();

} // namespace attn

#endif // ATTN_PIPELINES_PIPELINES_H
